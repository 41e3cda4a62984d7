// Containers through berthd's CRI socket, on Debian's real CNI plugins: the
// CRI's container configs checked from inside the container (its output in
// the CRI log, or ExecSync), the lifecycle and its exit reasons, ExecSync,
// live resource updates, log reopening, stats and the event stream.
//
// One node (tests/e2e/cri_node.h) serves the whole binary, so it stays
// fast; every test makes pods of its own, removes them, and checks that
// what it removed left no mount, cgroup or process behind.

#include <grpcpp/grpcpp.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/digest.h"
#include "tests/e2e/berthd_fixture.h"
#include "tests/e2e/cri_node.h"
#include "tests/e2e/local_registry.h"
#include "tests/e2e/metrics_scrape.h"
#include "tests/support/tar_builder.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::TempDir;
using Stub = runtime::v1::RuntimeService::Stub;

// ---- what a test sees of a container ----

// The CRI log's content by stream ("<time> <stream> <P|F> <text>" lines).
struct CriLog {
  std::string stdout_text, stderr_text;
};

CriLog ReadCriLog(const std::string& path) {
  CriLog log;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (parts.size() < 3) continue;
    std::string text = parts.size() == 4 ? parts[3] : "";
    if (parts[2] == "F") text += "\n";
    (parts[1] == "stderr" ? log.stderr_text : log.stdout_text) += text;
  }
  return log;
}

struct Pod {
  std::string id;
  runtime::v1::PodSandboxConfig config;
};

// What is left of a removed container on the node, seen from outside berthd.
std::vector<std::string> Leftovers(const std::string& state_dir, const std::string& id, pid_t pid) {
  std::vector<std::string> left;
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);)
    if (absl::StrContains(line, id)) left.push_back("mount: " + line);
  std::error_code ignored;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ignored)) {
    std::string cgroup = hierarchy.path().string() + "/berth/" + id;
    if (fs::exists(cgroup, ignored)) left.push_back("cgroup " + cgroup);
  }
  for (const auto& proc : fs::directory_iterator("/proc", ignored)) {
    std::string name = proc.path().filename();
    int number = 0;
    if (!absl::SimpleAtoi(name, &number)) continue;
    std::string cmdline = ReadFileToString(proc.path().string() + "/cmdline").value_or("");
    if (!absl::StrContains(cmdline, id)) continue;
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    left.push_back(absl::StrCat("process ", name, ": ", cmdline));
  }
  if (pid > 0 && ::kill(pid, 0) == 0) left.push_back(absl::StrCat("the container's process ", pid));
  if (fs::exists(state_dir + "/containers/" + id, ignored))
    left.push_back("state directory " + state_dir + "/containers/" + id);
  return left;
}

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, mounts, cgroups";
    if (::access("/usr/lib/cni/bridge", X_OK) != 0)
      GTEST_SKIP() << "needs containernetworking-plugins (hack/deps installs it)";
    node_ = &Node::Get();
    ASSERT_TRUE(node_->status().ok()) << node_->status() << node_->LogTail();
    absl::Status serving = node_->EnsureServing();
    EXPECT_TRUE(serving.ok()) << serving;
  }

  void TearDown() override {
    if (node_ == nullptr || !node_->status().ok()) return;
    for (const std::string& id : pods_) {
      absl::Status removed = RemovePod(id);
      EXPECT_TRUE(removed.ok()) << "remove pod " << id << ": " << removed;
      runtime::v1::ContainerFilter filter;
      filter.set_pod_sandbox_id(id);
      EXPECT_THAT(ListContainers(filter), IsEmpty()) << "containers of removed pod " << id;
    }
  }

  CriClient& client() { return node_->client(); }
  std::string LogTail() { return node_->LogTail(); }

  // A pod of this test, removed by TearDown; names are unique in the binary.
  absl::StatusOr<Pod> RunPod(const std::string& prefix,
                             const std::function<void(runtime::v1::PodSandboxConfig&)>& edit = {}) {
    static int counter = 0;
    std::string name = absl::StrCat(prefix, "-", ++counter);
    Pod pod;
    pod.config.mutable_metadata()->set_name(name);
    pod.config.mutable_metadata()->set_namespace_("e2e");
    pod.config.mutable_metadata()->set_uid(absl::StrCat(name, "-uid-", ::getpid()));
    pod.config.set_hostname(name);
    pod.config.set_log_directory(node_->Join("logs/" + name));
    (*pod.config.mutable_labels())["pod"] = name;
    if (edit) edit(pod.config);
    runtime::v1::RunPodSandboxRequest request;
    *request.mutable_config() = pod.config;
    ASSIGN_OR_RETURN(runtime::v1::RunPodSandboxResponse response,
                     client().Call(&Stub::RunPodSandbox, request));
    pod.id = response.pod_sandbox_id();
    pods_.push_back(pod.id);
    return pod;
  }

  absl::Status RemovePod(const std::string& id) {
    runtime::v1::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    return client().Call(&Stub::RemovePodSandbox, request).status();
  }

  static std::vector<std::string> Sh(const std::string& script) {
    return {"/bin/sh", "-c", script};
  }

  static runtime::v1::ContainerConfig Container(const std::string& name, const std::string& image,
                                                const std::vector<std::string>& command = {}) {
    runtime::v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(image);
    for (const std::string& arg : command) config.add_command(arg);
    config.set_log_path(name + "/0.log");
    (*config.mutable_labels())["container"] = name;
    // kubelet's default: a PID namespace of the container's own.
    config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
        runtime::v1::CONTAINER);
    return config;
  }

  static std::string LogPath(const Pod& pod, const runtime::v1::ContainerConfig& config) {
    return pod.config.log_directory() + "/" + config.log_path();
  }

  absl::StatusOr<std::string> Create(const Pod& pod, const runtime::v1::ContainerConfig& config) {
    runtime::v1::CreateContainerRequest request;
    request.set_pod_sandbox_id(pod.id);
    *request.mutable_config() = config;
    *request.mutable_sandbox_config() = pod.config;
    ASSIGN_OR_RETURN(runtime::v1::CreateContainerResponse response,
                     client().Call(&Stub::CreateContainer, request));
    return response.container_id();
  }

  absl::Status Start(const std::string& id) {
    runtime::v1::StartContainerRequest request;
    request.set_container_id(id);
    return client().Call(&Stub::StartContainer, request).status();
  }

  absl::StatusOr<std::string> CreateAndStart(const Pod& pod,
                                             const runtime::v1::ContainerConfig& config) {
    ASSIGN_OR_RETURN(std::string id, Create(pod, config));
    RETURN_IF_ERROR(Start(id));
    return id;
  }

  absl::Status Stop(const std::string& id, int64_t timeout) {
    runtime::v1::StopContainerRequest request;
    request.set_container_id(id);
    request.set_timeout(timeout);
    return client().Call(&Stub::StopContainer, request).status();
  }

  absl::Status Remove(const std::string& id) {
    runtime::v1::RemoveContainerRequest request;
    request.set_container_id(id);
    return client().Call(&Stub::RemoveContainer, request).status();
  }

  absl::StatusOr<runtime::v1::ContainerStatusResponse> Status(const std::string& id,
                                                              bool verbose = false) {
    runtime::v1::ContainerStatusRequest request;
    request.set_container_id(id);
    request.set_verbose(verbose);
    return client().Call(&Stub::ContainerStatus, request);
  }

  runtime::v1::ContainerState State(const std::string& id) {
    absl::StatusOr<runtime::v1::ContainerStatusResponse> status = Status(id);
    return status.ok() ? status->status().state() : runtime::v1::CONTAINER_UNKNOWN;
  }

  // The container's init pid, from the verbose status.
  pid_t Pid(const std::string& id) {
    absl::StatusOr<runtime::v1::ContainerStatusResponse> status = Status(id, true);
    if (!status.ok() || !status->info().contains("info")) return 0;
    return nlohmann::json::parse(status->info().at("info")).value("pid", 0);
  }

  std::vector<runtime::v1::Container> ListContainers(const runtime::v1::ContainerFilter& filter) {
    runtime::v1::ListContainersRequest request;
    *request.mutable_filter() = filter;
    absl::StatusOr<runtime::v1::ListContainersResponse> response =
        client().Call(&Stub::ListContainers, request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return {};
    return {response->containers().begin(), response->containers().end()};
  }

  absl::StatusOr<runtime::v1::ContainerStatus> WaitForExit(
      const std::string& id, absl::Duration timeout = absl::Seconds(20)) {
    absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      ASSIGN_OR_RETURN(runtime::v1::ContainerStatusResponse status, Status(id));
      if (status.status().state() == runtime::v1::CONTAINER_EXITED) return status.status();
      if (absl::Now() > deadline)
        return absl::DeadlineExceededError(
            absl::StrCat("container ", id, " still ",
                         runtime::v1::ContainerState_Name(status.status().state())));
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  struct Ran {
    runtime::v1::ContainerStatus status;
    CriLog log;
  };

  // Creates, starts and waits for the container, then removes it.
  absl::StatusOr<Ran> RunToExit(const Pod& pod, const runtime::v1::ContainerConfig& config) {
    ASSIGN_OR_RETURN(std::string id, CreateAndStart(pod, config));
    Ran ran;
    ASSIGN_OR_RETURN(ran.status, WaitForExit(id));
    ran.log = ReadCriLog(LogPath(pod, config));
    RETURN_IF_ERROR(Remove(id));
    return ran;
  }

  absl::StatusOr<runtime::v1::ExecSyncResponse> Exec(const std::string& id,
                                                     const std::vector<std::string>& cmd,
                                                     int64_t timeout = 10) {
    runtime::v1::ExecSyncRequest request;
    request.set_container_id(id);
    for (const std::string& arg : cmd) request.add_cmd(arg);
    request.set_timeout(timeout);
    return client().Call(&Stub::ExecSync, request);
  }

  // The stdout of a command that must succeed in the container.
  std::string ExecOut(const std::string& id, const std::string& script) {
    absl::StatusOr<runtime::v1::ExecSyncResponse> response = Exec(id, Sh(script));
    EXPECT_TRUE(response.ok()) << script << ": " << response.status();
    if (!response.ok()) return "";
    EXPECT_EQ(response->exit_code(), 0) << script << ": " << response->stderr();
    return response->stdout();
  }

  // Polls until the removed container left nothing behind; what is left.
  std::vector<std::string> LeftoversOf(const std::string& id, pid_t pid) {
    std::vector<std::string> left;
    Eventually(
        [&] {
          left = Leftovers(node_->state_dir(), id, pid);
          return left.empty();
        },
        absl::Seconds(5));
    return left;
  }

  Node* node_ = nullptr;
  std::vector<std::string> pods_;
};

// ---- 1. CRI configs, checked from inside the container ----

uint64_t CapabilityMask(std::initializer_list<int> capabilities) {
  uint64_t mask = 0;
  for (int capability : capabilities) mask |= uint64_t{1} << capability;
  return mask;
}

// Docker's and containerd's defaults.
const uint64_t kDefaultCapabilities =
    CapabilityMask({CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW,
                    CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
                    CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE});

uint64_t OurCapabilities() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "CapEff:")) return std::strtoull(line.c_str() + 7, nullptr, 16);
  }
  return 0;
}

// What kCapabilityScript prints for `mask` as effective and bounding set.
std::string CapabilityLines(uint64_t mask) {
  char line[64];
  std::snprintf(line, sizeof(line), "%016" PRIx64, mask);
  return absl::StrCat("CapEff:\t", line, "\nCapBnd:\t", line);
}

constexpr char kIdScript[] = "echo $(id -u):$(id -g):$(id -G)";
constexpr char kCapabilityScript[] = "grep CapEff /proc/self/status; grep CapBnd /proc/self/status";

using ContainerEdit = std::function<void(runtime::v1::ContainerConfig&)>;

runtime::v1::LinuxContainerSecurityContext& Security(runtime::v1::ContainerConfig& config) {
  return *config.mutable_linux()->mutable_security_context();
}

struct ConfigCase {
  std::string name;
  std::string image = kBusybox;
  std::string script;  // the command, run by sh -c; empty keeps the image's
  ContainerEdit edit;
  std::string want;  // the container's stdout, without the last newline
  std::function<void(runtime::v1::PodSandboxConfig&)> edit_pod;
};

void PrintTo(const ConfigCase& c, std::ostream* os) { *os << c.name; }

std::vector<ConfigCase> ConfigCases() {
  auto user = [](int64_t uid) {
    return [uid](runtime::v1::ContainerConfig& c) {
      Security(c).mutable_run_as_user()->set_value(uid);
    };
  };
  auto caps = [](std::vector<std::string> add, std::vector<std::string> drop) {
    return [add, drop](runtime::v1::ContainerConfig& c) {
      for (const std::string& name : add)
        Security(c).mutable_capabilities()->add_add_capabilities(name);
      for (const std::string& name : drop)
        Security(c).mutable_capabilities()->add_drop_capabilities(name);
    };
  };
  auto seccomp = [](runtime::v1::SecurityProfile::ProfileType type) {
    return [type](runtime::v1::ContainerConfig& c) {
      Security(c).mutable_seccomp()->set_profile_type(type);
    };
  };
  return {
      // command and args against the image's Entrypoint ["/bin/sh", "-c"] and Cmd.
      {.name = "ImageEntrypointAndCmdByDefault", .image = kCustom, .want = "from-cmd"},
      {.name = "ArgsReplaceTheImageCmd",
       .image = kCustom,
       .edit = [](auto& c) { c.add_args("echo from-args"); },
       .want = "from-args"},
      {.name = "CommandReplacesEntrypointAndDropsCmd",
       .image = kCustom,
       .edit =
           [](auto& c) {
             c.add_command("/bin/echo");
             c.add_command("from-command");
           },
       .want = "from-command"},
      {.name = "CommandAndArgs",
       .image = kCustom,
       .edit =
           [](auto& c) {
             c.add_command("/bin/echo");
             c.add_args("a");
             c.add_args("b");
           },
       .want = "a b"},
      // Env: the image's, then the CRI's winning; the image's PATH kept.
      {.name = "EnvMergedCriWinsImagePathKept",
       .image = kCustom,
       .script = "echo $IMAGE_ONLY $SHARED $CRI_ONLY $PATH",
       .edit =
           [](auto& c) {
             auto* shared = c.add_envs();
             shared->set_key("SHARED");
             shared->set_value("cri");
             auto* own = c.add_envs();
             own->set_key("CRI_ONLY");
             own->set_value("cri");
           },
       .want = absl::StrCat("image cri cri ", kCustomPath)},
      {.name = "WorkingDirFromTheImage", .image = kCustom, .script = "pwd", .want = "/tmp"},
      // The image's VOLUME exists (made in the rootfs, as CRI-O's "mkdir").
      {.name = "ImageVolumeDirectoryExists",
       .image = kCustom,
       .script = "test -d /data/declared && echo yes",
       .want = "yes"},
      {.name = "WorkingDirFromTheConfig",
       .image = kCustom,
       .script = "pwd",
       .edit = [](auto& c) { c.set_working_dir("/etc"); },
       .want = "/etc"},
      {.name = "MissingWorkingDirIsCreated",
       .script = "pwd",
       .edit = [](auto& c) { c.set_working_dir("/made/by/runtime"); },
       .want = "/made/by/runtime"},
      // Users and groups.
      {.name = "RootByDefault", .script = kIdScript, .want = "0:0:0"},
      {.name = "RunAsUser", .script = kIdScript, .edit = user(1000), .want = "1000:0:0"},
      {.name = "RunAsUserAndGroup",
       .script = kIdScript,
       .edit =
           [](auto& c) {
             Security(c).mutable_run_as_user()->set_value(1000);
             Security(c).mutable_run_as_group()->set_value(2000);
           },
       .want = "1000:2000:2000"},
      {.name = "RunAsUsernameWithItsGroups",
       .image = kCustom,
       .script = kIdScript,
       .edit = [](auto& c) { Security(c).set_run_as_username("member"); },
       .want = "2000:2000:2000 3000 3001"},
      {.name = "ImageUserUid", .image = kUserUid, .script = kIdScript, .want = "1000:0:0"},
      {.name = "ImageUserName", .image = kUserName, .script = kIdScript, .want = "1234:1234:1234"},
      {.name = "RunAsUserBeatsTheImageUser",
       .image = kUserName,
       .script = kIdScript,
       .edit = user(0),
       .want = "0:0:0"},
      {.name = "SupplementalGroups",
       .script = kIdScript,
       .edit =
           [](auto& c) {
             Security(c).add_supplemental_groups(5000);
             Security(c).add_supplemental_groups(5001);
           },
       .want = "0:0:0 5000 5001"},
      {.name = "SupplementalGroupsPolicyMerge",
       .image = kCustom,
       .script = kIdScript,
       .edit =
           [](auto& c) {
             Security(c).mutable_run_as_user()->set_value(2000);
             Security(c).add_supplemental_groups(4000);
             Security(c).set_supplemental_groups_policy(runtime::v1::Merge);
           },
       .want = "2000:2000:2000 3000 3001 4000"},
      {.name = "SupplementalGroupsPolicyStrict",
       .image = kCustom,
       .script = kIdScript,
       .edit =
           [](auto& c) {
             Security(c).mutable_run_as_user()->set_value(2000);
             Security(c).add_supplemental_groups(4000);
             Security(c).set_supplemental_groups_policy(runtime::v1::Strict);
           },
       .want = "2000:2000:2000 4000"},
      // Capabilities.
      {.name = "DefaultCapabilities",
       .script = kCapabilityScript,
       .want = CapabilityLines(kDefaultCapabilities)},
      {.name = "CapabilitiesAddedAndDropped",
       .script = kCapabilityScript,
       .edit = caps({"SYS_ADMIN", "CAP_NET_ADMIN"}, {"CHOWN", "CAP_KILL"}),
       .want =
           CapabilityLines((kDefaultCapabilities | CapabilityMask({CAP_SYS_ADMIN, CAP_NET_ADMIN})) &
                           ~CapabilityMask({CAP_CHOWN, CAP_KILL}))},
      {.name = "DropAllCapabilities",
       .script = kCapabilityScript,
       .edit = caps({}, {"ALL"}),
       .want = CapabilityLines(0)},
      {.name = "DropAllThenAddOne",
       .script = kCapabilityScript,
       .edit = caps({"NET_BIND_SERVICE"}, {"ALL"}),
       .want = CapabilityLines(CapabilityMask({CAP_NET_BIND_SERVICE}))},
      {.name = "AddAllCapabilities",
       .script = kCapabilityScript,
       .edit = caps({"ALL"}, {}),
       .want = CapabilityLines(OurCapabilities())},
      // The root filesystem and the kernel's files.
      {.name = "ReadonlyRootfs",
       .script = "touch /probe 2>&1; echo rc=$?",
       .edit = [](auto& c) { Security(c).set_readonly_rootfs(true); },
       .want = "touch: /probe: Read-only file system\nrc=1"},
      {.name = "WritableRootfsByDefault",
       .script = "touch /probe && echo written",
       .want = "written"},
      // (This kernel has no /proc/kcore; timer_list and keys are on the same list.)
      {.name = "DefaultMaskedAndReadonlyPaths",
       .script = "stat -c %F:%t:%T /proc/timer_list /proc/keys; ls -A /sys/firmware | wc -l; "
                 "awk '$5 == \"/proc/sys\" { print substr($6, 1, 3) }' /proc/self/mountinfo",
       .want = "character special file:1:3\ncharacter special file:1:3\n0\nro,"},
      {.name = "CustomMaskedAndReadonlyPathsReplaceTheDefaults",
       .script = "wc -c < /etc/passwd; ls -A /sys/firmware | wc -l; touch /tmp/x 2>&1; "
                 "stat -c %F /proc/timer_list",
       .edit =
           [](auto& c) {
             Security(c).add_masked_paths("/etc/passwd");
             Security(c).add_masked_paths("/sys/firmware");
             Security(c).add_readonly_paths("/tmp");
           },
       .want = "0\n0\ntouch: /tmp/x: Read-only file system\nregular empty file"},
      // Seccomp: user namespaces need no capability, only the default profile forbids them.
      {.name = "SeccompRuntimeDefaultForbidsUserNamespaces",
       .script = "unshare -U true 2>&1; echo rc=$?",
       .edit = seccomp(runtime::v1::SecurityProfile::RuntimeDefault),
       .want = "unshare: unshare(0x10000000): Operation not permitted\nrc=1"},
      {.name = "SeccompUnconfinedAllowsUserNamespaces",
       .script = "unshare -U true 2>&1; echo rc=$?",
       .edit = seccomp(runtime::v1::SecurityProfile::Unconfined),
       .want = "rc=0"},
      {.name = "SeccompLocalhostProfile",
       .script = "mkdir /tmp/made 2>&1; echo rc=$?",
       .edit =
           [](auto& c) {
             Security(c).mutable_seccomp()->set_profile_type(
                 runtime::v1::SecurityProfile::Localhost);
             Security(c).mutable_seccomp()->set_localhost_ref(Node::Get().seccomp_profile());
           },
       .want = "mkdir: can't create directory '/tmp/made': No medium found\nrc=1"},
      // Resources in the container's own cgroup (v1 here).
      {.name = "ResourcesInTheCgroup",
       .script = "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                 "/sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.limit_in_bytes",
       .edit =
           [](auto& c) {
             auto* resources = c.mutable_linux()->mutable_resources();
             resources->set_cpu_shares(512);
             resources->set_cpu_quota(25000);
             resources->set_cpu_period(50000);
             resources->set_memory_limit_in_bytes(64 << 20);
           },
       .want = "512\n25000\n50000\n67108864"},
      // The pod's hostname, hosts and resolv.conf.
      {.name = "HostnameHostsAndResolvConfOfThePod",
       .script = "hostname; cat /etc/hostname /etc/resolv.conf; grep -o pod-host-name /etc/hosts",
       .want = "pod-host-name\npod-host-name\nsearch e2e.svc.cluster.local\nnameserver "
               "10.96.0.10\noptions ndots:5\npod-host-name",
       .edit_pod =
           [](runtime::v1::PodSandboxConfig& pod) {
             pod.set_hostname("pod-host-name");
             pod.mutable_dns_config()->add_servers("10.96.0.10");
             pod.mutable_dns_config()->add_searches("e2e.svc.cluster.local");
             pod.mutable_dns_config()->add_options("ndots:5");
           }},
  };
}

class ContainerConfigTest : public ContainerTest,
                            public ::testing::WithParamInterface<ConfigCase> {};

TEST_P(ContainerConfigTest, SeenFromInside) {
  const ConfigCase& c = GetParam();
  absl::StatusOr<Pod> pod = RunPod("config", c.edit_pod);
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config =
      Container("probe", c.image, c.script.empty() ? std::vector<std::string>{} : Sh(c.script));
  if (c.edit) c.edit(config);
  absl::StatusOr<Ran> ran = RunToExit(*pod, config);
  ASSERT_TRUE(ran.ok()) << ran.status() << LogTail();
  EXPECT_EQ(ran->status.exit_code(), 0) << ran->log.stderr_text;
  EXPECT_EQ(absl::StripSuffix(ran->log.stdout_text, "\n"), c.want)
      << "stderr: " << ran->log.stderr_text;
  if (c.script == kIdScript) {
    // ContainerStatus reports the user the process runs as.
    const runtime::v1::LinuxContainerUser& user = ran->status.user().linux();
    EXPECT_EQ(absl::StrCat(user.uid(), ":", user.gid(), ":",
                           absl::StrJoin(user.supplemental_groups(), " ")),
              c.want);
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, ContainerConfigTest, ::testing::ValuesIn(ConfigCases()),
                         [](const ::testing::TestParamInfo<ConfigCase>& info) {
                           return info.param.name;
                         });

// ExecSync runs with the container's own user, environment and directory.
TEST_F(ContainerTest, ExecSyncRunsAsTheContainersProcess) {
  absl::StatusOr<Pod> pod = RunPod("exec-as");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config = Container("sleeper", kBusybox, {"sleep", "1000"});
  Security(config).mutable_run_as_user()->set_value(1000);
  Security(config).mutable_capabilities()->add_drop_capabilities("ALL");
  config.set_working_dir("/etc");
  auto* env = config.add_envs();
  env->set_key("FROM_CRI");
  env->set_value("yes");
  absl::StatusOr<std::string> id = CreateAndStart(*pod, config);
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  EXPECT_EQ(ExecOut(*id, "id -u; echo $FROM_CRI; pwd; grep CapEff /proc/self/status"),
            "1000\nyes\n/etc\nCapEff:\t0000000000000000\n");
}

TEST_F(ContainerTest, HostPathMountsAreReadOnlyOrWritable) {
  std::string volume = node_->Join("volume-" + std::to_string(::getpid()));
  fs::create_directories(volume);
  ASSERT_TRUE(WriteFileAtomically(volume + "/hello", "from the host\n").ok());
  absl::StatusOr<Pod> pod = RunPod("volumes");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config =
      Container("volumes", kBusybox,
                Sh("cat /ro/hello; touch /ro/new 2>&1; echo rc=$?; cat /rw/hello; "
                   "echo from the container > /rw/written; echo rc=$?"));
  runtime::v1::Mount* ro = config.add_mounts();
  ro->set_container_path("/ro");
  ro->set_host_path(volume);
  ro->set_readonly(true);
  runtime::v1::Mount* rw = config.add_mounts();
  rw->set_container_path("/rw");
  rw->set_host_path(volume);
  absl::StatusOr<Ran> ran = RunToExit(*pod, config);
  ASSERT_TRUE(ran.ok()) << ran.status() << LogTail();
  EXPECT_EQ(ran->log.stdout_text,
            "from the host\ntouch: /ro/new: Read-only file system\nrc=1\nfrom the host\nrc=0\n")
      << ran->log.stderr_text;
  EXPECT_EQ(ReadFileToString(volume + "/written").value_or(""), "from the container\n");
  EXPECT_FALSE(fs::exists(volume + "/new"));
  EXPECT_EQ(ran->status.mounts_size(), 2);
}

// A read-only volume whose host directory has a mount inside: plain "ro"
// leaves the submount writable, recursive_read_only does not.
TEST_F(ContainerTest, RecursiveReadOnlyMountsCoverSubmounts) {
  std::string volume = node_->Join("rro-" + std::to_string(::getpid()));
  fs::create_directories(volume + "/sub");
  ASSERT_EQ(::mount("tmpfs", (volume + "/sub").c_str(), "tmpfs", 0, "size=1m"), 0);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{volume + "/sub"};
  absl::StatusOr<Pod> pod = RunPod("rro");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config = Container(
      "rro", kBusybox,
      Sh("touch /ro/sub/plain 2>&1; echo plain=$?; touch /rro/sub/recursive 2>&1; "
         "echo recursive=$?; touch /rro/top 2>&1; echo top=$?"));
  for (const bool recursive : {false, true}) {
    runtime::v1::Mount* mount = config.add_mounts();
    mount->set_container_path(recursive ? "/rro" : "/ro");
    mount->set_host_path(volume);
    mount->set_readonly(true);
    mount->set_recursive_read_only(recursive);
  }
  absl::StatusOr<Ran> ran = RunToExit(*pod, config);
  ASSERT_TRUE(ran.ok()) << ran.status() << LogTail();
  EXPECT_EQ(ran->log.stdout_text,
            "plain=0\ntouch: /rro/sub/recursive: Read-only file system\nrecursive=1\n"
            "touch: /rro/top: Read-only file system\ntop=1\n")
      << ran->log.stderr_text;
  EXPECT_FALSE(fs::exists(volume + "/sub/recursive"));
}

// KEP-4639: another image, mounted read-only (and noexec) as a volume.
TEST_F(ContainerTest, ImageVolumesAreReadOnlyImagesAndLeaveNothingWhenRemoved) {
  absl::StatusOr<Pod> pod = RunPod("imagevol");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config = Container(
      "imagevol", kBusybox,
      Sh("echo ready; grep -c berthuser /vol/etc/passwd; touch /vol/x 2>&1; echo touch=$?; "
         "/vol/bin/busybox true 2>/dev/null; echo exec=$?; sleep 1000"));
  runtime::v1::Mount* mount = config.add_mounts();
  mount->set_container_path("/vol");
  mount->mutable_image()->set_image(kUserName);
  absl::StatusOr<std::string> id = CreateAndStart(*pod, config);
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  std::string log_path = LogPath(*pod, config);
  ASSERT_TRUE(Eventually([&] {
    return absl::StrContains(ReadCriLog(log_path).stdout_text, "exec=");
  })) << ReadCriLog(log_path).stdout_text << ReadCriLog(log_path).stderr_text;
  EXPECT_EQ(ReadCriLog(log_path).stdout_text,
            "ready\n1\ntouch: /vol/x: Read-only file system\ntouch=1\nexec=126\n");
  pid_t pid = Pid(*id);
  ASSERT_TRUE(Remove(*id).ok()) << LogTail();
  EXPECT_THAT(LeftoversOf(*id, pid), IsEmpty());

  // An image the node does not have: kubelet pulls first, so NotFound.
  runtime::v1::ContainerConfig missing = Container("missing", kBusybox, {"true"});
  runtime::v1::Mount* absent = missing.add_mounts();
  absent->set_container_path("/vol");
  absent->mutable_image()->set_image("docker.io/berth-e2e/absent:latest");
  EXPECT_EQ(Create(*pod, missing).status().code(), absl::StatusCode::kNotFound);
}

// The runtime handler announces it, so kubelet (and critest) use it.
TEST_F(ContainerTest, StatusReportsRecursiveReadOnlyMountsForTheBuiltInExecutor) {
  absl::StatusOr<runtime::v1::StatusResponse> status = client().Status(false);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_GE(status->runtime_handlers_size(), 1);
  EXPECT_EQ(status->runtime_handlers(0).name(), "");
  EXPECT_TRUE(status->runtime_handlers(0).features().recursive_read_only_mounts());
}

// The policies the table above checks from inside are announced, so
// kubelet (and critest) use them.
TEST_F(ContainerTest, StatusReportsTheSupplementalGroupsPolicyFeature) {
  absl::StatusOr<runtime::v1::StatusResponse> status = client().Status(false);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->features().supplemental_groups_policy());
}

TEST_F(ContainerTest, DevShmIsSharedWithinAPodOnly) {
  absl::StatusOr<Pod> pod = RunPod("shm");
  absl::StatusOr<Pod> other_pod = RunPod("shm-other");
  ASSERT_TRUE(pod.ok() && other_pod.ok()) << LogTail();
  absl::StatusOr<std::string> writer =
      CreateAndStart(*pod, Container("writer", kBusybox, {"sleep", "1000"}));
  absl::StatusOr<std::string> reader =
      CreateAndStart(*pod, Container("reader", kBusybox, {"sleep", "1000"}));
  absl::StatusOr<std::string> stranger =
      CreateAndStart(*other_pod, Container("stranger", kBusybox, {"sleep", "1000"}));
  ASSERT_TRUE(writer.ok() && reader.ok() && stranger.ok()) << LogTail();
  ExecOut(*writer, "echo shared > /dev/shm/note");
  EXPECT_EQ(ExecOut(*reader, "cat /dev/shm/note"), "shared\n");
  EXPECT_EQ(ExecOut(*stranger, "ls -A /dev/shm | wc -l"), "0\n");
}

// ---- Metrics ----

// This binary's node serves metrics on a port of its own choosing.
const bool kMetricsConfigured = [] {
  Node::SetExtraConfig("metrics:\n  address: 127.0.0.1:0\n");
  return true;
}();

TEST_F(ContainerTest, MetricsCountPodsContainersMonitorsAndCniRuns) {
  std::optional<int> port = MetricsPort(node_->LogTail(100000));
  ASSERT_TRUE(port.has_value()) << LogTail();
  absl::StatusOr<Pod> pod = RunPod("metrics");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<std::string> id =
      CreateAndStart(*pod, Container("counted", kBusybox, {"sleep", "1000"}));
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  std::string text = Scrape(*port);
  EXPECT_GE(SampleValue(text, R"(berth_sandboxes{state="SANDBOX_READY"})").value_or(0), 1) << text;
  EXPECT_GE(SampleValue(text, R"(berth_containers{state="CONTAINER_RUNNING"})").value_or(0), 1)
      << text;
  // The pod's and the container's monitors at least.
  EXPECT_GE(SampleValue(text, "berth_monitors_alive").value_or(0), 2) << text;
  for (const char* plugin : {"bridge", "portmap"}) {
    EXPECT_GE(SampleValue(text, absl::StrCat(R"(berth_cni_plugin_duration_seconds_count{command="ADD",plugin=")",
                                             plugin, R"(",result="success"})"))
                  .value_or(0),
              1)
        << plugin << "\n" << text;
  }
  EXPECT_GE(SampleValue(text, R"(berth_cri_rpc_duration_seconds_count{code="OK",method="RunPodSandbox"})")
                .value_or(0),
            1);
}

// ---- berthctl ----

struct CtlOutput {
  int exit_code = -1;
  std::string out, err;
};

CtlOutput Berthctl(const Node& node, const std::vector<std::string>& args) {
  static int counter = 0;
  std::string base = node.Join(absl::StrCat("berthctl-", ++counter));
  std::vector<std::string> argv = {BERTHCTL_PATH, "--socket", node.socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  CtlOutput output;
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn(argv, {.stdout_path = base + ".out", .stderr_path = base + ".err"});
  if (!child.ok()) return output;
  absl::StatusOr<ExitStatus> exit = child->WaitFor(absl::Seconds(30));
  if (exit.ok()) output.exit_code = exit->exit_code;
  output.out = ReadFileToString(base + ".out").value_or("");
  output.err = ReadFileToString(base + ".err").value_or("");
  return output;
}

// The operator's view: crictl's columns, ids by prefix, the log as the
// container wrote it.
TEST_F(ContainerTest, BerthctlListsInspectsAndPrintsLogs) {
  absl::StatusOr<Pod> pod = RunPod("ctl");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<std::string> id = CreateAndStart(
      *pod, Container("talker", kBusybox, Sh("echo out-line; echo err-line >&2; sleep 1000")));
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();

  CtlOutput pods = Berthctl(*node_, {"pods"});
  ASSERT_EQ(pods.exit_code, 0) << pods.err;
  EXPECT_THAT(pods.out, ::testing::StartsWith("POD ID "));
  EXPECT_THAT(pods.out, ::testing::ContainsRegex(absl::StrCat(
                            pod->id.substr(0, 13), " +[A-Za-z0-9 ]+ago +Ready +",
                            pod->config.metadata().name(), " +e2e +0 +\\(default\\)")));
  CtlOutput ps = Berthctl(*node_, {"ps"});
  ASSERT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_THAT(ps.out, ::testing::StartsWith("CONTAINER "));
  EXPECT_THAT(ps.out, ::testing::ContainsRegex(absl::StrCat(id->substr(0, 13), " +", kBusybox,
                                                            " +.*ago +Running +talker +0 +",
                                                            pod->id.substr(0, 13))));

  CtlOutput inspect = Berthctl(*node_, {"inspect", id->substr(0, 8)});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  nlohmann::json status = nlohmann::json::parse(inspect.out, nullptr, false);
  ASSERT_FALSE(status.is_discarded()) << inspect.out;
  EXPECT_EQ(status["status"]["id"], *id);
  EXPECT_EQ(status["status"]["state"], "CONTAINER_RUNNING");
  CtlOutput inspect_pod = Berthctl(*node_, {"inspect", pod->id});
  ASSERT_EQ(inspect_pod.exit_code, 0) << inspect_pod.err;
  EXPECT_EQ(nlohmann::json::parse(inspect_pod.out)["status"]["state"], "SANDBOX_READY");
  CtlOutput unknown = Berthctl(*node_, {"inspect", "ffffffffffff"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no container or pod ffffffffffff"));

  CtlOutput logs;
  Eventually([&] {
    logs = Berthctl(*node_, {"logs", *id});
    return absl::StrContains(logs.err, "err-line");
  });
  EXPECT_EQ(logs.exit_code, 0);
  EXPECT_EQ(logs.out, "out-line\n");
  EXPECT_EQ(logs.err, "err-line\n");

  // -f follows until the container exits, then ends.
  ASSERT_TRUE(Stop(*id, 0).ok()) << LogTail();
  CtlOutput followed = Berthctl(*node_, {"logs", "-f", id->substr(0, 10)});
  EXPECT_EQ(followed.exit_code, 0) << followed.err;
  EXPECT_EQ(followed.out, "out-line\n");
}

// ---- User namespaces ----

void SetUserns(runtime::v1::NamespaceOption& namespaces, runtime::v1::NamespaceMode mode,
               uint32_t host_id = 0, uint32_t length = 0) {
  runtime::v1::UserNamespace* userns = namespaces.mutable_userns_options();
  userns->set_mode(mode);
  if (length == 0) return;
  for (auto* ranges : {userns->mutable_uids(), userns->mutable_gids()}) {
    runtime::v1::IDMapping* range = ranges->Add();
    range->set_host_id(host_id);
    range->set_length(length);
  }
}

// What /proc/<pid>/uid_map holds, its columns separated by one space.
std::string IdMap(const std::string& text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty()))
    lines.push_back(absl::StrJoin(absl::StrSplit(line, ' ', absl::SkipEmpty()), " "));
  return absl::StrJoin(lines, "\n");
}

std::string NamespaceOf(pid_t pid, const char* type) {
  std::error_code error;
  return fs::read_symlink(absl::StrCat("/proc/", pid, "/ns/", type), error).string();
}

// kubelet's pod with hostUsers: false: the pod's range as the containers'
// ids, the image's and the host's files seen through idmapped mounts.
TEST_F(ContainerTest, UserNamespacePodSeesHostFilesThroughItsRange) {
  constexpr uint32_t kHostId = 100000 + 65536 * 3;
  std::string volume = node_->Join("userns-" + std::to_string(::getpid()));
  fs::create_directories(volume);
  ASSERT_EQ(::chmod(volume.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomically(volume + "/root-owned", "x", 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(volume + "/foreign", "x", 0644).ok());
  ASSERT_EQ(::chown((volume + "/foreign").c_str(), 30000000, 30000000), 0);
  absl::StatusOr<Pod> pod = RunPod("userns", [&](runtime::v1::PodSandboxConfig& pod) {
    SetUserns(*pod.mutable_linux()->mutable_security_context()->mutable_namespace_options(),
              runtime::v1::POD, kHostId, 65536);
  });
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  auto in_pod = [&](const std::string& name) {
    runtime::v1::ContainerConfig config = Container(name, kBusybox, {"sleep", "1000"});
    *Security(config).mutable_namespace_options()->mutable_userns_options() =
        pod->config.linux().security_context().namespace_options().userns_options();
    runtime::v1::Mount* mount = config.add_mounts();
    mount->set_container_path("/vol");
    mount->set_host_path(volume);
    return config;
  };
  absl::StatusOr<std::string> id = CreateAndStart(*pod, in_pod("probe"));
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  std::string range = absl::StrCat("0 ", kHostId, " 65536");
  EXPECT_EQ(IdMap(ExecOut(*id, "cat /proc/self/uid_map /proc/self/gid_map")),
            range + "\n" + range);
  EXPECT_EQ(ExecOut(*id,
                    "stat -c '%u:%g %n' /vol/root-owned /vol/foreign /etc/passwd /etc/hosts "
                    "/proc/sys/kernel/hostname; id -u"),
            "0:0 /vol/root-owned\n65534:65534 /vol/foreign\n0:0 /etc/passwd\n0:0 /etc/hosts\n"
            "65534:65534 /proc/sys/kernel/hostname\n0\n");
  // The pod's own network namespace: its sysfs shows only its interfaces.
  EXPECT_EQ(ExecOut(*id, "ls /sys/class/net | sort | tr '\\n' ' '"), "eth0 lo ");
  // Writes: through the volume's idmap, as the host's 0; in the rootfs
  // (an upper directory not idmapped), as the pod's host id.
  ExecOut(*id, "echo w > /vol/written; echo w > /made-inside; mkdir /dir-inside");
  struct stat st;
  ASSERT_EQ(::stat((volume + "/written").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  std::string rootfs = node_->state_dir() + "/containers/" + *id + "/rootfs";
  ASSERT_EQ(::stat((rootfs + "/made-inside").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kHostId);
  EXPECT_EQ(st.st_gid, kHostId);

  // Seen from the host: the container's processes are in the pod's
  // namespace, which its second container shares.
  pid_t pid = Pid(*id);
  EXPECT_EQ(IdMap(ReadFileToString(absl::StrCat("/proc/", pid, "/uid_map")).value_or("")), range);
  absl::StatusOr<std::string> second = CreateAndStart(*pod, in_pod("second"));
  ASSERT_TRUE(second.ok()) << second.status() << LogTail();
  EXPECT_EQ(NamespaceOf(Pid(*second), "user"), NamespaceOf(pid, "user"));
  EXPECT_NE(NamespaceOf(pid, "user"), NamespaceOf(::getpid(), "user"));
  EXPECT_EQ(ExecOut(*second, "cat /vol/written"), "w\n");

  ASSERT_TRUE(Remove(*id).ok()) << LogTail();
  EXPECT_THAT(LeftoversOf(*id, pid), IsEmpty());
}

// In a pod's user namespace, a container's non-root user is the pod's range
// shifted (inside and for exec), and the pod's net and ipc sysctls apply:
// those namespaces belong to the pod's user namespace.
TEST_F(ContainerTest, UserNamespacePodRunsNonRootUsersAndSetsItsSysctls) {
  constexpr uint32_t kHostId = 100000 + 65536 * 4;
  absl::StatusOr<Pod> pod = RunPod("userns-user", [&](runtime::v1::PodSandboxConfig& pod) {
    SetUserns(*pod.mutable_linux()->mutable_security_context()->mutable_namespace_options(),
              runtime::v1::POD, kHostId, 65536);
    (*pod.mutable_linux()->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "100";
    (*pod.mutable_linux()->mutable_sysctls())["kernel.shm_rmid_forced"] = "1";
  });
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config = Container("user", kBusybox, {"sleep", "1000"});
  *Security(config).mutable_namespace_options()->mutable_userns_options() =
      pod->config.linux().security_context().namespace_options().userns_options();
  Security(config).mutable_run_as_user()->set_value(1000);
  Security(config).mutable_run_as_group()->set_value(1000);
  absl::StatusOr<std::string> id = CreateAndStart(*pod, config);
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  EXPECT_EQ(ExecOut(*id,
                    "id -u; id -g; cat /proc/sys/net/ipv4/ip_unprivileged_port_start "
                    "/proc/sys/kernel/shm_rmid_forced; touch /tmp/by-user && echo wrote"),
            "1000\n1000\n100\n1\nwrote\n");
  // From the host: the init and the file it wrote belong to the range's 1000.
  std::string status = ReadFileToString(absl::StrCat("/proc/", Pid(*id), "/status")).value_or("");
  EXPECT_THAT(status, ::testing::HasSubstr(absl::StrCat("\nUid:\t", kHostId + 1000, "\t")));
  struct stat st;
  std::string rootfs = node_->state_dir() + "/containers/" + *id + "/rootfs";
  ASSERT_EQ(::stat((rootfs + "/tmp/by-user").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kHostId + 1000);
  EXPECT_EQ(st.st_gid, kHostId + 1000);
  // The host's own values did not move.
  EXPECT_NE(ReadFileToString("/proc/sys/net/ipv4/ip_unprivileged_port_start").value_or(""),
            "100\n");
}

// Mode NODE: the host's own user namespace, its full range.
TEST_F(ContainerTest, UserNamespaceModeNodeIsTheHosts) {
  absl::StatusOr<Pod> pod = RunPod("userns-node", [](runtime::v1::PodSandboxConfig& pod) {
    SetUserns(*pod.mutable_linux()->mutable_security_context()->mutable_namespace_options(),
              runtime::v1::NODE);
  });
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<Ran> ran = RunToExit(*pod, Container("map", kBusybox, {"cat", "/proc/self/uid_map"}));
  ASSERT_TRUE(ran.ok()) << ran.status() << LogTail();
  EXPECT_EQ(IdMap(ran->log.stdout_text), "0 0 4294967295");
}

// What berth does not take is refused before anything is made.
TEST_F(ContainerTest, UserNamespaceOptionsBerthDoesNotTakeLeaveNothing) {
  auto netns_entries = [&] {
    std::error_code error;
    return std::distance(fs::directory_iterator(node_->netns_dir(), error),
                         fs::directory_iterator());
  };
  auto before = netns_entries();
  const std::function<void(runtime::v1::NamespaceOption&)> edits[] = {
      [](runtime::v1::NamespaceOption& ns) { SetUserns(ns, runtime::v1::CONTAINER); },
      [](runtime::v1::NamespaceOption& ns) { SetUserns(ns, runtime::v1::TARGET); },
      [](runtime::v1::NamespaceOption& ns) {
        SetUserns(ns, runtime::v1::POD, 200000, 65536);
        *ns.mutable_userns_options()->add_uids() = ns.userns_options().uids(0);
      },
      [](runtime::v1::NamespaceOption& ns) {
        SetUserns(ns, runtime::v1::POD, 200000, 65536);
        ns.mutable_userns_options()->mutable_uids(0)->set_container_id(1);
      },
  };
  for (const auto& edit : edits) {
    absl::StatusOr<Pod> pod = RunPod("userns-bad", [&](runtime::v1::PodSandboxConfig& pod) {
      edit(*pod.mutable_linux()->mutable_security_context()->mutable_namespace_options());
    });
    EXPECT_EQ(pod.status().code(), absl::StatusCode::kInvalidArgument) << pod.status();
  }
  runtime::v1::PodSandboxFilter filter;
  runtime::v1::ListPodSandboxRequest list;
  absl::StatusOr<runtime::v1::ListPodSandboxResponse> pods =
      client().Call(&Stub::ListPodSandbox, list);
  ASSERT_TRUE(pods.ok()) << pods.status();
  for (const runtime::v1::PodSandbox& pod : pods->items())
    EXPECT_FALSE(absl::StartsWith(pod.metadata().name(), "userns-bad")) << pod.metadata().name();
  EXPECT_EQ(netns_entries(), before);
}

TEST_F(ContainerTest, StatusReportsUserNamespacesForTheBuiltInExecutor) {
  absl::StatusOr<runtime::v1::StatusResponse> status = client().Status(false);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_GE(status->runtime_handlers_size(), 1);
  EXPECT_EQ(status->runtime_handlers(0).name(), "");
  EXPECT_TRUE(status->runtime_handlers(0).features().user_namespaces());
}

// ---- 2. Lifecycle ----

TEST_F(ContainerTest, CreatedRunningExitedWithTimesAndCompleted) {
  absl::StatusOr<Pod> pod = RunPod("life");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  int64_t before = absl::ToUnixNanos(absl::Now());
  runtime::v1::ContainerConfig config =
      Container("waiter", kBusybox, Sh("while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done"));
  (*config.mutable_annotations())["note"] = "kept";
  absl::StatusOr<std::string> id = Create(*pod, config);
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  absl::StatusOr<runtime::v1::ContainerStatusResponse> created = Status(*id);
  ASSERT_TRUE(created.ok()) << created.status();
  const runtime::v1::ContainerStatus& c = created->status();
  EXPECT_EQ(c.state(), runtime::v1::CONTAINER_CREATED);
  EXPECT_EQ(c.id(), *id);
  EXPECT_EQ(c.metadata().name(), "waiter");
  EXPECT_GE(c.created_at(), before);
  EXPECT_EQ(c.started_at(), 0);
  EXPECT_EQ(c.finished_at(), 0);
  EXPECT_EQ(c.image().image(), kBusybox);
  EXPECT_THAT(c.image_ref(), HasSubstr("sha256:"));
  EXPECT_EQ(c.labels().at("container"), "waiter");
  EXPECT_EQ(c.annotations().at("note"), "kept");
  EXPECT_EQ(c.log_path(), LogPath(*pod, config));
  runtime::v1::ContainerFilter in_pod;
  in_pod.set_pod_sandbox_id(pod->id);
  std::vector<runtime::v1::Container> listed = ListContainers(in_pod);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id(), *id);
  EXPECT_EQ(listed[0].state(), runtime::v1::CONTAINER_CREATED);

  ASSERT_TRUE(Start(*id).ok()) << LogTail();
  absl::StatusOr<runtime::v1::ContainerStatusResponse> running = Status(*id);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->status().state(), runtime::v1::CONTAINER_RUNNING);
  EXPECT_GE(running->status().started_at(), c.created_at());
  EXPECT_EQ(running->status().finished_at(), 0);
  EXPECT_EQ(Start(*id).code(), absl::StatusCode::kFailedPrecondition) << "started only once";

  ExecOut(*id, "touch /tmp/go");
  absl::StatusOr<runtime::v1::ContainerStatus> exited = WaitForExit(*id);
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_EQ(exited->exit_code(), 0);
  EXPECT_EQ(exited->reason(), "Completed");
  EXPECT_EQ(exited->started_at(), running->status().started_at());
  EXPECT_GE(exited->finished_at(), exited->started_at());
  EXPECT_LE(exited->finished_at(), absl::ToUnixNanos(absl::Now()));
  EXPECT_EQ(ReadCriLog(LogPath(*pod, config)).stdout_text, "done\n");
  runtime::v1::ContainerFilter exited_only;
  exited_only.mutable_state()->set_state(runtime::v1::CONTAINER_EXITED);
  exited_only.set_pod_sandbox_id(pod->id);
  EXPECT_EQ(ListContainers(exited_only).size(), 1u);
  EXPECT_EQ(Start(*id).code(), absl::StatusCode::kFailedPrecondition) << "no restart";
  EXPECT_TRUE(Remove(*id).ok());
}

TEST_F(ContainerTest, NonZeroExitIsError) {
  absl::StatusOr<Pod> pod = RunPod("fails");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<Ran> ran =
      RunToExit(*pod, Container("fails", kBusybox, Sh("echo failing >&2; exit 3")));
  ASSERT_TRUE(ran.ok()) << ran.status() << LogTail();
  EXPECT_EQ(ran->status.exit_code(), 3);
  EXPECT_EQ(ran->status.reason(), "Error");
  EXPECT_EQ(ran->log.stderr_text, "failing\n");
}

TEST_F(ContainerTest, OutOfMemoryIsOOMKilled) {
  absl::StatusOr<Pod> pod = RunPod("oom");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config =
      Container("hog", kBusybox, {"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(16 << 20);
  absl::StatusOr<Ran> ran = RunToExit(*pod, config);
  ASSERT_TRUE(ran.ok()) << ran.status() << LogTail();
  EXPECT_EQ(ran->status.exit_code(), 137) << ran->log.stderr_text;
  EXPECT_EQ(ran->status.reason(), "OOMKilled");
}

TEST_F(ContainerTest, StopWaitsTheGracePeriodThenKills) {
  absl::StatusOr<Pod> pod = RunPod("grace");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig stubborn_config =
      Container("stubborn", kBusybox, Sh("trap '' TERM; echo ready; sleep 1000"));
  absl::StatusOr<std::string> stubborn = CreateAndStart(*pod, stubborn_config);
  runtime::v1::ContainerConfig polite_config = Container(
      "polite", kBusybox, Sh("trap 'echo trapped; exit 0' TERM; echo ready; sleep 1000 & wait"));
  absl::StatusOr<std::string> polite = CreateAndStart(*pod, polite_config);
  ASSERT_TRUE(stubborn.ok() && polite.ok()) << LogTail();
  // The shells have set their traps.
  for (const auto* config : {&stubborn_config, &polite_config}) {
    ASSERT_TRUE(
        Eventually([&] { return ReadCriLog(LogPath(*pod, *config)).stdout_text == "ready\n"; }));
  }

  absl::Time started = absl::Now();
  ASSERT_TRUE(Stop(*polite, 10).ok());
  EXPECT_LT(absl::Now() - started, absl::Seconds(1)) << "SIGTERM ends it at once";
  EXPECT_EQ(State(*polite), runtime::v1::CONTAINER_EXITED) << "stopped when Stop returns";
  EXPECT_EQ(ReadCriLog(LogPath(*pod, polite_config)).stdout_text, "ready\ntrapped\n");
  EXPECT_EQ(Status(*polite)->status().exit_code(), 0);

  started = absl::Now();
  ASSERT_TRUE(Stop(*stubborn, 2).ok());
  absl::Duration took = absl::Now() - started;
  EXPECT_GE(took, absl::Milliseconds(1900));
  EXPECT_LT(took, absl::Seconds(8));
  absl::StatusOr<runtime::v1::ContainerStatusResponse> status = Status(*stubborn);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->status().state(), runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(status->status().exit_code(), 137) << "SIGKILL";
  EXPECT_TRUE(Stop(*stubborn, 2).ok()) << "stopping a stopped container succeeds";
}

// shareProcessNamespace: the pod's PID namespace, pause its init. A
// container whose main process ends is over, as with containerd (its shim
// kills what is left of such a container): its other processes do not keep
// it RUNNING.
TEST_F(ContainerTest, InASharedPidNamespaceTheContainerEndsWithItsMainProcess) {
  absl::StatusOr<Pod> pod = RunPod("sharedpid", [](runtime::v1::PodSandboxConfig& pod) {
    pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
        runtime::v1::POD);
  });
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  auto shared = [](runtime::v1::ContainerConfig config) {
    Security(config).mutable_namespace_options()->set_pid(runtime::v1::POD);
    return config;
  };
  absl::StatusOr<std::string> watcher =
      CreateAndStart(*pod, shared(Container("watcher", kBusybox, {"sleep", "1000"})));
  ASSERT_TRUE(watcher.ok()) << watcher.status() << LogTail();
  runtime::v1::ContainerConfig config = shared(
      Container("leaves-a-child", kBusybox, Sh("sleep 2345 & echo forked; sleep 1; exit 3")));
  absl::StatusOr<std::string> id = CreateAndStart(*pod, config);
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  EXPECT_TRUE(Eventually([&] {
    return absl::StrContains(ExecOut(*watcher, "ps -o args"), "sleep 2345");
  })) << "one PID namespace";
  absl::StatusOr<runtime::v1::ContainerStatus> exited = WaitForExit(*id);
  ASSERT_TRUE(exited.ok()) << exited.status();
  absl::Time reported = absl::Now();
  EXPECT_EQ(exited->exit_code(), 3);
  EXPECT_LT(reported - absl::FromUnixNanos(exited->finished_at()), absl::Milliseconds(500))
      << "EXITED reported long after the main process ended";
  EXPECT_EQ(ReadCriLog(LogPath(*pod, config)).stdout_text, "forked\n");
  EXPECT_THAT(ExecOut(*watcher, "ps -o args"), ::testing::Not(HasSubstr("sleep 2345")))
      << "what the container left is ended with it";
}

TEST_F(ContainerTest, StopSendsTheImagesStopSignal) {
  absl::StatusOr<Pod> pod = RunPod("stopsignal");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config =
      Container("usr1", kCustom,
                Sh("trap 'echo got USR1; exit 7' USR1; trap 'echo got TERM; exit 8' TERM; "
                   "echo ready; sleep 1000 & wait"));
  absl::StatusOr<std::string> id = CreateAndStart(*pod, config);
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  ASSERT_TRUE(
      Eventually([&] { return ReadCriLog(LogPath(*pod, config)).stdout_text == "ready\n"; }));
  absl::Time started = absl::Now();
  ASSERT_TRUE(Stop(*id, 10).ok());
  EXPECT_LT(absl::Now() - started, absl::Seconds(5));
  absl::StatusOr<runtime::v1::ContainerStatusResponse> status = Status(*id);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->status().exit_code(), 7);
  EXPECT_EQ(ReadCriLog(LogPath(*pod, config)).stdout_text, "ready\ngot USR1\n");
}

TEST_F(ContainerTest, UnknownIdsStopAndRemoveButHaveNoStatus) {
  std::string unknown = absl::StrCat("no-such-container-", ::getpid());
  EXPECT_TRUE(Stop(unknown, 1).ok());
  EXPECT_TRUE(Remove(unknown).ok());
  EXPECT_EQ(Status(unknown).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Start(unknown).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Exec(unknown, {"true"}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ContainerTest, DuplicateNameIsRefusedAndTheIdenticalRetryGetsTheSameContainer) {
  absl::StatusOr<Pod> pod = RunPod("dup");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config = Container("twin", kBusybox, {"sleep", "1000"});
  absl::StatusOr<std::string> first = Create(*pod, config);
  ASSERT_TRUE(first.ok()) << first.status() << LogTail();
  absl::StatusOr<std::string> retried = Create(*pod, config);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(*retried, *first) << "kubelet's retry after a timeout";
  runtime::v1::ContainerConfig other = Container("twin", kBusybox, {"sleep", "2000"});
  absl::StatusOr<std::string> refused = Create(*pod, other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(refused.status().message(), HasSubstr(*first));
  runtime::v1::ContainerFilter in_pod;
  in_pod.set_pod_sandbox_id(pod->id);
  EXPECT_EQ(ListContainers(in_pod).size(), 1u);
  // The next attempt is another name.
  other.mutable_metadata()->set_attempt(1);
  absl::StatusOr<std::string> next = Create(*pod, other);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NE(*next, *first);
  // Once removed, the name is free again.
  ASSERT_TRUE(Remove(*first).ok());
  absl::StatusOr<std::string> reused = Create(*pod, Container("twin", kBusybox, {"true"}));
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_NE(*reused, *first);
}

TEST_F(ContainerTest, RemoveStopsARunningContainerAndLeavesNothing) {
  absl::StatusOr<Pod> pod = RunPod("remove");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<std::string> id =
      CreateAndStart(*pod, Container("sleeper", kBusybox, {"sleep", "1000"}));
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  pid_t pid = Pid(*id);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), 0);
  // The leak check sees a live container: its mount, cgroups, monitor, process.
  std::vector<std::string> live = Leftovers(node_->state_dir(), *id, pid);
  for (const char* kind : {"mount: ", "cgroup /sys/fs/cgroup/memory/", "process ",
                           "the container's process", "state directory"})
    EXPECT_THAT(live, ::testing::Contains(HasSubstr(kind)));
  ASSERT_TRUE(Remove(*id).ok()) << LogTail();
  EXPECT_EQ(Status(*id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Remove(*id).ok()) << "removing twice succeeds";
  EXPECT_THAT(LeftoversOf(*id, pid), IsEmpty());
}

TEST_F(ContainerTest, RemovePodSandboxRemovesItsContainersAndLeavesNothing) {
  absl::StatusOr<Pod> pod = RunPod("pod-remove");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<std::string> running =
      CreateAndStart(*pod, Container("running", kBusybox, {"sleep", "1000"}));
  absl::StatusOr<std::string> created = Create(*pod, Container("created", kBusybox, {"true"}));
  absl::StatusOr<std::string> exited =
      CreateAndStart(*pod, Container("exited", kBusybox, {"true"}));
  ASSERT_TRUE(running.ok() && created.ok() && exited.ok()) << LogTail();
  ASSERT_TRUE(WaitForExit(*exited).ok());
  pid_t pid = Pid(*running);
  ASSERT_TRUE(RemovePod(pod->id).ok()) << LogTail();
  for (const std::string& id : {*running, *created, *exited}) {
    EXPECT_EQ(Status(id).status().code(), absl::StatusCode::kNotFound) << id;
    EXPECT_THAT(LeftoversOf(id, id == *running ? pid : 0), IsEmpty()) << id;
  }
  runtime::v1::ContainerFilter in_pod;
  in_pod.set_pod_sandbox_id(pod->id);
  EXPECT_THAT(ListContainers(in_pod), IsEmpty());
  // This test's only pod gone, nothing is mounted below berthd's state
  // directory (container rootfs, pod shm) any more.
  std::string mounts = ReadFileToString("/proc/self/mountinfo").value_or("");
  EXPECT_THAT(mounts, ::testing::Not(HasSubstr(node_->state_dir() + "/")));
}

// ---- 3. ExecSync ----

TEST_F(ContainerTest, ExecSyncReturnsOutputAndExitCode) {
  absl::StatusOr<Pod> pod = RunPod("exec");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<std::string> id =
      CreateAndStart(*pod, Container("sleeper", kBusybox, {"sleep", "1000"}));
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  absl::StatusOr<runtime::v1::ExecSyncResponse> response =
      Exec(*id, Sh("echo to stdout; echo to stderr >&2; exit 5"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->stdout(), "to stdout\n");
  EXPECT_EQ(response->stderr(), "to stderr\n");
  EXPECT_EQ(response->exit_code(), 5);
  EXPECT_EQ(Exec(*id, {}).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(Stop(*id, 0).ok());
  EXPECT_EQ(Exec(*id, {"true"}).status().code(), absl::StatusCode::kFailedPrecondition)
      << "no exec in an exited container";
}

TEST_F(ContainerTest, ExecSyncTimeoutIsDeadlineExceededAndEndsTheCommand) {
  absl::StatusOr<Pod> pod = RunPod("exec-timeout");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<std::string> id =
      CreateAndStart(*pod, Container("sleeper", kBusybox, {"sleep", "1000"}));
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  absl::Time started = absl::Now();
  absl::StatusOr<runtime::v1::ExecSyncResponse> response = Exec(*id, {"sleep", "37"}, 1);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_LT(absl::Now() - started, absl::Seconds(5));
  std::string processes;
  EXPECT_TRUE(Eventually([&] {
    processes = ExecOut(*id, "ps -o args");
    return !absl::StrContains(processes, "sleep 37");
  })) << processes;
}

TEST_F(ContainerTest, ExecSyncOutputIsCapped) {
  absl::StatusOr<Pod> pod = RunPod("exec-cap");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<std::string> id =
      CreateAndStart(*pod, Container("sleeper", kBusybox, {"sleep", "1000"}));
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  // A client receiving what kubelet does: messages up to 16 MiB.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  std::unique_ptr<Stub> stub = runtime::v1::RuntimeService::NewStub(grpc::CreateCustomChannel(
      "unix:" + node_->socket(), grpc::InsecureChannelCredentials(), args));
  runtime::v1::ExecSyncRequest request;
  request.set_container_id(*id);
  for (const std::string& arg : Sh("dd if=/dev/zero bs=1M count=20 2>/dev/null; echo end >&2"))
    request.add_cmd(arg);
  request.set_timeout(30);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  runtime::v1::ExecSyncResponse response;
  grpc::Status status = stub->ExecSync(&context, request, &response);
  // The capped reply must still fit the 16 MiB that kubelet (and berthd's
  // own server) allow a message.
  ASSERT_TRUE(status.ok()) << "gRPC code " << status.error_code() << ": " << status.error_message();
  EXPECT_GT(response.stdout().size(), 0u);
  EXPECT_LE(response.stdout().size(), size_t{16} << 20);
  EXPECT_EQ(response.stdout().find_first_not_of('\0'), std::string::npos);
  EXPECT_EQ(response.stderr(), "end\n");
  EXPECT_EQ(response.exit_code(), 0);
}

// ---- 4. Live changes ----

TEST_F(ContainerTest, UpdateContainerResourcesChangesTheLiveCgroup) {
  absl::StatusOr<Pod> pod = RunPod("update");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config = Container("sleeper", kBusybox, {"sleep", "1000"});
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(64 << 20);
  config.mutable_linux()->mutable_resources()->set_cpu_shares(256);
  absl::StatusOr<std::string> id = CreateAndStart(*pod, config);
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  constexpr char kRead[] =
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares "
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us";
  EXPECT_EQ(ExecOut(*id, kRead), "67108864\n256\n-1\n");

  runtime::v1::UpdateContainerResourcesRequest request;
  request.set_container_id(*id);
  request.mutable_linux()->set_memory_limit_in_bytes(128 << 20);
  request.mutable_linux()->set_cpu_shares(768);
  request.mutable_linux()->set_cpu_quota(20000);
  request.mutable_linux()->set_cpu_period(100000);
  absl::StatusOr<runtime::v1::UpdateContainerResourcesResponse> updated =
      client().Call(&Stub::UpdateContainerResources, request);
  ASSERT_TRUE(updated.ok()) << updated.status() << LogTail();
  EXPECT_EQ(ExecOut(*id, kRead), "134217728\n768\n20000\n");
  EXPECT_EQ(ReadFileToString("/sys/fs/cgroup/memory/berth/" + *id + "/memory.limit_in_bytes")
                .value_or(""),
            "134217728\n");
  absl::StatusOr<runtime::v1::ContainerStatusResponse> status = Status(*id);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->status().resources().linux().memory_limit_in_bytes(), 128 << 20);
  EXPECT_EQ(status->status().resources().linux().cpu_quota(), 20000);

  ASSERT_TRUE(Stop(*id, 0).ok());
  request.mutable_linux()->set_memory_limit_in_bytes(256 << 20);
  EXPECT_EQ(client().Call(&Stub::UpdateContainerResources, request).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ContainerTest, ReopenContainerLogAfterRotation) {
  absl::StatusOr<Pod> pod = RunPod("reopen");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  runtime::v1::ContainerConfig config = Container(
      "ticker", kBusybox, Sh("i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.05; done"));
  absl::StatusOr<std::string> id = CreateAndStart(*pod, config);
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  std::string log = LogPath(*pod, config);
  ASSERT_TRUE(
      Eventually([&] { return absl::StrContains(ReadCriLog(log).stdout_text, "line-2\n"); }));

  std::string rotated = log + ".1";
  ASSERT_EQ(::rename(log.c_str(), rotated.c_str()), 0);
  runtime::v1::ReopenContainerLogRequest request;
  request.set_container_id(*id);
  absl::StatusOr<runtime::v1::ReopenContainerLogResponse> reopened =
      client().Call(&Stub::ReopenContainerLog, request);
  ASSERT_TRUE(reopened.ok()) << reopened.status() << LogTail();
  ASSERT_TRUE(Eventually([&] { return fs::exists(log); })) << "the log is made again";
  std::string old_text = ReadCriLog(rotated).stdout_text;
  ASSERT_TRUE(Eventually([&] { return absl::StrContains(ReadCriLog(log).stdout_text, "\n"); }));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ReadCriLog(rotated).stdout_text, old_text) << "nothing more lands in the old file";
  std::string new_text = ReadCriLog(log).stdout_text;
  // The lines continue where the old file ends, none lost or repeated.
  std::vector<std::string> old_lines = absl::StrSplit(absl::StripSuffix(old_text, "\n"), '\n');
  std::vector<std::string> new_lines = absl::StrSplit(absl::StripSuffix(new_text, "\n"), '\n');
  int last = -1, first = -1;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripPrefix(old_lines.back(), "line-"), &last));
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripPrefix(new_lines.front(), "line-"), &first));
  EXPECT_EQ(first, last + 1);

  ASSERT_TRUE(Stop(*id, 0).ok());
  EXPECT_EQ(client().Call(&Stub::ReopenContainerLog, request).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "only a running container's log reopens";
}

// ---- 5. Stats ----

TEST_F(ContainerTest, ContainerAndPodStats) {
  absl::StatusOr<Pod> pod = RunPod("stats");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  absl::StatusOr<std::string> id =
      CreateAndStart(*pod, Container("busy", kBusybox, {"sleep", "1000"}));
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  ExecOut(*id, "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done");
  ExecOut(*id, "dd if=/dev/zero of=/written bs=1M count=3 2>/dev/null");
  ExecOut(*id, absl::StrCat("ping -c 1 -W 2 ", node_->subnet_prefix(), "1"));

  runtime::v1::ContainerStatsRequest request;
  request.set_container_id(*id);
  absl::StatusOr<runtime::v1::ContainerStatsResponse> stats =
      client().Call(&Stub::ContainerStats, request);
  ASSERT_TRUE(stats.ok()) << stats.status() << LogTail();
  const runtime::v1::ContainerStats& s = stats->stats();
  EXPECT_EQ(s.attributes().id(), *id);
  EXPECT_EQ(s.attributes().metadata().name(), "busy");
  EXPECT_EQ(s.attributes().labels().at("container"), "busy");
  EXPECT_GT(s.cpu().usage_core_nano_seconds().value(), 0u);
  EXPECT_GT(s.cpu().timestamp(), 0);
  EXPECT_GT(s.memory().working_set_bytes().value(), 0u);
  EXPECT_GE(s.writable_layer().used_bytes().value(), 3u << 20);
  EXPECT_GE(s.writable_layer().inodes_used().value(), 1u);

  runtime::v1::PodSandboxStatsRequest pod_request;
  pod_request.set_pod_sandbox_id(pod->id);
  absl::StatusOr<runtime::v1::PodSandboxStatsResponse> pod_stats =
      client().Call(&Stub::PodSandboxStats, pod_request);
  ASSERT_TRUE(pod_stats.ok()) << pod_stats.status() << LogTail();
  const runtime::v1::LinuxPodSandboxStats& linux_stats = pod_stats->stats().linux();
  EXPECT_EQ(pod_stats->stats().attributes().id(), pod->id);
  EXPECT_EQ(pod_stats->stats().attributes().metadata().name(), pod->config.metadata().name());
  EXPECT_EQ(linux_stats.network().default_interface().name(), "eth0");
  EXPECT_GT(linux_stats.network().default_interface().rx_bytes().value(), 0u);
  EXPECT_GT(linux_stats.network().default_interface().tx_bytes().value(), 0u);
  EXPECT_GE(linux_stats.process().process_count().value(), 1u);
  EXPECT_GT(linux_stats.cpu().usage_core_nano_seconds().value(), 0u);
  EXPECT_GT(linux_stats.memory().working_set_bytes().value(), 0u);
  ASSERT_EQ(linux_stats.containers_size(), 1);
  EXPECT_EQ(linux_stats.containers(0).attributes().id(), *id);
  EXPECT_EQ(client()
                .Call(&Stub::PodSandboxStats,
                      [] {
                        runtime::v1::PodSandboxStatsRequest unknown;
                        unknown.set_pod_sandbox_id("no-such-pod");
                        return unknown;
                      }())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ContainerTest, ListStatsFilters) {
  absl::StatusOr<Pod> pod_a = RunPod("liststats-a");
  absl::StatusOr<Pod> pod_b = RunPod("liststats-b");
  ASSERT_TRUE(pod_a.ok() && pod_b.ok()) << LogTail();
  absl::StatusOr<std::string> a1 =
      CreateAndStart(*pod_a, Container("a1", kBusybox, {"sleep", "1000"}));
  absl::StatusOr<std::string> a2 = Create(*pod_a, Container("a2", kBusybox, {"sleep", "1000"}));
  absl::StatusOr<std::string> b1 =
      CreateAndStart(*pod_b, Container("b1", kBusybox, {"sleep", "1000"}));
  ASSERT_TRUE(a1.ok() && a2.ok() && b1.ok()) << LogTail();

  auto ids = [&](const runtime::v1::ContainerStatsFilter& filter) {
    runtime::v1::ListContainerStatsRequest request;
    *request.mutable_filter() = filter;
    absl::StatusOr<runtime::v1::ListContainerStatsResponse> response =
        client().Call(&Stub::ListContainerStats, request);
    EXPECT_TRUE(response.ok()) << response.status();
    std::set<std::string> out;
    if (!response.ok()) return out;
    for (const runtime::v1::ContainerStats& stats : response->stats())
      out.insert(stats.attributes().id());
    return out;
  };
  runtime::v1::ContainerStatsFilter by_pod;
  by_pod.set_pod_sandbox_id(pod_a->id);
  EXPECT_EQ(ids(by_pod), (std::set<std::string>{*a1, *a2}));
  runtime::v1::ContainerStatsFilter by_id;
  by_id.set_id(b1->substr(0, 16));
  EXPECT_EQ(ids(by_id), std::set<std::string>{*b1});
  runtime::v1::ContainerStatsFilter by_label;
  (*by_label.mutable_label_selector())["container"] = "a2";
  EXPECT_EQ(ids(by_label), std::set<std::string>{*a2});
  runtime::v1::ContainerStatsFilter none;
  none.set_pod_sandbox_id(pod_b->id);
  (*none.mutable_label_selector())["container"] = "a1";
  EXPECT_THAT(ids(none), IsEmpty());

  runtime::v1::ListPodSandboxStatsRequest pods;
  pods.mutable_filter()->set_id(pod_b->id);
  absl::StatusOr<runtime::v1::ListPodSandboxStatsResponse> pod_stats =
      client().Call(&Stub::ListPodSandboxStats, pods);
  ASSERT_TRUE(pod_stats.ok()) << pod_stats.status();
  ASSERT_EQ(pod_stats->stats_size(), 1);
  EXPECT_EQ(pod_stats->stats(0).attributes().id(), pod_b->id);
  pods.mutable_filter()->clear_id();
  (*pods.mutable_filter()->mutable_label_selector())["pod"] = pod_a->config.metadata().name();
  pod_stats = client().Call(&Stub::ListPodSandboxStats, pods);
  ASSERT_TRUE(pod_stats.ok()) << pod_stats.status();
  ASSERT_EQ(pod_stats->stats_size(), 1);
  EXPECT_EQ(pod_stats->stats(0).attributes().id(), pod_a->id);
  EXPECT_EQ(pod_stats->stats(0).linux().containers_size(), 2);
}

// ---- 6. Events ----

// GetContainerEvents, read on a thread of its own until cancelled.
class EventStream {
 public:
  explicit EventStream(CriClient& client)
      : reader_(client.runtime().GetContainerEvents(&context_, runtime::v1::GetEventsRequest())),
        thread_([this] {
          runtime::v1::ContainerEventResponse event;
          while (reader_->Read(&event)) {
            absl::MutexLock lock(&mutex_);
            events_.push_back(event);
          }
        }) {}
  ~EventStream() {
    context_.TryCancel();
    thread_.join();
    (void)reader_->Finish();
  }

  std::vector<runtime::v1::ContainerEventResponse> Of(const std::string& id) {
    absl::MutexLock lock(&mutex_);
    std::vector<runtime::v1::ContainerEventResponse> out;
    for (const auto& event : events_)
      if (event.container_id() == id) out.push_back(event);
    return out;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<runtime::v1::ContainerEventResponse>> reader_;
  absl::Mutex mutex_;
  std::vector<runtime::v1::ContainerEventResponse> events_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;
};

TEST_F(ContainerTest, EventsArriveInOrderWithThePodsStatus) {
  absl::StatusOr<Pod> pod = RunPod("events");
  ASSERT_TRUE(pod.ok()) << pod.status() << LogTail();
  EventStream stream(client());
  // The subscription starts when berthd runs the call: a first container
  // shows when it does.
  bool subscribed = false;
  for (int attempt = 0; attempt < 20 && !subscribed; ++attempt) {
    absl::StatusOr<std::string> probe =
        Create(*pod, Container(absl::StrCat("probe-", attempt), kBusybox, {"true"}));
    ASSERT_TRUE(probe.ok()) << probe.status();
    subscribed = Eventually([&] { return !stream.Of(*probe).empty(); }, absl::Milliseconds(250));
    ASSERT_TRUE(Remove(*probe).ok());
  }
  ASSERT_TRUE(subscribed) << "no event within 5s of subscribing";

  runtime::v1::ContainerConfig config =
      Container("observed", kBusybox, Sh("trap 'exit 0' TERM; sleep 1000 & wait"));
  absl::StatusOr<std::string> id = CreateAndStart(*pod, config);
  ASSERT_TRUE(id.ok()) << id.status() << LogTail();
  absl::SleepFor(absl::Milliseconds(200));  // the trap is set
  ASSERT_TRUE(Stop(*id, 10).ok());
  ASSERT_TRUE(Remove(*id).ok());
  ASSERT_TRUE(Eventually([&] { return stream.Of(*id).size() >= 4; }));
  absl::SleepFor(absl::Milliseconds(300));  // any duplicate would show by now

  std::vector<runtime::v1::ContainerEventResponse> events = stream.Of(*id);
  std::vector<runtime::v1::ContainerEventType> types;
  for (const auto& event : events) types.push_back(event.container_event_type());
  EXPECT_THAT(
      types,
      ElementsAre(runtime::v1::CONTAINER_CREATED_EVENT, runtime::v1::CONTAINER_STARTED_EVENT,
                  runtime::v1::CONTAINER_STOPPED_EVENT, runtime::v1::CONTAINER_DELETED_EVENT));
  int64_t previous = 0;
  for (const auto& event : events) {
    EXPECT_EQ(event.pod_sandbox_status().id(), pod->id);
    EXPECT_EQ(event.pod_sandbox_status().state(), runtime::v1::SANDBOX_READY);
    EXPECT_GE(event.created_at(), previous);
    previous = event.created_at();
  }
  // Each event carries the pod's containers as they are then.
  auto state_in = [&](const runtime::v1::ContainerEventResponse& event) {
    for (const auto& status : event.containers_statuses())
      if (status.id() == *id) return status.state();
    return runtime::v1::CONTAINER_UNKNOWN;
  };
  if (events.size() == 4) {
    EXPECT_EQ(state_in(events[0]), runtime::v1::CONTAINER_CREATED);
    EXPECT_EQ(state_in(events[1]), runtime::v1::CONTAINER_RUNNING);
    EXPECT_EQ(state_in(events[2]), runtime::v1::CONTAINER_EXITED);
    EXPECT_EQ(state_in(events[3]), runtime::v1::CONTAINER_UNKNOWN) << "gone once deleted";
  }
}

// ---- 7. Restart ----

// What is left on the node of its pods, counted from outside berthd.
struct NodeLeaks {
  int netns = 0, veths = 0, ips = 0, mounts = 0, cgroups = 0, processes = 0, state_dirs = 0;
  int total() const { return netns + veths + ips + mounts + cgroups + processes + state_dirs; }
  std::string ToString() const {
    return absl::StrCat("netns ", netns, ", veths ", veths, ", IPs ", ips, ", mounts ", mounts,
                        ", cgroups ", cgroups, ", processes ", processes, ", state dirs ",
                        state_dirs);
  }
};

int CountEntries(const std::string& dir, const std::function<bool(const std::string&)>& counts) {
  int n = 0;
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(dir, ignored))
    if (counts(entry.path().filename().string())) ++n;
  return n;
}

// berthd SIGKILLed while 20 clients each make a pod and a container in it,
// then started again on the same root: everything it reports is consistent,
// what was made before the kill still works, a container that exited while
// berthd was down reports its real exit code, and once every pod is removed
// nothing of them is left on the node.
TEST_F(ContainerTest, SigkillDuringParallelCreationsThenRestartLeavesNothingBehind) {
  const std::string cgroup_parent = absl::StrCat("/berth-e2e-restart-", ::getpid());
  const std::string run_label = absl::StrCat(::getpid());
  auto pod_config = [&](const std::string& name) {
    runtime::v1::PodSandboxConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_metadata()->set_namespace_("e2e");
    config.mutable_metadata()->set_uid(absl::StrCat(name, "-uid-", ::getpid()));
    config.set_hostname(name);
    config.set_log_directory(node_->Join("logs/" + name));
    config.mutable_linux()->set_cgroup_parent(cgroup_parent);
    (*config.mutable_labels())["restart-run"] = run_label;
    return config;
  };

  // Before the storm: a container that will exit (code 7) while berthd is down.
  absl::StatusOr<Pod> survivor = RunPod("survivor", [&](runtime::v1::PodSandboxConfig& config) {
    config.mutable_linux()->set_cgroup_parent(cgroup_parent);
    (*config.mutable_labels())["restart-run"] = run_label;
  });
  ASSERT_TRUE(survivor.ok()) << survivor.status() << LogTail();
  absl::StatusOr<std::string> exits_later =
      CreateAndStart(*survivor, Container("exits-later", kBusybox, Sh("sleep 2; exit 7")));
  absl::StatusOr<std::string> keeps_running =
      CreateAndStart(*survivor, Container("keeps-running", kBusybox, {"sleep", "1000"}));
  ASSERT_TRUE(exits_later.ok() && keeps_running.ok()) << LogTail();

  constexpr int kClients = 20;
  struct Outcome {
    std::string pod, container;
    bool started = false;
  };
  std::vector<Outcome> outcomes(kClients);
  std::vector<std::thread> clients;
  absl::Mutex mutex;
  int pods_made = 0, containers_made = 0, started = 0;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      runtime::v1::RunPodSandboxRequest run;
      *run.mutable_config() = pod_config(absl::StrCat("storm-", i));
      absl::StatusOr<runtime::v1::RunPodSandboxResponse> pod =
          client().Call(&Stub::RunPodSandbox, run);
      if (!pod.ok()) return;
      outcomes[i].pod = pod->pod_sandbox_id();
      {
        absl::MutexLock lock(&mutex);
        ++pods_made;
      }
      runtime::v1::CreateContainerRequest create;
      create.set_pod_sandbox_id(pod->pod_sandbox_id());
      *create.mutable_config() = Container("app", kBusybox, {"sleep", "1000"});
      *create.mutable_sandbox_config() = run.config();
      absl::StatusOr<runtime::v1::CreateContainerResponse> container =
          client().Call(&Stub::CreateContainer, create);
      if (!container.ok()) return;
      outcomes[i].container = container->container_id();
      {
        absl::MutexLock lock(&mutex);
        ++containers_made;
      }
      runtime::v1::StartContainerRequest start;
      start.set_container_id(container->container_id());
      if (!client().Call(&Stub::StartContainer, start).ok()) return;
      outcomes[i].started = true;
      absl::MutexLock lock(&mutex);
      ++started;
    });
  }
  // The kill lands while pod and container creations are in flight: once
  // the first containers are made, with pods still being made.
  {
    absl::MutexLock lock(&mutex);
    auto some_done = [&]() ABSL_SHARED_LOCKS_REQUIRED(mutex) { return containers_made >= 2; };
    mutex.AwaitWithTimeout(absl::Condition(&some_done), absl::Seconds(30));
  }
  node_->Kill();
  for (std::thread& thread : clients) thread.join();
  int pods_before = 0, created_before = 0, started_before = 0;
  for (const Outcome& outcome : outcomes) {
    pods_before += !outcome.pod.empty();
    created_before += !outcome.container.empty();
    started_before += outcome.started;
  }
  absl::SleepFor(absl::Seconds(2.5));  // exits-later ends while berthd is down
  ASSERT_TRUE(node_->Restart().ok()) << LogTail();

  // Consistent: every pod and container listed once, none half-made.
  runtime::v1::ListPodSandboxRequest list_pods;
  (*list_pods.mutable_filter()->mutable_label_selector())["restart-run"] = run_label;
  absl::StatusOr<runtime::v1::ListPodSandboxResponse> pods =
      client().Call(&Stub::ListPodSandbox, list_pods);
  ASSERT_TRUE(pods.ok()) << pods.status();
  std::set<std::string> listed_pods, pod_names;
  for (const runtime::v1::PodSandbox& pod : pods->items()) {
    listed_pods.insert(pod.id());
    EXPECT_TRUE(pod_names.insert(pod.metadata().name()).second) << "duplicate " << pod.metadata().name();
    EXPECT_EQ(pod.state(), runtime::v1::SANDBOX_READY) << pod.metadata().name();
  }
  std::vector<runtime::v1::Container> containers = ListContainers({});
  for (const Outcome& outcome : outcomes) {
    if (!outcome.pod.empty()) EXPECT_TRUE(listed_pods.count(outcome.pod)) << outcome.pod;
    if (!outcome.started) continue;
    EXPECT_EQ(State(outcome.container), runtime::v1::CONTAINER_RUNNING) << outcome.container;
    runtime::v1::ExecSyncRequest exec;
    exec.set_container_id(outcome.container);
    exec.add_cmd("true");
    exec.set_timeout(10);
    absl::StatusOr<runtime::v1::ExecSyncResponse> ran = client().Call(&Stub::ExecSync, exec);
    EXPECT_TRUE(ran.ok() && ran->exit_code() == 0) << ran.status();
  }
  for (const runtime::v1::Container& container : containers) {
    if (!listed_pods.count(container.pod_sandbox_id())) continue;
    EXPECT_NE(container.state(), runtime::v1::CONTAINER_UNKNOWN) << container.id();
  }
  absl::StatusOr<runtime::v1::ContainerStatusResponse> exited = Status(*exits_later);
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_EQ(exited->status().state(), runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(exited->status().exit_code(), 7);
  {
    // kubelet subscribes again after the restart: the exit that happened
    // while berthd was down reaches it as an event.
    EventStream stream(client());
    std::vector<runtime::v1::ContainerEventResponse> events;
    for (int i = 0; i < 50 && events.empty(); ++i) {
      absl::SleepFor(absl::Milliseconds(20));
      events = stream.Of(*exits_later);
    }
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].container_event_type(), runtime::v1::CONTAINER_STOPPED_EVENT);
  }
  EXPECT_EQ(State(*keeps_running), runtime::v1::CONTAINER_RUNNING);
  EXPECT_TRUE(Stop(*keeps_running, 0).ok());
  EXPECT_EQ(State(*keeps_running), runtime::v1::CONTAINER_EXITED);

  // Everything removed, nothing left.
  for (const std::string& id : listed_pods) EXPECT_TRUE(RemovePod(id).ok()) << id << LogTail();
  pods_.clear();
  NodeLeaks leaks;
  leaks.netns = CountEntries(node_->netns_dir(), [](const std::string&) { return true; });
  std::string links = RunCommand({"/usr/sbin/ip", "-o", "link", "show", "master", node_->bridge()});
  leaks.veths = static_cast<int>(std::count(links.begin(), links.end(), '\n'));
  // host-local keeps one file per allocated address (plus its lock and
  // last-reserved bookkeeping) in <dataDir>/<network>/.
  std::error_code ignored;
  for (const auto& network : fs::directory_iterator(node_->ipam_dir(), ignored))
    leaks.ips += CountEntries(network.path(), [](const std::string& name) {
      return name != "lock" && !absl::StartsWith(name, "last_reserved_ip");
    });
  std::string mountinfo = ReadFileToString("/proc/self/mountinfo").value_or("");
  leaks.mounts = static_cast<int>(
      std::count_if(absl::StrSplit(mountinfo, '\n').begin(), absl::StrSplit(mountinfo, '\n').end(),
                    [&](absl::string_view line) {
                      return absl::StrContains(line, node_->state_dir() + "/") ||
                             absl::StrContains(line, node_->netns_dir() + "/");
                    }));
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ignored)) {
    std::string parent = hierarchy.path().string() + cgroup_parent;
    leaks.cgroups += CountEntries(parent, [&](const std::string& name) {
      return fs::is_directory(parent + "/" + name);
    });
  }
  for (const auto& proc : fs::directory_iterator("/proc", ignored)) {
    int number = 0;
    if (!absl::SimpleAtoi(proc.path().filename().string(), &number)) continue;
    std::string cmdline = ReadFileToString(proc.path().string() + "/cmdline").value_or("");
    if (number == node_->berthd_pid() || !absl::StrContains(cmdline, node_->state_dir() + "/"))
      continue;
    ++leaks.processes;
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    ADD_FAILURE() << "left running: " << number << " " << cmdline;
  }
  leaks.state_dirs = CountEntries(node_->state_dir() + "/containers",
                                  [](const std::string&) { return true; }) +
                     CountEntries(node_->state_dir() + "/sandboxes",
                                  [](const std::string&) { return true; });
  std::printf("restart: %d clients; before the SIGKILL %d pods made, %d containers created, "
              "%d started; after the restart %zu pods listed; leaks: %s\n",
              kClients, pods_before, created_before, started_before, listed_pods.size(),
              leaks.ToString().c_str());
  EXPECT_EQ(leaks.total(), 0) << leaks.ToString() << LogTail();
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ignored))
    ::rmdir((hierarchy.path().string() + cgroup_parent).c_str());
}

}  // namespace
}  // namespace berth::cri
