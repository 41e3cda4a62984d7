#pragma once

// Talks to image registries (OCI distribution spec, Docker registry v2):
// manifests and blobs, with mirrors, bearer-token and basic auth, TLS
// options per host, timeouts and bounded retries.

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "snapshotter/digest.h"
#include "snapshotter/http_client.h"
#include "snapshotter/reference.h"
#include "snapshotter/registry_auth.h"

namespace berth::snapshotter {

// Settings for one registry host ("docker.io", "127.0.0.1:5000").
struct RegistryHostConfig {
  // Endpoints tried before the registry itself, in order
  // ("https://mirror.example.com", "http://127.0.0.1:5001").
  std::vector<std::string> mirrors;
  bool plain_http = false;   // the registry speaks HTTP, not HTTPS
  bool skip_verify = false;  // HTTPS without certificate checks
  std::string ca_file;       // CA bundle for the registry's certificate

  bool operator==(const RegistryHostConfig&) const = default;
};

struct RegistryOptions {
  absl::flat_hash_map<std::string, RegistryHostConfig> hosts;
  // Credentials per registry host, used when a pull brings none.
  absl::flat_hash_map<std::string, RegistryCredentials> credentials;
  absl::Duration connect_timeout = absl::Seconds(30);
  // A download receiving no bytes for this long fails.
  absl::Duration stall_timeout = absl::Seconds(60);
  // Attempts per request on transient failures (connection errors, 429, 5xx).
  int max_attempts = 3;
  absl::Duration retry_backoff = absl::Milliseconds(250);
};

struct FetchedManifest {
  std::string media_type;
  std::string content;  // the exact bytes, which `digest` covers
  Digest digest;
  std::string endpoint;  // where it came from
};

class RegistryClient {
 public:
  virtual ~RegistryClient() = default;
  // The manifest or index `ref` names: by digest when it has one (and the
  // bytes must match it), else by tag.
  virtual absl::StatusOr<FetchedManifest> FetchManifest(const ImageReference& ref,
                                                        const RegistryCredentials& credentials) = 0;
  // Streams blob `digest` of `ref`'s repository into `sink`. Retries and
  // mirror fallback happen only before the first byte reaches the sink.
  virtual absl::Status FetchBlob(const ImageReference& ref, const Digest& digest,
                                 const RegistryCredentials& credentials, const BodySink& sink) = 0;
};

class DistributionClient final : public RegistryClient {
 public:
  explicit DistributionClient(RegistryOptions options);

  // New hosts, mirrors, credentials and timeouts for the requests that
  // start from now on (berthd's reload); requests under way keep theirs.
  void Reconfigure(RegistryOptions options);

  absl::StatusOr<FetchedManifest> FetchManifest(const ImageReference& ref,
                                                const RegistryCredentials& credentials) override;
  absl::Status FetchBlob(const ImageReference& ref, const Digest& digest,
                         const RegistryCredentials& credentials, const BodySink& sink) override;

  struct Endpoint {
    std::string base_url;  // "https://registry-1.docker.io"
    std::string host;      // host[:port], the key for tokens and credentials
    TlsOptions tls;
    bool mirror = false;
  };
  // Mirrors first, then the registry itself.
  std::vector<Endpoint> EndpointsFor(const std::string& domain) const;

 private:
  // One request with auth: answers a 401 challenge once, then resends.
  absl::StatusOr<HttpResponse> SendAuthorized(const Endpoint& endpoint, HttpRequest request,
                                              const std::string& scope,
                                              const RegistryCredentials& credentials,
                                              const BodySink* sink);
  // SendAuthorized with retries on transient failures.
  absl::StatusOr<HttpResponse> SendWithRetries(const Endpoint& endpoint, const HttpRequest& request,
                                               const std::string& scope,
                                               const RegistryCredentials& credentials,
                                               const BodySink* sink, const bool* sink_started);
  absl::StatusOr<std::string> FetchToken(const Endpoint& endpoint, const AuthChallenge& challenge,
                                         const std::string& scope,
                                         const RegistryCredentials& credentials);
  RegistryCredentials CredentialsFor(const Endpoint& endpoint,
                                     const RegistryCredentials& given) const;
  HttpRequest BaseRequest(const Endpoint& endpoint, const std::string& path) const;

  std::shared_ptr<const RegistryOptions> Options() const;

  mutable absl::Mutex options_mutex_;
  std::shared_ptr<const RegistryOptions> options_ ABSL_GUARDED_BY(options_mutex_);
  HttpClient http_;
  absl::Mutex mutex_;
  // "host scope" -> token; "host" -> basic header, once a host asked for basic.
  absl::flat_hash_map<std::string, BearerToken> tokens_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_map<std::string, std::string> basic_hosts_ ABSL_GUARDED_BY(mutex_);
};

// "An error response's body", shortened to its registry error messages.
std::string DescribeRegistryError(const HttpResponse& response);

}  // namespace berth::snapshotter
