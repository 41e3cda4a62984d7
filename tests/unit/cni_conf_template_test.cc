#include "cni/conf_template.h"
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

TEST(PodCidrsTest, OneOrOnePerFamily) {
  EXPECT_THAT(*ParsePodCidrs("10.244.1.0/24"), ElementsAre("10.244.1.0/24"));
  EXPECT_THAT(*ParsePodCidrs("10.244.1.0/24, fd00:1::/64"),
              ElementsAre("10.244.1.0/24", "fd00:1::/64"));
  for (const char* bad : {"10.244.1.0", "10.244.1.0/33", "fd00::/129", "10.244.1/24", "x/8",
                          "10.0.0.0/8,10.1.0.0/16", "10.0.0.0/8,fd00::/64,fd01::/64", ""}) {
    absl::StatusOr<std::vector<std::string>> cidrs = ParsePodCidrs(bad);
    EXPECT_EQ(cidrs.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(CniConfTemplateTest, PlaceholdersBecomeJsonValues) {
  absl::StatusOr<std::string> rendered = RenderCniConfTemplate(
      R"({"name": "n", "cidr": "{{.PodCIDR}}", "ranges": {{.PodCIDRRanges}}, "routes": {{.Routes}}})",
      {"10.244.1.0/24", "fd00:1::/64"});
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  nlohmann::json conf = nlohmann::json::parse(*rendered);
  EXPECT_EQ(conf["cidr"], "10.244.1.0/24");
  EXPECT_EQ(conf["ranges"], nlohmann::json::parse(
                                R"([[{"subnet": "10.244.1.0/24"}], [{"subnet": "fd00:1::/64"}]])"));
  EXPECT_EQ(conf["routes"], nlohmann::json::parse(R"([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}])"));
}

TEST(CniConfTemplateTest, UnknownPlaceholdersAndNonJsonAreRefused) {
  EXPECT_THAT(RenderCniConfTemplate(R"({"x": "{{.Subnet}}"})", {"10.0.0.0/8"}).status().message(),
              HasSubstr("unknown placeholder {{.Subnet}}"));
  EXPECT_THAT(RenderCniConfTemplate(R"({"x": "{{.PodCIDR"})", {"10.0.0.0/8"}).status().message(),
              HasSubstr("never closed"));
  EXPECT_THAT(RenderCniConfTemplate("{{.PodCIDR}}", {"10.0.0.0/8"}).status().message(),
              HasSubstr("not a JSON object"));
}

// The template berth installs fills in to a network the CNI loader takes.
TEST(CniConfTemplateTest, TheShippedTemplateMakesAValidNetwork) {
  absl::StatusOr<std::string> text =
      ReadFileToString(std::string(BERTH_SOURCE_DIR) + "/hack/lib/berth-net.conflist.template");
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<std::string> rendered = RenderCniConfTemplate(*text, {"10.244.7.0/24"});
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.Join(kTemplatedConfName), *rendered).ok());
  absl::StatusOr<std::vector<NetworkConfigFile>> networks = LoadNetworkConfigFiles(dir.path());
  ASSERT_TRUE(networks.ok()) << networks.status();
  ASSERT_EQ(networks->size(), 1u);
  EXPECT_EQ((*networks)[0].network_name, "berth");
  EXPECT_THAT(*rendered, HasSubstr(R"([[{"subnet":"10.244.7.0/24"}]])"));
}

}  // namespace
}  // namespace berth::cni
