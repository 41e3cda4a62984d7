#include "runtime/monitor/stream_protocol.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth {

std::string StreamMessage(StreamTag tag, absl::string_view payload) {
  std::string message(1, static_cast<char>(tag));
  message.append(payload.data(), payload.size());
  return message;
}

std::string ResizePayload(TerminalSize size) { return absl::StrCat(size.rows, " ", size.columns); }

std::optional<TerminalSize> ParseResizePayload(absl::string_view payload) {
  std::vector<absl::string_view> fields = absl::StrSplit(payload, ' ');
  uint32_t rows, columns;
  if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &rows) ||
      !absl::SimpleAtoi(fields[1], &columns) || rows > 0xffff || columns > 0xffff)
    return std::nullopt;
  return TerminalSize{static_cast<uint16_t>(rows), static_cast<uint16_t>(columns)};
}

}  // namespace berth
