#include "tests/e2e/cri_node.h"

#include <grpcpp/grpcpp.h>

#include <map>

#include "absl/time/clock.h"
#include "snapshotter/digest.h"
#include "tests/support/tar_builder.h"

namespace berth::cri {

namespace {

class NodeEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { Node::Destroy(); }
};

::testing::Environment* const kNodeEnvironment =
    ::testing::AddGlobalTestEnvironment(new NodeEnvironment);

}  // namespace

// Polls `done` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// ---- the test images, as one OCI archive berthd imports ----

static nlohmann::json Descriptor(const std::string& media_type, const std::string& blob) {
  return {{"mediaType", media_type},
          {"digest", snapshotter::DigestOf(blob).ToString()},
          {"size", blob.size()}};
}

absl::StatusOr<std::string> BuildArchive(const testing::TestImages& images) {
  std::map<std::string, std::string> blobs;  // digest -> content
  auto add_blob = [&](const std::string& data) {
    std::string digest = snapshotter::DigestOf(data).ToString();
    blobs[digest] = data;
    return digest;
  };
  auto read_blob = [&](const std::string& digest) -> absl::Status {
    ASSIGN_OR_RETURN(std::string data,
                     ReadFileToString(images.dir() + "/blobs/sha256/" + digest.substr(7)));
    blobs[digest] = std::move(data);
    return absl::OkStatus();
  };
  nlohmann::json index = {{"schemaVersion", 2},
                          {"mediaType", "application/vnd.oci.image.index.v1+json"},
                          {"manifests", nlohmann::json::array()}};
  auto name_manifest = [&](const std::string& name, const std::string& digest) {
    index["manifests"].push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", digest},
                                  {"size", blobs.at(digest).size()},
                                  {"annotations", {{"io.containerd.image.name", name}}}});
  };
  for (const auto& [repo, name] :
       {std::pair<std::string, std::string>{"berth-test/busybox", kBusybox},
        {"berth-test/user-uid", kUserUid},
        {"berth-test/user-name", kUserName}}) {
    const nlohmann::json& image = images.Image(repo, "latest");
    if (image.is_null()) return absl::NotFoundError(repo + ":latest is not in images.json");
    RETURN_IF_ERROR(read_blob(image["manifest_digest"]));
    RETURN_IF_ERROR(read_blob(image["config_digest"]));
    for (const nlohmann::json& layer : image["layers"]) RETURN_IF_ERROR(read_blob(layer["digest"]));
    name_manifest(name, image["manifest_digest"]);
  }

  const nlohmann::json& busybox = images.Image("berth-test/busybox", "latest");
  const nlohmann::json& base = busybox["layers"][0];
  std::string layer =
      berth::testing::TarBuilder()
          .Dir("etc")
          .File("etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nmember:x:2000:2000:member:/tmp:/bin/sh\n")
          .File("etc/group",
                "root:x:0:\nmember:x:2000:\nextra:x:3000:member\nother:x:3001:member\n")
          .Build();
  std::string layer_digest = add_blob(layer);
  nlohmann::json config = {
      {"architecture", busybox["platform"]["architecture"]},
      {"os", "linux"},
      {"config",
       {{"Entrypoint", {"/bin/sh", "-c"}},
        {"Cmd", {"echo from-cmd"}},
        {"Env", {absl::StrCat("PATH=", kCustomPath), "IMAGE_ONLY=image", "SHARED=image"}},
        {"WorkingDir", "/tmp"},
        {"StopSignal", "SIGUSR1"},
        {"Volumes", {{"/data/declared", nlohmann::json::object()}}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {base["diff_id"], layer_digest}}}}};
  std::string config_blob = config.dump();
  add_blob(config_blob);
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config", Descriptor("application/vnd.oci.image.config.v1+json", config_blob)},
      {"layers",
       {{{"mediaType", base["media_type"]}, {"digest", base["digest"]}, {"size", base["size"]}},
        Descriptor("application/vnd.oci.image.layer.v1.tar", layer)}}};
  name_manifest(kCustom, add_blob(manifest.dump()));

  berth::testing::TarBuilder archive;
  archive.File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})")
      .File("index.json", index.dump())
      .Dir("blobs")
      .Dir("blobs/sha256");
  for (const auto& [digest, data] : blobs) archive.File("blobs/sha256/" + digest.substr(7), data);
  return archive.Build();
}

absl::Status Import(CriClient& client, const std::string& archive) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  berth::v1::ImportResponse response;
  std::unique_ptr<grpc::ClientWriter<berth::v1::ImportRequest>> writer =
      client.berth_images().Import(&context, &response);
  berth::v1::ImportRequest request;
  for (size_t at = 0; at < archive.size(); at += 1 << 20) {
    request.set_data(archive.substr(at, 1 << 20));
    if (!writer->Write(request)) break;  // the server ended the call; Finish says why
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok())
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        "import: " + status.error_message());
  if (response.images_size() != 4)
    return absl::InternalError(absl::StrCat("imported ", response.images_size(), " images, not 4"));
  return absl::OkStatus();
}


}  // namespace berth::cri
