#pragma once

// Running one CNI plugin binary (SPEC.md section 2): found on the bin dirs,
// spawned (never forked: berthd is threaded) with the CNI_* variables and
// its config on stdin, killed with everything it started when it outlives
// the timeout. A failure carries the plugin's error code and message.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/base/child_process.h"

namespace berth::cni {

// The CNI_* parameters of one call. VERSION and STATUS leave the
// attachment fields empty.
struct PluginCall {
  std::string command;  // ADD, DEL, CHECK, STATUS, VERSION
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::string cni_args;
};

// The plugin's environment: `base` (berthd's own, for PATH: portmap runs
// iptables) without any CNI_* entries, then the call's CNI_* variables and
// CNI_PATH (bin dirs joined by ':'). A missing PATH gets a standard one.
std::vector<std::string> PluginEnvironment(const PluginCall& call,
                                           const std::vector<std::string>& bin_dirs,
                                           const std::vector<std::string>& base);

// The Status for a plugin that exited unsuccessfully. An error object
// ({"code", "msg", "details"}) on stdout, or else stderr, gives the code and
// message ("CNI plugin \"bridge\" ADD failed with code 7: ..."); otherwise
// the exit status and the end of stderr do.
absl::Status PluginFailure(const std::string& type, const std::string& command,
                           const ExitStatus& exit, const std::string& stdout_text,
                           const std::string& stderr_text);

// Told of every plugin run: its type, the command (ADD, DEL, ...), whether
// it succeeded, and how long it took (for berthd's metrics).
using PluginObserver = std::function<void(const std::string& type, const std::string& command,
                                          bool ok, absl::Duration took)>;

class PluginExecutor {
 public:
  PluginExecutor(std::vector<std::string> bin_dirs, absl::Duration timeout,
                 PluginObserver observer = nullptr)
      : bin_dirs_(std::move(bin_dirs)), timeout_(timeout), observer_(std::move(observer)) {}

  // The first executable file named `type` on the bin dirs; NotFound naming
  // the dirs otherwise.
  absl::StatusOr<std::string> Find(const std::string& type) const;

  // Runs plugin `type` and returns what it printed on stdout.
  absl::StatusOr<std::string> Run(const std::string& type, const PluginCall& call,
                                  const std::string& stdin_config) const;

  const std::vector<std::string>& bin_dirs() const { return bin_dirs_; }

 private:
  absl::StatusOr<std::string> RunUnobserved(const std::string& type, const PluginCall& call,
                                            const std::string& stdin_config) const;

  std::vector<std::string> bin_dirs_;
  absl::Duration timeout_;
  PluginObserver observer_;
};

}  // namespace berth::cni
