#include "cri/metrics/monitor_processes.h"

#include <cctype>
#include <filesystem>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/atomic_file.h"

namespace berth::cri {

bool IsMonitorOf(absl::string_view cmdline, absl::string_view state_dir) {
  std::vector<absl::string_view> args = absl::StrSplit(cmdline, '\0');
  if (args.size() < 3) return false;
  absl::string_view program = args[0];
  size_t slash = program.rfind('/');
  if (slash != absl::string_view::npos) program.remove_prefix(slash + 1);
  if (program != "berth-monitor") return false;
  std::string prefix = absl::StrCat(state_dir, "/");
  for (size_t i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == "--config") return absl::StartsWith(args[i + 1], prefix);
  }
  return false;
}

absl::StatusOr<int> CountLiveMonitors(const std::string& state_dir) {
  std::error_code error;
  std::filesystem::directory_iterator proc("/proc", error);
  if (error) return absl::UnavailableError("read /proc: " + error.message());
  int count = 0;
  for (const std::filesystem::directory_entry& entry : proc) {
    std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    // A process that ended meanwhile is simply not counted.
    absl::StatusOr<std::string> cmdline = ReadFileToString(entry.path().string() + "/cmdline");
    if (cmdline.ok() && IsMonitorOf(*cmdline, state_dir)) ++count;
  }
  return count;
}

}  // namespace berth::cri
