// CreatePinnedNetns / PinNetnsOfProcess / RemovePinnedNetns (network_manager.h).

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cni/network_manager.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth::cni {
namespace {

absl::Status BringUpLoopback(const std::string& path) {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoStatus("socket in network namespace " + path);
  struct ifreq request;
  std::memset(&request, 0, sizeof(request));
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0)
    return ErrnoStatus("read flags of lo in " + path);
  request.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0)
    return ErrnoStatus("bring up lo in " + path);
  return absl::OkStatus();
}

absl::StatusOr<std::string> CreatePinFile(const std::string& dir, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("netns name \"", name, "\" is not a file name"));
  }
  RETURN_IF_ERROR(MakeDirectories(dir, 0755));
  std::string path = absl::StrCat(dir, "/", name);
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!file) return ErrnoStatus("create netns pin " + path);
  return path;
}

// On a thread of its own, which ends right after: setns(CLONE_NEWNET)
// moves only the calling thread.
absl::Status BringUpLoopbackIn(const std::string& path) {
  absl::Status status;
  std::thread([&] {
    UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) {
      status = ErrnoStatus("open " + path);
    } else if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      status = ErrnoStatus("enter the network namespace " + path);
    } else {
      status = BringUpLoopback(path);
    }
  }).join();
  return status;
}

// Runs on a thread of its own: unshare(CLONE_NEWNET) moves only the calling
// thread, which ends right after, so the daemon's threads never leave the
// host namespace. The bind mount keeps the namespace alive without any
// process in it.
absl::Status MakeAndPinNetns(const std::string& path) {
  if (::unshare(CLONE_NEWNET) != 0) return ErrnoStatus("unshare(CLONE_NEWNET)");
  if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return ErrnoStatus("bind-mount a new network namespace on " + path);
  }
  // Loopback up, as pods expect whatever the CNI config holds.
  return BringUpLoopback(path);
}

}  // namespace

absl::StatusOr<std::string> CreatePinnedNetns(const std::string& dir, const std::string& name) {
  ASSIGN_OR_RETURN(std::string path, CreatePinFile(dir, name));
  absl::Status status;
  std::thread([&] { status = MakeAndPinNetns(path); }).join();
  if (!status.ok()) {
    ::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
    return status;
  }
  return path;
}

absl::StatusOr<std::string> PinNetnsOfProcess(const std::string& dir, const std::string& name,
                                              pid_t pid) {
  ASSIGN_OR_RETURN(std::string path, CreatePinFile(dir, name));
  std::string ns = absl::StrCat("/proc/", pid, "/ns/net");
  absl::Status status;
  if (::mount(ns.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    status = ErrnoStatus(absl::StrCat("bind-mount ", ns, " on ", path));
  } else {
    status = BringUpLoopbackIn(path);
  }
  if (!status.ok()) {
    ::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
    return status;
  }
  return path;
}

absl::Status RemovePinnedNetns(const std::string& path) {
  // EINVAL: not mounted (a half-made pin, or unmounted already).
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ErrnoStatus("unmount netns " + path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return ErrnoStatus("remove netns pin " + path);
  return absl::OkStatus();
}

}  // namespace berth::cni
