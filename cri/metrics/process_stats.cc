#include "cri/metrics/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

template <typename Number>
absl::Status ParseField(const std::vector<absl::string_view>& fields, size_t number, Number& out) {
  // `number` counts from 1 as proc(5) does; fields[0] is field 3 (state).
  size_t index = number - 3;
  if (index >= fields.size() || !absl::SimpleAtoi(fields[index], &out))
    return absl::InvalidArgumentError(absl::StrCat("/proc/self/stat: bad field ", number));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ProcessStats> ParseProcStat(absl::string_view stat, long clock_ticks, long page_size,
                                           double boot_time_seconds) {
  // "pid (comm) state ...": comm may hold spaces and parentheses.
  size_t close = stat.rfind(')');
  if (close == absl::string_view::npos || close + 2 > stat.size())
    return absl::InvalidArgumentError("/proc/self/stat: no command field");
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
  uint64_t utime = 0, stime = 0, start_ticks = 0, vsize = 0;
  int64_t threads = 0, rss_pages = 0;
  RETURN_IF_ERROR(ParseField(fields, 14, utime));
  RETURN_IF_ERROR(ParseField(fields, 15, stime));
  RETURN_IF_ERROR(ParseField(fields, 20, threads));
  RETURN_IF_ERROR(ParseField(fields, 22, start_ticks));
  RETURN_IF_ERROR(ParseField(fields, 23, vsize));
  RETURN_IF_ERROR(ParseField(fields, 24, rss_pages));
  ProcessStats stats;
  double ticks = static_cast<double>(clock_ticks);
  stats.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  stats.threads = threads;
  stats.start_time_seconds = boot_time_seconds + static_cast<double>(start_ticks) / ticks;
  stats.virtual_bytes = vsize;
  stats.resident_bytes = static_cast<uint64_t>(rss_pages) * static_cast<uint64_t>(page_size);
  return stats;
}

absl::StatusOr<double> ParseBootTime(absl::string_view proc_stat) {
  for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    double seconds = 0;
    if (absl::SimpleAtod(line, &seconds)) return seconds;
  }
  return absl::InvalidArgumentError("/proc/stat: no btime line");
}

absl::StatusOr<ProcessStats> ReadProcessStats() {
  ASSIGN_OR_RETURN(std::string stat, ReadFileToString("/proc/self/stat"));
  ASSIGN_OR_RETURN(std::string system, ReadFileToString("/proc/stat"));
  ASSIGN_OR_RETURN(double boot, ParseBootTime(system));
  ASSIGN_OR_RETURN(ProcessStats stats,
                   ParseProcStat(stat, ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE), boot));
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error))
    ++stats.open_fds;
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = static_cast<int64_t>(limit.rlim_cur);
  return stats;
}

}  // namespace berth::cri
