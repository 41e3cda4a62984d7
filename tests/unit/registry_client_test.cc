// The registry client against a scripted loopback HTTP server: retries,
// redirects, credentials, mirrors and their failures. No root needed.

#include "snapshotter/registry_client.h"

#include <atomic>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "snapshotter/manifest.h"
#include "tests/support/scripted_http_server.h"
#include "tests/support/status_matchers.h"

namespace berth::snapshotter {
namespace {

using berth::testing::IsOk;
using berth::testing::RecordedRequest;
using berth::testing::ScriptedHttpServer;
using berth::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]})";

std::string ManifestResponse() {
  return ScriptedHttpServer::Response(200, kManifest,
                                      {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
}

RegistryOptions FastRetries() {
  RegistryOptions options;
  options.retry_backoff = absl::Milliseconds(1);
  return options;
}

ImageReference Ref(const std::string& text) { return *ParseImageReference(text); }

TEST(RegistryClientTest, TransientFailuresAreRetriedAFewTimes) {
  std::atomic<int> calls{0};
  ScriptedHttpServer server([&](const RecordedRequest&) {
    return ++calls < 3 ? ScriptedHttpServer::Response(503, "busy") : ManifestResponse();
  });
  DistributionClient client(FastRetries());
  absl::StatusOr<FetchedManifest> m = client.FetchManifest(Ref(server.host() + "/app:1"), {});
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->digest, DigestOf(kManifest));
  EXPECT_EQ(calls.load(), 3);

  // Bounded: a registry that stays down fails after max_attempts.
  calls = -100;
  EXPECT_THAT(client.FetchManifest(Ref(server.host() + "/app:2"), {}),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(calls.load(), -97);
}

TEST(RegistryClientTest, NotFoundIsNotRetried) {
  std::atomic<int> calls{0};
  ScriptedHttpServer server([&](const RecordedRequest&) {
    ++calls;
    return ScriptedHttpServer::Response(
        404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
  });
  DistributionClient client(FastRetries());
  EXPECT_THAT(
      client.FetchManifest(Ref(server.host() + "/app:1"), {}),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("MANIFEST_UNKNOWN: manifest unknown")));
  EXPECT_EQ(calls.load(), 1);
}

TEST(RegistryClientTest, ManifestBytesMustMatchTheDigestAsked) {
  ScriptedHttpServer server([&](const RecordedRequest&) { return ManifestResponse(); });
  DistributionClient client(FastRetries());
  ImageReference ref = Ref(server.host() + "/app@" + DigestOf("something else").ToString());
  EXPECT_THAT(client.FetchManifest(ref, {}), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(RegistryClientTest, BlobRedirectsAreFollowedWithoutCredentials) {
  ScriptedHttpServer storage(
      [&](const RecordedRequest&) { return ScriptedHttpServer::Response(200, "blob bytes"); });
  ScriptedHttpServer registry([&](const RecordedRequest& r) {
    if (!r.headers.contains("authorization")) {
      return ScriptedHttpServer::Response(401, "", {"WWW-Authenticate: Basic realm=\"r\""});
    }
    return ScriptedHttpServer::Response(
        307, "", {"Location: http://" + storage.host() + "/storage/blob?signature=x"});
  });
  DistributionClient client(FastRetries());
  RegistryCredentials credentials{.username = "u", .password = "p"};
  std::string received;
  absl::Status status = client.FetchBlob(Ref(registry.host() + "/app:1"), DigestOf("blob bytes"),
                                         credentials, [&](absl::string_view chunk) {
                                           received.append(chunk.data(), chunk.size());
                                           return absl::OkStatus();
                                         });
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(received, "blob bytes");
  std::vector<RecordedRequest> at_storage = storage.requests();
  ASSERT_EQ(at_storage.size(), 1u);
  EXPECT_EQ(at_storage[0].path, "/storage/blob?signature=x");
  EXPECT_FALSE(at_storage[0].headers.contains("authorization"))
      << "credentials must not follow a redirect to another host";
  EXPECT_EQ(registry.requests().back().headers["authorization"],
            "Basic " + absl::Base64Escape("u:p"));
}

TEST(RegistryClientTest, MirrorFailuresFallBackToTheOriginAndAreReported) {
  ScriptedHttpServer mirror(
      [&](const RecordedRequest&) { return ScriptedHttpServer::Response(500, "mirror broken"); });
  ScriptedHttpServer origin([&](const RecordedRequest&) { return ManifestResponse(); });
  RegistryOptions options = FastRetries();
  options.max_attempts = 1;
  options.hosts[origin.host()].mirrors = {"http://" + mirror.host()};
  DistributionClient client(options);
  absl::StatusOr<FetchedManifest> m = client.FetchManifest(Ref(origin.host() + "/app:1"), {});
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->endpoint, "http://" + origin.host());
  EXPECT_EQ(mirror.requests().size(), 1u);
  EXPECT_EQ(mirror.requests()[0].path, "/v2/app/manifests/1");
  // Every manifest request states what it accepts, OCI and Docker alike.
  EXPECT_THAT(origin.requests()[0].headers["accept"],
              HasSubstr("application/vnd.docker.distribution.manifest.list.v2+json"));
  EXPECT_THAT(origin.requests()[0].headers["accept"],
              HasSubstr("application/vnd.oci.image.index.v1+json"));
}

TEST(RegistryClientTest, BearerChallengeFetchesAScopedToken) {
  ScriptedHttpServer auth([&](const RecordedRequest& r) {
    if (r.header("authorization") != "Basic " + absl::Base64Escape("u:p")) {
      return ScriptedHttpServer::Response(401, "");
    }
    return ScriptedHttpServer::Response(200, R"({"token":"tok","expires_in":300})");
  });
  ScriptedHttpServer registry([&](const RecordedRequest& r) {
    if (r.header("authorization") != "Bearer tok") {
      return ScriptedHttpServer::Response(
          401, "",
          {"WWW-Authenticate: Bearer realm=\"http://" + auth.host() +
           "/token\",service=\"reg\",scope=\"repository:team/app:pull\""});
    }
    return ManifestResponse();
  });
  DistributionClient client(FastRetries());
  RegistryCredentials credentials{.username = "u", .password = "p"};
  ASSERT_THAT(client.FetchManifest(Ref(registry.host() + "/team/app:1"), credentials), IsOk());
  ASSERT_EQ(auth.requests().size(), 1u);
  EXPECT_EQ(auth.requests()[0].path, "/token?service=reg&scope=repository%3Ateam%2Fapp%3Apull");
  // The token is reused for the next request of the same scope.
  ASSERT_THAT(client.FetchManifest(Ref(registry.host() + "/team/app:2"), credentials), IsOk());
  EXPECT_EQ(auth.requests().size(), 1u);

  RegistryCredentials wrong{.username = "u", .password = "bad"};
  DistributionClient fresh(FastRetries());
  EXPECT_THAT(fresh.FetchManifest(Ref(registry.host() + "/team/app:1"), wrong),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("rejected the credentials")));
}

}  // namespace
}  // namespace berth::snapshotter
