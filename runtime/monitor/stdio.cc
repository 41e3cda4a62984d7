#include "runtime/monitor/stdio.h"

#include <fcntl.h>
#include <unistd.h>

#include "runtime/base/errno_status.h"

namespace berth {

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

ScopedStdio::ScopedStdio(int in, int out, int err) {
  for (int fd = 0; fd <= 2; ++fd) saved_[fd].Reset(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  int targets[3] = {in, out, err};
  for (int fd = 0; fd <= 2; ++fd) ::dup2(targets[fd] >= 0 ? targets[fd] : null.get(), fd);
}

ScopedStdio::~ScopedStdio() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (saved_[fd]) {
      ::dup2(saved_[fd].get(), fd);
    } else {
      ::close(fd);  // it was closed before
    }
  }
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace berth
