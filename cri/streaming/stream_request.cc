#include "cri/streaming/stream_request.h"

#include <sys/random.h>

#include "absl/strings/escaping.h"
#include "runtime/base/errno_status.h"

namespace berth::streaming {

namespace {

absl::StatusOr<std::string> RandomToken() {
  char bytes[16];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    ssize_t n = ::getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("getrandom");
    filled += static_cast<size_t>(n);
  }
  return absl::WebSafeBase64Escape(absl::string_view(bytes, sizeof(bytes)));
}

}  // namespace

const char* StreamPathPrefix(StreamKind kind) {
  switch (kind) {
    case StreamKind::kExec:
      return "/exec/";
    case StreamKind::kAttach:
      return "/attach/";
    case StreamKind::kPortForward:
      return "/portforward/";
  }
  return "/";
}

absl::StatusOr<std::string> StreamRequestCache::Insert(StreamRequest request) {
  absl::StatusOr<std::string> token = RandomToken();
  if (!token.ok()) return token.status();
  absl::Time now = absl::Now();
  absl::MutexLock lock(&mutex_);
  DropExpired(now);
  if (entries_.size() >= capacity_)
    return absl::ResourceExhaustedError(
        "too many streaming requests are waiting for their clients; try again later");
  entries_[*token] = Entry{.request = std::move(request), .expires = now + ttl_};
  return token;
}

std::optional<StreamRequest> StreamRequestCache::Take(const std::string& token, StreamKind kind) {
  absl::MutexLock lock(&mutex_);
  auto it = entries_.find(token);
  if (it == entries_.end()) return std::nullopt;
  Entry entry = std::move(it->second);
  entries_.erase(it);
  if (entry.expires <= absl::Now() || entry.request.kind != kind) return std::nullopt;
  return std::move(entry.request);
}

void StreamRequestCache::DropExpired(absl::Time now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
  }
}

}  // namespace berth::streaming
