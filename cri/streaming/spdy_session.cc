#include "cri/streaming/spdy_session.h"

#include "absl/strings/str_cat.h"

namespace berth::streaming {

absl::Status SpdySession::Receive(absl::string_view bytes, std::vector<Event>& events) {
  if (failed_) return absl::FailedPreconditionError("the SPDY connection failed earlier");
  reader_.Append(bytes);
  for (;;) {
    absl::StatusOr<std::optional<SpdyFrame>> frame = reader_.Next();
    if (!frame.ok()) return Fail(frame.status());
    if (!frame->has_value()) return absl::OkStatus();
    if ((*frame)->control) {
      absl::Status handled = OnControl(**frame, events);
      if (!handled.ok()) return Fail(handled);
    } else {
      OnData(**frame, events);
    }
  }
}

absl::Status SpdySession::OnControl(const SpdyFrame& frame, std::vector<Event>& events) {
  switch (frame.type) {
    case SpdyType::kSynStream:
      return OnSynStream(frame, events);
    case SpdyType::kRstStream: {
      absl::StatusOr<RstStream> rst = ParseRstStream(frame.payload);
      if (!rst.ok()) return rst.status();
      if (streams_.erase(rst->stream_id) > 0)
        events.push_back({.kind = Event::kReset, .stream_id = rst->stream_id});
      return absl::OkStatus();
    }
    case SpdyType::kPing:
      if (frame.payload.size() != 4)
        return absl::InvalidArgumentError(absl::StrCat("PING of ", frame.payload.size(), " bytes"));
      output_ += EncodeSpdyControlFrame(SpdyType::kPing, 0, frame.payload);
      return absl::OkStatus();
    case SpdyType::kGoAway:
      events.push_back({.kind = Event::kGoAway});
      return absl::OkStatus();
    case SpdyType::kHeaders: {
      // Extra headers on an open stream mean nothing to these protocols, but
      // the block must still go through the decompressor to keep it in step.
      absl::StatusOr<uint32_t> id = ParseStreamIdPrefix(frame.payload);
      if (!id.ok()) return id.status();
      absl::StatusOr<SpdyHeaders> headers =
          decoder_.Decode(absl::string_view(frame.payload).substr(4));
      return headers.status();
    }
    case SpdyType::kSynReply:
      return absl::InvalidArgumentError("SYN_REPLY from a client, which opens no server streams");
    case SpdyType::kSettings:
    case SpdyType::kNoop:
    case SpdyType::kWindowUpdate:
      return absl::OkStatus();
  }
  // Draft 3: unknown control frame types are ignored.
  return absl::OkStatus();
}

absl::Status SpdySession::OnSynStream(const SpdyFrame& frame, std::vector<Event>& events) {
  absl::StatusOr<SynStream> syn = ParseSynStream(frame.payload);
  if (!syn.ok()) return syn.status();
  // Decompress first: the zlib context advances with every block.
  absl::StatusOr<SpdyHeaders> headers = decoder_.Decode(syn->header_block);
  if (!headers.ok()) return headers.status();
  uint32_t id = syn->stream_id;
  if (id == 0 || id % 2 == 0)
    return absl::InvalidArgumentError(absl::StrCat("client opened stream ", id, ", not an odd id"));
  if (id <= last_client_stream_)
    return absl::InvalidArgumentError(absl::StrCat(
        "client reused stream id ", id, " (the last one was ", last_client_stream_, ")"));
  last_client_stream_ = id;
  if (going_away_ || streams_.size() >= max_streams_) {
    Reset(id, SpdyRstStatus::kRefusedStream);
    return absl::OkStatus();
  }
  Stream& stream = streams_[id];
  stream.remote_done = (frame.flags & kSpdyFin) != 0;
  // A unidirectional stream carries nothing from us.
  stream.local_done = (frame.flags & kSpdyUnidirectional) != 0;
  events.push_back({.kind = Event::kOpened, .stream_id = id, .headers = *std::move(headers)});
  if (stream.remote_done) events.push_back({.kind = Event::kRemoteDone, .stream_id = id});
  // Unidirectional with FIN: nothing can pass either way, so it must not
  // hold a place among max_streams_.
  ForgetIfDone(id);
  return absl::OkStatus();
}

void SpdySession::OnData(const SpdyFrame& frame, std::vector<Event>& events) {
  auto it = streams_.find(frame.stream_id);
  if (it == streams_.end()) {
    // Data may cross our RST_STREAM on the wire; each such frame is
    // answered with one, which costs the client as much as it costs us.
    Reset(frame.stream_id, SpdyRstStatus::kInvalidStream);
    return;
  }
  if (it->second.remote_done) {
    // Reset forgets the stream: `it` is gone after it.
    Reset(frame.stream_id, SpdyRstStatus::kStreamAlreadyClosed);
    events.push_back({.kind = Event::kReset, .stream_id = frame.stream_id});
    return;
  }
  if (!frame.payload.empty())
    events.push_back({.kind = Event::kData, .stream_id = frame.stream_id, .data = frame.payload});
  if (frame.flags & kSpdyFin) {
    it->second.remote_done = true;
    events.push_back({.kind = Event::kRemoteDone, .stream_id = frame.stream_id});
    ForgetIfDone(frame.stream_id);
  }
}

void SpdySession::Reply(uint32_t stream_id) {
  output_ += EncodeSpdyControlFrame(SpdyType::kSynReply, 0,
                                    SynReplyPayload(stream_id, encoder_.Encode({})));
}

void SpdySession::Send(uint32_t stream_id, absl::string_view data, bool fin) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end() || it->second.local_done) return;
  // Chunks no bigger than what Go peers read in one go.
  constexpr size_t kChunk = 32 << 10;
  do {
    absl::string_view chunk = data.substr(0, kChunk);
    data.remove_prefix(chunk.size());
    bool last = data.empty() && fin;
    output_ += EncodeSpdyDataFrame(stream_id, last ? kSpdyFin : 0, chunk);
  } while (!data.empty());
  if (fin) {
    it->second.local_done = true;
    ForgetIfDone(stream_id);
  }
}

void SpdySession::Reset(uint32_t stream_id, SpdyRstStatus status) {
  output_ += EncodeSpdyControlFrame(SpdyType::kRstStream, 0, RstStreamPayload(stream_id, status));
  streams_.erase(stream_id);
}

void SpdySession::GoAway(SpdyGoAwayStatus status) {
  if (going_away_) return;
  going_away_ = true;
  output_ += EncodeSpdyControlFrame(SpdyType::kGoAway, 0,
                                    GoAwayPayload(last_client_stream_, status));
}

void SpdySession::ForgetIfDone(uint32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it != streams_.end() && it->second.remote_done && it->second.local_done) streams_.erase(it);
}

absl::Status SpdySession::Fail(absl::Status status) {
  failed_ = true;
  GoAway(SpdyGoAwayStatus::kProtocolError);
  return status;
}

}  // namespace berth::streaming
