#include "snapshotter/registry_client.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/manifest.h"

namespace berth::snapshotter {
namespace {

constexpr char kManifestAccept[] =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json";
constexpr size_t kMaxManifestSize = 4 << 20;

std::string PercentEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%",
                      absl::AsciiStrToUpper(absl::BytesToHexString(
                          absl::string_view(reinterpret_cast<const char*>(&c), 1))));
    }
  }
  return out;
}

bool IsLoopbackHost(absl::string_view host) {
  if (absl::StartsWith(host, "[::1]")) return true;
  absl::string_view name = host.substr(0, host.find(':'));
  return name == "localhost" || absl::StartsWith(name, "127.");
}

bool IsTransient(const absl::StatusOr<HttpResponse>& response) {
  if (!response.ok()) {
    return absl::IsUnavailable(response.status()) || absl::IsDeadlineExceeded(response.status());
  }
  long code = response->status;
  return code == 429 || code == 500 || code == 502 || code == 503 || code == 504;
}

absl::Status StatusForResponse(const HttpResponse& response, absl::string_view what) {
  std::string message =
      absl::StrCat(what, ": HTTP ", response.status, " ", DescribeRegistryError(response));
  switch (response.status) {
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return absl::UnavailableError(message);
    default:
      return absl::UnknownError(message);
  }
}

// OK for a 200 answer; otherwise the transport error or the HTTP status as a Status.
absl::Status ResponseError(const absl::StatusOr<HttpResponse>& response, absl::string_view what) {
  if (!response.ok()) return response.status();
  if (response->status != 200) return StatusForResponse(*response, what);
  return absl::OkStatus();
}

// The registry's own error, with what the mirrors said before it.
absl::Status WithMirrorFailures(const absl::Status& error,
                                const std::vector<std::string>& mirror_failures) {
  if (mirror_failures.empty()) return error;
  return absl::Status(error.code(), absl::StrCat(error.message(), " (mirrors failed: ",
                                                 absl::StrJoin(mirror_failures, "; "), ")"));
}

}  // namespace

std::string DescribeRegistryError(const HttpResponse& response) {
  nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, false);
  std::vector<std::string> messages;
  if (doc.is_object() && doc.contains("errors") && doc["errors"].is_array()) {
    for (const auto& error : doc["errors"]) {
      if (!error.is_object()) continue;
      std::string code = error.contains("code") && error["code"].is_string()
                             ? error["code"].get<std::string>()
                             : "";
      std::string text = error.contains("message") && error["message"].is_string()
                             ? error["message"].get<std::string>()
                             : "";
      messages.push_back(code.empty() ? text : absl::StrCat(code, ": ", text));
    }
  }
  if (!messages.empty()) return absl::StrJoin(messages, "; ");
  std::string body(absl::StripAsciiWhitespace(response.body.substr(0, 200)));
  return body;
}

DistributionClient::DistributionClient(RegistryOptions options)
    : options_(std::make_shared<const RegistryOptions>(std::move(options))) {}

void DistributionClient::Reconfigure(RegistryOptions options) {
  auto fresh = std::make_shared<const RegistryOptions>(std::move(options));
  absl::MutexLock lock(&options_mutex_);
  options_ = std::move(fresh);
}

std::shared_ptr<const RegistryOptions> DistributionClient::Options() const {
  absl::MutexLock lock(&options_mutex_);
  return options_;
}

std::vector<DistributionClient::Endpoint> DistributionClient::EndpointsFor(
    const std::string& domain) const {
  std::shared_ptr<const RegistryOptions> options = Options();
  std::vector<Endpoint> endpoints;
  const RegistryHostConfig* config = nullptr;
  if (auto it = options->hosts.find(domain); it != options->hosts.end()) config = &it->second;
  if (config != nullptr) {
    for (const std::string& mirror : config->mirrors) {
      Endpoint e;
      e.base_url = std::string(absl::StripSuffix(mirror, "/"));
      if (!absl::StartsWith(e.base_url, "http://") && !absl::StartsWith(e.base_url, "https://")) {
        e.base_url = "https://" + e.base_url;
      }
      e.host = NormalizeRegistryHost(e.base_url);
      if (auto mirror_config = options->hosts.find(e.host); mirror_config != options->hosts.end()) {
        e.tls = {mirror_config->second.ca_file, mirror_config->second.skip_verify};
      }
      e.mirror = true;
      endpoints.push_back(std::move(e));
    }
  }
  Endpoint origin;
  origin.host = domain;
  std::string address = domain == kDockerHubDomain ? "registry-1.docker.io" : domain;
  // Like Docker, a loopback registry is taken to be plain HTTP unless TLS
  // settings say otherwise.
  bool tls_configured = config != nullptr && (!config->ca_file.empty() || config->skip_verify);
  bool plain_http =
      (config != nullptr && config->plain_http) || (IsLoopbackHost(domain) && !tls_configured);
  origin.base_url = absl::StrCat(plain_http ? "http://" : "https://", address);
  if (config != nullptr) origin.tls = {config->ca_file, config->skip_verify};
  endpoints.push_back(std::move(origin));
  return endpoints;
}

RegistryCredentials DistributionClient::CredentialsFor(const Endpoint& endpoint,
                                                       const RegistryCredentials& given) const {
  std::shared_ptr<const RegistryOptions> options = Options();
  if (!endpoint.mirror && !given.empty()) return given;
  if (auto it = options->credentials.find(endpoint.host); it != options->credentials.end()) {
    return it->second;
  }
  return endpoint.mirror ? RegistryCredentials{} : given;
}

HttpRequest DistributionClient::BaseRequest(const Endpoint& endpoint,
                                            const std::string& path) const {
  std::shared_ptr<const RegistryOptions> options = Options();
  HttpRequest request;
  request.url = endpoint.base_url + path;
  request.tls = endpoint.tls;
  request.connect_timeout = options->connect_timeout;
  request.stall_timeout = options->stall_timeout;
  return request;
}

absl::StatusOr<std::string> DistributionClient::FetchToken(const Endpoint& endpoint,
                                                           const AuthChallenge& challenge,
                                                           const std::string& scope,
                                                           const RegistryCredentials& credentials) {
  std::shared_ptr<const RegistryOptions> options = Options();
  if (!credentials.registry_token.empty()) return credentials.registry_token;
  auto realm_it = challenge.params.find("realm");
  if (realm_it == challenge.params.end() || realm_it->second.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("registry ", endpoint.host, " asked for a bearer token without a realm"));
  }
  std::string service;
  if (auto it = challenge.params.find("service"); it != challenge.params.end()) {
    service = it->second;
  }
  HttpRequest request;
  request.tls = endpoint.tls;
  request.connect_timeout = options->connect_timeout;
  request.stall_timeout = options->stall_timeout;
  request.max_body = 1 << 20;
  const std::string& realm = realm_it->second;
  if (!credentials.identity_token.empty()) {
    // OAuth2 refresh-token grant, as Docker's credential helpers expect.
    request.method = "POST";
    request.url = realm;
    request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    request.body =
        absl::StrCat("grant_type=refresh_token&client_id=berth&service=", PercentEncode(service),
                     "&scope=", PercentEncode(scope),
                     "&refresh_token=", PercentEncode(credentials.identity_token));
  } else {
    request.url = absl::StrCat(realm, absl::StrContains(realm, '?') ? "&" : "?",
                               "service=", PercentEncode(service), "&scope=", PercentEncode(scope));
    if (!credentials.username.empty()) {
      request.headers.push_back(
          "Authorization: Basic " +
          absl::Base64Escape(absl::StrCat(credentials.username, ":", credentials.password)));
    }
  }
  absl::StatusOr<HttpResponse> response = http_.Send(request);
  if (!response.ok()) {
    return absl::UnavailableError(
        absl::StrCat("token endpoint of ", endpoint.host, ": ", response.status().message()));
  }
  if (response->status == 401 || response->status == 403) {
    return absl::UnauthenticatedError(
        absl::StrCat("registry ", endpoint.host, " token endpoint ", realm, " rejected ",
                     credentials.username.empty() && credentials.identity_token.empty()
                         ? "anonymous access"
                         : absl::StrCat("the credentials of \"", credentials.username, "\""),
                     " (HTTP ", response->status, ")"));
  }
  if (response->status != 200) {
    return StatusForResponse(*response, absl::StrCat("token endpoint ", realm));
  }
  ASSIGN_OR_RETURN(BearerToken token, ParseTokenResponse(response->body, absl::Now()));
  absl::MutexLock lock(&mutex_);
  tokens_[absl::StrCat(endpoint.host, " ", scope)] = token;
  return token.token;
}

absl::StatusOr<HttpResponse> DistributionClient::SendAuthorized(const Endpoint& endpoint,
                                                                HttpRequest request,
                                                                const std::string& scope,
                                                                const RegistryCredentials& given,
                                                                const BodySink* sink) {
  std::vector<std::string> base_headers = request.headers;
  {
    absl::MutexLock lock(&mutex_);
    auto token = tokens_.find(absl::StrCat(endpoint.host, " ", scope));
    if (token != tokens_.end() && token->second.expires_at > absl::Now() + absl::Seconds(5)) {
      request.headers.push_back("Authorization: Bearer " + token->second.token);
    } else if (auto basic = basic_hosts_.find(endpoint.host); basic != basic_hosts_.end()) {
      request.headers.push_back(basic->second);
    }
  }
  ASSIGN_OR_RETURN(HttpResponse response, http_.Send(request, sink));
  if (response.status != 401) return response;

  std::optional<AuthChallenge> challenge = ParseAuthChallenge(response.Header("www-authenticate"));
  if (!challenge) return response;
  RegistryCredentials credentials = CredentialsFor(endpoint, given);
  request.headers = base_headers;
  if (challenge->scheme == "bearer") {
    ASSIGN_OR_RETURN(std::string token, FetchToken(endpoint, *challenge, scope, credentials));
    request.headers.push_back("Authorization: Bearer " + token);
  } else {
    if (credentials.username.empty()) {
      return absl::UnauthenticatedError(absl::StrCat(
          "registry ", endpoint.host, " requires a username and password (basic auth)"));
    }
    std::string header =
        "Authorization: Basic " +
        absl::Base64Escape(absl::StrCat(credentials.username, ":", credentials.password));
    request.headers.push_back(header);
    ASSIGN_OR_RETURN(HttpResponse retried, http_.Send(request, sink));
    if (retried.status == 401) {
      return absl::UnauthenticatedError(absl::StrCat("registry ", endpoint.host,
                                                     " rejected the credentials of \"",
                                                     credentials.username, "\" (HTTP 401)"));
    }
    absl::MutexLock lock(&mutex_);
    basic_hosts_[endpoint.host] = header;
    return retried;
  }
  return http_.Send(request, sink);
}

absl::StatusOr<HttpResponse> DistributionClient::SendWithRetries(
    const Endpoint& endpoint, const HttpRequest& request, const std::string& scope,
    const RegistryCredentials& credentials, const BodySink* sink, const bool* sink_started) {
  std::shared_ptr<const RegistryOptions> options = Options();
  absl::StatusOr<HttpResponse> response;
  absl::Duration backoff = options->retry_backoff;
  for (int attempt = 1;; ++attempt) {
    response = SendAuthorized(endpoint, request, scope, credentials, sink);
    bool started = sink_started != nullptr && *sink_started;
    if (!IsTransient(response) || started || attempt >= options->max_attempts) break;
    absl::SleepFor(backoff);
    backoff *= 2;
  }
  return response;
}

absl::StatusOr<FetchedManifest> DistributionClient::FetchManifest(
    const ImageReference& ref, const RegistryCredentials& credentials) {
  std::string scope = absl::StrCat("repository:", ref.path, ":pull");
  std::string path = absl::StrCat("/v2/", ref.path, "/manifests/", ref.ManifestReference());
  std::vector<std::string> failures;
  absl::Status last_error;
  for (const Endpoint& endpoint : EndpointsFor(ref.domain)) {
    HttpRequest request = BaseRequest(endpoint, path);
    request.headers.push_back(kManifestAccept);
    request.max_body = kMaxManifestSize;
    std::string what = absl::StrCat("manifest ", ref.ToString(), " from ", endpoint.base_url);
    absl::StatusOr<HttpResponse> response =
        SendWithRetries(endpoint, request, scope, credentials, nullptr, nullptr);
    absl::Status error = ResponseError(response, what);
    if (error.ok()) {
      FetchedManifest manifest;
      manifest.content = std::move(response->body);
      manifest.digest = DigestOf(manifest.content);
      manifest.endpoint = endpoint.base_url;
      std::string type(absl::StripAsciiWhitespace(
          response->Header("content-type").substr(0, response->Header("content-type").find(';'))));
      manifest.media_type = IsIndexMediaType(type) || IsManifestMediaType(type)
                                ? type
                                : DetectManifestMediaType(manifest.content);
      absl::StatusOr<Digest> announced = Digest::Parse(response->Header("docker-content-digest"));
      if (ref.digest && manifest.digest != *ref.digest) {
        error = absl::DataLossError(
            absl::StrCat(what, ": content has digest ", manifest.digest.ToString()));
      } else if (announced.ok() && *announced != manifest.digest) {
        error =
            absl::DataLossError(absl::StrCat(what, ": registry says digest ", announced->ToString(),
                                             ", content has ", manifest.digest.ToString()));
      } else if (manifest.media_type == media_type::kDockerSchema1Signed ||
                 absl::StartsWith(manifest.media_type,
                                  "application/vnd.docker.distribution.manifest.v1")) {
        error = absl::UnimplementedError(
            absl::StrCat(what, ": Docker schema 1 manifests are not supported"));
      } else if (!IsIndexMediaType(manifest.media_type) &&
                 !IsManifestMediaType(manifest.media_type)) {
        error = absl::UnimplementedError(
            absl::StrCat(what, ": unsupported media type \"", manifest.media_type, "\""));
      } else {
        return manifest;
      }
    }
    if (endpoint.mirror) failures.push_back(absl::StrCat(endpoint.base_url, ": ", error.message()));
    last_error = error;
  }
  return WithMirrorFailures(last_error, failures);
}

absl::Status DistributionClient::FetchBlob(const ImageReference& ref, const Digest& digest,
                                           const RegistryCredentials& credentials,
                                           const BodySink& sink) {
  std::string scope = absl::StrCat("repository:", ref.path, ":pull");
  std::string path = absl::StrCat("/v2/", ref.path, "/blobs/", digest.ToString());
  bool started = false;
  BodySink counting = [&](absl::string_view chunk) {
    started = true;
    return sink(chunk);
  };
  std::vector<std::string> failures;
  absl::Status last_error;
  for (const Endpoint& endpoint : EndpointsFor(ref.domain)) {
    HttpRequest request = BaseRequest(endpoint, path);
    std::string what = absl::StrCat("blob ", digest.ToString(), " from ", endpoint.base_url);
    absl::StatusOr<HttpResponse> response =
        SendWithRetries(endpoint, request, scope, credentials, &counting, &started);
    absl::Status error = ResponseError(response, what);
    if (error.ok()) return absl::OkStatus();
    // Bytes already handed on cannot be taken back: no fallback after that.
    if (started) return error;
    if (endpoint.mirror) failures.push_back(absl::StrCat(endpoint.base_url, ": ", error.message()));
    last_error = error;
  }
  return WithMirrorFailures(last_error, failures);
}

}  // namespace berth::snapshotter
