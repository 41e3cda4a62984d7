#pragma once

#include <grpcpp/support/server_interceptor.h>

namespace berth::cri {

// Logs every RPC at debug level with its duration and status code, and gives
// RPCs that berth does not implement yet a message naming the RPC (gRPC's
// default UNIMPLEMENTED carries none, which leaves kubelet logs unreadable).
class RpcLogInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace berth::cri
