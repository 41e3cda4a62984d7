#include "cri/streaming/websocket_frames.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace berth::streaming {

namespace {

constexpr absl::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool IsControl(WsOpcode opcode) { return static_cast<uint8_t>(opcode) >= 8; }

bool IsKnown(uint8_t opcode) {
  return opcode <= 2 || (opcode >= 8 && opcode <= 10);
}

}  // namespace

std::string WebSocketAcceptKey(absl::string_view client_key) {
  std::string input = absl::StrCat(client_key, kAcceptGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

void WebSocketReader::Append(absl::string_view bytes) {
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > (64 << 10)) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
}

absl::StatusOr<std::optional<WsMessage>> WebSocketReader::Next() {
  for (;;) {
    absl::string_view rest = absl::string_view(buffer_).substr(offset_);
    if (rest.size() < 2) return std::nullopt;
    auto byte = [&](size_t i) { return static_cast<uint8_t>(rest[i]); };
    bool fin = (byte(0) & 0x80) != 0;
    if (byte(0) & 0x70) return absl::InvalidArgumentError("WebSocket frame with reserved bits set");
    uint8_t raw_opcode = byte(0) & 0x0f;
    if (!IsKnown(raw_opcode))
      return absl::InvalidArgumentError(absl::StrCat("WebSocket opcode ", raw_opcode, " is unknown"));
    auto opcode = static_cast<WsOpcode>(raw_opcode);
    if ((byte(1) & 0x80) == 0) return absl::InvalidArgumentError("unmasked WebSocket client frame");
    uint64_t length = byte(1) & 0x7f;
    size_t header = 2;
    if (length == 126) {
      if (rest.size() < 4) return std::nullopt;
      length = static_cast<uint64_t>(byte(2)) << 8 | byte(3);
      if (length < 126) return absl::InvalidArgumentError("WebSocket length not minimally encoded");
      header = 4;
    } else if (length == 127) {
      if (rest.size() < 10) return std::nullopt;
      length = 0;
      for (size_t i = 2; i < 10; ++i) length = length << 8 | byte(i);
      if (length >> 63) return absl::InvalidArgumentError("WebSocket length with its top bit set");
      if (length <= 0xffff) return absl::InvalidArgumentError("WebSocket length not minimally encoded");
      header = 10;
    }
    if (IsControl(opcode) && (length > 125 || !fin))
      return absl::InvalidArgumentError("WebSocket control frame fragmented or over 125 bytes");
    // Checked before the frame is consumed, so that the error stays final.
    if (opcode == WsOpcode::kContinuation && !in_message_)
      return absl::InvalidArgumentError("WebSocket continuation without a start");
    if (!IsControl(opcode) && opcode != WsOpcode::kContinuation && in_message_)
      return absl::InvalidArgumentError("WebSocket message inside another");
    if (length > kMaxWebSocketMessage ||
        (!IsControl(opcode) && partial_.payload.size() + length > kMaxWebSocketMessage))
      return absl::InvalidArgumentError(
          absl::StrCat("WebSocket message over ", kMaxWebSocketMessage, " bytes"));
    if (rest.size() < header + 4 + length) return std::nullopt;
    const char* mask = rest.data() + header;
    std::string payload(rest.data() + header + 4, length);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= mask[i % 4];
    offset_ += header + 4 + length;

    if (IsControl(opcode)) return WsMessage{.opcode = opcode, .payload = std::move(payload)};
    if (opcode != WsOpcode::kContinuation) {
      in_message_ = true;
      partial_ = WsMessage{.opcode = opcode};
    }
    partial_.payload += payload;
    if (fin) {
      in_message_ = false;
      return std::exchange(partial_, WsMessage{});
    }
  }
}

std::string EncodeWebSocketFrame(WsOpcode opcode, absl::string_view payload) {
  std::string frame;
  frame.reserve(payload.size() + 10);
  frame.push_back(static_cast<char>(0x80 | static_cast<uint8_t>(opcode)));
  size_t length = payload.size();
  if (length < 126) {
    frame.push_back(static_cast<char>(length));
  } else if (length <= 0xffff) {
    frame.push_back(static_cast<char>(126));
    frame.push_back(static_cast<char>(length >> 8));
    frame.push_back(static_cast<char>(length));
  } else {
    frame.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8)
      frame.push_back(static_cast<char>(static_cast<uint64_t>(length) >> shift));
  }
  frame.append(payload.data(), payload.size());
  return frame;
}

std::string EncodeWebSocketClose(uint16_t code, absl::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code));
  absl::string_view trimmed = reason.substr(0, 123);
  payload.append(trimmed.data(), trimmed.size());
  return EncodeWebSocketFrame(WsOpcode::kClose, payload);
}

}  // namespace berth::streaming
