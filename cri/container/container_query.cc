// ContainerStatus and ListContainers.

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cri/container/container_service.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/json_reader.h"
#include "runtime/base/status_macros.h"
#include "runtime/lsm.h"
#include "runtime/oci/spec_parse.h"

namespace berth::cri {
namespace {

std::string VerboseInfo(const Container& container) {
  std::string config_json;
  (void)google::protobuf::util::MessageToJsonString(container.config, &config_json);
  std::string spec_text = ReadFileToString(container.bundle() + "/config.json").value_or("");
  nlohmann::json info = {{"sandboxID", container.sandbox_id},
                         {"pid", container.pid},
                         {"runtimeHandler", container.runtime_handler},
                         {"snapshotKey", container.snapshot_key},
                         {"cgroupsPath", container.cgroups_path},
                         {"config", ParseJson(config_json, "config").value_or(nullptr)},
                         {"runtimeSpec", ParseJson(spec_text, "spec").value_or(nullptr)}};
  // Labels the host has no module for are accepted but not enforced: say so.
  if (absl::StatusOr<oci::Spec> spec = oci::ParseSpec(spec_text); spec.ok() && spec->process) {
    std::string unenforced = UnenforcedLabels(*spec->process, DetectLsm());
    if (!unenforced.empty()) info["unenforcedLabels"] = unenforced;
  }
  return info.dump();
}

}  // namespace

runtime::v1::ContainerStatus ContainerService::StatusOf(const Container& container) {
  runtime::v1::ContainerStatus status;
  status.set_id(container.id);
  *status.mutable_metadata() = container.config.metadata();
  status.set_state(container.state);
  status.set_created_at(container.created_at_ns);
  status.set_started_at(container.started_at_ns);
  status.set_finished_at(container.finished_at_ns);
  status.set_exit_code(container.exit_code);
  *status.mutable_image() = container.config.image();
  status.set_image_ref(container.image_ref);
  status.set_image_id(container.image_id);
  status.set_reason(container.reason);
  status.set_message(container.message);
  *status.mutable_labels() = container.config.labels();
  *status.mutable_annotations() = container.config.annotations();
  *status.mutable_mounts() = container.config.mounts();
  status.set_log_path(container.log_path);
  *status.mutable_resources()->mutable_linux() = container.resources;
  runtime::v1::LinuxContainerUser& user = *status.mutable_user()->mutable_linux();
  user.set_uid(container.uid);
  user.set_gid(container.gid);
  // The primary group first, as `id -G` lists the process's groups.
  user.add_supplemental_groups(container.gid);
  for (uint32_t gid : container.supplemental_groups) user.add_supplemental_groups(gid);
  return status;
}

absl::StatusOr<runtime::v1::ContainerStatusResponse> ContainerService::Status(
    const std::string& prefix, bool verbose) {
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Lookup(prefix));
  runtime::v1::ContainerStatusResponse response;
  std::string id, sandbox_id;
  bool exited = false;
  {
    absl::MutexLock lock(&entry->mutex);
    Container& container = entry->container;
    exited = Refresh(container);
    id = container.id;
    sandbox_id = container.sandbox_id;
    *response.mutable_status() = StatusOf(container);
    if (verbose) (*response.mutable_info())["info"] = VerboseInfo(container);
  }
  if (exited) Emit(runtime::v1::CONTAINER_STOPPED_EVENT, id, sandbox_id);
  return response;
}

std::vector<runtime::v1::ContainerStatus> ContainerService::PodContainerStatuses(
    const std::string& sandbox_id) {
  std::vector<runtime::v1::ContainerStatus> statuses;
  for (const std::shared_ptr<Entry>& entry : EntriesOf(sandbox_id)) {
    absl::MutexLock lock(&entry->mutex);
    statuses.push_back(StatusOf(entry->container));
  }
  return statuses;
}

std::vector<runtime::v1::Container> ContainerService::List(
    const runtime::v1::ContainerFilter& filter) {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    absl::MutexLock lock(&mutex_);
    for (const auto& [id, entry] : containers_) {
      // crictl resolves ids by prefix, as containerd matches them.
      if (!filter.id().empty() && !absl::StartsWith(id, filter.id())) continue;
      entries.push_back(entry);
    }
  }
  std::vector<runtime::v1::Container> containers;
  std::vector<std::pair<std::string, std::string>> exited;
  for (const std::shared_ptr<Entry>& entry : entries) {
    absl::MutexLock lock(&entry->mutex);
    Container& container = entry->container;
    if (Refresh(container)) exited.emplace_back(container.id, container.sandbox_id);
    if (!filter.pod_sandbox_id().empty() &&
        !absl::StartsWith(container.sandbox_id, filter.pod_sandbox_id()))
      continue;
    if (filter.has_state() && filter.state().state() != container.state) continue;
    bool labels_match = true;
    for (const auto& [key, value] : filter.label_selector()) {
      auto label = container.config.labels().find(key);
      if (label == container.config.labels().end() || label->second != value)
        labels_match = false;
    }
    if (!labels_match) continue;
    runtime::v1::Container& item = containers.emplace_back();
    item.set_id(container.id);
    item.set_pod_sandbox_id(container.sandbox_id);
    *item.mutable_metadata() = container.config.metadata();
    *item.mutable_image() = container.config.image();
    item.set_image_ref(container.image_ref);
    item.set_image_id(container.image_id);
    item.set_state(container.state);
    item.set_created_at(container.created_at_ns);
    *item.mutable_labels() = container.config.labels();
    *item.mutable_annotations() = container.config.annotations();
  }
  for (const auto& [id, sandbox_id] : exited)
    Emit(runtime::v1::CONTAINER_STOPPED_EVENT, id, sandbox_id);
  return containers;
}

}  // namespace berth::cri
