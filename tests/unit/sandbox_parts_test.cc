// The pure parts of pod sandboxes: the pause process's OCI spec, user
// namespace options, sysctl checks, cgroup paths, pod files, bandwidth
// quantities, record round trip.

#include <array>
#include <filesystem>
#include <fstream>
#include <optional>

#include "cri/sandbox/pause_spec.h"
#include "cri/sandbox/pod_files.h"
#include "cri/sandbox/pod_user_namespace.h"
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

void SetUserns(runtime::v1::PodSandboxConfig& config, runtime::v1::NamespaceMode mode,
               std::vector<std::array<uint32_t, 3>> uids,
               std::vector<std::array<uint32_t, 3>> gids) {
  auto* userns = config.mutable_linux()
                     ->mutable_security_context()
                     ->mutable_namespace_options()
                     ->mutable_userns_options();
  userns->set_mode(mode);
  for (const auto& [container_id, host_id, length] : uids) {
    runtime::v1::IDMapping* m = userns->add_uids();
    m->set_container_id(container_id);
    m->set_host_id(host_id);
    m->set_length(length);
  }
  for (const auto& [container_id, host_id, length] : gids) {
    runtime::v1::IDMapping* m = userns->add_gids();
    m->set_container_id(container_id);
    m->set_host_id(host_id);
    m->set_length(length);
  }
}

TEST(PodUserNamespaceTest, PodModeWithOneRangeEachStartingAtZero) {
  runtime::v1::PodSandboxConfig config = Pod();
  const auto& ns = config.linux().security_context().namespace_options();
  EXPECT_EQ(*PodUserNamespaceOf(ns), std::nullopt) << "no options: the host's";
  SetUserns(config, runtime::v1::NODE, {}, {});
  EXPECT_EQ(*PodUserNamespaceOf(ns), std::nullopt);

  config = Pod();
  SetUserns(config, runtime::v1::POD, {{0, 65536, 65536}}, {{0, 131072, 65536}});
  absl::StatusOr<std::optional<PodUserNamespace>> userns =
      PodUserNamespaceOf(config.linux().security_context().namespace_options());
  ASSERT_THAT(userns.status(), IsOk());
  ASSERT_TRUE(userns->has_value());
  EXPECT_EQ((*userns)->uids.host_id, 65536u);
  EXPECT_EQ((*userns)->gids.host_id, 131072u);
  EXPECT_TRUE((*userns)->uids.Contains(65535));
  EXPECT_FALSE((*userns)->uids.Contains(65536));
}

TEST(PodUserNamespaceTest, RefusesWhatBerthDoesNotTake) {
  struct Case {
    runtime::v1::NamespaceMode mode;
    std::vector<std::array<uint32_t, 3>> uids, gids;
    const char* message;
  };
  const Case cases[] = {
      {runtime::v1::POD,
       {{0, 1000, 100000}, {0, 2000, 100000}},
       {{0, 1000, 100000}},
       "exactly one uid mapping is supported, got 2"},
      {runtime::v1::POD, {{1, 1000, 100000}}, {{1, 1000, 100000}}, "must start at container id 0"},
      {runtime::v1::POD, {{0, 1000, 100000}}, {}, "exactly one gid mapping is supported, got 0"},
      {runtime::v1::POD, {{0, 0, 65536}}, {{0, 0, 65536}}, "must not include host id 0"},
      {runtime::v1::POD, {{0, 4294901760u, 65537}}, {{0, 1000, 10}}, "runs past id 4294967295"},
      {runtime::v1::POD, {{0, 1000, 0}}, {{0, 1000, 0}}, "empty uid mapping"},
      {runtime::v1::NODE, {{0, 1000, 10}}, {{0, 1000, 10}}, "NODE takes no mappings"},
      {runtime::v1::CONTAINER, {}, {}, "mode CONTAINER is not supported"},
      {runtime::v1::TARGET, {}, {}, "mode TARGET is not supported"},
  };
  for (const Case& c : cases) {
    runtime::v1::PodSandboxConfig config = Pod();
    SetUserns(config, c.mode, c.uids, c.gids);
    EXPECT_THAT(PodUserNamespaceOf(config.linux().security_context().namespace_options()).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.message;
    EXPECT_THAT(PauseSpec(config, {.rootfs = "/r"}).status(),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << c.message;
  }
}

// The pause makes the user namespace after joining nothing but a network
// namespace it makes itself, so the pod's namespaces all belong to it.
TEST(PauseSpecTest, PodUserNamespaceWithItsMappings) {
  runtime::v1::PodSandboxConfig config = Pod();
  SetUserns(config, runtime::v1::POD, {{0, 65536, 65536}}, {{0, 131072, 65536}});
  absl::StatusOr<nlohmann::json> spec = PauseSpec(config, {.rootfs = "/r"});
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_THAT(NamespaceTypes(*spec),
              ::testing::ElementsAre("mount", "network", "uts", "ipc", "pid", "user"));
  EXPECT_FALSE((*spec)["linux"]["namespaces"][1].contains("path"));
  EXPECT_EQ((*spec)["linux"]["uidMappings"],
            nlohmann::json::parse(R"([{"containerID":0,"hostID":65536,"size":65536}])"));
  EXPECT_EQ((*spec)["linux"]["gidMappings"][0]["hostID"], 131072);
  EXPECT_EQ((*spec)["process"]["user"]["uid"], 65535);
  EXPECT_THAT(oci::ParseSpec(spec->dump()).status(), IsOk());

  // A range too short for 65535: the pause runs as the namespace's 0.
  config = Pod();
  SetUserns(config, runtime::v1::POD, {{0, 65536, 1000}}, {{0, 65536, 1000}});
  spec = PauseSpec(config, {.rootfs = "/r"});
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_EQ((*spec)["process"]["user"]["uid"], 0);
  EXPECT_EQ((*spec)["process"]["user"]["gid"], 0);
}

TEST(PodUserNamespaceTest, StateDirMustBeCrossableByOthers) {
  testing::TempDir dir;
  std::string state = dir.path() + "/a/b";
  std::filesystem::create_directories(state);
  std::filesystem::permissions(
      dir.path(), std::filesystem::perms::owner_all | std::filesystem::perms::others_exec);
  std::filesystem::permissions(dir.path() + "/a", std::filesystem::perms::owner_all);
  EXPECT_THAT(CheckCrossableByOthers(state),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(dir.path() + "/a has mode 0700 without o+x")));
  std::filesystem::permissions(dir.path() + "/a", std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::add);
  EXPECT_THAT(CheckCrossableByOthers(state), IsOk());
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
