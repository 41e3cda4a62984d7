#pragma once

// The client's connection as the streaming server reads and writes it:
// plain TCP, or TLS when the server has a certificate. Non-blocking.

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "runtime/base/unique_fd.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace berth::streaming {

class ClientTransport {
 public:
  virtual ~ClientTransport() = default;
  virtual int fd() const = 0;
  // Bytes read (> 0), 0 at the end of the client's input, -1 when nothing
  // is there now.
  virtual absl::StatusOr<ssize_t> Read(char* buffer, size_t size) = 0;
  // Bytes written, -1 when the socket is full.
  virtual absl::StatusOr<ssize_t> Write(absl::string_view data) = 0;
  // Input already decrypted and waiting, which poll cannot see.
  virtual bool HasBufferedInput() const { return false; }
};

std::unique_ptr<ClientTransport> NewPlainTransport(UniqueFd socket);

class TlsServerContext {
 public:
  // PEM certificate (chain) and private key.
  static absl::StatusOr<std::unique_ptr<TlsServerContext>> Load(const std::string& cert_file,
                                                                const std::string& key_file);
  ~TlsServerContext();
  // The server side of the handshake, within `timeout`.
  absl::StatusOr<std::unique_ptr<ClientTransport>> Accept(UniqueFd socket,
                                                          absl::Duration timeout) const;

 private:
  explicit TlsServerContext(SSL_CTX* context) : context_(context) {}
  SSL_CTX* context_;
};

}  // namespace berth::streaming
