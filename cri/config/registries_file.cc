#include "cri/config/registries_file.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/atomic_file.h"
#include "yaml-cpp/yaml.h"

namespace berth::cri {
namespace {

absl::Status Invalid(absl::string_view source, absl::string_view where, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, ": ", why));
}

absl::StatusOr<bool> Bool(const YAML::Node& node, absl::string_view source,
                          const std::string& where) {
  bool value;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return Invalid(source, where, "must be true or false");
  }
  return value;
}

}  // namespace

absl::StatusOr<RegistryHosts> ParseRegistriesYaml(absl::string_view yaml,
                                                  absl::string_view source) {
  RegistryHosts hosts;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  if (root.IsNull()) return hosts;
  if (!root.IsMap()) return Invalid(source, "top level", "must map registry hosts to settings");
  try {
    for (const auto& entry : root) {
      std::string host = entry.first.as<std::string>();
      if (host.empty() || absl::StrContains(host, '/')) {
        return Invalid(source, host, "must be a registry host[:port]");
      }
      const YAML::Node& settings = entry.second;
      if (!settings.IsMap()) return Invalid(source, host, "must be a mapping of settings");
      snapshotter::RegistryHostConfig config;
      for (const auto& setting : settings) {
        std::string key = setting.first.as<std::string>();
        std::string where = absl::StrCat(host, ".", key);
        const YAML::Node& value = setting.second;
        if (key == "mirrors") {
          if (!value.IsSequence()) return Invalid(source, where, "must be a list of URLs");
          for (const auto& mirror : value) {
            std::string url = mirror.as<std::string>();
            if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
              return Invalid(source, where, absl::StrCat("\"", url, "\" is not an http(s) URL"));
            }
            config.mirrors.push_back(url);
          }
        } else if (key == "plain_http" || key == "skip_verify") {
          absl::StatusOr<bool> flag = Bool(value, source, where);
          if (!flag.ok()) return flag.status();
          (key == "plain_http" ? config.plain_http : config.skip_verify) = *flag;
        } else if (key == "ca_file") {
          config.ca_file = value.as<std::string>();
          if (!absl::StartsWith(config.ca_file, "/")) {
            return Invalid(source, where, "must be an absolute path");
          }
        } else {
          return Invalid(source, where, "unknown key");
        }
      }
      hosts[host] = std::move(config);
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  return hosts;
}

absl::StatusOr<RegistryHosts> LoadRegistriesFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (absl::IsNotFound(text.status())) return RegistryHosts{};
  if (!text.ok()) return text.status();
  return ParseRegistriesYaml(*text, path);
}

}  // namespace berth::cri
