#include "cri/streaming/port_forward.h"

#include <sys/socket.h>
#include <unistd.h>

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cri/streaming/spdy_session.h"
#include "runtime/base/logging.h"

namespace berth::streaming {

namespace {

// Bytes for the pod that it has not taken yet, per connection, before the
// client's input is left unread.
constexpr size_t kPodInputHighWater = 1 << 20;

// One forwarded connection: its two streams and the socket in the pod.
struct Forward {
  uint16_t port = 0;
  uint32_t data_stream = 0;
  uint32_t error_stream = 0;
  absl::Time first_seen;
  UniqueFd pod;
  std::string to_pod;        // client bytes the pod has not taken yet
  bool client_done = false;  // the client half-closed the data stream
  bool pod_done = false;     // the pod closed its side
  bool shut_pod_write = false;
};

class SpdyPortForward final : public StreamHandler {
 public:
  SpdyPortForward(std::string sandbox_id, StreamBackend& backend, absl::Duration creation_timeout)
      : sandbox_id_(std::move(sandbox_id)), backend_(backend), creation_timeout_(creation_timeout) {}

  absl::Status OnClientBytes(absl::string_view bytes) override {
    std::vector<SpdySession::Event> events;
    absl::Status received = spdy_.Receive(bytes, events);
    for (SpdySession::Event& event : events) OnEvent(event);
    if (!received.ok()) {
      spdlog::warn("streaming: closing a port-forward connection: {}", received);
      closed_ = true;
    }
    return received;
  }

  void OnClientClosed() override { closed_ = true; }

  bool WantsClientBytes() const override {
    for (const auto& [id, forward] : forwards_)
      if (forward.to_pod.size() >= kPodInputHighWater) return false;
    return true;
  }

  void CollectPollFds(std::vector<pollfd>& fds, bool output_room) override {
    polled_.clear();
    for (auto& [id, forward] : forwards_) {
      if (!forward.pod) continue;
      short events = 0;
      if (!forward.pod_done && output_room && spdy_.output().size() < kOutputHighWater)
        events |= POLLIN;
      if (!forward.to_pod.empty()) events |= POLLOUT;
      fds.push_back({.fd = events ? forward.pod.get() : -1, .events = events, .revents = 0});
      polled_.push_back(id);
    }
  }

  absl::Status OnPolled(absl::Span<const pollfd> fds) override {
    for (size_t i = 0; i < fds.size() && i < polled_.size(); ++i) {
      auto it = forwards_.find(polled_[i]);
      if (it == forwards_.end()) continue;
      Forward& forward = it->second;
      if (fds[i].revents & POLLOUT) WriteToPod(forward);
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ReadFromPod(forward);
      MaybeEnd(it);
    }
    return absl::OkStatus();
  }

  absl::Time NextTimer() const override {
    absl::Time next = absl::InfiniteFuture();
    for (const auto& [id, forward] : forwards_)
      if (!forward.pod) next = std::min(next, forward.first_seen + creation_timeout_);
    return next;
  }

  // A stream whose partner never came is dropped, as kubelet does.
  absl::Status OnTimer(absl::Time now) override {
    for (auto it = forwards_.begin(); it != forwards_.end();) {
      Forward& forward = it->second;
      if (forward.pod || now < forward.first_seen + creation_timeout_) {
        ++it;
        continue;
      }
      if (forward.data_stream) spdy_.Reset(forward.data_stream, SpdyRstStatus::kCancel);
      if (forward.error_stream) spdy_.Reset(forward.error_stream, SpdyRstStatus::kCancel);
      it = forwards_.erase(it);
    }
    return absl::OkStatus();
  }

  std::string& Output() override { return spdy_.output(); }
  bool Finished() const override { return closed_; }

 private:
  void OnEvent(const SpdySession::Event& event) {
    switch (event.kind) {
      case SpdySession::Event::kOpened:
        OnOpened(event.stream_id, event.headers);
        return;
      case SpdySession::Event::kData:
        if (Forward* forward = ByDataStream(event.stream_id)) {
          forward->to_pod += event.data;
          WriteToPod(*forward);
        }
        return;
      case SpdySession::Event::kRemoteDone:
        if (Forward* forward = ByDataStream(event.stream_id)) {
          forward->client_done = true;
          WriteToPod(*forward);
        }
        return;
      case SpdySession::Event::kReset:
        for (auto it = forwards_.begin(); it != forwards_.end(); ++it) {
          if (it->second.data_stream == event.stream_id ||
              it->second.error_stream == event.stream_id) {
            End(it);
            return;
          }
        }
        return;
      case SpdySession::Event::kGoAway:
        closed_ = true;
        return;
    }
  }

  void OnOpened(uint32_t stream_id, const SpdyHeaders& headers) {
    std::string type = SpdyHeaderValue(headers, "streamtype");
    int port = 0;
    if ((type != "data" && type != "error") ||
        !absl::SimpleAtoi(SpdyHeaderValue(headers, "port"), &port) || port <= 0 || port > 65535) {
      spdy_.Reset(stream_id, SpdyRstStatus::kProtocolError);
      return;
    }
    // Clients older than request ids pair an error stream with the data
    // stream that follows it.
    std::string request_id = SpdyHeaderValue(headers, "requestid");
    if (request_id.empty())
      request_id = absl::StrCat("stream-", type == "error" ? stream_id : stream_id - 2);
    auto [it, inserted] = forwards_.try_emplace(request_id);
    Forward& forward = it->second;
    uint32_t& slot = type == "data" ? forward.data_stream : forward.error_stream;
    if (slot != 0 || (!inserted && forward.port != port)) {
      spdy_.Reset(stream_id, SpdyRstStatus::kProtocolError);
      return;
    }
    slot = stream_id;
    forward.port = static_cast<uint16_t>(port);
    if (inserted) forward.first_seen = absl::Now();
    spdy_.Reply(stream_id);
    if (forward.data_stream && forward.error_stream) Dial(it);
  }

  void Dial(std::map<std::string, Forward>::iterator it) {
    Forward& forward = it->second;
    absl::StatusOr<UniqueFd> pod = backend_.DialPod(sandbox_id_, forward.port);
    if (!pod.ok()) {
      spdy_.Send(forward.error_stream,
                 absl::StrCat("error forwarding port ", forward.port, " to pod ", sandbox_id_,
                              ": ", pod.status().message()));
      End(it);
      return;
    }
    forward.pod = *std::move(pod);
    WriteToPod(forward);
  }

  void WriteToPod(Forward& forward) {
    if (!forward.pod) return;
    while (!forward.to_pod.empty()) {
      ssize_t n = ::send(forward.pod.get(), forward.to_pod.data(), forward.to_pod.size(),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) {  // the pod is gone; what it sent is still delivered
        forward.to_pod.clear();
        forward.pod_done = true;
        return;
      }
      forward.to_pod.erase(0, static_cast<size_t>(n));
    }
    if (forward.client_done && !forward.shut_pod_write) {
      ::shutdown(forward.pod.get(), SHUT_WR);
      forward.shut_pod_write = true;
    }
  }

  void ReadFromPod(Forward& forward) {
    char buffer[32 << 10];
    for (int i = 0; i < 8 && spdy_.output().size() < kOutputHighWater; ++i) {
      ssize_t n = ::recv(forward.pod.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        forward.pod_done = true;
        return;
      }
      spdy_.Send(forward.data_stream, absl::string_view(buffer, static_cast<size_t>(n)));
    }
  }

  // The pod closed: everything it sent has been passed on, so the data
  // stream ends, and the error stream with it (client-go waits for both).
  void MaybeEnd(std::map<std::string, Forward>::iterator it) {
    if (it->second.pod_done) End(it);
  }

  void End(std::map<std::string, Forward>::iterator it) {
    Forward& forward = it->second;
    if (forward.data_stream) spdy_.Finish(forward.data_stream);
    if (forward.error_stream) spdy_.Finish(forward.error_stream);
    forwards_.erase(it);
  }

  Forward* ByDataStream(uint32_t stream_id) {
    for (auto& [id, forward] : forwards_)
      if (forward.data_stream == stream_id) return &forward;
    return nullptr;
  }

  std::string sandbox_id_;
  StreamBackend& backend_;
  absl::Duration creation_timeout_;
  SpdySession spdy_;
  std::map<std::string, Forward> forwards_;  // by request id
  std::vector<std::string> polled_;          // request ids, in CollectPollFds order
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<StreamHandler> NewSpdyPortForward(std::string sandbox_id, StreamBackend& backend,
                                                  absl::Duration creation_timeout) {
  return std::make_unique<SpdyPortForward>(std::move(sandbox_id), backend, creation_timeout);
}

}  // namespace berth::streaming
