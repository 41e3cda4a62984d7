// ListMetricDescriptors and ListPodSandboxMetrics: the cAdvisor-named
// metrics kubelet serves on /metrics/cadvisor when it takes pod and
// container stats from the CRI, from the same readers as the stats RPCs.

#include "absl/time/clock.h"
#include "cri/container/container_service.h"

namespace berth::cri {
namespace {

struct MetricSpec {
  const char* name;
  const char* help;
  runtime::v1::MetricType type;
  bool per_interface;
};

// Container metrics carry no labels (kubelet adds pod and container); the
// network ones, per pod, name the interface.
constexpr MetricSpec kMetrics[] = {
    {"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.",
     runtime::v1::COUNTER, false},
    {"container_memory_usage_bytes", "Current memory usage in bytes, including all memory.",
     runtime::v1::GAUGE, false},
    {"container_memory_working_set_bytes", "Current working set in bytes.", runtime::v1::GAUGE,
     false},
    {"container_memory_rss", "Size of RSS in bytes.", runtime::v1::GAUGE, false},
    {"container_processes", "Number of processes running inside the container.",
     runtime::v1::GAUGE, false},
    {"container_oom_events_total", "Count of out of memory events observed for the container.",
     runtime::v1::COUNTER, false},
    {"container_network_receive_bytes_total", "Cumulative count of bytes received.",
     runtime::v1::COUNTER, true},
    {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.",
     runtime::v1::COUNTER, true},
    {"container_network_receive_errors_total",
     "Cumulative count of errors encountered while receiving.", runtime::v1::COUNTER, true},
    {"container_network_transmit_errors_total",
     "Cumulative count of errors encountered while transmitting.", runtime::v1::COUNTER, true},
};

void AddMetric(google::protobuf::RepeatedPtrField<runtime::v1::Metric>& metrics, const char* name,
               int64_t now, uint64_t value, const std::string& interface = "") {
  for (const MetricSpec& spec : kMetrics) {
    if (std::string_view(spec.name) != name) continue;
    runtime::v1::Metric& metric = *metrics.Add();
    metric.set_name(name);
    metric.set_timestamp(now);
    metric.set_metric_type(spec.type);
    if (spec.per_interface) metric.add_label_values(interface);
    metric.mutable_value()->set_value(value);
  }
}

void AddUsage(google::protobuf::RepeatedPtrField<runtime::v1::Metric>& metrics,
              const CgroupUsage& usage, int64_t now) {
  AddMetric(metrics, "container_cpu_usage_seconds_total", now, usage.cpu_usage_ns / 1000000000);
  AddMetric(metrics, "container_memory_usage_bytes", now, usage.memory_usage_bytes);
  AddMetric(metrics, "container_memory_working_set_bytes", now, usage.memory_working_set_bytes);
  AddMetric(metrics, "container_memory_rss", now, usage.memory_rss_bytes);
  AddMetric(metrics, "container_processes", now, usage.process_count);
  AddMetric(metrics, "container_oom_events_total", now, usage.oom_kill_count);
}

}  // namespace

std::vector<runtime::v1::MetricDescriptor> ContainerService::MetricDescriptors() {
  std::vector<runtime::v1::MetricDescriptor> descriptors;
  for (const MetricSpec& spec : kMetrics) {
    runtime::v1::MetricDescriptor& descriptor = descriptors.emplace_back();
    descriptor.set_name(spec.name);
    descriptor.set_help(spec.help);
    if (spec.per_interface) descriptor.add_label_keys("interface");
  }
  return descriptors;
}

std::vector<runtime::v1::PodSandboxMetrics> ContainerService::PodMetrics() {
  std::vector<runtime::v1::PodSandboxMetrics> all;
  int64_t now = absl::ToUnixNanos(absl::Now());
  for (const runtime::v1::PodSandbox& pod : sandboxes_.List({})) {
    absl::StatusOr<Sandbox> sandbox = sandboxes_.Get(pod.id());
    if (!sandbox.ok() || sandbox->state != runtime::v1::SANDBOX_READY) continue;
    runtime::v1::PodSandboxMetrics& metrics = all.emplace_back();
    metrics.set_pod_sandbox_id(sandbox->id);
    if (sandbox->pid > 0 && !sandbox->netns_path.empty()) {
      if (absl::StatusOr<std::vector<InterfaceUsage>> interfaces = ReadNetDev(sandbox->pid);
          interfaces.ok()) {
        for (const InterfaceUsage& usage : *interfaces) {
          auto& m = *metrics.mutable_metrics();
          AddMetric(m, "container_network_receive_bytes_total", now, usage.rx_bytes, usage.name);
          AddMetric(m, "container_network_transmit_bytes_total", now, usage.tx_bytes, usage.name);
          AddMetric(m, "container_network_receive_errors_total", now, usage.rx_errors,
                    usage.name);
          AddMetric(m, "container_network_transmit_errors_total", now, usage.tx_errors,
                    usage.name);
        }
      }
    }
    for (const std::shared_ptr<Entry>& entry : EntriesOf(sandbox->id)) {
      absl::MutexLock lock(&entry->mutex);
      const Container& container = entry->container;
      if (container.state != runtime::v1::CONTAINER_RUNNING) continue;
      absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage(
          container.cgroups_path, options_.systemd_cgroup, container.id, options_.cgroup_root);
      if (!usage.ok()) continue;
      runtime::v1::ContainerMetrics& item = *metrics.add_container_metrics();
      item.set_container_id(container.id);
      AddUsage(*item.mutable_metrics(), *usage, now);
    }
  }
  return all;
}

}  // namespace berth::cri
