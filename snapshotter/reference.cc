#include "snapshotter/reference.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::snapshotter {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c); }

// A path component: lowercase alphanumerics joined by ".", "_", "__" or runs of "-".
bool IsValidPathComponent(absl::string_view component) {
  if (component.empty() || !IsLowerAlnum(component.front()) || !IsLowerAlnum(component.back())) {
    return false;
  }
  for (size_t i = 0; i < component.size();) {
    if (IsLowerAlnum(component[i])) {
      ++i;
      continue;
    }
    size_t run = i;
    while (run < component.size() && !IsLowerAlnum(component[run])) ++run;
    absl::string_view separator = component.substr(i, run - i);
    bool dashes = separator.find_first_not_of('-') == absl::string_view::npos;
    if (!(separator == "." || separator == "_" || separator == "__" || dashes)) return false;
    i = run;
  }
  return true;
}

bool IsValidHostLabel(absl::string_view label) {
  if (label.empty() || !absl::ascii_isalnum(label.front()) || !absl::ascii_isalnum(label.back())) {
    return false;
  }
  for (char c : label) {
    if (!absl::ascii_isalnum(c) && c != '-') return false;
  }
  return true;
}

// host[:port], where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
bool IsValidDomain(absl::string_view domain) {
  absl::string_view host = domain;
  absl::string_view port;
  if (absl::StartsWith(domain, "[")) {
    size_t close = domain.find(']');
    if (close == absl::string_view::npos) return false;
    absl::string_view inside = domain.substr(1, close - 1);
    if (inside.empty()) return false;
    for (char c : inside) {
      if (!absl::ascii_isxdigit(c) && c != ':' && c != '.') return false;
    }
    absl::string_view rest = domain.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
  } else {
    size_t colon = domain.find(':');
    if (colon != absl::string_view::npos) {
      host = domain.substr(0, colon);
      port = domain.substr(colon + 1);
      if (port.empty()) return false;
    }
    for (absl::string_view label : absl::StrSplit(host, '.')) {
      if (!IsValidHostLabel(label)) return false;
    }
  }
  for (char c : port) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return port.size() <= 5;
}

bool IsValidTag(absl::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) return false;
  auto word = [](char c) { return absl::ascii_isalnum(c) || c == '_'; };
  if (!word(tag.front())) return false;
  for (char c : tag) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid image reference \"", text, "\": ", why));
}

}  // namespace

std::string ImageReference::TagName() const {
  return tag.empty() ? "" : absl::StrCat(Repository(), ":", tag);
}

std::string ImageReference::DigestName() const {
  return digest ? absl::StrCat(Repository(), "@", digest->ToString()) : "";
}

std::string ImageReference::ToString() const {
  std::string out = Repository();
  if (!tag.empty()) absl::StrAppend(&out, ":", tag);
  if (digest) absl::StrAppend(&out, "@", digest->ToString());
  return out;
}

std::string ImageReference::ManifestReference() const { return digest ? digest->ToString() : tag; }

absl::StatusOr<ImageReference> ParseImageReference(absl::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  if (LooksLikeImageId(text) && !absl::StrContains(text, '/')) {
    return Invalid(text, "an image id is not a reference to pull");
  }
  ImageReference ref;
  absl::string_view name = text;

  if (size_t at = name.find('@'); at != absl::string_view::npos) {
    absl::StatusOr<Digest> digest = Digest::Parse(name.substr(at + 1));
    if (!digest.ok()) return Invalid(text, digest.status().message());
    ref.digest = *std::move(digest);
    name = name.substr(0, at);
  }
  // A tag follows the last ':' after the last '/': "host:5000/repo" has none.
  size_t last_slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != absl::string_view::npos &&
      (last_slash == absl::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(name.substr(colon + 1));
    if (!IsValidTag(ref.tag)) {
      return Invalid(text, absl::StrCat("tag \"", ref.tag,
                                        "\" must be 1-128 of [A-Za-z0-9_.-], not starting "
                                        "with '.' or '-'"));
    }
    name = name.substr(0, colon);
  }
  if (name.empty()) return Invalid(text, "no repository name");

  // The first component is a registry host when it looks like one.
  absl::string_view path = name;
  size_t slash = name.find('/');
  if (slash != absl::string_view::npos) {
    absl::string_view first = name.substr(0, slash);
    if (absl::StrContains(first, '.') || absl::StrContains(first, ':') || first == "localhost" ||
        first != absl::AsciiStrToLower(first)) {
      if (!IsValidDomain(first)) {
        return Invalid(text, absl::StrCat("registry host \"", first, "\" is malformed"));
      }
      ref.domain = std::string(first);
      path = name.substr(slash + 1);
    }
  }
  if (ref.domain.empty() || ref.domain == "index.docker.io") ref.domain = kDockerHubDomain;
  if (path.size() > kMaxNameLength) {
    return Invalid(text, "repository name is longer than 255 characters");
  }
  std::vector<absl::string_view> components = absl::StrSplit(path, '/');
  for (absl::string_view component : components) {
    if (component != absl::AsciiStrToLower(component)) {
      return Invalid(text, "repository name must be lowercase");
    }
    if (!IsValidPathComponent(component)) {
      return Invalid(text, absl::StrCat("repository path component \"", component,
                                        "\" must be lowercase letters and digits separated "
                                        "by '.', '_', '__' or '-'"));
    }
  }
  ref.path = std::string(path);
  if (ref.domain == kDockerHubDomain && components.size() == 1) {
    ref.path = absl::StrCat("library/", path);
  }
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  return ref;
}

bool LooksLikeImageId(absl::string_view text) {
  absl::ConsumePrefix(&text, "sha256:");
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

}  // namespace berth::snapshotter
