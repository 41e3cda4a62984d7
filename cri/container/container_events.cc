#include "cri/container/container_events.h"

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
  subscribers_.insert(subscription);
  return subscription;
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
