#pragma once

// Unix domain sockets by path, with errors that name the path.

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth {

// A listening socket of `type` (SOCK_STREAM, SOCK_SEQPACKET, optionally |
// SOCK_NONBLOCK) at `path`, replacing a file already there. Its mode is set
// before it accepts anything.
absl::StatusOr<UniqueFd> ListenUnix(const std::string& path, int type, int backlog, mode_t mode);

// A socket of `type` connected to `path`.
absl::StatusOr<UniqueFd> ConnectUnix(const std::string& path, int type);

}  // namespace berth
