#pragma once

// The server's side of one SPDY/3.1 connection, without I/O: bytes from the
// client go in, stream events come out, and everything the server says
// collects in an output buffer the caller drains. PINGs are answered and
// SETTINGS/WINDOW_UPDATE ignored here (the Go peers do not enforce flow
// control). A protocol violation by the client is final: Receive fails, a
// GOAWAY is queued, and the caller closes the connection after flushing.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cri/streaming/spdy_frames.h"
#include "cri/streaming/spdy_headers.h"

namespace berth::streaming {

class SpdySession {
 public:
  struct Event {
    enum Kind {
      kOpened,      // the client opened a stream (headers set)
      kData,        // data from the client (data set)
      kRemoteDone,  // the client half-closed the stream (FIN)
      kReset,       // the client reset the stream; it is gone
      kGoAway,      // the client is leaving
    } kind;
    uint32_t stream_id = 0;
    SpdyHeaders headers;
    std::string data;
  };

  // At most this many streams open at once; more are refused.
  explicit SpdySession(size_t max_streams = 256) : max_streams_(max_streams) {}

  absl::Status Receive(absl::string_view bytes, std::vector<Event>& events);

  // Accepts a stream the client opened (SYN_REPLY, no headers).
  void Reply(uint32_t stream_id);
  // Data to the client; with `fin` the server is done writing the stream.
  void Send(uint32_t stream_id, absl::string_view data, bool fin = false);
  void Finish(uint32_t stream_id) { Send(stream_id, {}, true); }
  void Reset(uint32_t stream_id, SpdyRstStatus status);
  void GoAway(SpdyGoAwayStatus status = SpdyGoAwayStatus::kOk);

  // Bytes for the client, in order; the caller empties it as it writes.
  std::string& output() { return output_; }
  size_t output_size() const { return output_.size(); }
  bool going_away() const { return going_away_; }
  size_t open_streams() const { return streams_.size(); }

 private:
  struct Stream {
    bool remote_done = false;  // client sent FIN
    bool local_done = false;   // we sent FIN
  };

  absl::Status OnControl(const SpdyFrame& frame, std::vector<Event>& events);
  absl::Status OnSynStream(const SpdyFrame& frame, std::vector<Event>& events);
  void OnData(const SpdyFrame& frame, std::vector<Event>& events);
  void ForgetIfDone(uint32_t stream_id);
  absl::Status Fail(absl::Status status);

  size_t max_streams_;
  SpdyFrameReader reader_;
  SpdyHeaderDecoder decoder_;
  SpdyHeaderEncoder encoder_;
  std::map<uint32_t, Stream> streams_;
  uint32_t last_client_stream_ = 0;
  bool going_away_ = false;
  bool failed_ = false;
  std::string output_;
};

}  // namespace berth::streaming
