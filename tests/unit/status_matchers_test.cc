#include "tests/support/status_matchers.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::testing {
namespace {

using ::testing::AnyOf;
using ::testing::DescribeMatcher;
using ::testing::HasSubstr;
using ::testing::Not;

// What gMock prints after "Actual: ..." when `matcher` rejects `value`.
template <typename T, typename M>
std::string Explain(const M& matcher, const T& value) {
  ::testing::StringMatchResultListener listener;
  ::testing::Matcher<const T&>(matcher).MatchAndExplain(value, &listener);
  return listener.str();
}

TEST(StatusMatchersTest, IsOkMatchesStatusAndStatusOr) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(7), IsOk());
  EXPECT_THAT(absl::NotFoundError("gone"), Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(absl::NotFoundError("gone")), Not(IsOk()));
}

TEST(StatusMatchersTest, StatusIsMatchesCodeAndMessage) {
  absl::Status status = absl::InvalidArgumentError("root: must be an absolute path");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute")));
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kInvalidArgument, "root: must be an absolute path"));
  EXPECT_THAT(status,
              StatusIs(AnyOf(absl::StatusCode::kNotFound, absl::StatusCode::kInvalidArgument)));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("relative"))));

  EXPECT_THAT(absl::StatusOr<std::string>(absl::NotFoundError("no such image")),
              StatusIs(absl::StatusCode::kNotFound, "no such image"));
  EXPECT_THAT(absl::StatusOr<std::string>("value"), StatusIs(absl::StatusCode::kOk));
}

TEST(StatusMatchersTest, DescriptionsNameTheExpectation) {
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk()), "is OK");
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk(), /*negation=*/true), "is not OK");
  EXPECT_EQ(DescribeMatcher<absl::Status>(StatusIs(absl::StatusCode::kNotFound)),
            "has a status code that is equal to NOT_FOUND");
  EXPECT_EQ(DescribeMatcher<absl::StatusOr<int>>(
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("gone"))),
            "has a status code that is equal to NOT_FOUND, and a message that has substring "
            "\"gone\"");
}

TEST(StatusMatchersTest, MismatchesShowTheActualStatus) {
  // gtest prints a StatusOr as bytes, so the explanation carries the status.
  EXPECT_EQ(Explain(IsOk(), absl::StatusOr<int>(absl::NotFoundError("gone"))),
            "which has status NOT_FOUND: gone");
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kNotFound), absl::StatusOr<int>(3)), "which is OK");
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kNotFound, "x"), absl::InternalError("boom")),
            "which has status INTERNAL: boom");
}

}  // namespace
}  // namespace berth::testing
