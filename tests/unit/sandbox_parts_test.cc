// The pure parts of pod sandboxes: the pause process's OCI spec, sysctl
// checks, cgroup paths, pod files, bandwidth quantities, record round trip.

#include <filesystem>
#include <fstream>

#include "cri/sandbox/pause_spec.h"
#include "cri/sandbox/pod_files.h"
#include "cri/sandbox/sandbox.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/oci/spec_parse.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

runtime::v1::PodSandboxConfig Pod() {
  runtime::v1::PodSandboxConfig config;
  config.mutable_metadata()->set_name("web");
  config.mutable_metadata()->set_namespace_("default");
  config.mutable_metadata()->set_uid("u1");
  config.set_hostname("web-host");
  return config;
}

std::vector<std::string> NamespaceTypes(const nlohmann::json& spec) {
  std::vector<std::string> types;
  for (const nlohmann::json& ns : spec["linux"]["namespaces"]) types.push_back(ns["type"]);
  return types;
}

TEST(PauseSpecTest, PodNamespacesByMode) {
  runtime::v1::PodSandboxConfig config = Pod();
  absl::StatusOr<nlohmann::json> spec = PauseSpec(
      config, {.rootfs = "/r", .netns_path = "/var/run/netns/berth-x", .cgroups_path = "/p/x"});
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_THAT(NamespaceTypes(*spec),
              ::testing::ElementsAre("mount", "network", "uts", "ipc", "pid"));
  EXPECT_EQ((*spec)["linux"]["namespaces"][1]["path"], "/var/run/netns/berth-x");
  EXPECT_EQ((*spec)["hostname"], "web-host");
  EXPECT_EQ((*spec)["linux"]["cgroupsPath"], "/p/x");

  auto* ns = config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_network(runtime::v1::NODE);
  ns->set_pid(runtime::v1::NODE);
  ns->set_ipc(runtime::v1::NODE);
  spec = PauseSpec(config, {.rootfs = "/r"});
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_THAT(NamespaceTypes(*spec), ::testing::ElementsAre("mount"));
  EXPECT_FALSE(spec->contains("hostname")) << "a host-network pod keeps the node's hostname";
}

// The executor accepts what we generate, and every device is denied first.
TEST(PauseSpecTest, SpecParsesAndDeniesDevicesFirst) {
  absl::StatusOr<nlohmann::json> spec = PauseSpec(Pod(), {.rootfs = "/r", .netns_path = "/n"});
  ASSERT_THAT(spec.status(), IsOk());
  absl::StatusOr<oci::Spec> parsed = oci::ParseSpec(spec->dump());
  ASSERT_THAT(parsed.status(), IsOk());
  ASSERT_TRUE(parsed->linux.resources.has_value());
  const std::vector<oci::DeviceRule>& rules = parsed->linux.resources->devices;
  ASSERT_FALSE(rules.empty());
  EXPECT_FALSE(rules[0].allow);
  EXPECT_EQ(rules[0].type, 'a');
  for (size_t i = 1; i < rules.size(); ++i) EXPECT_TRUE(rules[i].allow);
}

TEST(PauseSpecTest, SysctlsMustBeNamespacedAndThePods) {
  runtime::v1::PodSandboxConfig config = Pod();
  (*config.mutable_linux()->mutable_sysctls())["net/ipv4/conf/eth0.100/forwarding"] = "1";
  (*config.mutable_linux()->mutable_sysctls())["kernel.shm_rmid_forced"] = "1";
  absl::StatusOr<std::map<std::string, std::string>> sysctls = PodSysctls(config);
  ASSERT_THAT(sysctls.status(), IsOk());
  EXPECT_EQ(sysctls->count("net.ipv4.conf.eth0/100.forwarding"), 1u);
  EXPECT_EQ(sysctls->count("kernel.shm_rmid_forced"), 1u);

  runtime::v1::PodSandboxConfig node_wide = Pod();
  (*node_wide.mutable_linux()->mutable_sysctls())["vm.swappiness"] = "1";
  EXPECT_THAT(PodSysctls(node_wide).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not namespaced")));

  runtime::v1::PodSandboxConfig host_net = Pod();
  host_net.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
      runtime::v1::NODE);
  (*host_net.mutable_linux()->mutable_sysctls())["net.core.somaxconn"] = "1";
  EXPECT_THAT(PodSysctls(host_net).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("network namespace")));

  runtime::v1::PodSandboxConfig host_ipc = Pod();
  host_ipc.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_ipc(
      runtime::v1::NODE);
  (*host_ipc.mutable_linux()->mutable_sysctls())["fs.mqueue.msg_max"] = "1";
  EXPECT_THAT(PodSysctls(host_ipc).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("IPC")));
}

TEST(PauseSpecTest, CgroupsPathPerDriver) {
  EXPECT_EQ(PodCgroupsPath("/kubepods/besteffort/pod1", "abc", false),
            "/kubepods/besteffort/pod1/abc");
  EXPECT_EQ(PodCgroupsPath("kubepods", "abc", false), "/kubepods/abc");
  EXPECT_EQ(PodCgroupsPath("", "abc", false), "/berth/abc");
  EXPECT_EQ(PodCgroupsPath("kubepods-besteffort-pod1.slice", "abc", true),
            "kubepods-besteffort-pod1.slice:berth:abc");
}

TEST(PodFilesTest, ResolvConfFromDnsConfigOrTheHost) {
  runtime::v1::DNSConfig dns;
  dns.add_servers("10.96.0.10");
  dns.add_searches("default.svc.cluster.local");
  dns.add_searches("svc.cluster.local");
  dns.add_options("ndots:5");
  EXPECT_EQ(*ResolvConf(dns),
            "search default.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\n"
            "options ndots:5\n");
  testing::TempDir dir;
  std::ofstream(dir.Join("resolv.conf")) << "nameserver 192.0.2.1\n";
  EXPECT_EQ(*ResolvConf({}, dir.Join("resolv.conf")), "nameserver 192.0.2.1\n");
  EXPECT_EQ(*ResolvConf({}, dir.Join("missing")), "");
}

TEST(PodFilesTest, HostsNameEveryPodAddress) {
  std::string hosts = HostsFile("web", {"10.1.0.5", "fd00::5"});
  EXPECT_THAT(hosts, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(hosts, HasSubstr("10.1.0.5\tweb\n"));
  EXPECT_THAT(hosts, HasSubstr("fd00::5\tweb\n"));
}

TEST(SandboxTest, BandwidthQuantities) {
  EXPECT_EQ(ParseBandwidth("10M"), 10000000u);
  EXPECT_EQ(ParseBandwidth("1Gi"), 1073741824u);
  EXPECT_EQ(ParseBandwidth("500k"), 500000u);
  EXPECT_EQ(ParseBandwidth("12345"), 12345u);
  EXPECT_EQ(ParseBandwidth("lots"), 0u);
}

TEST(SandboxTest, RecordRoundTripAndName) {
  Sandbox sandbox{.id = "abc",
                  .name = SandboxName(Pod().metadata()),
                  .config = Pod(),
                  .state = runtime::v1::SANDBOX_READY,
                  .created_at_ns = 42,
                  .dir = "/run/berth/sandboxes/abc",
                  .netns_path = "/var/run/netns/berth-abc",
                  .network_attached = true,
                  .ips = {"10.1.0.5"},
                  .cni_result = "{}",
                  .pid = 77,
                  .cgroups_path = "/berth/abc",
                  .shm_mounted = true,
                  .complete = true};
  EXPECT_EQ(sandbox.name, "web_default_u1_0");
  absl::StatusOr<Sandbox> back = FromRecord(ToRecord(sandbox));
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(back->ips, sandbox.ips);
  EXPECT_EQ(back->pid, 77);
  EXPECT_TRUE(back->network_attached);
  EXPECT_TRUE(back->complete);
  EXPECT_EQ(back->config.hostname(), "web-host");
  EXPECT_EQ(ConfigFingerprint(back->config), ConfigFingerprint(sandbox.config));
}

}  // namespace
}  // namespace berth::cri
