// The pure parts of containers: the OCI spec from the CRI config and the
// image, the user from the image's files, capabilities, resources, the
// record round trip, the event fan-out and the exit watcher.

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "cri/container/container.h"
#include "cri/container/container_events.h"
#include "cri/container/container_spec.h"
#include "cri/container/exit_watcher.h"
#include "cri/container/image_user.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/unix_socket.h"
#include "runtime/oci/spec_parse.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

runtime::v1::PodSandboxConfig Pod() {
  runtime::v1::PodSandboxConfig config;
  config.mutable_metadata()->set_name("web");
  config.mutable_metadata()->set_namespace_("default");
  config.mutable_metadata()->set_uid("u1");
  return config;
}

runtime::v1::ContainerConfig Config(std::vector<std::string> command = {},
                                    std::vector<std::string> args = {}) {
  runtime::v1::ContainerConfig config;
  config.mutable_metadata()->set_name("app");
  config.mutable_image()->set_image("busybox");
  for (const std::string& c : command) config.add_command(c);
  for (const std::string& a : args) config.add_args(a);
  return config;
}

ImageRunConfig Image() {
  return ImageRunConfig{.entrypoint = {"/entry"},
                        .cmd = {"--default"},
                        .env = {"PATH=/image/bin", "LANG=C"},
                        .working_dir = "/srv"};
}

struct ArgsCase {
  std::vector<std::string> command, args;
  std::vector<std::string> expected;
};

TEST(ProcessArgsTest, CommandReplacesEntrypointAndArgsReplaceCmd) {
  const ArgsCase cases[] = {
      {{}, {}, {"/entry", "--default"}},
      {{"/bin/sh"}, {}, {"/bin/sh"}},  // CMD goes with ENTRYPOINT
      {{}, {"-x"}, {"/entry", "-x"}},
      {{"/bin/sh"}, {"-c", "true"}, {"/bin/sh", "-c", "true"}},
  };
  for (const ArgsCase& c : cases) {
    absl::StatusOr<std::vector<std::string>> args = ProcessArgs(Config(c.command, c.args), Image());
    ASSERT_THAT(args.status(), IsOk());
    EXPECT_EQ(*args, c.expected);
  }
  EXPECT_THAT(ProcessArgs(Config(), ImageRunConfig{}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no command")));
}

TEST(ProcessEnvTest, ConfigWinsInPlaceAndPathIsKept) {
  runtime::v1::ContainerConfig config = Config();
  auto* lang = config.add_envs();
  lang->set_key("LANG");
  lang->set_value("de_DE");
  auto* extra = config.add_envs();
  extra->set_key("EXTRA");
  extra->set_value("a=b");
  EXPECT_THAT(ProcessEnv(config, Image()),
              ElementsAre("PATH=/image/bin", "LANG=de_DE", "EXTRA=a=b"));
  EXPECT_THAT(ProcessEnv(Config(), ImageRunConfig{}), ElementsAre(HasSubstr("PATH=/usr/local")));
}

TEST(ParseImageRunConfigTest, ReadsTheConfigSection) {
  absl::StatusOr<ImageRunConfig> run = ParseImageRunConfig(
      R"({"architecture":"amd64","config":{"Entrypoint":["/e"],"Cmd":["c"],"Env":["A=1"],)"
      R"("WorkingDir":"/w","User":"1000:1000","StopSignal":"SIGQUIT",)"
      R"("Volumes":{"/data":{},"/cache":{}}}})");
  ASSERT_THAT(run.status(), IsOk());
  EXPECT_THAT(run->entrypoint, ElementsAre("/e"));
  EXPECT_EQ(run->user, "1000:1000");
  EXPECT_EQ(run->stop_signal, "SIGQUIT");
  EXPECT_THAT(run->volumes, ::testing::UnorderedElementsAre("/data", "/cache"));
  EXPECT_THAT(ParseImageRunConfig("{}").status(), IsOk());  // an image may say nothing
}

const UserDatabase kUsers = {
    .passwd = "root:x:0:0:root:/root:/bin/sh\n"
              "app:x:1000:1001::/home/app:/bin/sh\n"
              "broken line\n",
    .group = "root:x:0:\nwheel:x:10:root,app\nstaff:x:50:app\napp:x:1001:\n"};

runtime::v1::LinuxContainerSecurityContext Security() { return {}; }

TEST(ResolveProcessUserTest, ImageUserForms) {
  auto resolve = [](const std::string& image_user) {
    return ResolveProcessUser(Security(), image_user, kUsers);
  };
  absl::StatusOr<ProcessUser> user = resolve("app");
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_EQ(user->gid, 1001u);
  EXPECT_THAT(user->additional_gids, ElementsAre(10, 50));  // its /etc/group memberships
  user = resolve("1000:50");
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_EQ(user->gid, 50u);
  user = resolve("app:wheel");
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_EQ(user->gid, 10u);
  user = resolve("4242");  // unknown uid: group 0, no name to look up
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_EQ(user->uid, 4242u);
  EXPECT_EQ(user->gid, 0u);
  EXPECT_THAT(user->additional_gids, ElementsAre());
  user = resolve("");  // root, with root's memberships
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_EQ(user->uid, 0u);
  EXPECT_THAT(user->additional_gids, ElementsAre(10));
  EXPECT_THAT(resolve("nobody").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nobody")));
  EXPECT_THAT(resolve("app:nogroup").status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ResolveProcessUserTest, SecurityContextOverTheImage) {
  runtime::v1::LinuxContainerSecurityContext security;
  security.mutable_run_as_user()->set_value(1000);
  security.add_supplemental_groups(4000);
  absl::StatusOr<ProcessUser> user = ResolveProcessUser(security, "root", kUsers);
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_EQ(user->gid, 1001u);  // from the image's passwd entry for the uid
  EXPECT_THAT(user->additional_gids, ElementsAre(10, 50, 4000));

  security.set_supplemental_groups_policy(runtime::v1::Strict);
  user = ResolveProcessUser(security, "", kUsers);
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_THAT(user->additional_gids, ElementsAre(4000));

  security.mutable_run_as_group()->set_value(7);
  user = ResolveProcessUser(security, "", kUsers);
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_EQ(user->gid, 7u);

  runtime::v1::LinuxContainerSecurityContext by_name;
  by_name.set_run_as_username("app");
  user = ResolveProcessUser(by_name, "", kUsers);
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_EQ(user->uid, 1000u);
  by_name.set_run_as_username("ghost");
  EXPECT_THAT(ResolveProcessUser(by_name, "", kUsers).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ghost")));

  runtime::v1::LinuxContainerSecurityContext group_only;
  group_only.mutable_run_as_group()->set_value(7);
  EXPECT_THAT(ResolveProcessUser(group_only, "app", kUsers).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("run_as_group")));
}

TEST(ReadUserDatabaseTest, StaysInsideTheRootfs) {
  testing::TempDir rootfs;
  std::filesystem::create_directories(rootfs.Join("etc"));
  // An image's user files pointing out of it must resolve inside it (to
  // files the image lacks here), never to the host's.
  std::filesystem::create_symlink("../../../../../../etc/hostname", rootfs.Join("etc/passwd"));
  std::filesystem::create_symlink("/proc/self/root/etc/group", rootfs.Join("etc/group"));
  absl::StatusOr<UserDatabase> database = ReadUserDatabase(rootfs.path());
  ASSERT_THAT(database.status(), IsOk());
  EXPECT_EQ(database->passwd, "");
  EXPECT_EQ(database->group, "");
}

TEST(CapabilitiesTest, AddDropAndAll) {
  runtime::v1::LinuxContainerSecurityContext security;
  absl::StatusOr<std::vector<std::string>> caps = ContainerCapabilities(security);
  ASSERT_THAT(caps.status(), IsOk());
  EXPECT_THAT(*caps, Contains("CAP_CHOWN"));
  EXPECT_THAT(*caps, Not(Contains("CAP_SYS_ADMIN")));

  security.mutable_capabilities()->add_add_capabilities("net_admin");  // kubelet's spelling
  security.mutable_capabilities()->add_drop_capabilities("CAP_CHOWN");
  caps = ContainerCapabilities(security);
  ASSERT_THAT(caps.status(), IsOk());
  EXPECT_THAT(*caps, Contains("CAP_NET_ADMIN"));
  EXPECT_THAT(*caps, Not(Contains("CAP_CHOWN")));

  runtime::v1::LinuxContainerSecurityContext none;
  none.mutable_capabilities()->add_drop_capabilities("ALL");
  none.mutable_capabilities()->add_add_capabilities("NET_BIND_SERVICE");
  caps = ContainerCapabilities(none);
  ASSERT_THAT(caps.status(), IsOk());
  EXPECT_THAT(*caps, ElementsAre("CAP_NET_BIND_SERVICE"));

  runtime::v1::LinuxContainerSecurityContext bogus;
  bogus.mutable_capabilities()->add_add_capabilities("CAP_MAKE_COFFEE");
  EXPECT_THAT(ContainerCapabilities(bogus).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ResourcesJsonTest, SwapFollowsTheLimitWhereAccounted) {
  runtime::v1::LinuxContainerResources resources;
  resources.set_cpu_shares(512);
  resources.set_cpu_quota(50000);
  resources.set_cpu_period(100000);
  resources.set_memory_limit_in_bytes(64 << 20);
  resources.set_cpuset_cpus("0");
  nlohmann::json json = ResourcesJson(resources, /*swap_accounting=*/true);
  EXPECT_EQ(json["cpu"]["shares"], 512);
  EXPECT_EQ(json["cpu"]["quota"], 50000);
  EXPECT_EQ(json["cpu"]["cpus"], "0");
  EXPECT_EQ(json["memory"]["limit"], 64 << 20);
  EXPECT_EQ(json["memory"]["swap"], 64 << 20);  // no swap beyond the limit
  EXPECT_FALSE(ResourcesJson(resources, false)["memory"].contains("swap"));
  EXPECT_THAT(oci::ParseResourcesJson(json.dump()).status(), IsOk());
}

class ContainerSpecTest : public ::testing::Test {
 protected:
  ContainerSpecInputs Inputs() {
    return ContainerSpecInputs{.rootfs = "/c/rootfs",
                               .cgroups_path = "/kubepods/pod1/c1",
                               .sandbox = &pod_,
                               .sandbox_dir = "/s",
                               .sandbox_shm = true,
                               .pause_pid = 4242,
                               .image = Image(),
                               .capabilities = DefaultCapabilities(),
                               .container_id = "c1",
                               .sandbox_id = "s1",
                               .image_name = "busybox"};
  }
  static std::map<std::string, std::string> Namespaces(const nlohmann::json& spec) {
    std::map<std::string, std::string> namespaces;
    for (const nlohmann::json& ns : spec["linux"]["namespaces"])
      namespaces[ns["type"]] = ns.value("path", "");
    return namespaces;
  }
  static nlohmann::json MountAt(const nlohmann::json& spec, const std::string& destination) {
    for (const nlohmann::json& mount : spec["mounts"])
      if (mount["destination"] == destination) return mount;
    return nullptr;
  }

  runtime::v1::PodSandboxConfig pod_ = Pod();
};

TEST_F(ContainerSpecTest, JoinsThePodsNamespacesThroughThePause) {
  runtime::v1::ContainerConfig config = Config();
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      runtime::v1::POD);
  absl::StatusOr<nlohmann::json> spec = ContainerSpec(config, Inputs());
  ASSERT_THAT(spec.status(), IsOk());
  std::map<std::string, std::string> ns = Namespaces(*spec);
  EXPECT_EQ(ns["network"], "/proc/4242/ns/net");
  EXPECT_EQ(ns["ipc"], "/proc/4242/ns/ipc");
  EXPECT_EQ(ns["uts"], "/proc/4242/ns/uts");
  EXPECT_EQ(ns["pid"], "/proc/4242/ns/pid");
  EXPECT_EQ(ns.count("mount"), 1u);
  EXPECT_EQ(ns["mount"], "");  // its own

  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      runtime::v1::CONTAINER);
  ns = Namespaces(*ContainerSpec(config, Inputs()));
  EXPECT_EQ(ns["pid"], "");

  ContainerSpecInputs inputs = Inputs();
  inputs.target_pid = 77;
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      runtime::v1::TARGET);
  ns = Namespaces(*ContainerSpec(config, inputs));
  EXPECT_EQ(ns["pid"], "/proc/77/ns/pid");

  pod_.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
      runtime::v1::NODE);
  ns = Namespaces(*ContainerSpec(Config(), Inputs()));
  EXPECT_EQ(ns.count("network"), 0u);  // the host's
  EXPECT_EQ(ns.count("uts"), 0u);
}

TEST_F(ContainerSpecTest, PodFilesAndShmUnlessKubeletMountsThem) {
  runtime::v1::ContainerConfig config = Config();
  config.mutable_linux()->mutable_security_context()->set_readonly_rootfs(true);
  testing::TempDir host;
  runtime::v1::Mount* hosts = config.add_mounts();
  hosts->set_container_path("/etc/hosts");
  hosts->set_host_path(host.path());
  absl::StatusOr<nlohmann::json> spec = ContainerSpec(config, Inputs());
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_EQ(MountAt(*spec, "/etc/hostname")["source"], "/s/hostname");
  EXPECT_THAT(MountAt(*spec, "/etc/hostname")["options"], Contains("ro"));  // read-only root
  EXPECT_EQ(MountAt(*spec, "/etc/hosts")["source"], host.path());
  EXPECT_EQ(MountAt(*spec, "/dev/shm")["source"], "/s/shm");
  EXPECT_TRUE((*spec)["root"]["readonly"]);
  EXPECT_THAT(oci::ParseSpec(spec->dump()).status(), IsOk());
}

TEST_F(ContainerSpecTest, VolumesAreSortedParentsFirstAndCreatedWhenMissing) {
  testing::TempDir host;
  runtime::v1::ContainerConfig config = Config();
  for (const char* path : {"/data/a/b", "/data", "/data/a"}) {
    runtime::v1::Mount* mount = config.add_mounts();
    mount->set_container_path(path);
    mount->set_host_path(host.Join(std::string("src") + path));
    mount->set_readonly(std::string(path) == "/data");
  }
  absl::StatusOr<nlohmann::json> spec = ContainerSpec(config, Inputs());
  ASSERT_THAT(spec.status(), IsOk());
  std::vector<std::string> order;
  for (const nlohmann::json& mount : (*spec)["mounts"])
    if (absl::StartsWith(mount["destination"].get<std::string>(), "/data"))
      order.push_back(mount["destination"]);
  EXPECT_THAT(order, ElementsAre("/data", "/data/a", "/data/a/b"));
  EXPECT_TRUE(std::filesystem::is_directory(host.Join("src/data/a/b")));
  EXPECT_THAT(MountAt(*spec, "/data")["options"], ElementsAre("rbind", "rprivate", "ro"));

  runtime::v1::ContainerConfig relative = Config();
  relative.add_mounts()->set_container_path("data");
  EXPECT_THAT(ContainerSpec(relative, Inputs()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not absolute")));
}

TEST_F(ContainerSpecTest, RecursiveReadOnlyNeedsReadOnlyAndPrivatePropagation) {
  testing::TempDir host;
  auto with = [&](bool readonly, runtime::v1::MountPropagation propagation) {
    runtime::v1::ContainerConfig config = Config();
    runtime::v1::Mount* mount = config.add_mounts();
    mount->set_container_path("/data");
    mount->set_host_path(host.path());
    mount->set_readonly(readonly);
    mount->set_recursive_read_only(true);
    mount->set_propagation(propagation);
    return ContainerSpec(config, Inputs());
  };
  absl::StatusOr<nlohmann::json> spec = with(true, runtime::v1::PROPAGATION_PRIVATE);
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_THAT(MountAt(*spec, "/data")["options"], ElementsAre("rbind", "rprivate", "ro", "rro"));
  EXPECT_THAT(oci::ParseSpec(spec->dump()).status(), IsOk());
  EXPECT_THAT(with(false, runtime::v1::PROPAGATION_PRIVATE).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs readonly")));
  for (auto propagation :
       {runtime::v1::PROPAGATION_HOST_TO_CONTAINER, runtime::v1::PROPAGATION_BIDIRECTIONAL})
    EXPECT_THAT(with(true, propagation).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("private propagation")));
}

TEST_F(ContainerSpecTest, ImageVolumesAreBoundReadOnlyAndNoexec) {
  runtime::v1::ContainerConfig config = Config();
  runtime::v1::Mount* mount = config.add_mounts();
  mount->set_container_path("/vol");
  mount->mutable_image()->set_image("registry.example/data:1");
  ContainerSpecInputs inputs = Inputs();
  EXPECT_THAT(ContainerSpec(config, inputs).status(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("not mounted")));
  inputs.image_volumes[0] = "/run/berth/containers/c1/image-volumes/0";
  absl::StatusOr<nlohmann::json> spec = ContainerSpec(config, inputs);
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_EQ(MountAt(*spec, "/vol")["source"], "/run/berth/containers/c1/image-volumes/0");
  EXPECT_THAT(MountAt(*spec, "/vol")["options"],
              ElementsAre("rbind", "rprivate", "ro", "nosuid", "nodev", "noexec"));
}

// A pod with a user namespace: its containers join it, and every bind from
// the host is idmapped through the pod's ranges, except image volumes,
// whose snapshots are already seen through it (idmapped layers).
TEST_F(ContainerSpecTest, InAPodUserNamespaceBindsAreIdmapped) {
  auto* userns = pod_.mutable_linux()
                     ->mutable_security_context()
                     ->mutable_namespace_options()
                     ->mutable_userns_options();
  userns->set_mode(runtime::v1::POD);
  for (auto* ranges : {userns->mutable_uids(), userns->mutable_gids()}) {
    runtime::v1::IDMapping* m = ranges->Add();
    m->set_host_id(65536);
    m->set_length(65536);
  }
  testing::TempDir host;
  runtime::v1::ContainerConfig config = Config();
  runtime::v1::Mount* volume = config.add_mounts();
  volume->set_container_path("/data");
  volume->set_host_path(host.path());
  runtime::v1::Mount* image = config.add_mounts();
  image->set_container_path("/img");
  image->mutable_image()->set_image("registry.example/data:1");
  ContainerSpecInputs inputs = Inputs();
  inputs.image_volumes[1] = "/run/berth/containers/c1/image-volumes/1";
  absl::StatusOr<nlohmann::json> spec = ContainerSpec(config, inputs);
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_EQ(Namespaces(*spec)["user"], "/proc/4242/ns/user");
  nlohmann::json pods_range =
      nlohmann::json::parse(R"([{"containerID":0,"hostID":65536,"size":65536}])");
  for (const char* destination : {"/data", "/etc/hosts", "/etc/resolv.conf", "/dev/shm"}) {
    EXPECT_EQ(MountAt(*spec, destination)["uidMappings"], pods_range) << destination;
    EXPECT_EQ(MountAt(*spec, destination)["gidMappings"], pods_range) << destination;
  }
  EXPECT_FALSE(MountAt(*spec, "/img").contains("uidMappings"));
  EXPECT_THAT(oci::ParseSpec(spec->dump()).status(), IsOk());

  // kubelet's own ranges for a volume win over the pod's.
  for (auto* ranges : {volume->mutable_uidmappings(), volume->mutable_gidmappings()}) {
    runtime::v1::IDMapping* m = ranges->Add();
    m->set_host_id(200000);
    m->set_length(10);
  }
  spec = ContainerSpec(config, inputs);
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_EQ(MountAt(*spec, "/data")["uidMappings"][0]["hostID"], 200000);

  // The container cannot leave its pod's user namespace.
  config.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->mutable_userns_options()
      ->set_mode(runtime::v1::NODE);
  EXPECT_THAT(ContainerSpec(config, inputs).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be its pod's")));
}

TEST_F(ContainerSpecTest, MountRangesNeedAPodUserNamespace) {
  testing::TempDir host;
  runtime::v1::ContainerConfig config = Config();
  runtime::v1::Mount* volume = config.add_mounts();
  volume->set_container_path("/data");
  volume->set_host_path(host.path());
  runtime::v1::IDMapping* m = volume->add_uidmappings();
  m->set_host_id(200000);
  m->set_length(10);
  EXPECT_THAT(ContainerSpec(config, Inputs()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("id mappings need")));
}

TEST(ContainerRecordTest, SnapshotKeysNameTheirContainer) {
  Container container{.id = "abc"};
  EXPECT_EQ(ContainerIdOfSnapshot("container-abc"), "abc");
  EXPECT_EQ(ContainerIdOfSnapshot(container.image_volume_key(2)), "abc");
  EXPECT_EQ(ContainerIdOfSnapshot("sandbox-abc"), "");
}

TEST_F(ContainerSpecTest, PrivilegedDropsMasksAndOpensDevices) {
  pod_.mutable_linux()->mutable_security_context()->set_privileged(true);
  runtime::v1::ContainerConfig config = Config();
  config.mutable_linux()->mutable_security_context()->set_privileged(true);
  ContainerSpecInputs inputs = Inputs();
  inputs.seccomp = nlohmann::json{{"defaultAction", "SCMP_ACT_ERRNO"}};
  absl::StatusOr<nlohmann::json> spec = ContainerSpec(config, inputs);
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_FALSE((*spec)["linux"].contains("maskedPaths"));
  EXPECT_FALSE((*spec)["linux"].contains("seccomp"));
  EXPECT_THAT(MountAt(*spec, "/sys")["options"], Contains("rw"));
  const nlohmann::json& rules = (*spec)["linux"]["resources"]["devices"];
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_TRUE(rules[0]["allow"]);
  EXPECT_GT((*spec)["linux"]["devices"].size(), 0u);  // the host's /dev

  // Not in an unprivileged pod.
  pod_.mutable_linux()->mutable_security_context()->set_privileged(false);
  EXPECT_THAT(ContainerSpec(config, inputs).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("privileged pod")));
}

TEST_F(ContainerSpecTest, MaskedAndReadonlyPathsDefaultOrKubelets) {
  absl::StatusOr<nlohmann::json> spec = ContainerSpec(Config(), Inputs());
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_THAT((*spec)["linux"]["maskedPaths"], Contains("/proc/kcore"));
  EXPECT_THAT((*spec)["linux"]["readonlyPaths"], Contains("/proc/sys"));
  runtime::v1::ContainerConfig config = Config();
  config.mutable_linux()->mutable_security_context()->add_masked_paths("/proc/version");
  config.mutable_linux()->mutable_security_context()->add_readonly_paths("/proc/cpuinfo");
  spec = ContainerSpec(config, Inputs());
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_THAT((*spec)["linux"]["maskedPaths"], ElementsAre("/proc/version"));
  EXPECT_THAT((*spec)["linux"]["readonlyPaths"], ElementsAre("/proc/cpuinfo"));
}

TEST_F(ContainerSpecTest, OomScoreAdjIsClampedToWhatBerthdMaySet) {
  runtime::v1::ContainerConfig config = Config();
  config.mutable_linux()->mutable_resources()->set_oom_score_adj(-999);
  ContainerSpecInputs inputs = Inputs();
  inputs.lowest_oom_score_adj = -500;
  EXPECT_EQ((*ContainerSpec(config, inputs))["process"]["oomScoreAdj"], -500);
  config.mutable_linux()->mutable_resources()->set_oom_score_adj(1000);
  EXPECT_EQ((*ContainerSpec(config, inputs))["process"]["oomScoreAdj"], 1000);
}

TEST_F(ContainerSpecTest, LsmLabelsAreWrittenForTheExecutorToJudge) {
  runtime::v1::ContainerConfig config = Config();
  auto* security = config.mutable_linux()->mutable_security_context();
  security->mutable_apparmor()->set_profile_type(runtime::v1::SecurityProfile::Localhost);
  security->mutable_apparmor()->set_localhost_ref("my-profile");
  security->mutable_selinux_options()->set_type("container_t");
  security->mutable_selinux_options()->set_level("s0:c1,c2");
  absl::StatusOr<nlohmann::json> spec = ContainerSpec(config, Inputs());
  ASSERT_THAT(spec.status(), IsOk());
  EXPECT_EQ((*spec)["process"]["apparmorProfile"], "my-profile");
  EXPECT_EQ((*spec)["process"]["selinuxLabel"], "system_u:system_r:container_t:s0:c1,c2");
}

TEST(ContainerRecordTest, RoundTrips) {
  Container container{.id = "c1",
                      .sandbox_id = "s1",
                      .name = "app_web_default_u1_0_0",
                      .config = Config({"/bin/sh"}),
                      .state = runtime::v1::CONTAINER_EXITED,
                      .created_at_ns = 1,
                      .started_at_ns = 2,
                      .finished_at_ns = 3,
                      .exit_code = 137,
                      .reason = "OOMKilled",
                      .image_id = "sha256:abc",
                      .image_ref = "busybox@sha256:def",
                      .snapshot_key = "container-c1",
                      .dir = "/run/berth/containers/c1",
                      .log_path = "/var/log/pods/x/app/0.log",
                      .pid = 99,
                      .uid = 1000,
                      .gid = 1000,
                      .supplemental_groups = {10, 20},
                      .stop_signal = "SIGQUIT",
                      .rootfs_mounted = true,
                      .monitor_started = true,
                      .complete = true};
  container.resources.set_memory_limit_in_bytes(1 << 30);
  absl::StatusOr<Container> back = FromRecord(ToRecord(container));
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(ToRecord(*back), ToRecord(container));
  EXPECT_EQ(back->resources.memory_limit_in_bytes(), 1 << 30);
  EXPECT_EQ(back->supplemental_groups, (std::vector<uint32_t>{10, 20}));
}

runtime::v1::ContainerEventResponse Event(const std::string& id) {
  runtime::v1::ContainerEventResponse event;
  event.set_container_id(id);
  return event;
}

TEST(ContainerEventsTest, EverySubscriberGetsEveryEventInOrder) {
  ContainerEvents events;
  auto first = events.Subscribe();
  auto second = events.Subscribe();
  events.Publish(Event("a"));
  events.Publish(Event("b"));
  for (auto* subscription : {&first, &second}) {
    EXPECT_EQ((*subscription)->Next(absl::Seconds(1))->container_id(), "a");
    EXPECT_EQ((*subscription)->Next(absl::Seconds(1))->container_id(), "b");
    EXPECT_FALSE((*subscription)->Next(absl::Milliseconds(10)).has_value());
  }
  events.Unsubscribe(second);
  events.Publish(Event("c"));
  EXPECT_EQ(first->Next(absl::Seconds(1))->container_id(), "c");
  EXPECT_FALSE(second->Next(absl::Milliseconds(10)).has_value());
}

TEST(ContainerEventsTest, ASubscriberTooFarBehindIsCutOff) {
  ContainerEvents events;
  auto slow = events.Subscribe();
  for (size_t i = 0; i <= ContainerEvents::kBacklog; ++i) events.Publish(Event("x"));
  EXPECT_TRUE(slow->overflowed());
  EXPECT_FALSE(slow->Next(absl::Milliseconds(10)).has_value());
}

TEST(ContainerEventsTest, RetainedEventsReachLaterSubscribersUntilTheyExpire) {
  ContainerEvents events;
  events.PublishRetained(Event("exited-while-down"), absl::Seconds(60));
  events.PublishRetained(Event("expired"), absl::ZeroDuration());
  events.Publish(Event("ordinary"));  // nobody listens: gone
  absl::SleepFor(absl::Milliseconds(1));
  auto late = events.Subscribe();
  EXPECT_EQ(late->Next(absl::Seconds(1))->container_id(), "exited-while-down");
  EXPECT_FALSE(late->Next(absl::Milliseconds(10)).has_value());
}

TEST(ExitWatcherTest, AHangupIsAnExitAndAnAbsentMonitorToo) {
  testing::TempDir dir;
  std::string socket_path = dir.Join("control.sock");
  absl::StatusOr<UniqueFd> listener = ListenUnix(socket_path, SOCK_SEQPACKET, 4, 0600);
  ASSERT_THAT(listener.status(), IsOk());
  absl::Mutex mutex;
  std::vector<std::string> exited;
  ExitWatcher watcher([&](const std::string& id) {
    absl::MutexLock lock(&mutex);
    exited.push_back(id);
  });
  ASSERT_THAT(watcher.Watch("alive", socket_path), IsOk());
  ASSERT_THAT(watcher.Watch("gone", dir.Join("no-such.sock")), IsOk());
  UniqueFd accepted(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  auto seen = [&](const std::string& id) {
    absl::MutexLock lock(&mutex);
    return std::find(exited.begin(), exited.end(), id) != exited.end();
  };
  for (int i = 0; i < 100 && !seen("gone"); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(seen("gone"));
  EXPECT_FALSE(seen("alive"));  // the monitor still holds the connection
  accepted.Reset();             // the monitor exits
  for (int i = 0; i < 100 && !seen("alive"); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(seen("alive"));
}

}  // namespace
}  // namespace berth::cri
