#pragma once

// SPDY/3 header blocks (draft 3, section 2.6.10): count(32), then each name
// and value with a 32-bit length; zlib-compressed with one context per
// direction for the whole connection, primed with the SPDY dictionary.

#include <zlib.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::streaming {

// Names lower-case; a value with several parts keeps its NUL separators.
using SpdyHeaders = std::vector<std::pair<std::string, std::string>>;

// The first value of `name`, or "".
std::string SpdyHeaderValue(const SpdyHeaders& headers, absl::string_view name);

// A whole block may inflate to at most this; more closes the connection.
inline constexpr size_t kMaxSpdyHeaderBlock = 64 << 10;

class SpdyHeaderDecoder {
 public:
  SpdyHeaderDecoder();
  ~SpdyHeaderDecoder();
  SpdyHeaderDecoder(const SpdyHeaderDecoder&) = delete;
  SpdyHeaderDecoder& operator=(const SpdyHeaderDecoder&) = delete;

  // Errors (bad zlib, wrong lengths, oversized) leave the context unusable:
  // the connection must be closed.
  absl::StatusOr<SpdyHeaders> Decode(absl::string_view compressed);

 private:
  absl::StatusOr<std::string> Inflate(absl::string_view compressed);

  z_stream zlib_{};
  bool ok_ = false;
};

class SpdyHeaderEncoder {
 public:
  SpdyHeaderEncoder();
  ~SpdyHeaderEncoder();
  SpdyHeaderEncoder(const SpdyHeaderEncoder&) = delete;
  SpdyHeaderEncoder& operator=(const SpdyHeaderEncoder&) = delete;

  std::string Encode(const SpdyHeaders& headers);

 private:
  z_stream zlib_{};
};

// The uncompressed block, for tests and the fuzzer.
std::string SerializeSpdyHeaders(const SpdyHeaders& headers);
absl::StatusOr<SpdyHeaders> ParseSpdyHeaders(absl::string_view block);

}  // namespace berth::streaming
