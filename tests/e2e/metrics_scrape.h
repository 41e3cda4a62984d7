#pragma once

// Reading berthd's Prometheus endpoint in e2e tests: its port from the log
// line berthd writes, and one scrape over plain HTTP/1.0.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <regex>
#include <string>

#include "absl/strings/numbers.h"
#include "runtime/base/unique_fd.h"

namespace berth::cri {

// The port of "metrics on http://127.0.0.1:<port>/metrics" in berthd's log.
inline std::optional<int> MetricsPort(const std::string& log) {
  std::smatch match;
  static const std::regex line(R"(metrics on http://127\.0\.0\.1:([0-9]+)/metrics)");
  if (!std::regex_search(log, match, line)) return std::nullopt;
  return std::stoi(match[1]);
}

// GET /metrics from 127.0.0.1:<port>: the body, or "" on any failure.
inline std::string Scrape(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
    return "";
  std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::write(fd.get(), request.data(), request.size()) != static_cast<ssize_t>(request.size()))
    return "";
  std::string response;
  char buffer[8192];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// The value of the sample line that starts with `series` (a metric name
// with its labels as Prometheus prints them), or nullopt.
inline std::optional<double> SampleValue(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      size_t end = text.find('\n', at);
      double value = 0;
      if (absl::SimpleAtod(text.substr(at + series.size() + 1, end - at - series.size() - 1),
                           &value))
        return value;
    }
    ++at;
  }
  return std::nullopt;
}

}  // namespace berth::cri
