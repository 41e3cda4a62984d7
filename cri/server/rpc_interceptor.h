#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cri/metrics/metrics.h"

namespace berth::cri {

// The number of RPCs being served, so shutdown can wait for exactly those.
class InflightRpcs {
 public:
  void Begin();
  void End();
  // Waits until no RPC is running or `deadline` passes; returns how many are left.
  int WaitUntilIdle(absl::Time deadline);

 private:
  absl::Mutex mutex_;
  int count_ ABSL_GUARDED_BY(mutex_) = 0;
};

// Sees every RPC: counts it in `inflight`, reports it to `metrics`, logs it at debug level with its
// duration and status code, and gives RPCs that berth does not implement yet
// a message naming the RPC (gRPC's default UNIMPLEMENTED carries none, which
// leaves kubelet logs unreadable).
class RpcInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RpcInterceptorFactory(std::shared_ptr<InflightRpcs> inflight, Metrics& metrics)
      : inflight_(std::move(inflight)), metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::shared_ptr<InflightRpcs> inflight_;
  Metrics& metrics_;
};

}  // namespace berth::cri
