#include "cri/streaming/spdy_frames.h"

#include "absl/strings/str_cat.h"
#include "cri/streaming/big_endian.h"

namespace berth::streaming {

namespace {

constexpr size_t kHeaderSize = 8;
constexpr uint16_t kVersion = 3;
constexpr uint32_t kStreamIdMask = 0x7fffffff;

// flags(8) | length(24)
void AppendFlagsAndLength(std::string& out, uint8_t flags, size_t length) {
  AppendBigEndian32(out, static_cast<uint32_t>(flags) << 24 | static_cast<uint32_t>(length & 0xffffff));
}

}  // namespace

void SpdyFrameReader::Append(absl::string_view bytes) {
  if (offset_ > 0 && offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > (64 << 10)) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
}

absl::StatusOr<std::optional<SpdyFrame>> SpdyFrameReader::Next() {
  absl::string_view rest = absl::string_view(buffer_).substr(offset_);
  if (rest.size() < kHeaderSize) return std::nullopt;
  uint32_t first = ReadBigEndian32(rest, 0);
  uint32_t second = ReadBigEndian32(rest, 4);
  size_t length = second & 0xffffff;
  SpdyFrame frame;
  frame.control = (first & 0x80000000u) != 0;
  frame.flags = static_cast<uint8_t>(second >> 24);
  if (frame.control) {
    uint16_t version = static_cast<uint16_t>((first >> 16) & 0x7fff);
    if (version != kVersion)
      return absl::InvalidArgumentError(absl::StrCat("SPDY control frame of version ", version));
    frame.type = static_cast<SpdyType>(first & 0xffff);
    if (length > kMaxSpdyControlPayload)
      return absl::InvalidArgumentError(
          absl::StrCat("SPDY control frame of ", length, " bytes is over the limit"));
  } else {
    frame.stream_id = first & kStreamIdMask;
    if (length > kMaxSpdyDataPayload)
      return absl::InvalidArgumentError(
          absl::StrCat("SPDY data frame of ", length, " bytes is over the limit"));
  }
  if (rest.size() < kHeaderSize + length) return std::nullopt;
  frame.payload.assign(rest.data() + kHeaderSize, length);
  offset_ += kHeaderSize + length;
  return frame;
}

std::string EncodeSpdyDataFrame(uint32_t stream_id, uint8_t flags, absl::string_view data) {
  std::string frame;
  frame.reserve(kHeaderSize + data.size());
  AppendBigEndian32(frame, stream_id & kStreamIdMask);
  AppendFlagsAndLength(frame, flags, data.size());
  frame.append(data.data(), data.size());
  return frame;
}

std::string EncodeSpdyControlFrame(SpdyType type, uint8_t flags, absl::string_view payload) {
  std::string frame;
  frame.reserve(kHeaderSize + payload.size());
  AppendBigEndian32(frame, 0x80000000u | static_cast<uint32_t>(kVersion) << 16 | static_cast<uint16_t>(type));
  AppendFlagsAndLength(frame, flags, payload.size());
  frame.append(payload.data(), payload.size());
  return frame;
}

absl::StatusOr<SynStream> ParseSynStream(absl::string_view payload) {
  if (payload.size() < 10)
    return absl::InvalidArgumentError(
        absl::StrCat("SYN_STREAM of ", payload.size(), " bytes is too short"));
  SynStream syn;
  syn.stream_id = ReadBigEndian32(payload, 0) & kStreamIdMask;
  syn.associated_stream_id = ReadBigEndian32(payload, 4) & kStreamIdMask;
  syn.priority = static_cast<uint8_t>(static_cast<uint8_t>(payload[8]) >> 5);
  syn.header_block = std::string(payload.substr(10));
  return syn;
}

absl::StatusOr<RstStream> ParseRstStream(absl::string_view payload) {
  if (payload.size() != 8)
    return absl::InvalidArgumentError(
        absl::StrCat("RST_STREAM of ", payload.size(), " bytes, not 8"));
  return RstStream{.stream_id = ReadBigEndian32(payload, 0) & kStreamIdMask, .status = ReadBigEndian32(payload, 4)};
}

absl::StatusOr<uint32_t> ParseStreamIdPrefix(absl::string_view payload) {
  if (payload.size() < 4)
    return absl::InvalidArgumentError("control frame too short for its stream id");
  return ReadBigEndian32(payload, 0) & kStreamIdMask;
}

std::string SynReplyPayload(uint32_t stream_id, absl::string_view header_block) {
  std::string payload;
  AppendBigEndian32(payload, stream_id & kStreamIdMask);
  payload.append(header_block.data(), header_block.size());
  return payload;
}

std::string RstStreamPayload(uint32_t stream_id, SpdyRstStatus status) {
  std::string payload;
  AppendBigEndian32(payload, stream_id & kStreamIdMask);
  AppendBigEndian32(payload, static_cast<uint32_t>(status));
  return payload;
}

std::string GoAwayPayload(uint32_t last_good_stream_id, SpdyGoAwayStatus status) {
  std::string payload;
  AppendBigEndian32(payload, last_good_stream_id & kStreamIdMask);
  AppendBigEndian32(payload, static_cast<uint32_t>(status));
  return payload;
}

}  // namespace berth::streaming
