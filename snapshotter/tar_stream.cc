#include "snapshotter/tar_stream.h"

#include <archive.h>
#include <archive_entry.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/status_macros.h"

namespace berth::snapshotter {
namespace {

constexpr size_t kReadBuffer = 256 * 1024;

}  // namespace

TarStream::TarStream(const ByteSource& source, absl::StatusCode format_error, int64_t max_size)
    : reader_(source, max_size), format_error_(format_error), buffer_(kReadBuffer, '\0') {
  archive_ = archive_read_new();
  if (archive_ != nullptr) {
    archive_read_support_format_tar(archive_);
    archive_read_support_format_gnutar(archive_);
  }
}

TarStream::~TarStream() {
  if (archive_ != nullptr) archive_read_free(archive_);
}

long TarStream::ReadCallback(archive* a, void* client, const void** buffer) {
  auto* self = static_cast<TarStream*>(client);
  absl::StatusOr<size_t> n = self->reader_.Read(self->buffer_.data(), self->buffer_.size());
  if (!n.ok()) {
    self->read_error_ = n.status();
    archive_set_error(a, EIO, "%s", std::string(n.status().message()).c_str());
    return -1;
  }
  *buffer = self->buffer_.data();
  return static_cast<long>(*n);
}

absl::Status TarStream::Error(absl::string_view what) {
  // A broken stream underneath explains a broken tar best.
  if (!read_error_.ok()) return read_error_;
  const char* message = archive_error_string(archive_);
  return absl::Status(format_error_,
                      absl::StrCat(what, ": ", message != nullptr ? message : "malformed tar"));
}

absl::StatusOr<archive_entry*> TarStream::Next() {
  if (archive_ == nullptr) return absl::ResourceExhaustedError("archive_read_new failed");
  if (!opened_) {
    if (archive_read_open(archive_, this, nullptr, &TarStream::ReadCallback, nullptr) !=
        ARCHIVE_OK) {
      return Error("open tar");
    }
    opened_ = true;
  }
  archive_entry* entry = nullptr;
  int rc = archive_read_next_header(archive_, &entry);
  if (rc == ARCHIVE_EOF) return nullptr;
  if (rc < ARCHIVE_WARN) return Error("read tar");
  return entry;
}

absl::Status TarStream::ReadData(
    const std::function<absl::Status(absl::string_view, int64_t)>& block) {
  while (true) {
    const void* data;
    size_t size;
    la_int64_t offset;
    int rc = archive_read_data_block(archive_, &data, &size, &offset);
    if (rc == ARCHIVE_EOF) return absl::OkStatus();
    if (rc < ARCHIVE_WARN) return Error("read file data");
    RETURN_IF_ERROR(block(absl::string_view(static_cast<const char*>(data), size), offset));
  }
}

}  // namespace berth::snapshotter
