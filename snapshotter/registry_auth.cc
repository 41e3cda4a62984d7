#include "snapshotter/registry_auth.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace berth::snapshotter {

std::optional<AuthChallenge> ParseAuthChallenge(absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  size_t space = header.find(' ');
  AuthChallenge challenge;
  challenge.scheme = absl::AsciiStrToLower(header.substr(0, space));
  if (challenge.scheme != "bearer" && challenge.scheme != "basic") return std::nullopt;
  if (space == absl::string_view::npos) return challenge;
  absl::string_view rest = header.substr(space + 1);
  while (!rest.empty()) {
    rest = absl::StripLeadingAsciiWhitespace(rest);
    size_t eq = rest.find('=');
    if (eq == absl::string_view::npos) break;
    std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(rest.substr(0, eq)));
    rest.remove_prefix(eq + 1);
    std::string value;
    if (absl::ConsumePrefix(&rest, "\"")) {
      // Quoted string with backslash escapes; commas inside (scopes) are data.
      size_t i = 0;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        value.push_back(rest[i]);
      }
      rest.remove_prefix(std::min(rest.size(), i + 1));
    } else {
      size_t comma = rest.find(',');
      value = std::string(absl::StripAsciiWhitespace(rest.substr(0, comma)));
      rest.remove_prefix(comma == absl::string_view::npos ? rest.size() : comma);
    }
    challenge.params[key] = value;
    rest = absl::StripLeadingAsciiWhitespace(rest);
    absl::ConsumePrefix(&rest, ",");
  }
  return challenge;
}

absl::StatusOr<BearerToken> ParseTokenResponse(absl::string_view json, absl::Time now) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return absl::DataLossError("token endpoint answered with invalid JSON");
  BearerToken token;
  for (const char* field : {"token", "access_token"}) {
    if (doc.contains(field) && doc[field].is_string() && !doc[field].get<std::string>().empty()) {
      token.token = doc[field].get<std::string>();
      break;
    }
  }
  if (token.token.empty()) return absl::DataLossError("token endpoint answered without a token");
  // The spec's default lifetime is 60 seconds.
  int64_t expires_in = 60;
  if (doc.contains("expires_in") && doc["expires_in"].is_number_integer()) {
    expires_in = std::max<int64_t>(doc["expires_in"].get<int64_t>(), 1);
  }
  token.expires_at = now + absl::Seconds(expires_in);
  return token;
}

absl::StatusOr<RegistryCredentials> DecodeBasicAuth(absl::string_view auth) {
  std::string decoded;
  if (!absl::Base64Unescape(auth, &decoded)) {
    return absl::InvalidArgumentError("auth is not valid base64");
  }
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("auth does not decode to \"user:password\"");
  }
  RegistryCredentials credentials;
  credentials.username = decoded.substr(0, colon);
  credentials.password = decoded.substr(colon + 1);
  return credentials;
}

std::string NormalizeRegistryHost(absl::string_view server) {
  absl::string_view host = server;
  if (size_t scheme = host.find("://"); scheme != absl::string_view::npos) {
    host.remove_prefix(scheme + 3);
  }
  host = host.substr(0, host.find('/'));
  std::string lower = absl::AsciiStrToLower(host);
  if (lower == "index.docker.io" || lower == "registry-1.docker.io" || lower == "docker.io") {
    return "docker.io";
  }
  return lower;
}

absl::StatusOr<absl::flat_hash_map<std::string, RegistryCredentials>> ParseCredentialsFile(
    absl::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return absl::InvalidArgumentError("credentials file is not a JSON object");
  absl::flat_hash_map<std::string, RegistryCredentials> out;
  if (!doc.contains("auths")) return out;
  if (!doc["auths"].is_object()) return absl::InvalidArgumentError("\"auths\" is not an object");
  for (const auto& [server, entry] : doc["auths"].items()) {
    if (!entry.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("auths.", server, " is not an object"));
    }
    auto text = [&](const char* key) {
      return entry.contains(key) && entry[key].is_string() ? entry[key].get<std::string>() : "";
    };
    RegistryCredentials credentials;
    if (std::string auth = text("auth"); !auth.empty()) {
      absl::StatusOr<RegistryCredentials> decoded = DecodeBasicAuth(auth);
      if (!decoded.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("auths.", server, ".auth: ", decoded.status().message()));
      }
      credentials = *std::move(decoded);
    }
    if (std::string user = text("username"); !user.empty()) credentials.username = user;
    if (std::string password = text("password"); !password.empty()) {
      credentials.password = password;
    }
    credentials.identity_token = text("identitytoken");
    credentials.registry_token = text("registrytoken");
    out[NormalizeRegistryHost(server)] = std::move(credentials);
  }
  return out;
}

}  // namespace berth::snapshotter
