#include "cri/metrics/metrics.h"

namespace berth::cri {
namespace {

class NoopMetrics final : public Metrics {
 public:
  void RpcDone(absl::string_view, absl::string_view, absl::Duration) override {}
  void PullDone(absl::string_view, uint64_t, absl::Duration) override {}
  void CniPluginDone(absl::string_view, absl::string_view, bool, absl::Duration) override {}
};

}  // namespace

Metrics& NoMetrics() {
  static NoopMetrics none;
  return none;
}

}  // namespace berth::cri
