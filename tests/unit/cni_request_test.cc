// What a plugin is given and how its failure reads: capability arguments,
// runtimeConfig filtered by the plugin's capabilities, CNI_ARGS, the
// environment, and error objects turned into Status.

#include <string>
#include <vector>

#include "cni/plugin_exec.h"
#include "cni/plugin_request.h"
#include "cni/spec_version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/status_matchers.h"

namespace berth::cni {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::IsOk;
using ::testing::Not;
using testing::StatusIs;

AttachRequest FullRequest() {
  AttachRequest request{.container_id = "abc", .netns_path = "/var/run/netns/berth-abc"};
  request.port_mappings = {
      {.protocol = "tcp", .container_port = 80, .host_port = 8080},
      {.protocol = "udp", .container_port = 53, .host_port = 5353, .host_ip = "127.0.0.1"}};
  request.bandwidth = BandwidthLimits{
      .ingress_rate = 1000000, .ingress_burst = 2000, .egress_rate = 3000000, .egress_burst = 4000};
  request.dns = DnsCapability{
      .servers = {"10.96.0.10"}, .searches = {"svc.cluster.local"}, .options = {"ndots:5"}};
  return request;
}

TEST(CniRequestTest, CapabilityArgsSpellTheConventions) {
  nlohmann::json args = CapabilityArgs(FullRequest());
  EXPECT_EQ(args, nlohmann::json::parse(R"({
    "portMappings": [
      {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
      {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}],
    "bandwidth": {"ingressRate": 1000000, "ingressBurst": 2000,
                  "egressRate": 3000000, "egressBurst": 4000},
    "dns": {"servers": ["10.96.0.10"], "searches": ["svc.cluster.local"], "options": ["ndots:5"]}
  })"));
  EXPECT_EQ(CapabilityArgs(AttachRequest{}), nlohmann::json::object());
}

TEST(CniRequestTest, RuntimeConfigHoldsOnlyDeclaredCapabilities) {
  NetworkList list{.name = "podnet", .cni_version = "1.0.0"};
  nlohmann::json args = CapabilityArgs(FullRequest());
  struct Case {
    const char* plugin;
    const char* runtime_config;  // null: no runtimeConfig key at all
  } cases[] = {
      {R"({"type":"bridge"})", nullptr},
      {R"({"type":"portmap","capabilities":{"portMappings":true}})",
       R"({"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},
           {"hostPort":5353,"containerPort":53,"protocol":"udp","hostIP":"127.0.0.1"}]})"},
      {R"({"type":"bandwidth","capabilities":{"bandwidth":true,"portMappings":false}})",
       R"({"bandwidth":{"ingressRate":1000000,"ingressBurst":2000,"egressRate":3000000,
           "egressBurst":4000}})"},
      {R"({"type":"x","capabilities":{"dns":true,"ips":true,"mac":true}})",
       R"({"dns":{"servers":["10.96.0.10"],"searches":["svc.cluster.local"],"options":["ndots:5"]}})"},
      {R"({"type":"x","capabilities":{"ips":true}})", nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.plugin);
    nlohmann::json config =
        PluginRequestConfig(list, nlohmann::json::parse(c.plugin), args, nullptr);
    if (c.runtime_config == nullptr) {
      EXPECT_FALSE(config.contains("runtimeConfig"));
    } else {
      EXPECT_EQ(config["runtimeConfig"], nlohmann::json::parse(c.runtime_config));
    }
  }
}

TEST(CniRequestTest, NameVersionAndPrevResultAreInjectedOtherKeysKept) {
  NetworkList list{.name = "podnet", .cni_version = "0.4.0"};
  nlohmann::json plugin = nlohmann::json::parse(
      R"({"type":"bridge","name":"stale","cniVersion":"0.1.0","bridge":"cni0","ipam":{"type":"host-local"}})");
  nlohmann::json prev = nlohmann::json::parse(R"({"cniVersion":"0.4.0","ips":[]})");

  nlohmann::json first = PluginRequestConfig(list, plugin, nlohmann::json::object(), nullptr);
  EXPECT_EQ(first["name"], "podnet");
  EXPECT_EQ(first["cniVersion"], "0.4.0");
  EXPECT_EQ(first["bridge"], "cni0");
  EXPECT_EQ(first["ipam"]["type"], "host-local");
  EXPECT_FALSE(first.contains("prevResult"));

  nlohmann::json chained = PluginRequestConfig(list, plugin, nlohmann::json::object(), &prev);
  EXPECT_EQ(chained["prevResult"], prev);
}

TEST(CniRequestTest, CniArgsAreSemicolonSeparatedPairs) {
  EXPECT_EQ(FormatCniArgs({}).value(), "");
  EXPECT_EQ(
      FormatCniArgs(
          {{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", "web-0"}})
          .value(),
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0");
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"", "x"}, {"A;B", "x"}, {"A=B", "x"}, {"K", "a;b"}, {"K", "a=b"}}) {
    EXPECT_THAT(FormatCniArgs({{key, value}}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot be passed")))
        << key << "=" << value;
  }
}

TEST(CniRequestTest, ContainerIdAndInterfaceNameAreChecked) {
  EXPECT_THAT(ValidateAttachment("0123abcd_x.y-z", "eth0"), IsOk());
  for (const std::string bad_id : {"", "-abc", "a/b", "a b", "../x"}) {
    EXPECT_THAT(ValidateAttachment(bad_id, "eth0"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("container id")))
        << bad_id;
  }
  for (const std::string bad_ifname :
       {"", ".", "..", "a/b", "eth:0", "eth 0", "sixteen-chars-xx"}) {
    EXPECT_THAT(ValidateAttachment("abc", bad_ifname),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("interface name")))
        << bad_ifname;
  }
}

TEST(CniRequestTest, EnvironmentReplacesInheritedCniVariables) {
  PluginCall call{.command = "ADD",
                  .container_id = "abc",
                  .netns = "/var/run/netns/berth-abc",
                  .ifname = "eth0",
                  .cni_args = "A=1;B=2"};
  std::vector<std::string> env = PluginEnvironment(
      call, {"/opt/cni/bin", "/usr/lib/cni"},
      {"HOME=/root", "CNI_COMMAND=DEL", "CNI_PATH=/evil", "PATH=/usr/sbin:/usr/bin"});
  EXPECT_EQ(env, (std::vector<std::string>{
                     "HOME=/root", "PATH=/usr/sbin:/usr/bin", "CNI_COMMAND=ADD",
                     "CNI_CONTAINERID=abc", "CNI_NETNS=/var/run/netns/berth-abc", "CNI_IFNAME=eth0",
                     "CNI_ARGS=A=1;B=2", "CNI_PATH=/opt/cni/bin:/usr/lib/cni"}));
  // portmap runs iptables: a daemon started without PATH still gives one.
  std::vector<std::string> bare = PluginEnvironment(call, {"/b"}, {});
  EXPECT_THAT(bare, Contains(HasSubstr("PATH=/usr/local/sbin:")));
  EXPECT_THAT(bare, Not(Contains("HOME=/root")));
}

TEST(CniRequestTest, PluginErrorObjectsBecomeStatusWithCodeAndMessage) {
  ExitStatus exit1{.exit_code = 1};
  EXPECT_THAT(PluginFailure("host-local", "ADD", exit1,
                            R"({"cniVersion":"1.0.0","code":7,"msg":"Invalid Configuration",
                        "details":"Network 192.168.0.0/31 too small to allocate from."})",
                            ""),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "CNI plugin \"host-local\" ADD failed with code 7: Invalid Configuration "
                       "(Network 192.168.0.0/31 too small to allocate from.)"));
  // Some plugins print the error object on stderr.
  EXPECT_THAT(PluginFailure("x", "DEL", exit1, "", R"({"code":11,"msg":"try again"})"),
              StatusIs(absl::StatusCode::kUnavailable,
                       "CNI plugin \"x\" DEL failed with code 11: try again"));
  EXPECT_THAT(PluginFailure("x", "ADD", exit1, "", R"({"code":3,"msg":"no such container"})"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(PluginFailure("x", "ADD", exit1, "", R"({"code":150,"msg":"custom"})"),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr("code 150: custom")));
  // No error object: the exit status and what the plugin said.
  EXPECT_THAT(PluginFailure("x", "ADD", exit1, "", "panic: runtime error\n"),
              StatusIs(absl::StatusCode::kUnknown,
                       "CNI plugin \"x\" ADD failed (exit code 1): panic: runtime error"));
  EXPECT_THAT(
      PluginFailure("x", "ADD", ExitStatus{.signal = 9, .signaled = true}, "", ""),
      StatusIs(absl::StatusCode::kUnknown, "CNI plugin \"x\" ADD failed (killed by signal 9)"));
}

TEST(CniRequestTest, VersionsCompareAsSemanticVersions) {
  EXPECT_LT(CompareVersions("0.3.1", "0.4.0"), 0);
  EXPECT_LT(CompareVersions("0.10.0", "1.0.0"), 0);
  EXPECT_GT(CompareVersions("0.10.0", "0.9.0"), 0);
  EXPECT_EQ(CompareVersions("1.1.0", "1.1.0"), 0);
  EXPECT_LT(CompareVersions("junk", "0.1.0"), 0);
  EXPECT_FALSE(HasCheckAndPrevResultOnDel("0.3.1"));
  EXPECT_TRUE(HasCheckAndPrevResultOnDel("0.4.0"));
  EXPECT_FALSE(HasStatus("1.0.0"));
  EXPECT_TRUE(HasStatus("1.1.0"));
  EXPECT_TRUE(IsSupportedVersion("0.3.0"));
  EXPECT_FALSE(IsSupportedVersion("0.5.0"));
}

}  // namespace
}  // namespace berth::cni
