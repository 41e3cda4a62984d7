#pragma once

// The client end of a SPDY/3.1 connection after the HTTP upgrade, driven by
// one thread: it opens streams (odd ids from 1) and waits for each
// SYN_REPLY the way spdystream's CreateStream + WaitTimeout does, queues
// data, answers PINGs, and runs the read loop until the caller's condition
// holds. Every frame the server sends is checked; the first protocol
// violation fails the session for good.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/support/spdy_client_codec.h"
#include "tests/support/upgrade_connection.h"

namespace berth::testing {

class SpdyClientSession {
 public:
  // What the client knows about one stream it opened.
  struct Stream {
    std::string label;             // "stream 3 (streamtype=stdin)", for messages
    bool replied = false;          // SYN_REPLY arrived
    bool remote_closed = false;    // the server sent FIN or RST_STREAM
    bool reset_by_server = false;  // ... and it was RST_STREAM
    uint32_t reset_status = 0;
    bool local_closed = false;  // the client sent FIN
    bool abandoned = false;     // the client sent RST_STREAM; later frames are dropped
    bool keep_data = true;      // false: count the bytes, drop them
    std::string data;           // what the server sent on the stream
    uint64_t bytes_received = 0;
  };

  // Takes the connection right after the 101 response (its inbox may already
  // hold frames).
  static absl::StatusOr<std::unique_ptr<SpdyClientSession>> Create(UpgradeConnection connection);

  // The time limit for the waits that follow.
  void set_deadline(absl::Time deadline) { deadline_ = deadline; }

  // Sends SYN_STREAM with `headers` and waits for the SYN_REPLY. Fails if the
  // server resets the stream instead or closes the connection.
  absl::StatusOr<uint32_t> OpenStream(const spdy::HeaderBlock& headers);
  // Queues `data` as DATA frames of at most 32 KiB (io.Copy's buffer size),
  // the last one with FIN if `fin`; an empty `data` with `fin` sends an
  // empty FIN frame, as spdystream's Close does.
  absl::Status Write(uint32_t stream_id, absl::string_view data, bool fin);
  // RST_STREAM CANCEL: the client gives up on the stream.
  void Abandon(uint32_t stream_id);
  // PING with the next odd id; ping_answered() tells whether every PING
  // sent so far came back.
  void SendPing();
  bool ping_answered() const { return pings_outstanding_.empty(); }

  // Runs the read loop until `done()` holds or the server closed the
  // connection (then OK, connection_closed() is true). `waiting_for` names
  // the condition in the DeadlineExceeded message.
  absl::Status RunUntil(const std::function<bool()>& done, absl::string_view waiting_for);

  // Writes what is queued if it can go without waiting (the next RunUntil
  // sends the rest).
  void TryFlush() { connection_.TryFlush(); }
  // Ends the session as client-go does (GOAWAY, then close), without waiting.
  void SayGoodbye();
  // Closes the TCP connection at once, nothing sent.
  void HangUp();

  const Stream& stream(uint32_t stream_id) const { return streams_.at(stream_id); }
  Stream& mutable_stream(uint32_t stream_id) { return streams_.at(stream_id); }
  bool connection_closed() const { return connection_.eof(); }
  bool goaway_received() const { return goaway_received_; }

 private:
  SpdyClientSession(UpgradeConnection connection, spdy::HeaderCompressor compressor,
                    spdy::HeaderDecompressor decompressor);

  absl::Status ProcessInbox(const std::function<bool()>& done);
  absl::Status HandleFrame(const spdy::Frame& frame);
  absl::Status HandleData(const spdy::Frame& frame);
  absl::Status HandleSynReply(const spdy::Frame& frame);
  absl::Status HandleHeaders(const spdy::Frame& frame);
  absl::Status HandleRstStream(const spdy::Frame& frame);
  absl::Status HandlePing(const spdy::Frame& frame);
  absl::Status HandleGoAway(const spdy::Frame& frame);
  absl::Status HandleWindowUpdate(const spdy::Frame& frame);
  // Inflates a header block (always, to keep the zlib context in step) and
  // checks its contents.
  absl::StatusOr<spdy::HeaderBlock> InflateHeaders(absl::string_view compressed);
  // The stream `frame_name` refers to; a violation if the client never opened it.
  absl::StatusOr<Stream*> OpenedStream(uint32_t stream_id, absl::string_view frame_name);
  absl::Status Fail(absl::Status status);

  UpgradeConnection connection_;
  spdy::HeaderCompressor compressor_;
  spdy::HeaderDecompressor decompressor_;
  absl::Time deadline_ = absl::InfiniteFuture();
  std::map<uint32_t, Stream> streams_;
  uint32_t next_stream_id_ = 1;
  uint32_t next_ping_id_ = 1;
  std::set<uint32_t> pings_outstanding_;
  bool goaway_received_ = false;
  absl::Status failure_;  // the first error; the session is unusable after it
};

}  // namespace berth::testing
