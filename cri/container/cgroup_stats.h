#pragma once

// What the CRI stats RPCs (ContainerStats, PodSandboxStats,
// ListPodSandboxMetrics) report, read from the kernel: a cgroup's CPU, memory
// and process counters (cgroup v1 or v2), and a network namespace's interface
// counters (/proc/<pid>/net/dev). Reading never creates or changes a cgroup.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::cri {

// One sample of a cgroup. Memory derivations follow containerd's CRI plugin
// (and cAdvisor), which is what kubelet's eviction thresholds are tuned for.
struct CgroupUsage {
  absl::Time timestamp;                   // when cpu_usage_ns was read
  uint64_t cpu_usage_ns = 0;              // cumulative CPU time
  uint64_t memory_usage_bytes = 0;        // v1 memory.usage_in_bytes, v2 memory.current
  uint64_t memory_working_set_bytes = 0;  // usage minus inactive_file (v1 total_inactive_file),
                                          // floored at 0
  uint64_t memory_rss_bytes = 0;          // v1 total_rss, v2 anon
  uint64_t page_faults = 0;               // v1 total_pgfault, v2 pgfault
  uint64_t major_page_faults = 0;         // v1 total_pgmajfault, v2 pgmajfault
  uint64_t memory_available_bytes = 0;    // limit - working set when a limit is set, else 0
  uint64_t process_count = 0;             // pids.current, or the number of pids in
                                          // cgroup.procs when there is no pids.current
  uint64_t oom_kill_count = 0;            // v1 memory.oom_control oom_kill,
                                          // v2 memory.events oom_kill
};

// Reads the cgroup named by an OCI cgroupsPath, resolved as the executor
// resolves it (ContainerCgroupPath: "" -> /berth/<id>, systemd
// "slice:prefix:name" -> .../prefix-name.scope), under `mount_root`.
// v2 when `mount_root` is a cgroup2 mount or holds cgroup.controllers (a
// copied tree); otherwise v1, with the hierarchies mounted under `mount_root`
// (from mountinfo, as the executor finds them), or, when none is, its
// subdirectories ("cpu,cpuacct", "memory", ...). A controller the cgroup
// lacks leaves its fields 0.
// NotFound when the cgroup does not exist (the container is gone), also when
// it vanishes during the read; Internal naming the file for a file that does
// not parse; FailedPrecondition when `mount_root` holds no cgroups at all.
absl::StatusOr<CgroupUsage> ReadCgroupUsage(const std::string& cgroups_path, bool systemd,
                                            const std::string& id,
                                            const std::string& mount_root = "/sys/fs/cgroup");

// CPU nano-cores between two samples of the same cgroup, as CRI's
// usage_nano_cores: delta cpu / delta wall. 0 when `later` is not later or
// its CPU counter went backwards.
uint64_t NanoCores(const CgroupUsage& earlier, const CgroupUsage& later);

struct InterfaceUsage {
  std::string name;
  uint64_t rx_bytes = 0;
  uint64_t rx_errors = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_errors = 0;
};

// Parses /proc/net/dev text (the format of /proc/<pid>/net/dev), in file
// order, skipping "lo". InvalidArgument naming the line for a line that is
// neither a header nor "name: <16 counters>".
absl::StatusOr<std::vector<InterfaceUsage>> ParseNetDev(absl::string_view text);

// The interfaces of the network namespace process `pid` is in (reads
// /proc/<pid>/net/dev). NotFound when the process is gone.
absl::StatusOr<std::vector<InterfaceUsage>> ReadNetDev(pid_t pid);

// Samples kept per object id so that usage_nano_cores can be computed between
// two calls of the stats RPCs (kubelet polls; the kernel has only cumulative
// counters). Thread-safe.
class CpuSampler {
 public:
  // Records `usage` for `id` and returns nano-cores since the previous sample
  // of that id (0 for the first). A sample no newer than the one kept (two
  // RPCs racing) is not kept and gets the last value computed for the id.
  uint64_t Observe(const std::string& id, const CgroupUsage& usage);
  // Drops the samples of `id` (the container or sandbox was removed).
  void Forget(const std::string& id);

 private:
  struct Entry {
    CgroupUsage last;
    uint64_t nano_cores = 0;
  };
  absl::Mutex mutex_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace berth::cri
