#include "cri/sandbox/sandbox.h"

#include <sys/random.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "nlohmann/json.hpp"
#include "runtime/base/json_reader.h"

namespace berth::cri {

std::string ConfigFingerprint(const google::protobuf::MessageLite& config) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    config.SerializeToCodedStream(&coded);
  }
  return bytes;
}

std::string NewObjectId() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

std::string SandboxName(const runtime::v1::PodSandboxMetadata& metadata) {
  return absl::StrCat(metadata.name(), "_", metadata.namespace_(), "_", metadata.uid(), "_",
                      metadata.attempt());
}

uint64_t ParseBandwidth(const std::string& quantity) {
  static const std::pair<const char*, double> kSuffixes[] = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"k", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12}};
  std::string number = quantity;
  double scale = 1;
  for (const auto& [suffix, factor] : kSuffixes) {
    if (absl::EndsWith(number, suffix)) {
      number.resize(number.size() - std::strlen(suffix));
      scale = factor;
      break;
    }
  }
  double value = 0;
  if (!absl::SimpleAtod(number, &value) || value < 0) return 0;
  return static_cast<uint64_t>(value * scale);
}

SandboxRecord ToRecord(const Sandbox& sandbox) {
  nlohmann::json extra = {{"dir", sandbox.dir},
                          {"network_attached", sandbox.network_attached},
                          {"ips", sandbox.ips},
                          {"cni_result", sandbox.cni_result},
                          {"pid", sandbox.pid},
                          {"cgroups_path", sandbox.cgroups_path},
                          {"shm_mounted", sandbox.shm_mounted},
                          {"complete", sandbox.complete},
                          {"rootfs_view", sandbox.rootfs_view}};
  return SandboxRecord{.id = sandbox.id,
                       .name = sandbox.name,
                       .state = sandbox.state,
                       .created_at_ns = sandbox.created_at_ns,
                       .runtime_handler = sandbox.runtime_handler,
                       .netns_path = sandbox.netns_path,
                       .config = sandbox.config.SerializeAsString(),
                       .extra = extra.dump()};
}

absl::StatusOr<Sandbox> FromRecord(const SandboxRecord& record) {
  Sandbox sandbox{.id = record.id,
                  .name = record.name,
                  .state = static_cast<runtime::v1::PodSandboxState>(record.state),
                  .created_at_ns = record.created_at_ns,
                  .runtime_handler = record.runtime_handler,
                  .netns_path = record.netns_path};
  if (!sandbox.config.ParseFromString(record.config))
    return absl::DataLossError("sandbox " + record.id + ": unreadable config");
  absl::StatusOr<nlohmann::json> extra = ParseJson(record.extra, "sandbox " + record.id);
  if (!extra.ok()) return absl::DataLossError(extra.status().message());
  try {
    sandbox.dir = extra->value("dir", "");
    sandbox.network_attached = extra->value("network_attached", false);
    sandbox.ips = extra->value("ips", std::vector<std::string>{});
    sandbox.cni_result = extra->value("cni_result", "");
    sandbox.pid = extra->value("pid", 0);
    sandbox.cgroups_path = extra->value("cgroups_path", "");
    sandbox.shm_mounted = extra->value("shm_mounted", false);
    sandbox.complete = extra->value("complete", false);
    sandbox.rootfs_view = extra->value("rootfs_view", "");
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("sandbox ", record.id, ": ", e.what()));
  }
  return sandbox;
}

}  // namespace berth::cri
