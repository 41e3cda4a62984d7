// StopPodSandbox and RemovePodSandbox, and the steps they share with a
// failed RunPodSandbox: killing the pause process, CNI DEL, releasing the
// network namespace and /dev/shm.

#include <signal.h>
#include <sys/mount.h>

#include <cerrno>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "cri/sandbox/sandbox_service.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {

std::shared_ptr<SandboxService::Entry> SandboxService::Find(const std::string& id) {
  absl::MutexLock lock(&mutex_);
  auto it = sandboxes_.find(id);
  return it == sandboxes_.end() ? nullptr : it->second;
}

void SandboxService::Forget(const std::string& id, const std::string& name) {
  absl::MutexLock lock(&mutex_);
  sandboxes_.erase(id);
  auto reserved = names_.find(name);
  if (reserved != names_.end() && reserved->second->id == id) names_.erase(reserved);
  reservation_done_.SignalAll();
}

absl::Status SandboxService::Persist(const Sandbox& sandbox) {
  return store_.Update([&](MetadataTables& t) { return t.UpdateSandbox(ToRecord(sandbox)); });
}

cni::AttachRequest SandboxService::NetworkRequest(const Sandbox& sandbox) const {
  const runtime::v1::PodSandboxConfig& config = sandbox.config;
  cni::AttachRequest request{.container_id = sandbox.id,
                             .netns_path = sandbox.netns_path,
                             .args = {{"IgnoreUnknown", "1"},
                                      {"K8S_POD_NAMESPACE", config.metadata().namespace_()},
                                      {"K8S_POD_NAME", config.metadata().name()},
                                      {"K8S_POD_INFRA_CONTAINER_ID", sandbox.id},
                                      {"K8S_POD_UID", config.metadata().uid()}}};
  for (const runtime::v1::PortMapping& port : config.port_mappings()) {
    if (port.host_port() <= 0) continue;  // only published ports are mapped
    request.port_mappings.push_back({.protocol = port.protocol() == runtime::v1::UDP    ? "udp"
                                                 : port.protocol() == runtime::v1::SCTP ? "sctp"
                                                                                        : "tcp",
                                     .container_port = port.container_port(),
                                     .host_port = port.host_port(),
                                     .host_ip = port.host_ip()});
  }
  const runtime::v1::DNSConfig& dns = config.dns_config();
  if (!dns.servers().empty() || !dns.searches().empty() || !dns.options().empty()) {
    request.dns = cni::DnsCapability{.servers = {dns.servers().begin(), dns.servers().end()},
                                     .searches = {dns.searches().begin(), dns.searches().end()},
                                     .options = {dns.options().begin(), dns.options().end()}};
  }
  auto annotation = [&](const char* key) -> uint64_t {
    auto it = config.annotations().find(key);
    return it == config.annotations().end() ? 0 : ParseBandwidth(it->second);
  };
  uint64_t ingress = annotation("kubernetes.io/ingress-bandwidth");
  uint64_t egress = annotation("kubernetes.io/egress-bandwidth");
  if (ingress > 0 || egress > 0) {
    // kubelet's conventions: a burst as large as the rate allows in a second.
    request.bandwidth = cni::BandwidthLimits{.ingress_rate = ingress,
                                             .ingress_burst = ingress > 0 ? ingress : 0,
                                             .egress_rate = egress,
                                             .egress_burst = egress > 0 ? egress : 0};
  }
  return request;
}

bool SandboxService::PauseRunning(const Sandbox& sandbox) {
  if (sandbox.pid <= 0) return false;
  absl::StatusOr<ExitRecord> exit =
      monitors_.WaitForExit(sandbox.monitor_dir(), absl::ZeroDuration());
  return absl::IsDeadlineExceeded(exit.status());
}

absl::Status SandboxService::KillPause(const Sandbox& sandbox) {
  if (!PauseRunning(sandbox)) return absl::OkStatus();
  RETURN_IF_ERROR(KillContainerOf(sandbox));
  absl::StatusOr<ExitRecord> exit =
      monitors_.WaitForExit(sandbox.monitor_dir(), options_.exit_timeout);
  if (absl::IsDeadlineExceeded(exit.status()))
    return absl::DeadlineExceededError("the pause process of sandbox " + sandbox.id +
                                       " did not exit");
  return absl::OkStatus();
}

absl::Status SandboxService::DetachNetwork(Sandbox& sandbox) {
  if (!sandbox.network_attached) return absl::OkStatus();
  RETURN_IF_ERROR(network_.Detach(NetworkRequest(sandbox)));
  sandbox.network_attached = false;
  return absl::OkStatus();
}

absl::Status SandboxService::StopLocked(Sandbox& sandbox) {
  RETURN_IF_ERROR(KillPause(sandbox));
  // The pause container's state and cgroup go at stop, as containerd's do;
  // the monitor's exit file still tells how it ended.
  RETURN_IF_ERROR(DeleteContainerOf(sandbox));
  // A DEL that fails stays owed: the next stop, or berthd's next start,
  // runs it again, so no IP is ever leaked.
  absl::Status detached = DetachNetwork(sandbox);
  if (detached.ok() && !sandbox.netns_path.empty()) {
    RETURN_IF_ERROR(cni::RemovePinnedNetns(sandbox.netns_path));
  }
  if (sandbox.shm_mounted) {
    if (::umount2(sandbox.shm_dir().c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      return ErrnoStatus("unmount " + sandbox.shm_dir());
    sandbox.shm_mounted = false;
  }
  sandbox.state = runtime::v1::SANDBOX_NOTREADY;
  RETURN_IF_ERROR(Persist(sandbox));
  if (!detached.ok()) {
    return absl::Status(detached.code(), absl::StrCat("stop sandbox ", sandbox.id,
                                                      ": CNI DEL failed (retried on the next "
                                                      "stop): ",
                                                      detached.message()));
  }
  return absl::OkStatus();
}

absl::Status SandboxService::Stop(const std::string& id) {
  std::shared_ptr<Entry> entry = Find(id);
  if (entry == nullptr) return absl::OkStatus();  // the CRI wants stop to be idempotent
  // The containers first, outside the sandbox's lock: they look it up.
  if (members_ != nullptr) RETURN_IF_ERROR(members_->StopPodContainers(id));
  absl::MutexLock lock(&entry->mutex);
  return StopLocked(entry->sandbox);
}

absl::Status SandboxService::Remove(const std::string& id) {
  std::shared_ptr<Entry> entry = Find(id);
  if (entry == nullptr) return absl::OkStatus();  // removing what is gone succeeds
  if (members_ != nullptr) RETURN_IF_ERROR(members_->RemovePodContainers(id));
  absl::MutexLock lock(&entry->mutex);
  Sandbox& sandbox = entry->sandbox;
  RETURN_IF_ERROR(StopLocked(sandbox));  // the pause container goes with it
  RETURN_IF_ERROR(ReleaseRootfs(sandbox));
  std::error_code error;
  std::filesystem::remove_all(sandbox.dir, error);
  if (error)
    return absl::InternalError(absl::StrCat("remove ", sandbox.dir, ": ", error.message()));
  RETURN_IF_ERROR(store_.Update([&](MetadataTables& t) { return t.DeleteSandbox(id); }));
  Forget(id, sandbox.name);
  spdlog::info("sandbox {} ({}) removed", id, sandbox.name);
  return absl::OkStatus();
}

}  // namespace berth::cri
