#include "snapshotter/image_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/path_in_root.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/tar_stream.h"

namespace berth::snapshotter {
namespace {

using nlohmann::json;

constexpr int64_t kMaxMetadataFile = 4 << 20;
constexpr char kRefNameAnnotation[] = "org.opencontainers.image.ref.name";
constexpr char kImageNameAnnotation[] = "io.containerd.image.name";

struct WriterDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};

// What an archive holds: each stored file's digest by path, and the small
// metadata files by path.
struct ArchiveFiles {
  std::map<std::string, Digest> digests;
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::string> symlinks;
  // Every digest the archive's own bytes were verified to have.
  std::set<Digest> carried;

  absl::StatusOr<Digest> DigestOf(const std::string& path, int depth = 0) const {
    std::string clean = LexicallyClean(path);
    if (auto it = digests.find(clean); it != digests.end()) return it->second;
    if (auto it = symlinks.find(clean); it != symlinks.end() && depth < 8) {
      return DigestOf(it->second, depth + 1);
    }
    return absl::InvalidArgumentError(absl::StrCat("archive has no file \"", path, "\""));
  }
};

bool IsMetadataFile(const std::string& path) {
  return path == "manifest.json" || path == "index.json" || path == "oci-layout" ||
         path == "repositories";
}

class ArchiveReader {
 public:
  ArchiveReader(const ByteSource& source, ContentStore& content)
      : tar_(source, absl::StatusCode::kInvalidArgument), content_(content) {}

  absl::StatusOr<ArchiveFiles> Read() {
    ArchiveFiles files;
    while (true) {
      ASSIGN_OR_RETURN(archive_entry * entry, tar_.Next());
      if (entry == nullptr) break;
      std::string path = LexicallyClean(archive_entry_pathname(entry));
      if (archive_entry_filetype(entry) == AE_IFLNK) {
        std::string dir = std::filesystem::path(path).parent_path().string();
        files.symlinks[path] = LexicallyClean(absl::StrCat(dir, "/", archive_entry_symlink(entry)));
        continue;
      }
      if (archive_entry_filetype(entry) != AE_IFREG) continue;
      int64_t size = archive_entry_size(entry);
      if (IsMetadataFile(path)) {
        if (size > kMaxMetadataFile) {
          return absl::InvalidArgumentError(absl::StrCat("archive file ", path, " is too large"));
        }
        std::string& data = files.metadata[path];
        RETURN_IF_ERROR(tar_.ReadData([&](absl::string_view block, int64_t) {
          data.append(block.data(), block.size());
          return absl::OkStatus();
        }));
        continue;
      }
      // Files under blobs/sha256/ are named by their digest, which is verified.
      Digest expected;
      if (absl::StartsWith(path, "blobs/sha256/")) {
        absl::StatusOr<Digest> named = Digest::Parse("sha256:" + path.substr(13));
        if (named.ok()) expected = *named;
      }
      ASSIGN_OR_RETURN(files.digests[path], Store(expected, size, path));
      files.carried.insert(files.digests[path]);
    }
    RETURN_IF_ERROR(tar_.Drain());
    return files;
  }

 private:
  absl::StatusOr<Digest> Store(const Digest& expected, int64_t size, const std::string& path) {
    if (!expected.empty() && content_.Has(expected)) return Verify(expected, path);
    ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, content_.Writer(expected, size));
    RETURN_IF_ERROR(
        tar_.ReadData([&](absl::string_view block, int64_t) { return writer->Write(block); }));
    absl::Status committed = writer->Commit();
    if (!committed.ok()) {
      return absl::Status(committed.code(),
                          absl::StrCat("archive file ", path, ": ", committed.message()));
    }
    return writer->digest();
  }

  // A blob already stored is not written again, but the archive's bytes are
  // still hashed: a file merely named after a stored digest carries nothing.
  absl::StatusOr<Digest> Verify(const Digest& expected, const std::string& path) {
    Sha256 hasher;
    RETURN_IF_ERROR(tar_.ReadData([&](absl::string_view block, int64_t) {
      hasher.Update(block);
      return absl::OkStatus();
    }));
    Digest actual = hasher.Finish();
    if (actual != expected) {
      return absl::DataLossError(
          absl::StrCat("archive file ", path, ": content has digest ", actual.ToString()));
    }
    return expected;
  }

  TarStream tar_;
  ContentStore& content_;
};

std::string LayerMediaType(const ContentStore& content, const Digest& digest) {
  absl::StatusOr<UniqueFd> fd = content.Open(digest);
  unsigned char magic[4] = {};
  if (fd.ok() && pread(fd->get(), magic, sizeof(magic), 0) == sizeof(magic)) {
    if (magic[0] == 0x1f && magic[1] == 0x8b) return media_type::kOciLayerGzip;
    if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) {
      return media_type::kOciLayerZstd;
    }
  }
  return media_type::kOciLayer;
}

// A blob an image needs must come from the archive or, failing that, the store.
absl::Status Require(const ArchiveFiles& files, const ContentStore& content, const Digest& digest,
                     absl::string_view role) {
  if (files.carried.contains(digest) || content.Has(digest)) return absl::OkStatus();
  return MissingFromArchive({digest, std::string(role)});
}

// docker save: manifest.json lists each image's config and layer files.
absl::StatusOr<std::vector<ArchiveImage>> DockerArchiveImages(const ArchiveFiles& files,
                                                              ContentStore& content,
                                                              ImagePuller& describer) {
  json doc = json::parse(files.metadata.at("manifest.json"), nullptr, false);
  if (!doc.is_array()) return absl::InvalidArgumentError("manifest.json is not a JSON array");
  std::vector<ArchiveImage> images;
  for (const json& entry : doc) {
    if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string() ||
        !entry.contains("Layers") || !entry["Layers"].is_array()) {
      return absl::InvalidArgumentError("manifest.json entry lacks Config or Layers");
    }
    ASSIGN_OR_RETURN(Digest config, files.DigestOf(entry["Config"].get<std::string>()));
    ASSIGN_OR_RETURN(int64_t config_size, content.Size(config));
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", media_type::kOciManifest},
                     {"config",
                      {{"mediaType", media_type::kOciConfig},
                       {"digest", config.ToString()},
                       {"size", config_size}}},
                     {"layers", json::array()}};
    for (const json& layer : entry["Layers"]) {
      if (!layer.is_string()) return absl::InvalidArgumentError("manifest.json: bad layer path");
      ASSIGN_OR_RETURN(Digest digest, files.DigestOf(layer.get<std::string>()));
      ASSIGN_OR_RETURN(int64_t size, content.Size(digest));
      manifest["layers"].push_back({{"mediaType", LayerMediaType(content, digest)},
                                    {"digest", digest.ToString()},
                                    {"size", size}});
    }
    std::string manifest_json = manifest.dump();
    Digest manifest_digest = DigestOf(manifest_json);
    RETURN_IF_ERROR(content.Put(manifest_digest, manifest_json));
    ArchiveImage image;
    ASSIGN_OR_RETURN(image.content,
                     describer.DescribeFromManifest(manifest_digest, manifest_json, std::nullopt));
    if (entry.contains("RepoTags") && entry["RepoTags"].is_array()) {
      for (const json& tag : entry["RepoTags"]) {
        if (tag.is_string()) image.names.push_back(tag.get<std::string>());
      }
    }
    images.push_back(std::move(image));
  }
  return images;
}

// Adds what an index's other platforms use, as far as the archive carries
// it: the store's other blobs are not the archive's to claim.
void RetainOtherPlatforms(const Index& index, const Digest& chosen, const ArchiveFiles& files,
                          const ContentStore& content, std::vector<Digest>& retained) {
  for (const Descriptor& d : index.manifests) {
    if (d.digest == chosen || !files.carried.contains(d.digest)) continue;
    retained.push_back(d.digest);
    absl::StatusOr<std::string> text = content.Read(d.digest, kMaxMetadataFile);
    if (!text.ok()) continue;
    absl::StatusOr<Manifest> manifest = ParseManifest(*text);
    if (!manifest.ok()) continue;
    if (files.carried.contains(manifest->config.digest)) {
      retained.push_back(manifest->config.digest);
    }
    for (const Descriptor& layer : manifest->layers) {
      if (files.carried.contains(layer.digest)) retained.push_back(layer.digest);
    }
  }
}

absl::StatusOr<std::vector<ArchiveImage>> OciArchiveImages(const ArchiveFiles& files,
                                                           ContentStore& content,
                                                           ImagePuller& describer,
                                                           const Platform& platform) {
  absl::StatusOr<Index> top = ParseIndex(files.metadata.at("index.json"));
  if (!top.ok())
    return absl::InvalidArgumentError("index.json: " + std::string(top.status().message()));
  std::vector<ArchiveImage> images;
  for (const Descriptor& d : top->manifests) {
    ArchiveImage image;
    if (auto it = d.annotations.find(kImageNameAnnotation); it != d.annotations.end()) {
      image.names.push_back(it->second);
    } else if (auto ref = d.annotations.find(kRefNameAnnotation); ref != d.annotations.end()) {
      // A bare tag ("latest") names no repository; a full reference does.
      if (absl::StrContains(ref->second, '/') || absl::StrContains(ref->second, ':')) {
        image.names.push_back(ref->second);
      }
    }
    RETURN_IF_ERROR(
        Require(files, content, d.digest, IsIndexMediaType(d.media_type) ? "index" : "manifest"));
    ASSIGN_OR_RETURN(std::string text, content.Read(d.digest, kMaxMetadataFile));
    std::string type = d.media_type.empty() ? DetectManifestMediaType(text) : d.media_type;
    std::optional<Digest> index_digest;
    Digest manifest_digest = d.digest;
    std::vector<Digest> retained;
    if (IsIndexMediaType(type)) {
      absl::StatusOr<Index> index = ParseIndex(text);
      if (!index.ok()) return index.status();
      ASSIGN_OR_RETURN(Descriptor chosen, SelectPlatform(*index, platform));
      index_digest = d.digest;
      manifest_digest = chosen.digest;
      RETURN_IF_ERROR(Require(files, content, chosen.digest, "manifest"));
      ASSIGN_OR_RETURN(text, content.Read(chosen.digest, kMaxMetadataFile));
      RetainOtherPlatforms(*index, chosen.digest, files, content, retained);
    }
    // Read from the store by the describer, so checked here for a clear error.
    if (absl::StatusOr<Manifest> manifest = ParseManifest(text); manifest.ok()) {
      RETURN_IF_ERROR(Require(files, content, manifest->config.digest, "config"));
    }
    ASSIGN_OR_RETURN(image.content,
                     describer.DescribeFromManifest(manifest_digest, text, index_digest));
    image.content.retained = std::move(retained);
    images.push_back(std::move(image));
  }
  return images;
}

}  // namespace

absl::Status MissingFromArchive(const BorrowedBlob& blob) {
  return absl::InvalidArgumentError(
      absl::StrCat("archive lacks ", blob.role, " ", blob.digest.ToString(),
                   " (an archive may leave out only blobs of an image this node already has)"));
}

absl::StatusOr<std::vector<ArchiveImage>> ReadImageArchive(const ByteSource& source,
                                                           ContentStore& content,
                                                           ImagePuller& describer,
                                                           const Platform& platform) {
  ArchiveReader reader(source, content);
  ASSIGN_OR_RETURN(ArchiveFiles files, reader.Read());
  std::vector<ArchiveImage> images;
  if (files.metadata.contains("index.json")) {
    ASSIGN_OR_RETURN(images, OciArchiveImages(files, content, describer, platform));
  } else if (files.metadata.contains("manifest.json")) {
    ASSIGN_OR_RETURN(images, DockerArchiveImages(files, content, describer));
    // The manifests berth wrote for them are the archive's as much as its files.
    for (const ArchiveImage& image : images) files.carried.insert(image.content.manifest_digest);
  } else {
    return absl::InvalidArgumentError(
        "not an image archive: it has neither index.json (OCI) nor manifest.json (docker save)");
  }
  for (ArchiveImage& image : images) {
    auto check = [&](const Digest& digest, absl::string_view role) -> absl::Status {
      if (files.carried.contains(digest)) return absl::OkStatus();
      RETURN_IF_ERROR(Require(files, content, digest, role));
      image.borrowed.push_back({digest, std::string(role)});
      return absl::OkStatus();
    };
    if (image.content.index_digest) RETURN_IF_ERROR(check(*image.content.index_digest, "index"));
    RETURN_IF_ERROR(check(image.content.manifest_digest, "manifest"));
    RETURN_IF_ERROR(check(image.content.config_digest, "config"));
    for (const LayerContent& layer : image.content.layers) {
      RETURN_IF_ERROR(check(layer.blob.digest, "layer"));
    }
  }
  return images;
}

namespace {

la_ssize_t WriteCallback(archive* a, void* client, const void* buffer, size_t length) {
  auto* sink = static_cast<std::pair<const ArchiveSink*, absl::Status>*>(client);
  sink->second = (*sink->first)(absl::string_view(static_cast<const char*>(buffer), length));
  if (!sink->second.ok()) {
    archive_set_error(a, EIO, "%s", std::string(sink->second.message()).c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

class ArchiveWriter {
 public:
  explicit ArchiveWriter(const ArchiveSink& sink) : sink_(&sink, absl::OkStatus()) {
    archive_.reset(archive_write_new());
    archive_write_set_format_pax_restricted(archive_.get());
    archive_write_set_bytes_in_last_block(archive_.get(), 1);
  }

  absl::Status Open() {
    if (archive_write_open(archive_.get(), &sink_, nullptr, &WriteCallback, nullptr) !=
        ARCHIVE_OK) {
      return Error();
    }
    return absl::OkStatus();
  }

  absl::Status AddFile(const std::string& name, int64_t size,
                       const std::function<absl::Status()>& write_data) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                   archive_entry_free);
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), size);
    if (archive_write_header(archive_.get(), entry.get()) != ARCHIVE_OK) return Error();
    return write_data();
  }

  absl::Status AddText(const std::string& name, const std::string& text) {
    return AddFile(name, static_cast<int64_t>(text.size()), [&] { return Data(text); });
  }

  absl::Status Data(absl::string_view data) {
    if (archive_write_data(archive_.get(), data.data(), data.size()) < 0) return Error();
    return absl::OkStatus();
  }

  absl::Status Close() {
    if (archive_write_close(archive_.get()) != ARCHIVE_OK) return Error();
    return absl::OkStatus();
  }

 private:
  absl::Status Error() {
    if (!sink_.second.ok()) return sink_.second;
    const char* message = archive_error_string(archive_.get());
    return absl::InternalError(absl::StrCat("write archive: ", message ? message : "failed"));
  }

  std::pair<const ArchiveSink*, absl::Status> sink_;
  std::unique_ptr<archive, WriterDeleter> archive_;
};

}  // namespace

absl::Status WriteImageArchive(const std::vector<ArchiveImage>& images, const ContentStore& content,
                               const ArchiveSink& sink) {
  ArchiveWriter writer(sink);
  RETURN_IF_ERROR(writer.Open());
  RETURN_IF_ERROR(writer.AddText("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  std::set<Digest> written;
  json index = {
      {"schemaVersion", 2}, {"mediaType", media_type::kOciIndex}, {"manifests", json::array()}};
  json docker_manifest = json::array();
  for (const ArchiveImage& image : images) {
    for (const Digest& blob : image.content.Blobs()) {
      if (!written.insert(blob).second) continue;
      ASSIGN_OR_RETURN(int64_t size, content.Size(blob));
      ASSIGN_OR_RETURN(UniqueFd fd, content.Open(blob));
      RETURN_IF_ERROR(writer.AddFile("blobs/sha256/" + blob.hex(), size, [&]() -> absl::Status {
        std::string buffer(1 << 20, '\0');
        while (true) {
          ssize_t n = read(fd.get(), buffer.data(), buffer.size());
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) return berth::ErrnoStatus("read blob " + blob.ToString());
          if (n == 0) return absl::OkStatus();
          RETURN_IF_ERROR(writer.Data(absl::string_view(buffer.data(), static_cast<size_t>(n))));
        }
      }));
    }
    // The index entry is what the names resolved to: the index of a
    // multi-platform image, else the manifest.
    const Digest& top =
        image.content.index_digest ? *image.content.index_digest : image.content.manifest_digest;
    ASSIGN_OR_RETURN(int64_t top_size, content.Size(top));
    std::string top_type =
        image.content.index_digest ? media_type::kOciIndex : image.content.manifest_media_type;
    if (image.content.index_digest) {
      absl::StatusOr<std::string> text = content.Read(top, kMaxMetadataFile);
      if (text.ok()) top_type = DetectManifestMediaType(*text);
    }
    std::vector<std::string> names = image.names;
    if (names.empty()) names.push_back("");
    json tags = json::array();
    for (const std::string& name : names) {
      json descriptor = {{"mediaType", top_type}, {"digest", top.ToString()}, {"size", top_size}};
      if (!name.empty()) {
        descriptor["annotations"] = {{kImageNameAnnotation, name}};
        size_t colon = name.rfind(':');
        if (colon != std::string::npos && name.find('/', colon) == std::string::npos &&
            !absl::StrContains(name, '@')) {
          descriptor["annotations"][kRefNameAnnotation] = name.substr(colon + 1);
          tags.push_back(name);
        }
      }
      index["manifests"].push_back(descriptor);
    }
    json layers = json::array();
    for (const LayerContent& layer : image.content.layers) {
      layers.push_back("blobs/sha256/" + layer.blob.digest.hex());
    }
    docker_manifest.push_back({{"Config", "blobs/sha256/" + image.content.config_digest.hex()},
                               {"RepoTags", tags},
                               {"Layers", layers}});
  }
  RETURN_IF_ERROR(writer.AddText("index.json", index.dump()));
  RETURN_IF_ERROR(writer.AddText("manifest.json", docker_manifest.dump()));
  return writer.Close();
}

}  // namespace berth::snapshotter
