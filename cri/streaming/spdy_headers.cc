#include "cri/streaming/spdy_headers.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cri/streaming/big_endian.h"
#include "cri/streaming/spdy_dictionary.h"

namespace berth::streaming {

namespace {

Bytef* ZlibBytes(absl::string_view bytes) {
  return reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
}

// Takes `length` bytes at `at` of `block`, or fails naming `what`.
absl::StatusOr<absl::string_view> TakeSized(absl::string_view block, size_t& at,
                                            absl::string_view what) {
  if (block.size() - at < 4)
    return absl::InvalidArgumentError(absl::StrCat("header block ends inside a ", what, " length"));
  uint32_t length = ReadBigEndian32(block, at);
  at += 4;
  if (length > block.size() - at)
    return absl::InvalidArgumentError(
        absl::StrCat("header ", what, " of ", length, " bytes runs past the block"));
  absl::string_view value = block.substr(at, length);
  at += length;
  return value;
}

}  // namespace

std::string SpdyHeaderValue(const SpdyHeaders& headers, absl::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return std::string(value.substr(0, value.find('\0')));
  }
  return "";
}

std::string SerializeSpdyHeaders(const SpdyHeaders& headers) {
  std::string block;
  AppendBigEndian32(block, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    AppendBigEndian32(block, static_cast<uint32_t>(name.size()));
    block += name;
    AppendBigEndian32(block, static_cast<uint32_t>(value.size()));
    block += value;
  }
  return block;
}

absl::StatusOr<SpdyHeaders> ParseSpdyHeaders(absl::string_view block) {
  if (block.size() < 4) return absl::InvalidArgumentError("header block without a count");
  uint32_t count = ReadBigEndian32(block, 0);
  // Each pair takes at least 8 bytes: a count beyond that is a lie.
  if (count > (block.size() - 4) / 8)
    return absl::InvalidArgumentError(
        absl::StrCat("header block claims ", count, " headers in ", block.size(), " bytes"));
  SpdyHeaders headers;
  headers.reserve(count);
  size_t at = 4;
  for (uint32_t i = 0; i < count; ++i) {
    absl::StatusOr<absl::string_view> name = TakeSized(block, at, "name");
    if (!name.ok()) return name.status();
    absl::StatusOr<absl::string_view> value = TakeSized(block, at, "value");
    if (!value.ok()) return value.status();
    if (name->empty()) return absl::InvalidArgumentError("empty header name");
    // Go's framer lower-cases names; accept what it sends.
    headers.emplace_back(absl::AsciiStrToLower(*name), std::string(*value));
  }
  if (at != block.size())
    return absl::InvalidArgumentError(
        absl::StrCat(block.size() - at, " stray bytes after the header block"));
  return headers;
}

SpdyHeaderDecoder::SpdyHeaderDecoder() { ok_ = inflateInit(&zlib_) == Z_OK; }

SpdyHeaderDecoder::~SpdyHeaderDecoder() { inflateEnd(&zlib_); }

absl::StatusOr<std::string> SpdyHeaderDecoder::Inflate(absl::string_view compressed) {
  if (!ok_) return absl::FailedPreconditionError("the header decompressor failed earlier");
  std::string out;
  zlib_.next_in = ZlibBytes(compressed);
  zlib_.avail_in = static_cast<uInt>(compressed.size());
  char chunk[4096];
  for (;;) {
    zlib_.next_out = reinterpret_cast<Bytef*>(chunk);
    zlib_.avail_out = sizeof(chunk);
    int result = inflate(&zlib_, Z_SYNC_FLUSH);
    if (result == Z_NEED_DICT) {
      absl::string_view dictionary = SpdyHeaderDictionary();
      if (inflateSetDictionary(&zlib_, ZlibBytes(dictionary),
                               static_cast<uInt>(dictionary.size())) == Z_OK)
        continue;
    }
    size_t produced = sizeof(chunk) - zlib_.avail_out;
    if (result != Z_OK && !(result == Z_BUF_ERROR && zlib_.avail_in == 0)) {
      ok_ = false;
      return absl::InvalidArgumentError(
          absl::StrCat("header block does not inflate: ", zlib_.msg ? zlib_.msg : "zlib error"));
    }
    out.append(chunk, produced);
    if (out.size() > kMaxSpdyHeaderBlock) {
      ok_ = false;
      return absl::InvalidArgumentError(
          absl::StrCat("header block inflates past ", kMaxSpdyHeaderBlock, " bytes"));
    }
    // Done when all input is taken and zlib had room to spare.
    if (zlib_.avail_in == 0 && zlib_.avail_out > 0) break;
  }
  return out;
}

absl::StatusOr<SpdyHeaders> SpdyHeaderDecoder::Decode(absl::string_view compressed) {
  absl::StatusOr<std::string> block = Inflate(compressed);
  if (!block.ok()) return block.status();
  absl::StatusOr<SpdyHeaders> headers = ParseSpdyHeaders(*block);
  if (!headers.ok()) ok_ = false;
  return headers;
}

SpdyHeaderEncoder::SpdyHeaderEncoder() {
  deflateInit(&zlib_, Z_DEFAULT_COMPRESSION);
  absl::string_view dictionary = SpdyHeaderDictionary();
  deflateSetDictionary(&zlib_, ZlibBytes(dictionary), static_cast<uInt>(dictionary.size()));
}

SpdyHeaderEncoder::~SpdyHeaderEncoder() { deflateEnd(&zlib_); }

std::string SpdyHeaderEncoder::Encode(const SpdyHeaders& headers) {
  std::string block = SerializeSpdyHeaders(headers);
  std::string out(deflateBound(&zlib_, block.size()) + 16, '\0');
  zlib_.next_in = ZlibBytes(block);
  zlib_.avail_in = static_cast<uInt>(block.size());
  zlib_.next_out = reinterpret_cast<Bytef*>(out.data());
  zlib_.avail_out = static_cast<uInt>(out.size());
  deflate(&zlib_, Z_SYNC_FLUSH);
  out.resize(out.size() - zlib_.avail_out);
  return out;
}

}  // namespace berth::streaming
