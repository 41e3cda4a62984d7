#include "runtime/base/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth {
namespace {

// A socket address for `path`. sun_path holds 107 bytes; a longer path is
// reached through its directory, opened O_PATH and named as
// /proc/self/fd/N/<name>, which stays valid while `dir` is open.
absl::StatusOr<sockaddr_un> Address(const std::string& path, UniqueFd& dir) {
  sockaddr_un addr{.sun_family = AF_UNIX};
  std::string name = path;
  if (path.size() >= sizeof(addr.sun_path)) {
    size_t slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      std::string parent = path.substr(0, slash);
      dir.Reset(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!dir) return ErrnoStatus("open " + parent);
      name = absl::StrCat("/proc/self/fd/", dir.get(), path.substr(slash));
    }
  }
  if (name.empty() || name.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unix socket name in \"", path, "\" must be 1 to ", sizeof(addr.sun_path) - 20, " bytes"));
  }
  std::memcpy(addr.sun_path, name.c_str(), name.size() + 1);
  return addr;
}

}  // namespace

absl::StatusOr<UniqueFd> ListenUnix(const std::string& path, int type, int backlog, mode_t mode) {
  UniqueFd dir;
  absl::StatusOr<sockaddr_un> addr = Address(path, dir);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket for " + path);
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    return ErrnoStatus("bind " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) return ErrnoStatus("chmod " + path);
  if (::listen(fd.get(), backlog) != 0) return ErrnoStatus("listen on " + path);
  return fd;
}

absl::StatusOr<UniqueFd> ConnectUnix(const std::string& path, int type) {
  UniqueFd dir;
  absl::StatusOr<sockaddr_un> addr = Address(path, dir);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket for " + path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    return ErrnoStatus("connect to " + path);
  }
  return fd;
}

}  // namespace berth
