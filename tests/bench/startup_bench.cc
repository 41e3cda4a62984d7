// Measures berthd's time from exec to a served socket and its idle memory.
//
//   startup_bench BERTHD_PATH [RUNS]
//
// Each run starts berthd on a fresh temporary root, polls connect() on its
// socket (every 100us) until it is accepted, confirms a Version RPC, waits
// for it to settle, then reads VmRSS and Pss from /proc and stops it.

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cri/client/cri_client.h"
#include "runtime/base/child_process.h"
#include "runtime/base/unique_fd.h"

namespace {

bool Accepts(const std::string& socket_path) {
  berth::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{.sun_family = AF_UNIX};
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

// A "Key:   123 kB" line of a /proc file, in KiB.
long ProcKib(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  }
  return -1;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BERTHD_PATH [RUNS]\n", argv[0]);
    return 2;
  }
  const std::string berthd = argv[1];
  const int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  std::vector<double> startup_ms, rss_mib, pss_mib;

  for (int run = 0; run < runs; ++run) {
    std::string dir = (std::filesystem::temp_directory_path() / "berth-bench-XXXXXX").string();
    if (mkdtemp(dir.data()) == nullptr) return 1;
    std::string socket = dir + "/berth.sock";
    absl::Time start = absl::Now();
    absl::StatusOr<berth::ChildProcess> process = berth::ChildProcess::Spawn(
        {berthd, "--root", dir + "/root", "--state-dir", dir + "/run", "--socket", socket,
         "--config", "/dev/null", "--log-level", "warn"});
    if (!process.ok()) {
      std::fprintf(stderr, "%s\n", process.status().ToString().c_str());
      return 1;
    }
    while (!Accepts(socket)) {
      if (absl::Now() - start > absl::Seconds(10)) {
        std::fprintf(stderr, "berthd did not serve within 10s\n");
        return 1;
      }
      ::usleep(100);
    }
    startup_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));

    absl::StatusOr<berth::cri::CriClient> client = berth::cri::CriClient::Connect(socket);
    if (!client.ok() || !client->Version().ok()) {
      std::fprintf(stderr, "Version RPC failed\n");
      return 1;
    }
    absl::SleepFor(absl::Milliseconds(500));  // idle: one served RPC, nothing running
    std::string proc = "/proc/" + std::to_string(process->pid());
    rss_mib.push_back(ProcKib(proc + "/status", "VmRSS") / 1024.0);
    pss_mib.push_back(ProcKib(proc + "/smaps_rollup", "Pss") / 1024.0);
    (void)process->Signal(SIGTERM);
    (void)process->WaitFor(absl::Seconds(15));
    std::filesystem::remove_all(dir);
  }

  std::printf("berthd startup and idle memory, %d runs\n", runs);
  std::printf("  exec -> socket accepting: min %.1f ms, median %.1f ms, max %.1f ms\n",
              *std::min_element(startup_ms.begin(), startup_ms.end()), Median(startup_ms),
              *std::max_element(startup_ms.begin(), startup_ms.end()));
  std::printf("  idle RSS: median %.1f MiB;  idle PSS: median %.1f MiB\n", Median(rss_mib),
              Median(pss_mib));
  return 0;
}
