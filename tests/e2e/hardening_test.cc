// berth-runtime against attacks published on runc and crun, each run for
// real from a hostile rootfs. Every test here fails when its defence is
// taken out.

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/unique_fd.h"
#include "tests/e2e/runtime_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The attack's outcome, once it has one.
std::string AwaitResult(const std::string& rootfs) {
  std::string path = rootfs + "/record/result";
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> text = ReadFileToString(path);
    if (text.ok() && !text->empty()) {
      // The attack exits after reporting; as a subreaper this test adopted it
      // and must reap it, or the container's init cannot finish dying.
      absl::SleepFor(absl::Milliseconds(50));
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      return *text;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return "no result";
}

class ExeOverwriteTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    const char* other = std::getenv("BERTH_E2E_RUNTIME");
    binary_ = CopyOf(other != nullptr ? other : BERTH_RUNTIME_PATH);
    original_ = *ReadFileToString(binary_);
    UseRuntimeBinary(binary_);
    rootfs_ = ExeAttackRootfs();
  }

  nlohmann::json AttackConfig(const std::vector<std::string>& args) {
    nlohmann::json config = Config(args);
    config["root"] = {{"path", rootfs_}, {"readonly", false}};
    return config;
  }

  void ExpectBinaryIntact(const std::string& result) {
    RecordProperty("outcome", result);
    EXPECT_THAT(result, StartsWith("denied")) << "the attack could open the binary for writing";
    EXPECT_TRUE(*ReadFileToString(binary_) == original_) << "berth-runtime was overwritten";
  }

  std::string binary_, original_, rootfs_;
};

// CVE-2019-5736 as published: the entrypoint is /proc/self/exe, so the init
// execs the runtime's own binary inside the container, and the image's ELF
// interpreter gets to run with /proc/self/exe pointing at it.
TEST_F(ExeOverwriteTest, ProcSelfExeEntrypointCannotOverwriteTheRuntime) {
  RunResult r =
      Runtime({"run", "--detach", "--bundle", Bundle(AttackConfig({"/proc/self/exe"})), NewId()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectBinaryIntact(AwaitResult(rootfs_));
}

TEST_F(ExeOverwriteTest, TheMemfdFallbackHoldsToo) {
  SpawnOptions memfd{.env = std::vector<std::string>{"BERTH_SEALED_BINARY=memfd", "PATH=/bin"}};
  RunResult r = Runtime(
      {"run", "--detach", "--bundle", Bundle(AttackConfig({"/proc/self/exe"})), NewId()}, memfd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectBinaryIntact(AwaitResult(rootfs_));
}

// The same from `exec`: the exec'd process is ours until its program runs.
TEST_F(ExeOverwriteTest, ExecOfProcSelfExeCannotOverwriteTheRuntime) {
  std::string id = NewId();
  RunResult r = Runtime({"run", "--detach", "--bundle", Bundle(AttackConfig({"sleep", "60"})), id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  RunResult exec = Runtime({"exec", "--detach", id, "/proc/self/exe"});
  ASSERT_EQ(exec.exit_code, 0) << exec.err;
  ExpectBinaryIntact(AwaitResult(rootfs_));
}

// A busybox rootfs of the test's own, for images that differ from the shared one.
std::string OwnRootfs(const TempDir& dir, const std::string& name) {
  std::string rootfs = dir.Join(name);
  for (const char* sub : {"bin", "proc", "sys", "dev", "tmp", "etc"})
    std::filesystem::create_directories(rootfs + "/" + sub);
  std::filesystem::copy_file("/bin/busybox", rootfs + "/bin/busybox");
  for (const char* applet : {"sh", "cat", "echo", "ls", "hostname", "sleep", "true", "false"})
    std::filesystem::create_symlink("busybox", rootfs + "/bin/" + applet);
  return rootfs;
}

// Drops every mount at or under `prefix` from the config.
void DropMounts(nlohmann::json& config, const std::string& prefix) {
  nlohmann::json kept = nlohmann::json::array();
  for (const nlohmann::json& mount : config["mounts"]) {
    std::string destination = mount["destination"];
    if (destination != prefix && destination.rfind(prefix + "/", 0) != 0) kept.push_back(mount);
  }
  config["mounts"] = kept;
}

class MountAttackTest : public RuntimeTest {};

// CVE-2025-31133: masks bind "/dev/null"; an image without a /dev tmpfs whose
// /dev/null is a symlink into /proc would turn a masked path into a bind of
// that procfs file. Masks come from the host's verified /dev/null instead.
TEST_F(MountAttackTest, DevNullSymlinkCannotTurnAMaskIntoAProcfsBind) {
  std::string rootfs = OwnRootfs(dir(), "devnull-symlink");
  std::filesystem::create_symlink("/proc/sys/kernel/domainname", rootfs + "/dev/null");
  nlohmann::json config = Config({"sh", "-c", "cat /proc/cmdline; echo end"});
  config["root"] = {{"path", rootfs}, {"readonly", false}};
  DropMounts(config, "/dev");
  config["domainname"] = "reached-through-the-mask";
  config["linux"]["maskedPaths"] = {"/proc/cmdline"};
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "end\n") << "the masked /proc/cmdline showed another procfs file";
}

// CVE-2019-19921 and kin: a volume over /proc/sys would take the runtime's
// sysctl writes (here into a host directory). Refused at create.
TEST_F(MountAttackTest, MountsOverProcAreRefused) {
  std::string host_dir = dir().Join("fake-proc-sys-kernel");
  std::filesystem::create_directories(host_dir);
  ASSERT_TRUE(WriteFileAtomically(host_dir + "/domainname", "untouched\n").ok());
  nlohmann::json config = Config({"true"});
  config["mounts"].push_back({{"destination", "/proc/sys/kernel"},
                              {"type", "bind"},
                              {"source", host_dir},
                              {"options", {"rbind", "rw"}}});
  config["linux"]["sysctl"] = {{"kernel.domainname", "written-to-the-host"}};
  RunResult r = Run(config);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("nothing may be mounted under /proc"));
  EXPECT_EQ(*ReadFileToString(host_dir + "/domainname"), "untouched\n");
}

// CVE-2025-52881 class: a write to "/proc/sys/..." by path follows whatever
// the container's /proc holds. Here there is no proc mount, and the image's
// own /proc/sys/kernel/domainname is a plain file: the sysctl must reach the
// kernel through a real procfs and leave the image's file alone.
TEST_F(MountAttackTest, SysctlsReachTheKernelNotTheImagesProcDirectory) {
  std::string rootfs = OwnRootfs(dir(), "fake-proc");
  std::filesystem::create_directories(rootfs + "/proc/sys/kernel");
  ASSERT_TRUE(WriteFileAtomically(rootfs + "/proc/sys/kernel/domainname", "image\n").ok());
  nlohmann::json config = Config({"true"});
  config["root"] = {{"path", rootfs}, {"readonly", false}};
  DropMounts(config, "/proc");
  config["linux"]["sysctl"] = {{"kernel.domainname", "from-sysctl"}};
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(*ReadFileToString(rootfs + "/proc/sys/kernel/domainname"), "image\n")
      << "the sysctl was written into the image";
}

// The pty master a console socket at `path` receives from `run --detach`.
class ConsoleReceiver {
 public:
  explicit ConsoleReceiver(const std::string& path) {
    listener_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{.sun_family = AF_UNIX};
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listener_.get(), 1) != 0) {
      listener_.Reset();
    }
  }
  // Everything the container writes to its terminal, until it exits.
  std::string ReadAll() {
    UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) return "<no connection>";
    char payload[64];
    char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{.iov_base = payload, .iov_len = sizeof(payload)};
    msghdr message{
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
    if (::recvmsg(connection.get(), &message, 0) <= 0 || CMSG_FIRSTHDR(&message) == nullptr)
      return "<no terminal>";
    int fd;
    std::memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&message)), sizeof(int));
    UniqueFd master(fd);
    std::string output;
    char buffer[256];
    for (ssize_t n; (n = ::read(master.get(), buffer, sizeof(buffer))) > 0;) output.append(buffer, n);
    return output;
  }

 private:
  UniqueFd listener_;
};

// CVE-2025-52565 class: the terminal's peer opened by its /dev/pts/N name
// (and bound on /dev/console by that name) is whatever the container has at
// that path. Here the real devpts sits elsewhere and /dev/pts holds the
// image's own files: the runtime must still give the container its real
// terminal, on stdio and on /dev/console.
TEST_F(MountAttackTest, TerminalPeerIsNotOpenedByItsName) {
  std::string rootfs = OwnRootfs(dir(), "fake-pts");
  std::filesystem::create_directories(rootfs + "/dev/pts");
  std::filesystem::create_directories(rootfs + "/dev/realpts");
  for (int i = 0; i < 64; ++i)
    ASSERT_TRUE(WriteFileAtomically(absl::StrCat(rootfs, "/dev/pts/", i), "fake\n").ok());
  std::filesystem::create_symlink("realpts/ptmx", rootfs + "/dev/ptmx");
  nlohmann::json config =
      Config({"sh", "-c", "echo on-stdout; echo on-console > /dev/console"});
  config["root"] = {{"path", rootfs}, {"readonly", false}};
  config["process"]["terminal"] = true;
  DropMounts(config, "/dev");
  config["mounts"].push_back(
      {{"destination", "/dev/realpts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}});
  std::string socket_path = dir().Join("console.sock");
  ConsoleReceiver console(socket_path);
  RunResult r = Runtime(
      {"run", "--detach", "--console-socket", socket_path, "--bundle", Bundle(config), NewId()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(console.ReadAll(), "on-stdout\r\non-console\r\n");
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(*ReadFileToString(absl::StrCat(rootfs, "/dev/pts/", i)), "fake\n");
}

// Labels for an LSM the host does not run cannot be enforced: the container
// runs, and the warning says so (it is what berthd reports in the
// container's status), instead of pretending a profile is in force.
TEST_F(RuntimeTest, LabelsForAnLsmTheHostLacksWarnThatTheyAreNotEnforced) {
  if (ReadFileToString("/sys/module/apparmor/parameters/enabled").value_or("N")[0] == 'Y' ||
      ::access("/sys/fs/selinux/enforce", F_OK) == 0) {
    GTEST_SKIP() << "this host runs AppArmor or SELinux";
  }
  nlohmann::json config = Config({"echo", "ran"});
  config["process"]["apparmorProfile"] = "berth-test-profile";
  config["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0";
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ran\n");
  EXPECT_THAT(r.err, HasSubstr("AppArmor profile berth-test-profile is not enforced"));
  EXPECT_THAT(r.err, HasSubstr("SELinux label system_u:system_r:container_t:s0 is not enforced"));
}

// A seccomp profile that omits what the runtime itself needs (close_range,
// getcwd), as runtime-tools' generator writes them: our housekeeping happens
// before the user's filter, with or without no_new_privs.
TEST_F(RuntimeTest, SeccompProfileWithoutCloseRangeOrGetcwdStillRuns) {
  for (bool no_new_privileges : {false, true}) {
    nlohmann::json config = Config({"echo", "ran"});
    config["process"]["noNewPrivileges"] = no_new_privileges;
    config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls",
         {{{"names", {"close_range", "getcwd"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
    RunResult r = Run(config);
    EXPECT_EQ(r.exit_code, 0) << "noNewPrivileges " << no_new_privileges << ": " << r.err;
    EXPECT_EQ(r.out, "ran\n");
  }
}

TEST_F(RuntimeTest, FailingPoststartAndPoststopHooksOnlyWarn) {
  nlohmann::json config = Config({"true"});
  config["hooks"] = {{"poststart", {{{"path", "/bin/false"}}}},
                     {"poststop", {{{"path", "/bin/false"}}}}};
  std::string id = NewId();
  std::string bundle = Bundle(config);
  ASSERT_EQ(Runtime({"create", "--bundle", bundle, id}).exit_code, 0);
  RunResult started = Runtime({"start", id});
  EXPECT_EQ(started.exit_code, 0) << started.err;
  EXPECT_THAT(started.err, HasSubstr("warning: poststart hook /bin/false failed"));
  for (int i = 0; i < 200 && Runtime({"state", id}).out.find("stopped") == std::string::npos; ++i)
    ::usleep(10000);
  RunResult deleted = Runtime({"delete", id});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_THAT(deleted.err, HasSubstr("warning: poststop hook /bin/false failed"));
  EXPECT_NE(Runtime({"state", id}).exit_code, 0) << "the container is gone";
}

// start and delete use the config create read, not the bundle's current one.
TEST_F(RuntimeTest, ConfigChangesAfterCreateDoNotAffectTheContainer) {
  std::string marks = dir().Join("marks");
  std::filesystem::create_directories(marks);
  auto hook = [&](const std::string& name) {
    return nlohmann::json{
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "touch " + marks + "/" + name}}}};
  };
  nlohmann::json config = Config({"true"});
  config["hooks"] = {{"poststart", hook("original-poststart")},
                     {"poststop", hook("original-poststop")}};
  std::string bundle = Bundle(config);
  std::string id = NewId();
  ASSERT_EQ(Runtime({"create", "--bundle", bundle, id}).exit_code, 0);
  config["hooks"] = {{"poststart", hook("changed-poststart")},
                     {"poststop", hook("changed-poststop")}};
  ASSERT_TRUE(WriteFileAtomically(bundle + "/config.json", config.dump()).ok());
  ASSERT_EQ(Runtime({"start", id}).exit_code, 0);
  for (int i = 0; i < 200 && Runtime({"state", id}).out.find("stopped") == std::string::npos; ++i)
    ::usleep(10000);
  ASSERT_EQ(Runtime({"delete", id}).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(marks + "/original-poststart"));
  EXPECT_TRUE(std::filesystem::exists(marks + "/original-poststop"));
  EXPECT_FALSE(std::filesystem::exists(marks + "/changed-poststart"));
  EXPECT_FALSE(std::filesystem::exists(marks + "/changed-poststop"));
}

// Legal per the spec, and crun runs it: the container shares the host's
// mount namespace and is only changed into its root.
TEST_F(RuntimeTest, SpecWithoutAMountNamespaceRuns) {
  nlohmann::json config = Config({"sh", "-c", "echo inside; ls /bin/busybox"});
  nlohmann::json namespaces = nlohmann::json::array();
  for (const nlohmann::json& ns : config["linux"]["namespaces"])
    if (ns["type"] != "mount") namespaces.push_back(ns);
  config["linux"]["namespaces"] = namespaces;
  config["mounts"] = nlohmann::json::array();
  config["linux"]["maskedPaths"] = nlohmann::json::array();
  config["linux"]["readonlyPaths"] = nlohmann::json::array();
  RunResult r = Run(config);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "inside\n/bin/busybox\n");
}

// A hostname with a uts namespace joined by path is set in that namespace.
TEST_F(RuntimeTest, HostnameIsSetInAJoinedUtsNamespace) {
  std::string holder = NewId();
  ASSERT_EQ(
      Runtime({"run", "--detach", "--bundle", Bundle(Config({"sleep", "60"})), holder}).exit_code,
      0);
  pid_t pid = nlohmann::json::parse(Runtime({"state", holder}).out)["pid"].get<pid_t>();
  nlohmann::json config = Config({"hostname"});
  for (nlohmann::json& ns : config["linux"]["namespaces"])
    if (ns["type"] == "uts") ns["path"] = absl::StrCat("/proc/", pid, "/ns/uts");
  config["hostname"] = "joined-uts";
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "joined-uts\n");
  RunResult holder_view = Runtime({"exec", holder, "hostname"});
  EXPECT_EQ(holder_view.out, "joined-uts\n") << "the holder shares the namespace";
}

}  // namespace
}  // namespace berth::testing
