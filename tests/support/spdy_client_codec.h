#pragma once

// SPDY/3.1 framing for the test streaming client, written from the protocol
// text (and kept apart from the server's codec in cri/streaming/ on purpose:
// a shared bug must not pass both ways). Pure functions and the two zlib
// header contexts; the session logic lives in spdy_client_session.h.
//
// Every parser is strict: a length that does not match the frame type, a
// bad version, an unknown type or trailing bytes are errors, because this
// client exists to catch server bugs, not to tolerate them.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct z_stream_s;

namespace berth::testing::spdy {

inline constexpr uint16_t kVersion = 3;
inline constexpr size_t kFrameHeaderSize = 8;
// The length field has 24 bits.
inline constexpr uint32_t kMaxFrameLength = 0xFFFFFF;
// Stream ids, ping ids and window deltas have 31 bits.
inline constexpr uint32_t kMaxStreamId = 0x7FFFFFFF;

enum class FrameType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;
inline constexpr uint8_t kFlagUnidirectional = 0x02;

// RST_STREAM status codes used by the client.
inline constexpr uint32_t kRstProtocolError = 1;
inline constexpr uint32_t kRstCancel = 5;
// GOAWAY status OK.
inline constexpr uint32_t kGoAwayOk = 0;

// Header name/value pairs in wire order; names are lower-case, several
// values of one name are joined by NUL.
using HeaderBlock = std::vector<std::pair<std::string, std::string>>;

// The SPDY/3 dictionary (1,423 bytes) that primes both zlib contexts.
absl::string_view HeaderDictionary();

// One frame as it came off the wire. Control frames keep their type and
// payload; data frames their stream id and data (in `payload`).
struct Frame {
  bool is_control = false;
  uint16_t type = 0;       // control frames only
  uint32_t stream_id = 0;  // data frames only
  uint8_t flags = 0;
  std::string payload;
};

// Decodes the frame at the front of `buffer`. Returns nullopt when the
// buffer holds only part of a frame; otherwise sets *consumed to the frame's
// size. Errors: control version other than 3, unknown control type, data
// frame on stream 0.
absl::StatusOr<std::optional<Frame>> ParseFrame(absl::string_view buffer, size_t* consumed);

// Encoders for what the client sends.
std::string EncodeControlFrame(FrameType type, uint8_t flags, absl::string_view payload);
std::string EncodeDataFrame(uint32_t stream_id, uint8_t flags, absl::string_view data);
// Priority 0, no associated stream, slot 0 (as spdystream sends them).
std::string EncodeSynStream(uint32_t stream_id, uint8_t flags,
                            absl::string_view compressed_headers);
std::string EncodePing(uint32_t id);
std::string EncodeRstStream(uint32_t stream_id, uint32_t status);
std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status);

// Control payloads, length-checked.
struct SynStreamFrame {
  uint32_t stream_id = 0;
  uint32_t associated_stream_id = 0;
  uint8_t priority = 0;
  std::string compressed_headers;
};
absl::StatusOr<SynStreamFrame> ParseSynStream(absl::string_view payload);

// SYN_REPLY and HEADERS share this layout.
struct StreamHeadersFrame {
  uint32_t stream_id = 0;
  std::string compressed_headers;
};
absl::StatusOr<StreamHeadersFrame> ParseStreamHeaders(absl::string_view payload);

struct RstStreamFrame {
  uint32_t stream_id = 0;
  uint32_t status = 0;
};
absl::StatusOr<RstStreamFrame> ParseRstStream(absl::string_view payload);

absl::StatusOr<uint32_t> ParsePing(absl::string_view payload);

struct GoAwayFrame {
  uint32_t last_good_stream_id = 0;
  uint32_t status = 0;
};
absl::StatusOr<GoAwayFrame> ParseGoAway(absl::string_view payload);

struct WindowUpdateFrame {
  uint32_t stream_id = 0;
  uint32_t delta = 0;
};
absl::StatusOr<WindowUpdateFrame> ParseWindowUpdate(absl::string_view payload);

// Checks a SETTINGS payload: a count and that many 8-byte entries.
absl::Status ValidateSettings(absl::string_view payload);

// The uncompressed header block: count(32), then name-len(32) name
// value-len(32) value per pair.
std::string SerializeHeaderBlock(const HeaderBlock& headers);
// Strict: every length within the block, no trailing bytes, names non-empty,
// lower-case and unique.
absl::StatusOr<HeaderBlock> ParseHeaderBlock(absl::string_view block);

// Deflates header blocks for one direction of one connection: a single
// zlib stream primed with the dictionary, SYNC_FLUSH after each block.
class HeaderCompressor {
 public:
  static absl::StatusOr<HeaderCompressor> Create();
  absl::StatusOr<std::string> Compress(absl::string_view block);

 private:
  using ZStream = std::unique_ptr<z_stream_s, void (*)(z_stream_s*)>;
  explicit HeaderCompressor(ZStream stream) : stream_(std::move(stream)) {}
  ZStream stream_;
};

// Inflates the peer's header blocks: one zlib stream for the connection,
// given the dictionary when it asks for it.
class HeaderDecompressor {
 public:
  static absl::StatusOr<HeaderDecompressor> Create();
  // Fails on corrupt input, on the end of the zlib stream (later blocks
  // could not be read) and on output beyond `max_size` bytes.
  absl::StatusOr<std::string> Decompress(absl::string_view compressed, size_t max_size);

 private:
  using ZStream = std::unique_ptr<z_stream_s, void (*)(z_stream_s*)>;
  explicit HeaderDecompressor(ZStream stream) : stream_(std::move(stream)) {}
  ZStream stream_;
};

}  // namespace berth::testing::spdy
