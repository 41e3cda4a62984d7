#include "cri/client/cri_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cri/grpc_status.h"

namespace berth::cri {

absl::StatusOr<CriClient> CriClient::Connect(const std::string& endpoint, absl::Duration timeout) {
  std::string target = endpoint;
  if (!absl::StartsWith(target, "unix:")) target = absl::StrCat("unix:", endpoint);
  // gRPC's default reconnect backoff starts at 1s: far too slow for a local
  // socket that appears a few milliseconds after berthd starts.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  // A client of its own connection: gRPC otherwise shares one per target
  // across channels, and a client made after berthd restarted would inherit
  // the dead one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  auto deadline = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
  if (!channel->WaitForConnected(deadline)) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", target, " within ",
                                               absl::FormatDuration(timeout),
                                               ": is berthd running?"));
  }
  CriClient client;
  client.runtime_ = runtime::v1::RuntimeService::NewStub(channel);
  client.images_ = runtime::v1::ImageService::NewStub(channel);
  client.berth_images_ = berth::v1::Images::NewStub(channel);
  return client;
}

void CriClient::SetDeadline(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(call_timeout_));
}

absl::Status CriClient::Finish(const grpc::Status& status) const { return FromGrpcStatus(status); }

absl::StatusOr<runtime::v1::VersionResponse> CriClient::Version() {
  return Call(&runtime::v1::RuntimeService::Stub::Version, runtime::v1::VersionRequest());
}

absl::StatusOr<runtime::v1::StatusResponse> CriClient::Status(bool verbose) {
  runtime::v1::StatusRequest request;
  request.set_verbose(verbose);
  return Call(&runtime::v1::RuntimeService::Stub::Status, request);
}

absl::StatusOr<runtime::v1::RuntimeConfigResponse> CriClient::RuntimeConfig() {
  return Call(&runtime::v1::RuntimeService::Stub::RuntimeConfig,
              runtime::v1::RuntimeConfigRequest());
}

}  // namespace berth::cri
