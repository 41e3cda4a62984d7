#pragma once

// WebSocket framing (RFC 6455, section 5), without I/O: the accept key of
// the opening handshake, a reader that turns a client's byte stream into
// whole messages, and the encoder for the server's (unmasked) frames.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::streaming {

// Sec-WebSocket-Accept for the client's Sec-WebSocket-Key.
std::string WebSocketAcceptKey(absl::string_view client_key);

enum class WsOpcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

struct WsMessage {
  WsOpcode opcode = WsOpcode::kBinary;  // text or binary (reassembled), or a control frame
  std::string payload;
};

// A message (all its fragments together) may be at most this long.
inline constexpr size_t kMaxWebSocketMessage = 1 << 20;

class WebSocketReader {
 public:
  void Append(absl::string_view bytes);
  // The next whole message or control frame; nullopt until more bytes come.
  // Errors (unmasked client frame, reserved bits, bad lengths, oversized or
  // fragmented control frames, a continuation without a start) are final.
  absl::StatusOr<std::optional<WsMessage>> Next();

 private:
  std::string buffer_;
  size_t offset_ = 0;
  bool in_message_ = false;  // fragments of a data message are pending
  WsMessage partial_;
};

std::string EncodeWebSocketFrame(WsOpcode opcode, absl::string_view payload);
// A close frame with a status code (1000 normal, 1002 protocol error, ...).
std::string EncodeWebSocketClose(uint16_t code, absl::string_view reason = {});

}  // namespace berth::streaming
