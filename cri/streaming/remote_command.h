#pragma once

// Exec and attach sessions (kubelet's "remotecommand" protocols) over
// either transport: RemoteCommandPump moves bytes between a StreamSession
// (the exec helper or the container's monitor) and the client's channels,
// and reports how the command ended. The SPDY and WebSocket handlers that
// carry the channels are made by the functions at the bottom.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cri/streaming/stream_backend.h"
#include "cri/streaming/stream_handler.h"
#include "cri/streaming/stream_request.h"

namespace berth::streaming {

// The channels of a session; the numbers are the WebSocket channel bytes.
enum class Channel : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kError = 3, kResize = 4 };

// 1 for "channel.k8s.io", N for "vN.channel.k8s.io" (N up to 5), 0 otherwise.
int RemoteCommandVersion(absl::string_view protocol);

// What the error channel carries at the end: v4 and later, a JSON status
// (Success; Failure with reason NonZeroExitCode and the code as cause);
// earlier versions, the failure's text or nothing.
std::string ExitStatusMessage(int version, const std::vector<std::string>& cmd, int exit_code);
std::string ErrorStatusMessage(int version, absl::string_view error);

class RemoteCommandPump {
 public:
  class Channels {
   public:
    virtual ~Channels() = default;
    virtual void Write(Channel channel, absl::string_view data) = 0;
    virtual void Close(Channel channel) = 0;
    // Output the client has not taken yet.
    virtual size_t Unsent() const = 0;
  };

  RemoteCommandPump(StreamRequest request, int version, StreamBackend& backend, Channels& channels)
      : request_(std::move(request)), version_(version), backend_(backend), channels_(channels) {}

  // Starts the exec or attaches; a failure goes to the error channel.
  void Start();
  void OnStdin(absl::string_view data);
  void OnStdinEnd();
  // Resize channel bytes: {"Width":W,"Height":H} objects, possibly split.
  void OnResizeBytes(absl::string_view data);

  bool WantsInput() const { return pending_input_bytes_ < kInputHighWater; }
  void CollectPollFds(std::vector<pollfd>& fds, bool output_room);
  void OnPolled(absl::Span<const pollfd> fds);
  bool finished() const { return finished_; }
  bool started() const { return session_ != nullptr || finished_; }

 private:
  static constexpr size_t kInputHighWater = 1 << 20;

  void Queue(StreamTag tag, absl::string_view payload);
  void FlushInput();
  void PumpOutput();
  void Finish(const std::string& error_channel_message);

  StreamRequest request_;
  int version_;
  StreamBackend& backend_;
  Channels& channels_;
  std::unique_ptr<StreamSession> session_;
  std::deque<std::pair<StreamTag, std::string>> pending_input_;
  size_t pending_input_bytes_ = 0;
  std::string resize_bytes_;
  bool finished_ = false;
  bool wants_write_ = false;  // input waits for the session's channel
};

// The handlers for an upgraded connection. `version` is the negotiated
// protocol's; the SPDY one waits up to `creation_timeout` for the client's
// streams.
std::unique_ptr<StreamHandler> NewSpdyRemoteCommand(StreamRequest request, int version,
                                                    StreamBackend& backend,
                                                    absl::Duration creation_timeout);
// `base64`: the base64.channel.k8s.io text framing.
std::unique_ptr<StreamHandler> NewWebSocketRemoteCommand(StreamRequest request, int version,
                                                         bool base64, StreamBackend& backend);

}  // namespace berth::streaming
