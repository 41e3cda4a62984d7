#include "runtime/sync_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth {
namespace {

// Wire form: type, code (for kError), value, then the text.
struct Header {
  uint32_t type;
  int32_t code;
  int64_t value;
};

constexpr size_t kMaxText = 8192;

}  // namespace

absl::StatusOr<std::pair<SyncSocket, SyncSocket>> SyncSocket::Pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    return ErrnoStatus("socketpair");
  return std::make_pair(SyncSocket(UniqueFd(fds[0])), SyncSocket(UniqueFd(fds[1])));
}

absl::Status SyncSocket::Send(const SyncMessage& message) {
  char buffer[sizeof(Header) + kMaxText];
  Header header{static_cast<uint32_t>(message.type), 0, message.value};
  size_t text_size = std::min(message.text.size(), kMaxText);
  std::memcpy(buffer, &header, sizeof(header));
  std::memcpy(buffer + sizeof(header), message.text.data(), text_size);
  ssize_t n;
  do {
    n = ::send(fd_.get(), buffer, sizeof(header) + text_size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus("send sync message");
  return absl::OkStatus();
}

void SyncSocket::SendError(const absl::Status& status) {
  (void)Send({.type = SyncType::kError,
              .value = static_cast<int64_t>(status.code()),
              .text = std::string(status.message())});
}

absl::StatusOr<SyncMessage> SyncSocket::Receive() {
  char buffer[sizeof(Header) + kMaxText];
  ssize_t n;
  do {
    n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus("receive sync message");
  if (n == 0) return absl::UnavailableError("the other side exited before finishing setup");
  if (static_cast<size_t>(n) < sizeof(Header)) return absl::InternalError("short sync message");
  Header header;
  std::memcpy(&header, buffer, sizeof(header));
  return SyncMessage{.type = static_cast<SyncType>(header.type),
                     .value = header.value,
                     .text = std::string(buffer + sizeof(header), n - sizeof(header))};
}

absl::StatusOr<SyncMessage> SyncSocket::Expect(SyncType type) {
  absl::StatusOr<SyncMessage> message = Receive();
  if (!message.ok()) return message.status();
  if (message->type == SyncType::kError) {
    return absl::Status(static_cast<absl::StatusCode>(message->value), message->text);
  }
  if (message->type != type) {
    return absl::InternalError(absl::StrCat("sync: expected message ", static_cast<int>(type),
                                            ", got ", static_cast<int>(message->type)));
  }
  return message;
}

}  // namespace berth
