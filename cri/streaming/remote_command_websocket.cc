// Exec and attach over WebSocket: every message starts with its channel
// byte (v4, v5; the base64 variant writes it as a digit and encodes the
// data). v5 adds a close signal, {255, channel}, for the client's stdin.

#include "absl/strings/escaping.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/websocket_frames.h"
#include "runtime/base/logging.h"

namespace berth::streaming {

namespace {

constexpr uint8_t kCloseSignal = 255;

class WebSocketRemoteCommand final : public StreamHandler, RemoteCommandPump::Channels {
 public:
  WebSocketRemoteCommand(StreamRequest request, int version, bool base64, StreamBackend& backend)
      : version_(version), base64_(base64), pump_(request, version, backend, *this) {
    // As kubelet does: an empty message on the lowest channel the client
    // reads tells it the session is up.
    Write(request.stdout   ? Channel::kStdout
          : request.stderr ? Channel::kStderr
                           : Channel::kError,
          {});
    pump_.Start();
    CloseIfDone();
  }

  absl::Status OnClientBytes(absl::string_view bytes) override {
    reader_.Append(bytes);
    for (;;) {
      absl::StatusOr<std::optional<WsMessage>> message = reader_.Next();
      if (!message.ok()) {
        spdlog::warn("streaming: closing a WebSocket connection: {}", message.status());
        output_ += EncodeWebSocketClose(1002, "protocol error");
        closed_ = true;
        return message.status();
      }
      if (!message->has_value()) return absl::OkStatus();
      OnMessage(**message);
      CloseIfDone();
      if (closed_) return absl::OkStatus();
    }
  }

  void OnClientClosed() override { closed_ = true; }
  bool WantsClientBytes() const override { return pump_.WantsInput(); }

  void CollectPollFds(std::vector<pollfd>& fds, bool output_room) override {
    pump_.CollectPollFds(fds, output_room);
  }
  absl::Status OnPolled(absl::Span<const pollfd> fds) override {
    pump_.OnPolled(fds);
    CloseIfDone();
    return absl::OkStatus();
  }

  std::string& Output() override { return output_; }
  bool Finished() const override { return closed_; }

  // Channels.
  void Write(Channel channel, absl::string_view data) override {
    auto number = static_cast<uint8_t>(channel);
    if (base64_) {
      output_ += EncodeWebSocketFrame(
          WsOpcode::kText, absl::StrCat(std::string(1, static_cast<char>('0' + number)),
                                        absl::Base64Escape(data)));
      return;
    }
    std::string message(1, static_cast<char>(number));
    message.append(data.data(), data.size());
    output_ += EncodeWebSocketFrame(WsOpcode::kBinary, message);
  }
  void Close(Channel channel) override {}
  size_t Unsent() const override { return output_.size(); }

 private:
  // The command is over: a normal close follows its status.
  void CloseIfDone() {
    if (!pump_.finished() || closed_) return;
    output_ += EncodeWebSocketClose(1000);
    closed_ = true;
  }

  void OnMessage(const WsMessage& message) {
    switch (message.opcode) {
      case WsOpcode::kPing:
        output_ += EncodeWebSocketFrame(WsOpcode::kPong, message.payload);
        return;
      case WsOpcode::kClose:
        output_ += EncodeWebSocketClose(1000);
        closed_ = true;
        return;
      case WsOpcode::kPong:
      case WsOpcode::kContinuation:
        return;
      case WsOpcode::kText:
      case WsOpcode::kBinary:
        OnData(message.payload);
        return;
    }
  }

  void OnData(absl::string_view payload) {
    if (payload.empty()) return;
    auto channel = static_cast<uint8_t>(payload[0]);
    payload.remove_prefix(1);
    std::string decoded;
    if (base64_) {
      channel = static_cast<uint8_t>(channel - '0');
      if (!absl::Base64Unescape(payload, &decoded)) return;
      payload = decoded;
    }
    if (channel == kCloseSignal && version_ >= 5) {
      if (!payload.empty() && static_cast<uint8_t>(payload[0]) == 0) pump_.OnStdinEnd();
      return;
    }
    if (channel == static_cast<uint8_t>(Channel::kStdin)) pump_.OnStdin(payload);
    if (channel == static_cast<uint8_t>(Channel::kResize)) pump_.OnResizeBytes(payload);
  }

  int version_;
  bool base64_;
  RemoteCommandPump pump_;
  WebSocketReader reader_;
  std::string output_;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<StreamHandler> NewWebSocketRemoteCommand(StreamRequest request, int version,
                                                         bool base64, StreamBackend& backend) {
  return std::make_unique<WebSocketRemoteCommand>(std::move(request), version, base64, backend);
}

}  // namespace berth::streaming
