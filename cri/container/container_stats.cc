// ContainerStats, ListContainerStats, PodSandboxStats and
// ListPodSandboxStats: the cgroups' counters, the writable layer's usage
// and the pod's network interfaces.

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cri/container/container_service.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

void FillCpu(const CgroupUsage& usage, uint64_t nano_cores, runtime::v1::CpuUsage& cpu) {
  cpu.set_timestamp(absl::ToUnixNanos(usage.timestamp));
  cpu.mutable_usage_core_nano_seconds()->set_value(usage.cpu_usage_ns);
  cpu.mutable_usage_nano_cores()->set_value(nano_cores);
}

void FillMemory(const CgroupUsage& usage, runtime::v1::MemoryUsage& memory) {
  memory.set_timestamp(absl::ToUnixNanos(usage.timestamp));
  memory.mutable_working_set_bytes()->set_value(usage.memory_working_set_bytes);
  memory.mutable_available_bytes()->set_value(usage.memory_available_bytes);
  memory.mutable_usage_bytes()->set_value(usage.memory_usage_bytes);
  memory.mutable_rss_bytes()->set_value(usage.memory_rss_bytes);
  memory.mutable_page_faults()->set_value(usage.page_faults);
  memory.mutable_major_page_faults()->set_value(usage.major_page_faults);
}

bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& labels,
                 const google::protobuf::Map<std::string, std::string>& selector) {
  for (const auto& [key, value] : selector) {
    auto label = labels.find(key);
    if (label == labels.end() || label->second != value) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<runtime::v1::ContainerStats> ContainerService::StatsOf(const Container& container) {
  runtime::v1::ContainerStats stats;
  runtime::v1::ContainerAttributes& attributes = *stats.mutable_attributes();
  attributes.set_id(container.id);
  *attributes.mutable_metadata() = container.config.metadata();
  *attributes.mutable_labels() = container.config.labels();
  *attributes.mutable_annotations() = container.config.annotations();
  if (container.state == runtime::v1::CONTAINER_RUNNING) {
    absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage(
        container.cgroups_path, options_.systemd_cgroup, container.id, options_.cgroup_root);
    if (usage.ok()) {
      FillCpu(*usage, cpu_samples_.Observe(container.id, *usage), *stats.mutable_cpu());
      FillMemory(*usage, *stats.mutable_memory());
    } else if (!absl::IsNotFound(usage.status())) {
      return usage.status();
    }
  }
  if (!container.snapshot_key.empty()) {
    absl::StatusOr<snapshotter::SnapshotUsage> layer = images_.Usage(container.snapshot_key);
    if (layer.ok()) {
      runtime::v1::FilesystemUsage& fs = *stats.mutable_writable_layer();
      fs.set_timestamp(absl::ToUnixNanos(absl::Now()));
      fs.mutable_fs_id()->set_mountpoint(images_.SnapshotsRoot());
      fs.mutable_used_bytes()->set_value(static_cast<uint64_t>(layer->bytes));
      fs.mutable_inodes_used()->set_value(static_cast<uint64_t>(layer->inodes));
    }
  }
  return stats;
}

absl::StatusOr<runtime::v1::ContainerStats> ContainerService::Stats(const std::string& prefix) {
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Lookup(prefix));
  absl::MutexLock lock(&entry->mutex);
  Refresh(entry->container);
  return StatsOf(entry->container);
}

std::vector<runtime::v1::ContainerStats> ContainerService::ListStats(
    const runtime::v1::ContainerStatsFilter& filter) {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    absl::MutexLock lock(&mutex_);
    for (const auto& [id, entry] : containers_)
      if (filter.id().empty() || absl::StartsWith(id, filter.id())) entries.push_back(entry);
  }
  std::vector<runtime::v1::ContainerStats> all;
  for (const std::shared_ptr<Entry>& entry : entries) {
    absl::MutexLock lock(&entry->mutex);
    const Container& container = entry->container;
    if (!filter.pod_sandbox_id().empty() &&
        !absl::StartsWith(container.sandbox_id, filter.pod_sandbox_id()))
      continue;
    if (!LabelsMatch(container.config.labels(), filter.label_selector())) continue;
    if (absl::StatusOr<runtime::v1::ContainerStats> stats = StatsOf(container); stats.ok())
      all.push_back(*std::move(stats));
  }
  return all;
}

absl::StatusOr<runtime::v1::PodSandboxStats> ContainerService::PodStatsOf(const Sandbox& sandbox) {
  runtime::v1::PodSandboxStats stats;
  runtime::v1::PodSandboxAttributes& attributes = *stats.mutable_attributes();
  attributes.set_id(sandbox.id);
  *attributes.mutable_metadata() = sandbox.config.metadata();
  *attributes.mutable_labels() = sandbox.config.labels();
  *attributes.mutable_annotations() = sandbox.config.annotations();
  runtime::v1::LinuxPodSandboxStats& linux_stats = *stats.mutable_linux();

  // The pod's usage: its pause process and its running containers.
  CgroupUsage total{.timestamp = absl::Now()};
  auto add = [&](const CgroupUsage& usage) {
    total.cpu_usage_ns += usage.cpu_usage_ns;
    total.memory_usage_bytes += usage.memory_usage_bytes;
    total.memory_working_set_bytes += usage.memory_working_set_bytes;
    total.memory_rss_bytes += usage.memory_rss_bytes;
    total.page_faults += usage.page_faults;
    total.major_page_faults += usage.major_page_faults;
    total.memory_available_bytes += usage.memory_available_bytes;
    total.process_count += usage.process_count;
    total.oom_kill_count += usage.oom_kill_count;
  };
  if (sandbox.state == runtime::v1::SANDBOX_READY) {
    absl::StatusOr<CgroupUsage> pause = ReadCgroupUsage(
        sandbox.cgroups_path, options_.systemd_cgroup, sandbox.id, options_.cgroup_root);
    if (pause.ok()) add(*pause);
  }
  for (const std::shared_ptr<Entry>& entry : EntriesOf(sandbox.id)) {
    absl::MutexLock lock(&entry->mutex);
    absl::StatusOr<runtime::v1::ContainerStats> container = StatsOf(entry->container);
    if (!container.ok()) continue;
    if (entry->container.state == runtime::v1::CONTAINER_RUNNING) {
      absl::StatusOr<CgroupUsage> usage =
          ReadCgroupUsage(entry->container.cgroups_path, options_.systemd_cgroup,
                          entry->container.id, options_.cgroup_root);
      if (usage.ok()) add(*usage);
    }
    *linux_stats.add_containers() = *std::move(container);
  }
  FillCpu(total, cpu_samples_.Observe("pod/" + sandbox.id, total), *linux_stats.mutable_cpu());
  FillMemory(total, *linux_stats.mutable_memory());
  runtime::v1::ProcessUsage& process = *linux_stats.mutable_process();
  process.set_timestamp(absl::ToUnixNanos(total.timestamp));
  process.mutable_process_count()->set_value(total.process_count);

  if (sandbox.state == runtime::v1::SANDBOX_READY && !sandbox.netns_path.empty() &&
      sandbox.pid > 0) {
    absl::StatusOr<std::vector<InterfaceUsage>> interfaces = ReadNetDev(sandbox.pid);
    if (interfaces.ok()) {
      runtime::v1::NetworkUsage& network = *linux_stats.mutable_network();
      network.set_timestamp(absl::ToUnixNanos(absl::Now()));
      auto fill = [](const InterfaceUsage& usage, runtime::v1::NetworkInterfaceUsage& item) {
        item.set_name(usage.name);
        item.mutable_rx_bytes()->set_value(usage.rx_bytes);
        item.mutable_rx_errors()->set_value(usage.rx_errors);
        item.mutable_tx_bytes()->set_value(usage.tx_bytes);
        item.mutable_tx_errors()->set_value(usage.tx_errors);
      };
      // CNI names the pod's interface eth0; otherwise the first one.
      const InterfaceUsage* primary = interfaces->empty() ? nullptr : &interfaces->front();
      for (const InterfaceUsage& usage : *interfaces)
        if (usage.name == "eth0") primary = &usage;
      if (primary != nullptr) fill(*primary, *network.mutable_default_interface());
      for (const InterfaceUsage& usage : *interfaces)
        if (&usage != primary) fill(usage, *network.add_interfaces());
    }
  }
  return stats;
}

absl::StatusOr<runtime::v1::PodSandboxStats> ContainerService::PodStats(
    const std::string& sandbox_prefix) {
  ASSIGN_OR_RETURN(std::string id, sandboxes_.ResolveId(sandbox_prefix));
  ASSIGN_OR_RETURN(Sandbox sandbox, sandboxes_.Get(id));
  return PodStatsOf(sandbox);
}

std::vector<runtime::v1::PodSandboxStats> ContainerService::ListPodStats(
    const runtime::v1::PodSandboxStatsFilter& filter) {
  runtime::v1::PodSandboxFilter sandbox_filter;
  sandbox_filter.set_id(filter.id());
  *sandbox_filter.mutable_label_selector() = filter.label_selector();
  std::vector<runtime::v1::PodSandboxStats> all;
  for (const runtime::v1::PodSandbox& pod : sandboxes_.List(sandbox_filter)) {
    absl::StatusOr<Sandbox> sandbox = sandboxes_.Get(pod.id());
    if (!sandbox.ok()) continue;
    if (absl::StatusOr<runtime::v1::PodSandboxStats> stats = PodStatsOf(*sandbox); stats.ok())
      all.push_back(*std::move(stats));
  }
  return all;
}

}  // namespace berth::cri
