#pragma once

// gMock matchers for absl::Status and absl::StatusOr<T> (Debian's Abseil
// 20220623 ships none):
//
//   EXPECT_THAT(store.Update(...), IsOk());
//   EXPECT_THAT(LoadConfigFile(path, true), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(ParseConfigYaml(yaml, "b.yaml"),
//               StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown key")));
//
// A mismatch prints the actual code and message, also for a StatusOr, which
// gtest itself can only print as bytes.

#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace berth::testing {
namespace status_matchers_internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

inline void ExplainStatus(const absl::Status& status, ::testing::MatchResultListener* listener) {
  if (status.ok()) {
    *listener << "which is OK";
  } else {
    *listener << "which has status " << status;
  }
}

class IsOkMatcher {
 public:
  template <typename StatusType>
  bool MatchAndExplain(const StatusType& actual, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    ExplainStatus(status, listener);
    return status.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

class StatusIsMatcher {
 public:
  StatusIsMatcher(::testing::Matcher<absl::StatusCode> code,
                  std::optional<::testing::Matcher<const std::string&>> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& actual, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    ExplainStatus(status, listener);
    ::testing::StringMatchResultListener inner;
    if (!code_.MatchAndExplain(status.code(), &inner)) {
      AppendExplanation(inner.str(), listener);
      return false;
    }
    if (message_.has_value() && !message_->MatchAndExplain(std::string(status.message()), &inner)) {
      AppendExplanation(inner.str(), listener);
      return false;
    }
    return true;
  }

  void DescribeTo(std::ostream* os) const {
    *os << "has a status code that ";
    code_.DescribeTo(os);
    if (message_.has_value()) {
      *os << ", and a message that ";
      message_->DescribeTo(os);
    }
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "has a status code that ";
    code_.DescribeNegationTo(os);
    if (message_.has_value()) {
      *os << ", or a message that ";
      message_->DescribeNegationTo(os);
    }
  }

 private:
  static void AppendExplanation(const std::string& explanation,
                                ::testing::MatchResultListener* listener) {
    if (!explanation.empty()) *listener << ", " << explanation;
  }

  ::testing::Matcher<absl::StatusCode> code_;
  std::optional<::testing::Matcher<const std::string&>> message_;
};

}  // namespace status_matchers_internal

// Matches an OK absl::Status, or an absl::StatusOr<T> holding a value.
inline ::testing::PolymorphicMatcher<status_matchers_internal::IsOkMatcher> IsOk() {
  return ::testing::MakePolymorphicMatcher(status_matchers_internal::IsOkMatcher());
}

// Matches a Status or StatusOr whose code matches `code` (a StatusCode or a
// matcher of one) and, if given, whose message matches `message` (a string
// or a string matcher such as HasSubstr).
template <typename CodeMatcher>
::testing::PolymorphicMatcher<status_matchers_internal::StatusIsMatcher> StatusIs(
    CodeMatcher&& code) {
  return ::testing::MakePolymorphicMatcher(status_matchers_internal::StatusIsMatcher(
      ::testing::MatcherCast<absl::StatusCode>(std::forward<CodeMatcher>(code)), std::nullopt));
}
template <typename CodeMatcher, typename MessageMatcher>
::testing::PolymorphicMatcher<status_matchers_internal::StatusIsMatcher> StatusIs(
    CodeMatcher&& code, MessageMatcher&& message) {
  return ::testing::MakePolymorphicMatcher(status_matchers_internal::StatusIsMatcher(
      ::testing::MatcherCast<absl::StatusCode>(std::forward<CodeMatcher>(code)),
      ::testing::MatcherCast<const std::string&>(std::forward<MessageMatcher>(message))));
}

}  // namespace berth::testing
