#pragma once

#include "absl/status/status.h"

namespace berth {

// The exec helper (`berth-monitor --exec`): one per ExecSync or Exec call,
// so that no exec code runs inside the threaded daemon. berthd spawns it
// with one end of a SOCK_SEQPACKET socketpair as `channel` and sends an
// ExecConfig; the helper starts the process in the container and streams
// its output (stream_protocol.h), passes input and resizes on, kills the
// process when the timeout passes or the client hangs up, and reports the
// exit. Output is read only as fast as the client takes it. Single-threaded.
absl::Status RunExecSession(int channel);

}  // namespace berth
