#pragma once

// Registry authentication pieces that are pure logic: WWW-Authenticate
// challenges, token responses, docker config.json credentials.

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::snapshotter {

// What a pull may authenticate with, as kubelet passes it in the CRI
// AuthConfig or a credentials file holds it.
struct RegistryCredentials {
  std::string username;
  std::string password;
  // An OAuth2 refresh token exchanged at the token endpoint.
  std::string identity_token;
  // A bearer token sent to the registry as is.
  std::string registry_token;

  bool empty() const {
    return username.empty() && password.empty() && identity_token.empty() && registry_token.empty();
  }
  bool operator==(const RegistryCredentials&) const = default;
};

struct AuthChallenge {
  std::string scheme;                                    // lowercased: "bearer", "basic"
  absl::flat_hash_map<std::string, std::string> params;  // realm, service, scope, error
};

// Parses a WWW-Authenticate header value: `Bearer realm="...",service="..."`.
// nullopt when it is not a challenge we understand.
std::optional<AuthChallenge> ParseAuthChallenge(absl::string_view header);

struct BearerToken {
  std::string token;
  absl::Time expires_at;
};

// A token endpoint's JSON answer ("token" or "access_token", "expires_in").
absl::StatusOr<BearerToken> ParseTokenResponse(absl::string_view json, absl::Time now);

// The "auth" field form: base64("user:password").
absl::StatusOr<RegistryCredentials> DecodeBasicAuth(absl::string_view auth);

// Credentials per registry host from a docker config.json-style file:
// {"auths": {"host": {"auth": "...", "username": ..., "password": ...,
// "identitytoken": ..., "registrytoken": ...}}}. Keys may be URLs
// ("https://index.docker.io/v1/"); they are reduced to host[:port], and
// Docker Hub's aliases to "docker.io".
absl::StatusOr<absl::flat_hash_map<std::string, RegistryCredentials>> ParseCredentialsFile(
    absl::string_view json);

// host[:port] of a registry named by host or URL, with Docker Hub's names folded to docker.io.
std::string NormalizeRegistryHost(absl::string_view server);

}  // namespace berth::snapshotter
