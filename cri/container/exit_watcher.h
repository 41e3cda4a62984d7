#pragma once

// Learns when containers exit, for all of them on one thread: each
// monitor keeps a connection to its control socket open until it has
// written the exit file and exits, so a hangup on that connection is the
// news. Watching costs an fd per container, not a thread.

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "runtime/base/unique_fd.h"

namespace berth::cri {

class ExitWatcher {
 public:
  // `on_exit(id)` runs on the watcher's thread, once per watched id whose
  // monitor hung up (or could not be reached: it is gone already).
  explicit ExitWatcher(std::function<void(const std::string&)> on_exit);
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  absl::Status Watch(const std::string& id, const std::string& control_socket);
  void Unwatch(const std::string& id);

 private:
  void Loop();

  std::function<void(const std::string&)> on_exit_;
  UniqueFd epoll_;
  UniqueFd wakeup_;  // eventfd: tells the loop to look at stop_ and pending_
  absl::Mutex mutex_;
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  // Ids whose monitor was gone when watching began: reported from the loop,
  // never from Watch, whose caller may hold the lock on_exit takes.
  std::vector<std::string> pending_ ABSL_GUARDED_BY(mutex_);
  // Connections by a token registered with epoll; tokens are never reused.
  std::map<uint64_t, std::pair<std::string, UniqueFd>> watched_ ABSL_GUARDED_BY(mutex_);
  uint64_t next_token_ ABSL_GUARDED_BY(mutex_) = 1;
  std::thread thread_;
};

}  // namespace berth::cri
