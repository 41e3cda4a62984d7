#include "cri/metrics/metrics_server.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cri/metrics/process_stats.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace berth::cri {
namespace {

// From half a millisecond (a status RPC) to a minute (a pull, a stop).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return buckets;
}

prometheus::MetricFamily Gauges(const std::string& name, const std::string& help) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = prometheus::MetricType::Gauge;
  return family;
}

void AddGauge(prometheus::MetricFamily& family, double value,
              std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

// What is read at scrape time: the services' counts and the process.
class ScrapeTimeGauges final : public prometheus::Collectable {
 public:
  void SetCounts(std::function<NodeCounts()> counts) {
    absl::MutexLock lock(&mutex_);
    counts_ = std::move(counts);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    std::function<NodeCounts()> read;
    {
      absl::MutexLock lock(&mutex_);
      read = counts_;
    }
    NodeCounts counts = read ? read() : NodeCounts{};
    prometheus::MetricFamily sandboxes = Gauges("berth_sandboxes", "Pod sandboxes by state.");
    for (const auto& [state, n] : counts.sandboxes_by_state)
      AddGauge(sandboxes, n, {{"state", state}});
    families.push_back(std::move(sandboxes));
    prometheus::MetricFamily containers = Gauges("berth_containers", "Containers by state.");
    for (const auto& [state, n] : counts.containers_by_state)
      AddGauge(containers, n, {{"state", state}});
    families.push_back(std::move(containers));
    prometheus::MetricFamily monitors =
        Gauges("berth_monitors_alive", "berth-monitor processes alive (pods' and containers').");
    AddGauge(monitors, counts.monitors_alive);
    families.push_back(std::move(monitors));

    absl::StatusOr<ProcessStats> process = ReadProcessStats();
    if (!process.ok()) return families;
    auto add = [&](const char* name, const char* help, double value,
                   prometheus::MetricType type = prometheus::MetricType::Gauge) {
      prometheus::MetricFamily family = Gauges(name, help);
      family.type = type;
      prometheus::ClientMetric metric;
      if (type == prometheus::MetricType::Counter) {
        metric.counter.value = value;
      } else {
        metric.gauge.value = value;
      }
      family.metric.push_back(std::move(metric));
      families.push_back(std::move(family));
    };
    add("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
        process->cpu_seconds, prometheus::MetricType::Counter);
    add("process_resident_memory_bytes", "Resident memory size in bytes.",
        static_cast<double>(process->resident_bytes));
    add("process_virtual_memory_bytes", "Virtual memory size in bytes.",
        static_cast<double>(process->virtual_bytes));
    add("process_start_time_seconds", "Start time of the process since the epoch in seconds.",
        process->start_time_seconds);
    add("process_open_fds", "Number of open file descriptors.",
        static_cast<double>(process->open_fds));
    add("process_max_fds", "Maximum number of open file descriptors.",
        static_cast<double>(process->max_fds));
    add("process_threads", "Number of OS threads in the process.",
        static_cast<double>(process->threads));
    return families;
  }

 private:
  mutable absl::Mutex mutex_;
  std::function<NodeCounts()> counts_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace

struct MetricsServer::State {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<ScrapeTimeGauges> gauges;
  std::unique_ptr<prometheus::Exposer> exposer;
  prometheus::Family<prometheus::Histogram>* rpc_seconds = nullptr;
  prometheus::Family<prometheus::Histogram>* pull_seconds = nullptr;
  prometheus::Family<prometheus::Counter>* pull_bytes = nullptr;
  prometheus::Family<prometheus::Counter>* pull_failures = nullptr;
  prometheus::Family<prometheus::Histogram>* cni_seconds = nullptr;
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address) {
  auto state = std::make_unique<State>();
  prometheus::Registry& registry = *state->registry;
  state->rpc_seconds = &prometheus::BuildHistogram()
                            .Name("berth_cri_rpc_duration_seconds")
                            .Help("CRI RPCs served, by method and gRPC status code.")
                            .Register(registry);
  state->pull_seconds = &prometheus::BuildHistogram()
                             .Name("berth_image_pull_duration_seconds")
                             .Help("Image pulls, by result (success, failure).")
                             .Register(registry);
  state->pull_bytes = &prometheus::BuildCounter()
                           .Name("berth_image_pull_bytes_total")
                           .Help("Bytes downloaded by image pulls.")
                           .Register(registry);
  state->pull_failures = &prometheus::BuildCounter()
                              .Name("berth_image_pull_failures_total")
                              .Help("Failed image pulls, by reason (the error's gRPC code).")
                              .Register(registry);
  state->cni_seconds = &prometheus::BuildHistogram()
                            .Name("berth_cni_plugin_duration_seconds")
                            .Help("CNI plugin runs, by plugin, command and result.")
                            .Register(registry);
  state->gauges = std::make_shared<ScrapeTimeGauges>();
  try {
    state->exposer = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics.address ", address, ": cannot listen: ", e.what()));
  }
  state->exposer->RegisterCollectable(state->registry);
  state->exposer->RegisterCollectable(state->gauges);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

MetricsServer::MetricsServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

MetricsServer::~MetricsServer() = default;

void MetricsServer::SetCounts(std::function<NodeCounts()> counts) {
  state_->gauges->SetCounts(std::move(counts));
}

int MetricsServer::port() const {
  std::vector<int> ports = state_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports[0];
}

void MetricsServer::RpcDone(absl::string_view method, absl::string_view code, absl::Duration took) {
  state_->rpc_seconds
      ->Add({{"method", std::string(method)}, {"code", std::string(code)}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(took));
}

void MetricsServer::PullDone(absl::string_view failure, uint64_t bytes, absl::Duration took) {
  state_->pull_seconds->Add({{"result", failure.empty() ? "success" : "failure"}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(took));
  state_->pull_bytes->Add({}).Increment(static_cast<double>(bytes));
  if (!failure.empty()) state_->pull_failures->Add({{"reason", std::string(failure)}}).Increment();
}

void MetricsServer::CniPluginDone(absl::string_view plugin, absl::string_view command, bool ok,
                                  absl::Duration took) {
  state_->cni_seconds
      ->Add({{"plugin", std::string(plugin)},
             {"command", std::string(command)},
             {"result", ok ? "success" : "failure"}},
            LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(took));
}

}  // namespace berth::cri
