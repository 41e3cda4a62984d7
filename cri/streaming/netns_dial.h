#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth::streaming {

// Connects to `port` on loopback (127.0.0.1, then ::1) inside the network
// namespace at `netns_path`, or berthd's own with an empty path. The socket
// is made on a short-lived thread that joins the namespace, so berthd's
// other threads never change namespace; a socket keeps the namespace it was
// made in. Returns the connected socket, non-blocking.
absl::StatusOr<UniqueFd> DialLoopbackInNetns(const std::string& netns_path, uint16_t port,
                                             absl::Duration timeout = absl::Seconds(10));

}  // namespace berth::streaming
