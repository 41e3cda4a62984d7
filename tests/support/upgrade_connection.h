#pragma once

// The HTTP/1.1 part of the test streaming client: URL parsing, the upgrade
// request and response, and a non-blocking TCP connection that queues
// output and reads input in one poll loop. Reading while writing matters:
// a client that blocks in write() while the server blocks writing output
// back would deadlock with a large stdin.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "runtime/base/unique_fd.h"

namespace berth::testing {

// http://host[:port][/path]; no TLS, no user info.
struct HttpUrl {
  std::string host;  // without IPv6 brackets
  uint16_t port = 80;
  std::string authority;  // host[:port] as written, for the Host header
  std::string path;       // "/" when the URL has none; includes any query
};
absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url);

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// "<method> <path> HTTP/1.1", Host, then `headers` in order, then a blank line.
std::string BuildHttpRequest(absl::string_view method, const HttpUrl& url,
                             const HttpHeaders& headers);

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names lower-cased, in arrival order
  std::string body;     // read only when the server did not switch protocols

  // The first value of `lower_name`, or "" when absent.
  std::string Header(absl::string_view lower_name) const;
  // Every value of `lower_name`, comma-separated lists split and trimmed.
  std::vector<std::string> HeaderTokens(absl::string_view lower_name) const;
};

// Parses a status line and header lines (the head without its final blank
// line). Strict: HTTP/1.x, a three-digit status, "name: value" lines.
absl::StatusOr<HttpResponse> ParseHttpResponseHead(absl::string_view head);

// A connected TCP socket with an output queue and an input buffer.
class UpgradeConnection {
 public:
  static absl::StatusOr<UpgradeConnection> Connect(const HttpUrl& url, absl::Time deadline);

  // Appends to the output queue; written by Pump(). Dropped once the server
  // stopped accepting data (its reads then show the end of the connection).
  void Queue(absl::string_view bytes);
  // Waits until input arrives or queued output can move, then reads and
  // writes what it can without blocking. DeadlineExceeded at `deadline`.
  absl::Status Pump(absl::Time deadline);
  // One non-blocking attempt to write the queue, for goodbyes.
  void TryFlush();
  // Closes the socket at once (a client hanging up).
  void Close();

  std::string& inbox() { return inbox_; }
  // The server closed (or reset) its side; the inbox may still hold data.
  bool eof() const { return eof_; }
  bool has_pending_output() const { return outbox_offset_ < outbox_.size(); }

 private:
  explicit UpgradeConnection(UniqueFd fd) : fd_(std::move(fd)) {}
  absl::Status ReadAvailable();
  absl::Status WriteAvailable();

  UniqueFd fd_;
  std::string outbox_;
  size_t outbox_offset_ = 0;
  std::string inbox_;
  bool eof_ = false;
  bool write_closed_ = false;
};

// Sends `request` and reads the response head, leaving whatever follows it
// in the inbox. Unless the status is 101, also reads the body (by
// Content-Length, chunked, or up to the end of the connection; at most 1 MiB).
absl::StatusOr<HttpResponse> ExchangeUpgradeRequest(UpgradeConnection& connection,
                                                    absl::string_view request, absl::Time deadline);

}  // namespace berth::testing
