#pragma once

// The one place where absl::Status and grpc::Status meet. Codes have the
// same numbering in both, so conversion keeps code and message.

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace berth::cri {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace berth::cri
