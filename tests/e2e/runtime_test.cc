// berth-runtime on real kernels features, each checked from inside a container.

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/unique_fd.h"
#include "tests/e2e/runtime_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string Status(const RunResult& r) {
  return absl::StrCat("exit ", r.exit_code, "\nstdout: ", r.out, "\nstderr: ", r.err);
}

std::string StatusField(const std::string& status, const std::string& field) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, field + ":"))
      return std::string(absl::StripAsciiWhitespace(line));
  }
  return "";
}

TEST_F(RuntimeTest, RunReportsTheExitCode) {
  RunResult r = Run(Config({"sh", "-c", "echo hello; exit 3"}));
  EXPECT_EQ(r.exit_code, 3) << Status(r);
  EXPECT_EQ(r.out, "hello\n");
}

TEST_F(RuntimeTest, ProcessArgsEnvAndCwd) {
  nlohmann::json config = Config({"sh", "-c", "echo \"$GREETING\"; pwd"});
  config["process"]["env"].push_back("GREETING=hi there");
  config["process"]["cwd"] = "/tmp";
  RunResult r = Run(config);
  EXPECT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out, "hi there\n/tmp\n");
}

TEST_F(RuntimeTest, MissingProgramFailsAtCreate) {
  RunResult r = Run(Config({"no-such-program"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("exec \"no-such-program\": executable file not found in $PATH"));
}

TEST_F(RuntimeTest, CapabilitiesAndNoNewPrivileges) {
  nlohmann::json config = Config({"cat", "/proc/self/status"});
  config["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_NET_RAW"}},
                                       {"effective", {"CAP_KILL"}},
                                       {"permitted", {"CAP_KILL"}},
                                       {"inheritable", nlohmann::json::array()}};
  config["process"]["noNewPrivileges"] = true;
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  // CAP_KILL = 5, CAP_NET_RAW = 13.
  EXPECT_EQ(StatusField(r.out, "CapBnd"), "0000000000002020");
  EXPECT_EQ(StatusField(r.out, "CapEff"), "0000000000000020");
  EXPECT_EQ(StatusField(r.out, "CapPrm"), "0000000000000020");
  EXPECT_EQ(StatusField(r.out, "NoNewPrivs"), "1");

  config["process"]["noNewPrivileges"] = false;
  r = Run(config);
  EXPECT_EQ(StatusField(r.out, "NoNewPrivs"), "0");
}

TEST_F(RuntimeTest, UserAndGroups) {
  nlohmann::json config = Config({"id"});
  config["process"]["user"] = {{"uid", 1000}, {"gid", 1001}, {"additionalGids", {5, 6}}};
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out, "uid=1000 gid=1001 groups=5,6\n");
}

TEST_F(RuntimeTest, HostnameAndDomainname) {
  nlohmann::json config = Config({"sh", "-c", "hostname; cat /proc/sys/kernel/domainname"});
  config["hostname"] = "pod-a";
  config["domainname"] = "cluster.test";
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out, "pod-a\ncluster.test\n");
}

TEST_F(RuntimeTest, SeccompBlockedSyscallReturnsConfiguredErrno) {
  nlohmann::json config = Config({"sh", "-c", "mkdir /tmp/x && echo created"});
  config["mounts"].push_back({{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  config["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"architectures", {"SCMP_ARCH_X86_64"}},
      {"syscalls",
       {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}}}}};
  RunResult r = Run(config);
  EXPECT_NE(r.exit_code, 0) << Status(r);
  EXPECT_THAT(r.err, HasSubstr("Function not implemented"));  // ENOSYS = 38

  config["linux"]["seccomp"]["syscalls"] = nlohmann::json::array();
  r = Run(config);
  EXPECT_EQ(r.out, "created\n") << Status(r);
}

TEST_F(RuntimeTest, CgroupLimitsAreVisibleInside) {
  nlohmann::json config = Config({"sh", "-c",
                                  "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                                  "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares"});
  config["linux"]["resources"]["memory"] = {{"limit", 64 * 1024 * 1024}};
  config["linux"]["resources"]["pids"] = {{"limit", 42}};
  config["linux"]["resources"]["cpu"] = {{"shares", 512}};
  RunResult r = Run(config);
  if (r.err.find("No such file") != std::string::npos)
    GTEST_SKIP() << "cgroup v1 layout not available: " << r.err;
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out, "67108864\n42\n512\n");
}

TEST_F(RuntimeTest, MaskedAndReadonlyPaths) {
  nlohmann::json config = Config({"sh", "-c",
                                  "wc -c < /proc/cmdline; ls /proc/driver | wc -l; "
                                  "echo 1 > /proc/sys/vm/drop_caches && echo wrote"});
  config["linux"]["maskedPaths"].push_back("/proc/cmdline");  // a file: becomes /dev/null
  config["linux"]["maskedPaths"].push_back("/proc/driver");   // a directory: becomes an empty tmpfs
  RunResult r = Run(config);
  EXPECT_EQ(r.out, "0\n0\n") << Status(r);
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
}

TEST_F(RuntimeTest, SysctlsAreWrittenBeforeProcSysTurnsReadonly) {
  nlohmann::json config =
      Config({"sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax"});
  config["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.msgmax", "12345"}};
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out, "1\n12345\n");  // in the container's own net and ipc namespaces
}

TEST_F(RuntimeTest, DevicesAndTheDeviceCgroup) {
  // Listed devices appear with their numbers and modes; anything else stays
  // out of reach even for a process that may mknod: the device cgroup
  // (deny all, as `spec` writes it) refuses it.
  nlohmann::json config = Config({"sh", "-c",
                                  "stat -c '%F %t:%T %a' /dev/fuse; "
                                  "mknod /dev/sdz b 8 0 && echo created"});
  config["linux"]["devices"] = {
      {{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 0640}}};
  for (const char* set : {"bounding", "effective", "permitted"})
    config["process"]["capabilities"][set].push_back("CAP_MKNOD");
  RunResult r = Run(config);
  EXPECT_EQ(r.out, "character special file a:e5 640\n") << Status(r);
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));
}

TEST_F(RuntimeTest, OomScoreAdjAndUmask) {
  nlohmann::json config = Config({"sh", "-c", "cat /proc/self/oom_score_adj; umask"});
  config["process"]["oomScoreAdj"] = 500;
  config["process"]["user"]["umask"] = 63;  // 077
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out, "500\n0077\n");
}

TEST_F(RuntimeTest, OomScoreAdjBelowOursIsClampedWithoutCapSysResource) {
  nlohmann::json config = Config({"cat", "/proc/self/oom_score_adj"});
  config["process"]["oomScoreAdj"] = -999;
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  if (r.out == "-999\n") GTEST_SKIP() << "this host lets root lower oom_score_adj";
  std::string ours = ReadFileToString("/proc/self/oom_score_adj").value_or("");
  EXPECT_EQ(r.out, ours) << "clamped to the runtime's own value";
  EXPECT_THAT(r.err, HasSubstr("needs CAP_SYS_RESOURCE; keeping"));
}

TEST_F(RuntimeTest, TimeNamespace) {
  if (::access("/proc/self/ns/time", F_OK) != 0) GTEST_SKIP() << "kernel without time namespaces";
  nlohmann::json config = Config({"readlink", "/proc/self/ns/time"});
  config["linux"]["namespaces"].push_back({{"type", "time"}});
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  char host[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/time", host, sizeof(host) - 1), 0);
  EXPECT_NE(r.out, absl::StrCat(host, "\n"));
}

TEST_F(RuntimeTest, RecursiveReadonlyBind) {
  std::string shared = dir().Join("rro");
  std::filesystem::create_directories(shared + "/sub");
  nlohmann::json config = Config({"sh", "-c", "touch /data/sub/tmpfs/f && echo writable"});
  config["mounts"].push_back({{"destination", "/data"},
                              {"type", "bind"},
                              {"source", shared},
                              {"options", {"rbind", "rw"}}});
  // A submount under the bind: plain "ro" would leave it writable, "rro" must not.
  config["mounts"].push_back(
      {{"destination", "/data/sub/tmpfs"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  config["mounts"].push_back({{"destination", "/data"},
                              {"type", "bind"},
                              {"source", shared},
                              {"options", {"rbind", "rro"}}});
  RunResult r = Run(config);
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("writable"))) << Status(r);
}

TEST_F(RuntimeTest, ErrorsGoToTheJsonLog) {
  std::string log = dir().Join("runtime.log");
  RunResult r = Runtime({"--log", log, "--log-format", "json", "state", "no-such-container"});
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json line = nlohmann::json::parse(ReadFileToString(log).value_or("{}"));
  EXPECT_EQ(line["level"], "error");
  EXPECT_EQ(line["msg"], "container no-such-container does not exist");
  EXPECT_TRUE(line.contains("time"));
}

TEST_F(RuntimeTest, ForegroundRunForwardsSignalsToTheContainer) {
  // The container traps TERM and says so: only a forwarded signal gets there.
  nlohmann::json config = Config(
      {"sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done"});
  std::string out = dir().Join("forward.out");
  absl::StatusOr<ChildProcess> run = ChildProcess::Spawn(
      {BERTH_RUNTIME_PATH, "--root", root(), "run", "--bundle", Bundle(config), NewId()},
      {.stdout_path = out});
  ASSERT_TRUE(run.ok());
  for (int i = 0; i < 500 && ReadFileToString(out).value_or("").find("ready") == std::string::npos;
       ++i)
    ::usleep(10000);
  ASSERT_TRUE(run->Signal(SIGTERM).ok());
  absl::StatusOr<ExitStatus> exit = run->WaitFor(absl::Seconds(20));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->ShellCode(), 42);
  EXPECT_EQ(*ReadFileToString(out), "ready\ngot TERM\n");
}

TEST_F(RuntimeTest, ContainerDoesNotInheritIgnoredSignalsOrTheMask) {
  // A caller that ignores SIGPIPE (as daemons do) must not pass that on.
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  RunResult r = Run(Config({"sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"}));
  ::sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_THAT(r.out, HasSubstr("SigBlk:\t0000000000000000"));
  uint64_t ignored = 0;
  ASSERT_TRUE(absl::SimpleHexAtoi(StatusField(r.out, "SigIgn"), &ignored)) << r.out;
  EXPECT_EQ(ignored & (uint64_t{1} << (SIGPIPE - 1)), 0u) << "SIGPIPE still ignored: " << r.out;
}

TEST_F(RuntimeTest, ReadonlyRoot) {
  RunResult r = Run(Config({"touch", "/newfile"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
}

TEST_F(RuntimeTest, Rlimits) {
  nlohmann::json config = Config({"sh", "-c", "ulimit -n; ulimit -Hn"});
  config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 100}, {"hard", 200}}};
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out, "100\n200\n");
}

TEST_F(RuntimeTest, RaisingHardRlimitWithoutCapSysResourceFailsClearly) {
  rlimit current;
  ::getrlimit(RLIMIT_NOFILE, &current);
  nlohmann::json config = Config({"true"});
  config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"},
                                   {"soft", 1024},
                                   {"hard", static_cast<uint64_t>(current.rlim_max) * 4}}};
  RunResult r = Run(config);
  if (r.exit_code == 0)
    GTEST_SKIP() << "this host lets root raise hard limits (has CAP_SYS_RESOURCE)";
  EXPECT_THAT(r.err, HasSubstr("needs CAP_SYS_RESOURCE"));
}

TEST_F(RuntimeTest, BindMountWithOptions) {
  std::string shared = dir().Join("shared");
  std::filesystem::create_directories(shared);
  ASSERT_TRUE(WriteFileAtomically(shared + "/data", "from host\n").ok());
  nlohmann::json config = Config({"sh", "-c", "cat /data/data; touch /data/x && echo writable"});
  config["mounts"].push_back({{"destination", "/data"},
                              {"type", "bind"},
                              {"source", shared},
                              {"options", {"rbind", "ro"}}});
  RunResult r = Run(config);
  EXPECT_EQ(r.out, "from host\n") << Status(r);
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
}

// Whether a mount sits exactly at `path` in this (the host's) namespace.
bool IsMountPoint(const std::string& path) {
  std::string mountinfo = ReadFileToString("/proc/self/mountinfo").value_or("");
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && fields[4] == path) return true;
  }
  return false;
}

// kubelet's Bidirectional volumes: a shared host mount bound with rshared
// under rootfsPropagation rshared. A mount the container makes in it must
// reach the host, and the container's teardown of its view of the host's
// tree must not unmount anything on the host.
TEST_F(RuntimeTest, SharedVolumesPropagateBothWaysAndNeverUnmountTheHosts) {
  std::string volume = dir().Join("volume");
  std::filesystem::create_directories(volume + "/host-child");
  std::filesystem::create_directories(volume + "/from-container");
  ASSERT_EQ(::mount(volume.c_str(), volume.c_str(), nullptr, MS_BIND, nullptr), 0);
  ASSERT_EQ(::mount(nullptr, volume.c_str(), nullptr, MS_SHARED, nullptr), 0);
  std::string host_child = volume + "/host-child";
  ASSERT_EQ(::mount("tmpfs", host_child.c_str(), "tmpfs", 0, "size=64k"), 0);
  std::string from_container = volume + "/from-container";

  nlohmann::json config = Config({"mount", "-t", "tmpfs", "tmpfs", "/vol/from-container"});
  config["process"]["capabilities"] = {{"bounding", {"CAP_SYS_ADMIN"}},
                                       {"effective", {"CAP_SYS_ADMIN"}},
                                       {"permitted", {"CAP_SYS_ADMIN"}}};
  config["linux"]["rootfsPropagation"] = "rshared";
  config["linux"].erase("seccomp");
  config["mounts"].push_back({{"destination", "/vol"},
                              {"type", "bind"},
                              {"source", volume},
                              {"options", {"rbind", "rshared"}}});
  RunResult r = Run(config);
  EXPECT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_TRUE(IsMountPoint(from_container)) << "the container's mount did not reach the host";
  EXPECT_TRUE(IsMountPoint(host_child)) << "the host lost a mount when the container started";

  for (const std::string& path : {from_container, host_child, volume})
    ::umount2(path.c_str(), MNT_DETACH);
}

TEST_F(RuntimeTest, JoinedNetworkNamespaceIsShared) {
  // A long-lived container with its own network namespace, like a pod's pause.
  nlohmann::json holder = Config({"sleep", "60"});
  std::string holder_id = NewId();
  RunResult created = Runtime({"run", "--detach", "--bundle", Bundle(holder), holder_id});
  ASSERT_EQ(created.exit_code, 0) << Status(created);
  RunResult state = Runtime({"state", holder_id});
  pid_t pid = nlohmann::json::parse(state.out)["pid"];
  char host_view[64] = {};
  ASSERT_GT(
      ::readlink(absl::StrCat("/proc/", pid, "/ns/net").c_str(), host_view, sizeof(host_view) - 1),
      0);

  nlohmann::json joiner = Config({"readlink", "/proc/self/ns/net"});
  for (auto& ns : joiner["linux"]["namespaces"]) {
    if (ns["type"] == "network") ns["path"] = absl::StrCat("/proc/", pid, "/ns/net");
  }
  RunResult r = Run(joiner);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out, absl::StrCat(host_view, "\n"));
}

TEST_F(RuntimeTest, UserNamespaceMapsIds) {
  nlohmann::json config = Config({"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"});
  config["linux"]["namespaces"].push_back({{"type", "user"}});
  config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_THAT(lines[0], ::testing::MatchesRegex(" *0 +100000 +65536"));
  EXPECT_THAT(lines[1], ::testing::MatchesRegex(" *0 +100000 +65536"));
  EXPECT_EQ(lines[2], "0");
}

// A bind with uidMappings/gidMappings in runc's format: files seen through
// the ranges (host 0 is the container's 0; an id outside them is the
// overflow id), and what the container's root writes is stored as host 0.
// The same directory bound without ranges shows what the ranges change.
TEST_F(RuntimeTest, IdmappedBindMountsShowHostIdsThroughTheirRanges) {
  std::string volume = dir().Join("idmapped");
  std::filesystem::create_directories(volume);
  ASSERT_EQ(::chmod(volume.c_str(), 0755), 0);
  // The plain bind is opened by the init as the namespace's root.
  ASSERT_EQ(::chmod(dir().path().c_str(), 0711), 0);
  ASSERT_TRUE(WriteFileAtomically(volume + "/root-owned", "x", 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(volume + "/foreign", "x", 0644).ok());
  ASSERT_EQ(::chown((volume + "/foreign").c_str(), 300000, 300000), 0);
  nlohmann::json config = Config(
      {"sh", "-c",
       "stat -c '%u:%g %n' /mnt/idmapped/root-owned /mnt/idmapped/foreign /mnt/plain/root-owned; "
       "echo w > /mnt/idmapped/written && echo wrote; echo w > /mnt/plain/refused 2>/dev/null || "
       "echo refused"});
  nlohmann::json range = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  config["linux"]["namespaces"].push_back({{"type", "user"}});
  config["linux"]["uidMappings"] = range;
  config["linux"]["gidMappings"] = range;
  config["mounts"].push_back({{"destination", "/mnt/idmapped"},
                              {"type", "bind"},
                              {"source", volume},
                              {"options", {"rbind", "rw"}},
                              {"uidMappings", range},
                              {"gidMappings", range}});
  config["mounts"].push_back({{"destination", "/mnt/plain"},
                              {"type", "bind"},
                              {"source", volume},
                              {"options", {"rbind", "rw"}}});
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out,
            "0:0 /mnt/idmapped/root-owned\n65534:65534 /mnt/idmapped/foreign\n"
            "65534:65534 /mnt/plain/root-owned\nwrote\nrefused\n");
  struct stat st;
  ASSERT_EQ(::stat((volume + "/written").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  EXPECT_FALSE(std::filesystem::exists(volume + "/refused"));
}

TEST_F(RuntimeTest, LifecycleAndStates) {
  std::string bundle = Bundle(Config({"sleep", "60"}));
  std::string id = NewId();
  ASSERT_EQ(Runtime({"create", "--bundle", bundle, id}).exit_code, 0);
  auto status = [&] {
    return nlohmann::json::parse(Runtime({"state", id}).out)["status"].get<std::string>();
  };
  EXPECT_EQ(status(), "created");
  EXPECT_EQ(Runtime({"create", "--bundle", bundle, id}).exit_code, 1) << "ids are unique";
  ASSERT_EQ(Runtime({"start", id}).exit_code, 0);
  EXPECT_EQ(status(), "running");
  RunResult refused = Runtime({"delete", id});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("not stopped"));
  ASSERT_EQ(Runtime({"pause", id}).exit_code, 0);
  EXPECT_EQ(status(), "paused");
  ASSERT_EQ(Runtime({"resume", id}).exit_code, 0);
  EXPECT_EQ(status(), "running");
  ASSERT_EQ(Runtime({"kill", id, "KILL"}).exit_code, 0);
  for (int i = 0; i < 200 && status() != "stopped"; ++i) ::usleep(10000);
  EXPECT_EQ(status(), "stopped");
  nlohmann::json list = nlohmann::json::parse(Runtime({"list", "--format", "json"}).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);
  ASSERT_EQ(Runtime({"delete", id}).exit_code, 0);
  RunResult gone = Runtime({"state", id});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.err, HasSubstr("does not exist"));
  EXPECT_EQ(Runtime({"delete", "--force", id}).exit_code, 0)
      << "force-deleting what is gone succeeds";
  EXPECT_FALSE(std::filesystem::exists(absl::StrCat("/sys/fs/cgroup/pids/berth/", id)))
      << "cgroup removed";
}

TEST_F(RuntimeTest, HooksRunInOrderWithTheStateOnStdin) {
  std::string record_dir = dir().Join("hooks");
  std::filesystem::create_directories(record_dir);
  std::string record = record_dir + "/record";
  std::string host_hook = dir().Join("hook.sh");
  // Host-side hooks: the script records its name, its mount namespace and the state.
  ASSERT_TRUE(WriteFileAtomically(
                  host_hook,
                  absl::StrCat("#!/bin/sh\necho \"$1 $(readlink /proc/self/ns/mnt) $(cat)\" >> ",
                               record, "\n"),
                  0755)
                  .ok());
  nlohmann::json config = Config({"true"});
  config["mounts"].push_back({{"destination", "/hooks"},
                              {"type", "bind"},
                              {"source", record_dir},
                              {"options", {"rbind", "rw"}}});
  auto host = [&](const char* name) {
    return nlohmann::json{{{"path", host_hook}, {"args", {"hook.sh", name}}}};
  };
  config["hooks"] = {
      {"createRuntime", host("createRuntime")},
      {"createContainer", host("createContainer")},
      // startContainer runs inside the container: its path is the container's.
      {"startContainer",
       {{{"path", "/bin/sh"},
         {"args",
          {"sh", "-c",
           "echo \"startContainer $(readlink /proc/self/ns/mnt) $(cat)\" >> /hooks/record"}}}}},
      {"poststart", host("poststart")},
      {"poststop", host("poststop")}};
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  std::vector<std::string> lines =
      absl::StrSplit(*ReadFileToString(record), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u) << *ReadFileToString(record);
  const char* order[] = {"createRuntime", "createContainer", "startContainer", "poststart",
                         "poststop"};
  char host_mnt[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/mnt", host_mnt, sizeof(host_mnt) - 1), 0);
  for (size_t i = 0; i < 5; ++i) {
    std::vector<std::string> fields = absl::StrSplit(lines[i], absl::MaxSplits(' ', 2));
    ASSERT_EQ(fields.size(), 3u) << lines[i];
    EXPECT_EQ(fields[0], order[i]);
    bool in_container = fields[0] == "createContainer" || fields[0] == "startContainer";
    EXPECT_EQ(fields[1] == host_mnt, !in_container) << lines[i];
    nlohmann::json state = nlohmann::json::parse(fields[2]);
    EXPECT_EQ(state["ociVersion"], "1.2.0");
    EXPECT_TRUE(state["id"].get<std::string>().rfind("e2e-", 0) == 0);
  }
  // Create hooks see the environment made and the program not yet run.
  for (int created : {0, 1, 2}) EXPECT_THAT(lines[created], HasSubstr("\"status\":\"created\""));
  EXPECT_THAT(lines[3], HasSubstr("\"status\":\"running\""));
  EXPECT_THAT(lines[4], HasSubstr("\"status\":\"stopped\""));
}

TEST_F(RuntimeTest, UpdateChangesLimitsOfARunningContainer) {
  nlohmann::json config = Config({"sleep", "60"});
  std::string id = NewId();
  ASSERT_EQ(Runtime({"run", "--detach", "--bundle", Bundle(config), id}).exit_code, 0);
  RunResult updated = Runtime({"update", "--memory", "48m", "--pids-limit", "21", id});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  RunResult inside = Runtime({"exec", id, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                              "/sys/fs/cgroup/pids/pids.max"});
  if (inside.err.find("No such file") != std::string::npos)
    GTEST_SKIP() << "cgroup v1 layout not available";
  EXPECT_EQ(inside.out, "50331648\n21\n") << inside.err;
  RunResult bad = Runtime({"update", "--memory", "lots", id});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("--memory: unknown unit"));
}

TEST_F(RuntimeTest, TerminalGoesToTheConsoleSocket) {
  std::string socket_path = dir().Join("console.sock");
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{.sun_family = AF_UNIX};
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);

  nlohmann::json config = Config({"sh", "-c", "tty; echo hello"});
  config["process"]["terminal"] = true;
  config["process"]["consoleSize"] = {{"height", 30}, {"width", 100}};
  std::string id = NewId();
  RunResult r =
      Runtime({"run", "--detach", "--console-socket", socket_path, "--bundle", Bundle(config), id});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  UniqueFd connection(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(connection);
  char name[256] = {};
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{.iov_base = name, .iov_len = sizeof(name) - 1};
  msghdr message{
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
  ASSERT_GT(::recvmsg(connection.get(), &message, 0), 0);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
  ASSERT_NE(cmsg, nullptr);
  ASSERT_EQ(cmsg->cmsg_type, SCM_RIGHTS);
  int master_fd;
  std::memcpy(&master_fd, CMSG_DATA(cmsg), sizeof(int));
  UniqueFd master(master_fd);
  winsize size{};
  ASSERT_EQ(::ioctl(master.get(), TIOCGWINSZ, &size), 0);
  EXPECT_EQ(size.ws_row, 30);
  EXPECT_EQ(size.ws_col, 100);
  std::string output;
  char buffer[256];
  for (ssize_t n; (n = ::read(master.get(), buffer, sizeof(buffer))) > 0;) output.append(buffer, n);
  EXPECT_STREQ(name, "/dev/ptmx");               // the payload runc sends
  EXPECT_EQ(output, "/dev/pts/0\r\nhello\r\n");  // the terminal turns \n into \r\n
}

// --- security ---

TEST_F(RuntimeTest, NoRuntimeFdLeaksIntoTheContainer) {
  // An fd berth-runtime inherited without close-on-exec (a careless caller)
  // must not reach the container unless preserved.
  UniqueFd leaked(::open("/", O_RDONLY | O_DIRECTORY));  // no O_CLOEXEC on purpose
  ASSERT_TRUE(leaked);
  RunResult r = Run(Config({"ls", "/proc/self/fd"}));
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  std::vector<std::string> fds = absl::StrSplit(r.out, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  // 0-2 are stdio, 3 is ls's own handle on /proc/self/fd.
  EXPECT_THAT(fds, UnorderedElementsAre("0", "1", "2", "3")) << "leaked fd " << leaked.get();
}

TEST_F(RuntimeTest, PreservedFdsArePassed) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  // Put the pipe's write end at fd 3 for berth-runtime.
  SpawnOptions options;
  RunResult r;
  {
    int saved = ::dup(3);
    ASSERT_GE(::dup2(write_end.get(), 3), 0);
    ::fcntl(3, F_SETFD, 0);
    r = Run(Config({"sh", "-c", "echo through-fd-3 >&3"}), {"--preserve-fds", "1"});
    if (saved >= 0) {
      ::dup2(saved, 3);
      ::close(saved);
    } else {
      ::close(3);
    }
  }
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  write_end.Reset();
  char buffer[64] = {};
  ASSERT_GT(::read(read_end.get(), buffer, sizeof(buffer) - 1), 0);
  EXPECT_STREQ(buffer, "through-fd-3\n");
}

TEST_F(RuntimeTest, CwdThroughALeakedFdIsRefused) {
  // The classic escape: a cwd of /proc/self/fd/N where N is a host directory
  // the runtime still holds open.
  UniqueFd host_root(::open("/", O_RDONLY | O_DIRECTORY));  // inherited by berth-runtime
  ASSERT_TRUE(host_root);
  nlohmann::json config = Config({"ls", "."});
  config["process"]["cwd"] = absl::StrCat("/proc/self/fd/", host_root.get());
  RunResult r = Run(config);
  EXPECT_NE(r.exit_code, 0) << "the container got a cwd outside its root:\n" << Status(r);
  EXPECT_THAT(r.err,
              ::testing::AnyOf(HasSubstr("outside the container root"), HasSubstr("ENOENT")));
}

TEST_F(RuntimeTest, MountDestinationSymlinkCannotEscapeTheRootfs) {
  // An image whose /escape is a symlink to a host directory: the tmpfs must
  // land inside the rootfs, where the container sees it, not on the host.
  std::string rootfs = dir().Join("evil-rootfs");
  std::filesystem::copy(
      Rootfs(), rootfs,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  std::string host_dir = dir().Join("host-target");
  std::filesystem::create_directories(host_dir);
  std::filesystem::create_symlink(host_dir, rootfs + "/escape");
  std::filesystem::create_symlink("../../../../../../" + host_dir, rootfs + "/escape-relative");

  nlohmann::json config = Config(
      {"sh", "-c", "grep -c ' tmpfs' /proc/mounts; echo inside > /escape/f && cat /escape/f"});
  config["root"]["path"] = rootfs;
  config["mounts"].push_back({{"destination", "/escape"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  config["mounts"].push_back(
      {{"destination", "/escape-relative"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_THAT(r.out, HasSubstr("inside\n"));
  // The targets were created inside the rootfs, and the host directory is untouched.
  EXPECT_TRUE(std::filesystem::is_directory(rootfs + host_dir));
  EXPECT_TRUE(std::filesystem::is_empty(host_dir));
}

TEST_F(RuntimeTest, ProcSymlinkInImageCannotRedirectProcMount) {
  std::string rootfs = dir().Join("evil-proc-rootfs");
  std::filesystem::copy(
      Rootfs(), rootfs,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  std::string host_dir = dir().Join("host-proc-target");
  std::filesystem::create_directories(host_dir);
  std::filesystem::remove(rootfs + "/proc");
  std::filesystem::create_symlink(host_dir, rootfs + "/proc");
  nlohmann::json config = Config({"cat", "/proc/self/comm"});
  config["root"]["path"] = rootfs;
  RunResult r = Run(config);
  ASSERT_EQ(r.exit_code, 0) << Status(r);
  EXPECT_EQ(r.out, "cat\n");  // proc is mounted where the container looks for it
  EXPECT_TRUE(std::filesystem::is_empty(host_dir));
}

TEST_F(RuntimeTest, InvalidConfigFailsNamingTheField) {
  nlohmann::json config = Config({"true"});
  config["linux"]["namespaces"].push_back({{"type", "netw"}});
  RunResult r = Run(config);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("linux.namespaces[6].type: unknown namespace \"netw\""));
  EXPECT_TRUE(!std::filesystem::exists(root()) || std::filesystem::is_empty(root()))
      << "a failed create leaves nothing behind";
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {
namespace {

class ExecTest : public RuntimeTest {
 protected:
  // Starts a long-lived container and returns its id.
  std::string StartSleeper(nlohmann::json config) {
    std::string id = NewId();
    RunResult r = Runtime({"run", "--detach", "--bundle", Bundle(config), id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return id;
  }
  pid_t InitPid(const std::string& id) {
    return nlohmann::json::parse(Runtime({"state", id}).out)["pid"].get<pid_t>();
  }
};

TEST_F(ExecTest, RunsInTheContainersNamespacesAndCgroup) {
  std::string id = StartSleeper(Config({"sleep", "60"}));
  pid_t init = InitPid(id);
  RunResult r = Runtime({"exec", id, "sh", "-c",
                         "for n in mnt net pid ipc uts; do readlink /proc/self/ns/$n; done; "
                         "cat /proc/self/cgroup | grep memory; hostname"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string expected;
  for (const char* ns : {"mnt", "net", "pid", "ipc", "uts"}) {
    char link[64] = {};
    ASSERT_GT(::readlink(absl::StrCat("/proc/", init, "/ns/", ns).c_str(), link, sizeof(link) - 1),
              0);
    absl::StrAppend(&expected, link, "\n");
  }
  // The cgroup namespace is rooted at the container's cgroup.
  EXPECT_THAT(r.out, ::testing::ContainsRegex("[0-9]+:memory:/\n"));
  EXPECT_THAT(r.out, ::testing::EndsWith("berth\n"));
  r.out = r.out.substr(0, expected.size());
  EXPECT_EQ(r.out, expected);
}

TEST_F(ExecTest, PropagatesExitCodeAndAppliesFlags) {
  std::string id = StartSleeper(Config({"sleep", "60"}));
  RunResult r = Runtime({"exec", "--user", "1000:1001", "--env", "GREETING=hey", "--cwd", "/dev",
                         id, "sh", "-c", "id -u; id -g; echo $GREETING; pwd; exit 9"});
  EXPECT_EQ(r.exit_code, 9) << r.err;
  EXPECT_EQ(r.out, "1000\n1001\nhey\n/dev\n");
}

TEST_F(ExecTest, ExecProcessFileAndErrors) {
  std::string id = StartSleeper(Config({"sleep", "60"}));
  std::string process = dir().Join("process.json");
  ASSERT_TRUE(WriteFileAtomically(
                  process, R"({"args":["echo","from","file"],"cwd":"/","env":["PATH=/bin"]})")
                  .ok());
  RunResult r = Runtime({"exec", "--process", process, id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from file\n");

  RunResult missing = Runtime({"exec", id, "no-such-tool"});
  EXPECT_EQ(missing.exit_code, 255) << "exec failures are 255, as with runc";
  EXPECT_THAT(missing.err, HasSubstr("exec failed: "));
  EXPECT_THAT(missing.err, HasSubstr("exec \"no-such-tool\": executable file not found in $PATH"));

  ASSERT_EQ(Runtime({"kill", id, "KILL"}).exit_code, 0);
  for (int i = 0; i < 200 && Runtime({"state", id}).out.find("stopped") == std::string::npos; ++i)
    ::usleep(10000);
  RunResult stopped = Runtime({"exec", id, "true"});
  EXPECT_NE(stopped.exit_code, 0);
  EXPECT_THAT(stopped.err, HasSubstr("it is stopped"));
  RunResult kill_stopped = Runtime({"kill", id, "TERM"});
  EXPECT_THAT(kill_stopped.err, HasSubstr("container not running"))
      << "containerd treats this phrase as already exited";
}

TEST_F(ExecTest, SeccompOfTheContainerAppliesToExec) {
  nlohmann::json config = Config({"sleep", "60"});
  config["mounts"].push_back({{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  config["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"syscalls",
       {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}}}}};
  std::string id = StartSleeper(config);
  RunResult r = Runtime({"exec", id, "mkdir", "/tmp/x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Function not implemented"));
}

TEST_F(ExecTest, ContainerCannotReachTheRuntimeBinaryThroughProcExe) {
  // A process in the container watches every pid's /proc/<pid>/exe while we
  // exec into it repeatedly: the exec helper runs berth-runtime's code inside
  // the container's pid namespace for a moment, and must never expose it.
  std::string record_dir = dir().Join("record");
  std::filesystem::create_directories(record_dir);
  nlohmann::json config = Config({"sh", "-c",
                                  "while :; do ls -l /proc/[0-9]*/exe 2>/dev/null | "
                                  "grep berth-runtime >> /record/seen; done"});
  config["mounts"].push_back({{"destination", "/record"},
                              {"type", "bind"},
                              {"source", record_dir},
                              {"options", {"rbind", "rw"}}});
  std::string id = StartSleeper(config);
  for (int i = 0; i < 60; ++i) {
    RunResult r = Runtime({"exec", id, "true"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string seen = ReadFileToString(record_dir + "/seen").value_or("");
  EXPECT_EQ(seen, "") << "the container saw the runtime binary";
}

}  // namespace
}  // namespace berth::testing
