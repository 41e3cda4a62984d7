#pragma once

// berthd's streaming server: the HTTP endpoint behind the URLs that Exec,
// Attach and PortForward return. A client brings a single-use token and
// upgrades the connection to SPDY/3.1 or WebSocket; each connection is then
// served by its own thread's poll loop (a StreamHandler), up to a bound.

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cri/streaming/client_transport.h"
#include "cri/streaming/stream_backend.h"
#include "cri/streaming/stream_request.h"
#include "runtime/base/unique_fd.h"

namespace berth::streaming {

struct StreamingServerOptions {
  std::string address = "127.0.0.1";  // an IP
  int port = 0;                       // 0: any free port
  std::string tls_cert_file;          // both set: https
  std::string tls_key_file;
  absl::Duration idle_timeout = absl::Hours(4);
  absl::Duration creation_timeout = absl::Seconds(30);
  int max_sessions = 128;
  absl::Duration token_ttl = absl::Minutes(1);
};

class StreamingServer {
 public:
  // Listens and starts serving. `backend` must outlive the server.
  static absl::StatusOr<std::unique_ptr<StreamingServer>> Start(StreamingServerOptions options,
                                                                StreamBackend& backend);
  ~StreamingServer();

  // Keeps `request` under a fresh token and returns the URL to give the
  // client (http[s]://address:port/exec/<token>).
  absl::StatusOr<std::string> Register(StreamRequest request);

  // A reload's session limits: new connections and the idle checks of
  // open ones go by them from now on.
  void SetLimits(int max_sessions, absl::Duration idle_timeout, absl::Duration creation_timeout);

  // e.g. http://127.0.0.1:40123
  const std::string& base_url() const { return base_url_; }
  int active_sessions() const { return active_.load(); }

  // Stops accepting, ends every session (their processes end with them)
  // and waits for their threads.
  void Stop();

 private:
  StreamingServer(StreamingServerOptions options, StreamBackend& backend, UniqueFd listener,
                  UniqueFd stop_event, std::unique_ptr<TlsServerContext> tls, std::string base_url);

  void AcceptLoop();
  void Serve(UniqueFd socket);
  void ServeTransport(ClientTransport& client);

  struct Limits {
    int max_sessions;
    absl::Duration idle_timeout, creation_timeout;
  };
  Limits CurrentLimits() const;

  StreamingServerOptions options_;
  mutable absl::Mutex limits_mutex_;
  Limits limits_ ABSL_GUARDED_BY(limits_mutex_);
  StreamBackend& backend_;
  UniqueFd listener_;
  UniqueFd stop_event_;  // eventfd, readable once stopping
  std::unique_ptr<TlsServerContext> tls_;
  std::string base_url_;
  StreamRequestCache requests_;
  std::thread acceptor_;
  std::atomic<int> active_{0};
  absl::Mutex mutex_;
  int threads_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopped_ = false;
};

}  // namespace berth::streaming
