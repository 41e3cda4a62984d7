#include "tests/support/spdy_client_codec.h"

#include <zlib.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace berth::testing::spdy {
namespace {

constexpr unsigned char kDictionary[] = {
#include "tests/support/spdy_test_dictionary.inc"
};
static_assert(sizeof(kDictionary) == 1423, "the SPDY/3 dictionary has 1,423 bytes");

absl::Status Violation(absl::string_view what) {
  return absl::InternalError(absl::StrCat("SPDY protocol violation: ", what));
}

void AppendU8(std::string* out, uint8_t value) { out->push_back(static_cast<char>(value)); }

void AppendU16(std::string* out, uint16_t value) {
  AppendU8(out, value >> 8);
  AppendU8(out, value & 0xFF);
}

void AppendU32(std::string* out, uint32_t value) {
  AppendU16(out, value >> 16);
  AppendU16(out, value & 0xFFFF);
}

uint32_t LoadU32(absl::string_view bytes, size_t offset) {
  auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + i]));
  };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

// Reads big-endian fields off a payload, failing instead of overrunning it.
class FieldReader {
 public:
  FieldReader(absl::string_view bytes, absl::string_view what) : bytes_(bytes), what_(what) {}

  absl::StatusOr<uint32_t> U32() {
    if (bytes_.size() - offset_ < 4) return Truncated();
    uint32_t value = LoadU32(bytes_, offset_);
    offset_ += 4;
    return value;
  }

  absl::StatusOr<std::string> Bytes(uint32_t count) {
    if (bytes_.size() - offset_ < count) return Truncated();
    std::string value(bytes_.substr(offset_, count));
    offset_ += count;
    return value;
  }

  size_t remaining() const { return bytes_.size() - offset_; }

 private:
  absl::Status Truncated() const {
    return Violation(absl::StrCat(what_, " is truncated at byte ", offset_, " of ", bytes_.size()));
  }

  absl::string_view bytes_;
  absl::string_view what_;
  size_t offset_ = 0;
};

bool IsKnownControlType(uint16_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kSynStream:
    case FrameType::kSynReply:
    case FrameType::kRstStream:
    case FrameType::kSettings:
    case FrameType::kPing:
    case FrameType::kGoAway:
    case FrameType::kHeaders:
    case FrameType::kWindowUpdate:
      return true;
  }
  return false;
}

absl::Status CheckLength(absl::string_view payload, size_t want, absl::string_view frame) {
  if (payload.size() != want) {
    return Violation(
        absl::StrCat(frame, " payload has ", payload.size(), " bytes (want ", want, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> NonZeroStreamId(uint32_t word, absl::string_view frame) {
  uint32_t stream_id = word & kMaxStreamId;
  if (stream_id == 0) return Violation(absl::StrCat(frame, " for stream 0"));
  return stream_id;
}

void DeleteDeflater(z_stream_s* stream) {
  deflateEnd(stream);
  delete stream;
}

void DeleteInflater(z_stream_s* stream) {
  inflateEnd(stream);
  delete stream;
}

std::string ZlibMessage(const z_stream_s& stream, int code) {
  return stream.msg != nullptr ? std::string(stream.msg) : absl::StrCat("zlib error ", code);
}

}  // namespace

absl::string_view HeaderDictionary() {
  return absl::string_view(reinterpret_cast<const char*>(kDictionary), sizeof(kDictionary));
}

absl::StatusOr<std::optional<Frame>> ParseFrame(absl::string_view buffer, size_t* consumed) {
  if (buffer.size() < kFrameHeaderSize) return std::nullopt;
  const uint32_t first = LoadU32(buffer, 0);
  const uint32_t second = LoadU32(buffer, 4);
  Frame frame;
  frame.flags = static_cast<uint8_t>(second >> 24);
  const uint32_t length = second & kMaxFrameLength;
  if ((first & 0x80000000u) != 0) {
    const uint16_t version = (first >> 16) & 0x7FFF;
    const uint16_t type = first & 0xFFFF;
    if (version != kVersion) {
      return Violation(absl::StrCat("control frame of version ", version, " (want 3)"));
    }
    // SPDY says to ignore unknown types, but no Go peer sends one: here it
    // means the framing is off, which is worth a failure.
    if (!IsKnownControlType(type))
      return Violation(absl::StrCat("unknown control frame type ", type));
    frame.is_control = true;
    frame.type = type;
  } else {
    frame.stream_id = first;
    if (frame.stream_id == 0) return Violation("data frame on stream 0");
  }
  if (buffer.size() - kFrameHeaderSize < length) return std::nullopt;
  frame.payload = std::string(buffer.substr(kFrameHeaderSize, length));
  *consumed = kFrameHeaderSize + length;
  return frame;
}

std::string EncodeControlFrame(FrameType type, uint8_t flags, absl::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderSize + payload.size());
  AppendU16(&out, 0x8000 | kVersion);
  AppendU16(&out, static_cast<uint16_t>(type));
  AppendU32(&out, static_cast<uint32_t>(flags) << 24 | static_cast<uint32_t>(payload.size()));
  out.append(payload.data(), payload.size());
  return out;
}

std::string EncodeDataFrame(uint32_t stream_id, uint8_t flags, absl::string_view data) {
  std::string out;
  out.reserve(kFrameHeaderSize + data.size());
  AppendU32(&out, stream_id & kMaxStreamId);
  AppendU32(&out, static_cast<uint32_t>(flags) << 24 | static_cast<uint32_t>(data.size()));
  out.append(data.data(), data.size());
  return out;
}

std::string EncodeSynStream(uint32_t stream_id, uint8_t flags,
                            absl::string_view compressed_headers) {
  std::string payload;
  AppendU32(&payload, stream_id & kMaxStreamId);
  AppendU32(&payload, 0);  // associated stream
  AppendU8(&payload, 0);   // priority (3 bits) and unused
  AppendU8(&payload, 0);   // slot
  payload.append(compressed_headers.data(), compressed_headers.size());
  return EncodeControlFrame(FrameType::kSynStream, flags, payload);
}

std::string EncodePing(uint32_t id) {
  std::string payload;
  AppendU32(&payload, id);
  return EncodeControlFrame(FrameType::kPing, 0, payload);
}

std::string EncodeRstStream(uint32_t stream_id, uint32_t status) {
  std::string payload;
  AppendU32(&payload, stream_id & kMaxStreamId);
  AppendU32(&payload, status);
  return EncodeControlFrame(FrameType::kRstStream, 0, payload);
}

std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status) {
  std::string payload;
  AppendU32(&payload, last_good_stream_id & kMaxStreamId);
  AppendU32(&payload, status);
  return EncodeControlFrame(FrameType::kGoAway, 0, payload);
}

absl::StatusOr<SynStreamFrame> ParseSynStream(absl::string_view payload) {
  if (payload.size() < 10) {
    return Violation(
        absl::StrCat("SYN_STREAM payload has ", payload.size(), " bytes (want >= 10)"));
  }
  SynStreamFrame frame;
  auto stream_id = NonZeroStreamId(LoadU32(payload, 0), "SYN_STREAM");
  if (!stream_id.ok()) return stream_id.status();
  frame.stream_id = *stream_id;
  frame.associated_stream_id = LoadU32(payload, 4) & kMaxStreamId;
  frame.priority = static_cast<uint8_t>(payload[8]) >> 5;
  frame.compressed_headers = std::string(payload.substr(10));
  return frame;
}

absl::StatusOr<StreamHeadersFrame> ParseStreamHeaders(absl::string_view payload) {
  if (payload.size() < 4) {
    return Violation(
        absl::StrCat("SYN_REPLY/HEADERS payload has ", payload.size(), " bytes (want >= 4)"));
  }
  StreamHeadersFrame frame;
  auto stream_id = NonZeroStreamId(LoadU32(payload, 0), "SYN_REPLY/HEADERS");
  if (!stream_id.ok()) return stream_id.status();
  frame.stream_id = *stream_id;
  frame.compressed_headers = std::string(payload.substr(4));
  return frame;
}

absl::StatusOr<RstStreamFrame> ParseRstStream(absl::string_view payload) {
  if (absl::Status status = CheckLength(payload, 8, "RST_STREAM"); !status.ok()) return status;
  RstStreamFrame frame;
  auto stream_id = NonZeroStreamId(LoadU32(payload, 0), "RST_STREAM");
  if (!stream_id.ok()) return stream_id.status();
  frame.stream_id = *stream_id;
  frame.status = LoadU32(payload, 4);
  // SPDY/3 defines status codes 1 (PROTOCOL_ERROR) to 11 (FRAME_TOO_LARGE).
  if (frame.status == 0 || frame.status > 11) {
    return Violation(absl::StrCat("RST_STREAM with undefined status ", frame.status));
  }
  return frame;
}

absl::StatusOr<uint32_t> ParsePing(absl::string_view payload) {
  if (absl::Status status = CheckLength(payload, 4, "PING"); !status.ok()) return status;
  return LoadU32(payload, 0);
}

absl::StatusOr<GoAwayFrame> ParseGoAway(absl::string_view payload) {
  if (absl::Status status = CheckLength(payload, 8, "GOAWAY"); !status.ok()) return status;
  GoAwayFrame frame;
  frame.last_good_stream_id = LoadU32(payload, 0) & kMaxStreamId;
  frame.status = LoadU32(payload, 4);
  if (frame.status > 2)
    return Violation(absl::StrCat("GOAWAY with undefined status ", frame.status));
  return frame;
}

absl::StatusOr<WindowUpdateFrame> ParseWindowUpdate(absl::string_view payload) {
  if (absl::Status status = CheckLength(payload, 8, "WINDOW_UPDATE"); !status.ok()) return status;
  WindowUpdateFrame frame;
  frame.stream_id = LoadU32(payload, 0) & kMaxStreamId;
  frame.delta = LoadU32(payload, 4) & kMaxStreamId;
  if (frame.delta == 0) return Violation("WINDOW_UPDATE with a delta of 0");
  return frame;
}

absl::Status ValidateSettings(absl::string_view payload) {
  if (payload.size() < 4) {
    return Violation(absl::StrCat("SETTINGS payload has ", payload.size(), " bytes (want >= 4)"));
  }
  const uint64_t count = LoadU32(payload, 0);
  if (4 + 8 * count != payload.size()) {
    return Violation(
        absl::StrCat("SETTINGS announces ", count, " entries in ", payload.size(), " bytes"));
  }
  return absl::OkStatus();
}

std::string SerializeHeaderBlock(const HeaderBlock& headers) {
  std::string out;
  AppendU32(&out, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    AppendU32(&out, static_cast<uint32_t>(name.size()));
    out.append(name);
    AppendU32(&out, static_cast<uint32_t>(value.size()));
    out.append(value);
  }
  return out;
}

absl::StatusOr<HeaderBlock> ParseHeaderBlock(absl::string_view block) {
  FieldReader reader(block, "header block");
  auto count = reader.U32();
  if (!count.ok()) return count.status();
  // Each pair takes at least 8 bytes: refuse a count the block cannot hold
  // before reserving anything for it.
  if (*count > reader.remaining() / 8) {
    return Violation(
        absl::StrCat("header block announces ", *count, " pairs in ", block.size(), " bytes"));
  }
  HeaderBlock headers;
  std::set<std::string> seen;
  for (uint32_t i = 0; i < *count; ++i) {
    auto name_length = reader.U32();
    if (!name_length.ok()) return name_length.status();
    auto name = reader.Bytes(*name_length);
    if (!name.ok()) return name.status();
    auto value_length = reader.U32();
    if (!value_length.ok()) return value_length.status();
    auto value = reader.Bytes(*value_length);
    if (!value.ok()) return value.status();
    if (name->empty()) return Violation("empty header name");
    if (absl::AsciiStrToLower(*name) != *name) {
      return Violation(absl::StrCat("header name \"", *name, "\" is not lower-case"));
    }
    if (!seen.insert(*name).second) {
      return Violation(absl::StrCat("header \"", *name, "\" appears twice"));
    }
    headers.emplace_back(*std::move(name), *std::move(value));
  }
  if (reader.remaining() != 0) {
    return Violation(absl::StrCat("header block has ", reader.remaining(), " trailing bytes"));
  }
  return headers;
}

absl::StatusOr<HeaderCompressor> HeaderCompressor::Create() {
  ZStream stream(new z_stream{}, DeleteDeflater);
  int rc = deflateInit(stream.get(), Z_BEST_COMPRESSION);
  if (rc != Z_OK)
    return absl::InternalError(absl::StrCat("deflateInit: ", ZlibMessage(*stream, rc)));
  rc = deflateSetDictionary(stream.get(), kDictionary, sizeof(kDictionary));
  if (rc != Z_OK) {
    return absl::InternalError(absl::StrCat("deflateSetDictionary: ", ZlibMessage(*stream, rc)));
  }
  return HeaderCompressor(std::move(stream));
}

absl::StatusOr<std::string> HeaderCompressor::Compress(absl::string_view block) {
  z_stream_s& stream = *stream_;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  stream.avail_in = static_cast<uInt>(block.size());
  std::string out;
  char chunk[4096];
  do {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    int rc = deflate(&stream, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::InternalError(absl::StrCat("deflate: ", ZlibMessage(stream, rc)));
    }
    out.append(chunk, sizeof(chunk) - stream.avail_out);
  } while (stream.avail_out == 0);
  return out;
}

absl::StatusOr<HeaderDecompressor> HeaderDecompressor::Create() {
  ZStream stream(new z_stream{}, DeleteInflater);
  int rc = inflateInit(stream.get());
  if (rc != Z_OK)
    return absl::InternalError(absl::StrCat("inflateInit: ", ZlibMessage(*stream, rc)));
  return HeaderDecompressor(std::move(stream));
}

absl::StatusOr<std::string> HeaderDecompressor::Decompress(absl::string_view compressed,
                                                           size_t max_size) {
  z_stream_s& stream = *stream_;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char chunk[4096];
  while (true) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    int rc = inflate(&stream, Z_SYNC_FLUSH);
    out.append(chunk, sizeof(chunk) - stream.avail_out);
    if (out.size() > max_size) {
      return Violation(absl::StrCat("header block inflates beyond ", max_size, " bytes"));
    }
    if (rc == Z_NEED_DICT) {
      rc = inflateSetDictionary(&stream, kDictionary, sizeof(kDictionary));
      if (rc != Z_OK) {
        return Violation(absl::StrCat("header block wants a dictionary other than SPDY/3's: ",
                                      ZlibMessage(stream, rc)));
      }
      continue;
    }
    if (rc == Z_STREAM_END) {
      return Violation("header compression stream ended (later header blocks are unreadable)");
    }
    if (rc == Z_BUF_ERROR) {
      if (stream.avail_in == 0) break;  // all input used, no more output
      if (stream.avail_out != 0) return Violation("header block inflation makes no progress");
      continue;
    }
    if (rc != Z_OK) {
      return Violation(absl::StrCat("header block does not inflate: ", ZlibMessage(stream, rc)));
    }
    if (stream.avail_in == 0 && stream.avail_out != 0) break;
  }
  return out;
}

}  // namespace berth::testing::spdy
