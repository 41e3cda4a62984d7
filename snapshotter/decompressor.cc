#include "snapshotter/decompressor.h"

#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/status_macros.h"

namespace berth::snapshotter {
namespace {

constexpr size_t kInputChunk = 256 * 1024;

}  // namespace

struct DecompressingReader::Codec {
  z_stream zlib{};
  bool zlib_ready = false;
  bool gzip_member_ended = false;
  ZSTD_DCtx* zstd = nullptr;
  // ZSTD_decompressStream's last hint: non-zero while a frame is incomplete.
  size_t zstd_pending = 0;

  ~Codec() {
    if (zlib_ready) inflateEnd(&zlib);
    if (zstd != nullptr) ZSTD_freeDCtx(zstd);
  }
};

DecompressingReader::DecompressingReader(ByteSource source, int64_t max_size)
    : source_(std::move(source)), codec_(std::make_unique<Codec>()), max_size_(max_size) {}

DecompressingReader::~DecompressingReader() = default;

absl::StatusOr<size_t> DecompressingReader::Fill() {
  if (input_pos_ > 0) {
    input_.erase(0, input_pos_);
    input_pos_ = 0;
  }
  size_t old_size = input_.size();
  input_.resize(old_size + kInputChunk);
  absl::StatusOr<size_t> n = source_(input_.data() + old_size, kInputChunk);
  if (!n.ok()) {
    input_.resize(old_size);
    return n.status();
  }
  input_.resize(old_size + *n);
  if (*n == 0) source_done_ = true;
  return *n;
}

absl::Status DecompressingReader::Detect() {
  detected_ = true;
  while (input_.size() < 4 && !source_done_) RETURN_IF_ERROR(Fill().status());
  auto byte = [&](size_t i) { return static_cast<unsigned char>(input_[i]); };
  if (input_.size() >= 2 && byte(0) == 0x1f && byte(1) == 0x8b) {
    compression_ = Compression::kGzip;
    // 15 window bits + 16: gzip wrapper only.
    if (inflateInit2(&codec_->zlib, 15 + 16) != Z_OK) {
      return absl::InternalError("inflateInit2 failed");
    }
    codec_->zlib_ready = true;
  } else if (input_.size() >= 4 && byte(0) == 0x28 && byte(1) == 0xb5 && byte(2) == 0x2f &&
             byte(3) == 0xfd) {
    compression_ = Compression::kZstd;
    codec_->zstd = ZSTD_createDCtx();
    if (codec_->zstd == nullptr) return absl::ResourceExhaustedError("ZSTD_createDCtx failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> DecompressingReader::ReadDecoded(char* buffer, size_t capacity) {
  while (true) {
    if (input_pos_ == input_.size()) {
      if (source_done_) break;
      ASSIGN_OR_RETURN(size_t n, Fill());
      if (n == 0) break;
    }
    const char* in = input_.data() + input_pos_;
    size_t in_size = input_.size() - input_pos_;
    switch (compression_) {
      case Compression::kNone: {
        size_t n = std::min(capacity, in_size);
        memcpy(buffer, in, n);
        input_pos_ += n;
        return n;
      }
      case Compression::kGzip: {
        z_stream& z = codec_->zlib;
        if (codec_->gzip_member_ended) {
          // Another gzip member follows (pigz and concatenated streams make these).
          if (inflateReset(&z) != Z_OK) return absl::InternalError("inflateReset failed");
          codec_->gzip_member_ended = false;
        }
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
        z.avail_in = static_cast<uInt>(in_size);
        z.next_out = reinterpret_cast<Bytef*>(buffer);
        z.avail_out = static_cast<uInt>(capacity);
        int rc = inflate(&z, Z_NO_FLUSH);
        input_pos_ += in_size - z.avail_in;
        size_t produced = capacity - z.avail_out;
        if (rc == Z_STREAM_END) {
          codec_->gzip_member_ended = true;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
          return absl::DataLossError(
              absl::StrCat("corrupt gzip stream: ", z.msg != nullptr ? z.msg : "inflate failed"));
        }
        if (produced > 0) return produced;
        break;
      }
      case Compression::kZstd: {
        ZSTD_inBuffer zin{in, in_size, 0};
        ZSTD_outBuffer zout{buffer, capacity, 0};
        size_t rc = ZSTD_decompressStream(codec_->zstd, &zout, &zin);
        input_pos_ += zin.pos;
        if (ZSTD_isError(rc)) {
          return absl::DataLossError(absl::StrCat("corrupt zstd stream: ", ZSTD_getErrorName(rc)));
        }
        codec_->zstd_pending = rc;
        if (zout.pos > 0) return zout.pos;
        break;
      }
    }
  }
  // The source ended: a compressed stream must have ended cleanly too.
  if (compression_ == Compression::kGzip && !codec_->gzip_member_ended) {
    return absl::DataLossError("gzip stream is truncated");
  }
  if (compression_ == Compression::kZstd && codec_->zstd_pending != 0) {
    return absl::DataLossError("zstd stream is truncated");
  }
  return size_t{0};
}

absl::StatusOr<size_t> DecompressingReader::Read(char* buffer, size_t capacity) {
  if (done_ || capacity == 0) return size_t{0};
  if (!detected_) RETURN_IF_ERROR(Detect());
  ASSIGN_OR_RETURN(size_t n, ReadDecoded(buffer, capacity));
  if (n == 0) {
    done_ = true;
    diff_id_ = hasher_.Finish();
    return n;
  }
  hasher_.Update(buffer, n);
  uncompressed_size_ += static_cast<int64_t>(n);
  if (uncompressed_size_ > max_size_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("decompressed stream exceeds ", max_size_, " bytes"));
  }
  return n;
}

absl::Status DecompressingReader::Drain() {
  std::string scratch(kInputChunk, '\0');
  while (true) {
    ASSIGN_OR_RETURN(size_t n, Read(scratch.data(), scratch.size()));
    if (n == 0) return absl::OkStatus();
  }
}

}  // namespace berth::snapshotter
