// Memory of a container monitor while its container runs: berth-monitor
// against conmon (Debian's package, driving runc) on the same bundle.
// N monitors run at once, each with a sleeping container; shared pages
// (libc, the monitor's own text) are split between them in PSS, so the
// figures are given for 1 and for N monitors.
//
//   monitor_bench N BERTH_MONITOR BERTH_RUNTIME [CONMON RUNC]

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/unique_fd.h"
#include "runtime/monitor/client/monitor_client.h"
#include "tests/bench/bench_bundle.h"
#include "tests/unit/temp_dir.h"

extern char** environ;

namespace {

using berth::ChildProcess;

struct Memory {
  double rss_kib = 0, pss_kib = 0, anon_kib = 0;
};

// From /proc/PID/smaps_rollup.
Memory MemoryOf(pid_t pid) {
  Memory memory;
  std::ifstream in(absl::StrCat("/proc/", pid, "/smaps_rollup"));
  std::string key;
  double value;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (!(fields >> key >> value)) continue;
    if (key == "Rss:") memory.rss_kib = value;
    if (key == "Pss:") memory.pss_kib = value;
    if (key == "Anonymous:") memory.anon_kib = value;
  }
  return memory;
}

pid_t ParentOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    int parent;
    if (line.rfind("PPid:", 0) == 0 && absl::SimpleAtoi(line.substr(5), &parent)) return parent;
  }
  return 0;
}

bool RunQuiet(const std::vector<std::string>& argv) {
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn(argv, {.stdout_path = "/dev/null", .stderr_path = "/dev/null"});
  if (!child.ok()) return false;
  absl::StatusOr<berth::ExitStatus> exit = child->WaitFor(absl::Seconds(60));
  return exit.ok() && exit->ShellCode() == 0;
}

struct Fleet {
  std::vector<pid_t> monitors;
  std::vector<std::string> ids;
};

// Starts `n` containers, each under a berth-monitor.
bool StartBerth(int n, const std::string& monitor, const std::string& runtime_root,
                const std::string& bundle, const berth::testing::TempDir& dir, Fleet& fleet) {
  std::unique_ptr<berth::MonitorClient> client = berth::NewMonitorClient(monitor);
  for (int i = 0; i < n; ++i) {
    berth::MonitorConfig config{.id = absl::StrCat("bm-", i),
                                .bundle = bundle,
                                .runtime_root = runtime_root,
                                .state_dir = dir.Join(absl::StrCat("bm-", i)),
                                .log_path = dir.Join(absl::StrCat("bm-", i, ".log"))};
    std::filesystem::create_directories(config.state_dir);
    absl::StatusOr<pid_t> init = client->Create(config);
    if (!init.ok() || !client->Start(config.state_dir).ok()) {
      std::fprintf(stderr, "berth-monitor: %s\n", init.status().ToString().c_str());
      return false;
    }
    fleet.monitors.push_back(ParentOf(*init));  // the monitor adopted its init
    fleet.ids.push_back(config.id);
  }
  return true;
}

// Starts `n` containers, each under a conmon driving runc.
bool StartConmon(int n, const std::string& conmon, const std::string& runc,
                 const std::string& runtime_root, const std::string& bundle,
                 const berth::testing::TempDir& dir, Fleet& fleet) {
  for (int i = 0; i < n; ++i) {
    std::string id = absl::StrCat("cm-", i);
    std::string state = dir.Join(id);
    std::filesystem::create_directories(state + "/exits");
    std::string conmon_pidfile = state + "/conmon.pid";
    // conmon reports the created container on the pipe named by _OCI_SYNCPIPE.
    int sync[2];
    if (::pipe2(sync, O_CLOEXEC) != 0) return false;
    berth::UniqueFd report(sync[0]), report_write(sync[1]);
    std::vector<std::string> env = {"_OCI_SYNCPIPE=3"};
    for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
    absl::StatusOr<ChildProcess> spawned =
        ChildProcess::Spawn({conmon,
                             "--api-version",
                             "1",
                             "-c",
                             id,
                             "-u",
                             id,
                             "-n",
                             id,
                             "-r",
                             runc,
                             "-b",
                             bundle,
                             "-p",
                             state + "/container.pid",
                             "-P",
                             conmon_pidfile,
                             "-l",
                             "k8s-file:" + state + "/log",
                             "--exit-dir",
                             state + "/exits",
                             "--socket-dir-path",
                             state,
                             "--runtime-arg",
                             "--root=" + runtime_root,
                             "--log-level",
                             "error"},
                            {.env = env,
                             .stdout_path = state + "/conmon.out",
                             .stderr_path = state + "/conmon.out",
                             .extra_fds = {{report_write.get(), 3}}});
    report_write.Reset();
    if (!spawned.ok() || !spawned->WaitFor(absl::Seconds(60)).ok()) return false;
    std::string message;
    char buffer[256];
    for (ssize_t got; message.find('}') == std::string::npos &&
                      (got = ::read(report.get(), buffer, sizeof(buffer))) > 0;)
      message.append(buffer, static_cast<size_t>(got));
    if (message.find("\"data\"") == std::string::npos) {
      std::fprintf(stderr, "conmon: no create report (got \"%s\")\n", message.c_str());
      return false;
    }
    absl::StatusOr<std::string> pid_text = berth::ReadFileToString(conmon_pidfile);
    int pid;
    if (!pid_text.ok() || !absl::SimpleAtoi(*pid_text, &pid) ||
        !RunQuiet({runc, "--root", runtime_root, "start", id})) {
      std::fprintf(stderr, "conmon: container %s did not start (see %s/conmon.out)\n", id.c_str(),
                   state.c_str());
      return false;
    }
    fleet.monitors.push_back(pid);
    fleet.ids.push_back(id);
  }
  return true;
}

void Stop(const std::string& runtime, const std::string& root, Fleet& fleet) {
  for (const std::string& id : fleet.ids) RunQuiet({runtime, "--root", root, "kill", id, "KILL"});
  for (pid_t monitor : fleet.monitors) {
    for (int i = 0; i < 500 && ::kill(monitor, 0) == 0; ++i) {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      ::usleep(10000);
    }
  }
  for (const std::string& id : fleet.ids)
    RunQuiet({runtime, "--root", root, "delete", "--force", id});
  fleet = {};
}

Memory Average(const Fleet& fleet) {
  Memory sum;
  for (pid_t pid : fleet.monitors) {
    Memory m = MemoryOf(pid);
    sum.rss_kib += m.rss_kib;
    sum.pss_kib += m.pss_kib;
    sum.anon_kib += m.anon_kib;
  }
  double n = static_cast<double>(fleet.monitors.size());
  return {sum.rss_kib / n, sum.pss_kib / n, sum.anon_kib / n};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 6) {
    std::fprintf(stderr, "usage: %s N BERTH_MONITOR BERTH_RUNTIME [CONMON RUNC]\n", argv[0]);
    return 2;
  }
  int n = std::atoi(argv[1]);
  std::string monitor = argv[2], runtime = argv[3];
  berth::bench::HideHybridCgroup2();
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // daemonized monitors come back to us
  berth::testing::TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  std::string rootfs = berth::bench::MakeBusyboxRootfs(dir);
  std::string bundle = berth::bench::MakeBundle(dir, "sleep", rootfs, {"/bin/sleep", "1000"});

  struct Row {
    std::string name;
    Memory one, many;
  };
  std::vector<Row> rows;
  auto measure = [&](const std::string& name, auto start, const std::string& stop_runtime,
                     const std::string& root) -> bool {
    Row row{.name = name};
    for (int count : {1, n}) {
      Fleet fleet;
      if (!start(count, fleet)) {
        Stop(stop_runtime, root, fleet);
        return false;
      }
      absl::SleepFor(absl::Milliseconds(500));  // settled: idle with a running container
      (count == 1 ? row.one : row.many) = Average(fleet);
      Stop(stop_runtime, root, fleet);
    }
    rows.push_back(row);
    return true;
  };
  std::string berth_root = dir.Join("berth-root");
  if (!measure(
          "berth-monitor",
          [&](int count, Fleet& fleet) {
            return StartBerth(count, monitor, berth_root, bundle, dir, fleet);
          },
          runtime, berth_root))
    return 1;
  if (argc == 6) {
    std::string conmon = argv[4], runc = argv[5];
    std::string runc_root = dir.Join("runc-root");
    if (!measure(
            "conmon (runc)",
            [&](int count, Fleet& fleet) {
              return StartConmon(count, conmon, runc, runc_root, bundle, dir, fleet);
            },
            runc, runc_root))
      return 1;
  }
  std::printf("monitor memory while idle with a running container (KiB per monitor)\n");
  std::printf("  %-16s %9s %9s %9s   %9s %9s %9s\n", "monitor", "RSS", "PSS", "anon", "RSS", "PSS",
              "anon");
  std::printf("  %-16s %29s   %29s\n", "", "-- 1 monitor --",
              absl::StrCat("-- ", n, " monitors --").c_str());
  for (const Row& row : rows) {
    std::printf("  %-16s %9.0f %9.0f %9.0f   %9.0f %9.0f %9.0f\n", row.name.c_str(),
                row.one.rss_kib, row.one.pss_kib, row.one.anon_kib, row.many.rss_kib,
                row.many.pss_kib, row.many.anon_kib);
  }
  if (rows.size() == 2) {
    std::printf("\n  PSS ratio conmon / berth-monitor: %.2fx (1 monitor), %.2fx (%d monitors)\n",
                rows[1].one.pss_kib / rows[0].one.pss_kib,
                rows[1].many.pss_kib / rows[0].many.pss_kib, n);
  }
  return 0;
}
