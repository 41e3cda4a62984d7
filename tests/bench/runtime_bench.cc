// Compares OCI runtimes on the same bundle (busybox-static rootfs):
//   - run of /bin/true: create + start + wait + delete, as `run` does it;
//   - time to running: `run --detach` of a long-lived process until the
//     command returns with the process running (kill and delete untimed).
// Runtimes are interleaved run by run so machine noise hits them alike.
//
//   runtime_bench RUNS NAME=PATH [NAME=PATH...]

#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "runtime/base/child_process.h"
#include "tests/bench/bench_bundle.h"
#include "tests/unit/temp_dir.h"

namespace {

using berth::ChildProcess;

bool RunQuiet(const std::vector<std::string>& argv) {
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn(argv, {.stdout_path = "/dev/null", .stderr_path = "/dev/null"});
  if (!child.ok()) return false;
  absl::StatusOr<berth::ExitStatus> exit = child->WaitFor(absl::Seconds(30));
  return exit.ok() && exit->ShellCode() == 0;
}

struct Stats {
  double min, median, p95;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 95 / 100)]};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s RUNS NAME=PATH [NAME=PATH...]\n", argv[0]);
    return 2;
  }
  const int runs = std::atoi(argv[1]);
  berth::bench::HideHybridCgroup2();
  // Detached inits are orphaned when their runtime exits; adopt and reap them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::vector<std::pair<std::string, std::string>> runtimes;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (eq == std::string::npos) return 2;
    runtimes.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
  }
  berth::testing::TempDir dir;
  std::string rootfs = berth::bench::MakeBusyboxRootfs(dir);
  std::string true_bundle = berth::bench::MakeBundle(dir, "true", rootfs, {"/bin/true"});
  std::string sleep_bundle = berth::bench::MakeBundle(dir, "sleep", rootfs, {"/bin/sleep", "1000"});

  std::map<std::string, std::vector<double>> run_true, to_running;
  for (int i = 0; i < runs; ++i) {
    for (const auto& [name, path] : runtimes) {
      std::string root = dir.Join("root-" + name);
      std::string id = absl::StrCat("bench-", i);
      absl::Time start = absl::Now();
      if (!RunQuiet({path, "--root", root, "run", "--bundle", true_bundle, id})) {
        std::fprintf(stderr, "%s: run of /bin/true failed\n", name.c_str());
        return 1;
      }
      run_true[name].push_back(absl::ToDoubleMilliseconds(absl::Now() - start));

      std::string long_id = absl::StrCat("bench-long-", i);
      start = absl::Now();
      if (!RunQuiet({path, "--root", root, "run", "--detach", "--bundle", sleep_bundle, long_id})) {
        std::fprintf(stderr, "%s: run --detach failed\n", name.c_str());
        return 1;
      }
      to_running[name].push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      RunQuiet({path, "--root", root, "kill", long_id, "KILL"});
      // Reap the orphaned init (we are its subreaper, see below) before delete.
      for (int wait = 0; wait < 1000 && !RunQuiet({path, "--root", root, "delete", long_id});
           ++wait) {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        ::usleep(1000);
      }
    }
  }

  auto print = [&](const char* title, std::map<std::string, std::vector<double>>& data) {
    std::printf("\n%s (ms, %d runs each)\n", title, runs);
    std::printf("  %-14s %8s %8s %8s", "runtime", "min", "median", "p95");
    for (const auto& [name, path] : runtimes) {
      if (name != runtimes.front().first) std::printf("  %12s", ("vs " + name).c_str());
    }
    std::printf("\n");
    Stats first = Summarize(data[runtimes.front().first]);
    for (const auto& [name, path] : runtimes) {
      Stats s = Summarize(data[name]);
      std::printf("  %-14s %8.2f %8.2f %8.2f", name.c_str(), s.min, s.median, s.p95);
      if (name == runtimes.front().first) {
        for (const auto& [other, other_path] : runtimes) {
          if (other == name) continue;
          std::printf("  %11.2fx", Summarize(data[other]).median / first.median);
        }
      }
      std::printf("\n");
    }
  };
  print("run /bin/true: create + start + wait + delete", run_true);
  print("time to running: run --detach of a long-lived process", to_running);
  std::printf("\n(vs X: X's median divided by %s's; above 1 means %s is faster)\n",
              runtimes.front().first.c_str(), runtimes.front().first.c_str());
  return 0;
}
