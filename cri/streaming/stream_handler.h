#pragma once

// One upgraded connection's protocol (remote command or port-forward, over
// SPDY or WebSocket), driven by the connection's poll loop
// (streaming_server.cc). Handlers never block: they say which fds they wait
// for, and the loop calls them back when those are ready.

#include <poll.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace berth::streaming {

// Output waiting for a slow client beyond this stops the handler reading
// from its sources, so nothing is buffered without bound.
inline constexpr size_t kOutputHighWater = 256 << 10;

class StreamHandler {
 public:
  virtual ~StreamHandler() = default;

  // Bytes the client sent; an error closes the connection (after flushing).
  virtual absl::Status OnClientBytes(absl::string_view bytes) = 0;
  // The client closed its side of the connection.
  virtual void OnClientClosed() = 0;
  // Whether to read more from the client now (input not yet passed on
  // stays bounded).
  virtual bool WantsClientBytes() const { return true; }

  // The fds to poll this turn besides the client's, and after poll their
  // results, in the same order. `output_room`: the client takes output.
  virtual void CollectPollFds(std::vector<pollfd>& fds, bool output_room) = 0;
  virtual absl::Status OnPolled(absl::Span<const pollfd> fds) = 0;

  // The next time OnTimer wants to run; InfiniteFuture for none.
  virtual absl::Time NextTimer() const { return absl::InfiniteFuture(); }
  virtual absl::Status OnTimer(absl::Time now) { return absl::OkStatus(); }

  // Bytes for the client; the loop writes and erases from the front.
  virtual std::string& Output() = 0;
  // Done: the loop flushes Output() and closes the connection.
  virtual bool Finished() const = 0;
};

}  // namespace berth::streaming
