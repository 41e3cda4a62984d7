#pragma once

// A RegistryClient serving manifests and blobs from memory, so the puller
// can be tested (including with hostile content) without a registry.

#include <functional>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "snapshotter/manifest.h"
#include "snapshotter/registry_client.h"

namespace berth::testing {

class FakeRegistryClient final : public snapshotter::RegistryClient {
 public:
  using Digest = snapshotter::Digest;

  // Stores a blob and returns its digest.
  Digest AddBlob(const std::string& content) {
    Digest digest = snapshotter::DigestOf(content);
    absl::MutexLock lock(&mutex_);
    blobs_[digest.ToString()] = content;
    return digest;
  }
  // Serves `content` under `digest` (for corrupt-blob tests).
  void ServeBlobAs(const Digest& digest, const std::string& content) {
    absl::MutexLock lock(&mutex_);
    blobs_[digest.ToString()] = content;
  }
  void AddManifest(const std::string& repository_and_tag, const std::string& media_type,
                   const std::string& content) {
    absl::MutexLock lock(&mutex_);
    manifests_[repository_and_tag] = {media_type, content};
    manifests_[absl::StrCat(repository_and_tag.substr(0, repository_and_tag.rfind(':')), "@",
                            snapshotter::DigestOf(content).ToString())] = {media_type, content};
  }
  // Called after each chunk a blob download hands on (offset after it).
  void OnChunk(std::function<void(const Digest&, size_t)> hook) { on_chunk_ = std::move(hook); }
  // Each blob download takes at least this long (to observe parallelism).
  void SetBlobDelay(absl::Duration delay) { blob_delay_ = delay; }
  int max_parallel_fetches() const { return max_parallel_; }

  int blob_fetches(const Digest& digest) const {
    absl::MutexLock lock(&mutex_);
    auto it = fetches_.find(digest.ToString());
    return it == fetches_.end() ? 0 : it->second;
  }

  absl::StatusOr<snapshotter::FetchedManifest> FetchManifest(
      const snapshotter::ImageReference& ref, const snapshotter::RegistryCredentials&) override {
    absl::MutexLock lock(&mutex_);
    std::string key = ref.digest ? ref.DigestName() : ref.TagName();
    auto it = manifests_.find(key);
    if (it == manifests_.end()) return absl::NotFoundError("manifest " + key + " not found");
    snapshotter::FetchedManifest m;
    m.media_type = it->second.first;
    m.content = it->second.second;
    m.digest = snapshotter::DigestOf(m.content);
    m.endpoint = "fake";
    return m;
  }

  absl::Status FetchBlob(const snapshotter::ImageReference&, const Digest& digest,
                         const snapshotter::RegistryCredentials&,
                         const snapshotter::BodySink& sink) override {
    std::string content;
    {
      absl::MutexLock lock(&mutex_);
      auto it = blobs_.find(digest.ToString());
      if (it == blobs_.end()) return absl::NotFoundError("blob " + digest.ToString());
      content = it->second;
      ++fetches_[digest.ToString()];
      max_parallel_ = std::max(max_parallel_, ++parallel_);
    }
    absl::SleepFor(blob_delay_);
    absl::Status status;
    for (size_t offset = 0; offset < content.size() && status.ok(); offset += 16384) {
      status = sink(absl::string_view(content).substr(offset, 16384));
      if (on_chunk_) on_chunk_(digest, std::min(offset + 16384, content.size()));
    }
    absl::MutexLock lock(&mutex_);
    --parallel_;
    return status;
  }

 private:
  mutable absl::Mutex mutex_;
  std::map<std::string, std::string> blobs_;
  std::map<std::string, std::pair<std::string, std::string>> manifests_;
  std::map<std::string, int> fetches_;
  std::function<void(const Digest&, size_t)> on_chunk_;
  absl::Duration blob_delay_;
  int parallel_ = 0;
  int max_parallel_ = 0;
};

}  // namespace berth::testing
