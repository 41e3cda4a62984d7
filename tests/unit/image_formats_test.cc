// Pure parts of the image code: digests, manifests, platforms, auth
// challenges, credentials files, decompression, single-flight.

#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "snapshotter/decompressor.h"
#include "snapshotter/digest.h"
#include "snapshotter/manifest.h"
#include "snapshotter/registry_auth.h"
#include "snapshotter/single_flight.h"

namespace berth::snapshotter {
namespace {

TEST(DigestTest, KnownValues) {
  EXPECT_EQ(DigestOf("").ToString(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 hasher;
  hasher.Update("ab");
  hasher.Update("c");
  EXPECT_EQ(hasher.Finish().hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(
      Digest::Parse("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")
          .ok());
  EXPECT_FALSE(Digest::Parse("sha512:ab").ok());
  EXPECT_TRUE(
      Digest::Parse("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
          .ok());
}

TEST(ManifestTest, ParsesOciManifestAndRejectsUnknownLayers) {
  std::string digest = DigestOf("x").ToString();
  std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      digest +
      R"(","size":10},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
      digest + R"(","size":20}]})";
  absl::StatusOr<Manifest> m = ParseManifest(manifest);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->config.size, 10);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 20);

  std::string odd = manifest;
  odd.replace(odd.find("tar+gzip"), 8, "tar+lz4");
  EXPECT_EQ(ParseManifest(odd).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_FALSE(ParseManifest(R"({"config":{}})").ok());
  EXPECT_FALSE(ParseManifest("not json").ok());
}

TEST(ManifestTest, MediaTypeIsInferredWhenMissing) {
  EXPECT_EQ(DetectManifestMediaType(R"({"manifests":[]})"), media_type::kOciIndex);
  EXPECT_EQ(DetectManifestMediaType(R"({"config":{},"layers":[]})"), media_type::kOciManifest);
  EXPECT_EQ(DetectManifestMediaType(R"({"fsLayers":[]})"), media_type::kDockerSchema1Signed);
}

Index TwoArchIndex(const std::string& arm_variant) {
  Index index;
  Descriptor amd;
  amd.media_type = media_type::kOciManifest;
  amd.digest = DigestOf("amd64");
  amd.has_platform = true;
  amd.platform = {"linux", "amd64", ""};
  Descriptor arm = amd;
  arm.digest = DigestOf("arm64");
  arm.platform = {"linux", "arm64", arm_variant};
  Descriptor attestation = amd;
  attestation.digest = DigestOf("attestation");
  attestation.platform = {"unknown", "unknown", ""};
  index.manifests = {attestation, amd, arm};
  return index;
}

TEST(PlatformTest, SelectsTheNodesPlatform) {
  absl::StatusOr<Descriptor> amd = SelectPlatform(TwoArchIndex(""), {"linux", "amd64", ""});
  ASSERT_TRUE(amd.ok());
  EXPECT_EQ(amd->digest, DigestOf("amd64"));
  // arm64 with and without "v8" are the same platform.
  absl::StatusOr<Descriptor> arm = SelectPlatform(TwoArchIndex(""), {"linux", "arm64", "v8"});
  ASSERT_TRUE(arm.ok());
  EXPECT_EQ(arm->digest, DigestOf("arm64"));
  EXPECT_TRUE(SelectPlatform(TwoArchIndex("v8"), {"linux", "arm64", ""}).ok());
  absl::StatusOr<Descriptor> none = SelectPlatform(TwoArchIndex(""), {"linux", "s390x", ""});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("linux/amd64, linux/arm64"), absl::string_view::npos)
      << none.status().message();
}

TEST(ImageConfigTest, DiffIdsUserAndChainIds) {
  std::string a = DigestOf("a").ToString(), b = DigestOf("b").ToString();
  absl::StatusOr<ImageConfigSummary> config = ParseImageConfig(
      R"({"architecture":"amd64","os":"linux","config":{"User":"1000:1000"},
          "rootfs":{"type":"layers","diff_ids":[")" +
      a + R"(",")" + b + R"("]}})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->user, "1000:1000");
  std::vector<Digest> chain = ChainIds(config->diff_ids);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], config->diff_ids[0]);
  EXPECT_EQ(chain[1], DigestOf(a + " " + b));
  EXPECT_FALSE(ParseImageConfig(R"({"rootfs":{"diff_ids":["sha256:zz"]}})").ok());
}

TEST(AuthTest, ParsesChallenges) {
  std::optional<AuthChallenge> bearer = ParseAuthChallenge(
      R"(Bearer realm="https://auth.example.com/token",service="registry",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(bearer.has_value());
  EXPECT_EQ(bearer->scheme, "bearer");
  EXPECT_EQ(bearer->params["realm"], "https://auth.example.com/token");
  EXPECT_EQ(bearer->params["service"], "registry");
  EXPECT_EQ(bearer->params["scope"], "repository:a/b:pull,push");
  std::optional<AuthChallenge> basic = ParseAuthChallenge(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(basic.has_value());
  EXPECT_EQ(basic->scheme, "basic");
  EXPECT_FALSE(ParseAuthChallenge("Negotiate abc").has_value());
}

TEST(AuthTest, TokenResponses) {
  absl::Time now = absl::FromUnixSeconds(1000);
  absl::StatusOr<BearerToken> token =
      ParseTokenResponse(R"({"access_token":"abc","expires_in":300})", now);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->token, "abc");
  EXPECT_EQ(token->expires_at, now + absl::Seconds(300));
  token = ParseTokenResponse(R"({"token":"t"})", now);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->expires_at, now + absl::Seconds(60));
  EXPECT_FALSE(ParseTokenResponse(R"({"token":""})", now).ok());
}

TEST(AuthTest, CredentialsFile) {
  std::string json = R"({"auths":{
      "https://index.docker.io/v1/":{"auth":")" +
                     absl::Base64Escape("alice:s3cret:x") + R"("},
      "127.0.0.1:5000":{"username":"bob","password":"pw"},
      "https://ghcr.io":{"identitytoken":"refresh"}}})";
  auto creds = ParseCredentialsFile(json);
  ASSERT_TRUE(creds.ok()) << creds.status();
  EXPECT_EQ((*creds)["docker.io"].username, "alice");
  EXPECT_EQ((*creds)["docker.io"].password, "s3cret:x");
  EXPECT_EQ((*creds)["127.0.0.1:5000"].password, "pw");
  EXPECT_EQ((*creds)["ghcr.io"].identity_token, "refresh");
  EXPECT_FALSE(ParseCredentialsFile(R"({"auths":{"x":{"auth":"!!"}}})").ok());
}

// Serves `data` in small pieces, as a network would.
ByteSource ChunkedSource(const std::string& data, size_t piece = 1000) {
  auto offset = std::make_shared<size_t>(0);
  return [data, offset, piece](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
    size_t n = std::min({piece, capacity, data.size() - *offset});
    memcpy(buffer, data.data() + *offset, n);
    *offset += n;
    return n;
  };
}

absl::StatusOr<std::string> ReadAll(DecompressingReader& reader) {
  std::string out;
  char buffer[4096];
  while (true) {
    absl::StatusOr<size_t> n = reader.Read(buffer, sizeof(buffer));
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(buffer, *n);
  }
}

std::string Gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = data.size();
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = out.size();
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
  return out;
}

std::string Payload() {
  std::string data;
  for (int i = 0; i < 20000; ++i) data += "line " + std::to_string(i) + "\n";
  return data;
}

TEST(DecompressorTest, GzipZstdAndPlainGiveTheSameBytesAndDiffId) {
  std::string data = Payload();
  for (auto [name, encoded, kind] :
       {std::tuple{"plain", data, Compression::kNone},
        std::tuple{"gzip", Gzip(data), Compression::kGzip},
        std::tuple{"gzip, two members", Gzip(data.substr(0, 1000)) + Gzip(data.substr(1000)),
                   Compression::kGzip},
        std::tuple{"zstd", Zstd(data), Compression::kZstd},
        std::tuple{"zstd, two frames", Zstd(data.substr(0, 5)) + Zstd(data.substr(5)),
                   Compression::kZstd}}) {
    SCOPED_TRACE(name);
    DecompressingReader reader(ChunkedSource(encoded));
    absl::StatusOr<std::string> out = ReadAll(reader);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, data);
    EXPECT_EQ(reader.compression(), kind);
    EXPECT_EQ(reader.diff_id(), DigestOf(data));
    EXPECT_EQ(reader.uncompressed_size(), static_cast<int64_t>(data.size()));
  }
}

TEST(DecompressorTest, TruncatedOrCorruptStreamsFail) {
  std::string data = Payload();
  for (auto [name, encoded] : {std::pair{"truncated gzip", Gzip(data).substr(0, 500)},
                               std::pair{"truncated zstd", Zstd(data).substr(0, 500)},
                               std::pair{"corrupt gzip", [&] {
                                           std::string g = Gzip(data);
                                           for (size_t i = 20; i < 60; ++i)
                                             g[i] = static_cast<char>(~g[i]);
                                           return g;
                                         }()}}) {
    SCOPED_TRACE(name);
    DecompressingReader reader(ChunkedSource(encoded));
    absl::StatusOr<std::string> out = ReadAll(reader);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kDataLoss) << out.status();
  }
}

TEST(SingleFlightTest, ConcurrentCallersShareOneRun) {
  SingleFlight<int> flights;
  std::atomic<int> runs{0};
  absl::Notification release;
  std::atomic<int> waiting{0};
  auto call = [&] {
    return flights.Do("key", [&]() -> absl::StatusOr<int> {
      runs.fetch_add(1);
      release.WaitForNotification();
      return 42;
    });
  };
  std::vector<std::thread> threads;
  std::vector<int> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      waiting.fetch_add(1);
      results[i] = *call();
    });
  }
  while (waiting.load() < 4) std::this_thread::yield();
  absl::SleepFor(absl::Milliseconds(50));
  release.Notify();
  for (auto& t : threads) t.join();
  EXPECT_EQ(runs.load(), 1);
  for (int r : results) EXPECT_EQ(r, 42);
  // Once finished, the next call runs again.
  EXPECT_EQ(*flights.Do("key", [] { return absl::StatusOr<int>(7); }), 7);
}

}  // namespace
}  // namespace berth::snapshotter
