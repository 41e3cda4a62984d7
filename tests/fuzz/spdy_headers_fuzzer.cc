// SpdyHeaderDecoder on arbitrary input, several blocks sharing one zlib
// context: either the input's bytes as compressed data, or raw blocks that
// are compressed here with the SPDY dictionary (to reach the block parser
// behind zlib, and the size limit with large values). What must hold: a
// failure is final; a block compressed here decodes exactly as
// ParseSpdyHeaders parses it uncompressed, and fails only when that parse
// fails or the block is over kMaxSpdyHeaderBlock; decoded headers survive
// SpdyHeaderEncoder and a fresh decoder; Serialize and Parse agree.

#include <cstdint>
#include <string>

#include "cri/streaming/spdy_headers.h"
#include "tests/fuzz/fuzz_support.h"

namespace berth::streaming::fuzz {
namespace {

bool IsLowerCaseName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (c >= 'A' && c <= 'Z') return false;
  return true;
}

// Serialize and Parse agree on every block Parse accepts.
absl::StatusOr<SpdyHeaders> ParseAndCheck(absl::string_view raw) {
  absl::StatusOr<SpdyHeaders> parsed = ParseSpdyHeaders(raw);
  if (!parsed.ok()) return parsed;
  for (const auto& [name, value] : *parsed)
    FUZZ_CHECK(IsLowerCaseName(name), "a parsed name is empty or not lower-case");
  std::string serialized = SerializeSpdyHeaders(*parsed);
  FUZZ_CHECK(serialized.size() == raw.size(), "serialized %zu bytes from %zu", serialized.size(),
             raw.size());
  absl::StatusOr<SpdyHeaders> again = ParseSpdyHeaders(serialized);
  FUZZ_CHECK(again.ok() && *again == *parsed, "serialized headers do not parse back");
  return parsed;
}

// A valid block around a value of `size` copies of one byte: large blocks
// that compress to almost nothing.
std::string LargeBlock(size_t size, char fill) {
  std::string raw;
  Append32(raw, 1);
  Append32(raw, 1);
  raw += "x";
  Append32(raw, static_cast<uint32_t>(size));
  raw.append(size, fill);
  return raw;
}

}  // namespace
}  // namespace berth::streaming::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::streaming;
  using namespace berth::streaming::fuzz;
  FuzzedDataProvider input(data, size);
  const bool compress_here = input.ConsumeBool();
  SpdyHeaderDecoder decoder;
  ClientDeflater deflater;
  SpdyHeaderEncoder encoder;
  SpdyHeaderDecoder round_trip;
  bool failed = false;
  int blocks = 0;
  while (input.remaining_bytes() > 0 && blocks++ < 64) {
    std::string block =
        compress_here && input.ConsumeIntegralInRange<int>(0, 7) == 7
            ? LargeBlock(input.ConsumeIntegralInRange<size_t>(kMaxSpdyHeaderBlock - 64,
                                                              kMaxSpdyHeaderBlock + 64),
                         input.ConsumeIntegral<char>())
            : input.ConsumeBytesAsString(input.ConsumeIntegralInRange<size_t>(0, 512));
    absl::StatusOr<SpdyHeaders> parsed = ParseAndCheck(block);
    absl::StatusOr<SpdyHeaders> decoded =
        decoder.Decode(compress_here ? deflater.Compress(block) : block);
    if (failed) {
      FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kFailedPrecondition,
                 "Decode after a failure did not fail for good");
      continue;
    }
    if (compress_here) {
      bool should_fail = !parsed.ok() || block.size() > kMaxSpdyHeaderBlock;
      FUZZ_CHECK(decoded.ok() == !should_fail, "decoding a %zu-byte block: %s", block.size(),
                 decoded.ok() ? "accepted" : "refused");
      if (decoded.ok()) FUZZ_CHECK(*decoded == *parsed, "decoded headers differ from parsed");
    }
    if (!decoded.ok()) {
      FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument,
                 "unexpected error code");
      failed = true;
      continue;
    }
    absl::StatusOr<SpdyHeaders> again = round_trip.Decode(encoder.Encode(*decoded));
    FUZZ_CHECK(again.ok() && *again == *decoded, "headers do not survive encode and decode");
  }
  return 0;
}
