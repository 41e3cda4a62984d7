#pragma once

// RFC 6455 framing for the test streaming client, written from the RFC (and
// kept apart from the server's code in cri/streaming/ on purpose). Pure
// functions: the handshake key, client frames (always masked) and a strict
// parser of server frames.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::testing::websocket {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Control frames carry at most 125 bytes and are never fragmented.
inline constexpr size_t kMaxControlPayload = 125;
inline constexpr uint16_t kCloseNormal = 1000;

using MaskKey = std::array<uint8_t, 4>;

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string AcceptKey(absl::string_view client_key);
// A fresh Sec-WebSocket-Key: base64 of 16 random bytes.
std::string NewClientKey();
MaskKey RandomMaskKey();

// One client frame: FIN as given, the mask bit set, the payload masked with
// `mask`, the length in its shortest form.
std::string EncodeClientFrame(Opcode opcode, absl::string_view payload, const MaskKey& mask,
                              bool fin = true);

struct Frame {
  bool fin = false;
  Opcode opcode = Opcode::kContinuation;
  std::string payload;
};

// Decodes the server frame at the front of `buffer`; nullopt while it is
// incomplete, else sets *consumed. Errors: RSV bits (no extension is
// negotiated), a mask (servers must not mask), an unknown opcode, a long or
// fragmented control frame, a length not in its shortest form, a payload
// over `max_payload`.
absl::StatusOr<std::optional<Frame>> ParseServerFrame(absl::string_view buffer, size_t max_payload,
                                                      size_t* consumed);

// A close payload: status code, then an optional UTF-8 reason.
std::string EncodeClosePayload(uint16_t code);
struct CloseReason {
  std::optional<uint16_t> code;  // absent when the payload is empty
  std::string reason;
};
// Errors: a 1-byte payload, a code that must not appear on the wire (1005,
// 1006, 1015, below 1000, unassigned ranges).
absl::StatusOr<CloseReason> ParseClosePayload(absl::string_view payload);

}  // namespace berth::testing::websocket
