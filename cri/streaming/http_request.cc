#include "cri/streaming/http_request.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::streaming {

std::string HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return "";
}

std::vector<std::string> HttpRequest::HeaderList(absl::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers) {
    if (key != name) continue;
    for (absl::string_view part : absl::StrSplit(value, ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (!part.empty()) values.emplace_back(part);
    }
  }
  return values;
}

bool HttpRequest::HeaderHasToken(absl::string_view name, absl::string_view token) const {
  for (const std::string& value : HeaderList(name))
    if (absl::EqualsIgnoreCase(value, token)) return true;
  return false;
}

absl::StatusOr<std::optional<ParsedHead>> ParseHttpRequestHead(absl::string_view buffer) {
  size_t end = buffer.find("\r\n\r\n");
  if (end == absl::string_view::npos) {
    if (buffer.size() > kMaxHttpRequestHead)
      return absl::InvalidArgumentError("request head too large");
    return std::nullopt;
  }
  if (end + 4 > kMaxHttpRequestHead) return absl::InvalidArgumentError("request head too large");
  ParsedHead parsed{.head_size = end + 4};
  std::vector<absl::string_view> lines = absl::StrSplit(buffer.substr(0, end), "\r\n");
  std::vector<absl::string_view> request_line = absl::StrSplit(lines[0], ' ');
  if (request_line.size() != 3 || request_line[0].empty() || request_line[1].empty() ||
      !absl::StartsWith(request_line[2], "HTTP/1."))
    return absl::InvalidArgumentError("malformed request line");
  parsed.request.method = std::string(request_line[0]);
  parsed.request.target = std::string(request_line[1]);
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos || colon == 0)
      return absl::InvalidArgumentError("malformed header line");
    absl::string_view name = lines[i].substr(0, colon);
    if (absl::StrContains(name, ' ') || absl::StrContains(name, '\t'))
      return absl::InvalidArgumentError("malformed header name");
    parsed.request.headers.emplace_back(
        absl::AsciiStrToLower(name),
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  return parsed;
}

std::string HttpResponse(int code, absl::string_view reason,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         absl::string_view body) {
  std::string response = absl::StrCat("HTTP/1.1 ", code, " ", reason, "\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&response, name, ": ", value, "\r\n");
  if (code != 101) {
    absl::StrAppend(&response, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ",
                    body.size(), "\r\nConnection: close\r\n");
  }
  absl::StrAppend(&response, "\r\n", body);
  return response;
}

}  // namespace berth::streaming
