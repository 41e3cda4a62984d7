#pragma once

// The head of an HTTP/1.1 request, as much as the streaming server needs:
// the request line and the headers, bounded in size.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::streaming {

inline constexpr size_t kMaxHttpRequestHead = 16 << 10;

struct HttpRequest {
  std::string method;
  std::string target;  // path and query
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case

  // The first value of `name`, or "".
  std::string Header(absl::string_view name) const;
  // Every value of `name`, comma lists split, trimmed.
  std::vector<std::string> HeaderList(absl::string_view name) const;
  // Whether the comma list `name` holds `token` (case-insensitive).
  bool HeaderHasToken(absl::string_view name, absl::string_view token) const;
};

struct ParsedHead {
  HttpRequest request;
  size_t head_size = 0;  // bytes up to and including the blank line
};

// nullopt while the head is incomplete; an error when it is malformed or
// over kMaxHttpRequestHead.
absl::StatusOr<std::optional<ParsedHead>> ParseHttpRequestHead(absl::string_view buffer);

// A whole response with a text body (headers are name/value pairs).
std::string HttpResponse(int code, absl::string_view reason,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         absl::string_view body = {});

}  // namespace berth::streaming
