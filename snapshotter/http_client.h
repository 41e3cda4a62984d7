#pragma once

// HTTP(S) requests over libcurl for the registry client: connections, DNS
// and TLS sessions are reused across requests and threads; response bodies
// stream to a sink instead of memory.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::snapshotter {

struct TlsOptions {
  std::string ca_file;       // extra CA bundle; empty: the system's
  bool skip_verify = false;  // insecure registries
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when not empty (POST)
  TlsOptions tls;
  absl::Duration connect_timeout = absl::Seconds(30);
  // A transfer that receives nothing for this long fails (DeadlineExceeded).
  absl::Duration stall_timeout = absl::Seconds(60);
  // Bodies collected in memory (no sink, or an error response) stop here.
  size_t max_body = 4 << 20;
};

struct HttpResponse {
  long status = 0;
  // Lowercased names; of a redirected request, the final response's.
  absl::flat_hash_map<std::string, std::string> headers;
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

// Receives a successful (2xx) response's body, chunk by chunk. An error
// aborts the transfer and becomes the request's result.
using BodySink = std::function<absl::Status(absl::string_view chunk)>;

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Follows redirects; credentials never follow to another host. Transport
  // failures are Unavailable, stalls DeadlineExceeded; any HTTP status is a
  // response, not an error.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, const BodySink* sink = nullptr);

 private:
  struct Shared;
  std::unique_ptr<Shared> shared_;
};

}  // namespace berth::snapshotter
