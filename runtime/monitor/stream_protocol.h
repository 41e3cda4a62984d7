#pragma once

// Messages on attach and exec channels. Both are SOCK_SEQPACKET, so each
// message arrives whole: one tag byte, then the payload.
//
// An exec channel starts with the client's kExecConfig; the helper answers
// kStarted or kError, then streams output and ends with kExit. An attach
// channel carries output until the container's output ends; hanging up
// detaches.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace berth {

enum class StreamTag : uint8_t {
  // To the client.
  kStdout = 1,
  kStderr = 2,
  kStarted = 3,  // JSON {"pid": N}
  kError = 4,    // text: the session could not start
  kExit = 5,     // JSON, see ExecExit
  // From the client.
  kStdin = 16,
  kCloseStdin = 17,  // a pipe is closed; a terminal gets its end-of-file character
  kResize = 18,      // "ROWS COLS"
  kExecConfig = 19,  // JSON, see ExecConfig
};

// Room for a whole message of output plus its tag; senders cut output to fit.
inline constexpr size_t kMaxStreamPayload = 64 * 1024;

std::string StreamMessage(StreamTag tag, absl::string_view payload = {});

struct TerminalSize {
  uint16_t rows = 0;
  uint16_t columns = 0;
};
std::string ResizePayload(TerminalSize size);
std::optional<TerminalSize> ParseResizePayload(absl::string_view payload);

}  // namespace berth
