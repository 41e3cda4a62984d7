// The cgroup v2 device filter on a real cgroup2 hierarchy: /sys/fs/cgroup on
// a v2 host, /sys/fs/cgroup/unified on a hybrid one. Needs root.

#include "runtime/cgroups/device_filter.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/base/atomic_file.h"

namespace berth {
namespace {

std::string Cgroup2Mount() {
  for (const char* path : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    struct statfs fs;
    if (::statfs(path, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return path;
  }
  return "";
}

class DeviceFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string mount = Cgroup2Mount();
    if (mount.empty()) GTEST_SKIP() << "no cgroup2 hierarchy mounted";
    dir_ = absl::StrCat(mount, "/berth-devtest-", ::getpid());
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
  }
  void TearDown() override {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  // Opens `path` with `flags` from a child moved into the cgroup: 0 if the
  // open succeeded, else its errno.
  int OpenInCgroup(const char* path, int flags) {
    pid_t child = ::fork();
    if (child == 0) {
      if (!WriteFileAtomically(dir_ + "/cgroup.procs", "0").ok()) {
        // cgroup.procs takes a plain write, not a rename.
        int fd = ::open((dir_ + "/cgroup.procs").c_str(), O_WRONLY);
        if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(250);
      }
      int fd = ::open(path, flags);
      _exit(fd >= 0 ? 0 : errno);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WEXITSTATUS(status);
  }

  int AttachedPrograms() {
    int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    bpf_attr query{};
    query.query.target_fd = static_cast<uint32_t>(fd);
    query.query.attach_type = BPF_CGROUP_DEVICE;
    ::syscall(SYS_bpf, BPF_PROG_QUERY, &query, sizeof(query));
    ::close(fd);
    return static_cast<int>(query.query.prog_cnt);
  }

  std::string dir_;
};

TEST_F(DeviceFilterTest, LaterRulesOverrideEarlierOnesAndTheRestIsDenied) {
  std::vector<oci::DeviceRule> rules = {
      {.allow = false, .type = 'a', .access = "rwm"},
      {.allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rwm"},  // null
      {.allow = true, .type = 'c', .major = 1, .minor = 5, .access = "r"},    // zero, read only
  };
  absl::Status attached = AttachDeviceFilter(dir_, rules);
  ASSERT_TRUE(attached.ok()) << attached;
  EXPECT_EQ(OpenInCgroup("/dev/null", O_RDWR), 0);
  EXPECT_EQ(OpenInCgroup("/dev/zero", O_RDONLY), 0);
  EXPECT_EQ(OpenInCgroup("/dev/zero", O_WRONLY), EPERM);
  EXPECT_EQ(OpenInCgroup("/dev/full", O_RDONLY), EPERM);
}

TEST_F(DeviceFilterTest, UpdateReplacesTheFilter) {
  ASSERT_TRUE(AttachDeviceFilter(dir_, {{.allow = false, .type = 'a', .access = "rwm"}}).ok());
  EXPECT_EQ(OpenInCgroup("/dev/null", O_RDONLY), EPERM);
  ASSERT_TRUE(AttachDeviceFilter(dir_, {{.allow = true, .type = 'a', .access = "rwm"}}).ok());
  EXPECT_EQ(OpenInCgroup("/dev/null", O_RDONLY), 0);
  EXPECT_EQ(AttachedPrograms(), 1) << "the old filter must be detached, not stacked";
}

}  // namespace
}  // namespace berth
