#include "cri/streaming/streaming_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "cri/streaming/http_request.h"
#include "cri/streaming/stream_upgrade.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::streaming {

namespace {

// A client gets this long to send its request (and finish a TLS handshake).
constexpr absl::Duration kRequestTimeout = absl::Seconds(30);

int PollMillis(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

absl::StatusOr<UniqueFd> Listen(const std::string& address, int port, std::string& bound) {
  sockaddr_storage storage{};
  socklen_t length;
  int family;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
      ::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v4);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
             ::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("stream.address ", address, " is not an IP"));
  }
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoStatus("socket");
  int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0)
    return ErrnoStatus(absl::StrCat("bind the streaming server to ", address, ":", port));
  if (::listen(fd.get(), 128) != 0) return ErrnoStatus("listen");
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&storage), &length) != 0)
    return ErrnoStatus("getsockname");
  uint16_t actual = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port)
                                      : ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  bound = family == AF_INET ? absl::StrCat(address, ":", actual)
                            : absl::StrCat("[", address, "]:", actual);
  return fd;
}

// Writes as much of `out` as the client takes now; false once it is gone.
bool Flush(ClientTransport& client, std::string& out) {
  size_t written = 0;
  while (written < out.size()) {
    absl::StatusOr<ssize_t> n = client.Write(absl::string_view(out).substr(written));
    if (!n.ok()) return false;
    if (*n < 0) break;
    written += static_cast<size_t>(*n);
  }
  out.erase(0, written);
  return true;
}

// Reads the request head within the timeout; what follows it is left in `rest`.
absl::StatusOr<HttpRequest> ReadRequest(ClientTransport& client, std::string& rest) {
  absl::Time deadline = absl::Now() + kRequestTimeout;
  std::string buffer;
  char chunk[4096];
  for (;;) {
    absl::StatusOr<std::optional<ParsedHead>> head = ParseHttpRequestHead(buffer);
    if (!head.ok()) return head.status();
    if (head->has_value()) {
      rest = buffer.substr((*head)->head_size);
      return std::move((*head)->request);
    }
    if (!client.HasBufferedInput()) {
      pollfd p{client.fd(), POLLIN, 0};
      int ready = ::poll(&p, 1, PollMillis(deadline));
      if (ready == 0) return absl::DeadlineExceededError("no request within 30s");
      if (ready < 0 && errno != EINTR) return ErrnoStatus("poll");
    }
    ASSIGN_OR_RETURN(ssize_t n, client.Read(chunk, sizeof(chunk)));
    if (n == 0) return absl::CancelledError("the client left before its request");
    if (n > 0) buffer.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<StreamingServer>> StreamingServer::Start(
    StreamingServerOptions options, StreamBackend& backend) {
  std::unique_ptr<TlsServerContext> tls;
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty())
      return absl::InvalidArgumentError(
          "stream.tls_cert_file and stream.tls_key_file go together");
    ASSIGN_OR_RETURN(tls, TlsServerContext::Load(options.tls_cert_file, options.tls_key_file));
  }
  std::string bound;
  ASSIGN_OR_RETURN(UniqueFd listener, Listen(options.address, options.port, bound));
  UniqueFd stop_event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_event) return ErrnoStatus("eventfd");
  std::string base_url = absl::StrCat(tls ? "https://" : "http://", bound);
  std::unique_ptr<StreamingServer> server(
      new StreamingServer(std::move(options), backend, std::move(listener), std::move(stop_event),
                          std::move(tls), std::move(base_url)));
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

StreamingServer::StreamingServer(StreamingServerOptions options, StreamBackend& backend,
                                 UniqueFd listener, UniqueFd stop_event,
                                 std::unique_ptr<TlsServerContext> tls, std::string base_url)
    : options_(std::move(options)),
      limits_{options_.max_sessions, options_.idle_timeout, options_.creation_timeout},
      backend_(backend),
      listener_(std::move(listener)),
      stop_event_(std::move(stop_event)),
      tls_(std::move(tls)),
      base_url_(std::move(base_url)),
      requests_(options_.token_ttl) {}

StreamingServer::~StreamingServer() { Stop(); }

void StreamingServer::SetLimits(int max_sessions, absl::Duration idle_timeout,
                                absl::Duration creation_timeout) {
  absl::MutexLock lock(&limits_mutex_);
  limits_ = {max_sessions, idle_timeout, creation_timeout};
}

StreamingServer::Limits StreamingServer::CurrentLimits() const {
  absl::MutexLock lock(&limits_mutex_);
  return limits_;
}

absl::StatusOr<std::string> StreamingServer::Register(StreamRequest request) {
  StreamKind kind = request.kind;
  ASSIGN_OR_RETURN(std::string token, requests_.Insert(std::move(request)));
  return absl::StrCat(base_url_, StreamPathPrefix(kind), token);
}

void StreamingServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  uint64_t one = 1;
  (void)::write(stop_event_.get(), &one, sizeof(one));
  if (acceptor_.joinable()) acceptor_.join();
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(
      +[](int* threads) { return *threads == 0; }, &threads_));
}

void StreamingServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    UniqueFd socket(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!socket) continue;
    int on = 1;
    ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (active_.load() >= CurrentLimits().max_sessions) {
      // Said without TLS; a TLS client sees the connection close.
      std::string busy = HttpResponse(503, "Service Unavailable", {},
                                      "too many streaming sessions; try again later\n");
      if (!tls_) (void)::send(socket.get(), busy.data(), busy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      spdlog::warn("streaming: refused a connection: {} sessions are open", active_.load());
      continue;
    }
    ++active_;
    {
      absl::MutexLock lock(&mutex_);
      ++threads_;
    }
    std::thread([this, socket = std::move(socket)]() mutable {
      Serve(std::move(socket));
      --active_;
      absl::MutexLock lock(&mutex_);
      --threads_;
    }).detach();
  }
}

void StreamingServer::Serve(UniqueFd socket) {
  std::unique_ptr<ClientTransport> client;
  if (tls_) {
    absl::StatusOr<std::unique_ptr<ClientTransport>> accepted =
        tls_->Accept(std::move(socket), kRequestTimeout);
    if (!accepted.ok()) {
      spdlog::debug("streaming: {}", accepted.status());
      return;
    }
    client = *std::move(accepted);
  } else {
    client = NewPlainTransport(std::move(socket));
  }
  ServeTransport(*client);
}

void StreamingServer::ServeTransport(ClientTransport& client) {
  std::string rest;
  absl::StatusOr<HttpRequest> request = ReadRequest(client, rest);
  if (!request.ok()) {
    if (absl::IsInvalidArgument(request.status())) {
      std::string bad = HttpResponse(400, "Bad Request", {},
                                     absl::StrCat(request.status().message(), "\n"));
      (void)Flush(client, bad);
    }
    return;
  }
  Upgrade upgrade = UpgradeConnection(*request, requests_, backend_, CurrentLimits().creation_timeout);
  std::string response = std::move(upgrade.response);
  if (!upgrade.handler) {
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (!response.empty() && absl::Now() < deadline && Flush(client, response)) {
      pollfd p{client.fd(), POLLOUT, 0};
      ::poll(&p, 1, 100);
    }
    return;
  }
  StreamHandler& handler = *upgrade.handler;
  handler.Output().insert(0, response);
  if (!rest.empty()) (void)handler.OnClientBytes(rest);

  absl::Time last_activity = absl::Now();
  bool client_closed = false;
  std::vector<pollfd> fds;
  char buffer[64 << 10];
  for (;;) {
    std::string& out = handler.Output();
    size_t before = out.size();
    if (!Flush(client, out)) return;
    if (out.size() != before) last_activity = absl::Now();
    if (handler.Finished() && handler.Output().empty()) return;
    if (client_closed && handler.Finished()) return;

    bool output_room = out.size() < kOutputHighWater;
    fds.clear();
    short client_events = 0;
    if (!client_closed && handler.WantsClientBytes() && !handler.Finished()) client_events |= POLLIN;
    if (!out.empty()) client_events |= POLLOUT;
    fds.push_back({client.fd(), client_events, 0});
    fds.push_back({stop_event_.get(), POLLIN, 0});
    if (!handler.Finished()) handler.CollectPollFds(fds, output_room);

    absl::Duration idle_timeout = CurrentLimits().idle_timeout;
    absl::Time deadline = std::min(handler.NextTimer(), last_activity + idle_timeout);
    bool buffered = (client_events & POLLIN) && client.HasBufferedInput();
    int ready = ::poll(fds.data(), fds.size(), buffered ? 0 : PollMillis(deadline));
    if (ready < 0 && errno != EINTR) return;
    if (fds[1].revents) return;  // berthd stops

    if ((client_events & POLLIN) && (buffered || (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))) {
      absl::StatusOr<ssize_t> n = client.Read(buffer, sizeof(buffer));
      if (!n.ok()) return;
      if (*n == 0) {
        client_closed = true;
        handler.OnClientClosed();
      } else if (*n > 0) {
        last_activity = absl::Now();
        (void)handler.OnClientBytes(absl::string_view(buffer, static_cast<size_t>(*n)));
      }
    } else if (fds[0].revents & (POLLERR | POLLHUP)) {
      return;
    }
    if (fds.size() > 2) {
      (void)handler.OnPolled(absl::MakeConstSpan(fds).subspan(2));
      for (size_t i = 2; i < fds.size(); ++i)
        if (fds[i].revents) last_activity = absl::Now();
    } else {
      (void)handler.OnPolled({});
    }
    absl::Time now = absl::Now();
    if (now >= handler.NextTimer()) (void)handler.OnTimer(now);
    if (now >= last_activity + idle_timeout) {
      spdlog::info("streaming: closing a session idle for {}", absl::FormatDuration(idle_timeout));
      return;
    }
  }
}

}  // namespace berth::streaming
