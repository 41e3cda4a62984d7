// The ImageService end to end: berthd pulling from Debian's docker-registry
// on loopback (plain, basic auth, token auth, TLS, mirrors), with the test
// images hack/test-images builds.

#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cri/store/metadata_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/unique_fd.h"
#include "snapshotter/digest.h"
#include "snapshotter/http_client.h"
#include "tests/e2e/berthd_fixture.h"
#include "tests/e2e/local_registry.h"
#include "tests/support/tar_builder.h"

namespace berth::cri {
namespace {

namespace fs = std::filesystem;
using berth::testing::LocalRegistry;
using berth::testing::TestImages;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class ImageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    images_dir_ = new TempDir();
    images_ = new TestImages();
    absl::Status built = images_->Build(images_dir_->Join("images"));
    ASSERT_TRUE(built.ok()) << built;
  }
  static void TearDownTestSuite() {
    delete images_;
    delete images_dir_;
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (overlay, ownership, device nodes)";
  }

  // A registry with every test image pushed.
  std::unique_ptr<LocalRegistry> StartRegistry(const std::string& name,
                                               std::vector<std::string> options = {}) {
    auto registry = std::make_unique<LocalRegistry>(dir_.Join(name));
    absl::Status status = registry->Start(options);
    EXPECT_TRUE(status.ok()) << status;
    status = registry->Push(images_->dir());
    EXPECT_TRUE(status.ok()) << status;
    return registry;
  }

  absl::Status StartBerthd(const std::string& config = "") {
    berthd_ = std::make_unique<BerthdUnderTest>(dir_);
    return berthd_->Start(config);
  }

  absl::StatusOr<std::string> Pull(const std::string& image,
                                   const runtime::v1::AuthConfig& auth = {}) {
    runtime::v1::PullImageRequest request;
    request.mutable_image()->set_image(image);
    *request.mutable_auth() = auth;
    absl::StatusOr<runtime::v1::PullImageResponse> response =
        berthd_->client().Call(&runtime::v1::ImageService::Stub::PullImage, request);
    if (!response.ok()) return response.status();
    return response->image_ref();
  }

  std::vector<runtime::v1::Image> List(const std::string& filter = "") {
    runtime::v1::ListImagesRequest request;
    if (!filter.empty()) request.mutable_filter()->mutable_image()->set_image(filter);
    absl::StatusOr<runtime::v1::ListImagesResponse> response =
        berthd_->client().Call(&runtime::v1::ImageService::Stub::ListImages, request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return {};
    return {response->images().begin(), response->images().end()};
  }

  runtime::v1::ImageStatusResponse Status(const std::string& image, bool verbose = false) {
    runtime::v1::ImageStatusRequest request;
    request.mutable_image()->set_image(image);
    request.set_verbose(verbose);
    absl::StatusOr<runtime::v1::ImageStatusResponse> response =
        berthd_->client().Call(&runtime::v1::ImageService::Stub::ImageStatus, request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.value_or(runtime::v1::ImageStatusResponse());
  }

  absl::Status Remove(const std::string& image) {
    runtime::v1::RemoveImageRequest request;
    request.mutable_image()->set_image(image);
    return berthd_->client().Call(&runtime::v1::ImageService::Stub::RemoveImage, request).status();
  }

  std::string ConfigDigest(const std::string& name, const std::string& tag) {
    return images_->Image(name, tag)["config_digest"].get<std::string>();
  }
  std::string ManifestDigest(const std::string& name, const std::string& tag) {
    return images_->Image(name, tag)["manifest_digest"].get<std::string>();
  }

  std::set<std::string> Blobs() {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(berthd_->root() + "/content/blobs/sha256")) {
      out.insert("sha256:" + e.path().filename().string());
    }
    return out;
  }
  size_t SnapshotDirs() {
    return std::distance(fs::directory_iterator(berthd_->root() + "/snapshots"),
                         fs::directory_iterator());
  }
  // Every blob an images.json entry references.
  std::set<std::string> BlobsOf(const nlohmann::json& image) {
    std::set<std::string> out = {image["manifest_digest"], image["config_digest"]};
    for (const auto& layer : image["layers"]) out.insert(layer["digest"].get<std::string>());
    return out;
  }

  static TempDir* images_dir_;
  static TestImages* images_;
  TempDir dir_;
  std::unique_ptr<BerthdUnderTest> berthd_;
};

TempDir* ImageTest::images_dir_ = nullptr;
TestImages* ImageTest::images_ = nullptr;

TEST_F(ImageTest, PullByTagAndDigestListStatusAndUsers) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok()) << berthd_->Log();
  std::string repo = registry->host() + "/berth-test/busybox";
  std::string id = ConfigDigest("berth-test/busybox", "1.0");

  absl::StatusOr<std::string> pulled = Pull(repo + ":1.0");
  ASSERT_TRUE(pulled.ok()) << pulled.status() << berthd_->Log();
  EXPECT_EQ(*pulled, id) << "PullImage returns the image id";
  ASSERT_TRUE(Pull(repo + ":latest").ok());
  std::string digest = ManifestDigest("berth-test/busybox", "1.0");
  absl::StatusOr<std::string> by_digest = Pull(repo + "@" + digest);
  ASSERT_TRUE(by_digest.ok()) << by_digest.status();
  EXPECT_EQ(*by_digest, id);

  std::vector<runtime::v1::Image> images = List();
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].id(), id);
  EXPECT_THAT(images[0].repo_tags(), UnorderedElementsAre(repo + ":1.0", repo + ":latest"));
  EXPECT_THAT(images[0].repo_digests(), ElementsAre(repo + "@" + digest));
  EXPECT_GT(images[0].size(), 1000000u);
  EXPECT_FALSE(images[0].has_uid());
  EXPECT_EQ(images[0].spec().image(), id);

  // Any of its names (or its id) finds it; other names find nothing.
  for (const std::string& name : {repo + ":1.0", repo + "@" + digest, id, id.substr(7)}) {
    EXPECT_EQ(Status(name).image().id(), id) << name;
    EXPECT_EQ(List(name).size(), 1u) << name;
  }
  EXPECT_FALSE(Status(repo + ":1.1").has_image());
  EXPECT_TRUE(List(repo + ":nope").empty());
  runtime::v1::ImageStatusResponse verbose = Status(id, true);
  nlohmann::json info = nlohmann::json::parse(verbose.info().at("info"));
  EXPECT_EQ(info["imageSpec"]["config"]["Labels"]["org.berth.test"], "busybox");
  EXPECT_EQ(info["unpacked"], true);

  // The image's User becomes uid or username.
  ASSERT_TRUE(Pull(registry->host() + "/berth-test/user-uid").ok());
  ASSERT_TRUE(Pull(registry->host() + "/berth-test/user-name:latest").ok());
  runtime::v1::Image by_uid = Status(registry->host() + "/berth-test/user-uid").image();
  ASSERT_TRUE(by_uid.has_uid());
  EXPECT_EQ(by_uid.uid().value(), 1000);
  runtime::v1::Image by_name = Status(registry->host() + "/berth-test/user-name").image();
  EXPECT_FALSE(by_name.has_uid());
  EXPECT_EQ(by_name.username(), "berthuser");

  // docker schema2 manifests pull too.
  EXPECT_EQ(Pull(registry->host() + "/berth-test/docker-schema2").value_or(""),
            ConfigDigest("berth-test/docker-schema2", "latest"));
}

TEST_F(ImageTest, InvalidOrMissingReferencesFailClearly) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  absl::StatusOr<std::string> bad = Pull("Not//Valid");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("invalid image reference"));
  absl::StatusOr<std::string> missing = Pull(registry->host() + "/berth-test/nothing:1");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("MANIFEST_UNKNOWN"));
  EXPECT_TRUE(List().empty());
}

TEST_F(ImageTest, MultiArchIndexesResolveToTheNodesPlatform) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  for (const std::string name : {"berth-test/multiarch", "berth-test/multiarch-docker"}) {
    const nlohmann::json& entry = images_->Image(name, "latest");
    std::string amd64;
    for (const auto& m : entry["manifests"]) {
      if (m["platform"]["architecture"] == "amd64") amd64 = m["config_digest"];
    }
    absl::StatusOr<std::string> id = Pull(registry->host() + "/" + name);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(*id, amd64) << name;
    // The repo digest is the index's, which is what the tag names.
    EXPECT_THAT(
        Status(*id).image().repo_digests(),
        Contains(registry->host() + "/" + name + "@" + entry["index_digest"].get<std::string>()));
  }
}

// Mounts an image's layers read-only the way a container's root would see
// them, reading the chain from berthd's store.
class MountedImage {
 public:
  MountedImage(const std::string& root, const std::string& chain_id, const std::string& target) {
    auto store = MetadataStore::Open(root + "/meta.db");
    EXPECT_TRUE(store.ok()) << store.status();
    std::vector<std::string> lowers;
    for (std::string key = chain_id; !key.empty();) {
      auto s = (*store)->Read([&](const MetadataTables& t) { return t.GetSnapshot(key); });
      EXPECT_TRUE(s.ok()) << s.status();
      if (!s.ok()) return;
      lowers.push_back(absl::StrCat(root, "/snapshots/", s->id, "/fs"));
      key = s->parent;
    }
    fs::create_directories(target);
    std::string options = "lowerdir=" + absl::StrJoin(lowers, ":");
    if (lowers.size() == 1)
      options += ":" + lowers[0];  // overlay needs two lowers without an upper
    EXPECT_EQ(mount("overlay", target.c_str(), "overlay", MS_RDONLY, options.c_str()), 0)
        << strerror(errno);
    target_ = target;
  }
  ~MountedImage() {
    if (!target_.empty()) umount2(target_.c_str(), MNT_DETACH);
  }

 private:
  std::string target_;
};

TEST_F(ImageTest, LayersWithWhiteoutsZstdAndPlainTarUnpackToTheExpectedTree) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  absl::StatusOr<std::string> id = Pull(registry->host() + "/berth-test/layers");
  ASSERT_TRUE(id.ok()) << id.status() << berthd_->Log();
  nlohmann::json info = nlohmann::json::parse(Status(*id, true).info().at("info"));
  std::string rootfs = dir_.Join("rootfs");
  MountedImage mounted(berthd_->root(), info["chainID"], rootfs);

  const nlohmann::json& expect = images_->Image("berth-test/layers", "latest")["expect"];
  for (const auto& [path, want] : expect["present"].items()) {
    SCOPED_TRACE(path);
    struct stat st;
    ASSERT_EQ(lstat((rootfs + path).c_str(), &st), 0) << strerror(errno);
    EXPECT_EQ(st.st_uid, want["uid"].get<unsigned>());
    EXPECT_EQ(st.st_mode & 07777, std::stoul(want["mode"].get<std::string>(), nullptr, 8));
    if (want.contains("mtime")) EXPECT_EQ(st.st_mtime, want["mtime"].get<int64_t>());
    std::string type = want["type"];
    if (type == "symlink") {
      EXPECT_EQ(fs::read_symlink(rootfs + path).string(), want["target"].get<std::string>());
    } else if (type == "file" && want.contains("content")) {
      std::ifstream in(rootfs + path);
      EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}),
                want["content"].get<std::string>());
    } else if (type == "fifo") {
      EXPECT_TRUE(S_ISFIFO(st.st_mode));
    }
    if (want.contains("hardlink_of")) {
      struct stat other;
      ASSERT_EQ(lstat((rootfs + want["hardlink_of"].get<std::string>()).c_str(), &other), 0);
      EXPECT_EQ(other.st_ino, st.st_ino);
    }
  }
  for (const auto& path : expect["absent"]) {
    EXPECT_FALSE(fs::exists(fs::symlink_status(rootfs + path.get<std::string>())))
        << path << " should be whited out";
  }
}

TEST_F(ImageTest, BasicAuthRequiresTheRightPassword) {
  auto registry = StartRegistry("registry", {"--htpasswd", "alice:wonderland"});
  ASSERT_TRUE(StartBerthd().ok());
  std::string image = registry->host() + "/berth-test/busybox:1.0";

  absl::StatusOr<std::string> anonymous = Pull(image);
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kUnauthenticated) << anonymous.status();
  runtime::v1::AuthConfig wrong;
  wrong.set_username("alice");
  wrong.set_password("looking-glass");
  absl::StatusOr<std::string> denied = Pull(image, wrong);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("rejected the credentials"));
  EXPECT_TRUE(List().empty());

  runtime::v1::AuthConfig right;
  right.set_auth(absl::Base64Escape("alice:wonderland"));  // the "auth" form
  EXPECT_TRUE(Pull(image, right).ok());
}

TEST_F(ImageTest, BearerTokenAuthThroughTheTokenEndpoint) {
  auto registry = StartRegistry("registry", {"--token", "bob:builder"});
  ASSERT_TRUE(StartBerthd().ok());
  std::string image = registry->host() + "/berth-test/busybox:1.0";
  runtime::v1::AuthConfig wrong;
  wrong.set_username("bob");
  wrong.set_password("nope");
  absl::StatusOr<std::string> denied = Pull(image, wrong);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kUnauthenticated) << denied.status();
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("token endpoint"));

  runtime::v1::AuthConfig right;
  right.set_username("bob");
  right.set_password("builder");
  absl::StatusOr<std::string> pulled = Pull(image, right);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  // The token the pull used carries the repository scope.
  std::string token_log = ReadFileToString(dir_.Join("registry/token.log")).value_or("");
  EXPECT_THAT(token_log, HasSubstr("repository%3Aberth-test%2Fbusybox%3Apull"));

  // A registry token from the AuthConfig goes to the registry as it is.
  snapshotter::HttpClient http;
  snapshotter::HttpRequest token_request;
  token_request.url = registry->Env("TOKEN_URL") +
                      "?service=berth-registry&scope=repository:berth-test/user-uid:pull";
  token_request.headers.push_back("Authorization: Basic " + absl::Base64Escape("bob:builder"));
  absl::StatusOr<snapshotter::HttpResponse> token = http.Send(token_request);
  ASSERT_TRUE(token.ok() && token->status == 200) << token.status();
  runtime::v1::AuthConfig bearer;
  bearer.set_registry_token(nlohmann::json::parse(token->body)["token"]);
  EXPECT_TRUE(Pull(registry->host() + "/berth-test/user-uid", bearer).ok());
}

TEST_F(ImageTest, RestartCleansUpWhatACrashLeft) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  ASSERT_TRUE(Pull(registry->host() + "/berth-test/busybox:1.0").ok());
  std::set<std::string> blobs = Blobs();
  size_t snapshots = SnapshotDirs();
  ASSERT_TRUE(berthd_->process().Signal(SIGKILL).ok());
  ASSERT_TRUE(berthd_->process().Wait().ok());

  // What a crash mid-pull leaves: a partial download, a verified blob no
  // image records yet, a layer directory without a record.
  std::string root = berthd_->root();
  ASSERT_TRUE(WriteFileAtomically(root + "/content/ingest/partial", "half").ok());
  std::string orphan = snapshotter::DigestOf("orphan").hex();
  ASSERT_TRUE(WriteFileAtomically(root + "/content/blobs/sha256/" + orphan, "orphan").ok());
  fs::create_directories(root + "/snapshots/999/fs/etc");

  berthd_.reset();
  ASSERT_TRUE(StartBerthd().ok()) << berthd_->Log();
  EXPECT_EQ(Blobs(), blobs);
  EXPECT_EQ(SnapshotDirs(), snapshots);
  EXPECT_TRUE(fs::is_empty(root + "/content/ingest"));
  EXPECT_EQ(List().size(), 1u);
  EXPECT_EQ(
      nlohmann::json::parse(
          Status(ConfigDigest("berth-test/busybox", "1.0"), true).info().at("info"))["unpacked"],
      true);
}

TEST_F(ImageTest, CredentialsFileAndTlsWithACustomCa) {
  auto registry = StartRegistry("registry", {"--tls", "--htpasswd", "carol:tls-secret"});
  std::string host = registry->host();
  std::string yaml = absl::StrCat("\"", host, "\":\n  ca_file: ", registry->Env("CA"), "\n");
  ASSERT_TRUE(WriteFileAtomically(dir_.Join("registries.yaml"), yaml).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_.Join("auth.json"),
                                  absl::StrCat(R"({"auths":{")", host, R"(":{"auth":")",
                                               absl::Base64Escape("carol:tls-secret"), "\"}}}"))
                  .ok());
  ASSERT_TRUE(StartBerthd(absl::StrCat("image:\n  registries_file: ", dir_.Join("registries.yaml"),
                                       "\n  auth_file: ", dir_.Join("auth.json"), "\n"))
                  .ok())
      << berthd_->Log();
  absl::StatusOr<std::string> pulled = Pull(host + "/berth-test/busybox:1.0");
  EXPECT_TRUE(pulled.ok()) << pulled.status();
}

TEST_F(ImageTest, UntrustedCertificateFails) {
  auto registry = StartRegistry("registry", {"--tls"});
  // HTTPS checked against the system's CAs, which do not include the registry's.
  std::string https =
      absl::StrCat("\"", registry->host(), "\":\n  ca_file: /etc/ssl/certs/ca-certificates.crt\n");
  ASSERT_TRUE(WriteFileAtomically(dir_.Join("registries.yaml"), https).ok());
  ASSERT_TRUE(
      StartBerthd(absl::StrCat("image:\n  registries_file: ", dir_.Join("registries.yaml"), "\n"))
          .ok());
  absl::StatusOr<std::string> pulled = Pull(registry->host() + "/berth-test/busybox:1.0");
  EXPECT_EQ(pulled.status().code(), absl::StatusCode::kUnavailable) << pulled.status();
  EXPECT_THAT(std::string(pulled.status().message()), HasSubstr("certificate"));
}

TEST_F(ImageTest, MirrorsAreTriedFirstWithFallbackToTheOrigin) {
  auto origin = StartRegistry("origin");
  auto mirror = StartRegistry("mirror");
  std::string yaml =
      absl::StrCat("\"", origin->host(), "\":\n  mirrors: [\"http://", mirror->host(), "\"]\n");
  ASSERT_TRUE(WriteFileAtomically(dir_.Join("registries.yaml"), yaml).ok());
  ASSERT_TRUE(
      StartBerthd(absl::StrCat("image:\n  registries_file: ", dir_.Join("registries.yaml"), "\n"))
          .ok());
  ASSERT_TRUE(Pull(origin->host() + "/berth-test/busybox:1.0").ok());
  EXPECT_EQ(mirror->CountRequests("/v2/berth-test/busybox/manifests/1.0"), 1);
  EXPECT_GE(mirror->CountRequests("/v2/berth-test/busybox/blobs/"), 2);
  EXPECT_EQ(origin->CountRequests("/v2/berth-test/"), 0) << origin->Log();

  // With the mirror gone, the origin serves.
  ASSERT_TRUE(mirror->Stop().ok());
  absl::StatusOr<std::string> fallback = Pull(origin->host() + "/berth-test/busybox:1.1");
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ(origin->CountRequests("/v2/berth-test/busybox/manifests/1.1"), 1);
}

TEST_F(ImageTest, CorruptBlobIsRejectedAndNothingIsKept) {
  auto registry = StartRegistry("registry");
  const nlohmann::json& busybox = images_->Image("berth-test/busybox", "1.0");
  ASSERT_TRUE(registry->Corrupt(busybox["layers"][0]["digest"]).ok());
  ASSERT_TRUE(StartBerthd().ok());
  absl::StatusOr<std::string> pulled = Pull(registry->host() + "/berth-test/busybox:1.0");
  ASSERT_EQ(pulled.status().code(), absl::StatusCode::kDataLoss) << pulled.status();
  EXPECT_THAT(std::string(pulled.status().message()), HasSubstr("digest"));
  EXPECT_TRUE(List().empty());
  // Not the config either, though it was verified and stored before the layer failed.
  EXPECT_TRUE(Blobs().empty());
  EXPECT_EQ(SnapshotDirs(), 0u);
  EXPECT_TRUE(fs::is_empty(berthd_->root() + "/content/ingest"));
}

TEST_F(ImageTest, UnknownIdsAreAbsentNotInvalid) {
  ASSERT_TRUE(StartBerthd().ok());
  // kubelet retries removals with the bare id it listed; critest's
  // idempotence spec sends 64 zeros.
  for (const std::string id : {std::string(64, '0'), "sha256:" + std::string(64, 'f')}) {
    EXPECT_TRUE(Remove(id).ok()) << id;
    EXPECT_FALSE(Status(id).has_image()) << id;
  }
}

TEST_F(ImageTest, RemoveUntagsThenRemovesAndCollectsWhatNothingUses) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  std::string repo = registry->host() + "/berth-test/busybox";
  ASSERT_TRUE(Pull(repo + ":1.0").ok());
  ASSERT_TRUE(Pull(repo + ":latest").ok());
  ASSERT_TRUE(Pull(repo + ":1.1").ok());  // shares the base layer
  ASSERT_TRUE(Pull(registry->host() + "/berth-test/layers").ok());
  std::string id10 = ConfigDigest("berth-test/busybox", "1.0");

  // A tag of an image with other tags only goes away itself.
  ASSERT_TRUE(Remove(repo + ":1.0").ok());
  EXPECT_THAT(Status(id10).image().repo_tags(), ElementsAre(repo + ":latest"));
  // By id: the image with all its names.
  ASSERT_TRUE(Remove(id10).ok());
  EXPECT_FALSE(Status(id10).has_image());
  ASSERT_TRUE(Remove(registry->host() + "/berth-test/layers").ok());

  const nlohmann::json& v11 = images_->Image("berth-test/busybox", "1.1");
  EXPECT_EQ(Blobs(), BlobsOf(v11)) << "only 1.1's blobs remain, the shared base layer among them";
  EXPECT_EQ(SnapshotDirs(), v11["layers"].size());

  ASSERT_TRUE(Remove(repo + ":1.1").ok());
  EXPECT_TRUE(List().empty());
  EXPECT_TRUE(Blobs().empty());
  EXPECT_EQ(SnapshotDirs(), 0u);
  // Removing what is gone succeeds.
  EXPECT_TRUE(Remove(repo + ":1.1").ok());
  EXPECT_TRUE(Remove(id10).ok());
}

TEST_F(ImageTest, ConcurrentPullsOfOneImageShareOneDownload) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  std::string image = registry->host() + "/berth-test/layers:latest";
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<std::string>> results(5, absl::UnknownError("not run"));
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = Pull(image); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, ConfigDigest("berth-test/layers", "latest"));
  }
  for (const auto& layer : images_->Image("berth-test/layers", "latest")["layers"]) {
    EXPECT_EQ(registry->CountRequests("/v2/berth-test/layers/blobs/" +
                                      layer["digest"].get<std::string>()),
              1)
        << layer["digest"];
  }
}

TEST_F(ImageTest, ImageFsInfoReportsRealUsage) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  ASSERT_TRUE(Pull(registry->host() + "/berth-test/busybox:1.0").ok());
  absl::StatusOr<runtime::v1::ImageFsInfoResponse> info = berthd_->client().Call(
      &runtime::v1::ImageService::Stub::ImageFsInfo, runtime::v1::ImageFsInfoRequest());
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->image_filesystems_size(), 1);
  const auto& images = info->image_filesystems(0);
  EXPECT_EQ(images.fs_id().mountpoint(), berthd_->root() + "/snapshots");
  EXPECT_GT(images.timestamp(), 0);
  // busybox (2 MB unpacked) plus its 1 MB compressed blob.
  EXPECT_GT(images.used_bytes().value(), 2'500'000u);
  EXPECT_GT(images.inodes_used().value(), 20u);
  ASSERT_EQ(info->container_filesystems_size(), 1);
  EXPECT_EQ(info->container_filesystems(0).used_bytes().value(), 0u);
}

TEST_F(ImageTest, StalledRegistryFailsInsteadOfHanging) {
  // A "registry" that accepts connections and never answers.
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener.get(), 16), 0);
  socklen_t length = sizeof(address);
  getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length);
  ASSERT_TRUE(StartBerthd("image:\n  stall_timeout: 2s\n").ok());
  absl::Time started = absl::Now();
  absl::StatusOr<std::string> pulled =
      Pull(absl::StrCat("127.0.0.1:", ntohs(address.sin_port), "/stalled/image:1"));
  EXPECT_EQ(pulled.status().code(), absl::StatusCode::kDeadlineExceeded) << pulled.status();
  EXPECT_THAT(std::string(pulled.status().message()), HasSubstr("stalled"));
  EXPECT_LT(absl::Now() - started, absl::Seconds(30));
}

// berthctl as a user runs it; returns its exit code, output in `output`.
int Berthctl(const std::string& socket, const std::vector<std::string>& args,
             const std::string& log, std::string* output = nullptr) {
  std::vector<std::string> argv = {BERTHCTL_PATH, "--socket", socket};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn(argv, {.stdout_path = log, .stderr_path = log});
  if (!child.ok()) return -1;
  absl::StatusOr<ExitStatus> exit = child->Wait();
  if (output != nullptr) *output = ReadFileToString(log).value_or("");
  unlink(log.c_str());
  return exit.ok() ? exit->ShellCode() : -1;
}

TEST_F(ImageTest, ImportOfADockerSaveTarball) {
  ASSERT_TRUE(StartBerthd().ok());
  std::string out;
  ASSERT_EQ(Berthctl(berthd_->socket(),
                     {"images", "import", images_->dir() + "/archives/docker-save.tar"},
                     dir_.Join("ctl.log"), &out),
            0)
      << out;
  const nlohmann::json& archive = images_->doc()["archives"]["docker-save"]["images"][0];
  std::string id = archive["config_digest"];
  EXPECT_THAT(out, HasSubstr(id));
  runtime::v1::Image image = Status("berth-test/busybox:1.0").image();
  EXPECT_EQ(image.id(), id);
  EXPECT_THAT(image.repo_tags(), UnorderedElementsAre("docker.io/berth-test/busybox:latest",
                                                      "docker.io/berth-test/busybox:1.0"));
  EXPECT_FALSE(image.pinned());
  nlohmann::json info = nlohmann::json::parse(Status(id, true).info().at("info"));
  EXPECT_EQ(info["unpacked"], true);
  // The same layer as the registry's image: unpacked from the archive's plain tar.
  EXPECT_EQ(SnapshotDirs(), 1u);

  // Something that is no archive fails and changes nothing.
  ASSERT_TRUE(WriteFileAtomically(dir_.Join("junk.tar"), std::string(4096, 'x')).ok());
  EXPECT_NE(Berthctl(berthd_->socket(), {"images", "import", dir_.Join("junk.tar")},
                     dir_.Join("ctl.log"), &out),
            0);
  EXPECT_THAT(out, HasSubstr("archive"));
  EXPECT_EQ(List().size(), 1u);
  // An archive that breaks off leaves none of its blobs behind.
  std::set<std::string> before = Blobs();
  std::string whole = ReadFileToString(images_->dir() + "/archives/oci-archive.tar").value();
  ASSERT_TRUE(WriteFileAtomically(dir_.Join("cut.tar"), whole.substr(0, whole.size() / 2)).ok());
  EXPECT_NE(Berthctl(berthd_->socket(), {"images", "import", dir_.Join("cut.tar")},
                     dir_.Join("ctl.log"), &out),
            0);
  EXPECT_EQ(Blobs(), before) << out;
}

TEST_F(ImageTest, ImportOfAnOciArchivePackedAndPinnedKeepsEveryPlatform) {
  ASSERT_TRUE(StartBerthd().ok());
  std::string out;
  ASSERT_EQ(Berthctl(berthd_->socket(),
                     {"images", "import", "--no-unpack", "--pin",
                      images_->dir() + "/archives/oci-archive.tar"},
                     dir_.Join("ctl.log"), &out),
            0)
      << out;
  std::vector<runtime::v1::Image> images = List();
  ASSERT_EQ(images.size(), 2u);
  for (const auto& image : images) EXPECT_TRUE(image.pinned()) << image.id();
  runtime::v1::ImageStatusResponse multiarch =
      Status("docker.io/berth-test/multiarch:latest", true);
  ASSERT_TRUE(multiarch.has_image());
  EXPECT_EQ(nlohmann::json::parse(multiarch.info().at("info"))["unpacked"], false);
  EXPECT_EQ(SnapshotDirs(), 0u) << "packed images unpack on first use";

  // Removing another image collects nothing the multi-arch image keeps,
  // its arm64 variant included.
  ASSERT_TRUE(Remove("docker.io/berth-test/busybox:latest").ok());
  std::set<std::string> blobs = Blobs();
  for (const auto& m : images_->Image("berth-test/multiarch", "latest")["manifests"]) {
    for (const std::string& blob : BlobsOf(m)) EXPECT_TRUE(blobs.contains(blob)) << blob;
  }
}

TEST_F(ImageTest, TagExportAndImportIntoAnotherNode) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  std::string repo = registry->host() + "/berth-test/layers";
  ASSERT_TRUE(Pull(repo).ok());
  std::string out;
  ASSERT_EQ(Berthctl(berthd_->socket(), {"images", "tag", repo, "example.com/mine:v1"},
                     dir_.Join("ctl.log"), &out),
            0)
      << out;
  std::string id = ConfigDigest("berth-test/layers", "latest");
  EXPECT_EQ(Status("example.com/mine:v1").image().id(), id);
  EXPECT_NE(Berthctl(berthd_->socket(), {"images", "tag", "example.com/none:v1", "x:y"},
                     dir_.Join("ctl.log"), &out),
            0);
  EXPECT_THAT(out, HasSubstr("not found"));

  std::string archive = dir_.Join("export.tar");
  ASSERT_EQ(Berthctl(berthd_->socket(), {"images", "export", "-o", archive, "example.com/mine:v1"},
                     dir_.Join("ctl.log"), &out),
            0)
      << out;
  berthd_.reset();

  BerthdUnderTest other(dir_, "other");
  ASSERT_TRUE(other.Start().ok()) << other.Log();
  ASSERT_EQ(Berthctl(other.socket(), {"images", "import", archive}, dir_.Join("ctl.log"), &out), 0)
      << out;
  absl::StatusOr<runtime::v1::ImageStatusResponse> imported =
      other.client().Call(&runtime::v1::ImageService::Stub::ImageStatus, [] {
        runtime::v1::ImageStatusRequest r;
        r.mutable_image()->set_image("example.com/mine:v1");
        return r;
      }());
  ASSERT_TRUE(imported.ok());
  EXPECT_EQ(imported->image().id(), id);
}

TEST_F(ImageTest, BerthctlPullShowsEachLayer) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  std::string out;
  ASSERT_EQ(Berthctl(berthd_->socket(), {"pull", registry->host() + "/berth-test/layers"},
                     dir_.Join("ctl.log"), &out),
            0)
      << out;
  for (const auto& layer : images_->Image("berth-test/layers", "latest")["layers"]) {
    EXPECT_THAT(out, HasSubstr(layer["digest"].get<std::string>().substr(7, 12)));
  }
  EXPECT_THAT(out, HasSubstr(ConfigDigest("berth-test/layers", "latest")));
}

// Runs `argv` to its end; its exit code, with stdout and stderr in `output`.
int RunTool(const std::vector<std::string>& argv, const std::string& log, std::string* output,
            std::optional<std::vector<std::string>> env = std::nullopt) {
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn(argv, {.env = std::move(env), .stdout_path = log, .stderr_path = log});
  if (!child.ok()) return -1;
  absl::StatusOr<ExitStatus> exit = child->WaitFor(absl::Minutes(2));
  *output = ReadFileToString(log).value_or("");
  return exit.ok() ? exit->ShellCode() : -1;
}

std::string Crictl() {
  const char* kit = std::getenv("BERTH_CONFORMANCE_DIR");
  return kit ? absl::StrCat(kit, "/bin/crictl")
             : absl::StrCat(BERTH_SOURCE_DIR, "/../shared/conformance/bin/crictl");
}

// hack/package's .deb installed by dpkg into a scratch root (its own dpkg
// database): the files in FHS places, library dependencies, the config
// kept as the admin edited it across an upgrade, and berthd serving from
// the installed paths, pulling and listing an image through crictl.
TEST_F(ImageTest, DebianPackageInstallsUpgradesAndServesFromItsPaths) {
  std::string out;
  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                  absl::StrCat("BUILD_DIR=", BERTH_BUILD_DIR)};
  std::string package = BERTH_SOURCE_DIR "/hack/package";
  ASSERT_EQ(RunTool({package, "--out", dir_.Join("debs"), "--fast", "--version", "0.0.1"},
                    dir_.Join("package1.log"), &out, env),
            0)
      << out;
  std::string first(absl::StripAsciiWhitespace(out));
  ASSERT_EQ(RunTool({package, "--out", dir_.Join("debs"), "--fast", "--version", "0.0.2"},
                    dir_.Join("package2.log"), &out, env),
            0)
      << out;
  std::string second(absl::StripAsciiWhitespace(out));
  ASSERT_EQ(RunTool({"/usr/bin/dpkg-deb", "--field", first, "Depends"}, dir_.Join("f.log"), &out),
            0);
  for (const char* library : {"libgrpc++", "libprometheus-cpp-pull", "libseccomp2", "libc6"})
    EXPECT_THAT(out, HasSubstr(library));

  std::string root = dir_.Join("scratch");
  for (const char* dir : {"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"})
    std::filesystem::create_directories(root + "/" + dir);
  ASSERT_TRUE(WriteFileAtomically(root + "/var/lib/dpkg/status", "").ok());
  // The scratch root has none of the libraries: their check is the host's.
  std::vector<std::string> dpkg = {"/usr/bin/dpkg", "--root=" + root, "--force-depends",
                                   "--force-confold", "-i"};
  dpkg.push_back(first);
  ASSERT_EQ(RunTool(dpkg, dir_.Join("dpkg1.log"), &out), 0) << out;
  for (const char* file :
       {"usr/bin/berthd", "usr/bin/berthctl", "usr/bin/berth-runtime",
        "usr/libexec/berth/berth-monitor", "usr/libexec/berth/berth-pause", "etc/berth/berth.yaml",
        "lib/systemd/system/berth.service", "usr/share/berth/cni/10-berth.conflist",
        "usr/share/berth/cni/berth-net.conflist.template",
        "usr/share/man/man8/berthd.8", "usr/share/man/man8/berth-runtime.8"})
    EXPECT_EQ(::access((root + "/" + file).c_str(), F_OK), 0) << file;
  std::string config = root + "/etc/berth/berth.yaml";
  std::string edited = ReadFileToString(config).value_or("") + "log_level: debug\n";
  ASSERT_TRUE(WriteFileAtomically(config, edited).ok());
  dpkg.back() = second;
  ASSERT_EQ(RunTool(dpkg, dir_.Join("dpkg2.log"), &out), 0) << out;
  EXPECT_EQ(ReadFileToString(config).value_or(""), edited) << "the admin's edit survives";
  ASSERT_EQ(RunTool({"/usr/bin/dpkg", "--root=" + root, "-s", "berth"}, dir_.Join("s.log"), &out),
            0);
  EXPECT_THAT(out, HasSubstr("Version: 0.0.2"));
  EXPECT_THAT(out, HasSubstr("Conffiles:\n /etc/berth/berth.yaml"));

  // berthd from the scratch root finds its helpers there (../libexec/berth).
  std::string socket = dir_.Join("installed/berth.sock");
  absl::StatusOr<ChildProcess> berthd = ChildProcess::Spawn(
      {root + "/usr/bin/berthd", "--config", config, "--root", dir_.Join("installed/root"),
       "--state-dir", dir_.Join("installed"), "--socket", socket},
      {.stdout_path = dir_.Join("installed.log"), .stderr_path = dir_.Join("installed.log")});
  ASSERT_TRUE(berthd.ok());
  absl::Cleanup stop = [&] {
    berthd->Signal(SIGTERM).IgnoreError();
    (void)berthd->WaitFor(absl::Seconds(20));
  };
  absl::StatusOr<CriClient> client = CriClient::Connect(socket, absl::Seconds(10));
  ASSERT_TRUE(client.ok()) << ReadFileToString(dir_.Join("installed.log")).value_or("");
  auto registry = StartRegistry("registry");
  std::string image = registry->host() + "/berth-test/busybox:1.0";
  bool have_crictl = ::access(Crictl().c_str(), X_OK) == 0;
  std::vector<std::string> cli =
      have_crictl ? std::vector<std::string>{Crictl(), "--runtime-endpoint", "unix://" + socket,
                                             "--image-endpoint", "unix://" + socket}
                  : std::vector<std::string>{root + "/usr/bin/berthctl", "--socket", socket};
  std::vector<std::string> pull = cli, list = cli;
  pull.insert(pull.end(), {"pull", image});
  list.push_back("images");
  ASSERT_EQ(RunTool(pull, dir_.Join("pull.log"), &out), 0) << out;
  ASSERT_EQ(RunTool(list, dir_.Join("images.log"), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(registry->host() + "/berth-test/busybox"));
  EXPECT_THAT(ReadFileToString(dir_.Join("installed.log")).value_or(""),
              HasSubstr("pulled " + image));
  if (!have_crictl) GTEST_LOG_(INFO) << Crictl() << " is absent: listed with berthctl instead";
}

TEST_F(ImageTest, LayerCapsRefusePullsAndImportsKeepingNothing) {
  auto registry = StartRegistry("registry");
  std::string image = registry->host() + "/berth-test/busybox:1.0";
  std::string archive = images_->dir() + "/archives/docker-save.tar";
  std::string layer = images_->Image("berth-test/busybox", "1.0")["layers"][0]["digest"];
  // busybox's one layer: 29 entries, 1.9 MiB uncompressed.
  const std::pair<std::string, std::string> caps[] = {
      {"max_layer_size: 1Mi", "more than 1048576 bytes uncompressed, the cap"},
      {"max_layer_entries: 20", "more than 20 entries, the cap"}};
  for (const auto& [cap, why] : caps) {
    SCOPED_TRACE(cap);
    berthd_.reset();
    ASSERT_TRUE(StartBerthd("image:\n  " + cap + "\n").ok()) << berthd_->Log();
    absl::StatusOr<std::string> pulled = Pull(image);
    EXPECT_EQ(pulled.status().code(), absl::StatusCode::kResourceExhausted) << pulled.status();
    EXPECT_THAT(std::string(pulled.status().message()),
                HasSubstr(absl::StrCat("layer ", layer, ": ", why)));
    std::string out;
    EXPECT_NE(
        Berthctl(berthd_->socket(), {"images", "import", archive}, dir_.Join("ctl.log"), &out), 0);
    EXPECT_THAT(out, HasSubstr(why));
    EXPECT_TRUE(List().empty());
    EXPECT_TRUE(Blobs().empty());
    EXPECT_EQ(SnapshotDirs(), 0u);
    EXPECT_TRUE(fs::is_empty(berthd_->root() + "/content/ingest"));
  }
}

// What goes into a hand-made OCI archive of busybox:1.0.
struct ArchiveSpec {
  std::string name;
  std::string config;              // replaces the image's config when set
  std::set<std::string> left_out;  // digests of blobs the archive lacks
  std::set<std::string> forged;    // blobs named by their digest but holding other bytes
};

std::string BuildArchive(const std::string& images_dir, const nlohmann::json& image,
                         const ArchiveSpec& spec) {
  auto blob = [&](const std::string& digest) {
    return ReadFileToString(images_dir + "/blobs/sha256/" + digest.substr(7)).value();
  };
  std::map<std::string, std::string> blobs;
  nlohmann::json manifest = nlohmann::json::parse(blob(image["manifest_digest"]));
  std::string config = spec.config.empty() ? blob(image["config_digest"]) : spec.config;
  manifest["config"]["digest"] = snapshotter::DigestOf(config).ToString();
  manifest["config"]["size"] = config.size();
  blobs[manifest["config"]["digest"]] = config;
  for (const auto& layer : image["layers"]) blobs[layer["digest"]] = blob(layer["digest"]);
  std::string manifest_json =
      spec.config.empty() ? blob(image["manifest_digest"]) : manifest.dump();
  std::string manifest_digest = snapshotter::DigestOf(manifest_json).ToString();
  blobs[manifest_digest] = manifest_json;
  nlohmann::json index = {{"schemaVersion", 2},
                          {"manifests",
                           {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"digest", manifest_digest},
                             {"size", manifest_json.size()},
                             {"annotations", {{"io.containerd.image.name", spec.name}}}}}}};
  berth::testing::TarBuilder tar;
  tar.File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})").File("index.json", index.dump());
  for (const auto& [digest, data] : blobs) {
    if (spec.left_out.contains(digest)) continue;
    tar.File("blobs/sha256/" + digest.substr(7), spec.forged.contains(digest) ? "forged" : data);
  }
  return tar.Build();
}

TEST_F(ImageTest, ImportRefusesAnArchiveLackingABlobUnlessThisImageWasPulled) {
  auto registry = StartRegistry("registry");
  ASSERT_TRUE(StartBerthd().ok());
  const nlohmann::json& busybox = images_->Image("berth-test/busybox", "1.0");
  std::string layer = busybox["layers"][0]["digest"];
  std::string config = busybox["config_digest"];
  auto import = [&](const ArchiveSpec& spec, std::string* out) {
    std::string path = dir_.Join("archive.tar");
    EXPECT_TRUE(WriteFileAtomically(path, BuildArchive(images_->dir(), busybox, spec)).ok());
    return Berthctl(berthd_->socket(), {"images", "import", path}, dir_.Join("ctl.log"), out);
  };
  std::string out;

  // Nothing on the node has the blob: refused, and nothing is kept.
  ArchiveSpec partial = {.name = "example.com/partial:1", .left_out = {layer}};
  EXPECT_NE(import(partial, &out), 0);
  EXPECT_THAT(out, HasSubstr("archive lacks layer " + layer));
  EXPECT_NE(import({.name = "example.com/partial:1", .left_out = {config}}, &out), 0);
  EXPECT_THAT(out, HasSubstr("archive lacks config " + config));
  EXPECT_TRUE(List().empty());
  EXPECT_TRUE(Blobs().empty());
  EXPECT_EQ(SnapshotDirs(), 0u);

  // Once the registry's image is here, an archive of that image may leave it out.
  ASSERT_TRUE(Pull(registry->host() + "/berth-test/busybox:1.0").ok());
  std::set<std::string> pulled = Blobs();
  ASSERT_EQ(import(partial, &out), 0) << out;
  EXPECT_EQ(Status("example.com/partial:1").image().id(), config);
  EXPECT_EQ(Blobs(), pulled);

  // Another image may not borrow it: not by leaving it out, not by a file
  // merely named after it.
  nlohmann::json other = nlohmann::json::parse(
      ReadFileToString(images_->dir() + "/blobs/sha256/" + config.substr(7)).value());
  other["config"]["Labels"]["org.berth.test"] = "impostor";
  ArchiveSpec impostor = {
      .name = "example.com/impostor:1", .config = other.dump(), .left_out = {layer}};
  EXPECT_NE(import(impostor, &out), 0);
  EXPECT_THAT(out, HasSubstr("archive lacks layer " + layer));
  impostor.left_out.clear();
  impostor.forged = {layer};
  EXPECT_NE(import(impostor, &out), 0);
  EXPECT_THAT(out, HasSubstr("blobs/sha256/" + layer.substr(7) + ": content has digest"));
  EXPECT_FALSE(Status("example.com/impostor:1").has_image());
  EXPECT_EQ(List().size(), 1u);
  EXPECT_EQ(Blobs(), pulled);
  EXPECT_EQ(SnapshotDirs(), 1u);
}

}  // namespace
}  // namespace berth::cri
