#pragma once

// GetContainerEvents' fan-out: every published event reaches every
// subscriber in order. A subscriber that falls more than kBacklog events
// behind is cut off (its stream ends with an error) rather than making
// berthd buffer without bound; kubelet then relists, as it does with
// containerd.

#include <deque>
#include <memory>
#include <optional>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

class ContainerEvents {
 public:
  static constexpr size_t kBacklog = 4096;

  class Subscription {
   public:
    // The next event; nullopt on timeout. `overflowed` tells a cut-off.
    std::optional<runtime::v1::ContainerEventResponse> Next(absl::Duration timeout);
    bool overflowed() const;

   private:
    friend class ContainerEvents;
    mutable absl::Mutex mutex_;
    std::deque<runtime::v1::ContainerEventResponse> queue_ ABSL_GUARDED_BY(mutex_);
    bool overflowed_ ABSL_GUARDED_BY(mutex_) = false;
  };

  std::shared_ptr<Subscription> Subscribe();
  // For what berthd learns at startup (containers that exited while it was
  // down): published to those subscribed, and also handed to whoever
  // subscribes within `keep` of now; kubelet reconnects right after a
  // restart and must not miss these.
  void PublishRetained(const runtime::v1::ContainerEventResponse& event,
                       absl::Duration keep = absl::Minutes(2));
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);
  void Publish(const runtime::v1::ContainerEventResponse& event);
  // Building an event costs a pod status; with no one listening it is skipped.
  bool HasSubscribers();

 private:
  absl::Mutex mutex_;
  std::set<std::shared_ptr<Subscription>> subscribers_ ABSL_GUARDED_BY(mutex_);
  // Retained events with the time until which new subscribers get them.
  std::deque<std::pair<absl::Time, runtime::v1::ContainerEventResponse>> retained_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace berth::cri
