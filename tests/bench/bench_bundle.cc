#include "tests/bench/bench_bundle.h"

#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nlohmann/json.hpp"

namespace berth::bench {
namespace {

nlohmann::json BundleConfig(const std::string& rootfs, const std::vector<std::string>& args) {
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  return {{"ociVersion", "1.0.2"},
          {"process",
           {{"terminal", false},
            {"user", {{"uid", 0}, {"gid", 0}}},
            {"args", args},
            {"env", {"PATH=/bin"}},
            {"cwd", "/"},
            {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
            {"noNewPrivileges", true}}},
          {"root", {{"path", rootfs}, {"readonly", true}}},
          {"hostname", "bench"},
          {"mounts",
           {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
            {{"destination", "/dev"},
             {"type", "tmpfs"},
             {"source", "tmpfs"},
             {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
            {{"destination", "/dev/pts"},
             {"type", "devpts"},
             {"source", "devpts"},
             {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
            {{"destination", "/sys"},
             {"type", "sysfs"},
             {"source", "sysfs"},
             {"options", {"nosuid", "noexec", "nodev", "ro"}}}}},
          {"linux",
           {{"namespaces",
             {{{"type", "pid"}},
              {{"type", "network"}},
              {{"type", "ipc"}},
              {{"type", "uts"}},
              {{"type", "mount"}}}},
            {"maskedPaths", {"/proc/kcore", "/proc/keys", "/sys/firmware"}},
            {"readonlyPaths", {"/proc/sys", "/proc/sysrq-trigger"}}}}};
}

}  // namespace

std::string MakeBundle(const testing::TempDir& dir, const std::string& name,
                       const std::string& rootfs, const std::vector<std::string>& args) {
  std::string bundle = dir.Join(name);
  std::filesystem::create_directories(bundle);
  std::ofstream(bundle + "/config.json") << BundleConfig(rootfs, args).dump();
  return bundle;
}

std::string MakeBusyboxRootfs(const testing::TempDir& dir) {
  std::string rootfs = dir.Join("rootfs");
  std::filesystem::create_directories(rootfs + "/bin");
  std::filesystem::copy_file("/bin/busybox", rootfs + "/bin/busybox");
  for (const char* applet : {"true", "sleep", "sh"})
    std::filesystem::create_symlink("busybox", rootfs + "/bin/" + applet);
  for (const char* d : {"proc", "dev", "sys"})
    std::filesystem::create_directories(rootfs + "/" + d);
  return rootfs;
}

void HideHybridCgroup2() {
  struct statfs root, unified;
  if (::statfs("/sys/fs/cgroup", &root) != 0 || root.f_type == CGROUP2_SUPER_MAGIC) return;
  if (::statfs("/sys/fs/cgroup/unified", &unified) != 0 || unified.f_type != CGROUP2_SUPER_MAGIC)
    return;
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::umount2("/sys/fs/cgroup/unified", MNT_DETACH) != 0) {
    std::perror("hide /sys/fs/cgroup/unified");
    return;
  }
  std::printf("note: hybrid cgroup host; all runtimes run with /sys/fs/cgroup/unified hidden\n");
}

}  // namespace berth::bench
