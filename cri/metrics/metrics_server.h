#pragma once

// berthd's Prometheus endpoint (metrics.address): http://<address>/metrics
// in the text exposition format. Counters and histograms are fed through
// the Metrics interface; pod, container and monitor counts and the
// process_* figures are read when Prometheus scrapes.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cri/metrics/metrics.h"

namespace berth::cri {

// The services' state at scrape time.
struct NodeCounts {
  std::map<std::string, int> sandboxes_by_state;   // "SANDBOX_READY" -> 2
  std::map<std::string, int> containers_by_state;  // "CONTAINER_RUNNING" -> 5
  int monitors_alive = 0;                          // berth-monitor processes
};

class MetricsServer : public Metrics {
 public:
  // Listens on `address` ("127.0.0.1:9095"; port 0 picks one).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address);
  ~MetricsServer() override;

  // Called on every scrape, from the server's threads, once the services
  // exist; until then the counts are zero.
  void SetCounts(std::function<NodeCounts()> counts);

  // The port it listens on.
  int port() const;

  void RpcDone(absl::string_view method, absl::string_view code, absl::Duration took) override;
  void PullDone(absl::string_view failure, uint64_t bytes, absl::Duration took) override;
  void CniPluginDone(absl::string_view plugin, absl::string_view command, bool ok,
                     absl::Duration took) override;

 private:
  struct State;
  explicit MetricsServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace berth::cri
