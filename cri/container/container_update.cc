// UpdateContainerResources, ReopenContainerLog, ExecSync and the sessions
// behind Exec and Attach: what kubelet
// does to a running container without restarting it.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cri/container/container_service.h"
#include "cri/container/container_spec.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/json_reader.h"
#include "runtime/base/status_macros.h"
#include "runtime/oci/spec_parse.h"

namespace berth::cri {
namespace {

// kubelet's (and crictl's) receive limit is 16 MiB per message; the reply's
// framing takes a few bytes of it.
constexpr size_t kExecSyncReplyBudget = (16 << 20) - (16 << 10);

absl::Status NotRunning(const Container& container) {
  return absl::FailedPreconditionError(absl::StrCat(
      "container ", container.id, " is ", runtime::v1::ContainerState_Name(container.state),
      ", not RUNNING"));
}

// The swap setting only means something where the kernel accounts swap.
bool SwapAccounted(const std::string& spec_text) {
  absl::StatusOr<nlohmann::json> spec = ParseJson(spec_text, "spec");
  if (!spec.ok()) return false;
  const nlohmann::json* memory = nullptr;
  try {
    memory = &spec->at("linux").at("resources").at("memory");
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return memory->contains("swap");
}

}  // namespace

absl::Status ContainerService::UpdateResources(
    const std::string& prefix, const runtime::v1::LinuxContainerResources& resources) {
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Lookup(prefix));
  absl::MutexLock lock(&entry->mutex);
  Container& container = entry->container;
  Refresh(container);
  if (container.state == runtime::v1::CONTAINER_EXITED)
    return NotRunning(container);
  std::string spec_path = container.bundle() + "/config.json";
  ASSIGN_OR_RETURN(std::string spec_text, ReadFileToString(spec_path));
  ASSIGN_OR_RETURN(nlohmann::json spec, ParseJson(spec_text, spec_path));
  nlohmann::json update = ResourcesJson(resources, SwapAccounted(spec_text));
  if (container.state == runtime::v1::CONTAINER_RUNNING) {
    if (std::optional<ExternalRuntime> runtime = ExternalRuntimeOf(container)) {
      std::string file = container.dir + "/update.json";
      RETURN_IF_ERROR(WriteFileAtomically(file, update.dump(), 0600));
      RETURN_IF_ERROR(RunExternalRuntime(*runtime, {"update", "--resources", file, container.id}));
    } else {
      ASSIGN_OR_RETURN(oci::Resources parsed, oci::ParseResourcesJson(update.dump()));
      RETURN_IF_ERROR(UpdateContainerResources(ExecutorOptions(), container.id, parsed));
    }
  }
  // The bundle keeps the new limits for a container not started yet, and
  // for anyone reading its spec.
  nlohmann::json& current = spec["linux"]["resources"];
  for (const char* key : {"cpu", "memory", "hugepageLimits", "unified"}) current.erase(key);
  for (auto& [key, value] : update.items()) current[key] = value;
  RETURN_IF_ERROR(WriteFileAtomically(spec_path, spec.dump(), 0600));
  int64_t oom = container.resources.oom_score_adj();
  container.resources = resources;
  container.resources.set_oom_score_adj(oom);  // fixed at start
  return Persist(container);
}

absl::Status ContainerService::ReopenLog(const std::string& prefix) {
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Lookup(prefix));
  absl::MutexLock lock(&entry->mutex);
  Container& container = entry->container;
  Refresh(container);
  if (container.state != runtime::v1::CONTAINER_RUNNING) return NotRunning(container);
  return monitors_.ReopenLog(container.monitor_dir());
}

absl::StatusOr<ExecConfig> ContainerService::PrepareExec(const std::string& id,
                                                          const std::vector<std::string>& cmd,
                                                          bool tty, bool stdin,
                                                          absl::Duration timeout) {
  if (cmd.empty()) return absl::InvalidArgumentError("exec needs a command");
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Lookup(id));
  absl::MutexLock lock(&entry->mutex);
  Container& container = entry->container;
  Refresh(container);
  if (container.state != runtime::v1::CONTAINER_RUNNING) return NotRunning(container);
  ASSIGN_OR_RETURN(std::string spec_text, ReadFileToString(container.bundle() + "/config.json"));
  ASSIGN_OR_RETURN(nlohmann::json spec, ParseJson(spec_text, "the spec of " + container.id));
  // The container's own process settings (user, env, cwd, capabilities,
  // LSM labels), running the command.
  nlohmann::json process = spec.value("process", nlohmann::json::object());
  process["args"] = cmd;
  process["terminal"] = tty;
  if (tty) {
    process.erase("consoleSize");
  }
  ExecConfig exec{.container_id = container.id,
                  .runtime_root = ExecutorOptions().root,
                  .systemd_cgroup = options_.systemd_cgroup,
                  .process_json = process.dump(),
                  .stdin = stdin,
                  .timeout = timeout};
  if (std::optional<ExternalRuntime> runtime = ExternalRuntimeOf(container)) {
    exec.runtime_binary = runtime->binary;
    exec.runtime_root = runtime->root;
  }
  return exec;
}

absl::StatusOr<std::string> ContainerService::RunningContainerId(const std::string& id) {
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Lookup(id));
  absl::MutexLock lock(&entry->mutex);
  Refresh(entry->container);
  if (entry->container.state != runtime::v1::CONTAINER_RUNNING)
    return NotRunning(entry->container);
  return entry->container.id;
}

absl::StatusOr<std::unique_ptr<StreamSession>> ContainerService::OpenExec(
    const std::string& id, const std::vector<std::string>& cmd, bool tty, bool stdin) {
  ASSIGN_OR_RETURN(ExecConfig exec, PrepareExec(id, cmd, tty, stdin, absl::ZeroDuration()));
  return monitors_.Exec(exec);
}

absl::StatusOr<std::unique_ptr<StreamSession>> ContainerService::OpenAttach(const std::string& id) {
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Lookup(id));
  std::string monitor_dir;
  {
    absl::MutexLock lock(&entry->mutex);
    Refresh(entry->container);
    if (entry->container.state != runtime::v1::CONTAINER_RUNNING)
      return NotRunning(entry->container);
    monitor_dir = entry->container.monitor_dir();
  }
  return monitors_.Attach(monitor_dir);
}

absl::StatusOr<runtime::v1::ExecSyncResponse> ContainerService::ExecSync(
    const runtime::v1::ExecSyncRequest& request) {
  if (request.cmd().empty()) return absl::InvalidArgumentError("ExecSync needs a command");
  ASSIGN_OR_RETURN(
      ExecConfig exec,
      PrepareExec(request.container_id(),
                  std::vector<std::string>(request.cmd().begin(), request.cmd().end()),
                  /*tty=*/false, /*stdin=*/false,
                  absl::Seconds(std::max<int64_t>(request.timeout(), 0))));
  // Outside the container's lock: a long exec must not block its status.
  ASSIGN_OR_RETURN(ExecSyncResult result, monitors_.ExecSync(exec, kExecSyncReplyBudget));
  // Both streams together within one reply kubelet accepts (16 MiB); stderr,
  // usually the short explanation of a failure, keeps up to half of it.
  if (result.stdout_data.size() + result.stderr_data.size() > kExecSyncReplyBudget) {
    result.stderr_data.resize(std::min(result.stderr_data.size(), kExecSyncReplyBudget / 2));
    result.stdout_data.resize(kExecSyncReplyBudget - result.stderr_data.size());
  }
  if (result.exit.timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("command timed out after ",
                                                    request.timeout(), "s"));
  }
  runtime::v1::ExecSyncResponse response;
  response.set_stdout(std::move(result.stdout_data));
  response.set_stderr(std::move(result.stderr_data));
  response.set_exit_code(result.exit.exit_code);
  return response;
}

}  // namespace berth::cri
