#include "cri/streaming/netns_dial.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth::streaming {

namespace {

absl::StatusOr<UniqueFd> Connect(const sockaddr* address, socklen_t length, int family,
                                 absl::Duration timeout) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoStatus("socket");
  if (::connect(fd.get(), address, length) != 0) {
    if (errno != EINPROGRESS) return ErrnoStatus("connect");
    pollfd p{fd.get(), POLLOUT, 0};
    int n;
    do {
      n = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    } while (n < 0 && errno == EINTR);
    if (n == 0) return absl::DeadlineExceededError("connect timed out");
    int error = 0;
    socklen_t size = sizeof(error);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      errno = error;
      return ErrnoStatus("connect");
    }
  }
  return fd;
}

absl::StatusOr<UniqueFd> DialLoopback(uint16_t port, absl::Duration timeout) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(port);
  v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  absl::StatusOr<UniqueFd> fd =
      Connect(reinterpret_cast<sockaddr*>(&v4), sizeof(v4), AF_INET, timeout);
  if (fd.ok()) return fd;
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(port);
  v6.sin6_addr = in6addr_loopback;
  absl::StatusOr<UniqueFd> fd6 =
      Connect(reinterpret_cast<sockaddr*>(&v6), sizeof(v6), AF_INET6, timeout);
  if (fd6.ok()) return fd6;
  return absl::UnavailableError(absl::StrCat("connect to localhost:", port, ": ",
                                             fd.status().message()));
}

}  // namespace

absl::StatusOr<UniqueFd> DialLoopbackInNetns(const std::string& netns_path, uint16_t port,
                                             absl::Duration timeout) {
  if (netns_path.empty()) return DialLoopback(port, timeout);
  UniqueFd netns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns) return ErrnoStatus(absl::StrCat("open the pod's network namespace ", netns_path));
  absl::StatusOr<UniqueFd> result = absl::InternalError("not dialled");
  // The thread ends in the pod's namespace; it is never reused.
  std::thread dialer([&] {
    if (::setns(netns.get(), CLONE_NEWNET) != 0) {
      result = ErrnoStatus(absl::StrCat("join the network namespace ", netns_path));
      return;
    }
    result = DialLoopback(port, timeout);
  });
  dialer.join();
  return result;
}

}  // namespace berth::streaming
