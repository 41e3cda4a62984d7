#include "runtime/base/unique_fd.h"

#include <unistd.h>

namespace berth {

void UniqueFd::Reset(int fd) {
  // close() must not be retried on EINTR on Linux: the fd is gone either way.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace berth
