#pragma once

// The on-disk record of an attachment, in libcni's layout so tools that
// read libcni caches (and a libcni-based runtime taking over the node)
// understand it: <cache_dir>/results/<network>-<containerid>-<ifname>, a
// JSON object of kind "cniCacheV1" holding the list config (base64), the
// CNI and capability arguments and the final ADD result. DEL and CHECK use
// it instead of the current config directory.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace berth::cni {

struct CachedAttachment {
  std::string container_id;
  std::string network_name;
  std::string ifname;
  std::string netns;
  std::string config;  // the network list's JSON text (NetworkList::bytes)
  std::vector<std::pair<std::string, std::string>> cni_args;
  nlohmann::json capability_args = nlohmann::json::object();
  nlohmann::json result;  // the final plugin's ADD result
};

// The cache file's text, and back. Parsing checks the kind and the fields
// DEL relies on; `what` names the file in errors.
std::string SerializeCachedAttachment(const CachedAttachment& attachment);
absl::StatusOr<CachedAttachment> ParseCachedAttachment(absl::string_view text,
                                                       absl::string_view what);

class ResultCache {
 public:
  explicit ResultCache(std::string cache_dir) : cache_dir_(std::move(cache_dir)) {}

  std::string PathOf(const std::string& network, const std::string& container_id,
                     const std::string& ifname) const;

  // Atomically (re)writes the attachment's file, 0600 in a 0700 results/.
  absl::Status Write(const CachedAttachment& attachment) const;

  // The attachments of (container_id, ifname) on any network, with their
  // paths, in file name order. Files that do not parse are skipped: an
  // unreadable cache must not block a DEL, which then runs on the current
  // config instead.
  absl::StatusOr<std::vector<std::pair<std::string, CachedAttachment>>> Find(
      const std::string& container_id, const std::string& ifname) const;

  // Removes one file; already gone is fine.
  absl::Status Remove(const std::string& path) const;

 private:
  std::string cache_dir_;
};

}  // namespace berth::cni
