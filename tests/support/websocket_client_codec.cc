#include "tests/support/websocket_client_codec.h"

#include <openssl/evp.h>
#include <sys/random.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace berth::testing::websocket {
namespace {

// RFC 6455 section 1.3.
constexpr char kHandshakeGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

absl::Status Violation(absl::string_view what) {
  return absl::InternalError(absl::StrCat("WebSocket protocol violation: ", what));
}

void FillRandom(void* buffer, size_t size) {
  auto* bytes = static_cast<char*>(buffer);
  while (size > 0) {
    ssize_t n = getrandom(bytes, size, 0);
    if (n <= 0) continue;  // EINTR; getrandom cannot otherwise fail for small sizes
    bytes += n;
    size -= static_cast<size_t>(n);
  }
}

bool IsKnownOpcode(uint8_t opcode) {
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::kContinuation:
    case Opcode::kText:
    case Opcode::kBinary:
    case Opcode::kClose:
    case Opcode::kPing:
    case Opcode::kPong:
      return true;
  }
  return false;
}

bool IsControl(Opcode opcode) { return (static_cast<uint8_t>(opcode) & 0x8) != 0; }

// RFC 6455 section 7.4: codes an endpoint may send in a close frame.
bool IsSendableCloseCode(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  if (code < 1000 || code > 1014) return false;
  return code != 1004 && code != 1005 && code != 1006;
}

uint64_t LoadBigEndian(absl::string_view bytes, size_t offset, size_t count) {
  uint64_t value = 0;
  for (size_t i = 0; i < count; ++i) value = value << 8 | static_cast<uint8_t>(bytes[offset + i]);
  return value;
}

}  // namespace

std::string AcceptKey(absl::string_view client_key) {
  std::string input = absl::StrCat(client_key, kHandshakeGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

std::string NewClientKey() {
  char nonce[16];
  FillRandom(nonce, sizeof(nonce));
  return absl::Base64Escape(absl::string_view(nonce, sizeof(nonce)));
}

MaskKey RandomMaskKey() {
  MaskKey mask;
  FillRandom(mask.data(), mask.size());
  return mask;
}

std::string EncodeClientFrame(Opcode opcode, absl::string_view payload, const MaskKey& mask,
                              bool fin) {
  std::string out;
  out.reserve(14 + payload.size());
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(opcode)));
  const uint64_t size = payload.size();
  if (size < 126) {
    out.push_back(static_cast<char>(0x80 | size));
  } else if (size <= 0xFFFF) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((size >> shift) & 0xFF));
    }
  }
  out.append(reinterpret_cast<const char*>(mask.data()), mask.size());
  for (size_t i = 0; i < payload.size(); ++i) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(payload[i]) ^ mask[i % 4]));
  }
  return out;
}

absl::StatusOr<std::optional<Frame>> ParseServerFrame(absl::string_view buffer, size_t max_payload,
                                                      size_t* consumed) {
  if (buffer.size() < 2) return std::nullopt;
  const uint8_t first = static_cast<uint8_t>(buffer[0]);
  const uint8_t second = static_cast<uint8_t>(buffer[1]);
  if ((first & 0x70) != 0) {
    return Violation(
        absl::StrCat("RSV bits 0x", absl::Hex(first & 0x70), " set without an extension"));
  }
  if (!IsKnownOpcode(first & 0x0F)) return Violation(absl::StrCat("unknown opcode ", first & 0x0F));
  Frame frame;
  frame.fin = (first & 0x80) != 0;
  frame.opcode = static_cast<Opcode>(first & 0x0F);
  if ((second & 0x80) != 0) return Violation("server frame is masked");
  const uint8_t short_length = second & 0x7F;
  if (IsControl(frame.opcode)) {
    if (!frame.fin) return Violation("fragmented control frame");
    if (short_length > kMaxControlPayload) {
      return Violation("control frame with a payload over 125 bytes");
    }
  }
  size_t header_size = 2;
  uint64_t length = short_length;
  if (short_length == 126) {
    header_size = 4;
    if (buffer.size() < header_size) return std::nullopt;
    length = LoadBigEndian(buffer, 2, 2);
    if (length < 126)
      return Violation(absl::StrCat("length ", length, " not in its shortest form"));
  } else if (short_length == 127) {
    header_size = 10;
    if (buffer.size() < header_size) return std::nullopt;
    length = LoadBigEndian(buffer, 2, 8);
    if ((length >> 63) != 0) return Violation("64-bit length with the top bit set");
    if (length <= 0xFFFF)
      return Violation(absl::StrCat("length ", length, " not in its shortest form"));
  }
  if (length > max_payload) {
    return Violation(
        absl::StrCat("frame of ", length, " bytes (the client's limit is ", max_payload, ")"));
  }
  if (buffer.size() - header_size < length) return std::nullopt;
  frame.payload = std::string(buffer.substr(header_size, static_cast<size_t>(length)));
  *consumed = header_size + static_cast<size_t>(length);
  return frame;
}

std::string EncodeClosePayload(uint16_t code) {
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  return out;
}

absl::StatusOr<CloseReason> ParseClosePayload(absl::string_view payload) {
  CloseReason close;
  if (payload.empty()) return close;
  if (payload.size() == 1) return Violation("close frame with a 1-byte payload");
  const uint16_t code = static_cast<uint16_t>(LoadBigEndian(payload, 0, 2));
  if (!IsSendableCloseCode(code)) return Violation(absl::StrCat("close frame with code ", code));
  close.code = code;
  close.reason = std::string(payload.substr(2));
  return close;
}

}  // namespace berth::testing::websocket
