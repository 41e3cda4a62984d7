// ParseHttpRequestHead on arbitrary bytes (the upgrade decision behind it
// needs the whole streaming library and is unit-tested instead). What must
// hold: a head ends at the first blank line and within kMaxHttpRequestHead;
// parsing just the head gives the same request, and one byte less waits for
// more; methods and targets are single words; header names are lower-case
// words; values and comma-list items are trimmed, and every item is found
// again by HeaderHasToken in any case.

#include <cstdint>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "cri/streaming/http_request.h"
#include "tests/fuzz/fuzz_support.h"

namespace berth::streaming::fuzz {
namespace {

bool IsTrimmed(absl::string_view text) { return absl::StripAsciiWhitespace(text) == text; }

bool SameRequest(const HttpRequest& a, const HttpRequest& b) {
  return a.method == b.method && a.target == b.target && a.headers == b.headers;
}

void CheckRequest(const HttpRequest& request) {
  FUZZ_CHECK(!request.method.empty() && !absl::StrContains(request.method, ' '), "method");
  FUZZ_CHECK(!request.target.empty() && !absl::StrContains(request.target, ' '), "target");
  // The lookups are linear: check the first headers only, to stay fast.
  std::set<std::string> seen;
  for (size_t i = 0; i < request.headers.size() && i < 64; ++i) {
    const auto& [name, value] = request.headers[i];
    if (seen.insert(name).second)
      FUZZ_CHECK(request.Header(name) == value, "Header() is not the first");
    FUZZ_CHECK(!name.empty(), "empty header name");
    FUZZ_CHECK(name == absl::AsciiStrToLower(name), "header name not lower-case");
    // Only what the parser promises: it is lenient about other bytes (a bare
    // CR or LF stays in a line).
    FUZZ_CHECK(name.find_first_of(" \t:") == std::string::npos, "header name with a separator");
    FUZZ_CHECK(IsTrimmed(value), "header value not trimmed");
    for (const std::string& item : request.HeaderList(name)) {
      FUZZ_CHECK(!item.empty() && IsTrimmed(item) && !absl::StrContains(item, ','),
                 "comma-list item");
      FUZZ_CHECK(request.HeaderHasToken(name, item), "an item is not a token of its list");
      FUZZ_CHECK(request.HeaderHasToken(name, absl::AsciiStrToUpper(item)),
                 "token lookup is case-sensitive");
    }
  }
}

}  // namespace
}  // namespace berth::streaming::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::streaming;
  using namespace berth::streaming::fuzz;
  absl::string_view buffer(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::optional<ParsedHead>> parsed = ParseHttpRequestHead(buffer);
  size_t end = buffer.find("\r\n\r\n");
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument, "error code");
    return 0;
  }
  if (!parsed->has_value()) {
    FUZZ_CHECK(end == absl::string_view::npos && size <= kMaxHttpRequestHead,
               "waiting for more with a complete or oversized head");
    return 0;
  }
  const ParsedHead& head = **parsed;
  FUZZ_CHECK(end != absl::string_view::npos && head.head_size == end + 4,
             "the head does not end at the first blank line");
  FUZZ_CHECK(head.head_size <= kMaxHttpRequestHead, "head of %zu bytes", head.head_size);
  CheckRequest(head.request);

  absl::StatusOr<std::optional<ParsedHead>> alone =
      ParseHttpRequestHead(buffer.substr(0, head.head_size));
  FUZZ_CHECK(alone.ok() && alone->has_value() && (*alone)->head_size == head.head_size &&
                 SameRequest((*alone)->request, head.request),
             "the head alone parses differently");
  absl::StatusOr<std::optional<ParsedHead>> short_by_one =
      ParseHttpRequestHead(buffer.substr(0, head.head_size - 1));
  FUZZ_CHECK(short_by_one.ok() && !short_by_one->has_value(),
             "a head without its last byte does not wait");

  std::string response =
      HttpResponse(400, "Bad Request", head.request.headers, head.request.target);
  FUZZ_CHECK(absl::StartsWith(response, "HTTP/1.1 400 Bad Request\r\n") &&
                 absl::EndsWith(response, head.request.target),
             "response layout");
  return 0;
}
