// Pod sandbox latency of CRI runtimes as kubelet sees it: RunPodSandbox,
// StopPodSandbox and RemovePodSandbox, each one RPC over the runtime's unix
// socket, timed in the client.
//
//   cri_bench RUNS NAME=ENDPOINT [NAME=ENDPOINT...]
//   cri_bench --clean NAME=ENDPOINT [NAME=ENDPOINT...]
//
// Each endpoint first runs one warm-up pod (not counted: the first CNI
// config load, image lookup and cold caches), then RUNS iterations of
// run -> stop -> remove, each with a pod of its own (name, namespace, uid).
// Endpoints take turns within an iteration, in alternating order, so the
// machine's noise hits them alike. Any failed RPC stops the bench with the
// error, after removing the pod it was working on. The first endpoint is the
// reference of the "vs" ratios. --clean stops and removes every pod sandbox
// the endpoints list (for a private runtime whose pods are all ours).

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cri/client/cri_client.h"
#include "tests/unit/temp_dir.h"

namespace {

using berth::cri::CriClient;
using Stub = runtime::v1::RuntimeService::Stub;

// The timed RPCs, in the order of a pod's life; Endpoint::ms is indexed alike.
constexpr std::array<const char*, 3> kRpcs = {"RunPodSandbox", "StopPodSandbox",
                                              "RemovePodSandbox"};

struct Endpoint {
  std::string name;
  std::string address;
  std::unique_ptr<CriClient> client;
  // Milliseconds per call, one vector per kRpcs entry.
  std::array<std::vector<double>, kRpcs.size()> ms;
};

struct Stats {
  double min, median, p95;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 95 / 100)]};
}

// A pod as kubelet describes one, minus what kubelet adds for its own
// bookkeeping (labels, annotations, DNS, cgroup parent): neither runtime
// needs those to run a sandbox.
runtime::v1::PodSandboxConfig Pod(const std::string& name, const std::string& log_root) {
  runtime::v1::PodSandboxConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_("cri-bench");
  config.mutable_metadata()->set_uid(absl::StrCat(name, "-", ::getpid()));
  config.mutable_metadata()->set_attempt(0);
  config.set_hostname(name);
  // kubelet creates the pod's log directory before RunPodSandbox.
  config.set_log_directory(absl::StrCat(log_root, "/cri-bench_", name));
  std::filesystem::create_directories(config.log_directory());
  return config;
}

// Stop and remove, untimed, for cleanup after a failure.
void RemovePod(CriClient& client, const std::string& id) {
  runtime::v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(id);
  (void)client.Call(&Stub::StopPodSandbox, stop);
  runtime::v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(id);
  (void)client.Call(&Stub::RemovePodSandbox, remove);
}

// Runs, stops and removes one pod, adding the latencies to `endpoint.ms`
// when `record`. On failure the status names the RPC and the pod.
absl::Status Cycle(Endpoint& endpoint, const std::string& pod_name, const std::string& log_root,
                   bool record) {
  CriClient& client = *endpoint.client;
  auto failed = [&](const char* rpc, const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat(rpc, " of pod ", pod_name, ": ", status.message()));
  };
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = Pod(pod_name, log_root);
  absl::Time start = absl::Now();
  absl::StatusOr<runtime::v1::RunPodSandboxResponse> ran = client.Call(&Stub::RunPodSandbox, run);
  double run_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (!ran.ok()) return failed("RunPodSandbox", ran.status());
  const std::string& id = ran->pod_sandbox_id();

  runtime::v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(id);
  start = absl::Now();
  absl::Status stopped = client.Call(&Stub::StopPodSandbox, stop).status();
  double stop_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (!stopped.ok()) {
    RemovePod(client, id);
    return failed("StopPodSandbox", stopped);
  }

  runtime::v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(id);
  start = absl::Now();
  absl::Status removed = client.Call(&Stub::RemovePodSandbox, remove).status();
  double remove_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (!removed.ok()) {
    RemovePod(client, id);
    return failed("RemovePodSandbox", removed);
  }
  if (record) {
    endpoint.ms[0].push_back(run_ms);
    endpoint.ms[1].push_back(stop_ms);
    endpoint.ms[2].push_back(remove_ms);
  }
  return absl::OkStatus();
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

absl::Status RemoveEveryPod(Endpoint& endpoint) {
  absl::StatusOr<runtime::v1::ListPodSandboxResponse> pods =
      endpoint.client->Call(&Stub::ListPodSandbox, runtime::v1::ListPodSandboxRequest());
  if (!pods.ok()) return pods.status();
  for (const runtime::v1::PodSandbox& pod : pods->items()) {
    RemovePod(*endpoint.client, pod.id());
    std::printf("%s: removed pod sandbox %s (%s)\n", endpoint.name.c_str(), pod.id().c_str(),
                pod.metadata().name().c_str());
  }
  return absl::OkStatus();
}

void PrintTable(const std::vector<Endpoint>& endpoints, int runs) {
  const std::string& reference = endpoints.front().name;
  for (size_t rpc = 0; rpc < kRpcs.size(); ++rpc) {
    std::printf("\n%s (ms, %d runs each)\n", kRpcs[rpc], runs);
    std::printf("  %-12s %8s %8s %8s", "runtime", "min", "median", "p95");
    for (size_t i = 1; i < endpoints.size(); ++i) {
      std::printf("  %14s", ("vs " + endpoints[i].name).c_str());
    }
    std::printf("\n");
    Stats first = Summarize(endpoints.front().ms[rpc]);
    for (const Endpoint& endpoint : endpoints) {
      Stats s = Summarize(endpoint.ms[rpc]);
      std::printf("  %-12s %8.2f %8.2f %8.2f", endpoint.name.c_str(), s.min, s.median, s.p95);
      if (endpoint.name == reference) {
        for (size_t i = 1; i < endpoints.size(); ++i) {
          std::printf("  %13.2fx", Summarize(endpoints[i].ms[rpc]).median / first.median);
        }
      }
      std::printf("\n");
    }
  }
  std::printf("\n(vs X: X's median divided by %s's; above 1 means %s is faster)\n",
              reference.c_str(), reference.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s RUNS NAME=ENDPOINT [NAME=ENDPOINT...]\n"
                 "       %s --clean NAME=ENDPOINT [NAME=ENDPOINT...]\n",
                 argv[0], argv[0]);
    return 2;
  }
  const bool clean = std::string(argv[1]) == "--clean";
  const int runs = clean ? 0 : std::atoi(argv[1]);
  if (!clean && runs < 1) {
    std::fprintf(stderr, "RUNS must be a positive number, not %s\n", argv[1]);
    return 2;
  }
  std::vector<Endpoint> endpoints;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "expected NAME=ENDPOINT, got %s\n", arg.c_str());
      return 2;
    }
    Endpoint endpoint{.name = arg.substr(0, eq), .address = arg.substr(eq + 1)};
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
      absl::Status removed = RemoveEveryPod(endpoint);
      if (!removed.ok()) {
        std::fprintf(stderr, "%s: %s\n", endpoint.name.c_str(), removed.ToString().c_str());
        ++failures;
      }
    }
    return failures == 0 ? 0 : 1;
  }

  berth::testing::TempDir logs;
  for (Endpoint& endpoint : endpoints) {
    absl::StatusOr<runtime::v1::VersionResponse> version = endpoint.client->Version();
    absl::Status ready = version.ok() ? WaitReady(endpoint) : version.status();
    if (ready.ok()) ready = Cycle(endpoint, "warm-up-" + endpoint.name, logs.path(), false);
    if (!ready.ok()) {
      std::fprintf(stderr, "%s: %s\n", endpoint.name.c_str(), ready.ToString().c_str());
      return 1;
    }
    std::printf("%-12s %s %s (CRI %s) at %s\n", endpoint.name.c_str(),
                version->runtime_name().c_str(), version->runtime_version().c_str(),
                version->runtime_api_version().c_str(), endpoint.address.c_str());
  }

  for (int i = 0; i < runs; ++i) {
    for (size_t turn = 0; turn < endpoints.size(); ++turn) {
      Endpoint& endpoint = endpoints[i % 2 == 0 ? turn : endpoints.size() - 1 - turn];
      absl::Status cycled =
          Cycle(endpoint, absl::StrCat("bench-", endpoint.name, "-", i), logs.path(), true);
      if (!cycled.ok()) {
        std::fprintf(stderr, "%s: %s\n", endpoint.name.c_str(), cycled.ToString().c_str());
        return 1;
      }
    }
  }
  PrintTable(endpoints, runs);
  return 0;
}
