#include "runtime/base/path_in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"

namespace berth {
namespace {

int Openat2(int dir_fd, const std::string& path, int flags, uint64_t mode = 0) {
  open_how how{.flags = static_cast<uint64_t>(flags | O_CLOEXEC),
               .mode = (flags & O_CREAT) ? mode : 0,
               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  int fd;
  do {
    fd = static_cast<int>(::syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof(how)));
  } while (fd < 0 && errno == EAGAIN);  // a rename raced the lookup: retry
  return fd;
}

}  // namespace

std::string FdPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, const std::string& path, int flags) {
  UniqueFd fd(Openat2(root_fd, path.empty() ? "/" : path, flags));
  if (!fd) return ErrnoStatus(absl::StrCat("open ", path, " in container root"));
  return fd;
}

absl::StatusOr<UniqueFd> CreateInRoot(int root_fd, const std::string& path, bool directory) {
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  UniqueFd current(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!current) return ErrnoStatus("dup root fd");
  std::string so_far;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "..")
      return absl::InvalidArgumentError(absl::StrCat(path, ": contains \"..\""));
    so_far += "/" + parts[i];
    bool last = i + 1 == parts.size();
    UniqueFd next(Openat2(root_fd, so_far, O_PATH | ((last && !directory) ? 0 : O_DIRECTORY)));
    if (!next && errno == ENOENT) {
      // Create the component in the directory we already resolved safely; a
      // name without slashes cannot leave it.
      if (last && !directory) {
        UniqueFd file(::openat(current.get(), parts[i].c_str(),
                               O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644));
        if (!file && errno != EEXIST) return ErrnoStatus("create " + so_far + " in container root");
      } else if (::mkdirat(current.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus("mkdir " + so_far + " in container root");
      }
      next.Reset(Openat2(root_fd, so_far, O_PATH | ((last && !directory) ? 0 : O_DIRECTORY)));
    }
    if (!next) return ErrnoStatus("open " + so_far + " in container root");
    current = std::move(next);
  }
  return current;
}

}  // namespace berth
