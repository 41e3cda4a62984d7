#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/v1/images.grpc.pb.h"
#include "runtime/v1/api.grpc.pb.h"

namespace berth::cri {

// A CRI client over a unix socket, for berthctl and the tests. Typed
// helpers cover the common calls; Call() reaches any other unary RPC:
//
//   client.Call(&runtime::v1::RuntimeService::Stub::ListContainers, request)
class CriClient {
 public:
  // Accepts "unix:///run/berth/berth.sock" or a plain path. Waits up to
  // `timeout` for the server to accept; Unavailable if it does not.
  static absl::StatusOr<CriClient> Connect(const std::string& endpoint,
                                           absl::Duration timeout = absl::Seconds(5));

  absl::StatusOr<runtime::v1::VersionResponse> Version();
  absl::StatusOr<runtime::v1::StatusResponse> Status(bool verbose);
  absl::StatusOr<runtime::v1::RuntimeConfigResponse> RuntimeConfig();

  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
                                const Request& request);

  runtime::v1::RuntimeService::Stub& runtime() { return *runtime_; }
  runtime::v1::ImageService::Stub& images() { return *images_; }
  // berth's own image operations (import, export, tag, pull with progress).
  berth::v1::Images::Stub& berth_images() { return *berth_images_; }
  // Deadline applied to each call made through this client.
  void set_call_timeout(absl::Duration timeout) { call_timeout_ = timeout; }

 private:
  CriClient() = default;
  template <typename Stub>
  Stub& StubFor();
  absl::Status Finish(const grpc::Status& status) const;
  void SetDeadline(grpc::ClientContext& context) const;

  std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<runtime::v1::ImageService::Stub> images_;
  std::unique_ptr<berth::v1::Images::Stub> berth_images_;
  absl::Duration call_timeout_ = absl::Minutes(2);
};

template <>
inline runtime::v1::RuntimeService::Stub& CriClient::StubFor() {
  return *runtime_;
}
template <>
inline runtime::v1::ImageService::Stub& CriClient::StubFor() {
  return *images_;
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> CriClient::Call(grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                                      const Request&, Response*),
                                         const Request& request) {
  grpc::ClientContext context;
  SetDeadline(context);
  Response response;
  absl::Status status = Finish((StubFor<Stub>().*method)(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

}  // namespace berth::cri
