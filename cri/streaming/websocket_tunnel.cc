#include "cri/streaming/websocket_tunnel.h"

#include "cri/streaming/websocket_frames.h"
#include "runtime/base/logging.h"

namespace berth::streaming {

namespace {

class WebSocketTunnel final : public StreamHandler {
 public:
  explicit WebSocketTunnel(std::unique_ptr<StreamHandler> inner) : inner_(std::move(inner)) {}

  absl::Status OnClientBytes(absl::string_view bytes) override {
    reader_.Append(bytes);
    for (;;) {
      absl::StatusOr<std::optional<WsMessage>> message = reader_.Next();
      if (!message.ok()) {
        spdlog::warn("streaming: closing a WebSocket tunnel: {}", message.status());
        output_ += EncodeWebSocketClose(1002, "protocol error");
        closed_ = true;
        return message.status();
      }
      if (!message->has_value()) return absl::OkStatus();
      switch ((*message)->opcode) {
        case WsOpcode::kPing:
          output_ += EncodeWebSocketFrame(WsOpcode::kPong, (*message)->payload);
          break;
        case WsOpcode::kClose:
          output_ += EncodeWebSocketClose(1000);
          closed_ = true;
          return absl::OkStatus();
        case WsOpcode::kBinary:
        case WsOpcode::kText:
          if (absl::Status status = inner_->OnClientBytes((*message)->payload); !status.ok())
            return status;
          break;
        default:
          break;
      }
    }
  }

  void OnClientClosed() override {
    closed_ = true;
    inner_->OnClientClosed();
  }
  bool WantsClientBytes() const override { return inner_->WantsClientBytes(); }
  void CollectPollFds(std::vector<pollfd>& fds, bool output_room) override {
    inner_->CollectPollFds(fds, output_room && output_.size() < kOutputHighWater);
  }
  absl::Status OnPolled(absl::Span<const pollfd> fds) override { return inner_->OnPolled(fds); }
  absl::Time NextTimer() const override { return inner_->NextTimer(); }
  absl::Status OnTimer(absl::Time now) override { return inner_->OnTimer(now); }

  std::string& Output() override {
    std::string& inner = inner_->Output();
    if (!inner.empty()) {
      output_ += EncodeWebSocketFrame(WsOpcode::kBinary, inner);
      inner.clear();
    }
    if (inner_->Finished() && !closed_) {
      output_ += EncodeWebSocketClose(1000);
      closed_ = true;
    }
    return output_;
  }
  bool Finished() const override { return closed_ || inner_->Finished(); }

 private:
  std::unique_ptr<StreamHandler> inner_;
  WebSocketReader reader_;
  std::string output_;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<StreamHandler> NewWebSocketTunnel(std::unique_ptr<StreamHandler> inner) {
  return std::make_unique<WebSocketTunnel>(std::move(inner));
}

}  // namespace berth::streaming
