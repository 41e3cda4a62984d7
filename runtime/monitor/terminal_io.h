#pragma once

// What the monitor does to a terminal's master end for its clients.

#include "absl/status/status.h"
#include "runtime/monitor/stream_protocol.h"

namespace berth {

absl::Status ResizeTerminal(int master, TerminalSize size);

// Writes the terminal's end-of-file character (^D unless changed), which
// ends input for a program reading the terminal, as closing a pipe would.
absl::Status SendTerminalEof(int master);

}  // namespace berth
