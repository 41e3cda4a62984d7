#pragma once

// Layer decompression, detected from the stream's first bytes (media types
// are routinely wrong): gzip (one or more members), zstd (one or more
// frames) or plain tar. The decompressed bytes are hashed on the way out,
// which is the layer's diff ID.

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "snapshotter/digest.h"

namespace berth::snapshotter {

// Fills `buffer` with up to `capacity` bytes; 0 means the end of the stream.
using ByteSource = std::function<absl::StatusOr<size_t>(char* buffer, size_t capacity)>;

enum class Compression { kNone, kGzip, kZstd };

class DecompressingReader {
 public:
  static constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();

  // Reading past `max_size` decompressed bytes fails with ResourceExhausted:
  // a few compressed megabytes can expand into terabytes.
  explicit DecompressingReader(ByteSource source, int64_t max_size = kUnlimited);
  ~DecompressingReader();
  DecompressingReader(const DecompressingReader&) = delete;
  DecompressingReader& operator=(const DecompressingReader&) = delete;

  // Up to `capacity` decompressed bytes; 0 at the end of the stream.
  // DataLoss for a corrupt or truncated stream.
  absl::StatusOr<size_t> Read(char* buffer, size_t capacity);
  // Reads the rest of the stream (tar padding after the end marker) so the
  // digest covers every byte.
  absl::Status Drain();

  Compression compression() const { return compression_; }
  // Valid once Read has returned 0 (or Drain succeeded).
  const Digest& diff_id() const { return diff_id_; }
  int64_t uncompressed_size() const { return uncompressed_size_; }

 private:
  struct Codec;
  absl::Status Detect();
  absl::StatusOr<size_t> Fill();
  absl::StatusOr<size_t> ReadDecoded(char* buffer, size_t capacity);

  ByteSource source_;
  std::unique_ptr<Codec> codec_;
  Compression compression_ = Compression::kNone;
  bool detected_ = false;
  bool source_done_ = false;
  bool done_ = false;
  std::string input_;  // compressed bytes read but not yet consumed
  size_t input_pos_ = 0;
  Sha256 hasher_;
  Digest diff_id_;
  int64_t uncompressed_size_ = 0;
  int64_t max_size_;
};

}  // namespace berth::snapshotter
