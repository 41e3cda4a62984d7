#pragma once

// berthd as a process on its own socket and root under a temporary directory.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cri/client/cri_client.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {

using testing::TempDir;

// Runs a host command (ip, iptables) and returns its stdout and stderr
// together; "" if it could not be started.
inline std::string RunCommand(const std::vector<std::string>& argv) {
  TempDir dir;
  std::string out = dir.Join("out");
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn(argv, {.stdout_path = out, .stderr_path = out});
  if (!child.ok()) return "";
  (void)child->WaitFor(absl::Seconds(30));
  return ReadFileToString(out).value_or("");
}

// One berthd process with everything it owns under a temporary directory.
class BerthdUnderTest {
 public:
  explicit BerthdUnderTest(const TempDir& dir, const std::string& name = "berthd")
      : root_(dir.Join(name + "-root")),
        state_dir_(dir.Join(name + "-run")),
        socket_(dir.Join(name + "-run/berth.sock")),
        conf_dir_(dir.Join(name + "-net.d")),
        log_(dir.Join(name + ".log")),
        config_(dir.Join(name + ".yaml")) {}

  // Starts berthd with `config_yaml` as its config file and returns the
  // process; the caller decides whether it should serve or fail.
  absl::StatusOr<ChildProcess> Spawn(const std::string& config_yaml = "",
                                     std::vector<std::string> extra_flags = {}) {
    absl::Status written = WriteFileAtomically(
        config_, absl::StrCat("cni:\n  conf_dir: ", conf_dir_, "\n", config_yaml));
    if (!written.ok()) return written;
    std::vector<std::string> argv = {BERTHD_PATH,   "--config", config_,    "--root", root_,
                                     "--state-dir", state_dir_, "--socket", socket_};
    if (log_level_flag_) argv.insert(argv.end(), {"--log-level", "debug"});
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    return ChildProcess::Spawn(argv, {.stdout_path = log_, .stderr_path = log_});
  }

  // Starts berthd and connects to it.
  absl::Status Start(const std::string& config_yaml = "") {
    absl::StatusOr<ChildProcess> process = Spawn(config_yaml);
    if (!process.ok()) return process.status();
    process_ = std::make_unique<ChildProcess>(*std::move(process));
    // Until it serves, or gives up: a berthd that exits at startup fails
    // the start at once rather than after the whole timeout.
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    absl::StatusOr<CriClient> client = CriClient::Connect(socket_, absl::Milliseconds(200));
    while (!client.ok() && absl::Now() < deadline) {
      absl::StatusOr<ExitStatus> exited = process_->WaitFor(absl::ZeroDuration());
      if (exited.ok())
        return absl::UnavailableError(
            absl::StrCat("berthd exited (", exited->ToString(), ") before serving\n", Log()));
      client = CriClient::Connect(socket_, absl::Milliseconds(200));
    }
    if (!client.ok())
      return absl::UnavailableError(absl::StrCat(client.status().message(), "\n", Log()));
    client_ = std::make_unique<CriClient>(*std::move(client));
    return absl::OkStatus();
  }

  std::string Log() const { return ReadFileToString(log_).value_or(""); }

  ChildProcess& process() { return *process_; }
  CriClient& client() { return *client_; }
  const std::string& root() const { return root_; }
  const std::string& socket() const { return socket_; }
  const std::string& conf_dir() const { return conf_dir_; }
  // Without --log-level debug, the config file's log_level holds.
  void set_log_level_flag(bool on) { log_level_flag_ = on; }
  // The config file Spawn wrote (a test may rewrite it before a SIGHUP).
  const std::string& config_path() const { return config_; }

 private:
  std::string root_, state_dir_, socket_, conf_dir_, log_, config_;
  bool log_level_flag_ = true;
  std::unique_ptr<ChildProcess> process_;  // killed by its destructor if a test fails early
  std::unique_ptr<CriClient> client_;
};

}  // namespace berth::cri
