// Layer unpack, overlay snapshots and the puller on the real filesystem
// (root: device nodes, ownership, trusted xattrs, overlay mounts).

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "snapshotter/content_store.h"
#include "snapshotter/image_puller.h"
#include "snapshotter/layer_apply.h"
#include "snapshotter/overlay_snapshotter.h"
#include "tests/support/fake_registry_client.h"
#include "tests/support/memory_snapshot_catalog.h"
#include "tests/support/tar_builder.h"
#include "tests/unit/temp_dir.h"

namespace berth::snapshotter {
namespace {

using testing::TarBuilder;
namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

ByteSource StringSource(const std::string& data) {
  auto offset = std::make_shared<size_t>(0);
  return [data, offset](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
    size_t n = std::min(capacity, data.size() - *offset);
    memcpy(buffer, data.data() + *offset, n);
    *offset += n;
    return n;
  };
}

class LayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    layer_ = tmp_.Join("layer");
    outside_ = tmp_.Join("outside");
    fs::create_directories(layer_);
    fs::create_directories(outside_);
    std::ofstream(outside_ + "/secret") << "host secret";
  }

  // The host side of every escape test: nothing new, nothing changed.
  void ExpectOutsideUntouched() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(outside_)) names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"secret"});
    EXPECT_EQ(ReadFile(outside_ + "/secret"), "host secret");
    struct stat st;
    ASSERT_EQ(stat((outside_ + "/secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
  }

  absl::StatusOr<LayerApplyResult> Apply(
      const TarBuilder& tar, TarBuilder::Compression c = TarBuilder::Compression::kNone) {
    return ApplyLayer(StringSource(tar.Build(c)), layer_);
  }

  berth::testing::TempDir tmp_;
  std::string layer_;
  std::string outside_;
};

TEST_F(LayerTest, EscapeAttemptsFailAndLeaveTheHostUntouched) {
  std::string rel_outside = "../outside";
  struct Attempt {
    std::string what;
    TarBuilder tar;
  };
  std::vector<Attempt> attempts;
  attempts.push_back({"dot-dot name", TarBuilder().File("../outside/pwned", "x")});
  attempts.push_back({"dot-dot inside a name", TarBuilder().File("a/../../outside/pwned", "x")});
  attempts.push_back({"absolute name", TarBuilder().File(outside_ + "/pwned", "x")});
  attempts.push_back({"through an absolute symlink",
                      TarBuilder().Symlink("link", outside_).File("link/pwned", "x")});
  attempts.push_back({"through a relative symlink",
                      TarBuilder().Symlink("link", "../outside").File("link/pwned", "x")});
  attempts.push_back(
      {"directory through a symlink", TarBuilder().Symlink("link", outside_).Dir("link/newdir")});
  attempts.push_back({"symlink through a symlink",
                      TarBuilder().Symlink("link", outside_).Symlink("link/evil", "/")});
  attempts.push_back(
      {"hard link to an absolute path", TarBuilder().HardLink("hl", outside_ + "/secret")});
  attempts.push_back({"hard link with dot-dot", TarBuilder().HardLink("hl", "../outside/secret")});
  attempts.push_back({"hard link through a symlink",
                      TarBuilder().Symlink("link", outside_).HardLink("hl", "link/secret")});
  attempts.push_back(
      {"hard link to a file not in the layer", TarBuilder().HardLink("hl", "etc/nothing")});
  attempts.push_back({"whiteout through a symlink",
                      TarBuilder().Symlink("link", outside_).File("link/.wh.secret", "")});
  attempts.push_back({"opaque marker through a symlink",
                      TarBuilder().Symlink("link", outside_).File("link/.wh..wh..opq", "")});
  for (Attempt& attempt : attempts) {
    SCOPED_TRACE(attempt.what);
    fs::remove_all(layer_);
    fs::create_directories(layer_);
    absl::StatusOr<LayerApplyResult> result = Apply(attempt.tar);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied) << result.status();
    ExpectOutsideUntouched();
    char value[8];
    EXPECT_LT(getxattr(outside_.c_str(), "trusted.overlay.opaque", value, sizeof(value)), 0);
  }
}

TEST_F(LayerTest, ASymlinkReplacedByAFileIsNotWrittenThrough) {
  absl::StatusOr<LayerApplyResult> result =
      Apply(TarBuilder().Symlink("x", outside_ + "/secret").File("x", "layer data"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(ReadFile(layer_ + "/x"), "layer data");
  EXPECT_FALSE(fs::is_symlink(layer_ + "/x"));
  ExpectOutsideUntouched();
}

TEST_F(LayerTest, PreservesFileKindsOwnershipModesXattrsAndTimes) {
  TarBuilder tar;
  tar.Add({.name = "./", .type = '5', .mode = 0755});
  tar.Add(
      {.name = "dir/", .type = '5', .mode = 0750, .uid = 1000, .gid = 1001, .mtime = 1577836800});
  tar.Add({.name = "dir/file",
           .type = '0',
           .data = "hello",
           .mode = 04755,
           .uid = 1000,
           .gid = 1001,
           .mtime = 1600000000,
           .xattrs = {
               {"user.berth", "yes"}, {"trusted.overlay.opaque", "y"}, {"security.selinux", "x"}}});
  tar.HardLink("dir/hardlink", "dir/file");
  tar.Add({.name = "dir/link", .type = '2', .link = "file", .uid = 1000, .gid = 1001});
  tar.Add({.name = "dev/null", .type = '3', .mode = 0666, .dev_major = 1, .dev_minor = 3});
  tar.Add({.name = "fifo", .type = '6', .mode = 0600, .uid = 7});
  tar.Add({.name = "forged/", .type = '5', .xattrs = {{"trusted.overlay.opaque", "y"}}});
  std::string big(3 << 20, 'b');
  tar.File("big", big);

  for (auto compression : {TarBuilder::Compression::kNone, TarBuilder::Compression::kGzip,
                           TarBuilder::Compression::kZstd}) {
    fs::remove_all(layer_);
    fs::create_directories(layer_);
    std::string plain = tar.Build();
    absl::StatusOr<LayerApplyResult> result = Apply(tar, compression);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->diff_id, DigestOf(plain));
    EXPECT_EQ(result->uncompressed_size, static_cast<int64_t>(plain.size()));

    struct stat st;
    ASSERT_EQ(lstat((layer_ + "/dir/file").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 04755u);
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1001u);
    EXPECT_EQ(st.st_mtime, 1600000000);
    EXPECT_EQ(st.st_nlink, 2u);
    struct stat linked;
    ASSERT_EQ(lstat((layer_ + "/dir/hardlink").c_str(), &linked), 0);
    EXPECT_EQ(linked.st_ino, st.st_ino);
    EXPECT_EQ(ReadFile(layer_ + "/dir/file"), "hello");
    char value[16] = {};
    EXPECT_EQ(getxattr((layer_ + "/dir/file").c_str(), "user.berth", value, sizeof(value)), 3);
    EXPECT_STREQ(value, "yes");
    // A layer may not forge overlay metadata or security labels.
    EXPECT_LT(getxattr((layer_ + "/dir/file").c_str(), "trusted.overlay.opaque", value, 16), 0);
    EXPECT_LT(getxattr((layer_ + "/forged").c_str(), "trusted.overlay.opaque", value, 16), 0);

    ASSERT_EQ(lstat((layer_ + "/dir").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0750u);
    EXPECT_EQ(st.st_mtime, 1577836800) << "directory times are set after their entries";
    ASSERT_EQ(lstat((layer_ + "/dir/link").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(fs::read_symlink(layer_ + "/dir/link"), "file");
    ASSERT_EQ(lstat((layer_ + "/dev/null").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(1, 3));
    EXPECT_EQ(st.st_mode & 07777, 0666u);
    ASSERT_EQ(lstat((layer_ + "/fifo").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    EXPECT_EQ(st.st_uid, 7u);
    EXPECT_EQ(ReadFile(layer_ + "/big"), big);
  }
}

TEST_F(LayerTest, CorruptCompressedLayerFails) {
  std::string gz =
      TarBuilder().File("a", std::string(100000, 'a')).Build(TarBuilder::Compression::kGzip);
  gz.resize(gz.size() / 2);
  absl::StatusOr<LayerApplyResult> result = ApplyLayer(StringSource(gz), layer_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << result.status();
}

TEST_F(LayerTest, LayerPastTheByteCapIsResourceExhausted) {
  // 2 MiB of zeros: a few KiB gzipped, as a decompression bomb would be.
  TarBuilder tar = TarBuilder().File("small", "x").File("zeros", std::string(2 << 20, '\0'));
  std::string plain = tar.Build();
  for (auto compression : {TarBuilder::Compression::kNone, TarBuilder::Compression::kGzip,
                           TarBuilder::Compression::kZstd}) {
    fs::remove_all(layer_);
    fs::create_directories(layer_);
    absl::StatusOr<LayerApplyResult> result =
        ApplyLayer(StringSource(tar.Build(compression)), layer_, {.max_bytes = 1 << 20});
    ASSERT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
    EXPECT_EQ(result.status().message(),
              "more than 1048576 bytes uncompressed, the cap (image.max_layer_size)");
    // The unpack stopped at the cap instead of writing the rest.
    EXPECT_LE(fs::exists(layer_ + "/zeros") ? fs::file_size(layer_ + "/zeros") : 0, 1u << 20);
  }
  // The cap counts the whole tar stream, end padding included: exactly at it passes.
  fs::remove_all(layer_);
  fs::create_directories(layer_);
  int64_t size = static_cast<int64_t>(plain.size());
  EXPECT_TRUE(ApplyLayer(StringSource(plain), layer_, {.max_bytes = size}).ok());
  fs::remove_all(layer_);
  fs::create_directories(layer_);
  EXPECT_EQ(ApplyLayer(StringSource(plain), layer_, {.max_bytes = size - 1}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(LayerTest, LayerPastTheEntryCapIsResourceExhausted) {
  TarBuilder tar;
  for (int i = 0; i < 100; ++i) tar.File(absl::StrCat("f", i), "");
  EXPECT_TRUE(ApplyLayer(StringSource(tar.Build()), layer_, {.max_entries = 100}).ok());
  tar.File("one-too-many", "");
  fs::remove_all(layer_);
  fs::create_directories(layer_);
  absl::StatusOr<LayerApplyResult> result =
      ApplyLayer(StringSource(tar.Build()), layer_, {.max_entries = 100});
  ASSERT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
  EXPECT_EQ(result.status().message(), "more than 100 entries, the cap (image.max_layer_entries)");
  EXPECT_FALSE(fs::exists(layer_ + "/one-too-many"));
}

// Whiteouts and opaque directories, checked through a real overlay mount of
// the unpacked layers.
class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    auto snapshots = OverlaySnapshotter::Open(tmp_.Join("snapshots"), catalog_);
    ASSERT_TRUE(snapshots.ok()) << snapshots.status();
    snapshots_ = std::move(*snapshots);
  }

  void Unpack(const std::string& key, const std::string& parent, const TarBuilder& tar) {
    absl::StatusOr<std::string> dir = snapshots_->PrepareLayer("extract-" + key, parent);
    ASSERT_TRUE(dir.ok()) << dir.status();
    absl::StatusOr<LayerApplyResult> applied = ApplyLayer(StringSource(tar.Build()), *dir);
    ASSERT_TRUE(applied.ok()) << applied.status();
    ASSERT_TRUE(snapshots_->Commit(key, "extract-" + key).ok());
  }

  std::string MountSnapshot(const std::vector<Mount>& mounts) {
    std::string target = tmp_.Join("rootfs");
    fs::create_directories(target);
    EXPECT_EQ(mounts.size(), 1u);
    const Mount& m = mounts[0];
    std::string options = absl::StrJoin(m.options, ",");
    int rc = m.type == "bind"
                 ? mount(m.source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr)
                 : mount("overlay", target.c_str(), "overlay", 0, options.c_str());
    EXPECT_EQ(rc, 0) << strerror(errno) << " " << options;
    mounted_ = target;
    return target;
  }

  void TearDown() override {
    if (!mounted_.empty()) umount2(mounted_.c_str(), MNT_DETACH);
  }

  berth::testing::TempDir tmp_;
  berth::testing::MemorySnapshotCatalog catalog_;
  std::unique_ptr<OverlaySnapshotter> snapshots_;
  std::string mounted_;
};

TEST_F(SnapshotTest, WhiteoutsAndOpaqueDirectoriesThroughAnOverlayMount) {
  Unpack("base", "",
         TarBuilder()
             .File("data/keep", "base keep")
             .File("data/gone", "x")
             .File("data/dir/a", "a")
             .File("data/dir/b", "b")
             .File("data/opaque/old", "old")
             .File("data/opaque/sub/old2", "old2"));
  Unpack("top", "base",
         TarBuilder()
             .File("data/.wh.gone", "")
             .File("data/dir/.wh.a", "")
             .File("data/opaque/.wh..wh..opq", "")
             .File("data/opaque/new", "new")
             .File("data/keep", "top keep"));
  absl::StatusOr<std::vector<Mount>> mounts = snapshots_->Prepare("container", "top");
  ASSERT_TRUE(mounts.ok()) << mounts.status();
  EXPECT_EQ((*mounts)[0].type, "overlay");
  std::string root = MountSnapshot(*mounts);

  EXPECT_EQ(ReadFile(root + "/data/keep"), "top keep");
  EXPECT_FALSE(fs::exists(root + "/data/gone"));
  EXPECT_FALSE(fs::exists(root + "/data/dir/a"));
  EXPECT_EQ(ReadFile(root + "/data/dir/b"), "b");
  EXPECT_FALSE(fs::exists(root + "/data/opaque/old"));
  EXPECT_FALSE(fs::exists(root + "/data/opaque/sub"));
  EXPECT_EQ(ReadFile(root + "/data/opaque/new"), "new");
  // Writes land in the container's upper layer, not the image's.
  std::ofstream(root + "/data/written") << "w";
  ASSERT_EQ(umount2(root.c_str(), 0), 0);
  mounted_.clear();
  absl::StatusOr<SnapshotInfo> info = snapshots_->Stat("container");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(ReadFile(snapshots_->FsPath(info->id) + "/data/written"), "w");
  absl::StatusOr<SnapshotUsage> usage = snapshots_->Usage("container");
  ASSERT_TRUE(usage.ok());
  EXPECT_GE(usage->inodes, 3);  // fs, data, written
  EXPECT_GT(usage->bytes, 0);

  // Parents cannot go while something sits on them; removal is idempotent.
  EXPECT_EQ(snapshots_->Remove("top").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(snapshots_->Remove("container").ok());
  EXPECT_TRUE(snapshots_->Remove("container").ok());
  EXPECT_TRUE(snapshots_->Remove("top").ok());
  EXPECT_TRUE(snapshots_->Remove("base").ok());
  EXPECT_TRUE(fs::is_empty(tmp_.Join("snapshots")));
}

TEST_F(SnapshotTest, ViewsAreReadOnlyAndReopenRemovesUnfinishedUnpacks) {
  Unpack("base", "", TarBuilder().File("f", "x"));
  absl::StatusOr<std::vector<Mount>> view = snapshots_->View("view", "base");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ((*view)[0].type, "bind");
  EXPECT_EQ((*view)[0].options, (std::vector<std::string>{"rbind", "ro"}));
  EXPECT_EQ(snapshots_->Prepare("c", "missing").status().code(), absl::StatusCode::kNotFound);

  // A crash mid-unpack leaves an extract snapshot and maybe a stray directory.
  ASSERT_TRUE(snapshots_->PrepareLayer("extract-crashed", "").ok());
  fs::create_directories(tmp_.Join("snapshots/999/fs"));
  auto reopened = OverlaySnapshotter::Open(tmp_.Join("snapshots"), catalog_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Stat("extract-crashed").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(tmp_.Join("snapshots/999")));
  EXPECT_TRUE((*reopened)->Stat("base").ok());
  EXPECT_TRUE((*reopened)->Stat("view").ok());
}

TEST_F(SnapshotTest, AHundredAndTwentySevenLayersStillMount) {
  // Docker's layer limit: the absolute lowerdir list would exceed a page.
  std::string parent;
  for (int i = 0; i < 127; ++i) {
    std::string key = absl::StrCat("layer-", i);
    Unpack(key, parent, TarBuilder().File(absl::StrCat("f", i), absl::StrCat(i)));
    parent = key;
  }
  absl::StatusOr<std::vector<Mount>> mounts = snapshots_->Prepare("container", parent);
  ASSERT_TRUE(mounts.ok()) << mounts.status();
  const Mount& m = (*mounts)[0];
  EXPECT_EQ(m.working_dir, tmp_.Join("snapshots"));
  std::string options = absl::StrJoin(m.options, ",");
  EXPECT_LT(options.size(), 4096u);
  std::string target = tmp_.Join("rootfs");
  fs::create_directories(target);
  // The mount is made from the working directory its relative paths need.
  std::string cwd = fs::current_path();
  ASSERT_EQ(chdir(m.working_dir.c_str()), 0);
  int rc = mount("overlay", target.c_str(), "overlay", 0, options.c_str());
  int error = errno;
  ASSERT_EQ(chdir(cwd.c_str()), 0);
  ASSERT_EQ(rc, 0) << strerror(error);
  mounted_ = target;
  EXPECT_EQ(ReadFile(target + "/f0"), "0");
  EXPECT_EQ(ReadFile(target + "/f126"), "126");
}

// The puller against an in-memory registry.
class PullerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    auto content = LocalContentStore::Open(tmp_.Join("content"));
    ASSERT_TRUE(content.ok());
    content_ = std::move(*content);
    auto snapshots = OverlaySnapshotter::Open(tmp_.Join("snapshots"), catalog_);
    ASSERT_TRUE(snapshots.ok());
    snapshots_ = std::move(*snapshots);
    puller_ = std::make_unique<ImagePuller>(*content_, *snapshots_, registry_);
  }

  // Publishes an image made of `layers` as repo:tag; returns the manifest digest.
  Digest Publish(const std::string& name, const std::vector<TarBuilder>& layers,
                 TarBuilder::Compression compression = TarBuilder::Compression::kGzip) {
    nlohmann::json config = {
        {"architecture", "amd64"},
        {"os", "linux"},
        {"config", {{"User", "1000"}}},
        {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}}};
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", media_type::kOciManifest},
                               {"layers", nlohmann::json::array()}};
    for (const TarBuilder& layer : layers) {
      std::string plain = layer.Build();
      std::string blob = layer.Build(compression);
      config["rootfs"]["diff_ids"].push_back(DigestOf(plain).ToString());
      manifest["layers"].push_back({{"mediaType", media_type::kOciLayerGzip},
                                    {"digest", registry_.AddBlob(blob).ToString()},
                                    {"size", blob.size()}});
    }
    std::string config_json = config.dump();
    manifest["config"] = {{"mediaType", media_type::kOciConfig},
                          {"digest", registry_.AddBlob(config_json).ToString()},
                          {"size", config_json.size()}};
    std::string manifest_json = manifest.dump();
    registry_.AddManifest(name, media_type::kOciManifest, manifest_json);
    return DigestOf(manifest_json);
  }

  PullRequest Request(const std::string& name) {
    PullRequest request;
    request.ref = *ParseImageReference(name);
    return request;
  }

  std::vector<std::string> Snapshots() {
    std::vector<std::string> keys;
    std::vector<SnapshotInfo> all = *snapshots_->List();
    for (const SnapshotInfo& s : all) keys.push_back(s.key);
    return keys;
  }

  berth::testing::TempDir tmp_;
  berth::testing::MemorySnapshotCatalog catalog_;
  berth::testing::FakeRegistryClient registry_;
  std::unique_ptr<LocalContentStore> content_;
  std::unique_ptr<OverlaySnapshotter> snapshots_;
  std::unique_ptr<ImagePuller> puller_;
};

TEST_F(PullerTest, PullsVerifiesAndUnpacksEveryLayer) {
  Digest manifest = Publish(
      "example.com/app:1",
      {TarBuilder().File("a", "1"), TarBuilder().File("b", "2"), TarBuilder().File("c", "3")});
  absl::StatusOr<ImageContent> image = puller_->Pull(Request("example.com/app:1"));
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->manifest_digest, manifest);
  EXPECT_EQ(image->user, "1000");
  ASSERT_EQ(image->layers.size(), 3u);
  EXPECT_TRUE(puller_->IsUnpacked(*image));
  for (const Digest& blob : image->Blobs()) EXPECT_TRUE(content_->Has(blob)) << blob.ToString();
  EXPECT_EQ(Snapshots().size(), 3u);
  absl::StatusOr<std::vector<Mount>> mounts = snapshots_->View("v", image->TopChainId());
  ASSERT_TRUE(mounts.ok()) << mounts.status();
  EXPECT_NE((*mounts)[0].options.back().find("lowerdir="), std::string::npos);
}

TEST_F(PullerTest, MaliciousLayerFailsThePullAndKeepsNothing) {
  std::string outside = tmp_.Join("outside");
  fs::create_directories(outside);
  Publish("example.com/evil:1", {TarBuilder().File("ok", "fine"),
                                 TarBuilder().Symlink("link", outside).File("link/pwned", "x")});
  absl::StatusOr<ImageContent> image = puller_->Pull(Request("example.com/evil:1"));
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), absl::StatusCode::kPermissionDenied) << image.status();
  EXPECT_TRUE(fs::is_empty(outside));
  for (const std::string& key : Snapshots()) {
    EXPECT_EQ(key.find("extract-"), std::string::npos) << "half-made snapshot left: " << key;
  }
  EXPECT_TRUE(fs::is_empty(tmp_.Join("content/ingest")));
}

TEST_F(PullerTest, CorruptBlobIsRejectedWithNothingKept) {
  Publish("example.com/app:1", {TarBuilder().File("a", std::string(200000, 'a'))});
  absl::StatusOr<ImageContent> good = puller_->Pull(Request("example.com/app:1"));
  ASSERT_TRUE(good.ok());
  // Same image under a new tag with the registry now serving wrong bytes.
  auto fresh_content = LocalContentStore::Open(tmp_.Join("content2"));
  berth::testing::MemorySnapshotCatalog catalog2;
  auto fresh_snapshots = OverlaySnapshotter::Open(tmp_.Join("snapshots2"), catalog2);
  ImagePuller puller(**fresh_content, **fresh_snapshots, registry_);
  const Descriptor& layer = good->layers[0].blob;
  std::string wrong =
      TarBuilder().File("a", std::string(200000, 'b')).Build(TarBuilder::Compression::kGzip);
  wrong.resize(layer.size, '\0');
  registry_.ServeBlobAs(layer.digest, wrong);
  absl::StatusOr<ImageContent> bad = puller.Pull(Request("example.com/app:1"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  EXPECT_FALSE((*fresh_content)->Has(layer.digest));
  EXPECT_TRUE((*fresh_snapshots)->List()->empty() ||
              (*fresh_snapshots)->Stat(good->layers[0].chain_id.ToString()).status().code() ==
                  absl::StatusCode::kNotFound);
  EXPECT_TRUE(fs::is_empty(tmp_.Join("content2/ingest")));
  EXPECT_TRUE(fs::is_empty(tmp_.Join("snapshots2")));
}

TEST_F(PullerTest, ConcurrentPullsOfImagesSharingLayersFetchEachBlobOnce) {
  TarBuilder shared = TarBuilder().File("shared", std::string(1 << 20, 's'));
  Publish("example.com/one:1", {shared, TarBuilder().File("one", "1")});
  Publish("example.com/two:1", {shared, TarBuilder().File("two", "2")});
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(6);
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      results[i] =
          puller_->Pull(Request(i % 2 ? "example.com/one:1" : "example.com/two:1")).status();
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  absl::StatusOr<ImageContent> one = puller_->Pull(Request("example.com/one:1"));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(registry_.blob_fetches(one->layers[0].blob.digest), 1);
  EXPECT_EQ(registry_.blob_fetches(one->layers[1].blob.digest), 1);
  EXPECT_EQ(Snapshots().size(), 3u);
}

TEST_F(PullerTest, LayersUnpackWhileTheyDownload) {
  // A small file first, then 4 MiB that compress badly: the layer's blob
  // is large, and the small file is early in it.
  std::string noise(4 << 20, '\0');
  uint32_t x = 12345;
  for (char& c : noise) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
  Publish("example.com/big:1", {TarBuilder().File("first", "early").File("noise", noise)});
  // Midway through the download, the first file must already be on disk.
  std::atomic<bool> seen_midway{false};
  registry_.OnChunk([&](const Digest&, size_t offset) {
    if (offset != 16384 * 8) return;
    for (int i = 0; i < 500 && !seen_midway; ++i) {
      for (const auto& e : fs::directory_iterator(tmp_.Join("snapshots"))) {
        if (fs::exists(e.path() / "fs/first")) seen_midway = true;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
  absl::StatusOr<ImageContent> image = puller_->Pull(Request("example.com/big:1"));
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_GT(image->layers[0].blob.size, 16384 * 16);
  EXPECT_TRUE(seen_midway) << "the layer was not unpacking while it downloaded";
}

TEST_F(PullerTest, LayersDownloadInParallelUpToTheLimit) {
  std::vector<TarBuilder> layers;
  for (int i = 0; i < 6; ++i) layers.push_back(TarBuilder().File(absl::StrCat("f", i), "x"));
  Publish("example.com/many:1", layers);
  registry_.SetBlobDelay(absl::Milliseconds(100));
  ImagePuller puller(*content_, *snapshots_, registry_, {.max_concurrent_layers = 2});
  ASSERT_TRUE(puller.Pull(Request("example.com/many:1")).ok());
  EXPECT_EQ(registry_.max_parallel_fetches(), 2);
}

TEST_F(PullerTest, LayerOverACapFailsThePullAndKeepsNothingOfIt) {
  TarBuilder bomb = TarBuilder().File("zeros", std::string(4 << 20, '\0'));
  TarBuilder crowd;
  for (int i = 0; i < 150; ++i) crowd.File(absl::StrCat("f", i), "");
  Publish("example.com/bomb:1", {TarBuilder().File("ok", "fine"), bomb});
  Publish("example.com/crowd:1", {crowd});
  ImagePuller puller(*content_, *snapshots_, registry_,
                     {.layer_limits = {.max_bytes = 1 << 20, .max_entries = 100}});
  const std::pair<std::string, std::string> refusals[] = {
      {"example.com/bomb:1", ": more than 1048576 bytes uncompressed, the cap"},
      {"example.com/crowd:1", ": more than 100 entries, the cap"}};
  for (const auto& [name, why] : refusals) {
    SCOPED_TRACE(name);
    absl::StatusOr<ImageContent> image = puller.Pull(Request(name));
    ASSERT_EQ(image.status().code(), absl::StatusCode::kResourceExhausted) << image.status();
    EXPECT_NE(image.status().message().find(why), absl::string_view::npos) << image.status();
  }
  absl::StatusOr<ImageContent> bomb_image = puller_->Pull(Request("example.com/bomb:1"));
  ASSERT_TRUE(bomb_image.ok()) << "the default caps are generous: " << bomb_image.status();
  const Digest& bomb_blob = bomb_image->layers[1].blob.digest;
  ASSERT_TRUE(content_->Delete(bomb_blob).ok());
  ASSERT_TRUE(snapshots_->Remove(bomb_image->layers[1].chain_id.ToString()).ok());

  // A refused layer leaves neither blob, nor ingest file, nor snapshot; the
  // message names the layer.
  absl::StatusOr<ImageContent> refused = puller.Pull(Request("example.com/bomb:1"));
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(),
                               absl::StrCat("layer ", bomb_blob.ToString(), ": more than")))
      << refused.status();
  EXPECT_FALSE(content_->Has(bomb_blob));
  EXPECT_TRUE(fs::is_empty(tmp_.Join("content/ingest")));
  EXPECT_EQ(Snapshots(), std::vector<std::string>{bomb_image->layers[0].chain_id.ToString()});
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp_.Join("snapshots")), {}), 1);

  // The same cap holds for a blob already stored (an import unpacking later).
  PullRequest packed = Request("example.com/bomb:1");
  packed.unpack = false;
  ASSERT_TRUE(puller_->Pull(packed).ok());
  absl::Status unpacked = puller.Unpack(*bomb_image);
  EXPECT_EQ(unpacked.code(), absl::StatusCode::kResourceExhausted) << unpacked;
  EXPECT_TRUE(absl::StartsWith(unpacked.message(), absl::StrCat("layer ", bomb_blob.ToString())))
      << unpacked;
  EXPECT_EQ(Snapshots(), std::vector<std::string>{bomb_image->layers[0].chain_id.ToString()});
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp_.Join("snapshots")), {}), 1);
}

TEST_F(PullerTest, DownloadStopsOnceALayerPassesACap) {
  // Incompressible, so the blob itself is large: past the cap, the rest of
  // it is not worth fetching.
  std::string noise(24 << 20, '\0');
  uint32_t x = 12345;
  for (char& c : noise) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
  Publish("example.com/noise:1", {TarBuilder().File("noise", noise)},
          TarBuilder::Compression::kNone);
  std::atomic<size_t> fetched{0};
  registry_.OnChunk([&](const Digest&, size_t offset) { fetched = offset; });
  ImagePuller puller(*content_, *snapshots_, registry_, {.layer_limits = {.max_bytes = 1 << 20}});
  absl::StatusOr<ImageContent> image = puller.Pull(Request("example.com/noise:1"));
  ASSERT_EQ(image.status().code(), absl::StatusCode::kResourceExhausted) << image.status();
  EXPECT_LT(fetched, size_t{12} << 20);
  EXPECT_TRUE(fs::is_empty(tmp_.Join("content/ingest")));
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(PullerTest, ImportedBlobsUnpackLater) {
  Publish("example.com/app:1", {TarBuilder().File("a", "1"), TarBuilder().File("b", "2")});
  PullRequest request = Request("example.com/app:1");
  request.unpack = false;
  absl::StatusOr<ImageContent> image = puller_->Pull(request);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_FALSE(puller_->IsUnpacked(*image));
  EXPECT_TRUE(Snapshots().empty());
  ASSERT_TRUE(puller_->Unpack(*image).ok());
  EXPECT_TRUE(puller_->IsUnpacked(*image));
}

}  // namespace
}  // namespace berth::snapshotter
