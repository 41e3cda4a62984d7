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

namespace {

// RFC 9110 token characters: methods and header names.
bool IsToken(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) continue;
    if (absl::string_view("!#$%&'*+-.^_`|~").find(c) == absl::string_view::npos) return false;
  }
  return true;
}

// Field values and targets: visible characters, spaces and tabs; no bare CR
// or LF, which a proxy in front of us might split differently.
bool IsFieldText(absl::string_view text) {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) return false;
  }
  return true;
}

}  // namespace

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
  if (request_line.size() != 3 || !IsToken(request_line[0]) || request_line[1].empty() ||
      !IsFieldText(request_line[1]) || (request_line[2] != "HTTP/1.1" && request_line[2] != "HTTP/1.0"))
    return absl::InvalidArgumentError("malformed request line");
  parsed.request.method = std::string(request_line[0]);
  parsed.request.target = std::string(request_line[1]);
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos || colon == 0)
      return absl::InvalidArgumentError("malformed header line");
    absl::string_view name = lines[i].substr(0, colon);
    if (!IsToken(name)) return absl::InvalidArgumentError("malformed header name");
    if (!IsFieldText(lines[i].substr(colon + 1)))
      return absl::InvalidArgumentError("control characters in a header value");
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
