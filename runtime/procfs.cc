#include "runtime/procfs.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/mount_fd.h"

namespace berth {
namespace {

constexpr ino_t kProcRootInode = 1;

bool IsProcRoot(int fd) {
  struct statfs fs;
  struct stat st;
  return ::fstatfs(fd, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC && ::fstat(fd, &st) == 0 &&
         st.st_ino == kProcRootInode;
}

}  // namespace

absl::StatusOr<ProcFs> ProcFs::Open(const char* fallback) {
  absl::StatusOr<UniqueFd> own =
      NewDetachedMount("proc", {}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (own.ok() && IsProcRoot(own->get())) return ProcFs(*std::move(own));
  UniqueFd root(::open(fallback, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return ErrnoStatus(absl::StrCat("open ", fallback));
  if (!IsProcRoot(root.get())) {
    return absl::FailedPreconditionError(
        absl::StrCat(fallback, " is not the root of a procfs mount"));
  }
  return ProcFs(std::move(root));
}

std::string ProcFs::Self(absl::string_view entry) { return absl::StrCat(::getpid(), "/", entry); }

absl::StatusOr<UniqueFd> ProcFs::OpenBeneath(const std::string& relative, int flags) const {
  // openat2 refuses O_NOCTTY beside O_PATH.
  int extra = (flags & O_PATH) ? 0 : O_NOCTTY;
  open_how how{
      .flags = static_cast<uint64_t>(flags | O_CLOEXEC | extra),
      .mode = 0,
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
  int fd;
  do {
    fd = static_cast<int>(::syscall(SYS_openat2, root_.get(), relative.c_str(), &how, sizeof(how)));
  } while (fd < 0 && errno == EAGAIN);
  if (fd < 0) return ErrnoStatus("open /proc/" + relative);
  return UniqueFd(fd);
}

absl::Status ProcFs::Write(const std::string& relative, absl::string_view value) const {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(relative, O_WRONLY));
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0) return ErrnoStatus("write /proc/" + relative);
  if (static_cast<size_t>(n) != value.size())
    return absl::InternalError(absl::StrCat("short write to /proc/", relative));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ProcFs::Read(const std::string& relative) const {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(relative, O_RDONLY));
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buffer, sizeof(buffer))) > 0)
    text.append(buffer, static_cast<size_t>(n));
  if (n < 0) return ErrnoStatus("read /proc/" + relative);
  return text;
}

absl::StatusOr<UniqueFd> ProcFs::OpenSelfFdDirectory() const {
  return OpenBeneath(Self("fd"), O_PATH | O_DIRECTORY);
}

}  // namespace berth
