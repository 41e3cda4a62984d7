// Exec and attach over SPDY/3.1: the client opens one stream per channel,
// named by its "streamtype" header; the command starts once every stream
// the request implies is there.

#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/spdy_session.h"
#include "runtime/base/logging.h"

namespace berth::streaming {

namespace {

std::optional<Channel> ChannelNamed(absl::string_view stream_type) {
  if (stream_type == "stdin") return Channel::kStdin;
  if (stream_type == "stdout") return Channel::kStdout;
  if (stream_type == "stderr") return Channel::kStderr;
  if (stream_type == "error") return Channel::kError;
  if (stream_type == "resize") return Channel::kResize;
  return std::nullopt;
}

class SpdyRemoteCommand final : public StreamHandler, RemoteCommandPump::Channels {
 public:
  SpdyRemoteCommand(StreamRequest request, int version, StreamBackend& backend,
                    absl::Duration creation_timeout)
      : request_(request),
        version_(version),
        pump_(std::move(request), version, backend, *this),
        creation_deadline_(absl::Now() + creation_timeout) {}

  absl::Status OnClientBytes(absl::string_view bytes) override {
    std::vector<SpdySession::Event> events;
    absl::Status received = spdy_.Receive(bytes, events);
    for (SpdySession::Event& event : events) OnEvent(event);
    if (!received.ok()) {
      spdlog::warn("streaming: closing a SPDY connection: {}", received);
      closed_ = true;
    }
    return received;
  }

  void OnClientClosed() override { closed_ = true; }
  bool WantsClientBytes() const override { return pump_.WantsInput(); }

  void CollectPollFds(std::vector<pollfd>& fds, bool output_room) override {
    pump_.CollectPollFds(fds, output_room);
  }
  absl::Status OnPolled(absl::Span<const pollfd> fds) override {
    pump_.OnPolled(fds);
    return absl::OkStatus();
  }

  absl::Time NextTimer() const override {
    return pump_.started() ? absl::InfiniteFuture() : creation_deadline_;
  }
  absl::Status OnTimer(absl::Time now) override {
    if (pump_.started() || now < creation_deadline_) return absl::OkStatus();
    closed_ = true;
    return absl::DeadlineExceededError("timed out waiting for the client to create streams");
  }

  std::string& Output() override { return spdy_.output(); }
  bool Finished() const override { return closed_ || pump_.finished(); }

  // Channels.
  void Write(Channel channel, absl::string_view data) override {
    if (auto it = streams_.find(channel); it != streams_.end()) spdy_.Send(it->second, data);
  }
  void Close(Channel channel) override {
    if (auto it = streams_.find(channel); it != streams_.end()) spdy_.Finish(it->second);
  }
  size_t Unsent() const override { return spdy_.output_size(); }

 private:
  void OnEvent(SpdySession::Event& event) {
    switch (event.kind) {
      case SpdySession::Event::kOpened:
        OnOpened(event.stream_id, SpdyHeaderValue(event.headers, "streamtype"));
        return;
      case SpdySession::Event::kData:
        if (event.stream_id == StreamOf(Channel::kStdin)) pump_.OnStdin(event.data);
        if (event.stream_id == StreamOf(Channel::kResize)) pump_.OnResizeBytes(event.data);
        return;
      case SpdySession::Event::kRemoteDone:
      case SpdySession::Event::kReset:
        if (event.stream_id == StreamOf(Channel::kStdin)) pump_.OnStdinEnd();
        return;
      case SpdySession::Event::kGoAway:
        closed_ = true;
        return;
    }
  }

  void OnOpened(uint32_t stream_id, absl::string_view stream_type) {
    std::optional<Channel> channel = ChannelNamed(stream_type);
    if (!channel || streams_.contains(*channel) || pump_.started()) {
      spdy_.Reset(stream_id, SpdyRstStatus::kProtocolError);
      return;
    }
    streams_[*channel] = stream_id;
    spdy_.Reply(stream_id);
    if (HasExpectedStreams()) pump_.Start();
  }

  bool HasExpectedStreams() const {
    auto has = [&](Channel channel) { return streams_.contains(channel); };
    if (version_ >= 2 && !has(Channel::kError)) return false;
    if (request_.stdin && !has(Channel::kStdin)) return false;
    if (request_.stdout && !has(Channel::kStdout)) return false;
    if (request_.stderr && !request_.tty && !has(Channel::kStderr)) return false;
    if (request_.tty && version_ >= 3 && !has(Channel::kResize)) return false;
    return true;
  }

  uint32_t StreamOf(Channel channel) const {
    auto it = streams_.find(channel);
    return it == streams_.end() ? 0 : it->second;
  }

  StreamRequest request_;
  int version_;
  SpdySession spdy_;
  RemoteCommandPump pump_;
  absl::Time creation_deadline_;
  std::map<Channel, uint32_t> streams_;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<StreamHandler> NewSpdyRemoteCommand(StreamRequest request, int version,
                                                    StreamBackend& backend,
                                                    absl::Duration creation_timeout) {
  return std::make_unique<SpdyRemoteCommand>(std::move(request), version, backend,
                                             creation_timeout);
}

}  // namespace berth::streaming
