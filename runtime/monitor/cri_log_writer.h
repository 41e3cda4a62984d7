#pragma once

// Container output in the CRI log format kubelet reads:
//
//   2026-11-23T06:31:26.123456789Z stdout F a whole line
//   2026-11-23T06:31:26.123456789Z stderr P the first part of a long line
//
// One entry per line of output. A line longer than the maximum entry size
// is cut into P (partial) entries followed by an F (full) one that ends it;
// output that ends without a newline is written as F when the stream closes.

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "runtime/base/unique_fd.h"

namespace berth {

enum class LogStream { kStdout, kStderr };

class CriLogWriter {
 public:
  // containerd's default: kubelet joins P entries back together.
  static constexpr size_t kDefaultMaxEntry = 16 * 1024;

  // Opens (creating, appending) the log at `path`, never through a symlink:
  // kubelet's log directories are writable by whoever can reach the node's
  // /var/log/pods, and the monitor runs as root. With `directory` (the
  // pod's log directory) the path is relative to it and must stay beneath it.
  static absl::StatusOr<CriLogWriter> Open(const std::string& path,
                                           size_t max_entry = kDefaultMaxEntry);
  static absl::StatusOr<CriLogWriter> OpenBeneath(const std::string& directory,
                                                  const std::string& path,
                                                  size_t max_entry = kDefaultMaxEntry);

  // Appends output of one stream. Complete lines are written at once;
  // a trailing partial line waits for more (or for Close).
  absl::Status Write(LogStream stream, absl::string_view data);
  // Writes what is pending for `stream` as F: its output ended.
  absl::Status Close(LogStream stream);
  // Reopens the file by path (the same way as Open), after kubelet rotated it. Pending partial
  // lines stay pending, so nothing is lost or split across files.
  absl::Status Reopen();

  // The clock, for tests.
  void set_clock(absl::Time (*now)()) { now_ = now; }

 private:
  CriLogWriter(std::string directory, std::string path, UniqueFd fd, size_t max_entry)
      : directory_(std::move(directory)),
        path_(std::move(path)),
        fd_(std::move(fd)),
        max_entry_(max_entry) {}
  absl::Status Emit(LogStream stream, char tag, absl::string_view content);

  std::string directory_;
  std::string path_;
  UniqueFd fd_;
  size_t max_entry_;
  std::string pending_[2];
  absl::Time (*now_)() = &absl::Now;
};

// Formats one entry (exposed for tests and readers).
std::string CriLogEntry(absl::Time time, LogStream stream, char tag, absl::string_view content);

}  // namespace berth
