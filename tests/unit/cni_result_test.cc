// ADD results of every supported version, from golden files
// (testdata/cni/result-<version>.json, shaped as the bridge plugin writes
// them), and which addresses become the pod's IPs.

#include <string>
#include <vector>

#include "cni/result.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "tests/support/status_matchers.h"

namespace berth::cni {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::StatusIs;

nlohmann::json Golden(const std::string& version) {
  absl::StatusOr<std::string> text =
      ReadFileToString(std::string(CNI_TESTDATA_DIR) + "/result-" + version + ".json");
  EXPECT_THAT(text, IsOk());
  return nlohmann::json::parse(text.value_or("null"));
}

struct GoldenCase {
  std::string version;
  std::vector<std::string> pod_ips;
  size_t interfaces;
  size_t routes;
  std::vector<std::string> nameservers;
};

TEST(CniResultTest, ParsesEveryVersionsGoldenResult) {
  const GoldenCase cases[] = {
      // 0.2.0: no interfaces, so every address is the pod's.
      {"0.2.0", {"10.1.0.7", "fd00:1::7"}, 0, 2, {"10.1.0.1"}},
      // The bridge's own address (interface 0, on the host) is not the pod's.
      {"0.3.0", {"10.22.0.5"}, 3, 1, {}},
      // IPv4 first whatever the plugin's order.
      {"0.3.1", {"10.22.0.5", "fd00:22::5"}, 3, 2, {"10.96.0.10"}},
      // A second pod interface (net1) is not eth0.
      {"0.4.0", {"10.22.0.5"}, 4, 1, {}},
      {"1.0.0", {"10.22.0.5", "fd00:22::5"}, 3, 1, {"10.96.0.10"}},
      {"1.1.0", {"10.22.0.5", "fd00:22::5"}, 3, 1, {"10.96.0.10"}},
  };
  for (const GoldenCase& c : cases) {
    SCOPED_TRACE(c.version);
    absl::StatusOr<Result> result = ParseResult(Golden(c.version), "1.0.0");
    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->cni_version, c.version);
    EXPECT_EQ(PodIps(*result, "eth0"), c.pod_ips);
    EXPECT_EQ(result->interfaces.size(), c.interfaces);
    EXPECT_EQ(result->routes.size(), c.routes);
    EXPECT_EQ(result->dns.nameservers, c.nameservers);
  }
}

TEST(CniResultTest, KeepsInterfaceAndGatewayDetails) {
  absl::StatusOr<Result> result = ParseResult(Golden("1.1.0"), "1.1.0");
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->interfaces[2].name, "eth0");
  EXPECT_EQ(result->interfaces[2].sandbox, "/var/run/netns/berth-abc");
  EXPECT_EQ(result->interfaces[2].mac, "0a:58:0a:16:00:05");
  EXPECT_EQ(result->ips[1].address, "10.22.0.5/16");
  EXPECT_EQ(result->ips[1].gateway, "10.22.0.1");
  EXPECT_EQ(result->ips[1].interface, 2u);
  EXPECT_EQ(result->routes[0].gw, "10.22.0.1");
  EXPECT_THAT(result->dns.search, ElementsAre("default.svc.cluster.local"));

  absl::StatusOr<Result> legacy = ParseResult(Golden("0.2.0"), "0.2.0");
  ASSERT_THAT(legacy, IsOk());
  EXPECT_EQ(legacy->ips[0].gateway, "10.1.0.1");
  EXPECT_EQ(legacy->routes[1].gw, "fd00:1::1");
}

TEST(CniResultTest, PodIpsFollowTheRequestedInterface) {
  absl::StatusOr<Result> result = ParseResult(Golden("0.4.0"), "0.4.0");
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(PodIps(*result, "net1"), ElementsAre("10.23.0.5"));
  EXPECT_THAT(PodIps(*result, "eth1"), ::testing::IsEmpty());
}

TEST(CniResultTest, ResultWithoutVersionTakesTheConfigs) {
  absl::StatusOr<Result> result =
      ParseResult(nlohmann::json::parse(R"({"ips":[{"address":"10.0.0.2/24"}]})"), "0.4.0");
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->cni_version, "0.4.0");
  EXPECT_THAT(PodIps(*result, "eth0"), ElementsAre("10.0.0.2"));
}

TEST(CniResultTest, RejectsMalformedResultsWithTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([1])", "not a JSON object"},
      {R"({"cniVersion":"9.9.9"})", "cniVersion \"9.9.9\" is not supported"},
      {R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2"}]})",
       "ips[0].address \"10.0.0.2\" is not an address in CIDR notation"},
      {R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/33"}]})", "ips[0].address"},
      {R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","interface":1}]})",
       "ips[0].interface 1 is not an index into interfaces (0 of them)"},
      {R"({"cniVersion":"1.0.0","interfaces":{}})", "interfaces is not a list"},
      {R"({"cniVersion":"1.0.0","interfaces":[{"name":5}]})", "interfaces[0].name is not a string"},
      {R"({"cniVersion":"1.0.0","routes":[{"dst":"default"}]})", "routes[0].dst \"default\""},
      {R"({"cniVersion":"0.2.0","ip4":{"ip":"nonsense"}})", "ip4.ip \"nonsense\""},
      {R"({"cniVersion":"1.0.0","dns":{"nameservers":"10.0.0.1"}})",
       "dns.nameservers is not a list"},
  };
  for (const auto& [text, why] : cases) {
    EXPECT_THAT(ParseResult(nlohmann::json::parse(text), "1.0.0"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << text;
  }
}

}  // namespace
}  // namespace berth::cni
