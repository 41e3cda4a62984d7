#include "cni/network_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/atomic_file.h"
#include "tests/unit/temp_dir.h"

namespace berth::cni {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

TEST(NetworkConfigTest, MissingDirectoryMeansNoNetworks) {
  absl::StatusOr<std::vector<NetworkConfigFile>> files =
      LoadNetworkConfigFiles("/nonexistent/cni/net.d");
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(files->empty());
}

TEST(NetworkConfigTest, LoadsValidFilesInLexicalOrderAndSkipsBadOnes) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.Join("20-second.conf"),
                                  R"({"cniVersion":"1.0.0","name":"second","type":"bridge"})")
                  .ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Join("10-first.conflist"),
                                  R"({"cniVersion":"1.0.0","name":"first",
                                      "plugins":[{"type":"bridge"},{"type":"portmap"}]})")
                  .ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Join("05-broken.conf"), "{not json").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Join("06-noname.conf"), R"({"type":"bridge"})").ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir.Join("07-emptylist.conflist"), R"({"name":"x","plugins":[]})").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Join("README"), "ignored: wrong extension").ok());

  std::vector<std::string> skipped;
  absl::StatusOr<std::vector<NetworkConfigFile>> files =
      LoadNetworkConfigFiles(dir.path(), &skipped);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].network_name, "first");
  EXPECT_TRUE((*files)[0].is_list);
  EXPECT_EQ((*files)[1].network_name, "second");
  EXPECT_FALSE((*files)[1].is_list);
  EXPECT_THAT(skipped, ElementsAre(HasSubstr("05-broken.conf: not a JSON object"),
                                   HasSubstr("06-noname.conf: no network \"name\""),
                                   HasSubstr("07-emptylist.conflist: \"plugins\" must be")));
}

}  // namespace
}  // namespace berth::cni
