// SpdySession against arbitrary clients. The input is a script: raw bytes,
// or frames made from the input's bytes (SYN_STREAM and HEADERS blocks
// compressed here with the SPDY dictionary, so that the fuzzer gets past
// zlib), fed in chunks the input chooses, mixed with the server's own calls
// (Reply, Send, Finish, Reset, GoAway). What must hold whatever the client
// does: a failure is final and announced with a GOAWAY; opened stream ids
// are odd and only grow; events name only streams that were opened and not
// reset; no data follows the client's FIN; open streams stay within the
// limit; the output is whole, well-formed frames whose header blocks
// inflate to nothing.

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cri/streaming/spdy_frames.h"
#include "cri/streaming/spdy_headers.h"
#include "cri/streaming/spdy_session.h"
#include "tests/fuzz/fuzz_support.h"

namespace berth::streaming::fuzz {
namespace {

std::string Control(uint16_t version, uint16_t type, uint8_t flags, absl::string_view payload) {
  std::string frame;
  Append32(frame, 0x80000000u | static_cast<uint32_t>(version & 0x7fff) << 16 | type);
  Append32(frame, static_cast<uint32_t>(flags) << 24 | (payload.size() & 0xffffff));
  frame.append(payload.data(), payload.size());
  return frame;
}

std::string Data(uint32_t stream_id, uint8_t flags, absl::string_view payload) {
  std::string frame;
  Append32(frame, stream_id & 0x7fffffff);
  Append32(frame, static_cast<uint32_t>(flags) << 24 | (payload.size() & 0xffffff));
  frame.append(payload.data(), payload.size());
  return frame;
}

class Harness {
 public:
  explicit Harness(FuzzedDataProvider& input)
      : input_(input),
        max_streams_(input.ConsumeIntegralInRange<size_t>(1, 8)),
        session_(max_streams_) {}

  void Run() {
    while (input_.remaining_bytes() > 0) {
      switch (input_.ConsumeIntegralInRange<int>(0, 11)) {
        case 0:
          Feed(input_.ConsumeBytesAsString(input_.ConsumeIntegralInRange<size_t>(0, 512)));
          break;
        case 1:
        case 2:
          Feed(SynStream());
          break;
        case 3:
        case 4:
          Feed(DataFrame());
          break;
        case 5:
          Feed(OtherControlFrame());
          break;
        case 6:
          session_.Reply(PickStream());
          break;
        case 7: {
          uint32_t id = PickStream();
          size_t size = input_.ConsumeIntegralInRange<size_t>(0, 100 << 10);
          session_.Send(id, std::string(size, 'o'), input_.ConsumeBool());
          break;
        }
        case 8:
          session_.Finish(PickStream());
          break;
        case 9:
          session_.Reset(PickStream(), static_cast<SpdyRstStatus>(
                                           input_.ConsumeIntegralInRange<uint32_t>(1, 11)));
          break;
        case 10:
          session_.GoAway(
              static_cast<SpdyGoAwayStatus>(input_.ConsumeIntegralInRange<uint32_t>(0, 2)));
          break;
        case 11:
          // A frame too big for the reader, announced by its header alone.
          Feed(input_.ConsumeBool()
                   ? Data(1, 0, "").substr(0, 5) + "\x10\x00\x01"
                   : Control(3, 1, 0, "").substr(0, 5) + std::string("\x01\x00\x01", 3));
          break;
      }
      CheckOutput();
      FUZZ_CHECK(session_.open_streams() <= max_streams_, "%zu open, limit %zu",
                 session_.open_streams(), max_streams_);
    }
  }

 private:
  void Feed(const std::string& bytes) {
    FeedInChunks(input_, bytes, [&](absl::string_view chunk) { Receive(chunk); });
  }

  void Receive(absl::string_view chunk) {
    std::vector<SpdySession::Event> events;
    absl::Status status = session_.Receive(chunk, events);
    if (failed_) {
      FUZZ_CHECK(status.code() == absl::StatusCode::kFailedPrecondition,
                 "Receive after a failure did not fail for good");
      FUZZ_CHECK(events.empty(), "events after a failure");
      return;
    }
    // Events before a failure in the same call are still real.
    CheckEvents(events);
    if (!status.ok()) {
      failed_ = true;
      FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, "unexpected error code");
      FUZZ_CHECK(session_.going_away(), "a failed session is not going away");
    }
  }

  void CheckEvents(const std::vector<SpdySession::Event>& events) {
    for (const SpdySession::Event& event : events) {
      uint32_t id = event.stream_id;
      switch (event.kind) {
        case SpdySession::Event::kOpened:
          FUZZ_CHECK(id % 2 == 1 && id > last_opened_, "opened stream %u after %u", id,
                     last_opened_);
          last_opened_ = id;
          opened_.push_back(id);
          live_.insert(id);
          break;
        case SpdySession::Event::kData:
          FUZZ_CHECK(live_.contains(id) && !remote_done_.contains(id),
                     "data for stream %u, not open or finished", id);
          FUZZ_CHECK(!event.data.empty(), "empty data event");
          break;
        case SpdySession::Event::kRemoteDone:
          FUZZ_CHECK(live_.contains(id) && !remote_done_.contains(id),
                     "FIN for stream %u, not open or finished", id);
          remote_done_.insert(id);
          break;
        case SpdySession::Event::kReset:
          FUZZ_CHECK(live_.contains(id), "reset of stream %u, never opened", id);
          live_.erase(id);
          remote_done_.erase(id);
          break;
        case SpdySession::Event::kGoAway:
          break;
      }
    }
  }

  // The output is always whole frames: check each, then drop them.
  void CheckOutput() {
    SpdyFrameReader reader;
    reader.Append(session_.output());
    for (;;) {
      absl::StatusOr<std::optional<SpdyFrame>> frame = reader.Next();
      FUZZ_CHECK(frame.ok(), "the server wrote a frame it would not read itself");
      if (!frame->has_value()) break;
      const SpdyFrame& f = **frame;
      if (!f.control) {
        FUZZ_CHECK(f.payload.size() <= (32 << 10), "data frame of %zu bytes", f.payload.size());
        FUZZ_CHECK((f.flags & ~kSpdyFin) == 0, "data frame flags %x", f.flags);
        continue;
      }
      switch (f.type) {
        case SpdyType::kSynReply: {
          FUZZ_CHECK(f.payload.size() >= 4, "short SYN_REPLY");
          absl::StatusOr<SpdyHeaders> headers =
              peer_decoder_.Decode(absl::string_view(f.payload).substr(4));
          FUZZ_CHECK(headers.ok() && headers->empty(), "SYN_REPLY block does not inflate to {}");
          break;
        }
        case SpdyType::kRstStream:
          FUZZ_CHECK(f.payload.size() == 8, "RST_STREAM of %zu bytes", f.payload.size());
          break;
        case SpdyType::kPing:
          FUZZ_CHECK(f.payload.size() == 4, "PING of %zu bytes", f.payload.size());
          break;
        case SpdyType::kGoAway:
          FUZZ_CHECK(f.payload.size() == 8, "GOAWAY of %zu bytes", f.payload.size());
          FUZZ_CHECK(!goaway_seen_, "a second GOAWAY");
          goaway_seen_ = true;
          break;
        default:
          FUZZ_CHECK(false, "the server sent control frame type %d", static_cast<int>(f.type));
      }
    }
    FUZZ_CHECK(reader.buffered() == 0, "the output ends inside a frame");
    session_.output().clear();
    FUZZ_CHECK(!failed_ || goaway_seen_, "a failure without a GOAWAY");
  }

  // A stream the client opened, or any id at all.
  uint32_t PickStream() {
    if (opened_.empty() || input_.ConsumeBool()) return input_.ConsumeIntegral<uint32_t>();
    return opened_[input_.ConsumeIntegralInRange<size_t>(0, opened_.size() - 1)];
  }

  // Usually the next odd id, so that streams really open.
  uint32_t NewStreamId() {
    uint32_t id = input_.ConsumeBool() ? next_id_ : input_.ConsumeIntegral<uint32_t>();
    if (id % 2 == 1 && id >= next_id_ && id < 0x7ffffffd) next_id_ = id + 2;
    return id;
  }

  // A compressed header block: pairs from the input, or raw bytes.
  std::string HeaderBlock() {
    std::string raw;
    if (input_.ConsumeBool()) {
      raw = input_.ConsumeRandomLengthString(64);
    } else {
      static constexpr const char* kNames[] = {"streamtype", "port", "requestid", "Upper", ""};
      uint32_t count = input_.ConsumeIntegralInRange<uint32_t>(0, 4);
      Append32(raw, count);
      for (uint32_t i = 0; i < count; ++i) {
        std::string name = input_.ConsumeBool() ? input_.PickValueInArray(kNames)
                                                : input_.ConsumeRandomLengthString(16);
        std::string value = input_.ConsumeRandomLengthString(32);
        Append32(raw, static_cast<uint32_t>(name.size()));
        raw += name;
        Append32(raw, static_cast<uint32_t>(value.size()));
        raw += value;
      }
    }
    return deflater_.Compress(raw);
  }

  std::string SynStream() {
    uint32_t id = NewStreamId();
    uint8_t flags = input_.ConsumeIntegral<uint8_t>();
    std::string payload;
    Append32(payload, id);
    Append32(payload, input_.ConsumeIntegral<uint32_t>());                    // associated stream
    payload.push_back(static_cast<char>(input_.ConsumeIntegral<uint8_t>()));  // priority
    payload.push_back(0);                                                     // slot
    payload += HeaderBlock();
    return Control(3, 1, flags, payload);
  }

  std::string DataFrame() {
    uint32_t id = PickStream();
    uint8_t flags = input_.ConsumeIntegral<uint8_t>();
    std::string payload =
        input_.ConsumeBool()
            ? input_.ConsumeRandomLengthString(256)
            : std::string(input_.ConsumeIntegralInRange<size_t>(0, 200 << 10), 'i');
    return Data(id, flags, payload);
  }

  std::string OtherControlFrame() {
    static constexpr uint16_t kTypes[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0xffff};
    uint16_t type =
        input_.ConsumeBool() ? input_.PickValueInArray(kTypes) : input_.ConsumeIntegral<uint16_t>();
    uint16_t version =
        input_.ConsumeIntegralInRange<int>(0, 15) == 15 ? input_.ConsumeIntegral<uint16_t>() : 3;
    uint8_t flags = input_.ConsumeIntegral<uint8_t>();
    std::string payload;
    if (input_.ConsumeBool()) {
      payload = input_.ConsumeRandomLengthString(32);
    } else if (type == 8) {  // HEADERS
      Append32(payload, PickStream());
      payload += HeaderBlock();
    } else if (type == 6) {  // PING
      Append32(payload, input_.ConsumeIntegral<uint32_t>());
    } else {  // RST_STREAM, GOAWAY, WINDOW_UPDATE...: id and a number
      Append32(payload, PickStream());
      Append32(payload, input_.ConsumeIntegralInRange<uint32_t>(0, 12));
    }
    return Control(version, type, flags, payload);
  }

  FuzzedDataProvider& input_;
  size_t max_streams_;
  SpdySession session_;
  ClientDeflater deflater_;
  SpdyHeaderDecoder peer_decoder_;  // the client's view of our SYN_REPLYs
  uint32_t next_id_ = 1;
  uint32_t last_opened_ = 0;
  std::vector<uint32_t> opened_;
  std::set<uint32_t> live_;         // opened, not reset by the client
  std::set<uint32_t> remote_done_;  // the client sent FIN
  bool failed_ = false;
  bool goaway_seen_ = false;
};

}  // namespace
}  // namespace berth::streaming::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  berth::streaming::fuzz::Harness(input).Run();
  return 0;
}
