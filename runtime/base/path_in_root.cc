#include "runtime/base/path_in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

std::string LexicallyClean(absl::string_view path) {
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(part);
  }
  return absl::StrJoin(parts, "/");
}

std::string FdPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, const std::string& path, int flags) {
  UniqueFd fd(Openat2(root_fd, path.empty() ? "/" : path, flags));
  if (!fd) return ErrnoStatus(absl::StrCat("open ", path, " in container root"));
  return fd;
}

absl::StatusOr<UniqueFd> CreateInRoot(int root_fd, const std::string& path, bool directory) {
  // Walks the path one component at a time from the root. A component that
  // is a symlink to something missing is replaced by its target (resolved
  // inside the root) and the walk restarts, so what gets created is always
  // what the container would see at `path`.
  std::vector<std::string> todo = absl::StrSplit(path, '/', absl::SkipEmpty());
  std::vector<std::string> done;
  for (int links = 0; links < 40;) {
    UniqueFd current(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
    if (!current) return ErrnoStatus("dup root fd");
    std::string so_far;
    bool restarted = false;
    for (size_t i = 0; i < todo.size() && !restarted; ++i) {
      const std::string& part = todo[i];
      if (part == ".") continue;
      if (part == "..") return absl::InvalidArgumentError(absl::StrCat(path, ": contains \"..\""));
      so_far += "/" + part;
      bool last = i + 1 == todo.size();
      int flags = O_PATH | ((last && !directory) ? 0 : O_DIRECTORY);
      UniqueFd next(Openat2(root_fd, so_far, flags));
      if (!next && errno == ENOENT) {
        char target[4096];
        ssize_t n = ::readlinkat(current.get(), part.c_str(), target, sizeof(target) - 1);
        if (n > 0) {
          // A dangling symlink: continue with its target, inside the root.
          target[n] = '\0';
          std::vector<std::string> rewritten;
          if (target[0] != '/') {
            rewritten = absl::StrSplit(so_far.substr(0, so_far.rfind('/')), '/', absl::SkipEmpty());
          }
          for (absl::string_view piece : absl::StrSplit(target, '/', absl::SkipEmpty())) {
            if (piece == "..") {
              if (!rewritten.empty()) rewritten.pop_back();  // ".." stops at the root
            } else if (piece != ".") {
              rewritten.emplace_back(piece);
            }
          }
          rewritten.insert(rewritten.end(), todo.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                           todo.end());
          todo = std::move(rewritten);
          ++links;
          restarted = true;
          continue;
        }
        // Create the component in the directory we already resolved safely; a
        // name without slashes cannot leave it.
        if (last && !directory) {
          UniqueFd file(::openat(current.get(), part.c_str(),
                                 O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644));
          if (!file && errno != EEXIST)
            return ErrnoStatus("create " + so_far + " in container root");
        } else if (::mkdirat(current.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
          return ErrnoStatus("mkdir " + so_far + " in container root");
        }
        next.Reset(Openat2(root_fd, so_far, flags));
      }
      if (!next) return ErrnoStatus("open " + so_far + " in container root");
      current = std::move(next);
    }
    if (!restarted) return current;
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": too many levels of symbolic links"));
}

}  // namespace berth
