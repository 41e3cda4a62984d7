// WebSocketReader on arbitrary client bytes. The input is a script of raw
// bytes and of frames built here from the input (any first byte, masked or
// not, shortest or padded lengths, sometimes near the message limit), fed
// in chunks the input chooses. What must hold: an error is final, whatever
// comes after; messages are never continuations, control payloads fit in
// 125 bytes and data messages in kMaxWebSocketMessage. When the input is
// built frames only, the messages and the error must be those of a plain
// model of RFC 6455's rules.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cri/streaming/websocket_frames.h"
#include "tests/fuzz/fuzz_support.h"

namespace berth::streaming::fuzz {
namespace {

struct BuiltFrame {
  uint8_t first = 0;  // FIN | RSV1-3 | opcode
  bool masked = true;
  bool padded_length = false;  // a 16- or 64-bit length where a shorter one fits
  std::string payload;
};

std::string Encode(const BuiltFrame& frame, absl::string_view key) {
  std::string out(1, static_cast<char>(frame.first));
  const char mask_bit = frame.masked ? static_cast<char>(0x80) : 0;
  size_t length = frame.payload.size();
  if (length < 126 && !frame.padded_length) {
    out.push_back(static_cast<char>(mask_bit | length));
  } else if (length <= 0xffff && !(frame.padded_length && length >= 126)) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(length >> 8));
    out.push_back(static_cast<char>(length));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>(static_cast<uint64_t>(length) >> shift));
  }
  if (!frame.masked) return out + frame.payload;
  // Long payloads get a zero key: masking byte by byte under the fuzzer's
  // instrumentation would take most of the time.
  bool zero_key = length > 4096;
  absl::string_view used_key = zero_key ? absl::string_view("\0\0\0\0", 4) : key.substr(0, 4);
  out.append(used_key.data(), used_key.size());
  size_t header = out.size();
  out += frame.payload;
  for (size_t i = 0; !zero_key && i < length; ++i) out[header + i] ^= used_key[i % 4];
  return out;
}

// RFC 6455's rules for a client's frames, one frame at a time.
class Model {
 public:
  void Add(const BuiltFrame& frame) {
    if (error_) return;
    bool fin = frame.first & 0x80;
    uint8_t opcode = frame.first & 0x0f;
    bool control = opcode >= 8;
    size_t length = frame.payload.size();
    bool padded = frame.padded_length && (length < 126 || (length >= 126 && length <= 0xffff));
    if ((frame.first & 0x70) || !(opcode <= 2 || (opcode >= 8 && opcode <= 10)) || !frame.masked ||
        padded || (control && (length > 125 || !fin)) || (opcode == 0 && !in_message_) ||
        (opcode != 0 && !control && in_message_) ||
        (!control && partial_.size() + length > kMaxWebSocketMessage)) {
      error_ = true;
      return;
    }
    if (control) {
      messages_.push_back({static_cast<WsOpcode>(opcode), frame.payload});
      return;
    }
    if (opcode != 0) {
      in_message_ = true;
      partial_opcode_ = static_cast<WsOpcode>(opcode);
    }
    partial_ += frame.payload;
    if (fin) {
      messages_.push_back({partial_opcode_, std::move(partial_)});
      partial_.clear();
      in_message_ = false;
    }
  }

  bool error() const { return error_; }
  const std::vector<WsMessage>& messages() const { return messages_; }

 private:
  bool error_ = false;
  bool in_message_ = false;
  WsOpcode partial_opcode_ = WsOpcode::kBinary;
  std::string partial_;
  std::vector<WsMessage> messages_;
};

class Harness {
 public:
  explicit Harness(FuzzedDataProvider& input) : input_(input) {}

  void Run() {
    while (input_.remaining_bytes() > 0) {
      std::string bytes;
      // Rare choices are the largest values: a used-up input gives the smallest.
      if (input_.ConsumeIntegralInRange<int>(0, 7) == 7) {
        bytes = input_.ConsumeBytesAsString(input_.ConsumeIntegralInRange<size_t>(0, 256));
        modelled_ = false;
      } else {
        BuiltFrame frame = Build();
        char key[4];
        for (char& k : key) k = input_.ConsumeIntegral<char>();
        bytes = Encode(frame, absl::string_view(key, 4));
        model_.Add(frame);
      }
      FeedInChunks(input_, bytes, [&](absl::string_view chunk) { Receive(chunk); });
    }
    if (!modelled_) return;
    FUZZ_CHECK(failed_ == model_.error(), "reader %s, model %s",
               failed_ ? "failed" : "did not fail", model_.error() ? "fails" : "does not");
    FUZZ_CHECK(messages_.size() == model_.messages().size(), "%zu messages, model %zu",
               messages_.size(), model_.messages().size());
    for (size_t i = 0; i < messages_.size(); ++i) {
      FUZZ_CHECK(messages_[i].opcode == model_.messages()[i].opcode &&
                     messages_[i].payload == model_.messages()[i].payload,
                 "message %zu differs from the model", i);
    }
  }

 private:
  BuiltFrame Build() {
    static constexpr uint8_t kFirstBytes[] = {0x81, 0x82, 0x01, 0x02, 0x00, 0x80,
                                              0x88, 0x89, 0x8a, 0x09, 0xc2, 0x83};
    BuiltFrame frame;
    frame.first = input_.ConsumeIntegralInRange<int>(0, 3) == 3
                      ? input_.ConsumeIntegral<uint8_t>()
                      : input_.PickValueInArray(kFirstBytes);
    frame.masked = input_.ConsumeIntegralInRange<int>(0, 15) != 15;
    frame.padded_length = input_.ConsumeIntegralInRange<int>(0, 15) == 15;
    if (big_frames_ < 2 && input_.ConsumeIntegralInRange<int>(0, 255) == 255) {
      // Around the limit, whole or as two halves of one message.
      ++big_frames_;
      frame.payload.assign(input_.ConsumeIntegralInRange<size_t>(kMaxWebSocketMessage / 2 - 8,
                                                                 kMaxWebSocketMessage + 8),
                           'b');
    } else {
      // Long payloads (16- and 64-bit lengths) are rare: masking them costs.
      size_t size = input_.ConsumeIntegralInRange<int>(0, 31) == 31
                        ? input_.ConsumeIntegralInRange<size_t>(120, 66000)
                        : input_.ConsumeIntegralInRange<size_t>(0, 130);
      frame.payload = input_.ConsumeBytesAsString(size);
      frame.payload.resize(size, 'p');
    }
    return frame;
  }

  void Receive(absl::string_view chunk) {
    reader_.Append(chunk);
    for (;;) {
      absl::StatusOr<std::optional<WsMessage>> message = reader_.Next();
      if (failed_) {
        FUZZ_CHECK(!message.ok(), "Next after an error did not fail for good");
        return;
      }
      if (!message.ok()) {
        FUZZ_CHECK(message.status().code() == absl::StatusCode::kInvalidArgument,
                   "unexpected error code");
        failed_ = true;
        return;
      }
      if (!message->has_value()) return;
      const WsMessage& m = **message;
      switch (m.opcode) {
        case WsOpcode::kText:
        case WsOpcode::kBinary:
          FUZZ_CHECK(m.payload.size() <= kMaxWebSocketMessage, "message of %zu bytes",
                     m.payload.size());
          break;
        case WsOpcode::kClose:
        case WsOpcode::kPing:
        case WsOpcode::kPong:
          FUZZ_CHECK(m.payload.size() <= 125, "control frame of %zu bytes", m.payload.size());
          break;
        default:
          FUZZ_CHECK(false, "a message with opcode %d", static_cast<int>(m.opcode));
      }
      messages_.push_back(std::move(**message));
    }
  }

  FuzzedDataProvider& input_;
  WebSocketReader reader_;
  Model model_;
  bool modelled_ = true;  // only built frames so far
  int big_frames_ = 0;
  bool failed_ = false;
  std::vector<WsMessage> messages_;
};

}  // namespace
}  // namespace berth::streaming::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  berth::streaming::fuzz::Harness(input).Run();
  return 0;
}
