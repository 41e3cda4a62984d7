#pragma once

// SPDY/3.1 framing (draft 3, section 2.2), without any I/O: a reader that
// splits a byte stream into frames, and encoders for the frames a server
// sends. Everything is big-endian.
//
//   control: 1 | version(15) | type(16) | flags(8) | length(24) | payload
//   data:    0 | stream-id(31)           | flags(8) | length(24) | payload

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::streaming {

enum class SpdyType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kNoop = 5,  // draft 2 only; ignored
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kSpdyFin = 0x01;
inline constexpr uint8_t kSpdyUnidirectional = 0x02;

// RST_STREAM status codes.
enum class SpdyRstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kCancel = 5,
  kInternalError = 6,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
};

// GOAWAY status codes.
enum class SpdyGoAwayStatus : uint32_t { kOk = 0, kProtocolError = 1, kInternalError = 2 };

struct SpdyFrame {
  bool control = false;
  SpdyType type{};         // control frames
  uint32_t stream_id = 0;  // data frames
  uint8_t flags = 0;
  std::string payload;
};

// Bounds one frame's payload: a data frame from Go peers is at most one
// 32 KiB copy buffer; a header block is small.
inline constexpr size_t kMaxSpdyDataPayload = 1 << 20;
inline constexpr size_t kMaxSpdyControlPayload = 64 << 10;

class SpdyFrameReader {
 public:
  void Append(absl::string_view bytes);
  // The next whole frame; nullopt until more bytes arrive. An error (wrong
  // version, oversized frame) is final: the connection must be closed.
  absl::StatusOr<std::optional<SpdyFrame>> Next();
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  size_t offset_ = 0;
};

std::string EncodeSpdyDataFrame(uint32_t stream_id, uint8_t flags, absl::string_view data);
std::string EncodeSpdyControlFrame(SpdyType type, uint8_t flags, absl::string_view payload);

// Control frame payloads.
struct SynStream {
  uint32_t stream_id = 0;
  uint32_t associated_stream_id = 0;
  uint8_t priority = 0;
  std::string header_block;  // compressed
};
absl::StatusOr<SynStream> ParseSynStream(absl::string_view payload);

struct RstStream {
  uint32_t stream_id = 0;
  uint32_t status = 0;
};
absl::StatusOr<RstStream> ParseRstStream(absl::string_view payload);

// The stream id that HEADERS and WINDOW_UPDATE name.
absl::StatusOr<uint32_t> ParseStreamIdPrefix(absl::string_view payload);

std::string SynReplyPayload(uint32_t stream_id, absl::string_view header_block);
std::string RstStreamPayload(uint32_t stream_id, SpdyRstStatus status);
std::string GoAwayPayload(uint32_t last_good_stream_id, SpdyGoAwayStatus status);

}  // namespace berth::streaming
