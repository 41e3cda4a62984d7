#include "cri/streaming/client_transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth::streaming {

namespace {

class PlainTransport final : public ClientTransport {
 public:
  explicit PlainTransport(UniqueFd socket) : socket_(std::move(socket)) {}
  int fd() const override { return socket_.get(); }

  absl::StatusOr<ssize_t> Read(char* buffer, size_t size) override {
    for (;;) {
      ssize_t n = ::recv(socket_.get(), buffer, size, MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return -1;
      if (errno == ECONNRESET) return 0;
      return ErrnoStatus("read from the streaming client");
    }
  }

  absl::StatusOr<ssize_t> Write(absl::string_view data) override {
    for (;;) {
      ssize_t n = ::send(socket_.get(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return -1;
      return ErrnoStatus("write to the streaming client");
    }
  }

 private:
  UniqueFd socket_;
};

std::string TlsError(absl::string_view what) {
  unsigned long code = ERR_get_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  return absl::StrCat(what, ": ", text);
}

class TlsTransport final : public ClientTransport {
 public:
  TlsTransport(UniqueFd socket, SSL* ssl) : socket_(std::move(socket)), ssl_(ssl) {}
  ~TlsTransport() override {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  int fd() const override { return socket_.get(); }

  absl::StatusOr<ssize_t> Read(char* buffer, size_t size) override {
    int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    if (n > 0) return n;
    switch (SSL_get_error(ssl_, n)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return -1;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return 0;  // the peer went away without close_notify
      default:
        return absl::UnavailableError(TlsError("TLS read"));
    }
  }

  absl::StatusOr<ssize_t> Write(absl::string_view data) override {
    if (data.empty()) return 0;
    int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
    if (n > 0) return n;
    switch (SSL_get_error(ssl_, n)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return -1;
      default:
        return absl::UnavailableError(TlsError("TLS write"));
    }
  }

  bool HasBufferedInput() const override { return SSL_pending(ssl_) > 0; }

 private:
  UniqueFd socket_;
  SSL* ssl_;
};

}  // namespace

std::unique_ptr<ClientTransport> NewPlainTransport(UniqueFd socket) {
  return std::make_unique<PlainTransport>(std::move(socket));
}

absl::StatusOr<std::unique_ptr<TlsServerContext>> TlsServerContext::Load(
    const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  if (context == nullptr) return absl::InternalError(TlsError("create a TLS context"));
  std::unique_ptr<TlsServerContext> result(new TlsServerContext(context));
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(context, cert_file.c_str()) != 1)
    return absl::InvalidArgumentError(TlsError(absl::StrCat("load the certificate ", cert_file)));
  if (SSL_CTX_use_PrivateKey_file(context, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return absl::InvalidArgumentError(TlsError(absl::StrCat("load the key ", key_file)));
  if (SSL_CTX_check_private_key(context) != 1)
    return absl::InvalidArgumentError(
        TlsError(absl::StrCat("the key ", key_file, " does not match ", cert_file)));
  return result;
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(context_); }

absl::StatusOr<std::unique_ptr<ClientTransport>> TlsServerContext::Accept(
    UniqueFd socket, absl::Duration timeout) const {
  SSL* ssl = SSL_new(context_);
  if (ssl == nullptr) return absl::InternalError(TlsError("create a TLS session"));
  SSL_set_fd(ssl, socket.get());
  auto transport = std::make_unique<TlsTransport>(std::move(socket), ssl);
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int result = SSL_accept(ssl);
    if (result == 1) return transport;
    int error = SSL_get_error(ssl, result);
    short events = error == SSL_ERROR_WANT_READ    ? POLLIN
                   : error == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                   : 0;
    if (events == 0) return absl::UnavailableError(TlsError("TLS handshake"));
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("TLS handshake timed out");
    pollfd p{transport->fd(), events, 0};
    ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
}

}  // namespace berth::streaming
