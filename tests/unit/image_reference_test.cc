#include <string>

#include "gtest/gtest.h"
#include "snapshotter/reference.h"

namespace berth::snapshotter {
namespace {

struct ReferenceCase {
  std::string input;
  std::string normalized;  // empty: the input must be rejected
  std::string error_part = "";
};

class ReferenceTableTest : public ::testing::TestWithParam<ReferenceCase> {};

TEST_P(ReferenceTableTest, NormalizesOrRejects) {
  const ReferenceCase& c = GetParam();
  absl::StatusOr<ImageReference> ref = ParseImageReference(c.input);
  if (c.normalized.empty()) {
    ASSERT_FALSE(ref.ok()) << c.input << " parsed as " << ref->ToString();
    EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(ref.status().message().find(c.error_part), absl::string_view::npos)
        << ref.status().message();
    return;
  }
  ASSERT_TRUE(ref.ok()) << c.input << ": " << ref.status();
  EXPECT_EQ(ref->ToString(), c.normalized);
}

constexpr char kHex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

INSTANTIATE_TEST_SUITE_P(
    References, ReferenceTableTest,
    ::testing::Values(
        ReferenceCase{"busybox", "docker.io/library/busybox:latest"},
        ReferenceCase{"busybox:1.36", "docker.io/library/busybox:1.36"},
        ReferenceCase{"library/busybox", "docker.io/library/busybox:latest"},
        ReferenceCase{"docker.io/busybox", "docker.io/library/busybox:latest"},
        ReferenceCase{"index.docker.io/library/busybox:1", "docker.io/library/busybox:1"},
        ReferenceCase{"bitnami/redis:7", "docker.io/bitnami/redis:7"},
        ReferenceCase{"registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"},
        ReferenceCase{"localhost/app", "localhost/app:latest"},
        ReferenceCase{"localhost:5000/a/b/c:v1", "localhost:5000/a/b/c:v1"},
        ReferenceCase{"127.0.0.1:5000/berth-test/busybox:1.0",
                      "127.0.0.1:5000/berth-test/busybox:1.0"},
        ReferenceCase{"[::1]:5000/app:x", "[::1]:5000/app:x"},
        ReferenceCase{"quay.io/org/my_app__x.y-z:v1.2.3_rc-1",
                      "quay.io/org/my_app__x.y-z:v1.2.3_rc-1"},
        ReferenceCase{std::string("busybox@sha256:") + kHex,
                      std::string("docker.io/library/busybox@sha256:") + kHex},
        ReferenceCase{std::string("ghcr.io/a/b:1.0@sha256:") + kHex,
                      std::string("ghcr.io/a/b:1.0@sha256:") + kHex},
        ReferenceCase{"", "", "empty"}, ReferenceCase{"BusyBox", "", "lowercase"},
        ReferenceCase{"busybox:", "", "tag"}, ReferenceCase{"busybox:-x", "", "tag"},
        ReferenceCase{"busybox:" + std::string(129, 'a'), "", "tag"},
        ReferenceCase{"a//b", "", "path component"}, ReferenceCase{"a/-b", "", "path component"},
        ReferenceCase{"a/b_", "", "path component"}, ReferenceCase{"a/b___c", "", "path component"},
        ReferenceCase{"busybox@sha256:abc", "", "64 hex"},
        ReferenceCase{"busybox@md5:abc", "", "sha256"},
        ReferenceCase{std::string("busybox@sha256:") + std::string(64, 'G'), "", "hex"},
        ReferenceCase{"-bad.host:5000/app", "", "registry host"},
        ReferenceCase{"host:port/app", "", "registry host"},
        ReferenceCase{std::string("sha256:") + kHex, "", "image id"},
        ReferenceCase{":tag", "", "no repository"}));

TEST(ReferenceTest, PartsAndNames) {
  absl::StatusOr<ImageReference> ref =
      ParseImageReference(std::string("127.0.0.1:5000/berth-test/busybox:1.0@sha256:") + kHex);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->domain, "127.0.0.1:5000");
  EXPECT_EQ(ref->path, "berth-test/busybox");
  EXPECT_EQ(ref->tag, "1.0");
  EXPECT_EQ(ref->TagName(), "127.0.0.1:5000/berth-test/busybox:1.0");
  EXPECT_EQ(ref->DigestName(), std::string("127.0.0.1:5000/berth-test/busybox@sha256:") + kHex);
  // A digest pins the content; the registry is asked for it, not the tag.
  EXPECT_EQ(ref->ManifestReference(), std::string("sha256:") + kHex);
}

TEST(ReferenceTest, ImageIds) {
  EXPECT_TRUE(LooksLikeImageId(std::string("sha256:") + kHex));
  EXPECT_TRUE(LooksLikeImageId(kHex));
  EXPECT_FALSE(LooksLikeImageId("busybox"));
  EXPECT_FALSE(LooksLikeImageId(std::string("sha256:") + std::string(63, 'a')));
}

}  // namespace
}  // namespace berth::snapshotter
