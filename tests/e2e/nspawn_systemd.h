#pragma once

// A real systemd, booted by systemd-nspawn as PID 1 of a container whose
// root is this host's root file system (read-only, /var a tmpfs, a network
// namespace of its own). It is for machines where systemd does not run:
// what berth asks of systemd is then checked by systemd itself.
//
// nspawn gives the container the v1 controller hierarchies read-only, so
// that its systemd manages only its named hierarchy; they are made writable
// and systemd re-executed, so that it manages the controllers as on a node.
// Everything it makes stays below a cgroup of this object's own in each
// hierarchy, and goes with it.

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "tests/support/cgroup_mounts.h"

namespace berth::testing {

class SystemdInAContainer {
 public:
  static constexpr char kNspawn[] = "/usr/bin/systemd-nspawn";
  static constexpr char kSystemd[] = "/lib/systemd/systemd";

  struct Output {
    int exit_code = -1;
    std::string out, err;
  };

  // Boots it in `dir`, with `binds` (host directories) visible read-only at
  // the same paths. FAILED_PRECONDITION: nspawn cannot run containers here.
  absl::Status Boot(const std::string& dir, const std::vector<std::string>& binds) {
    dir_ = dir;
    machine_ = absl::StrCat("berth-e2e-", ::getpid());
    root_ = dir + "/root";
    std::filesystem::create_directories(root_);
    // The host's root alone (no submounts: nspawn wants an empty /dev).
    if (::mount("/", root_.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return ErrnoStatus("bind / on " + root_);
    mounted_ = true;
    if (::mount(nullptr, root_.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0)
      return ErrnoStatus("remount " + root_ + " read-only");
    RETURN_IF_ERROR(MakeOwnCgroups());

    std::string nspawn = absl::StrCat(
        kNspawn, " -D ", root_, " --volatile=state --private-network --register=no --keep-unit",
        " --console=read-only -M ", machine_);
    for (const std::string& bind : binds) absl::StrAppend(&nspawn, " --bind-ro=", bind);
    // sockets.target: systemd, its journal and the D-Bus socket; no services.
    absl::StrAppend(&nspawn, " -b systemd.unit=sockets.target");
    std::string enter;
    for (const std::string& cgroup : cgroups_)
      absl::StrAppend(&enter, "echo $$ > ", cgroup, "/cgroup.procs && ");
    std::string log = dir + "/nspawn.log";
    ASSIGN_OR_RETURN(ChildProcess child,
                     ChildProcess::Spawn({"/bin/sh", "-c", enter + "exec " + nspawn},
                                         {.stdout_path = log, .stderr_path = log}));
    nspawn_.emplace(std::move(child));

    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while ((leader_ = FindLeader()) == 0) {
      // nspawn gave up before any systemd ran: this machine cannot run its
      // containers, whatever berth does.
      if (nspawn_->WaitFor(absl::ZeroDuration()).ok())
        return absl::FailedPreconditionError("systemd-nspawn cannot run a container here:\n" +
                                             Log());
      if (absl::Now() > deadline)
        return absl::UnavailableError("systemd-nspawn did not start systemd:\n" + Log());
      absl::SleepFor(absl::Milliseconds(20));
    }
    RETURN_IF_ERROR(WaitBooted());
    Output writable = Run({"/bin/sh", "-c",
                           "for m in /sys/fs/cgroup/*/; do mount -o remount,bind,rw \"$m\" || "
                           "exit 1; done; systemctl daemon-reexec"});
    if (writable.exit_code != 0)
      return absl::UnavailableError("cannot hand the controllers to systemd: " + writable.err);
    return WaitBooted();
  }

  ~SystemdInAContainer() {
    if (nspawn_) {
      // SIGTERM: nspawn asks the container's systemd to power off.
      nspawn_->Signal(SIGTERM).IgnoreError();
      if (!nspawn_->WaitFor(absl::Seconds(30)).ok() && leader_ > 0) ::kill(leader_, SIGKILL);
      (void)nspawn_->WaitFor(absl::Seconds(10));
    }
    if (mounted_) ::umount2(root_.c_str(), MNT_DETACH);
    std::error_code ignored;
    std::filesystem::remove_all("/run/systemd/nspawn/propagate/" + machine_, ignored);
    for (const std::string& cgroup : cgroups_) RemoveCgroupTree(cgroup);
  }

  // Runs `argv` in the container, in all its namespaces, with a plain
  // environment (no bus address of the host's).
  Output Run(const std::vector<std::string>& argv, absl::Duration timeout = absl::Seconds(60)) {
    std::vector<std::string> full = {"/usr/bin/nsenter", "-t", std::to_string(leader_), "-a"};
    full.insert(full.end(), argv.begin(), argv.end());
    std::string out = absl::StrCat(dir_, "/run-", runs_, ".out");
    std::string err = absl::StrCat(dir_, "/run-", runs_++, ".err");
    Output output;
    absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(
        full, {.env = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
               .stdout_path = out,
               .stderr_path = err});
    if (!child.ok()) return output;
    absl::StatusOr<ExitStatus> exit = child->WaitFor(timeout);
    output.exit_code = exit.ok() ? exit->ShellCode() : -1;
    output.out = ReadFileToString(out).value_or("");
    output.err = ReadFileToString(err).value_or("");
    return output;
  }

  // `systemctl show` of `unit`: {property -> value}.
  std::map<std::string, std::string> Show(const std::string& unit) {
    std::map<std::string, std::string> properties;
    for (absl::string_view line : absl::StrSplit(Run({"systemctl", "show", unit}).out, '\n')) {
      std::vector<std::string> pair = absl::StrSplit(line, absl::MaxSplits('=', 1));
      if (pair.size() == 2) properties[pair[0]] = pair[1];
    }
    return properties;
  }

  // systemd's pid, as this host sees it.
  pid_t leader() const { return leader_; }

  std::string Log() const { return ReadFileToString(dir_ + "/nspawn.log").value_or(""); }

 private:
  // A cgroup of ours in every hierarchy, so that what nspawn and the
  // container's systemd make is below it.
  absl::Status MakeOwnCgroups() {
    for (const CgroupMount& mount : CgroupMounts()) {
      std::string cgroup = mount.point + "/" + machine_;
      if (::mkdir(cgroup.c_str(), 0755) != 0) return ErrnoStatus("mkdir " + cgroup);
      cgroups_.push_back(cgroup);
      // A v1 cpuset takes tasks once it has cpus and memory nodes.
      for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        absl::StatusOr<std::string> parent = ReadFileToString(mount.point + "/" + file);
        if (parent.ok()) std::ofstream(cgroup + "/" + file) << *parent;
      }
    }
    return absl::OkStatus();
  }

  static void RemoveCgroupTree(const std::string& top) {
    std::vector<std::string> dirs;
    std::error_code ignored;
    for (auto it = std::filesystem::recursive_directory_iterator(top, ignored);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ignored)) {
      if (it->is_directory(ignored)) dirs.push_back(it->path());
    }
    std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
      return a.size() > b.size();  // children first
    });
    dirs.push_back(top);
    for (const std::string& dir : dirs) {
      for (int attempt = 0; attempt < 50 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++attempt)
        absl::SleepFor(absl::Milliseconds(20));
    }
  }

  pid_t FindLeader() const {
    std::string children = ReadFileToString(absl::StrCat("/proc/", nspawn_->pid(), "/task/",
                                                         nspawn_->pid(), "/children"))
                               .value_or("");
    for (absl::string_view pid : absl::StrSplit(children, ' ', absl::SkipEmpty())) {
      std::string comm = ReadFileToString(absl::StrCat("/proc/", pid, "/comm")).value_or("");
      if (absl::StripAsciiWhitespace(comm) == "systemd") return std::stoi(std::string(pid));
    }
    return 0;
  }

  // Until systemd has booted; before its sockets exist, systemctl cannot ask.
  absl::Status WaitBooted() {
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    for (;;) {
      Output state = Run({"systemctl", "is-system-running", "--wait"}, absl::Seconds(60));
      std::string text(absl::StripAsciiWhitespace(state.out));
      if (text == "running" || text == "degraded") return absl::OkStatus();
      // Empty, or "offline": systemctl cannot reach systemd yet.
      if ((text.empty() || text == "offline") && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(50));
        continue;
      }
      return absl::UnavailableError(
          absl::StrCat("the container's systemd is \"", text, "\": ", state.err, "\n", Log()));
    }
  }

  std::string dir_, machine_, root_;
  bool mounted_ = false;
  std::vector<std::string> cgroups_;
  std::optional<ChildProcess> nspawn_;
  pid_t leader_ = 0;
  int runs_ = 0;
};

}  // namespace berth::testing
