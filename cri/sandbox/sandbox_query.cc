// PodSandboxStatus and ListPodSandbox.

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cri/sandbox/sandbox_service.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "runtime/base/json_reader.h"

namespace berth::cri {
namespace {

// READY only while the pause process lives: kubelet recreates pods whose
// sandbox died.
runtime::v1::PodSandboxState Observed(const Sandbox& sandbox, bool pause_running) {
  return sandbox.state == runtime::v1::SANDBOX_READY && pause_running
             ? runtime::v1::SANDBOX_READY
             : runtime::v1::SANDBOX_NOTREADY;
}

std::string VerboseInfo(const Sandbox& sandbox) {
  std::string config_json;
  (void)google::protobuf::util::MessageToJsonString(sandbox.config, &config_json);
  nlohmann::json info = {
      {"pid", sandbox.pid},
      {"netnsPath", sandbox.netns_path},
      {"cgroupsPath", sandbox.cgroups_path},
      {"runtimeHandler", sandbox.runtime_handler},
      {"sandboxDir", sandbox.dir},
      {"config", ParseJson(config_json, "config").value_or(nullptr)},
      {"cniResult", ParseJson(sandbox.cni_result, "CNI result").value_or(nullptr)}};
  return info.dump();
}

}  // namespace

absl::StatusOr<Sandbox> SandboxService::Get(const std::string& id) {
  std::shared_ptr<Entry> entry = Find(id);
  if (entry == nullptr) return absl::NotFoundError(absl::StrCat("pod sandbox ", id, " not found"));
  absl::MutexLock lock(&entry->mutex);
  Sandbox copy = entry->sandbox;
  copy.state = Observed(copy, PauseRunning(copy));
  return copy;
}

absl::StatusOr<std::string> SandboxService::ResolveId(const std::string& prefix) {
  absl::MutexLock lock(&mutex_);
  if (sandboxes_.count(prefix)) return prefix;
  std::string found;
  for (const auto& [id, entry] : sandboxes_) {
    if (prefix.empty() || !absl::StartsWith(id, prefix)) continue;
    if (!found.empty())
      return absl::NotFoundError(absl::StrCat("pod sandbox id prefix ", prefix, " is ambiguous"));
    found = id;
  }
  if (found.empty()) return absl::NotFoundError(absl::StrCat("pod sandbox ", prefix, " not found"));
  return found;
}

absl::StatusOr<runtime::v1::PodSandboxStatusResponse> SandboxService::Status(const std::string& id,
                                                                             bool verbose) {
  std::shared_ptr<Entry> entry = Find(id);
  if (entry == nullptr) return absl::NotFoundError(absl::StrCat("pod sandbox ", id, " not found"));
  absl::MutexLock lock(&entry->mutex);
  const Sandbox& sandbox = entry->sandbox;
  runtime::v1::PodSandboxStatusResponse response;
  runtime::v1::PodSandboxStatus& status = *response.mutable_status();
  status.set_id(sandbox.id);
  *status.mutable_metadata() = sandbox.config.metadata();
  status.set_state(Observed(sandbox, PauseRunning(sandbox)));
  status.set_created_at(sandbox.created_at_ns);
  if (!sandbox.ips.empty() && status.state() == runtime::v1::SANDBOX_READY) {
    status.mutable_network()->set_ip(sandbox.ips[0]);
    for (size_t i = 1; i < sandbox.ips.size(); ++i)
      status.mutable_network()->add_additional_ips()->set_ip(sandbox.ips[i]);
  }
  *status.mutable_linux()->mutable_namespaces()->mutable_options() =
      sandbox.config.linux().security_context().namespace_options();
  *status.mutable_labels() = sandbox.config.labels();
  *status.mutable_annotations() = sandbox.config.annotations();
  status.set_runtime_handler(sandbox.runtime_handler);
  if (verbose) (*response.mutable_info())["info"] = VerboseInfo(sandbox);
  response.set_timestamp(absl::ToUnixNanos(absl::Now()));
  return response;
}

std::vector<runtime::v1::PodSandbox> SandboxService::List(
    const runtime::v1::PodSandboxFilter& filter) {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    absl::MutexLock lock(&mutex_);
    for (const auto& [id, entry] : sandboxes_) {
      // crictl resolves ids by prefix, as containerd matches them.
      if (!filter.id().empty() && !absl::StartsWith(id, filter.id())) continue;
      entries.push_back(entry);
    }
  }
  std::vector<runtime::v1::PodSandbox> sandboxes;
  for (const std::shared_ptr<Entry>& entry : entries) {
    absl::MutexLock lock(&entry->mutex);
    const Sandbox& sandbox = entry->sandbox;
    runtime::v1::PodSandboxState state = Observed(sandbox, PauseRunning(sandbox));
    if (filter.has_state() && filter.state().state() != state) continue;
    bool labels_match = true;
    for (const auto& [key, value] : filter.label_selector()) {
      auto label = sandbox.config.labels().find(key);
      if (label == sandbox.config.labels().end() || label->second != value) labels_match = false;
    }
    if (!labels_match) continue;
    runtime::v1::PodSandbox& item = sandboxes.emplace_back();
    item.set_id(sandbox.id);
    *item.mutable_metadata() = sandbox.config.metadata();
    item.set_state(state);
    item.set_created_at(sandbox.created_at_ns);
    *item.mutable_labels() = sandbox.config.labels();
    *item.mutable_annotations() = sandbox.config.annotations();
    item.set_runtime_handler(sandbox.runtime_handler);
  }
  return sandboxes;
}

}  // namespace berth::cri
