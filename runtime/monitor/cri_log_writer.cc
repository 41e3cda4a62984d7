#include "runtime/monitor/cri_log_writer.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

namespace berth {
namespace {

constexpr int kLogFlags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;

absl::StatusOr<UniqueFd> OpenLog(const std::string& directory, const std::string& path) {
  if (directory.empty()) {
    // No directory to stay beneath: at least the file itself is no symlink.
    size_t slash = path.rfind('/');
    std::string parent = slash == std::string::npos ? "."
                         : slash == 0               ? "/"
                                                    : path.substr(0, slash);
    UniqueFd dir(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return ErrnoStatus("open the directory of container log " + path);
    UniqueFd fd(::openat(dir.get(), path.c_str() + slash + 1, kLogFlags, 0640));
    if (!fd) return ErrnoStatus("open container log " + path);
    return fd;
  }
  UniqueFd dir(::open(directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return ErrnoStatus("open log directory " + directory);
  open_how how{.flags = kLogFlags,
               .mode = 0640,
               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  int fd;
  do {
    fd = static_cast<int>(::syscall(SYS_openat2, dir.get(), path.c_str(), &how, sizeof(how)));
  } while (fd < 0 && errno == EAGAIN);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open container log ", path, " beneath ", directory));
  return UniqueFd(fd);
}

const char* StreamName(LogStream stream) {
  return stream == LogStream::kStdout ? "stdout" : "stderr";
}

}  // namespace

std::string CriLogEntry(absl::Time time, LogStream stream, char tag, absl::string_view content) {
  // RFC 3339 with nanoseconds, always nine digits, in UTC.
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", time, absl::UTCTimeZone()), " ",
                      StreamName(stream), " ", std::string(1, tag), " ", content, "\n");
}

absl::StatusOr<CriLogWriter> CriLogWriter::Open(const std::string& path, size_t max_entry) {
  return OpenBeneath("", path, max_entry);
}

absl::StatusOr<CriLogWriter> CriLogWriter::OpenBeneath(const std::string& directory,
                                                       const std::string& path, size_t max_entry) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenLog(directory, path));
  return CriLogWriter(directory, path, std::move(fd), max_entry);
}

absl::Status CriLogWriter::Emit(LogStream stream, char tag, absl::string_view content) {
  std::string entry = CriLogEntry(now_(), stream, tag, content);
  absl::string_view left = entry;
  while (!left.empty()) {
    ssize_t n = ::write(fd_.get(), left.data(), left.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write container log " + path_);
    }
    left.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status CriLogWriter::Write(LogStream stream, absl::string_view data) {
  std::string& pending = pending_[static_cast<int>(stream)];
  while (!data.empty()) {
    size_t newline = data.find('\n');
    absl::string_view piece = data.substr(0, newline);
    // Fill the pending line up to the maximum entry size.
    size_t room = max_entry_ - pending.size();
    if (piece.size() > room || (newline == absl::string_view::npos && piece.size() == room)) {
      pending.append(piece.data(), room);
      data.remove_prefix(room);
      RETURN_IF_ERROR(Emit(stream, 'P', pending));
      pending.clear();
      continue;
    }
    pending.append(piece.data(), piece.size());
    if (newline == absl::string_view::npos) break;
    data.remove_prefix(newline + 1);
    RETURN_IF_ERROR(Emit(stream, 'F', pending));
    pending.clear();
  }
  return absl::OkStatus();
}

absl::Status CriLogWriter::Close(LogStream stream) {
  std::string& pending = pending_[static_cast<int>(stream)];
  if (pending.empty()) return absl::OkStatus();
  absl::Status status = Emit(stream, 'F', pending);
  pending.clear();
  return status;
}

absl::Status CriLogWriter::Reopen() {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenLog(directory_, path_));
  fd_ = std::move(fd);
  return absl::OkStatus();
}

}  // namespace berth
