#include "tests/support/spdy_client_session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/status_macros.h"

namespace berth::testing {
namespace {

// client-go copies with io.Copy, whose buffer is 32 KiB.
constexpr size_t kMaxWriteChunk = 32 * 1024;
constexpr size_t kMaxHeaderBlockBytes = 64 * 1024;
constexpr size_t kMaxStreamData = 64 * 1024 * 1024;

absl::Status Violation(absl::string_view what) {
  return absl::InternalError(absl::StrCat("SPDY protocol violation: ", what));
}

std::string StreamLabel(uint32_t stream_id, const spdy::HeaderBlock& headers) {
  return absl::StrCat("stream ", stream_id, " (",
                      absl::StrJoin(headers, " ", absl::PairFormatter("=")), ")");
}

const char* FrameName(uint16_t type) {
  switch (static_cast<spdy::FrameType>(type)) {
    case spdy::FrameType::kSynStream:
      return "SYN_STREAM";
    case spdy::FrameType::kSynReply:
      return "SYN_REPLY";
    case spdy::FrameType::kRstStream:
      return "RST_STREAM";
    case spdy::FrameType::kSettings:
      return "SETTINGS";
    case spdy::FrameType::kPing:
      return "PING";
    case spdy::FrameType::kGoAway:
      return "GOAWAY";
    case spdy::FrameType::kHeaders:
      return "HEADERS";
    case spdy::FrameType::kWindowUpdate:
      return "WINDOW_UPDATE";
  }
  return "unknown";
}

absl::Status CheckFlags(const spdy::Frame& frame, uint8_t allowed) {
  if ((frame.flags & ~allowed) != 0) {
    return Violation(absl::StrCat(frame.is_control ? FrameName(frame.type) : "DATA",
                                  " frame with undefined flags 0x", absl::Hex(frame.flags)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SpdyClientSession>> SpdyClientSession::Create(
    UpgradeConnection connection) {
  ASSIGN_OR_RETURN(spdy::HeaderCompressor compressor, spdy::HeaderCompressor::Create());
  ASSIGN_OR_RETURN(spdy::HeaderDecompressor decompressor, spdy::HeaderDecompressor::Create());
  return std::unique_ptr<SpdyClientSession>(
      new SpdyClientSession(std::move(connection), std::move(compressor), std::move(decompressor)));
}

SpdyClientSession::SpdyClientSession(UpgradeConnection connection,
                                     spdy::HeaderCompressor compressor,
                                     spdy::HeaderDecompressor decompressor)
    : connection_(std::move(connection)),
      compressor_(std::move(compressor)),
      decompressor_(std::move(decompressor)) {}

absl::StatusOr<uint32_t> SpdyClientSession::OpenStream(const spdy::HeaderBlock& headers) {
  RETURN_IF_ERROR(failure_);
  if (goaway_received_) {
    return absl::FailedPreconditionError("the server sent GOAWAY: no new streams");
  }
  if (next_stream_id_ > spdy::kMaxStreamId) {
    return absl::ResourceExhaustedError("stream ids exhausted");
  }
  const uint32_t stream_id = next_stream_id_;
  next_stream_id_ += 2;
  absl::StatusOr<std::string> compressed =
      compressor_.Compress(spdy::SerializeHeaderBlock(headers));
  if (!compressed.ok()) return Fail(compressed.status());
  Stream& stream = streams_[stream_id];
  stream.label = StreamLabel(stream_id, headers);
  connection_.Queue(spdy::EncodeSynStream(stream_id, 0, *compressed));
  RETURN_IF_ERROR(RunUntil([&] { return stream.replied || stream.remote_closed; },
                           absl::StrCat("the SYN_REPLY for ", stream.label)));
  if (stream.reset_by_server) {
    return absl::FailedPreconditionError(absl::StrCat("the server reset ", stream.label,
                                                      " (status ", stream.reset_status,
                                                      ") instead of replying"));
  }
  if (!stream.replied) {
    return absl::UnavailableError(
        absl::StrCat("the server closed the connection before replying to ", stream.label));
  }
  return stream_id;
}

absl::Status SpdyClientSession::Write(uint32_t stream_id, absl::string_view data, bool fin) {
  RETURN_IF_ERROR(failure_);
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("write on unopened stream ", stream_id));
  }
  Stream& stream = it->second;
  if (stream.local_closed || stream.abandoned) {
    return absl::FailedPreconditionError(
        absl::StrCat("write on ", stream.label, " after the client closed it"));
  }
  for (size_t offset = 0; offset < data.size(); offset += kMaxWriteChunk) {
    absl::string_view chunk = data.substr(offset, kMaxWriteChunk);
    const bool last = offset + chunk.size() == data.size();
    connection_.Queue(spdy::EncodeDataFrame(stream_id, fin && last ? spdy::kFlagFin : 0, chunk));
  }
  if (data.empty() && fin) connection_.Queue(spdy::EncodeDataFrame(stream_id, spdy::kFlagFin, ""));
  if (fin) stream.local_closed = true;
  return absl::OkStatus();
}

void SpdyClientSession::Abandon(uint32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end() || it->second.abandoned) return;
  it->second.abandoned = true;
  connection_.Queue(spdy::EncodeRstStream(stream_id, spdy::kRstCancel));
}

void SpdyClientSession::SendPing() {
  const uint32_t id = next_ping_id_;
  next_ping_id_ += 2;
  pings_outstanding_.insert(id);
  connection_.Queue(spdy::EncodePing(id));
}

absl::Status SpdyClientSession::RunUntil(const std::function<bool()>& done,
                                         absl::string_view waiting_for) {
  RETURN_IF_ERROR(failure_);
  while (true) {
    RETURN_IF_ERROR(ProcessInbox(done));
    if (done()) return absl::OkStatus();
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

void SpdyClientSession::SayGoodbye() {
  if (failure_.ok() && !connection_.eof()) {
    // No server-initiated streams were accepted: the last good one is 0.
    connection_.Queue(spdy::EncodeGoAway(0, spdy::kGoAwayOk));
    connection_.TryFlush();
  }
  connection_.Close();
}

void SpdyClientSession::HangUp() { connection_.Close(); }

absl::Status SpdyClientSession::Fail(absl::Status status) {
  if (failure_.ok()) failure_ = std::move(status);
  return failure_;
}

absl::Status SpdyClientSession::ProcessInbox(const std::function<bool()>& done) {
  std::string& inbox = connection_.inbox();
  size_t offset = 0;
  absl::Status status;
  // Frame by frame, stopping once `done` holds: the frames after it belong
  // to what the caller does next (a canned or fast server may send them early).
  while (status.ok() && !done()) {
    size_t consumed = 0;
    absl::StatusOr<std::optional<spdy::Frame>> frame =
        spdy::ParseFrame(absl::string_view(inbox).substr(offset), &consumed);
    if (!frame.ok()) {
      status = frame.status();
      break;
    }
    if (!frame->has_value()) break;
    offset += consumed;
    status = HandleFrame(**frame);
  }
  inbox.erase(0, offset);
  return status.ok() ? status : Fail(status);
}

absl::Status SpdyClientSession::HandleFrame(const spdy::Frame& frame) {
  if (!frame.is_control) return HandleData(frame);
  switch (static_cast<spdy::FrameType>(frame.type)) {
    case spdy::FrameType::kSynStream: {
      ASSIGN_OR_RETURN(spdy::SynStreamFrame syn, spdy::ParseSynStream(frame.payload));
      return Violation(absl::StrCat("the server opened stream ", syn.stream_id,
                                    " (SYN_STREAM); these protocols have only client streams"));
    }
    case spdy::FrameType::kSynReply:
      return HandleSynReply(frame);
    case spdy::FrameType::kRstStream:
      return HandleRstStream(frame);
    case spdy::FrameType::kSettings:
      RETURN_IF_ERROR(CheckFlags(frame, 0x01));  // FLAG_SETTINGS_CLEAR_SETTINGS
      return spdy::ValidateSettings(frame.payload);
    case spdy::FrameType::kPing:
      return HandlePing(frame);
    case spdy::FrameType::kGoAway:
      return HandleGoAway(frame);
    case spdy::FrameType::kHeaders:
      return HandleHeaders(frame);
    case spdy::FrameType::kWindowUpdate:
      return HandleWindowUpdate(frame);
  }
  return Violation(absl::StrCat("unhandled control frame type ", frame.type));
}

absl::Status SpdyClientSession::HandleData(const spdy::Frame& frame) {
  auto it = streams_.find(frame.stream_id);
  if (it == streams_.end()) {
    return Violation(
        absl::StrCat("DATA for stream ", frame.stream_id, ", which the client never opened"));
  }
  Stream& stream = it->second;
  if (stream.abandoned) return absl::OkStatus();  // in flight when the client reset it
  RETURN_IF_ERROR(CheckFlags(frame, spdy::kFlagFin));
  if (!stream.replied)
    return Violation(absl::StrCat("DATA on ", stream.label, " before its SYN_REPLY"));
  if (stream.remote_closed) {
    return Violation(absl::StrCat("DATA on ", stream.label, " after the server closed it"));
  }
  stream.bytes_received += frame.payload.size();
  if (stream.keep_data) {
    if (stream.data.size() + frame.payload.size() > kMaxStreamData) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", kMaxStreamData, " bytes on ", stream.label));
    }
    stream.data.append(frame.payload);
  }
  if ((frame.flags & spdy::kFlagFin) != 0) stream.remote_closed = true;
  return absl::OkStatus();
}

absl::Status SpdyClientSession::HandleSynReply(const spdy::Frame& frame) {
  ASSIGN_OR_RETURN(spdy::StreamHeadersFrame reply, spdy::ParseStreamHeaders(frame.payload));
  RETURN_IF_ERROR(InflateHeaders(reply.compressed_headers));
  RETURN_IF_ERROR(CheckFlags(frame, spdy::kFlagFin));
  ASSIGN_OR_RETURN(Stream * stream, OpenedStream(reply.stream_id, "SYN_REPLY"));
  if (stream->replied) return Violation(absl::StrCat("a second SYN_REPLY for ", stream->label));
  if (stream->remote_closed) {
    return Violation(absl::StrCat("SYN_REPLY for ", stream->label, " after the server reset it"));
  }
  stream->replied = true;
  if ((frame.flags & spdy::kFlagFin) != 0) stream->remote_closed = true;
  return absl::OkStatus();
}

absl::Status SpdyClientSession::HandleHeaders(const spdy::Frame& frame) {
  ASSIGN_OR_RETURN(spdy::StreamHeadersFrame headers, spdy::ParseStreamHeaders(frame.payload));
  RETURN_IF_ERROR(InflateHeaders(headers.compressed_headers));
  RETURN_IF_ERROR(CheckFlags(frame, spdy::kFlagFin));
  ASSIGN_OR_RETURN(Stream * stream, OpenedStream(headers.stream_id, "HEADERS"));
  if (stream->abandoned) return absl::OkStatus();
  if (!stream->replied) {
    return Violation(absl::StrCat("HEADERS on ", stream->label, " before its SYN_REPLY"));
  }
  if (stream->remote_closed) {
    return Violation(absl::StrCat("HEADERS on ", stream->label, " after the server closed it"));
  }
  if ((frame.flags & spdy::kFlagFin) != 0) stream->remote_closed = true;
  return absl::OkStatus();
}

absl::Status SpdyClientSession::HandleRstStream(const spdy::Frame& frame) {
  RETURN_IF_ERROR(CheckFlags(frame, 0));
  ASSIGN_OR_RETURN(spdy::RstStreamFrame reset, spdy::ParseRstStream(frame.payload));
  ASSIGN_OR_RETURN(Stream * stream, OpenedStream(reset.stream_id, "RST_STREAM"));
  if (stream->abandoned) return absl::OkStatus();
  if (stream->reset_by_server) {
    return Violation(absl::StrCat("a second RST_STREAM for ", stream->label));
  }
  stream->reset_by_server = true;
  stream->reset_status = reset.status;
  stream->remote_closed = true;
  return absl::OkStatus();
}

absl::Status SpdyClientSession::HandlePing(const spdy::Frame& frame) {
  RETURN_IF_ERROR(CheckFlags(frame, 0));
  ASSIGN_OR_RETURN(uint32_t id, spdy::ParsePing(frame.payload));
  if (id == 0) return Violation("PING with id 0");
  if (id % 2 == 0) {
    // The server's own PING (even ids): echo it, as spdystream does.
    connection_.Queue(spdy::EncodePing(id));
    return absl::OkStatus();
  }
  if (pings_outstanding_.erase(id) == 0) {
    return Violation(absl::StrCat("PING reply ", id, " for a PING the client never sent"));
  }
  return absl::OkStatus();
}

absl::Status SpdyClientSession::HandleGoAway(const spdy::Frame& frame) {
  RETURN_IF_ERROR(CheckFlags(frame, 0));
  ASSIGN_OR_RETURN(spdy::GoAwayFrame goaway, spdy::ParseGoAway(frame.payload));
  if (goaway.last_good_stream_id >= next_stream_id_) {
    return Violation(absl::StrCat("GOAWAY names stream ", goaway.last_good_stream_id,
                                  " as accepted; the client opened none that high"));
  }
  goaway_received_ = true;
  return absl::OkStatus();
}

absl::Status SpdyClientSession::HandleWindowUpdate(const spdy::Frame& frame) {
  RETURN_IF_ERROR(CheckFlags(frame, 0));
  ASSIGN_OR_RETURN(spdy::WindowUpdateFrame update, spdy::ParseWindowUpdate(frame.payload));
  // The Go peers do not enforce windows, so neither does this client; the
  // frame only has to name the connection (0) or a stream the client opened.
  if (update.stream_id != 0) RETURN_IF_ERROR(OpenedStream(update.stream_id, "WINDOW_UPDATE"));
  return absl::OkStatus();
}

absl::StatusOr<spdy::HeaderBlock> SpdyClientSession::InflateHeaders(absl::string_view compressed) {
  ASSIGN_OR_RETURN(std::string block, decompressor_.Decompress(compressed, kMaxHeaderBlockBytes));
  return spdy::ParseHeaderBlock(block);
}

absl::StatusOr<SpdyClientSession::Stream*> SpdyClientSession::OpenedStream(
    uint32_t stream_id, absl::string_view frame_name) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) {
    return Violation(
        absl::StrCat(frame_name, " for stream ", stream_id, ", which the client never opened"));
  }
  return &it->second;
}

}  // namespace berth::testing
