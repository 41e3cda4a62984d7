#include "cri/container/container_events.h"

#include "absl/time/clock.h"

namespace berth::cri {

std::optional<runtime::v1::ContainerEventResponse> ContainerEvents::Subscription::Next(
    absl::Duration timeout) {
  absl::MutexLock lock(&mutex_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mutex_) {
    return !queue_.empty() || overflowed_;
  };
  mutex_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (queue_.empty()) return std::nullopt;
  runtime::v1::ContainerEventResponse event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

bool ContainerEvents::Subscription::overflowed() const {
  absl::MutexLock lock(&mutex_);
  return overflowed_;
}

std::shared_ptr<ContainerEvents::Subscription> ContainerEvents::Subscribe() {
  auto subscription = std::make_shared<Subscription>();
  absl::MutexLock lock(&mutex_);
  absl::Time now = absl::Now();
  std::erase_if(retained_, [&](const auto& retained) { return retained.first <= now; });
  {
    absl::MutexLock queue_lock(&subscription->mutex_);
    for (const auto& [until, event] : retained_) subscription->queue_.push_back(event);
  }
  subscribers_.insert(subscription);
  return subscription;
}

void ContainerEvents::PublishRetained(const runtime::v1::ContainerEventResponse& event,
                                      absl::Duration keep) {
  {
    absl::MutexLock lock(&mutex_);
    if (retained_.size() >= kBacklog) retained_.pop_front();
    retained_.emplace_back(absl::Now() + keep, event);
  }
  Publish(event);
}

void ContainerEvents::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  absl::MutexLock lock(&mutex_);
  subscribers_.erase(subscription);
}

bool ContainerEvents::HasSubscribers() {
  absl::MutexLock lock(&mutex_);
  return !subscribers_.empty();
}

void ContainerEvents::Publish(const runtime::v1::ContainerEventResponse& event) {
  absl::MutexLock lock(&mutex_);
  for (const std::shared_ptr<Subscription>& subscriber : subscribers_) {
    absl::MutexLock queue_lock(&subscriber->mutex_);
    if (subscriber->overflowed_) continue;
    if (subscriber->queue_.size() >= kBacklog) {
      subscriber->overflowed_ = true;
      subscriber->queue_.clear();
      continue;
    }
    subscriber->queue_.push_back(event);
  }
}

}  // namespace berth::cri
