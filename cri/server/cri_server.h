#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cri/metrics/metrics.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace berth::cri {

class InflightRpcs;

// The gRPC server on berthd's unix socket.
class CriServer {
 public:
  // Serves `services` (the CRI's runtime and image services and berth's
  // own; not owned, they must outlive the server) on `socket_path`. The parent directory is
  // created; a stale socket left by a crashed berthd is replaced, but a live one, or a file that is
  // not a socket, makes Start fail. The socket is mode 0660. Every RPC is
  // reported to `metrics` (which must outlive the server).
  static absl::StatusOr<std::unique_ptr<CriServer>> Start(
      const std::string& socket_path, const std::vector<grpc::Service*>& services,
      Metrics& metrics = NoMetrics());
  ~CriServer();

  // Stops accepting new RPCs, lets in-flight ones finish for up to `grace`,
  // cancels the rest, and removes the socket file. Returns as soon as the
  // last RPC finishes, even while clients keep idle connections open.
  void Shutdown(absl::Duration grace);

 private:
  CriServer(std::string socket_path, std::unique_ptr<grpc::Server> server,
            std::shared_ptr<InflightRpcs> inflight);

  std::string socket_path_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<InflightRpcs> inflight_;
};

}  // namespace berth::cri
