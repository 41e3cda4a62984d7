#pragma once

#include "runtime/v1/api.grpc.pb.h"

namespace berth::cri {

// The CRI ImageService. Every RPC answers UNIMPLEMENTED until the image
// store (snapshotter/) lands.
class CriImageService final : public runtime::v1::ImageService::Service {};

}  // namespace berth::cri
