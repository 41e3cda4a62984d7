#include "cri/container/container.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "runtime/base/json_reader.h"

namespace berth::cri {

std::string ContainerName(const runtime::v1::ContainerMetadata& metadata,
                          const std::string& sandbox_name) {
  return absl::StrCat(metadata.name(), "_", sandbox_name, "_", metadata.attempt());
}

ContainerRecord ToRecord(const Container& container) {
  nlohmann::json extra = {{"reason", container.reason},
                          {"message", container.message},
                          {"image_ref", container.image_ref},
                          {"dir", container.dir},
                          {"cgroups_path", container.cgroups_path},
                          {"runtime_handler", container.runtime_handler},
                          {"pid", container.pid},
                          {"uid", container.uid},
                          {"gid", container.gid},
                          {"supplemental_groups", container.supplemental_groups},
                          {"stop_signal", container.stop_signal},
                          {"rootfs_mounted", container.rootfs_mounted},
                          {"monitor_started", container.monitor_started},
                          {"complete", container.complete}};
  // Protobuf bytes are not UTF-8: stored as a byte array.
  std::string resources = container.resources.SerializeAsString();
  extra["resources"] = std::vector<uint8_t>(resources.begin(), resources.end());
  return ContainerRecord{.id = container.id,
                         .sandbox_id = container.sandbox_id,
                         .name = container.name,
                         .state = container.state,
                         .created_at_ns = container.created_at_ns,
                         .started_at_ns = container.started_at_ns,
                         .finished_at_ns = container.finished_at_ns,
                         .exit_code = container.exit_code,
                         .image_id = container.image_id,
                         .snapshot_key = container.snapshot_key,
                         .log_path = container.log_path,
                         .config = container.config.SerializeAsString(),
                         .extra = extra.dump()};
}

absl::StatusOr<Container> FromRecord(const ContainerRecord& record) {
  Container container{.id = record.id,
                      .sandbox_id = record.sandbox_id,
                      .name = record.name,
                      .state = static_cast<runtime::v1::ContainerState>(record.state),
                      .created_at_ns = record.created_at_ns,
                      .started_at_ns = record.started_at_ns,
                      .finished_at_ns = record.finished_at_ns,
                      .exit_code = record.exit_code,
                      .image_id = record.image_id,
                      .snapshot_key = record.snapshot_key,
                      .log_path = record.log_path};
  if (!container.config.ParseFromString(record.config))
    return absl::DataLossError("container " + record.id + ": unreadable config");
  absl::StatusOr<nlohmann::json> extra = ParseJson(record.extra, "container " + record.id);
  if (!extra.ok()) return absl::DataLossError(extra.status().message());
  try {
    container.reason = extra->value("reason", "");
    container.message = extra->value("message", "");
    container.image_ref = extra->value("image_ref", "");
    container.dir = extra->value("dir", "");
    container.cgroups_path = extra->value("cgroups_path", "");
    container.runtime_handler = extra->value("runtime_handler", "");
    container.pid = extra->value("pid", 0);
    container.uid = extra->value("uid", 0u);
    container.gid = extra->value("gid", 0u);
    container.supplemental_groups =
        extra->value("supplemental_groups", std::vector<uint32_t>{});
    container.stop_signal = extra->value("stop_signal", "");
    std::vector<uint8_t> resources = extra->value("resources", std::vector<uint8_t>{});
    if (!container.resources.ParseFromString(std::string(resources.begin(), resources.end())))
      return absl::DataLossError("container " + record.id + ": unreadable resources");
    container.rootfs_mounted = extra->value("rootfs_mounted", false);
    container.monitor_started = extra->value("monitor_started", false);
    container.complete = extra->value("complete", false);
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("container ", record.id, ": ", e.what()));
  }
  return container;
}

std::string ContainerIdOfSnapshot(const std::string& key) {
  const std::string prefix = "container-";
  if (key.compare(0, prefix.size(), prefix) != 0) return "";
  std::string rest = key.substr(prefix.size());
  return rest.substr(0, rest.find("-image-"));
}

}  // namespace berth::cri
