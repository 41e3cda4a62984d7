#pragma once

// The node an e2e binary shares: one berthd on its own root, a bridge and
// subnet of the test process's own (Debian's CNI plugins), and the test
// images imported once. Made by the first test that asks (Node::Get()),
// torn down after the last (pods removed, berthd stopped, bridge deleted,
// no mount left under its directory).

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "tests/e2e/berthd_fixture.h"
#include "tests/e2e/local_registry.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {

namespace fs = std::filesystem;

inline constexpr char kBusybox[] = "docker.io/berth-test/busybox:latest";
inline constexpr char kUserUid[] = "docker.io/berth-test/user-uid:latest";    // User "1000"
inline constexpr char kUserName[] = "docker.io/berth-test/user-name:latest";  // User "berthuser" (1234)
// Made by BuildArchive: Entrypoint ["/bin/sh", "-c"], Cmd ["echo from-cmd"],
// its own PATH and variables, WorkingDir /tmp, StopSignal SIGUSR1, and a
// user "member" (2000) listed in the groups extra (3000) and other (3001).
inline constexpr char kCustom[] = "docker.io/berth-e2e/custom:latest";
inline constexpr char kCustomPath[] = "/image/bin:/usr/bin:/bin";

// Polls `done` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10));

// hack/test-images' busybox, user-uid and user-name, plus kCustom made on
// busybox's layer, as an OCI archive naming each image.
absl::StatusOr<std::string> BuildArchive(const testing::TestImages& images);
// Imports the archive through berth.v1.Images/Import.
absl::Status Import(CriClient& client, const std::string& archive);

class Node {
  using Stub = runtime::v1::RuntimeService::Stub;

 public:
  // Made by the first test that asks; torn down by NodeEnvironment.
  // berth.yaml lines for the binary's berthd (top-level keys), before the
  // first Get().
  static void SetExtraConfig(std::string yaml) { extra_config_ = std::move(yaml); }
  static Node& Get() {
    if (instance_ == nullptr) {
      instance_ = new Node();
      instance_->status_ = instance_->SetUp();
    }
    return *instance_;
  }
  static void Destroy() {
    if (instance_ == nullptr) return;
    instance_->TearDown();
    delete instance_;
    instance_ = nullptr;
  }

  const absl::Status& status() const { return status_; }
  CriClient& client() { return berthd_.client(); }
  const std::string& socket() const { return berthd_.socket(); }
  const std::string& subnet_prefix() const { return subnet_prefix_; }
  std::string state_dir() const { return dir_.Join("berthd-run"); }
  std::string Join(const std::string& name) const { return dir_.Join(name); }
  // A seccomp profile (Localhost) failing mkdir with ENOMEDIUM.
  std::string seccomp_profile() const { return dir_.Join("no-mkdir.json"); }

  std::string LogTail(size_t lines = 40) const {
    std::vector<std::string> all = absl::StrSplit(berthd_.Log(), '\n');
    size_t from = all.size() > lines ? all.size() - lines : 0;
    return "\n--- berthd log (tail) ---\n" +
           absl::StrJoin(all.begin() + static_cast<std::ptrdiff_t>(from), all.end(), "\n");
  }

  // Pods' network namespaces are pinned here, not in the host's shared
  // /var/run/netns, so leaks are this node's own to count.
  std::string netns_dir() const { return dir_.Join("netns"); }
  std::string ipam_dir() const { return dir_.Join("ipam"); }
  const std::string& bridge() const { return bridge_; }

  pid_t berthd_pid() { return berthd_.process().pid(); }
  // SIGKILL: berthd dies with whatever it was doing half-done.
  void Kill() {
    berthd_.process().Signal(SIGKILL).IgnoreError();
    (void)berthd_.process().WaitFor(absl::Seconds(20));
  }
  // berthd again, on the same root and state directory.
  absl::Status Restart() { return berthd_.Start(CniYaml()); }

  // berthd is still serving; a dead one is restarted (on the same root) so
  // one crash fails one test, not the rest.
  absl::Status EnsureServing() {
    if (!started_) return status_;
    absl::StatusOr<ExitStatus> ended = berthd_.process().WaitFor(absl::ZeroDuration());
    if (!ended.ok()) return absl::OkStatus();
    std::string log = LogTail();
    RETURN_IF_ERROR(berthd_.Start(CniYaml()));
    return absl::InternalError(
        absl::StrCat("berthd had exited (", ended->ToString(), "); restarted it", log));
  }

 private:
  Node() = default;

  std::string CniYaml() const {
    return absl::StrCat("  cache_dir: ", dir_.Join("cni-cache"), "\n  netns_dir: ", netns_dir(),
                        "\n", extra_config_);
  }

  absl::Status SetUp() {
    int pid = ::getpid();
    // Apart from sandbox_test's bt<pid> and 10.100-199.x.0/24.
    bridge_ = absl::StrCat("bc", pid);
    subnet_prefix_ = absl::StrCat("10.", 200 + pid % 50, ".", (pid / 50) % 250, ".");
    // A pod with a user namespace reaches its rootfs below the state
    // directory as an unprivileged host uid.
    if (::chmod(dir_.path().c_str(), 0711) != 0) return ErrnoStatus("chmod " + dir_.path());
    testing::TestImages images;
    RETURN_IF_ERROR(images.Build(dir_.Join("images")));
    ASSIGN_OR_RETURN(std::string archive, BuildArchive(images));
    RETURN_IF_ERROR(WriteFileAtomically(
        seccomp_profile(),
        R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"],
            "action": "SCMP_ACT_ERRNO", "errnoRet": 123}]})"));
    fs::create_directories(berthd_.conf_dir());
    nlohmann::json list = {{"cniVersion", "1.0.0"},
                           {"name", absl::StrCat("berth-ctr-e2e-", pid)},
                           {"plugins",
                            {{{"type", "bridge"},
                              {"bridge", bridge_},
                              {"isGateway", true},
                              {"ipMasq", true},
                              {"ipam",
                               {{"type", "host-local"},
                                {"dataDir", dir_.Join("ipam")},
                                {"ranges", {{{{"subnet", subnet_prefix_ + "0/24"}}}}},
                                {"routes", {{{"dst", "0.0.0.0/0"}}}}}}},
                             {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
    RETURN_IF_ERROR(WriteFileAtomically(berthd_.conf_dir() + "/10-test.conflist", list.dump()));
    RETURN_IF_ERROR(berthd_.Start(CniYaml()));
    started_ = true;
    return Import(berthd_.client(), archive);
  }

  void TearDown() {
    if (status_.ok() && EnsureServing().ok()) {
      runtime::v1::ListPodSandboxResponse pods =
          client()
              .Call(&Stub::ListPodSandbox, runtime::v1::ListPodSandboxRequest())
              .value_or(runtime::v1::ListPodSandboxResponse());
      for (const runtime::v1::PodSandbox& pod : pods.items()) {
        runtime::v1::RemovePodSandboxRequest request;
        request.set_pod_sandbox_id(pod.id());
        absl::Status removed = client().Call(&Stub::RemovePodSandbox, request).status();
        EXPECT_TRUE(removed.ok()) << "pod " << pod.id() << " left behind: " << removed;
      }
    }
    if (started_) {
      berthd_.process().Signal(SIGTERM).IgnoreError();
      (void)berthd_.process().WaitFor(absl::Seconds(20));
    }
    RunCommand({"/usr/sbin/ip", "link", "del", bridge_});
    // Whatever is still mounted below the temporary directory would be
    // emptied by its removal: detach it first, and say so.
    std::vector<std::string> points;
    std::ifstream mountinfo("/proc/self/mountinfo");
    for (std::string line; std::getline(mountinfo, line);) {
      std::vector<std::string> fields = absl::StrSplit(line, ' ');
      if (fields.size() > 4 && absl::StartsWith(fields[4], dir_.path()))
        points.push_back(fields[4]);
    }
    EXPECT_THAT(points, ::testing::IsEmpty()) << "mounts left under " << dir_.path();
    for (auto it = points.rbegin(); it != points.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  }

  static inline Node* instance_ = nullptr;
  static inline std::string extra_config_;
  TempDir dir_;
  BerthdUnderTest berthd_{dir_};
  std::string bridge_, subnet_prefix_;
  bool started_ = false;  // berthd served once: its process exists from then on
  absl::Status status_;
};

}  // namespace berth::cri
