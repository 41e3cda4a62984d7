#pragma once

// Blobs addressed by digest: <root>/blobs/sha256/<hex>. Writes go to
// <root>/ingest/ and are renamed into place only after their size and digest
// check out, so a reader never sees an unverified or partial blob.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/base/unique_fd.h"
#include "snapshotter/digest.h"

namespace berth::snapshotter {

// Streams one blob into the ingest area. Destroying it without Commit
// deletes what was written.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // FailedPrecondition (DataLoss for the caller) once more than the expected size arrives.
  virtual absl::Status Write(absl::string_view data) = 0;
  // Verifies size and digest, then makes the blob visible. DataLoss on a
  // mismatch (and nothing is kept).
  virtual absl::Status Commit() = 0;
  virtual int64_t written() const = 0;
  // The blob's digest; for a writer made without an expected digest, valid after Commit.
  virtual Digest digest() const = 0;
};

class ContentStore {
 public:
  virtual ~ContentStore() = default;

  virtual bool Has(const Digest& digest) const = 0;
  // NotFound when absent.
  virtual absl::StatusOr<int64_t> Size(const Digest& digest) const = 0;
  virtual absl::StatusOr<UniqueFd> Open(const Digest& digest) const = 0;
  // Reads a small blob (manifest, config) whole; OutOfRange past `max_size`.
  virtual absl::StatusOr<std::string> Read(const Digest& digest, int64_t max_size) const = 0;
  // `expected_size` < 0 when unknown. An empty `expected` digest stores the
  // blob under whatever digest its content has (archive entries named by path).
  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> Writer(const Digest& expected,
                                                             int64_t expected_size) = 0;
  // Writes a blob held in memory (verified like any other).
  absl::Status Put(const Digest& digest, absl::string_view data);
  // Deleting an absent blob succeeds.
  virtual absl::Status Delete(const Digest& digest) = 0;
  virtual absl::StatusOr<std::vector<Digest>> List() const = 0;
};

class LocalContentStore final : public ContentStore {
 public:
  // Creates <root>/blobs/sha256 and <root>/ingest, and empties the ingest
  // area: anything there is a download a crash interrupted.
  static absl::StatusOr<std::unique_ptr<LocalContentStore>> Open(const std::string& root);

  std::string BlobPath(const Digest& digest) const;

  bool Has(const Digest& digest) const override;
  absl::StatusOr<int64_t> Size(const Digest& digest) const override;
  absl::StatusOr<UniqueFd> Open(const Digest& digest) const override;
  absl::StatusOr<std::string> Read(const Digest& digest, int64_t max_size) const override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> Writer(const Digest& expected,
                                                     int64_t expected_size) override;
  absl::Status Delete(const Digest& digest) override;
  absl::StatusOr<std::vector<Digest>> List() const override;

 private:
  explicit LocalContentStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace berth::snapshotter
