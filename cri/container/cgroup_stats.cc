#include "cri/container/cgroup_stats.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroups/cgroup_files.h"
#include "runtime/cgroups/cgroup_manager.h"
#include "runtime/cgroups/cgroup_v1.h"
#include "runtime/cgroups/cgroup_v2.h"

namespace berth::cri {
namespace {

// v1 reports "no limit" as PAGE_COUNTER_MAX in bytes (9223372036854771712 with
// 4 KiB pages); containerd treats anything above 2^62 as unlimited.
constexpr uint64_t kV1UnlimitedAbove = uint64_t{1} << 62;

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::Status CgroupGone(const std::string& dir) {
  return absl::NotFoundError(absl::StrCat("cgroup ", dir, " does not exist"));
}

absl::Status Malformed(const std::string& path, absl::string_view problem) {
  return absl::InternalError(absl::StrCat("malformed ", path, ": ", problem));
}

// The text of <dir>/<file>; nullopt when the file is absent from a cgroup that
// still exists (its controller is not enabled there), NotFound when the cgroup
// itself went away.
absl::StatusOr<std::optional<std::string>> ReadIfPresent(const std::string& dir,
                                                         const std::string& file) {
  absl::StatusOr<std::string> text = cgroups::ReadControl(dir, file);
  if (text.ok()) return std::optional<std::string>(*std::move(text));
  if (!absl::IsNotFound(text.status())) return text.status();
  if (!IsDirectory(dir)) return CgroupGone(dir);
  return std::optional<std::string>();
}

// For a file that exists whenever its controller's other files do.
absl::StatusOr<std::string> ReadRequired(const std::string& dir, const std::string& file) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, ReadIfPresent(dir, file));
  if (!text.has_value()) return absl::InternalError(absl::StrCat(dir, "/", file, " is missing"));
  return *std::move(text);
}

// A single-value file: "123\n".
absl::StatusOr<uint64_t> ParseValue(const std::string& dir, const std::string& file,
                                    absl::string_view text) {
  absl::string_view value_text = absl::StripAsciiWhitespace(text);
  uint64_t value;
  if (!absl::SimpleAtoi(value_text, &value)) {
    return Malformed(absl::StrCat(dir, "/", file),
                     absl::StrCat("\"", value_text, "\" is not a number"));
  }
  return value;
}

// A "flat keyed" file, one "key value" per line: v2's cpu.stat, memory.stat,
// memory.events; v1's memory.stat and memory.oom_control. Every line must have
// that shape; only the values asked for must be numbers.
class KeyedFile {
 public:
  static absl::StatusOr<KeyedFile> Parse(const std::string& dir, const std::string& file,
                                         absl::string_view text) {
    KeyedFile parsed;
    parsed.path_ = absl::StrCat(dir, "/", file);
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
      std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (fields.size() != 2) {
        return Malformed(parsed.path_, absl::StrCat("line \"", line, "\" is not \"key value\""));
      }
      parsed.values_.emplace(std::string(fields[0]), std::string(fields[1]));
    }
    return parsed;
  }

  absl::StatusOr<uint64_t> Get(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) return Malformed(path_, absl::StrCat("no ", key));
    uint64_t value;
    if (!absl::SimpleAtoi(it->second, &value)) {
      return Malformed(path_, absl::StrCat(key, " \"", it->second, "\" is not a number"));
    }
    return value;
  }

  // For keys that older kernels lack (oom_kill appeared in 4.13).
  absl::StatusOr<uint64_t> GetOrZero(const std::string& key) const {
    return values_.contains(key) ? Get(key) : absl::StatusOr<uint64_t>(0);
  }

 private:
  std::string path_;
  std::map<std::string, std::string> values_;
};

absl::StatusOr<KeyedFile> ReadKeyed(const std::string& dir, const std::string& file) {
  ASSIGN_OR_RETURN(std::string text, ReadRequired(dir, file));
  return KeyedFile::Parse(dir, file, text);
}

// containerd's getWorkingSet / getAvailableBytes, shared by v1 and v2.
void SetMemory(uint64_t usage, uint64_t inactive_file, std::optional<uint64_t> limit,
               CgroupUsage& out) {
  out.memory_usage_bytes = usage;
  out.memory_working_set_bytes = inactive_file < usage ? usage - inactive_file : 0;
  if (limit.has_value() && *limit > out.memory_working_set_bytes) {
    out.memory_available_bytes = *limit - out.memory_working_set_bytes;
  }
}

// pids.current counts tasks; without it (no pids controller, or the root
// cgroup, which has none) the processes in cgroup.procs are counted.
absl::Status SetProcessCount(CgroupManager& manager, const std::string* pids_dir,
                             CgroupUsage& out) {
  if (pids_dir != nullptr) {
    ASSIGN_OR_RETURN(std::optional<std::string> current, ReadIfPresent(*pids_dir, "pids.current"));
    if (current.has_value()) {
      ASSIGN_OR_RETURN(out.process_count, ParseValue(*pids_dir, "pids.current", *current));
      return absl::OkStatus();
    }
  }
  ASSIGN_OR_RETURN(std::vector<pid_t> pids, manager.Pids());
  out.process_count = pids.size();
  return absl::OkStatus();
}

// v1 hierarchies under `mount_root`: those mountinfo lists there (how the
// executor finds them), else the directories of an unmounted tree, named by
// their controllers ("cpu,cpuacct", "memory", "name=systemd" as "systemd").
absl::StatusOr<std::map<std::string, std::string>> V1Hierarchies(const std::string& mount_root) {
  std::map<std::string, std::string> found;
  ASSIGN_OR_RETURN(auto mounted, CgroupV1Manager::MountedHierarchies());
  for (auto& [controller, mount_point] : mounted) {
    if (absl::StartsWith(mount_point, mount_root + "/")) found.emplace(controller, mount_point);
  }
  if (!found.empty()) return found;
  std::error_code error;
  std::filesystem::directory_iterator it(mount_root, error);
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    std::error_code ignored;
    if (!it->is_directory(ignored)) continue;  // follows the cpu -> cpu,cpuacct symlinks
    std::string name = it->path().filename().string();
    for (absl::string_view controller : absl::StrSplit(name, ',')) {
      found.emplace(std::string(controller), it->path().string());
    }
  }
  if (error) return ErrnoToStatus(error.value(), "list cgroup root " + mount_root);
  return found;
}

// The executor's view of the cgroup: NewCgroupManager itself cannot be used,
// since it takes v1 hierarchies from mountinfo whatever `mount_root` is and
// tells v2 only by statfs. Constructing a manager has no side effects.
absl::StatusOr<std::unique_ptr<CgroupManager>> ManagerForReading(const std::string& path,
                                                                 const std::string& mount_root) {
  struct statfs fs;
  if (::statfs(mount_root.c_str(), &fs) != 0) {
    return absl::FailedPreconditionError(ErrnoStatus("statfs cgroup root " + mount_root).message());
  }
  if (fs.f_type == CGROUP2_SUPER_MAGIC ||
      ::access((mount_root + "/cgroup.controllers").c_str(), F_OK) == 0) {
    return std::make_unique<CgroupV2Manager>(mount_root, path);
  }
  ASSIGN_OR_RETURN(auto hierarchies, V1Hierarchies(mount_root));
  if (hierarchies.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no cgroup v1 or v2 hierarchy under ", mount_root));
  }
  return std::make_unique<CgroupV1Manager>(std::move(hierarchies), path);
}

absl::StatusOr<CgroupUsage> ReadV1(CgroupManager& manager, const std::string& path,
                                   const std::string& mount_root) {
  std::map<std::string, std::string> dirs = manager.Dirs();
  // The controllers read; one the cgroup is missing from (or the host lacks)
  // leaves its fields 0, but the cgroup must be in at least one.
  std::map<std::string, std::string> present;
  bool any_hierarchy = false;
  for (const char* controller : {"cpuacct", "memory", "pids"}) {
    auto it = dirs.find(controller);
    if (it == dirs.end()) continue;
    any_hierarchy = true;
    if (IsDirectory(it->second)) present.emplace(controller, it->second);
  }
  if (!any_hierarchy) {
    return absl::FailedPreconditionError(
        absl::StrCat("no cpuacct, memory or pids cgroup hierarchy under ", mount_root));
  }
  if (present.empty()) {
    return absl::NotFoundError(absl::StrCat("cgroup ", path, " does not exist under ", mount_root));
  }
  auto dir_of = [&present](const char* controller) -> const std::string* {
    auto it = present.find(controller);
    return it == present.end() ? nullptr : &it->second;
  };

  CgroupUsage usage;
  if (const std::string* dir = dir_of("cpuacct")) {
    ASSIGN_OR_RETURN(std::string text, ReadRequired(*dir, "cpuacct.usage"));
    ASSIGN_OR_RETURN(usage.cpu_usage_ns, ParseValue(*dir, "cpuacct.usage", text));
  }
  usage.timestamp = absl::Now();

  if (const std::string* dir = dir_of("memory")) {
    ASSIGN_OR_RETURN(std::string usage_text, ReadRequired(*dir, "memory.usage_in_bytes"));
    ASSIGN_OR_RETURN(uint64_t bytes, ParseValue(*dir, "memory.usage_in_bytes", usage_text));
    ASSIGN_OR_RETURN(std::string limit_text, ReadRequired(*dir, "memory.limit_in_bytes"));
    ASSIGN_OR_RETURN(uint64_t limit, ParseValue(*dir, "memory.limit_in_bytes", limit_text));
    // total_*: this cgroup and its descendants, as usage_in_bytes counts them.
    ASSIGN_OR_RETURN(KeyedFile stat, ReadKeyed(*dir, "memory.stat"));
    ASSIGN_OR_RETURN(uint64_t inactive_file, stat.Get("total_inactive_file"));
    ASSIGN_OR_RETURN(usage.memory_rss_bytes, stat.Get("total_rss"));
    ASSIGN_OR_RETURN(usage.page_faults, stat.Get("total_pgfault"));
    ASSIGN_OR_RETURN(usage.major_page_faults, stat.Get("total_pgmajfault"));
    ASSIGN_OR_RETURN(KeyedFile oom_control, ReadKeyed(*dir, "memory.oom_control"));
    ASSIGN_OR_RETURN(usage.oom_kill_count, oom_control.GetOrZero("oom_kill"));
    SetMemory(bytes, inactive_file,
              limit > kV1UnlimitedAbove ? std::nullopt : std::optional<uint64_t>(limit), usage);
  }

  RETURN_IF_ERROR(SetProcessCount(manager, dir_of("pids"), usage));
  return usage;
}

absl::StatusOr<CgroupUsage> ReadV2(CgroupManager& manager, const std::string& path,
                                   const std::string& mount_root) {
  const std::string dir = manager.Dirs().at("");
  if (!IsDirectory(dir)) {
    return absl::NotFoundError(absl::StrCat("cgroup ", path, " does not exist under ", mount_root));
  }
  CgroupUsage usage;
  // cpu.stat's usage_usec is a core file, there without the cpu controller.
  ASSIGN_OR_RETURN(std::optional<std::string> cpu_stat, ReadIfPresent(dir, "cpu.stat"));
  if (cpu_stat.has_value()) {
    ASSIGN_OR_RETURN(KeyedFile stat, KeyedFile::Parse(dir, "cpu.stat", *cpu_stat));
    ASSIGN_OR_RETURN(uint64_t usage_usec, stat.Get("usage_usec"));
    usage.cpu_usage_ns = usage_usec * 1000;
  }
  usage.timestamp = absl::Now();

  // The memory.* files exist only where the parent enabled the controller.
  ASSIGN_OR_RETURN(std::optional<std::string> current, ReadIfPresent(dir, "memory.current"));
  if (current.has_value()) {
    ASSIGN_OR_RETURN(uint64_t bytes, ParseValue(dir, "memory.current", *current));
    ASSIGN_OR_RETURN(std::string max_text, ReadRequired(dir, "memory.max"));
    std::optional<uint64_t> limit;
    if (absl::StripAsciiWhitespace(max_text) != "max") {
      ASSIGN_OR_RETURN(limit, ParseValue(dir, "memory.max", max_text));
    }
    ASSIGN_OR_RETURN(KeyedFile stat, ReadKeyed(dir, "memory.stat"));
    ASSIGN_OR_RETURN(uint64_t inactive_file, stat.Get("inactive_file"));
    ASSIGN_OR_RETURN(usage.memory_rss_bytes, stat.Get("anon"));
    ASSIGN_OR_RETURN(usage.page_faults, stat.Get("pgfault"));
    ASSIGN_OR_RETURN(usage.major_page_faults, stat.Get("pgmajfault"));
    // memory.events (not .local): kills in this cgroup and below, as v1 counts.
    ASSIGN_OR_RETURN(KeyedFile events, ReadKeyed(dir, "memory.events"));
    ASSIGN_OR_RETURN(usage.oom_kill_count, events.GetOrZero("oom_kill"));
    SetMemory(bytes, inactive_file, limit, usage);
  }

  RETURN_IF_ERROR(SetProcessCount(manager, &dir, usage));
  return usage;
}

}  // namespace

absl::StatusOr<CgroupUsage> ReadCgroupUsage(const std::string& cgroups_path, bool systemd,
                                            const std::string& id, const std::string& mount_root) {
  ASSIGN_OR_RETURN(std::string path, ContainerCgroupPath(cgroups_path, systemd, id));
  std::string root(mount_root.size() > 1 ? absl::StripSuffix(mount_root, "/") : mount_root);
  ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> manager, ManagerForReading(path, root));
  return manager->version() == 2 ? ReadV2(*manager, path, root) : ReadV1(*manager, path, root);
}

uint64_t NanoCores(const CgroupUsage& earlier, const CgroupUsage& later) {
  if (later.timestamp <= earlier.timestamp || later.cpu_usage_ns < earlier.cpu_usage_ns) return 0;
  int64_t wall_ns = absl::ToInt64Nanoseconds(later.timestamp - earlier.timestamp);
  if (wall_ns <= 0) return 0;
  // 128 bits: a cpu delta above ~18 s times 1e9 overflows 64.
  absl::uint128 nano_cores = absl::uint128(later.cpu_usage_ns - earlier.cpu_usage_ns) *
                             1'000'000'000 / static_cast<uint64_t>(wall_ns);
  if (absl::Uint128High64(nano_cores) != 0) return std::numeric_limits<uint64_t>::max();
  return absl::Uint128Low64(nano_cores);
}

absl::StatusOr<std::vector<InterfaceUsage>> ParseNetDev(absl::string_view text) {
  // Two header lines ("Inter-|   Receive ...|  Transmit", " face |bytes ..."),
  // then "%6s: " and 16 counters: rx bytes packets errs drop fifo frame
  // compressed multicast, tx bytes packets errs drop fifo colls carrier
  // compressed. Older kernels print no space after the colon. Interface names
  // cannot contain ':' or whitespace.
  constexpr size_t kCounters = 16;
  constexpr size_t kRxBytes = 0, kRxErrors = 2, kTxBytes = 8, kTxErrors = 10;
  std::vector<InterfaceUsage> interfaces;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      if (line.find('|') != absl::string_view::npos) continue;  // a header line
      return absl::InvalidArgumentError(
          absl::StrCat("net/dev line ", line_number, " \"", line, "\": no interface name"));
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(line.substr(colon + 1), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != kCounters) {
      return absl::InvalidArgumentError(absl::StrCat("net/dev line ", line_number, " \"", line,
                                                     "\": ", fields.size(), " counters, want ",
                                                     kCounters));
    }
    uint64_t counters[kCounters];
    for (size_t i = 0; i < kCounters; ++i) {
      if (!absl::SimpleAtoi(fields[i], &counters[i])) {
        return absl::InvalidArgumentError(absl::StrCat("net/dev line ", line_number, " \"", line,
                                                       "\": \"", fields[i], "\" is not a number"));
      }
    }
    std::string name(absl::StripAsciiWhitespace(line.substr(0, colon)));
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("net/dev line ", line_number, " \"", line, "\": no interface name"));
    }
    if (name == "lo") continue;
    interfaces.push_back(InterfaceUsage{.name = std::move(name),
                                        .rx_bytes = counters[kRxBytes],
                                        .rx_errors = counters[kRxErrors],
                                        .tx_bytes = counters[kTxBytes],
                                        .tx_errors = counters[kTxErrors]});
  }
  return interfaces;
}

absl::StatusOr<std::vector<InterfaceUsage>> ReadNetDev(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/net/dev");
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  absl::StatusOr<std::vector<InterfaceUsage>> interfaces = ParseNetDev(text);
  if (!interfaces.ok()) {
    return absl::Status(interfaces.status().code(),
                        absl::StrCat(path, ": ", interfaces.status().message()));
  }
  return interfaces;
}

uint64_t CpuSampler::Observe(const std::string& id, const CgroupUsage& usage) {
  absl::MutexLock lock(&mutex_);
  auto [it, inserted] = entries_.try_emplace(id, Entry{.last = usage});
  if (inserted) return 0;
  Entry& entry = it->second;
  if (usage.timestamp <= entry.last.timestamp) return entry.nano_cores;
  entry.nano_cores = NanoCores(entry.last, usage);
  entry.last = usage;
  return entry.nano_cores;
}

void CpuSampler::Forget(const std::string& id) {
  absl::MutexLock lock(&mutex_);
  entries_.erase(id);
}

}  // namespace berth::cri
