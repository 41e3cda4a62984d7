#pragma once

#include "berth/v1/images.grpc.pb.h"
#include "cri/images/image_service.h"

namespace berth::cri {

// berth.v1.Images on the CRI socket: the gRPC face of side-loading, export,
// tagging and pulls with progress, over CriImageService.
class BerthImagesService final : public berth::v1::Images::Service {
 public:
  explicit BerthImagesService(CriImageService& images) : images_(images) {}

  grpc::Status Import(grpc::ServerContext* context,
                      grpc::ServerReader<berth::v1::ImportRequest>* reader,
                      berth::v1::ImportResponse* response) override;
  grpc::Status Export(grpc::ServerContext* context, const berth::v1::ExportRequest* request,
                      grpc::ServerWriter<berth::v1::ExportChunk>* writer) override;
  grpc::Status Tag(grpc::ServerContext* context, const berth::v1::TagRequest* request,
                   berth::v1::TagResponse* response) override;
  grpc::Status Pull(grpc::ServerContext* context, const berth::v1::PullRequest* request,
                    grpc::ServerWriter<berth::v1::PullProgress>* writer) override;

 private:
  CriImageService& images_;
};

}  // namespace berth::cri
