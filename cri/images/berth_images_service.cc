#include "cri/images/berth_images_service.h"

#include <cstring>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "cri/grpc_status.h"

namespace berth::cri {

grpc::Status BerthImagesService::Import(grpc::ServerContext*,
                                        grpc::ServerReader<berth::v1::ImportRequest>* reader,
                                        berth::v1::ImportResponse* response) {
  berth::v1::ImportRequest message;
  bool first = reader->Read(&message);
  CriImageService::ImportOptions options;
  options.unpack = !message.options().no_unpack();
  options.pin = message.options().pin();
  // The archive arrives as the messages' data, the first message's included.
  std::string chunk = first ? message.data() : "";
  size_t offset = 0;
  bool more = first;
  snapshotter::ByteSource source = [&](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
    while (offset == chunk.size()) {
      if (!more) return size_t{0};
      more = reader->Read(&message);
      chunk = more ? std::move(*message.mutable_data()) : "";
      offset = 0;
    }
    size_t n = std::min(capacity, chunk.size() - offset);
    memcpy(buffer, chunk.data() + offset, n);
    offset += n;
    return n;
  };
  absl::StatusOr<std::vector<CriImageService::Imported>> imported = images_.Import(source, options);
  if (!imported.ok()) return ToGrpcStatus(imported.status());
  for (const CriImageService::Imported& image : *imported) {
    berth::v1::ImportedImage* out = response->add_images();
    out->set_id(image.id);
    for (const std::string& name : image.names) out->add_names(name);
  }
  return grpc::Status::OK;
}

grpc::Status BerthImagesService::Export(grpc::ServerContext*,
                                        const berth::v1::ExportRequest* request,
                                        grpc::ServerWriter<berth::v1::ExportChunk>* writer) {
  constexpr size_t kChunk = 1 << 20;
  berth::v1::ExportChunk chunk;
  auto flush = [&]() -> absl::Status {
    if (chunk.data().empty()) return absl::OkStatus();
    if (!writer->Write(chunk)) return absl::CancelledError("the client went away");
    chunk.mutable_data()->clear();
    return absl::OkStatus();
  };
  std::vector<std::string> specs(request->images().begin(), request->images().end());
  if (specs.empty()) return ToGrpcStatus(absl::InvalidArgumentError("no images to export"));
  absl::Status status = images_.Export(specs, [&](absl::string_view data) -> absl::Status {
    chunk.mutable_data()->append(data.data(), data.size());
    if (chunk.data().size() >= kChunk) return flush();
    return absl::OkStatus();
  });
  if (status.ok()) status = flush();
  return ToGrpcStatus(status);
}

grpc::Status BerthImagesService::Tag(grpc::ServerContext*, const berth::v1::TagRequest* request,
                                     berth::v1::TagResponse* response) {
  absl::StatusOr<std::string> id = images_.Tag(request->source(), request->target());
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_id(*id);
  return grpc::Status::OK;
}

grpc::Status BerthImagesService::Pull(grpc::ServerContext*, const berth::v1::PullRequest* request,
                                      grpc::ServerWriter<berth::v1::PullProgress>* writer) {
  runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image(request->image());
  pull.mutable_auth()->set_username(request->username());
  pull.mutable_auth()->set_password(request->password());

  // Download threads report progress; this thread alone writes to the stream.
  absl::Mutex mutex;
  std::map<std::string, berth::v1::LayerProgress> layers;
  absl::StatusOr<std::string> id = absl::UnknownError("pull did not finish");
  absl::Notification done;
  std::thread puller([&] {
    id = images_.Pull(pull, [&](const snapshotter::LayerProgress& p) {
      absl::MutexLock lock(&mutex);
      berth::v1::LayerProgress& layer = layers[p.digest.ToString()];
      layer.set_digest(p.digest.ToString());
      layer.set_total(p.total);
      layer.set_done(p.done);
      layer.set_finished(p.finished);
      layer.set_cached(p.cached);
    });
    done.Notify();
  });
  auto snapshot = [&] {
    berth::v1::PullProgress progress;
    absl::MutexLock lock(&mutex);
    for (const auto& [digest, layer] : layers) *progress.add_layers() = layer;
    return progress;
  };
  bool client_gone = false;
  while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
    if (!client_gone && !writer->Write(snapshot())) client_gone = true;
  }
  puller.join();
  if (!id.ok()) return ToGrpcStatus(id.status());
  berth::v1::PullProgress last = snapshot();
  last.set_image_id(*id);
  writer->Write(last);
  return grpc::Status::OK;
}

}  // namespace berth::cri
