#include "cri/container/exit_watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "runtime/base/errno_status.h"
#include "runtime/base/logging.h"
#include "runtime/base/unix_socket.h"

namespace berth::cri {

ExitWatcher::ExitWatcher(std::function<void(const std::string&)> on_exit)
    : on_exit_(std::move(on_exit)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wakeup_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  epoll_event event{.events = EPOLLIN, .data = {.u64 = 0}};
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wakeup_.get(), &event);
  thread_ = std::thread([this] { Loop(); });
}

ExitWatcher::~ExitWatcher() {
  {
    absl::MutexLock lock(&mutex_);
    stop_ = true;
  }
  uint64_t one = 1;
  (void)!::write(wakeup_.get(), &one, sizeof(one));
  thread_.join();
}

absl::Status ExitWatcher::Watch(const std::string& id, const std::string& control_socket) {
  absl::StatusOr<UniqueFd> connection = ConnectUnix(control_socket, SOCK_SEQPACKET);
  absl::MutexLock lock(&mutex_);
  if (!connection.ok()) {
    // Nothing listens: the monitor is gone, and with it the container.
    pending_.push_back(id);
    uint64_t one = 1;
    (void)!::write(wakeup_.get(), &one, sizeof(one));
    return absl::OkStatus();
  }
  uint64_t token = next_token_++;
  epoll_event event{.events = EPOLLIN | EPOLLRDHUP, .data = {.u64 = token}};
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, connection->get(), &event) != 0)
    return ErrnoStatus("watch the monitor of " + id);
  watched_[token] = {id, *std::move(connection)};
  return absl::OkStatus();
}

void ExitWatcher::Unwatch(const std::string& id) {
  absl::MutexLock lock(&mutex_);
  for (auto it = watched_.begin(); it != watched_.end();) {
    if (it->second.first == id) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.second.get(), nullptr);
      it = watched_.erase(it);
    } else {
      ++it;
    }
  }
}

void ExitWatcher::Loop() {
  epoll_event events[32];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), events, 32, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("exit watcher: epoll_wait: {}", strerror(errno));
      return;
    }
    std::vector<std::string> exited;
    {
      absl::MutexLock lock(&mutex_);
      for (int i = 0; i < n; ++i) {
        uint64_t token = events[i].data.u64;
        if (token == 0) {
          if (stop_) return;
          uint64_t count;
          (void)!::read(wakeup_.get(), &count, sizeof(count));
          exited.insert(exited.end(), pending_.begin(), pending_.end());
          pending_.clear();
          continue;
        }
        auto it = watched_.find(token);
        if (it == watched_.end()) continue;
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.second.get(), nullptr);
        exited.push_back(it->second.first);
        watched_.erase(it);
      }
    }
    for (const std::string& id : exited) on_exit_(id);
  }
}

}  // namespace berth::cri
