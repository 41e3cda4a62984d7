#pragma once

// One exec session, as the client sends it to the exec helper, and how it
// ended, as the helper reports it.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth {

struct ExecConfig {
  std::string container_id;
  // The container's OCI runtime, as in MonitorConfig: empty for the in-tree
  // executor. Through another runtime, exec with a terminal is refused
  // (UNIMPLEMENTED, exec_session.cc); without one it runs `<runtime> exec`.
  std::string runtime_binary;
  std::string runtime_root = "/run/berth-runtime";
  bool systemd_cgroup = false;
  // The OCI process object to run; with "terminal": true the session has a
  // terminal, and its output arrives as stdout.
  std::string process_json;
  bool stdin = false;  // otherwise the process reads /dev/null
  // Killed (SIGKILL) when it runs longer; zero means no limit.
  absl::Duration timeout = absl::ZeroDuration();
};

absl::StatusOr<ExecConfig> ParseExecConfig(absl::string_view json_text);
std::string ExecConfigToJson(const ExecConfig& config);

struct ExecExit {
  int exit_code = 0;  // 128 + signal when killed
  int signal = 0;
  bool timed_out = false;

  bool operator==(const ExecExit&) const = default;
};

absl::StatusOr<ExecExit> ParseExecExit(absl::string_view json_text);
std::string ExecExitToJson(const ExecExit& exit);

// A failure with its code, as monitors report it to their clients:
// {"code": N, "error": "message"}.
std::string StatusToJson(const absl::Status& status);
absl::Status StatusFromJson(absl::string_view json_text);

}  // namespace berth
