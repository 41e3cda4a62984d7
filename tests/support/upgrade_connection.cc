#include "tests/support/upgrade_connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <functional>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

namespace berth::testing {
namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = 1024 * 1024;
// Input taken per Pump() before the caller gets to parse it.
constexpr size_t kMaxReadPerPump = 1024 * 1024;

absl::Status HttpViolation(absl::string_view what) {
  return absl::InternalError(absl::StrCat("HTTP protocol violation: ", what));
}

// Milliseconds to `deadline` for poll(), rounded up; -1 for no deadline.
int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const absl::Duration remaining = deadline - absl::Now();
  if (remaining <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(remaining, absl::Milliseconds(1)));
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

absl::Status WaitForConnect(int fd, absl::Time deadline) {
  while (true) {
    pollfd pfd{fd, POLLOUT, 0};
    const int rc = poll(&pfd, 1, PollTimeoutMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return berth::ErrnoStatus("poll");
    if (rc == 0) return absl::DeadlineExceededError("timed out connecting");
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      return berth::ErrnoStatus("getsockopt SO_ERROR");
    }
    return error == 0 ? absl::OkStatus() : berth::ErrnoToStatus(error, "connect");
  }
}

// Pumps until `ready()` holds. `what` names the wait for errors.
absl::Status PumpUntil(UpgradeConnection& connection, const std::function<bool()>& ready,
                       absl::Time deadline, absl::string_view what) {
  while (!ready()) {
    if (connection.eof()) {
      return absl::UnavailableError(
          absl::StrCat("server closed the connection while the client waited for ", what));
    }
    absl::Status status = connection.Pump(deadline);
    if (absl::IsDeadlineExceeded(status)) {
      return absl::DeadlineExceededError(absl::StrCat("timed out waiting for ", what));
    }
    RETURN_IF_ERROR(status);
  }
  return absl::OkStatus();
}

absl::Status ReadChunkedBody(UpgradeConnection& connection, HttpResponse& response,
                             absl::Time deadline) {
  std::string& inbox = connection.inbox();
  while (true) {
    RETURN_IF_ERROR(PumpUntil(
        connection, [&] { return inbox.find("\r\n") != std::string::npos; }, deadline,
        "a chunk size line"));
    const size_t line_end = inbox.find("\r\n");
    absl::string_view size_text = absl::string_view(inbox).substr(0, line_end);
    size_text = size_text.substr(0, size_text.find(';'));  // chunk extensions
    uint64_t chunk_size = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &chunk_size)) {
      return HttpViolation(absl::StrCat("bad chunk size line \"", inbox.substr(0, line_end), "\""));
    }
    if (chunk_size > kMaxBodyBytes || response.body.size() + chunk_size > kMaxBodyBytes) {
      return absl::ResourceExhaustedError("HTTP response body over 1 MiB");
    }
    inbox.erase(0, line_end + 2);
    if (chunk_size == 0) break;
    RETURN_IF_ERROR(PumpUntil(
        connection, [&] { return inbox.size() >= chunk_size + 2; }, deadline, "a body chunk"));
    if (inbox.compare(chunk_size, 2, "\r\n") != 0) return HttpViolation("chunk not ended by CRLF");
    response.body.append(inbox, 0, chunk_size);
    inbox.erase(0, chunk_size + 2);
  }
  // Trailer lines up to the blank line.
  while (true) {
    RETURN_IF_ERROR(PumpUntil(
        connection, [&] { return inbox.find("\r\n") != std::string::npos; }, deadline,
        "the end of the chunked body"));
    const size_t line_end = inbox.find("\r\n");
    inbox.erase(0, line_end + 2);
    if (line_end == 0) return absl::OkStatus();
  }
}

absl::Status ReadBody(UpgradeConnection& connection, HttpResponse& response, absl::Time deadline) {
  if (response.status == 204 || response.status == 304 || response.status < 200) {
    return absl::OkStatus();
  }
  std::string& inbox = connection.inbox();
  for (const std::string& coding : response.HeaderTokens("transfer-encoding")) {
    if (absl::EqualsIgnoreCase(coding, "chunked")) {
      return ReadChunkedBody(connection, response, deadline);
    }
  }
  const std::string length_text = response.Header("content-length");
  if (!length_text.empty()) {
    uint64_t length = 0;
    if (!absl::SimpleAtoi(length_text, &length)) {
      return HttpViolation(absl::StrCat("bad Content-Length \"", length_text, "\""));
    }
    if (length > kMaxBodyBytes)
      return absl::ResourceExhaustedError("HTTP response body over 1 MiB");
    RETURN_IF_ERROR(PumpUntil(
        connection, [&] { return inbox.size() >= length; }, deadline, "the response body"));
    response.body = inbox.substr(0, length);
    inbox.erase(0, length);
    return absl::OkStatus();
  }
  // No length: the body runs to the end of the connection.
  while (!connection.eof()) {
    if (inbox.size() > kMaxBodyBytes)
      return absl::ResourceExhaustedError("HTTP response body over 1 MiB");
    absl::Status status = connection.Pump(deadline);
    if (absl::IsDeadlineExceeded(status)) {
      return absl::DeadlineExceededError("timed out reading a response body without a length");
    }
    RETURN_IF_ERROR(status);
  }
  response.body = std::move(inbox);
  inbox.clear();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url) {
  constexpr absl::string_view kScheme = "http://";
  if (!absl::StartsWith(url, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("not an http:// URL: ", url));
  }
  absl::string_view rest = url.substr(kScheme.size());
  const size_t path_start = rest.find('/');
  HttpUrl parsed;
  absl::string_view authority = rest.substr(0, path_start);
  parsed.authority = std::string(authority);
  parsed.path = path_start == absl::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (authority.empty() || absl::StrContains(authority, '@')) {
    return absl::InvalidArgumentError(absl::StrCat("bad host in URL: ", url));
  }
  absl::string_view port_text;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unclosed IPv6 bracket in URL: ", url));
    }
    parsed.host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return absl::InvalidArgumentError(absl::StrCat("bad URL: ", url));
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (!port_text.empty()) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port in URL: ", url));
    }
    parsed.port = static_cast<uint16_t>(port);
  }
  if (parsed.host.empty()) return absl::InvalidArgumentError(absl::StrCat("no host in URL: ", url));
  return parsed;
}

std::string BuildHttpRequest(absl::string_view method, const HttpUrl& url,
                             const HttpHeaders& headers) {
  std::string request =
      absl::StrCat(method, " ", url.path, " HTTP/1.1\r\nHost: ", url.authority, "\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
  request.append("\r\n");
  return request;
}

std::string HttpResponse::Header(absl::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return "";
}

std::vector<std::string> HttpResponse::HeaderTokens(absl::string_view lower_name) const {
  std::vector<std::string> tokens;
  for (const auto& [name, value] : headers) {
    if (name != lower_name) continue;
    for (absl::string_view token : absl::StrSplit(value, ',')) {
      token = absl::StripAsciiWhitespace(token);
      if (!token.empty()) tokens.emplace_back(token);
    }
  }
  return tokens;
}

absl::StatusOr<HttpResponse> ParseHttpResponseHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  absl::string_view status_line = lines.front();
  // "HTTP/1.1 101 Switching Protocols"
  if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
      status_line[8] != ' ' || (status_line.size() > 12 && status_line[12] != ' ')) {
    return HttpViolation(absl::StrCat("bad status line \"", status_line, "\""));
  }
  HttpResponse response;
  if (!absl::SimpleAtoi(status_line.substr(9, 3), &response.status) || response.status < 100 ||
      response.status > 599) {
    return HttpViolation(absl::StrCat("bad status code in \"", status_line, "\""));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return HttpViolation(absl::StrCat("bad header line \"", line, "\""));
    }
    absl::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
          absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
        return HttpViolation(absl::StrCat("bad header name in \"", line, "\""));
      }
    }
    response.headers.emplace_back(absl::AsciiStrToLower(name),
                                  std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return response;
}

absl::StatusOr<UpgradeConnection> UpgradeConnection::Connect(const HttpUrl& url,
                                                             absl::Time deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = absl::StrCat(url.port);
  if (int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolve ", url.host, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, freeaddrinfo);
  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", url.host));
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    UniqueFd fd(socket(address->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
      last = berth::ErrnoStatus("socket");
      continue;
    }
    if (connect(fd.get(), address->ai_addr, address->ai_addrlen) != 0) {
      absl::Status status =
          errno == EINPROGRESS ? WaitForConnect(fd.get(), deadline) : berth::ErrnoStatus("connect");
      if (!status.ok()) {
        last =
            absl::Status(status.code(), absl::StrCat(status.message(), " (", url.authority, ")"));
        continue;
      }
    }
    // Go's net package sets TCP_NODELAY on every connection; do the same.
    const int on = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    return UpgradeConnection(std::move(fd));
  }
  return last;
}

void UpgradeConnection::Queue(absl::string_view bytes) {
  if (write_closed_) return;
  if (!has_pending_output()) {
    outbox_.clear();
    outbox_offset_ = 0;
  }
  outbox_.append(bytes.data(), bytes.size());
}

absl::Status UpgradeConnection::Pump(absl::Time deadline) {
  if (!fd_) return absl::FailedPreconditionError("the client closed the connection");
  if (absl::Now() >= deadline) return absl::DeadlineExceededError("deadline passed");
  pollfd pfd{fd_.get(), 0, 0};
  if (!eof_) pfd.events |= POLLIN;
  if (has_pending_output()) pfd.events |= POLLOUT;
  if (pfd.events == 0) return absl::OkStatus();
  const int rc = poll(&pfd, 1, PollTimeoutMs(deadline));
  if (rc < 0) return errno == EINTR ? absl::OkStatus() : berth::ErrnoStatus("poll");
  if (rc == 0) return absl::DeadlineExceededError("deadline passed");
  if ((pfd.revents & POLLNVAL) != 0) return absl::InternalError("poll: socket fd is invalid");
  if (has_pending_output() && (pfd.revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
    RETURN_IF_ERROR(WriteAvailable());
  }
  if (!eof_ && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) != 0) RETURN_IF_ERROR(ReadAvailable());
  return absl::OkStatus();
}

absl::Status UpgradeConnection::ReadAvailable() {
  char chunk[64 * 1024];
  size_t taken = 0;
  while (taken < kMaxReadPerPump) {
    const ssize_t n = recv(fd_.get(), chunk, sizeof(chunk), 0);
    if (n > 0) {
      inbox_.append(chunk, static_cast<size_t>(n));
      taken += static_cast<size_t>(n);
      continue;
    }
    if (n == 0 || errno == ECONNRESET) {
      eof_ = true;
      return absl::OkStatus();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::OkStatus();
    return berth::ErrnoStatus("read from the server");
  }
  return absl::OkStatus();
}

absl::Status UpgradeConnection::WriteAvailable() {
  while (has_pending_output()) {
    const ssize_t n = send(fd_.get(), outbox_.data() + outbox_offset_,
                           outbox_.size() - outbox_offset_, MSG_NOSIGNAL);
    if (n > 0) {
      outbox_offset_ += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::OkStatus();
    if (errno == EPIPE || errno == ECONNRESET) {
      // The server is gone; what it sent before is still in the inbox.
      write_closed_ = true;
      outbox_.clear();
      outbox_offset_ = 0;
      return absl::OkStatus();
    }
    return berth::ErrnoStatus("write to the server");
  }
  return absl::OkStatus();
}

void UpgradeConnection::TryFlush() {
  if (fd_ && has_pending_output()) (void)WriteAvailable();
}

void UpgradeConnection::Close() { fd_.Reset(); }

absl::StatusOr<HttpResponse> ExchangeUpgradeRequest(UpgradeConnection& connection,
                                                    absl::string_view request,
                                                    absl::Time deadline) {
  connection.Queue(request);
  std::string& inbox = connection.inbox();
  size_t head_end = std::string::npos;
  RETURN_IF_ERROR(PumpUntil(
      connection,
      [&] {
        head_end = inbox.find("\r\n\r\n");
        return head_end != std::string::npos || inbox.size() > kMaxHeadBytes;
      },
      deadline, "the HTTP response head"));
  if (head_end == std::string::npos) return HttpViolation("response head over 64 KiB");
  ASSIGN_OR_RETURN(HttpResponse response, ParseHttpResponseHead(inbox.substr(0, head_end)));
  inbox.erase(0, head_end + 4);
  if (response.status == 101) return response;
  RETURN_IF_ERROR(ReadBody(connection, response, deadline));
  return response;
}

}  // namespace berth::testing
