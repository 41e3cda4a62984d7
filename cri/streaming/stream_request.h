#pragma once

// What an Exec, Attach or PortForward RPC asked for, kept under a random
// single-use token until the client connects to the streaming server with
// it (kubelet's request cache).

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::streaming {

enum class StreamKind { kExec, kAttach, kPortForward };

struct StreamRequest {
  StreamKind kind = StreamKind::kExec;
  std::string container_id;  // exec, attach
  std::string sandbox_id;    // port-forward
  std::vector<std::string> cmd;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
};

// The path prefix of each kind's URLs: /exec/<token> and so on.
const char* StreamPathPrefix(StreamKind kind);

class StreamRequestCache {
 public:
  // kubelet's limits: a minute to come, a thousand waiting at most.
  explicit StreamRequestCache(absl::Duration ttl = absl::Minutes(1), size_t capacity = 1000)
      : ttl_(ttl), capacity_(capacity) {}

  // A fresh token (22 URL-safe characters, 128 random bits).
  // ResourceExhausted when `capacity` requests are waiting.
  absl::StatusOr<std::string> Insert(StreamRequest request);
  // The request, removed; nullopt for unknown, used or expired tokens, or
  // a token of another kind.
  std::optional<StreamRequest> Take(const std::string& token, StreamKind kind);

 private:
  struct Entry {
    StreamRequest request;
    absl::Time expires;
  };
  void DropExpired(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  absl::Duration ttl_;
  size_t capacity_;
  absl::Mutex mutex_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace berth::streaming
