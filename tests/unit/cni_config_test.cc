#include <unistd.h>

#include "cni/default_network.h"
#include "cni/network_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
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

namespace berth::cni {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

TEST(NetworkListTest, SingleConfIsWrappedIntoAOnePluginList) {
  absl::StatusOr<NetworkList> list =
      ParseNetworkList(R"({"cniVersion":"0.4.0","name":"single","type":"bridge","bridge":"cni0"})");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->name, "single");
  EXPECT_EQ(list->cni_version, "0.4.0");
  ASSERT_EQ(list->plugins.size(), 1u);
  EXPECT_EQ(list->plugins[0]["bridge"], "cni0");
  nlohmann::json wrapped = nlohmann::json::parse(list->bytes);
  EXPECT_EQ(wrapped["name"], "single");
  EXPECT_EQ(wrapped["cniVersion"], "0.4.0");
  EXPECT_EQ(wrapped["plugins"][0]["type"], "bridge");
  // The wrapped bytes parse back to the same network (DEL reads them from the cache).
  absl::StatusOr<NetworkList> again = ParseNetworkList(list->bytes);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->plugins, list->plugins);
}

TEST(NetworkListTest, ListKeepsItsBytesAndFlags) {
  std::string text =
      R"({"cniVersion":"1.0.0","name":"k8s-pod-network","disableCheck":true,
          "plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]})";
  absl::StatusOr<NetworkList> list = ParseNetworkList(text);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->bytes, text);
  EXPECT_TRUE(list->disable_check);
  EXPECT_EQ(list->plugins.size(), 2u);
}

TEST(NetworkListTest, PicksTheHighestSupportedVersion) {
  absl::StatusOr<NetworkList> list = ParseNetworkList(
      R"({"cniVersion":"0.4.0","cniVersions":["0.3.1","1.0.0","2.0.0"],"name":"n","type":"x"})");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->cni_version, "1.0.0");
}

TEST(NetworkListTest, RejectsWhatCannotRun) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"name":"n","type":"x"})", "no \"cniVersion\""},
      {R"({"cniVersion":"0.5.0","name":"n","type":"x"})", "cniVersion \"0.5.0\" is not supported"},
      {R"({"cniVersion":"1.0.0","name":"../etc","type":"x"})", "network name \"../etc\""},
      {R"({"cniVersion":"1.0.0","name":"n","type":"../../bin/sh"})", "is not a file name"},
      {R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"x","capabilities":[]}]})",
       "\"capabilities\" is not an object"},
      {R"({"cniVersion":"1.0.0","name":"n","type":"x","disableCheck":"yes"})", "disableCheck"},
      {R"({"cniVersion":1,"name":"n","type":"x"})", "\"cniVersion\" is not a string"},
  };
  for (const auto& [text, why] : cases) {
    absl::StatusOr<NetworkList> list = ParseNetworkList(text);
    ASSERT_FALSE(list.ok()) << text;
    EXPECT_THAT(std::string(list.status().message()), HasSubstr(why)) << text;
  }
}

TEST(DefaultNetworkTest, FollowsTheDirectoryWithoutRestart) {
  TempDir dir;
  DefaultNetwork network(dir.Join("net.d"));
  absl::StatusOr<NetworkList> list = network.Get();
  EXPECT_EQ(list.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(list.status().message()), HasSubstr("no valid CNI network config"));

  ASSERT_TRUE(MakeDirectories(dir.Join("net.d"), 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Join("net.d/20-b.conf"),
                                  R"({"cniVersion":"1.0.0","name":"b","type":"bridge"})")
                  .ok());
  list = network.Get();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->name, "b");

  // A lexically earlier file takes over.
  ASSERT_TRUE(WriteFileAtomically(dir.Join("net.d/10-a.conflist"),
                                  R"({"cniVersion":"1.0.0","name":"a","plugins":[{"type":"x"}]})")
                  .ok());
  EXPECT_EQ(network.Get()->name, "a");

  // A broken edit skips the file and reports why once nothing is left.
  ASSERT_TRUE(WriteFileAtomically(dir.Join("net.d/10-a.conflist"), "{oops").ok());
  EXPECT_EQ(network.Get()->name, "b");
  ASSERT_EQ(::unlink(dir.Join("net.d/20-b.conf").c_str()), 0);
  list = network.Get();
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(std::string(list.status().message()), HasSubstr("10-a.conflist: not a JSON object"));
}

}  // namespace
}  // namespace berth::cni
