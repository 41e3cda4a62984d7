#pragma once

// Typed messages between berth-runtime and the processes it creates, over a
// SOCK_SEQPACKET socketpair (message boundaries kept, peer death seen as EOF).

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth {

enum class SyncType : uint32_t {
  kStagePid = 1,   // stage 1 -> parent: pid of the container init it forked
  kMapIds = 2,     // stage 1 -> parent: write my uid/gid maps
  kIdsMapped = 3,  // parent -> stage 1
  kProceed = 4,    // parent -> init: cgroup joined and limits set
  kReady = 5,      // init -> parent: set up, waiting for start
  kError = 6,      // any -> parent: setup failed; text says why
};

struct SyncMessage {
  SyncType type;
  int64_t value = 0;
  std::string text;
};

class SyncSocket {
 public:
  // A connected pair; both ends close on exec.
  static absl::StatusOr<std::pair<SyncSocket, SyncSocket>> Pair();

  explicit SyncSocket(UniqueFd fd) : fd_(std::move(fd)) {}

  absl::Status Send(const SyncMessage& message);
  // Receives one message; Unavailable on EOF (the peer died).
  absl::StatusOr<SyncMessage> Receive();
  // Receives one message and requires its type. A kError message becomes
  // that error; anything else is Internal.
  absl::StatusOr<SyncMessage> Expect(SyncType type);
  // Reports `status` to the peer as kError (best effort).
  void SendError(const absl::Status& status);

  int fd() const { return fd_.get(); }
  void Close() { fd_.Reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace berth
