// The CNI result cache in libcni's layout: file name, fields, base64
// config, round trip, and finding a container's attachments.

#include <sys/stat.h>

#include <string>

#include "absl/strings/escaping.h"
#include "cni/result_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/temp_dir.h"

namespace berth::cni {
namespace {

using ::testing::HasSubstr;
using testing::IsOk;
using ::testing::SizeIs;
using testing::StatusIs;
using testing::TempDir;

constexpr char kListConfig[] =
    R"({"cniVersion":"1.0.0","name":"podnet","plugins":[{"type":"bridge"},{"type":"portmap"}]})";

CachedAttachment Sample(const std::string& network = "podnet", const std::string& id = "abc123") {
  return CachedAttachment{
      .container_id = id,
      .network_name = network,
      .ifname = "eth0",
      .netns = "/var/run/netns/berth-" + id,
      .config = kListConfig,
      .cni_args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "web-0"}},
      .capability_args = nlohmann::json::parse(
          R"({"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]})"),
      .result =
          nlohmann::json::parse(R"({"cniVersion":"1.0.0","ips":[{"address":"10.88.0.5/16"}]})")};
}

TEST(CniCacheTest, FileHasLibcnisFieldsAndBase64Config) {
  nlohmann::json doc = nlohmann::json::parse(SerializeCachedAttachment(Sample()));
  EXPECT_EQ(doc["kind"], "cniCacheV1");
  EXPECT_EQ(doc["containerId"], "abc123");
  EXPECT_EQ(doc["ifName"], "eth0");
  EXPECT_EQ(doc["networkName"], "podnet");
  EXPECT_EQ(doc["netns"], "/var/run/netns/berth-abc123");
  EXPECT_EQ(doc["config"], absl::Base64Escape(kListConfig));
  EXPECT_EQ(doc["cniArgs"],
            nlohmann::json::parse(R"([["IgnoreUnknown","1"],["K8S_POD_NAME","web-0"]])"));
  EXPECT_EQ(doc["capabilityArgs"]["portMappings"][0]["hostPort"], 8080);
  EXPECT_EQ(doc["result"]["ips"][0]["address"], "10.88.0.5/16");

  // libcni omits empty cniArgs, capabilityArgs and netns.
  CachedAttachment bare = Sample();
  bare.cni_args.clear();
  bare.capability_args = nlohmann::json::object();
  bare.netns.clear();
  nlohmann::json bare_doc = nlohmann::json::parse(SerializeCachedAttachment(bare));
  EXPECT_FALSE(bare_doc.contains("cniArgs"));
  EXPECT_FALSE(bare_doc.contains("capabilityArgs"));
  EXPECT_FALSE(bare_doc.contains("netns"));
}

TEST(CniCacheTest, RoundTripsThroughText) {
  CachedAttachment original = Sample();
  absl::StatusOr<CachedAttachment> read =
      ParseCachedAttachment(SerializeCachedAttachment(original), "cache");
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->container_id, original.container_id);
  EXPECT_EQ(read->network_name, original.network_name);
  EXPECT_EQ(read->ifname, original.ifname);
  EXPECT_EQ(read->netns, original.netns);
  EXPECT_EQ(read->config, original.config);
  EXPECT_EQ(read->cni_args, original.cni_args);
  EXPECT_EQ(read->capability_args, original.capability_args);
  EXPECT_EQ(read->result, original.result);
}

TEST(CniCacheTest, ReadsAFileLibcniWrote) {
  // As containerd (libcni) leaves it in /var/lib/cni/results.
  std::string written =
      R"({"kind":"cniCacheV1","containerId":"f00d","config":")" + absl::Base64Escape(kListConfig) +
      R"(","ifName":"eth0","networkName":"podnet","netns":"/var/run/netns/cni-1",)"
      R"("cniArgs":[["K8S_POD_NAMESPACE","default"]],)"
      R"("capabilityArgs":{"io.kubernetes.cri.pod-annotations":{}},)"
      R"("result":{"cniVersion":"1.0.0","interfaces":[],"ips":[],"dns":{}}})";
  absl::StatusOr<CachedAttachment> read = ParseCachedAttachment(written, "podnet-f00d-eth0");
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->config, kListConfig);
  EXPECT_EQ(read->cni_args[0].second, "default");
}

TEST(CniCacheTest, RejectsOtherKindsAndMissingFields) {
  EXPECT_THAT(ParseCachedAttachment(R"({"kind":"other"})", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, "f: kind is not cniCacheV1"));
  EXPECT_THAT(ParseCachedAttachment(R"({"kind":"cniCacheV1","containerId":"a"})", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, "f: no \"networkName\""));
  EXPECT_THAT(
      ParseCachedAttachment(
          R"({"kind":"cniCacheV1","containerId":"a","networkName":"n","ifName":"eth0","config":"%%%"})",
          "f"),
      StatusIs(absl::StatusCode::kInvalidArgument, "f: config is not base64"));
  EXPECT_THAT(ParseCachedAttachment("{", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a JSON object")));
}

TEST(CniCacheTest, WritesPrivateFileAtLibcnisPathAndFindsItByContainer) {
  TempDir dir;
  ResultCache cache(dir.path());
  ASSERT_THAT(cache.Write(Sample("podnet", "abc123")), IsOk());
  // Another container whose id ends like ours, and a network with '-' in its name.
  ASSERT_THAT(cache.Write(Sample("podnet", "xabc123")), IsOk());
  ASSERT_THAT(cache.Write(Sample("pod-net-2", "abc123")), IsOk());
  ASSERT_THAT(WriteFileAtomically(dir.Join("results/junk-abc123-eth0"), "garbage"), IsOk());

  std::string path = dir.Join("results/podnet-abc123-eth0");
  EXPECT_EQ(cache.PathOf("podnet", "abc123", "eth0"), path);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.Join("results").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  auto found = cache.Find("abc123", "eth0");
  ASSERT_THAT(found, IsOk());
  ASSERT_THAT(*found, SizeIs(2));
  EXPECT_EQ((*found)[0].first, dir.Join("results/pod-net-2-abc123-eth0"));
  EXPECT_EQ((*found)[1].first, path);
  EXPECT_EQ((*found)[1].second.config, kListConfig);
  EXPECT_THAT(cache.Find("abc123", "eth1"), IsOk());
  EXPECT_TRUE(cache.Find("abc123", "eth1")->empty());

  ASSERT_THAT(cache.Remove(path), IsOk());
  EXPECT_THAT(cache.Remove(path), IsOk());  // already gone
  EXPECT_THAT(*cache.Find("abc123", "eth0"), SizeIs(1));
  EXPECT_TRUE(ResultCache(dir.Join("none")).Find("abc123", "eth0")->empty());
}

}  // namespace
}  // namespace berth::cni
