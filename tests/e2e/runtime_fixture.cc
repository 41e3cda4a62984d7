#include "tests/e2e/runtime_fixture.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "runtime/base/atomic_file.h"

namespace berth::testing {
namespace {

constexpr const char* kApplets[] = {"sh",    "cat",  "echo",  "ls",    "hostname", "id",
                                    "sleep", "true", "grep",  "mkdir", "touch",    "readlink",
                                    "wc",    "stat", "mount", "ps",    "head",     "tr",
                                    "env",   "pwd",  "mknod", "tail",  "printf"};

}  // namespace

std::string RuntimeTest::Rootfs() {
  // Built once per test process, shared read-only by its containers, and
  // removed with `base` when the process exits.
  static TempDir base;
  static const std::string rootfs = [] {
    // Reachable by the unprivileged host uids of user-namespaced containers.
    ::chmod(base.path().c_str(), 0755);
    std::string rootfs = base.Join("rootfs");
    std::filesystem::create_directories(rootfs + "/bin");
    std::filesystem::copy_file("/bin/busybox", rootfs + "/bin/busybox");
    for (const char* applet : kApplets)
      std::filesystem::create_symlink("busybox", rootfs + "/bin/" + applet);
    // mnt/*: mount points a user-namespaced container could not create.
    for (const char* dir : {"proc", "sys", "dev", "tmp", "etc", "mnt/idmapped", "mnt/plain"})
      std::filesystem::create_directories(rootfs + "/" + dir);
    return rootfs;
  }();
  return rootfs;
}

void RuntimeTest::SetUp() {
  // Container inits outlive the berth-runtime that made them; as a subreaper
  // this test inherits and reaps them instead of leaving zombies to a PID 1
  // that may not reap.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, mounts and cgroups";
  if (::access("/bin/busybox", X_OK) != 0)
    GTEST_SKIP() << "needs busybox-static (hack/deps installs it)";
  ::chmod(dir_.path().c_str(), 0755);
  state_root_ = dir_.Join("state");
  // The same tests against another build, or another runc-compatible runtime.
  if (const char* other = std::getenv("BERTH_E2E_RUNTIME")) runtime_binary_ = other;
}

void RuntimeTest::TearDown() {
  // Whatever a failed test left running goes, with its cgroup.
  for (const std::string& id : ids_) Runtime({"delete", "--force", id});
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

std::string RuntimeTest::NewId() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string id = absl::StrCat("e2e-", info->name(), "-", ::getpid(), "-", counter_++);
  ids_.push_back(id);
  return id;
}

nlohmann::json RuntimeTest::Config(const std::vector<std::string>& args) {
  std::string bundle = dir_.Join(absl::StrCat("spec-", counter_));
  std::filesystem::create_directories(bundle);
  ChildProcess::Spawn({BERTH_RUNTIME_PATH, "spec", "--bundle", bundle})->Wait().IgnoreError();
  nlohmann::json config = nlohmann::json::parse(*ReadFileToString(bundle + "/config.json"));
  config["root"]["path"] = Rootfs();
  config["process"]["args"] = args;
  return config;
}

std::string RuntimeTest::Bundle(const nlohmann::json& config) {
  std::string bundle = dir_.Join(absl::StrCat("bundle-", counter_, "-", ids_.size()));
  std::filesystem::create_directories(bundle);
  WriteFileAtomically(bundle + "/config.json", config.dump()).IgnoreError();
  return bundle;
}

RunResult RuntimeTest::Runtime(const std::vector<std::string>& args, const SpawnOptions& extra) {
  std::vector<std::string> argv = {runtime_binary_, "--root", state_root_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out = dir_.Join(absl::StrCat("out-", counter_)),
              err = dir_.Join(absl::StrCat("err-", counter_));
  ++counter_;
  SpawnOptions options = extra;
  options.stdout_path = out;
  options.stderr_path = err;
  RunResult result;
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(argv, options);
  if (!child.ok()) return result;
  absl::StatusOr<ExitStatus> exit = child->WaitFor(absl::Seconds(60));
  result.exit_code = exit.ok() ? exit->ShellCode() : -1;
  result.out = ReadFileToString(out).value_or("");
  result.err = ReadFileToString(err).value_or("");
  return result;
}

std::string RuntimeTest::ExeAttackRootfs() {
  std::string rootfs = dir_.Join(absl::StrCat("attack-rootfs-", counter_++));
  for (const char* sub : {"bin", "lib64", "proc", "sys", "dev", "tmp", "etc", "record"})
    std::filesystem::create_directories(rootfs + "/" + sub);
  std::filesystem::copy_file(EXE_ATTACK_PATH, rootfs + "/attack");
  std::filesystem::copy_file(EXE_ATTACK_PATH, rootfs + "/lib64/ld-linux-x86-64.so.2");
  std::filesystem::copy_file("/bin/busybox", rootfs + "/bin/busybox");
  for (const char* applet : {"sh", "sleep", "cat"})
    std::filesystem::create_symlink("busybox", rootfs + "/bin/" + applet);
  return rootfs;
}

std::string RuntimeTest::CopyOf(const std::string& binary) {
  std::string copy = dir_.Join(absl::StrCat("bin-", counter_++));
  std::filesystem::create_directories(copy);
  copy += "/" + std::filesystem::path(binary).filename().string();
  std::filesystem::copy_file(binary, copy);
  return copy;
}

RunResult RuntimeTest::Run(const nlohmann::json& config, const std::vector<std::string>& flags,
                           const SpawnOptions& extra) {
  std::vector<std::string> args = {"run", "--bundle", Bundle(config)};
  args.insert(args.end(), flags.begin(), flags.end());
  args.push_back(NewId());
  return Runtime(args, extra);
}

}  // namespace berth::testing
