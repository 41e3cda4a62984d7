#include "cri/server/cri_server.h"

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cri/server/rpc_interceptor.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "runtime/base/unix_socket.h"

namespace berth::cri {
namespace {

// Makes `path` free for a new listening socket.
absl::Status PrepareSocketPath(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path ", path, " is longer than ",
                                                   sizeof(addr.sun_path) - 1, " bytes"));
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    RETURN_IF_ERROR(MakeDirectories(path.substr(0, slash), 0711));
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus("stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a socket"));
  }
  // A socket someone still accepts on belongs to a live server: never steal it.
  if (ConnectUnix(path, SOCK_STREAM).ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is in use by another server; stop it or choose another socket"));
  }
  spdlog::info("replacing stale socket {}", path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return ErrnoStatus("remove stale socket " + path);
  return absl::OkStatus();
}

}  // namespace

CriServer::CriServer(std::string socket_path, std::unique_ptr<grpc::Server> server,
                     std::shared_ptr<InflightRpcs> inflight)
    : socket_path_(std::move(socket_path)),
      server_(std::move(server)),
      inflight_(std::move(inflight)) {}

CriServer::~CriServer() {
  if (server_ != nullptr) Shutdown(absl::ZeroDuration());
}

absl::StatusOr<std::unique_ptr<CriServer>> CriServer::Start(
    const std::string& socket_path, const std::vector<grpc::Service*>& services, Metrics& metrics) {
  RETURN_IF_ERROR(PrepareSocketPath(socket_path));

  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", socket_path), grpc::InsecureServerCredentials());
  for (grpc::Service* service : services) builder.RegisterService(service);
  // Image pulls and list responses for big nodes exceed gRPC's 4 MiB default.
  builder.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  builder.SetMaxSendMessageSize(16 * 1024 * 1024);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  auto inflight = std::make_shared<InflightRpcs>();
  interceptors.push_back(std::make_unique<RpcInterceptorFactory>(inflight, metrics));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  // The socket must never be reachable with looser permissions, not even
  // between bind() and chmod(): create it under a restrictive umask.
  mode_t old_umask = ::umask(0117);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_umask);
  if (server == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen on unix socket ", socket_path));
  }
  if (::chmod(socket_path.c_str(), 0660) != 0) {
    absl::Status status = ErrnoStatus("chmod " + socket_path);
    server->Shutdown();
    return status;
  }
  return std::unique_ptr<CriServer>(
      new CriServer(socket_path, std::move(server), std::move(inflight)));
}

void CriServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr) return;
  // grpc::Server::Shutdown(deadline) also waits for clients to close idle
  // connections, and kubelet never does: every stop would take the whole
  // grace period. So drive the core directly: stop accepting, wait for our
  // own count of running RPCs, then cancel what is left, which also drops
  // the idle connections.
  grpc_server* core = server_->c_server();
  grpc_completion_queue* queue = grpc_completion_queue_create_for_pluck(nullptr);
  int shutdown_tag = 0;
  grpc_server_shutdown_and_notify(core, queue, &shutdown_tag);
  int left = inflight_->WaitUntilIdle(absl::Now() + grace);
  if (left > 0)
    spdlog::warn("cancelling {} RPCs still running after {}", left, absl::FormatDuration(grace));
  grpc_server_cancel_all_calls(core);
  grpc_completion_queue_pluck(queue, &shutdown_tag, gpr_inf_future(GPR_CLOCK_REALTIME), nullptr);
  grpc_completion_queue_shutdown(queue);
  grpc_completion_queue_destroy(queue);
  server_->Shutdown();  // the core is already down: this only releases the C++ side
  server_->Wait();
  server_.reset();
  ::unlink(socket_path_.c_str());
}

}  // namespace berth::cri
