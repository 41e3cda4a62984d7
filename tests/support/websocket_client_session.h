#pragma once

// The client end of a WebSocket connection after the 101 response, driven
// by one thread: it sends masked binary messages and pings, answers the
// server's pings, reassembles fragmented messages, completes the closing
// handshake, and checks every server frame on the way.

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/support/upgrade_connection.h"
#include "tests/support/websocket_client_codec.h"

namespace berth::testing {

class WebSocketClientSession {
 public:
  // Called with each complete binary message; an error ends the session.
  using MessageHandler = std::function<absl::Status(absl::string_view message)>;

  WebSocketClientSession(UpgradeConnection connection, MessageHandler on_message);

  void set_deadline(absl::Time deadline) { deadline_ = deadline; }

  // Queues one binary message (one frame).
  void SendBinary(absl::string_view message);
  // Queues a ping; pong_received() turns true once its pong came back.
  void SendPing(absl::string_view payload);
  bool pong_received() const { return pong_received_; }

  // Runs the read loop until `done()` holds, the server's close frame
  // arrived, or the TCP connection ended (all OK). `waiting_for` names the
  // condition in the DeadlineExceeded message.
  absl::Status RunUntil(const std::function<bool()>& done, absl::string_view waiting_for);

  // The server sent a close frame (close_reason() has its contents).
  bool close_received() const { return close_received_.has_value(); }
  const std::optional<websocket::CloseReason>& close_reason() const { return close_received_; }
  bool connection_closed() const { return connection_.eof(); }

  // Sends what is queued if it can go at once, then closes the socket.
  void SayGoodbye();
  // Closes the TCP connection at once, nothing sent.
  void HangUp();

 private:
  absl::Status ProcessInbox(const std::function<bool()>& done);
  absl::Status HandleFrame(websocket::Frame frame);
  absl::Status HandleDataFrame(websocket::Frame frame);
  absl::Status HandleClose(absl::string_view payload);
  void SendFrame(websocket::Opcode opcode, absl::string_view payload);
  absl::Status Fail(absl::Status status);

  UpgradeConnection connection_;
  MessageHandler on_message_;
  absl::Time deadline_ = absl::InfiniteFuture();
  std::string ping_payload_;
  bool pong_received_ = false;
  bool close_sent_ = false;
  std::optional<websocket::CloseReason> close_received_;
  std::optional<std::string> fragmented_message_;  // a message whose last frame is yet to come
  absl::Status failure_;
};

}  // namespace berth::testing
