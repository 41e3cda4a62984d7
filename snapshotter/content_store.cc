#include "snapshotter/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

namespace berth::snapshotter {
namespace {

// Small writes from the network are gathered into this much before write(2).
constexpr size_t kWriteBuffer = 1 << 20;

absl::Status SyncDirectory(const std::string& path) {
  UniqueFd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return berth::ErrnoStatus("open " + path);
  if (fsync(dir.get()) != 0) return berth::ErrnoStatus("fsync " + path);
  return absl::OkStatus();
}

class LocalBlobWriter final : public BlobWriter {
 public:
  LocalBlobWriter(UniqueFd fd, std::string ingest_path, std::string blobs_dir, Digest expected,
                  int64_t expected_size)
      : fd_(std::move(fd)),
        ingest_path_(std::move(ingest_path)),
        blobs_dir_(std::move(blobs_dir)),
        expected_(std::move(expected)),
        expected_size_(expected_size) {
    buffer_.reserve(kWriteBuffer);
  }

  ~LocalBlobWriter() override {
    if (!committed_) unlink(ingest_path_.c_str());
  }

  absl::Status Write(absl::string_view data) override {
    written_ += static_cast<int64_t>(data.size());
    if (expected_size_ >= 0 && written_ > expected_size_) {
      return absl::DataLossError(absl::StrCat("blob ", expected_.ToString(), " is larger than ",
                                              expected_size_, " bytes"));
    }
    hasher_.Update(data);
    if (buffer_.size() + data.size() > kWriteBuffer) RETURN_IF_ERROR(Flush());
    if (data.size() >= kWriteBuffer) return WriteAll(data);
    buffer_.append(data.data(), data.size());
    return absl::OkStatus();
  }

  absl::Status Commit() override {
    RETURN_IF_ERROR(Flush());
    if (expected_size_ >= 0 && written_ != expected_size_) {
      return absl::DataLossError(absl::StrCat("blob ", expected_.ToString(), ": got ", written_,
                                              " bytes, expected ", expected_size_));
    }
    Digest actual = hasher_.Finish();
    if (expected_.empty()) expected_ = actual;
    if (actual != expected_) {
      return absl::DataLossError(
          absl::StrCat("blob ", expected_.ToString(), ": content has digest ", actual.ToString()));
    }
    if (fsync(fd_.get()) != 0) return berth::ErrnoStatus("fsync " + ingest_path_);
    fd_.Reset();
    std::string blob_path = absl::StrCat(blobs_dir_, "/", actual.hex());
    if (rename(ingest_path_.c_str(), blob_path.c_str()) != 0) {
      return berth::ErrnoStatus("rename " + ingest_path_ + " to " + blob_path);
    }
    committed_ = true;
    return SyncDirectory(blobs_dir_);
  }

  int64_t written() const override { return written_; }
  Digest digest() const override { return expected_; }

 private:
  absl::Status Flush() {
    absl::Status status = WriteAll(buffer_);
    buffer_.clear();
    return status;
  }

  absl::Status WriteAll(absl::string_view data) {
    while (!data.empty()) {
      ssize_t n = write(fd_.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return berth::ErrnoStatus("write " + ingest_path_);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  UniqueFd fd_;
  std::string ingest_path_;
  std::string blobs_dir_;
  Digest expected_;
  int64_t expected_size_;
  int64_t written_ = 0;
  Sha256 hasher_;
  std::string buffer_;
  bool committed_ = false;
};

}  // namespace

absl::Status ContentStore::Put(const Digest& digest, absl::string_view data) {
  if (Has(digest)) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer,
                   Writer(digest, static_cast<int64_t>(data.size())));
  RETURN_IF_ERROR(writer->Write(data));
  return writer->Commit();
}

absl::StatusOr<std::unique_ptr<LocalContentStore>> LocalContentStore::Open(
    const std::string& root) {
  RETURN_IF_ERROR(MakeDirectories(root + "/blobs/sha256", 0700));
  std::error_code error;
  std::filesystem::remove_all(root + "/ingest", error);
  if (error) {
    return absl::InternalError(absl::StrCat("clear ", root, "/ingest: ", error.message()));
  }
  RETURN_IF_ERROR(MakeDirectories(root + "/ingest", 0700));
  return std::unique_ptr<LocalContentStore>(new LocalContentStore(root));
}

std::string LocalContentStore::BlobPath(const Digest& digest) const {
  return absl::StrCat(root_, "/blobs/sha256/", digest.hex());
}

bool LocalContentStore::Has(const Digest& digest) const {
  return access(BlobPath(digest).c_str(), F_OK) == 0;
}

absl::StatusOr<int64_t> LocalContentStore::Size(const Digest& digest) const {
  struct stat st;
  std::string path = BlobPath(digest);
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError("blob " + digest.ToString() + " not found");
    return berth::ErrnoStatus("stat " + path);
  }
  return static_cast<int64_t>(st.st_size);
}

absl::StatusOr<UniqueFd> LocalContentStore::Open(const Digest& digest) const {
  std::string path = BlobPath(digest);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return absl::NotFoundError("blob " + digest.ToString() + " not found");
    return berth::ErrnoStatus("open " + path);
  }
  return fd;
}

absl::StatusOr<std::string> LocalContentStore::Read(const Digest& digest, int64_t max_size) const {
  ASSIGN_OR_RETURN(int64_t size, Size(digest));
  if (size > max_size) {
    return absl::OutOfRangeError(absl::StrCat("blob ", digest.ToString(), " is ", size,
                                              " bytes, more than the ", max_size, " allowed"));
  }
  return ReadFileToString(BlobPath(digest));
}

absl::StatusOr<std::unique_ptr<BlobWriter>> LocalContentStore::Writer(const Digest& expected,
                                                                      int64_t expected_size) {
  static std::atomic<uint64_t> counter{0};
  std::string ingest_path =
      absl::StrCat(root_, "/ingest/", expected.empty() ? "unknown" : expected.hex(), ".", getpid(),
                   ".", counter.fetch_add(1));
  UniqueFd fd(open(ingest_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return berth::ErrnoStatus("create " + ingest_path);
  return std::unique_ptr<BlobWriter>(std::make_unique<LocalBlobWriter>(
      std::move(fd), std::move(ingest_path), root_ + "/blobs/sha256", expected, expected_size));
}

absl::Status LocalContentStore::Delete(const Digest& digest) {
  std::string path = BlobPath(digest);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return berth::ErrnoStatus("unlink " + path);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Digest>> LocalContentStore::List() const {
  std::vector<Digest> digests;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(root_ + "/blobs/sha256", error)) {
    absl::StatusOr<Digest> digest = Digest::Parse("sha256:" + entry.path().filename().string());
    if (digest.ok()) digests.push_back(*std::move(digest));
  }
  if (error) return absl::InternalError("list " + root_ + "/blobs/sha256: " + error.message());
  return digests;
}

}  // namespace berth::snapshotter
