#include "tests/support/websocket_client_session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/status_macros.h"

namespace berth::testing {
namespace {

constexpr size_t kMaxMessageBytes = 64 * 1024 * 1024;

absl::Status Violation(absl::string_view what) {
  return absl::InternalError(absl::StrCat("WebSocket protocol violation: ", what));
}

}  // namespace

WebSocketClientSession::WebSocketClientSession(UpgradeConnection connection,
                                               MessageHandler on_message)
    : connection_(std::move(connection)), on_message_(std::move(on_message)) {}

void WebSocketClientSession::SendFrame(websocket::Opcode opcode, absl::string_view payload) {
  connection_.Queue(websocket::EncodeClientFrame(opcode, payload, websocket::RandomMaskKey()));
}

void WebSocketClientSession::SendBinary(absl::string_view message) {
  SendFrame(websocket::Opcode::kBinary, message);
}

void WebSocketClientSession::SendPing(absl::string_view payload) {
  ping_payload_ = std::string(payload.substr(0, websocket::kMaxControlPayload));
  pong_received_ = false;
  SendFrame(websocket::Opcode::kPing, ping_payload_);
}

absl::Status WebSocketClientSession::RunUntil(const std::function<bool()>& done,
                                              absl::string_view waiting_for) {
  RETURN_IF_ERROR(failure_);
  auto finished = [&] { return done() || close_received(); };
  while (true) {
    RETURN_IF_ERROR(ProcessInbox(finished));
    if (finished()) return absl::OkStatus();
    if (connection_.eof() && !connection_.has_pending_output()) {
      if (!connection_.inbox().empty()) {
        return Fail(Violation(absl::StrCat("the connection ended inside a frame (",
                                           connection_.inbox().size(), " bytes of it arrived)")));
      }
      return absl::OkStatus();
    }
    absl::Status status = connection_.Pump(deadline_);
    if (absl::IsDeadlineExceeded(status)) {
      return Fail(absl::DeadlineExceededError(absl::StrCat("timed out waiting for ", waiting_for)));
    }
    if (!status.ok()) return Fail(status);
  }
}

void WebSocketClientSession::SayGoodbye() {
  connection_.TryFlush();
  connection_.Close();
}

void WebSocketClientSession::HangUp() { connection_.Close(); }

absl::Status WebSocketClientSession::Fail(absl::Status status) {
  if (failure_.ok()) failure_ = std::move(status);
  return failure_;
}

absl::Status WebSocketClientSession::ProcessInbox(const std::function<bool()>& done) {
  std::string& inbox = connection_.inbox();
  size_t offset = 0;
  absl::Status status;
  // Frame by frame, stopping once `done` holds (e.g. right after the frame
  // that completed the stop marker).
  while (status.ok() && !done()) {
    size_t consumed = 0;
    absl::StatusOr<std::optional<websocket::Frame>> frame = websocket::ParseServerFrame(
        absl::string_view(inbox).substr(offset), kMaxMessageBytes, &consumed);
    if (!frame.ok()) {
      status = frame.status();
      break;
    }
    if (!frame->has_value()) break;
    offset += consumed;
    status = HandleFrame(std::move(**frame));
  }
  inbox.erase(0, offset);
  return status.ok() ? status : Fail(status);
}

absl::Status WebSocketClientSession::HandleFrame(websocket::Frame frame) {
  if (close_received()) return Violation("a frame after the server's close frame");
  switch (frame.opcode) {
    case websocket::Opcode::kPing:
      SendFrame(websocket::Opcode::kPong, frame.payload);
      return absl::OkStatus();
    case websocket::Opcode::kPong:
      // Unsolicited pongs are allowed (RFC 6455 5.5.3); only ours counts.
      if (frame.payload == ping_payload_) pong_received_ = true;
      return absl::OkStatus();
    case websocket::Opcode::kClose:
      return HandleClose(frame.payload);
    case websocket::Opcode::kText:
      // Only base64.* subprotocols use text; this client offers none.
      return Violation("a text message on a binary channel protocol");
    case websocket::Opcode::kBinary:
    case websocket::Opcode::kContinuation:
      return HandleDataFrame(std::move(frame));
  }
  return Violation("unhandled opcode");
}

absl::Status WebSocketClientSession::HandleDataFrame(websocket::Frame frame) {
  if (frame.opcode == websocket::Opcode::kBinary) {
    if (fragmented_message_.has_value()) {
      return Violation("a new message while a fragmented one is unfinished");
    }
    if (frame.fin) return on_message_(frame.payload);
    fragmented_message_ = std::move(frame.payload);
    return absl::OkStatus();
  }
  if (!fragmented_message_.has_value()) return Violation("a continuation frame outside a message");
  if (fragmented_message_->size() + frame.payload.size() > kMaxMessageBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a message over ", kMaxMessageBytes, " bytes"));
  }
  fragmented_message_->append(frame.payload);
  if (!frame.fin) return absl::OkStatus();
  std::string message = std::move(*fragmented_message_);
  fragmented_message_.reset();
  return on_message_(message);
}

absl::Status WebSocketClientSession::HandleClose(absl::string_view payload) {
  ASSIGN_OR_RETURN(websocket::CloseReason reason, websocket::ParseClosePayload(payload));
  if (fragmented_message_.has_value()) {
    // Legal framing, but the unfinished message is lost: a server bug here.
    return absl::DataLossError("the server closed in the middle of a fragmented message");
  }
  close_received_ = reason;
  if (!close_sent_) {
    // Echo the status code, as RFC 6455 5.5.1 asks of the receiving side.
    SendFrame(websocket::Opcode::kClose,
              reason.code.has_value() ? websocket::EncodeClosePayload(*reason.code) : "");
    close_sent_ = true;
  }
  return absl::OkStatus();
}

}  // namespace berth::testing
