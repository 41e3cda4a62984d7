#pragma once

// A tar archive read entry by entry from a byte stream (gzip, zstd or
// plain, detected), with libarchive doing the tar format only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "snapshotter/decompressor.h"

struct archive;
struct archive_entry;

namespace berth::snapshotter {

class TarStream {
 public:
  // Errors about the tar format itself get `format_error` as their code
  // (DataLoss for layers, InvalidArgument for archives a user hands in).
  // More than `max_size` uncompressed bytes fail with ResourceExhausted.
  TarStream(const ByteSource& source, absl::StatusCode format_error,
            int64_t max_size = DecompressingReader::kUnlimited);
  ~TarStream();
  TarStream(const TarStream&) = delete;
  TarStream& operator=(const TarStream&) = delete;

  // The next entry's header, or nullptr after the last.
  absl::StatusOr<archive_entry*> Next();
  // The current entry's data, block by block with each block's offset
  // (sparse files have holes between blocks).
  absl::Status ReadData(const std::function<absl::Status(absl::string_view, int64_t)>& block);
  // Reads whatever follows the archive's end so the stream's digest is complete.
  absl::Status Drain() { return reader_.Drain(); }

  const DecompressingReader& reader() const { return reader_; }

 private:
  static long ReadCallback(archive* a, void* client, const void** buffer);
  absl::Status Error(absl::string_view what);

  DecompressingReader reader_;
  absl::StatusCode format_error_;
  std::string buffer_;
  absl::Status read_error_;
  archive* archive_ = nullptr;
  bool opened_ = false;
};

}  // namespace berth::snapshotter
