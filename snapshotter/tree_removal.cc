#include "snapshotter/tree_removal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::snapshotter {
namespace {

absl::Status RemoveContents(int dir_fd, const std::string& where) {
  int fd = dup(dir_fd);
  if (fd < 0) return berth::ErrnoStatus("dup");
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return berth::ErrnoStatus("opendir " + where);
  }
  absl::Status status;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    status = RemoveTreeAt(dir_fd, name);
    if (!status.ok()) break;
  }
  closedir(dir);
  return status;
}

}  // namespace

absl::Status RemoveTreeAt(int dir_fd, const std::string& name) {
  if (unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR) return berth::ErrnoStatus("unlink " + name);
  UniqueFd child(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!child) {
    if (errno == ENOENT) return absl::OkStatus();
    return berth::ErrnoStatus("open " + name);
  }
  // Removal must not stall on a read-only directory (mode 0555 layers).
  fchmod(child.get(), 0700);
  absl::Status status = RemoveContents(child.get(), name);
  if (!status.ok()) return status;
  if (unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return berth::ErrnoStatus("rmdir " + name);
  }
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  std::filesystem::path p(path);
  std::string parent = p.parent_path().string();
  UniqueFd dir(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    if (errno == ENOENT) return absl::OkStatus();
    return berth::ErrnoStatus("open " + parent);
  }
  return RemoveTreeAt(dir.get(), p.filename().string());
}

}  // namespace berth::snapshotter
