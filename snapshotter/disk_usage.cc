#include "snapshotter/disk_usage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::snapshotter {
namespace {

class UsageWalker {
 public:
  absl::Status Walk(int dir_fd, dev_t device) {
    int fd = dup(dir_fd);
    if (fd < 0) return berth::ErrnoStatus("dup");
    DIR* dir = fdopendir(fd);
    if (dir == nullptr) {
      close(fd);
      return berth::ErrnoStatus("opendir");
    }
    absl::Status status;
    while (dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      Count(st);
      if (S_ISDIR(st.st_mode) && st.st_dev == device) {
        UniqueFd child(
            openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!child) continue;
        status = Walk(child.get(), device);
        if (!status.ok()) break;
      }
    }
    closedir(dir);
    return status;
  }

  void Count(const struct stat& st) {
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen_.insert({st.st_dev, st.st_ino}).second) {
      return;
    }
    usage.bytes += static_cast<int64_t>(st.st_blocks) * 512;
    usage.inodes += 1;
  }

  SnapshotUsage usage;

 private:
  absl::flat_hash_set<std::pair<dev_t, ino_t>> seen_;
};

}  // namespace

absl::StatusOr<SnapshotUsage> DiskUsage(const std::string& path) {
  UniqueFd root(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return berth::ErrnoStatus("open " + path);
  struct stat st;
  if (fstat(root.get(), &st) != 0) return berth::ErrnoStatus("stat " + path);
  UsageWalker walker;
  walker.Count(st);
  absl::Status status = walker.Walk(root.get(), st.st_dev);
  if (!status.ok()) return status;
  return walker.usage;
}

}  // namespace berth::snapshotter
