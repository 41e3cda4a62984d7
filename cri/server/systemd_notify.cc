#include "cri/server/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::cri {

absl::Status NotifyServiceManager(absl::string_view state) {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (socket_path == nullptr || socket_path[0] == '\0') return absl::OkStatus();
  sockaddr_un addr{.sun_family = AF_UNIX};
  size_t length = std::strlen(socket_path);
  if ((socket_path[0] != '/' && socket_path[0] != '@') || length >= sizeof(addr.sun_path))
    return absl::InvalidArgumentError(
        absl::StrCat("NOTIFY_SOCKET ", socket_path, " is not usable"));
  std::memcpy(addr.sun_path, socket_path, length);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // the abstract namespace
  socklen_t addr_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket for NOTIFY_SOCKET");
  if (::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&addr), addr_length) < 0) {
    return ErrnoStatus(absl::StrCat("notify the service manager at ", socket_path));
  }
  return absl::OkStatus();
}

}  // namespace berth::cri
