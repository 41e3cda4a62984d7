// CRI runtimes compared as kubelet drives them, each over its unix socket,
// timed in the client:
//   - pod sandbox latency: RunPodSandbox, StopPodSandbox, RemovePodSandbox;
//   - in an already running pod: CreateContainer+StartContainer (from
//     sending the create to the start's return) and ExecSync of `true`;
//   - memory: the daemon's RSS and PSS idle and with P running pods of one
//     container each, and what a running pod costs: the daemon's PSS growth
//     per pod plus the PSS of the pod's own processes (pause, container, and
//     the runtime's per-pod parents of those: berth-monitors, shims);
//   - churn: C concurrent clients each looping a pod's whole life (run,
//     create, start, exec, stop container, stop pod, remove pod) for S seconds.
//
//   cri_bench --image REF [--runs N] [--churn-seconds S] [--churn-clients C]
//             [--memory-pods P] [--cgroup-parent PATH] [--daemon-pid NAME=PID]...
//             NAME=ENDPOINT [NAME=ENDPOINT...]
//   cri_bench --clean NAME=ENDPOINT [NAME=ENDPOINT...]
//
// Each endpoint first runs one warm-up pod and container (not counted: the
// first CNI config load, image lookup and cold caches). Latencies take N runs
// per endpoint, endpoints taking turns within a run in alternating order so
// the machine's noise hits them alike; memory and churn measure one endpoint
// at a time, the others idle. A failed RPC stops the latency and memory
// phases with the error, after removing the pods they made; churn counts it
// and goes on. Memory needs the daemon's pid (--daemon-pid; P=0 skips it),
// churn S>0. The first endpoint is the reference of the ratios. --clean
// stops and removes every container and pod sandbox the endpoints list (for
// a private runtime whose pods are all ours).

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cri/client/cri_client.h"
#include "nlohmann/json.hpp"
#include "runtime/base/status_macros.h"
#include "tests/support/streaming_client.h"
#include "tests/unit/temp_dir.h"

namespace {

using berth::cri::CriClient;
using Stub = runtime::v1::RuntimeService::Stub;

// The timed sandbox RPCs, in the order of a pod's life; Endpoint::ms is
// indexed alike.
constexpr std::array<const char*, 3> kRpcs = {"RunPodSandbox", "StopPodSandbox",
                                              "RemovePodSandbox"};
// StopContainer's grace period. The containers share the pod's pid
// namespace (the CRI's default), so `sleep` is not its init and SIGTERM ends
// it at once: the grace period is never waited out.
constexpr int64_t kStopTimeoutSeconds = 10;
constexpr int64_t kExecTimeoutSeconds = 10;
// A churn client gives up after this many failed pods in a row (a dead
// daemon would otherwise spin it for the whole run).
constexpr int kChurnMaxConsecutiveErrors = 10;

struct Options {
  int runs = 100;
  int forward_runs = 5;
  int forward_mib = 64;
  int churn_seconds = 60;
  int churn_clients = 10;
  int memory_pods = 20;
  std::string image;          // what the containers run, present in every runtime
  std::string cgroup_parent;  // of every pod, so the run's cgroups are its own
  std::string log_root;       // pods' log directories go below
};

struct Stats {
  double min, median, p95;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 95 / 100)]};
}

struct ProcessMemory {
  int64_t rss_kb = 0, pss_kb = 0;
};

struct Memory {
  ProcessMemory idle, loaded;  // the daemon's, without pods and with `pods`
  int pods = 0;
  int64_t pod_processes_pss_kb = 0;  // summed over all pods
  std::string sample;                // the first pod's processes, for the reader
  double DaemonPerPodKb() const { return static_cast<double>(loaded.pss_kb - idle.pss_kb) / pods; }
  double ProcessesPerPodKb() const { return static_cast<double>(pod_processes_pss_kb) / pods; }
};

struct Churn {
  int64_t pods = 0, errors = 0;
  double seconds = 0;
  std::vector<std::string> first_errors;
  double PodsPerSecond() const { return seconds > 0 ? static_cast<double>(pods) / seconds : 0; }
};

struct Endpoint {
  std::string name;
  std::string address;
  pid_t daemon_pid = 0;
  std::unique_ptr<CriClient> client;
  // Milliseconds per call, one vector per kRpcs entry.
  std::array<std::vector<double>, kRpcs.size()> ms;
  std::vector<double> create_start_ms, exec_ms;
  // Exec through the streaming server: the RPC, the SPDY upgrade, `true`,
  // its exit status. Port-forward: MB/s over one forwarded connection.
  std::vector<double> stream_exec_ms, forward_mb_per_s;
  std::optional<Memory> memory;
  std::optional<Churn> churn;
};

absl::Status Failed(absl::string_view what, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

// ---- /proc ----

// Rss and Pss of one process, from smaps_rollup (kB).
absl::StatusOr<ProcessMemory> ReadMemory(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/smaps_rollup");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  ProcessMemory memory;
  bool rss = false, pss = false;
  for (std::string line; std::getline(in, line);) {
    absl::string_view rest = line;
    int64_t* field = absl::ConsumePrefix(&rest, "Rss:")   ? (rss = true, &memory.rss_kb)
                     : absl::ConsumePrefix(&rest, "Pss:") ? (pss = true, &memory.pss_kb)
                                                          : nullptr;
    if (field == nullptr) continue;
    absl::ConsumeSuffix(&rest, "kB");
    if (!absl::SimpleAtoi(rest, field))
      return absl::InternalError(absl::StrCat(path, ": bad line ", line));
  }
  if (!rss || !pss) return absl::InternalError(absl::StrCat(path, " lacks Rss or Pss"));
  return memory;
}

// The parent's pid, 0 if the process is gone.
pid_t ParentOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    absl::string_view rest = line;
    int parent = 0;
    if (absl::ConsumePrefix(&rest, "PPid:") && absl::SimpleAtoi(rest, &parent)) return parent;
  }
  return 0;
}

std::string CommandOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/comm"));
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// Whether the process's cgroups are below `parent`, in every controller's
// hierarchy: the pod got the cgroup parent asked for, so what the run leaves
// there is the run's. Under cgroup v1 the named (name=systemd) and the empty
// unified hierarchy are not the runtimes' to place processes in.
bool InCgroupsBelow(pid_t pid, const std::string& parent) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cgroup"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  bool any = false;
  for (const std::string& line : lines) {
    // hierarchy-ID:controller-list:path
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    if (lines.size() > 1 && (fields[1].empty() || absl::StartsWith(fields[1], "name="))) continue;
    if (!absl::StartsWith(fields[2], parent + "/")) return false;
    any = true;
  }
  return any;
}

// `pid` and every process above it, up to init.
std::set<pid_t> Lineage(pid_t pid) {
  std::set<pid_t> lineage;
  for (pid_t p = pid; p > 0 && lineage.insert(p).second; p = ParentOf(p)) {
  }
  return lineage;
}

// The pod's processes: its pause and container processes and the runtime's
// per-pod processes above them (each berth-monitor; containerd's shim),
// found by walking up the process tree from the pids the runtime reports,
// stopping at what is not the pod's: init, and the daemon's and this
// bench's own ancestors (a subreaper among them adopts daemonized monitors).
std::set<pid_t> PodProcesses(const std::vector<pid_t>& pids, const std::set<pid_t>& not_the_pods) {
  std::set<pid_t> found;
  for (pid_t pid : pids) {
    for (pid_t p = pid; p > 1 && !not_the_pods.count(p) && found.insert(p).second;
         p = ParentOf(p)) {
    }
  }
  return found;
}

// ---- CRI calls ----

// A pod as kubelet describes one, minus what kubelet adds for its own
// bookkeeping (labels, annotations, DNS): neither runtime needs those to run
// a sandbox. The cgroup parent keeps the run's cgroups apart from anyone else's.
runtime::v1::PodSandboxConfig Pod(const std::string& name, const Options& options) {
  runtime::v1::PodSandboxConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_("cri-bench");
  config.mutable_metadata()->set_uid(absl::StrCat(name, "-", ::getpid()));
  config.mutable_metadata()->set_attempt(0);
  config.set_hostname(name);
  // kubelet creates the pod's log directory before RunPodSandbox.
  config.set_log_directory(absl::StrCat(options.log_root, "/cri-bench_", name));
  std::filesystem::create_directories(config.log_directory());
  if (!options.cgroup_parent.empty())
    config.mutable_linux()->set_cgroup_parent(options.cgroup_parent);
  return config;
}

// A long-running container, logging where kubelet would have it log.
runtime::v1::ContainerConfig Container(const std::string& name, const std::string& image) {
  runtime::v1::ContainerConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_attempt(0);
  config.mutable_image()->set_image(image);
  config.add_command("sleep");
  config.add_command("3600");
  config.set_log_path(name + "/0.log");
  return config;
}

// Stop and remove, untimed and unchecked, for cleanup after a failure.
void RemovePod(CriClient& client, const std::string& id) {
  runtime::v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(id);
  (void)client.Call(&Stub::StopPodSandbox, stop);
  runtime::v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(id);
  (void)client.Call(&Stub::RemovePodSandbox, remove);
}

void RemoveContainer(CriClient& client, const std::string& id) {
  runtime::v1::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(0);
  (void)client.Call(&Stub::StopContainer, stop);
  runtime::v1::RemoveContainerRequest remove;
  remove.set_container_id(id);
  (void)client.Call(&Stub::RemoveContainer, remove);
}

struct RunningPod {
  std::string id;
  runtime::v1::PodSandboxConfig config;
};

// A running pod that is stopped and removed (with its containers) when it
// goes out of scope, unless Remove() did it: a failure in the middle of a
// phase leaves no pod behind.
class PodCleanup {
 public:
  PodCleanup(CriClient& client, RunningPod pod) : client_(&client), pod_(std::move(pod)) {}
  PodCleanup(PodCleanup&& other) noexcept
      : client_(other.client_), pod_(std::move(other.pod_)), removed_(other.removed_) {
    other.removed_ = true;
  }
  PodCleanup& operator=(PodCleanup&&) = delete;
  ~PodCleanup() {
    if (!removed_) RemovePod(*client_, pod_.id);
  }

  const RunningPod& pod() const { return pod_; }

  // StopPodSandbox then RemovePodSandbox, checked.
  absl::Status Remove() {
    removed_ = true;
    runtime::v1::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(pod_.id);
    absl::Status stopped = client_->Call(&Stub::StopPodSandbox, stop).status();
    if (!stopped.ok()) {
      RemovePod(*client_, pod_.id);
      return Failed(absl::StrCat("StopPodSandbox of pod ", pod_.config.metadata().name()), stopped);
    }
    runtime::v1::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod_.id);
    absl::Status removed = client_->Call(&Stub::RemovePodSandbox, remove).status();
    if (!removed.ok())
      return Failed(absl::StrCat("RemovePodSandbox of pod ", pod_.config.metadata().name()),
                    removed);
    return absl::OkStatus();
  }

 private:
  CriClient* client_;
  RunningPod pod_;
  bool removed_ = false;
};

absl::StatusOr<PodCleanup> RunPod(CriClient& client, const std::string& name,
                                  const Options& options) {
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = Pod(name, options);
  absl::StatusOr<runtime::v1::RunPodSandboxResponse> ran = client.Call(&Stub::RunPodSandbox, run);
  if (!ran.ok()) return Failed(absl::StrCat("RunPodSandbox of pod ", name), ran.status());
  return PodCleanup(client, {ran->pod_sandbox_id(), run.config()});
}

// CreateContainer then StartContainer; a container that fails to start is
// removed.
absl::StatusOr<std::string> CreateAndStart(CriClient& client, const RunningPod& pod,
                                           const std::string& name, const std::string& image,
                                           const std::vector<std::string>& command = {}) {
  runtime::v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod.id);
  *create.mutable_config() = Container(name, image);
  if (!command.empty()) {
    create.mutable_config()->clear_command();
    create.mutable_config()->clear_args();
    for (const std::string& arg : command) create.mutable_config()->add_command(arg);
  }
  *create.mutable_sandbox_config() = pod.config;
  absl::StatusOr<runtime::v1::CreateContainerResponse> created =
      client.Call(&Stub::CreateContainer, create);
  std::string where =
      absl::StrCat(" of container ", name, " in pod ", pod.config.metadata().name());
  if (!created.ok()) return Failed("CreateContainer" + where, created.status());
  runtime::v1::StartContainerRequest start;
  start.set_container_id(created->container_id());
  absl::Status started = client.Call(&Stub::StartContainer, start).status();
  if (!started.ok()) {
    RemoveContainer(client, created->container_id());
    return Failed("StartContainer" + where, started);
  }
  return created->container_id();
}

absl::Status ExecTrue(CriClient& client, const std::string& id) {
  runtime::v1::ExecSyncRequest exec;
  exec.set_container_id(id);
  exec.add_cmd("true");
  exec.set_timeout(kExecTimeoutSeconds);
  absl::StatusOr<runtime::v1::ExecSyncResponse> ran = client.Call(&Stub::ExecSync, exec);
  if (!ran.ok()) return Failed(absl::StrCat("ExecSync in container ", id), ran.status());
  if (ran->exit_code() != 0)
    return absl::InternalError(absl::StrCat("ExecSync of true in container ", id, ": exit code ",
                                            ran->exit_code(), ": ", ran->stderr()));
  return absl::OkStatus();
}

absl::Status StopContainer(CriClient& client, const std::string& id) {
  runtime::v1::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(kStopTimeoutSeconds);
  absl::Status stopped = client.Call(&Stub::StopContainer, stop).status();
  if (!stopped.ok()) return Failed(absl::StrCat("StopContainer of ", id), stopped);
  return absl::OkStatus();
}

absl::Status StopAndRemoveContainer(CriClient& client, const std::string& id) {
  RETURN_IF_ERROR(StopContainer(client, id));
  runtime::v1::RemoveContainerRequest remove;
  remove.set_container_id(id);
  absl::Status removed = client.Call(&Stub::RemoveContainer, remove).status();
  if (!removed.ok()) return Failed(absl::StrCat("RemoveContainer of ", id), removed);
  return absl::OkStatus();
}

// The "pid" of a verbose status's "info" JSON (both runtimes report it so).
absl::StatusOr<pid_t> PidOfInfo(const google::protobuf::Map<std::string, std::string>& info,
                                const std::string& what) {
  auto it = info.find("info");
  if (it == info.end()) return absl::NotFoundError(what + ": no \"info\" in the verbose status");
  nlohmann::json parsed = nlohmann::json::parse(it->second, nullptr, false);
  pid_t pid = parsed.is_object() ? parsed.value("pid", 0) : 0;
  if (pid <= 0) return absl::NotFoundError(what + ": no \"pid\" in the verbose status info");
  return pid;
}

absl::StatusOr<pid_t> PausePid(CriClient& client, const std::string& pod_id) {
  runtime::v1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(pod_id);
  request.set_verbose(true);
  ASSIGN_OR_RETURN(runtime::v1::PodSandboxStatusResponse status,
                   client.Call(&Stub::PodSandboxStatus, request));
  return PidOfInfo(status.info(), "pod sandbox " + pod_id);
}

absl::StatusOr<pid_t> ContainerPid(CriClient& client, const std::string& id) {
  runtime::v1::ContainerStatusRequest request;
  request.set_container_id(id);
  request.set_verbose(true);
  ASSIGN_OR_RETURN(runtime::v1::ContainerStatusResponse status,
                   client.Call(&Stub::ContainerStatus, request));
  return PidOfInfo(status.info(), "container " + id);
}

// ---- the phases ----

// Runs, stops and removes one pod, adding the latencies to `endpoint.ms`
// when `record`. On failure the status names the RPC and the pod.
absl::Status Cycle(Endpoint& endpoint, const std::string& pod_name, const Options& options,
                   bool record) {
  CriClient& client = *endpoint.client;
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = Pod(pod_name, options);
  absl::Time start = absl::Now();
  absl::StatusOr<runtime::v1::RunPodSandboxResponse> ran = client.Call(&Stub::RunPodSandbox, run);
  double run_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (!ran.ok()) return Failed(absl::StrCat("RunPodSandbox of pod ", pod_name), ran.status());
  const std::string& id = ran->pod_sandbox_id();

  runtime::v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(id);
  start = absl::Now();
  absl::Status stopped = client.Call(&Stub::StopPodSandbox, stop).status();
  double stop_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (!stopped.ok()) {
    RemovePod(client, id);
    return Failed(absl::StrCat("StopPodSandbox of pod ", pod_name), stopped);
  }

  runtime::v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(id);
  start = absl::Now();
  absl::Status removed = client.Call(&Stub::RemovePodSandbox, remove).status();
  double remove_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (!removed.ok()) {
    RemovePod(client, id);
    return Failed(absl::StrCat("RemovePodSandbox of pod ", pod_name), removed);
  }
  if (record) {
    endpoint.ms[0].push_back(run_ms);
    endpoint.ms[1].push_back(stop_ms);
    endpoint.ms[2].push_back(remove_ms);
  }
  return absl::OkStatus();
}

// The endpoint taking turn `turn` of run `run`: alternating order.
Endpoint& InTurn(std::vector<Endpoint>& endpoints, int run, size_t turn) {
  return endpoints[run % 2 == 0 ? turn : endpoints.size() - 1 - turn];
}

absl::Status MeasurePodSandboxes(std::vector<Endpoint>& endpoints, const Options& options) {
  for (int i = 0; i < options.runs; ++i) {
    for (size_t turn = 0; turn < endpoints.size(); ++turn) {
      Endpoint& endpoint = InTurn(endpoints, i, turn);
      absl::Status cycled = Cycle(endpoint, absl::StrCat("bench-", endpoint.name, "-", i), options,
                                  /*record=*/true);
      if (!cycled.ok()) return Failed(endpoint.name, cycled);
    }
  }
  return absl::OkStatus();
}

// CreateContainer+StartContainer and ExecSync in one running pod per
// endpoint. Each run creates and starts a container (timed), execs `true` in
// the pod's long-running "exec-target" (timed), then stops and removes the
// created container (untimed).
absl::Status MeasureContainers(std::vector<Endpoint>& endpoints, const Options& options) {
  std::vector<PodCleanup> pods;
  std::vector<std::string> exec_targets;
  for (Endpoint& endpoint : endpoints) {
    CriClient& client = *endpoint.client;
    absl::StatusOr<PodCleanup> pod = RunPod(client, "containers-" + endpoint.name, options);
    if (!pod.ok()) return Failed(endpoint.name, pod.status());
    pods.push_back(*std::move(pod));
    absl::StatusOr<std::string> target =
        CreateAndStart(client, pods.back().pod(), "exec-target", options.image);
    if (!target.ok()) return Failed(endpoint.name, target.status());
    exec_targets.push_back(*target);
    // Warm-up: the first container and exec of the endpoint are not counted.
    absl::StatusOr<std::string> warm =
        CreateAndStart(client, pods.back().pod(), "warm-up", options.image);
    absl::Status warmed = warm.ok() ? StopAndRemoveContainer(client, *warm) : warm.status();
    if (warmed.ok()) warmed = ExecTrue(client, *target);
    if (!warmed.ok()) return Failed(endpoint.name, warmed);
  }
  for (int i = 0; i < options.runs; ++i) {
    for (size_t turn = 0; turn < endpoints.size(); ++turn) {
      size_t e = i % 2 == 0 ? turn : endpoints.size() - 1 - turn;
      Endpoint& endpoint = endpoints[e];
      CriClient& client = *endpoint.client;
      absl::Time start = absl::Now();
      absl::StatusOr<std::string> id =
          CreateAndStart(client, pods[e].pod(), absl::StrCat("c-", i), options.image);
      double create_start_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
      if (!id.ok()) return Failed(endpoint.name, id.status());
      start = absl::Now();
      absl::Status executed = ExecTrue(client, exec_targets[e]);
      double exec_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
      if (!executed.ok()) return Failed(endpoint.name, executed);
      absl::Status removed = StopAndRemoveContainer(client, *id);
      if (!removed.ok()) return Failed(endpoint.name, removed);
      endpoint.create_start_ms.push_back(create_start_ms);
      endpoint.exec_ms.push_back(exec_ms);
    }
  }
  for (size_t e = 0; e < endpoints.size(); ++e) {
    absl::Status removed = pods[e].Remove();
    if (!removed.ok()) return Failed(endpoints[e].name, removed);
  }
  return absl::OkStatus();
}

// Exec latency through the streaming path, and port-forward throughput, in
// one pod per endpoint: a container idling for the execs and one serving a
// file of options.forward_mib MiB from tmpfs with busybox httpd. Every
// endpoint's session is spoken by the same client (tests/support's), so
// only the servers differ.
absl::Status MeasureStreaming(std::vector<Endpoint>& endpoints, const Options& options) {
  std::vector<PodCleanup> pods;
  std::vector<std::string> exec_targets;
  const std::string serve = absl::StrCat(
      "head -c ", options.forward_mib << 20, " /dev/zero > /dev/shm/big && ",
      "exec httpd -f -p 8080 -h /dev/shm");
  for (Endpoint& endpoint : endpoints) {
    CriClient& client = *endpoint.client;
    absl::StatusOr<PodCleanup> pod = RunPod(client, "streaming-" + endpoint.name, options);
    if (!pod.ok()) return Failed(endpoint.name, pod.status());
    pods.push_back(*std::move(pod));
    absl::StatusOr<std::string> target =
        CreateAndStart(client, pods.back().pod(), "exec-target", options.image);
    if (!target.ok()) return Failed(endpoint.name, target.status());
    exec_targets.push_back(*target);
    absl::StatusOr<std::string> server = CreateAndStart(client, pods.back().pod(), "httpd",
                                                        options.image, {"/bin/sh", "-c", serve});
    if (!server.ok()) return Failed(endpoint.name, server.status());
  }
  auto exec_true = [](CriClient& client, const std::string& id) -> absl::Status {
    runtime::v1::ExecRequest request;
    request.set_container_id(id);
    request.add_cmd("true");
    request.set_stdout(true);
    ASSIGN_OR_RETURN(runtime::v1::ExecResponse response, client.Call(&Stub::Exec, request));
    ASSIGN_OR_RETURN(berth::testing::RemoteCommandResult result,
                     berth::testing::RunSpdyRemoteCommand(response.url(), {.send_ping = false}));
    if (result.http_status != 101 || result.error_data.find("Success") == std::string::npos)
      return absl::InternalError(absl::StrCat("exec of true: HTTP ", result.http_status, ", ",
                                              result.http_body, result.error_data));
    return absl::OkStatus();
  };
  // Warm-up, and the file written before it is fetched.
  for (size_t e = 0; e < endpoints.size(); ++e) {
    if (absl::Status warm = exec_true(*endpoints[e].client, exec_targets[e]); !warm.ok())
      return Failed(endpoints[e].name, warm);
  }
  absl::SleepFor(absl::Seconds(2));
  for (int i = 0; i < options.runs; ++i) {
    for (size_t turn = 0; turn < endpoints.size(); ++turn) {
      size_t e = i % 2 == 0 ? turn : endpoints.size() - 1 - turn;
      absl::Time start = absl::Now();
      absl::Status ran = exec_true(*endpoints[e].client, exec_targets[e]);
      if (!ran.ok()) return Failed(endpoints[e].name, ran);
      endpoints[e].stream_exec_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    }
  }
  const size_t bytes = static_cast<size_t>(options.forward_mib) << 20;
  for (int i = 0; i < options.forward_runs; ++i) {
    for (size_t turn = 0; turn < endpoints.size(); ++turn) {
      size_t e = i % 2 == 0 ? turn : endpoints.size() - 1 - turn;
      Endpoint& endpoint = endpoints[e];
      runtime::v1::PortForwardRequest request;
      request.set_pod_sandbox_id(pods[e].pod().id);
      absl::StatusOr<runtime::v1::PortForwardResponse> response =
          endpoint.client->Call(&Stub::PortForward, request);
      if (!response.ok()) return Failed(endpoint.name, response.status());
      absl::Time start = absl::Now();
      auto forward = berth::testing::SpdyPortForwardClient::Connect(response->url());
      if (!forward.ok()) return Failed(endpoint.name, forward.status());
      absl::StatusOr<size_t> received =
          (*forward)->ReceiveBytes(8080, "GET /big HTTP/1.0\r\n\r\n", bytes);
      double seconds = absl::ToDoubleSeconds(absl::Now() - start);
      if (!received.ok()) return Failed(endpoint.name, received.status());
      if (*received < bytes)
        return absl::InternalError(absl::StrCat(endpoint.name, ": port-forward ended after ",
                                                *received, " of ", bytes, " bytes"));
      endpoint.forward_mb_per_s.push_back(static_cast<double>(*received) / (1 << 20) / seconds);
    }
  }
  for (size_t e = 0; e < endpoints.size(); ++e) {
    absl::Status removed = pods[e].Remove();
    if (!removed.ok()) return Failed(endpoints[e].name, removed);
  }
  return absl::OkStatus();
}

// The daemon's memory without pods and with `options.memory_pods` pods of
// one running container each, and the PSS of those pods' own processes
// (measured with all of them up, so pages they share are split among them).
absl::StatusOr<Memory> MeasureMemory(Endpoint& endpoint, const Options& options) {
  CriClient& client = *endpoint.client;
  ASSIGN_OR_RETURN(runtime::v1::ListPodSandboxResponse listed,
                   client.Call(&Stub::ListPodSandbox, runtime::v1::ListPodSandboxRequest()));
  if (listed.items_size() != 0)
    return absl::FailedPreconditionError(
        absl::StrCat(listed.items_size(), " pods exist before the idle measurement"));
  Memory memory;
  memory.pods = options.memory_pods;
  // Let what the earlier phases left in flight (exits, deferred frees) settle.
  absl::SleepFor(absl::Seconds(1));
  ASSIGN_OR_RETURN(memory.idle, ReadMemory(endpoint.daemon_pid));

  std::vector<PodCleanup> pods;
  std::vector<std::vector<pid_t>> pids;  // pause, container; per pod
  for (int i = 0; i < options.memory_pods; ++i) {
    ASSIGN_OR_RETURN(PodCleanup pod,
                     RunPod(client, absl::StrCat("memory-", endpoint.name, "-", i), options));
    pods.push_back(std::move(pod));
    ASSIGN_OR_RETURN(std::string id,
                     CreateAndStart(client, pods.back().pod(), "sleep", options.image));
    ASSIGN_OR_RETURN(pid_t pause, PausePid(client, pods.back().pod().id));
    ASSIGN_OR_RETURN(pid_t container, ContainerPid(client, id));
    if (!options.cgroup_parent.empty() && !InCgroupsBelow(container, options.cgroup_parent))
      return absl::FailedPreconditionError(absl::StrCat(
          "the container process ", container, " is not in cgroups below ", options.cgroup_parent));
    pids.push_back({pause, container});
  }
  absl::SleepFor(absl::Seconds(1));
  ASSIGN_OR_RETURN(memory.loaded, ReadMemory(endpoint.daemon_pid));

  std::set<pid_t> not_the_pods = Lineage(endpoint.daemon_pid);
  not_the_pods.merge(Lineage(::getpid()));
  for (size_t i = 0; i < pids.size(); ++i) {
    for (pid_t pid : PodProcesses(pids[i], not_the_pods)) {
      ASSIGN_OR_RETURN(ProcessMemory process, ReadMemory(pid));
      memory.pod_processes_pss_kb += process.pss_kb;
      if (i == 0) {
        absl::StrAppendFormat(&memory.sample, " %s[%d] %.2f", CommandOf(pid), pid,
                              process.pss_kb / 1024.0);
      }
    }
  }
  for (PodCleanup& pod : pods) RETURN_IF_ERROR(pod.Remove());
  return memory;
}

// One pod's whole life, as the churn loops it.
absl::Status PodLife(CriClient& client, const std::string& name, const Options& options) {
  ASSIGN_OR_RETURN(PodCleanup pod, RunPod(client, name, options));
  ASSIGN_OR_RETURN(std::string id, CreateAndStart(client, pod.pod(), "churn", options.image));
  RETURN_IF_ERROR(ExecTrue(client, id));
  RETURN_IF_ERROR(StopContainer(client, id));
  return pod.Remove();
}

// `options.churn_clients` clients sharing the endpoint's connection, as
// kubelet's pod workers do, each looping PodLife until the time is up. The
// rate counts the pods completed over the time until the last client is
// done (the pods in flight at the deadline finish).
Churn RunChurn(Endpoint& endpoint, const Options& options) {
  absl::Mutex mutex;
  Churn churn;
  std::atomic<int64_t> pods{0}, errors{0};
  absl::Time start = absl::Now();
  absl::Time deadline = start + absl::Seconds(options.churn_seconds);
  std::vector<std::thread> clients;
  for (int c = 0; c < options.churn_clients; ++c) {
    clients.emplace_back([&, c] {
      int consecutive = 0;
      for (int n = 0; absl::Now() < deadline; ++n) {
        absl::Status lived = PodLife(
            *endpoint.client, absl::StrCat("churn-", endpoint.name, "-", c, "-", n), options);
        if (lived.ok()) {
          ++pods;
          consecutive = 0;
          continue;
        }
        ++errors;
        {
          absl::MutexLock lock(&mutex);
          if (churn.first_errors.size() < 5) churn.first_errors.push_back(lived.ToString());
        }
        if (++consecutive >= kChurnMaxConsecutiveErrors) break;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  churn.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  churn.pods = pods;
  churn.errors = errors;
  return churn;
}

// RuntimeReady and NetworkReady, waiting up to 10s: a runtime loads its CNI
// config asynchronously after it starts serving.
absl::Status WaitReady(Endpoint& endpoint) {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::string last;
  while (absl::Now() < deadline) {
    absl::StatusOr<runtime::v1::StatusResponse> status = endpoint.client->Status(false);
    if (!status.ok()) return status.status();
    bool ready = true;
    last.clear();
    for (const runtime::v1::RuntimeCondition& condition : status->status().conditions()) {
      if (!condition.status()) {
        ready = false;
        absl::StrAppend(&last, " ", condition.type(), ": ", condition.reason(), " ",
                        condition.message());
      }
    }
    if (ready) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(absl::StrCat("not ready within 10s:", last));
}

// Every container, then every pod, until two listings a second apart find
// none: a pod whose RunPodSandbox was in flight when the bench was stopped
// may appear after the first listing.
absl::Status RemoveEverything(Endpoint& endpoint) {
  CriClient& client = *endpoint.client;
  for (int round = 0, quiet = 0; round < 30 && quiet < 2; ++round) {
    ASSIGN_OR_RETURN(runtime::v1::ListContainersResponse containers,
                     client.Call(&Stub::ListContainers, runtime::v1::ListContainersRequest()));
    ASSIGN_OR_RETURN(runtime::v1::ListPodSandboxResponse pods,
                     client.Call(&Stub::ListPodSandbox, runtime::v1::ListPodSandboxRequest()));
    for (const runtime::v1::Container& container : containers.containers()) {
      RemoveContainer(client, container.id());
      std::printf("%s: removed container %s (%s)\n", endpoint.name.c_str(), container.id().c_str(),
                  container.metadata().name().c_str());
    }
    for (const runtime::v1::PodSandbox& pod : pods.items()) {
      RemovePod(client, pod.id());
      std::printf("%s: removed pod sandbox %s (%s)\n", endpoint.name.c_str(), pod.id().c_str(),
                  pod.metadata().name().c_str());
    }
    bool none = containers.containers_size() == 0 && pods.items_size() == 0;
    quiet = none ? quiet + 1 : 0;
    if (quiet < 2) absl::SleepFor(absl::Milliseconds(none ? 1000 : 100));
  }
  return absl::OkStatus();
}

// ---- the table ----

struct Row {
  std::string metric;
  std::vector<std::optional<double>> values;  // per endpoint
  // How the ratio reads "times better than": the other's value over the
  // reference's for times and memory, the reference's over the other's for rates.
  enum class Better { kLower, kHigher, kNone } better;
  double goal = 0;  // the ratio the issue asks for, 0: none
  int decimals = 2;
};

void PrintTable(const std::vector<Endpoint>& endpoints, const std::vector<Row>& rows) {
  const std::string& reference = endpoints.front().name;
  std::printf("\n%-44s", "metric");
  for (const Endpoint& endpoint : endpoints) std::printf(" %12s", endpoint.name.c_str());
  for (size_t i = 1; i < endpoints.size(); ++i)
    std::printf(" %16s", ("ratio vs " + endpoints[i].name).c_str());
  std::printf("  %s\n", "goal");
  for (const Row& row : rows) {
    std::printf("%-44s", row.metric.c_str());
    for (const std::optional<double>& value : row.values) {
      std::string text = value ? absl::StrFormat("%.*f", row.decimals, *value) : "-";
      std::printf(" %12s", text.c_str());
    }
    std::string goal;
    for (size_t i = 1; i < endpoints.size(); ++i) {
      const std::optional<double>& ours = row.values[0];
      const std::optional<double>& theirs = row.values[i];
      std::string text = "-";
      if (row.better != Row::Better::kNone && ours && theirs && *ours > 0 && *theirs > 0) {
        double ratio = row.better == Row::Better::kLower ? *theirs / *ours : *ours / *theirs;
        text = absl::StrFormat("%.2fx", ratio);
        if (row.goal > 0)
          absl::StrAppendFormat(&goal, "%s>= %gx %s", goal.empty() ? "" : ", ", row.goal,
                                ratio >= row.goal ? "met" : "NOT MET");
      }
      std::printf(" %16s", text.c_str());
    }
    std::printf("  %s\n", goal.c_str());
  }
  std::printf(
      "\nratio vs X: how many times better %s is than X: X's value over %s's for times and "
      "memory, %s's over X's for churn pods/s. Memory per running pod: the daemon's PSS "
      "growth per pod plus the PSS of the pod's own processes.\n",
      reference.c_str(), reference.c_str(), reference.c_str());
}

std::vector<Row> Rows(const std::vector<Endpoint>& endpoints, const Options& options) {
  std::vector<Row> rows;
  auto latency = [&](const std::string& name, auto samples, double goal) {
    static constexpr std::array<const char*, 3> kStats = {"min", "median", "p95"};
    for (int s = 0; s < 3; ++s) {
      Row row{.metric = absl::StrCat(name, " ms, ", kStats[s]), .better = Row::Better::kLower};
      if (s == 1) row.goal = goal;
      for (const Endpoint& endpoint : endpoints) {
        const std::vector<double>& v = samples(endpoint);
        if (v.empty()) {
          row.values.push_back(std::nullopt);
          continue;
        }
        Stats stats = Summarize(v);
        row.values.push_back(s == 0 ? stats.min : s == 1 ? stats.median : stats.p95);
      }
      rows.push_back(row);
    }
  };
  for (size_t rpc = 0; rpc < kRpcs.size(); ++rpc)
    latency(
        kRpcs[rpc], [rpc](const Endpoint& e) -> const std::vector<double>& { return e.ms[rpc]; },
        0);
  latency(
      "CreateContainer+StartContainer",
      [](const Endpoint& e) -> const std::vector<double>& { return e.create_start_ms; }, 3);
  latency(
      "ExecSync (true)", [](const Endpoint& e) -> const std::vector<double>& { return e.exec_ms; },
      3);
  latency(
      "Exec + SPDY session (true)",
      [](const Endpoint& e) -> const std::vector<double>& { return e.stream_exec_ms; }, 2);
  {
    Row row{.metric = absl::StrFormat("port-forward (%d MiB, 1 conn), MB/s, median",
                                      options.forward_mib),
            .better = Row::Better::kHigher,
            .goal = 1};
    for (const Endpoint& endpoint : endpoints) {
      if (endpoint.forward_mb_per_s.empty()) {
        row.values.push_back(std::nullopt);
        continue;
      }
      row.values.push_back(Summarize(endpoint.forward_mb_per_s).median);
    }
    rows.push_back(row);
  }

  auto per_endpoint = [&](Row row, auto value) {
    for (const Endpoint& endpoint : endpoints) row.values.push_back(value(endpoint));
    rows.push_back(row);
  };
  std::string churn =
      absl::StrFormat("churn (%d clients, %d s)", options.churn_clients, options.churn_seconds);
  per_endpoint({.metric = churn + ", pods/s", .better = Row::Better::kHigher, .goal = 2},
               [](const Endpoint& e) -> std::optional<double> {
                 if (!e.churn) return std::nullopt;
                 return e.churn->PodsPerSecond();
               });
  per_endpoint({.metric = churn + ", errors", .better = Row::Better::kNone, .decimals = 0},
               [](const Endpoint& e) -> std::optional<double> {
                 if (!e.churn) return std::nullopt;
                 return static_cast<double>(e.churn->errors);
               });
  auto memory = [&](const std::string& metric, auto kb, double goal) {
    per_endpoint({.metric = metric + ", MiB", .better = Row::Better::kLower, .goal = goal},
                 [&kb](const Endpoint& e) -> std::optional<double> {
                   if (!e.memory) return std::nullopt;
                   return kb(*e.memory) / 1024.0;
                 });
  };
  std::string loaded = absl::StrCat(options.memory_pods, " pods");
  memory(
      "daemon RSS idle", [](const Memory& m) { return m.idle.rss_kb; }, 0);
  memory(
      "daemon RSS with " + loaded, [](const Memory& m) { return m.loaded.rss_kb; }, 0);
  memory(
      "daemon PSS idle", [](const Memory& m) { return m.idle.pss_kb; }, 0);
  memory(
      "daemon PSS with " + loaded, [](const Memory& m) { return m.loaded.pss_kb; }, 0);
  memory(
      "daemon PSS growth per pod", [](const Memory& m) { return m.DaemonPerPodKb(); }, 0);
  memory(
      "per-pod processes' PSS per pod", [](const Memory& m) { return m.ProcessesPerPodKb(); }, 0);
  memory(
      "memory per running pod",
      [](const Memory& m) { return m.DaemonPerPodKb() + m.ProcessesPerPodKb(); }, 5);
  return rows;
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --image REF [--runs N] [--churn-seconds S] [--churn-clients C]\n"
               "          [--memory-pods P] [--cgroup-parent PATH] [--daemon-pid NAME=PID]...\n"
               "          NAME=ENDPOINT [NAME=ENDPOINT...]\n"
               "       %s --clean NAME=ENDPOINT [NAME=ENDPOINT...]\n",
               argv0, argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool clean = false;
  std::map<std::string, pid_t> daemon_pids;
  std::vector<std::string> endpoint_args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto number = [&](int* out, int min) {
      if (i + 1 >= argc || !absl::SimpleAtoi(argv[i + 1], out) || *out < min) {
        std::fprintf(stderr, "%s needs a number of at least %d\n", arg.c_str(), min);
        return false;
      }
      ++i;
      return true;
    };
    if (arg == "--clean") {
      clean = true;
    } else if (arg == "--runs") {
      if (!number(&options.runs, 1)) return 2;
    } else if (arg == "--churn-seconds") {
      if (!number(&options.churn_seconds, 0)) return 2;
    } else if (arg == "--churn-clients") {
      if (!number(&options.churn_clients, 1)) return 2;
    } else if (arg == "--memory-pods") {
      if (!number(&options.memory_pods, 0)) return 2;
    } else if ((arg == "--image" || arg == "--cgroup-parent" || arg == "--daemon-pid") &&
               i + 1 < argc) {
      std::string value = argv[++i];
      if (arg == "--image") options.image = value;
      if (arg == "--cgroup-parent") options.cgroup_parent = value;
      if (arg == "--daemon-pid") {
        size_t eq = value.find('=');
        int pid = 0;
        if (eq == std::string::npos || !absl::SimpleAtoi(value.substr(eq + 1), &pid) || pid <= 0) {
          std::fprintf(stderr, "--daemon-pid expects NAME=PID, got %s\n", value.c_str());
          return 2;
        }
        daemon_pids[value.substr(0, eq)] = pid;
      }
    } else if (arg.find('=') != std::string::npos && arg[0] != '-' && arg[0] != '=') {
      endpoint_args.push_back(arg);
    } else {
      return Usage(argv[0]);
    }
  }
  if (endpoint_args.empty() || (!clean && options.image.empty())) return Usage(argv[0]);

  std::vector<Endpoint> endpoints;
  for (const std::string& arg : endpoint_args) {
    size_t eq = arg.find('=');
    Endpoint endpoint{.name = arg.substr(0, eq), .address = arg.substr(eq + 1)};
    endpoint.daemon_pid = daemon_pids.count(endpoint.name) ? daemon_pids[endpoint.name] : 0;
    if (!clean && options.memory_pods > 0 && endpoint.daemon_pid == 0) {
      std::fprintf(stderr, "%s: memory needs --daemon-pid %s=PID (or --memory-pods 0)\n",
                   endpoint.name.c_str(), endpoint.name.c_str());
      return 2;
    }
    absl::StatusOr<CriClient> client = CriClient::Connect(endpoint.address, absl::Seconds(10));
    if (!client.ok()) {
      std::fprintf(stderr, "%s: %s\n", endpoint.name.c_str(), client.status().ToString().c_str());
      return 1;
    }
    endpoint.client = std::make_unique<CriClient>(*std::move(client));
    endpoints.push_back(std::move(endpoint));
  }

  if (clean) {
    int failures = 0;
    for (Endpoint& endpoint : endpoints) {
      absl::Status removed = RemoveEverything(endpoint);
      if (!removed.ok()) {
        std::fprintf(stderr, "%s: %s\n", endpoint.name.c_str(), removed.ToString().c_str());
        ++failures;
      }
    }
    return failures == 0 ? 0 : 1;
  }

  berth::testing::TempDir logs;
  options.log_root = logs.path();
  for (Endpoint& endpoint : endpoints) {
    absl::StatusOr<runtime::v1::VersionResponse> version = endpoint.client->Version();
    absl::Status ready = version.ok() ? WaitReady(endpoint) : version.status();
    if (ready.ok()) ready = Cycle(endpoint, "warm-up-" + endpoint.name, options, false);
    if (!ready.ok()) {
      std::fprintf(stderr, "%s: %s\n", endpoint.name.c_str(), ready.ToString().c_str());
      return 1;
    }
    std::printf("%-12s %s %s (CRI %s) at %s\n", endpoint.name.c_str(),
                version->runtime_name().c_str(), version->runtime_version().c_str(),
                version->runtime_api_version().c_str(), endpoint.address.c_str());
  }
  std::fflush(stdout);

  auto phase = [](const char* what, absl::Status status) {
    if (status.ok()) return true;
    std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
    return false;
  };
  std::printf("pod sandboxes: %d runs each\n", options.runs);
  std::fflush(stdout);
  if (!phase("pod sandboxes", MeasurePodSandboxes(endpoints, options))) return 1;
  std::printf("containers: %d runs each\n", options.runs);
  std::fflush(stdout);
  if (!phase("containers", MeasureContainers(endpoints, options))) return 1;
  std::printf("streaming: %d execs and %d port-forwards of %d MiB each\n", options.runs,
              options.forward_runs, options.forward_mib);
  std::fflush(stdout);
  if (!phase("streaming", MeasureStreaming(endpoints, options))) return 1;
  if (options.memory_pods > 0) {
    for (Endpoint& endpoint : endpoints) {
      std::printf("memory: %s, %d pods\n", endpoint.name.c_str(), options.memory_pods);
      std::fflush(stdout);
      absl::StatusOr<Memory> memory = MeasureMemory(endpoint, options);
      if (!phase(("memory of " + endpoint.name).c_str(), memory.status())) return 1;
      endpoint.memory = *memory;
    }
  }
  if (options.churn_seconds > 0) {
    for (Endpoint& endpoint : endpoints) {
      std::printf("churn: %s, %d clients for %d s\n", endpoint.name.c_str(), options.churn_clients,
                  options.churn_seconds);
      std::fflush(stdout);
      endpoint.churn = RunChurn(endpoint, options);
    }
  }

  PrintTable(endpoints, Rows(endpoints, options));
  for (const Endpoint& endpoint : endpoints) {
    if (endpoint.memory)
      std::printf("%s: one pod's processes, PSS MiB:%s\n", endpoint.name.c_str(),
                  endpoint.memory->sample.c_str());
    if (endpoint.churn) {
      for (const std::string& error : endpoint.churn->first_errors)
        std::printf("%s: churn error: %s\n", endpoint.name.c_str(), error.c_str());
    }
  }
  return 0;
}
