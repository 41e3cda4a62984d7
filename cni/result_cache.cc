#include "cni/result_cache.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cni/json_text.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::cni {
namespace {

constexpr char kCacheKind[] = "cniCacheV1";

absl::StatusOr<std::string> RequiredString(const nlohmann::json& doc, const char* key,
                                           absl::string_view what) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_string() || it->get<std::string>().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no \"", key, "\""));
  }
  return it->get<std::string>();
}

absl::StatusOr<CachedAttachment> ParseDocument(absl::string_view text, absl::string_view what) {
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a JSON object"));
  }
  if (doc.value("kind", "") != kCacheKind) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": kind is not ", kCacheKind));
  }
  CachedAttachment attachment;
  ASSIGN_OR_RETURN(attachment.container_id, RequiredString(doc, "containerId", what));
  ASSIGN_OR_RETURN(attachment.network_name, RequiredString(doc, "networkName", what));
  ASSIGN_OR_RETURN(attachment.ifname, RequiredString(doc, "ifName", what));
  ASSIGN_OR_RETURN(std::string config, RequiredString(doc, "config", what));
  // Go's encoding/json writes []byte as standard base64.
  if (!absl::Base64Unescape(config, &attachment.config)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": config is not base64"));
  }
  auto netns = doc.find("netns");
  if (netns != doc.end() && netns->is_string()) attachment.netns = netns->get<std::string>();
  auto args = doc.find("cniArgs");
  if (args != doc.end() && !args->is_null()) {
    if (!args->is_array()) return absl::InvalidArgumentError(absl::StrCat(what, ": bad cniArgs"));
    for (const nlohmann::json& pair : *args) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": bad cniArgs"));
      }
      attachment.cni_args.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    }
  }
  auto capability_args = doc.find("capabilityArgs");
  if (capability_args != doc.end() && !capability_args->is_null()) {
    if (!capability_args->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": bad capabilityArgs"));
    }
    attachment.capability_args = *capability_args;
  }
  auto result = doc.find("result");
  if (result != doc.end() && result->is_object()) attachment.result = *result;
  return attachment;
}

}  // namespace

std::string SerializeCachedAttachment(const CachedAttachment& attachment) {
  nlohmann::json doc = {{"kind", kCacheKind},
                        {"containerId", attachment.container_id},
                        {"config", absl::Base64Escape(attachment.config)},
                        {"ifName", attachment.ifname},
                        {"networkName", attachment.network_name}};
  // libcni leaves these out when empty.
  if (!attachment.netns.empty()) doc["netns"] = attachment.netns;
  if (!attachment.cni_args.empty()) {
    nlohmann::json args = nlohmann::json::array();
    for (const auto& [key, value] : attachment.cni_args) args.push_back({key, value});
    doc["cniArgs"] = std::move(args);
  }
  if (!attachment.capability_args.empty()) doc["capabilityArgs"] = attachment.capability_args;
  if (attachment.result.is_object()) doc["result"] = attachment.result;
  return ToJsonText(doc);
}

absl::StatusOr<CachedAttachment> ParseCachedAttachment(absl::string_view text,
                                                       absl::string_view what) {
  try {
    return ParseDocument(text, what);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", e.what()));
  }
}

std::string ResultCache::PathOf(const std::string& network, const std::string& container_id,
                                const std::string& ifname) const {
  return absl::StrCat(cache_dir_, "/results/", network, "-", container_id, "-", ifname);
}

absl::Status ResultCache::Write(const CachedAttachment& attachment) const {
  RETURN_IF_ERROR(MakeDirectories(cache_dir_ + "/results", 0700));
  std::string path = PathOf(attachment.network_name, attachment.container_id, attachment.ifname);
  absl::Status status = WriteFileAtomically(path, SerializeCachedAttachment(attachment), 0600);
  if (!status.ok()) {
    return absl::Status(
        status.code(), absl::StrCat("cache CNI result of container ", attachment.container_id, ": ",
                                    status.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, CachedAttachment>>> ResultCache::Find(
    const std::string& container_id, const std::string& ifname) const {
  std::vector<std::pair<std::string, CachedAttachment>> found;
  std::string dir_path = cache_dir_ + "/results";
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return found;
    return ErrnoStatus("open CNI result cache " + dir_path);
  }
  // "<network>-<id>-<ifname>": the network name comes first and may itself
  // hold '-', so match the end and confirm with the file's own fields.
  std::string suffix = absl::StrCat("-", container_id, "-", ifname);
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() > suffix.size() && absl::EndsWith(name, suffix)) names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string path = absl::StrCat(dir_path, "/", name);
    absl::StatusOr<std::string> text = ReadFileToString(path);
    if (!text.ok()) {
      if (absl::IsNotFound(text.status())) continue;
      return text.status();
    }
    absl::StatusOr<CachedAttachment> attachment = ParseCachedAttachment(*text, path);
    if (!attachment.ok()) {
      spdlog::warn("ignoring CNI result cache file: {}", attachment.status().message());
      continue;
    }
    if (attachment->container_id != container_id || attachment->ifname != ifname) continue;
    found.emplace_back(path, *std::move(attachment));
  }
  return found;
}

absl::Status ResultCache::Remove(const std::string& path) const {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("remove CNI result cache file " + path);
  }
  return absl::OkStatus();
}

}  // namespace berth::cni
