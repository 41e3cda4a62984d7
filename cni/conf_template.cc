#include "cni/conf_template.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace berth::cni {
namespace {

bool IsIpv6(const std::string& cidr) { return cidr.find(':') != std::string::npos; }

absl::Status CheckCidr(const std::string& cidr) {
  std::vector<std::string> parts = absl::StrSplit(cidr, absl::MaxSplits('/', 1));
  int prefix = -1;
  unsigned char address[16];
  bool v6 = IsIpv6(cidr);
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &prefix) || prefix < 0 ||
      prefix > (v6 ? 128 : 32) ||
      ::inet_pton(v6 ? AF_INET6 : AF_INET, parts[0].c_str(), address) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pod CIDR \"", cidr, "\" is not an address/prefix such as 10.244.1.0/24"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParsePodCidrs(absl::string_view text) {
  std::vector<std::string> cidrs;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::string cidr(absl::StripAsciiWhitespace(part));
    if (absl::Status checked = CheckCidr(cidr); !checked.ok()) return checked;
    cidrs.push_back(cidr);
  }
  if (cidrs.size() > 2 || (cidrs.size() == 2 && IsIpv6(cidrs[0]) == IsIpv6(cidrs[1]))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pod CIDRs \"", text, "\": at most one IPv4 and one IPv6 range, as kubelet sends them"));
  }
  return cidrs;
}

absl::StatusOr<std::string> RenderCniConfTemplate(absl::string_view text,
                                                  const std::vector<std::string>& cidrs) {
  nlohmann::json ranges = nlohmann::json::array();
  nlohmann::json routes = nlohmann::json::array();
  for (const std::string& cidr : cidrs) {
    ranges.push_back(nlohmann::json::array({{{"subnet", cidr}}}));
    routes.push_back({{"dst", IsIpv6(cidr) ? "::/0" : "0.0.0.0/0"}});
  }
  const std::pair<absl::string_view, std::string> kPlaceholders[] = {
      {"{{.PodCIDR}}", cidrs.empty() ? "" : cidrs.front()},
      {"{{.PodCIDRRanges}}", ranges.dump()},
      {"{{.Routes}}", routes.dump()},
  };
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    size_t open = text.find("{{", at);
    if (open == absl::string_view::npos) {
      absl::StrAppend(&out, text.substr(at));
      break;
    }
    absl::StrAppend(&out, text.substr(at, open - at));
    size_t close = text.find("}}", open);
    if (close == absl::string_view::npos)
      return absl::InvalidArgumentError("a \"{{\" is never closed");
    absl::string_view placeholder = text.substr(open, close + 2 - open);
    bool known = false;
    for (const auto& [name, value] : kPlaceholders) {
      if (placeholder != name) continue;
      absl::StrAppend(&out, value);
      known = true;
    }
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown placeholder ", placeholder,
                       " (known: {{.PodCIDR}}, {{.PodCIDRRanges}}, {{.Routes}})"));
    }
    at = close + 2;
  }
  nlohmann::json parsed = nlohmann::json::parse(out, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return absl::InvalidArgumentError("the filled-in template is not a JSON object");
  return out;
}

}  // namespace berth::cni
