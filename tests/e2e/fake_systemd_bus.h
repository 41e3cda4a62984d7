#pragma once

// A private D-Bus system bus (Debian's dbus-daemon on a socket of the test's
// own) with tests/support/fake_systemd on it as org.freedesktop.systemd1:
// the systemd cgroup driver's peer on machines where systemd does not run.
// Processes given address() as DBUS_SYSTEM_BUS_ADDRESS reach it as they
// would reach systemd.

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/status_macros.h"

namespace berth::testing {

class FakeSystemdBus {
 public:
  static constexpr char kDbusDaemon[] = "/usr/bin/dbus-daemon";

  // `dir` holds the socket, the bus config and the call log. Starts of
  // units in `fail_slice` end "failed"; those in `slow_slice` are answered
  // 300ms late.
  absl::Status Start(const std::string& dir, const std::string& fail_slice = "",
                     const std::string& slow_slice = "") {
    socket_ = dir + "/system_bus_socket";
    log_ = dir + "/systemd-calls.jsonl";
    std::string config = dir + "/bus.conf";
    RETURN_IF_ERROR(WriteFileAtomically(config, absl::StrCat(R"(<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=)",
                                                             socket_, R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
)")));
    ASSIGN_OR_RETURN(
        ChildProcess daemon,
        ChildProcess::Spawn(
            {kDbusDaemon, "--config-file=" + config, "--nofork", "--nopidfile", "--nosyslog"},
            {.stdout_path = dir + "/dbus-daemon.log", .stderr_path = dir + "/dbus-daemon.log"}));
    daemon_.emplace(std::move(daemon));
    RETURN_IF_ERROR(WaitFor([&] { return ::access(socket_.c_str(), F_OK) == 0; }, "bus socket"));
    std::vector<std::string> argv = {FAKE_SYSTEMD_PATH, "--address", address(), "--log", log_};
    if (!fail_slice.empty()) argv.insert(argv.end(), {"--fail-slice", fail_slice});
    if (!slow_slice.empty()) argv.insert(argv.end(), {"--slow-slice", slow_slice});
    ASSIGN_OR_RETURN(ChildProcess fake,
                     ChildProcess::Spawn(argv, {.stdout_path = dir + "/fake_systemd.log",
                                                .stderr_path = dir + "/fake_systemd.log"}));
    fake_.emplace(std::move(fake));
    return WaitFor([&] { return !Lines().empty(); }, "fake_systemd on the bus");
  }

  ~FakeSystemdBus() {
    // SIGTERM: fake_systemd removes the cgroups it made.
    for (std::optional<ChildProcess>* child : {&fake_, &daemon_}) {
      if (!child->has_value()) continue;
      (*child)->Signal(SIGTERM).IgnoreError();
      (void)(*child)->WaitFor(absl::Seconds(10));
    }
  }

  std::string address() const { return "unix:path=" + socket_; }

  // The calls fake_systemd answered, oldest first; `method` filters.
  std::vector<nlohmann::json> Calls(const std::string& method = "") const {
    std::vector<nlohmann::json> calls;
    for (const nlohmann::json& line : Lines()) {
      if (!line.contains("method")) continue;
      if (method.empty() || line["method"] == method) calls.push_back(line);
    }
    return calls;
  }

  // The last start of `unit`, or null.
  nlohmann::json StartOf(const std::string& unit) const {
    nlohmann::json found;
    for (const nlohmann::json& call : Calls("StartTransientUnit"))
      if (call["unit"] == unit) found = call;
    return found;
  }

 private:
  std::vector<nlohmann::json> Lines() const {
    std::vector<nlohmann::json> lines;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) {
      nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
      if (!parsed.is_discarded()) lines.push_back(parsed);
    }
    return lines;
  }

  template <typename Done>
  absl::Status WaitFor(Done done, const std::string& what) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done()) {
      if (absl::Now() > deadline)
        return absl::DeadlineExceededError("timed out waiting for " + what);
      absl::SleepFor(absl::Milliseconds(10));
    }
    return absl::OkStatus();
  }

  std::string socket_, log_;
  std::optional<ChildProcess> daemon_, fake_;
};

}  // namespace berth::testing
