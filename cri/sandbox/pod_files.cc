#include "cri/sandbox/pod_files.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/atomic_file.h"

namespace berth::cri {

std::string HostnameFile(const std::string& hostname) { return hostname + "\n"; }

std::string HostsFile(const std::string& hostname, const std::vector<std::string>& ips) {
  std::string text =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  if (!hostname.empty()) {
    for (const std::string& ip : ips) absl::StrAppend(&text, ip, "\t", hostname, "\n");
  }
  return text;
}

absl::StatusOr<std::string> ResolvConf(const runtime::v1::DNSConfig& dns,
                                       const std::string& host_resolv_conf) {
  if (dns.servers().empty() && dns.searches().empty() && dns.options().empty()) {
    absl::StatusOr<std::string> host = ReadFileToString(host_resolv_conf);
    if (absl::IsNotFound(host.status())) return std::string();
    return host;
  }
  std::string text;
  if (!dns.searches().empty())
    absl::StrAppend(&text, "search ", absl::StrJoin(dns.searches(), " "), "\n");
  for (const std::string& server : dns.servers())
    absl::StrAppend(&text, "nameserver ", server, "\n");
  if (!dns.options().empty())
    absl::StrAppend(&text, "options ", absl::StrJoin(dns.options(), " "), "\n");
  return text;
}

}  // namespace berth::cri
