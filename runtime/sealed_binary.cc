#include "runtime/sealed_binary.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>  // MOUNT_ATTR_*
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "runtime/mount_fd.h"

extern char** environ;

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3: executable memfd even under vm.memfd_noexec=1
#endif

namespace berth {
namespace {

constexpr int kAllSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

BinaryProtection ProtectionOf(int fd) {
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && (seals & kAllSeals) == kAllSeals) return BinaryProtection::kSealedMemfd;
  struct statfs fs;
  struct statvfs vfs;
  if (::fstatfs(fd, &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC && ::fstatvfs(fd, &vfs) == 0 &&
      (vfs.f_flag & ST_RDONLY) != 0) {
    return BinaryProtection::kReadOnlyOverlay;
  }
  return BinaryProtection::kNone;
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// The binary as seen through a read-only overlay of its directory. Overlay
// without an upper layer needs two lowers: the second is an empty tmpfs.
// Both mounts are detached; the open file keeps them alive.
absl::StatusOr<UniqueFd> OverlayCopy(int exe_fd) {
  char link[4096];
  ssize_t n = ::readlink("/proc/self/exe", link, sizeof(link) - 1);
  if (n <= 0) return ErrnoStatus("readlink /proc/self/exe");
  std::string path(link, static_cast<size_t>(n));
  if (absl::EndsWith(path, " (deleted)"))
    return absl::FailedPreconditionError("the binary was deleted");
  size_t slash = path.rfind('/');
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  UniqueFd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return ErrnoStatus("open " + dir);
  ASSIGN_OR_RETURN(UniqueFd empty, NewDetachedMount("tmpfs", {{"size", "4k"}}, MOUNT_ATTR_RDONLY));
  ASSIGN_OR_RETURN(UniqueFd overlay,
                   NewDetachedMount("overlay",
                                    {{"lowerdir", absl::StrCat("/proc/self/fd/", dir_fd.get(),
                                                               ":/proc/self/fd/", empty.get())}},
                                    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  UniqueFd copy(::openat(overlay.get(), path.c_str() + slash + 1, O_RDONLY | O_CLOEXEC));
  if (!copy) return ErrnoStatus("open the binary in its overlay");
  // An upgrade may have put another file at the path: run only what we are.
  struct stat ours, seen;
  if (::fstat(exe_fd, &ours) != 0 || ::fstat(copy.get(), &seen) != 0 || !SameFile(ours, seen))
    return absl::FailedPreconditionError("the binary at " + path + " changed");
  return copy;
}

absl::StatusOr<UniqueFd> MemfdCopy(int exe_fd) {
  UniqueFd copy(::memfd_create("berth-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (!copy && errno == EINVAL)  // kernels before 6.3 know no MFD_EXEC
    copy.Reset(::memfd_create("berth-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) return ErrnoStatus("memfd_create");
  struct stat st;
  if (::fstat(exe_fd, &st) != 0) return ErrnoStatus("stat /proc/self/exe");
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t sent =
        ::sendfile(copy.get(), exe_fd, &offset, static_cast<size_t>(st.st_size - offset));
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return ErrnoStatus("copy the binary into a memfd");
  }
  if (::fcntl(copy.get(), F_ADD_SEALS, kAllSeals) != 0) return ErrnoStatus("seal the memfd");
  return copy;
}

}  // namespace

absl::StatusOr<BinaryProtection> CurrentBinaryProtection() {
  UniqueFd exe(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!exe) return ErrnoStatus("open /proc/self/exe");
  return ProtectionOf(exe.get());
}

absl::Status ReexecFromSealedBinary(char** argv) {
  UniqueFd exe(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!exe) return ErrnoStatus("open /proc/self/exe");
  if (ProtectionOf(exe.get()) != BinaryProtection::kNone) return absl::OkStatus();
  const char* forced = std::getenv("BERTH_SEALED_BINARY");
  absl::StatusOr<UniqueFd> copy = absl::FailedPreconditionError("memfd asked for");
  if (forced == nullptr || std::strcmp(forced, "memfd") != 0) copy = OverlayCopy(exe.get());
  if (!copy.ok()) copy = MemfdCopy(exe.get());
  if (!copy.ok()) return copy.status();
  ::syscall(SYS_execveat, copy->get(), "", argv, environ, AT_EMPTY_PATH);
  return ErrnoStatus("re-exec from the sealed binary");
}

}  // namespace berth
