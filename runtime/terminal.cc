#include "runtime/terminal.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/path_in_root.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unix_socket.h"
#include "runtime/mount_fd.h"

namespace berth {

absl::StatusOr<UniqueFd> ConnectConsoleSocket(const std::string& path) {
  return ConnectUnix(path, SOCK_STREAM);
}

absl::StatusOr<UniqueFd> ReceiveConsoleMaster(int connection) {
  char payload[64];
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{.iov_base = payload, .iov_len = sizeof(payload)};
  msghdr message{
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
  ssize_t n;
  while ((n = ::recvmsg(connection, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) return ErrnoStatus("receive the terminal");
  cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
  if (cmsg == nullptr || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
    return absl::InternalError("no terminal arrived on the console socket");
  int fd;
  std::memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
  return UniqueFd(fd);
}

absl::Status SetUpTerminal(int console_socket, const oci::Process& process, bool bind_dev_console) {
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return ErrnoStatus("open /dev/ptmx");
  if (::unlockpt(master.get()) != 0) return ErrnoStatus("unlockpt");
  if (process.console_size.has_value()) {
    winsize size{.ws_row = static_cast<unsigned short>(process.console_size->height),
                 .ws_col = static_cast<unsigned short>(process.console_size->width)};
    if (::ioctl(master.get(), TIOCSWINSZ, &size) != 0) return ErrnoStatus("set console size");
  }
  // The peer straight from the master, not by its /dev/pts name, which the
  // container could have swapped for something else (CVE-2025-52565).
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return ErrnoStatus("open the terminal's peer");
  // /dev/console is the container's terminal too: bound from the peer's fd
  // onto a target resolved inside the root.
  if (bind_dev_console) {
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return ErrnoStatus("open /");
    ASSIGN_OR_RETURN(UniqueFd console, CreateInRoot(root.get(), "/dev/console", false));
    RETURN_IF_ERROR(BindMount(slave.get(), console.get(), false, {}, "/dev/console").status());
  }
  // The master travels as SCM_RIGHTS.
  char control[CMSG_SPACE(sizeof(int))] = {};
  // The payload is the literal "/dev/ptmx", as runc sends it; some receivers check it.
  char payload[] = "/dev/ptmx";
  iovec iov{.iov_base = payload, .iov_len = sizeof(payload) - 1};
  msghdr message{
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
  cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  int master_fd = master.get();
  std::memcpy(CMSG_DATA(cmsg), &master_fd, sizeof(int));
  if (::sendmsg(console_socket, &message, 0) < 0)
    return ErrnoStatus("send terminal to console socket");
  master.Reset();
  for (int target = 0; target <= 2; ++target) {
    if (::dup2(slave.get(), target) < 0) return ErrnoStatus("dup terminal to stdio");
  }
  if (::ioctl(0, TIOCSCTTY, 0) != 0) return ErrnoStatus("make terminal controlling");
  return absl::OkStatus();
}

}  // namespace berth
