#pragma once

// A test-only client for the CRI streaming server: exec/attach over SPDY/3.1
// and WebSocket, port-forward over SPDY, behaving like the Go clients in the
// field (client-go's tools/remotecommand, transport/spdy, tools/portforward
// on moby/spdystream). It is written from the wire facts alone, never from
// the server code in cri/streaming/, so that one misreading of the protocol
// cannot pass in both directions. It is strict: whatever the server does
// that the protocol forbids is an error, not something to work around.
//
// Errors: InvalidArgument for bad options or URLs; Unavailable for
// connection failures and a server that hangs up early; DeadlineExceeded
// when the time runs out (the message says what was awaited and what had
// arrived); Internal with "SPDY/WebSocket/HTTP protocol violation: ..." for
// a misbehaving server. A refused upgrade is not an error: the result (or
// the port-forward client) carries the HTTP status and body.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::testing {

class SpdyClientSession;

// The application data of the client's WebSocket ping; the pong must echo it.
inline constexpr absl::string_view kWebSocketPingPayload = "berth-streaming-test-client";

struct RemoteCommandOptions {
  bool stdin = false, stdout = true, stderr = false, tty = false;
  // Written once the streams are up (after the resizes).
  std::string stdin_data;
  // Half-close stdin after stdin_data: SPDY FIN; WebSocket v5 close signal
  // {255, 0}. WebSocket v4 has no way to do it, so nothing is sent there.
  bool close_stdin = true;
  // (width, height) sent on the resize stream/channel before stdin_data, as
  // {"Width":W,"Height":H} followed by a newline (client-go's json.Encoder).
  // Needs tty (and v3+ over SPDY).
  std::vector<std::pair<uint16_t, uint16_t>> resizes;
  // Offered in order. Default: v4, v3, v2, channel.k8s.io for SPDY; v5, v4
  // for WebSocket (full names, e.g. "v4.channel.k8s.io").
  std::vector<std::string> protocols;
  // Non-empty: hang up (close the TCP connection, nothing else sent) as soon
  // as stdout contains it, like a user detaching from attach.
  std::string stop_when_stdout_contains;
  // SPDY: one PING before the streams are created; WebSocket: one ping right
  // after the handshake (client-go's heartbeat). Unless the client hung up
  // itself, a session that ends without the answer is an error.
  bool send_ping = true;
  absl::Duration timeout = absl::Seconds(20);
};

struct RemoteCommandResult {
  int http_status = 0;  // 101 on success; otherwise the status and body below
  std::string http_body;
  std::string protocol;  // negotiated X-Stream-Protocol-Version / Sec-WebSocket-Protocol
  std::string stdout_data, stderr_data;
  std::string error_data;  // everything on the error stream/channel (v4+: the status JSON)
  bool pong_received = false;
  // SPDY: the streams the server ended with RST_STREAM instead of FIN, as
  // "stream 5 (streamtype=stdout)".
  std::vector<std::string> streams_reset_by_server;
  // SPDY: the output streams (error, stdout, stderr) the server had not ended
  // when the session did: after a hang-up, or when the server dropped the
  // connection without FIN.
  std::vector<std::string> streams_unfinished;
  // WebSocket v5: the channels the server signalled closed (channel 255).
  std::vector<uint8_t> channels_closed_by_server;
};

// SPDY/3.1 as client-go does it: POST with Connection: Upgrade, Upgrade:
// SPDY/3.1 and one X-Stream-Protocol-Version per protocol; then a SYN_STREAM
// per stream (streamtype error first, then stdin, stdout, stderr unless tty,
// resize if tty on v3+), each awaited until its SYN_REPLY. Returns once the
// server has closed (FIN or RST) the error, stdout and stderr streams, or
// the connection; then sends GOAWAY and closes.
absl::StatusOr<RemoteCommandResult> RunSpdyRemoteCommand(const std::string& url,
                                                         const RemoteCommandOptions& options);

// WebSocket (RFC 6455): GET with Sec-WebSocket-Key, Version 13 and the
// protocols in Sec-WebSocket-Protocol; binary messages whose first byte is
// the channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize, 255 close in
// v5). Answers pings, sends one itself, completes the closing handshake.
// Returns once the server has sent its close frame or closed the connection.
absl::StatusOr<RemoteCommandResult> RunWebSocketRemoteCommand(const std::string& url,
                                                              const RemoteCommandOptions& options);

// Port-forward over SPDY (portforward.k8s.io) as client-go's portforward
// does: per forwarded connection an error stream, at once half-closed (the
// client never writes on it), then a data stream, both with headers
// streamtype, port and requestid (shared by the pair; ids count from 0).
// One SPDY connection serves every call; the client sends GOAWAY and closes
// it on destruction.
// The SPDY connection alone, upgraded and checked, for tests that drive
// the frames themselves (e.g. a client that stops reading).
absl::StatusOr<std::unique_ptr<SpdyClientSession>> OpenSpdySession(
    const std::string& url, const std::vector<std::string>& protocols, absl::Duration timeout);

class SpdyPortForwardClient {
 public:
  // Connects and upgrades. When the server answers with a status other than
  // 101, Connect still returns a client: http_status() and http_body() tell
  // what the server said, and ExchangeAll/ReceiveBytes fail with
  // FailedPrecondition. Errors are for connection failures, timeouts and
  // protocol violations.
  static absl::StatusOr<std::unique_ptr<SpdyPortForwardClient>> Connect(
      const std::string& url, absl::Duration timeout = absl::Seconds(20));
  ~SpdyPortForwardClient();
  SpdyPortForwardClient(const SpdyPortForwardClient&) = delete;
  SpdyPortForwardClient& operator=(const SpdyPortForwardClient&) = delete;

  int http_status() const { return http_status_; }
  const std::string& http_body() const { return http_body_; }
  const std::string& protocol() const { return protocol_; }

  struct Exchange {
    std::string response;  // everything on the data stream
    std::string error;     // everything on the error stream (empty on success)
  };
  // Opens one forwarded connection per entry of `requests` (distinct request
  // ids), then sends each request and half-closes its data stream, then
  // collects each response until the server FINs (or resets) the data
  // stream, and the error stream's text until its FIN. Each call has the
  // timeout given to Connect.
  absl::StatusOr<std::vector<Exchange>> ExchangeAll(uint16_t port,
                                                    const std::vector<std::string>& requests);
  // For throughput: one forwarded connection; sends `request` (keeping the
  // data stream open, for servers that answer before the request ends), then
  // reads until `bytes` bytes arrived or the server FINs the data stream,
  // counting without keeping them. Returns the count. Then half-closes the
  // data stream and resets whatever the server has not finished, so the
  // connection stays usable. A stream that ends short with text on the
  // error stream is an error carrying that text.
  absl::StatusOr<size_t> ReceiveBytes(uint16_t port, const std::string& request, size_t bytes);

 private:
  struct ForwardedStreams {
    uint32_t error = 0;
    uint32_t data = 0;
  };

  // Out of line, like the destructor: SpdyClientSession is incomplete here.
  explicit SpdyPortForwardClient(absl::Duration timeout);
  absl::Status CheckUpgraded() const;
  absl::StatusOr<ForwardedStreams> OpenForwardedConnection(uint16_t port);
  bool Finished(const ForwardedStreams& streams) const;

  absl::Duration timeout_;
  int http_status_ = 0;
  std::string http_body_;
  std::string protocol_;
  std::unique_ptr<SpdyClientSession> session_;
  int next_request_id_ = 0;
};

}  // namespace berth::testing
