// A stand-in for systemd's manager on a private D-Bus bus, for the systemd
// cgroup driver's tests on machines where systemd does not run. It owns
// org.freedesktop.systemd1 and answers the calls berth makes the way
// systemd does: a transient scope gets a cgroup, below its slice, in the
// hierarchies systemd manages, with the unit's PIDs moved in; its start and
// stop jobs end with JobRemoved; stopping a scope kills what is left in it.
// Every call is logged as one JSON line.
//
//   fake_systemd --address unix:path=... --log calls.jsonl [--fail-slice x.slice]
//                [--slow-slice y.slice]
//
// `--fail-slice`: starts of units in that slice end "failed", as when
// systemd cannot set a unit up. `--slow-slice`: starts of units in that
// slice are answered 300ms late, as from a busy systemd. On SIGTERM the
// cgroups it made are removed.

#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "tests/support/cgroup_mounts.h"

namespace {

constexpr char kInterface[] = "org.freedesktop.systemd1.Manager";
constexpr char kPath[] = "/org/freedesktop/systemd1";

volatile sig_atomic_t stopping = 0;

struct Unit {
  std::vector<std::string> dirs;  // its cgroup in each managed hierarchy
};

struct State {
  sd_bus* bus = nullptr;
  std::string log_path;
  std::string fail_slice;
  std::string slow_slice;
  std::vector<std::string> hierarchies;  // the mount points systemd manages
  std::map<std::string, Unit> units;
  std::vector<std::string> made;  // every directory made, in order
  uint32_t next_job = 1;
};

State state;

void Log(const nlohmann::json& entry) {
  std::ofstream out(state.log_path, std::ios::app);
  out << entry.dump() << "\n";
}

// What systemd manages on a v1 or hybrid host (the named systemd hierarchy,
// the unified one, and the controllers it accounts); cpuset and freezer are
// left to the runtime, as real systemd leaves them.
std::vector<std::string> ManagedHierarchies() {
  static const std::set<std::string> kManaged = {"name=systemd", "cpu",   "cpuacct", "memory",
                                                 "devices",      "blkio", "pids"};
  std::vector<std::string> found;
  for (const berth::testing::CgroupMount& mount : berth::testing::CgroupMounts()) {
    bool managed = mount.unified;
    for (const std::string& option : mount.options) managed = managed || kManaged.contains(option);
    if (managed) found.push_back(mount.point);
  }
  return found;
}

// a-b.slice lives in a.slice: "/a.slice/a-b.slice"; -.slice is the root.
std::string SlicePath(const std::string& slice) {
  if (slice == "-.slice") return "";
  std::string path, prefix;
  for (absl::string_view piece : absl::StrSplit(absl::StripSuffix(slice, ".slice"), '-')) {
    prefix = prefix.empty() ? std::string(piece) : absl::StrCat(prefix, "-", piece);
    absl::StrAppend(&path, "/", prefix, ".slice");
  }
  return path;
}

void MakeDirs(const std::string& root, const std::string& path) {
  std::string dir = root;
  for (absl::string_view piece : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&dir, "/", piece);
    if (::mkdir(dir.c_str(), 0755) == 0) state.made.push_back(dir);
  }
}

// a(sv) as JSON: b, t, s and au values; others by their signature.
int ReadProperties(sd_bus_message* m, nlohmann::json& out) {
  int r = sd_bus_message_enter_container(m, 'a', "(sv)");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
    const char* name = nullptr;
    const char* contents = nullptr;
    char type = 0;
    if ((r = sd_bus_message_read(m, "s", &name)) < 0) return r;
    if ((r = sd_bus_message_peek_type(m, &type, &contents)) < 0) return r;
    if ((r = sd_bus_message_enter_container(m, 'v', contents)) < 0) return r;
    std::string signature = contents;
    if (signature == "b") {
      int value = 0;
      r = sd_bus_message_read(m, "b", &value);
      out[name] = value != 0;
    } else if (signature == "t") {
      uint64_t value = 0;
      r = sd_bus_message_read(m, "t", &value);
      out[name] = value;
    } else if (signature == "s") {
      const char* value = nullptr;
      r = sd_bus_message_read(m, "s", &value);
      out[name] = value;
    } else if (signature == "au") {
      nlohmann::json values = nlohmann::json::array();
      if ((r = sd_bus_message_enter_container(m, 'a', "u")) < 0) return r;
      uint32_t value = 0;
      while ((r = sd_bus_message_read(m, "u", &value)) > 0) values.push_back(value);
      if (r < 0) return r;
      r = sd_bus_message_exit_container(m);
      out[name] = values;
    } else {
      r = sd_bus_message_skip(m, contents);
      out[name] = "signature " + signature;
    }
    if (r < 0) return r;
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;  // v
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;  // r
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

// Whether `pid` is gone or a zombie.
bool Exited(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text;
  if (!std::getline(stat, text)) return true;
  size_t paren = text.rfind(')');
  return paren == std::string::npos || text.substr(paren + 2, 1) == "Z";
}

// Replies with a job's path, then ends the job.
int ReplyJob(sd_bus_message* m, const std::string& unit, const std::string& result) {
  uint32_t id = state.next_job++;
  std::string job = absl::StrCat(kPath, "/job/", id);
  int r = sd_bus_reply_method_return(m, "o", job.c_str());
  if (r < 0) return r;
  return sd_bus_emit_signal(state.bus, kPath, kInterface, "JobRemoved", "uoss", id, job.c_str(),
                            unit.c_str(), result.c_str());
}

int StartTransientUnit(sd_bus_message* m, void*, sd_bus_error* error) {
  const char* name = nullptr;
  const char* mode = nullptr;
  int r = sd_bus_message_read(m, "ss", &name, &mode);
  if (r < 0) return r;
  nlohmann::json properties = nlohmann::json::object();
  if ((r = ReadProperties(m, properties)) < 0) return r;
  Log({{"method", "StartTransientUnit"},
       {"unit", name},
       {"mode", mode},
       {"properties", properties}});
  if (state.units.contains(name)) {
    return sd_bus_error_setf(error, "org.freedesktop.systemd1.UnitExists",
                             "Unit %s was already loaded or has a fragment file.", name);
  }
  std::string slice = properties.value("Slice", "system.slice");
  if (slice == state.slow_slice) ::usleep(300000);
  if (slice == state.fail_slice) return ReplyJob(m, name, "failed");
  // A PID that is gone, or has exited and waits to be reaped (the kernel
  // refuses to move it: ESRCH), fails the call.
  for (uint32_t pid : properties.value("PIDs", std::vector<uint32_t>{})) {
    if (Exited(static_cast<pid_t>(pid))) {
      return sd_bus_error_setf(error, "org.freedesktop.DBus.Error.UnixProcessIdUnknown",
                               "Process with ID %u does not exist.", pid);
    }
  }

  Unit unit;
  std::string path = absl::StrCat(SlicePath(slice), "/", name);
  for (const std::string& root : state.hierarchies) {
    MakeDirs(root, path);
    std::string dir = root + path;
    unit.dirs.push_back(dir);
    for (uint32_t pid : properties.value("PIDs", std::vector<uint32_t>{})) {
      std::ofstream procs(dir + "/cgroup.procs");
      procs << pid;
    }
  }
  state.units[name] = unit;
  return ReplyJob(m, name, "done");
}

int StopUnit(sd_bus_message* m, void*, sd_bus_error* error) {
  const char* name = nullptr;
  const char* mode = nullptr;
  int r = sd_bus_message_read(m, "ss", &name, &mode);
  if (r < 0) return r;
  Log({{"method", "StopUnit"}, {"unit", name}, {"mode", mode}});
  auto unit = state.units.find(name);
  if (unit == state.units.end()) {
    return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.",
                             name);
  }
  // As systemd stops a scope: its processes are killed, then its cgroup goes.
  for (const std::string& dir : unit->second.dirs) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::ifstream procs(dir + "/cgroup.procs");
      bool empty = true;
      for (pid_t pid; procs >> pid;) {
        ::kill(pid, SIGKILL);
        empty = false;
      }
      if (empty && (::rmdir(dir.c_str()) == 0 || errno == ENOENT)) break;
      ::usleep(20000);
    }
  }
  state.units.erase(unit);
  return ReplyJob(m, name, "done");
}

int SetUnitProperties(sd_bus_message* m, void*, sd_bus_error* error) {
  const char* name = nullptr;
  int runtime = 0;
  int r = sd_bus_message_read(m, "sb", &name, &runtime);
  if (r < 0) return r;
  nlohmann::json properties = nlohmann::json::object();
  if ((r = ReadProperties(m, properties)) < 0) return r;
  Log({{"method", "SetUnitProperties"},
       {"unit", name},
       {"runtime", runtime != 0},
       {"properties", properties}});
  if (!state.units.contains(name)) {
    return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.",
                             name);
  }
  return sd_bus_reply_method_return(m, "");
}

int ResetFailedUnit(sd_bus_message* m, void*, sd_bus_error*) {
  const char* name = nullptr;
  int r = sd_bus_message_read(m, "s", &name);
  if (r < 0) return r;
  Log({{"method", "ResetFailedUnit"}, {"unit", name}});
  return sd_bus_reply_method_return(m, "");
}

const sd_bus_vtable kManager[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("StartTransientUnit", "ssa(sv)a(sa(sv))", "o", StartTransientUnit,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("StopUnit", "ss", "o", StopUnit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("SetUnitProperties", "sba(sv)", "", SetUnitProperties,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("ResetFailedUnit", "s", "", ResetFailedUnit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
    SD_BUS_VTABLE_END};

int Fail(const char* what, int r) {
  std::fprintf(stderr, "fake_systemd: %s: %s\n", what, std::strerror(-r));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--address") address = argv[i + 1];
    if (flag == "--log") state.log_path = argv[i + 1];
    if (flag == "--fail-slice") state.fail_slice = argv[i + 1];
    if (flag == "--slow-slice") state.slow_slice = argv[i + 1];
  }
  if (address.empty() || state.log_path.empty()) {
    std::fprintf(stderr, "usage: fake_systemd --address A --log F [--fail-slice S]\n");
    return 2;
  }
  state.hierarchies = ManagedHierarchies();
  struct sigaction on_term = {};
  on_term.sa_handler = [](int) { stopping = 1; };
  sigaction(SIGTERM, &on_term, nullptr);
  sigaction(SIGINT, &on_term, nullptr);

  int r = sd_bus_new(&state.bus);
  if (r < 0) return Fail("sd_bus_new", r);
  if ((r = sd_bus_set_address(state.bus, address.c_str())) < 0) return Fail("address", r);
  if ((r = sd_bus_set_bus_client(state.bus, 1)) < 0) return Fail("bus client", r);
  if ((r = sd_bus_start(state.bus)) < 0) return Fail("connect", r);
  if ((r = sd_bus_add_object_vtable(state.bus, nullptr, kPath, kInterface, kManager, nullptr)) < 0)
    return Fail("vtable", r);
  if ((r = sd_bus_request_name(state.bus, "org.freedesktop.systemd1", 0)) < 0)
    return Fail("request org.freedesktop.systemd1", r);
  Log({{"event", "ready"}, {"hierarchies", state.hierarchies}});

  while (!stopping) {
    r = sd_bus_process(state.bus, nullptr);
    if (r < 0) return Fail("process", r);
    if (r > 0) continue;
    r = sd_bus_wait(state.bus, 200000);
    if (r < 0 && r != -EINTR) return Fail("wait", r);
  }
  for (auto it = state.made.rbegin(); it != state.made.rend(); ++it) ::rmdir(it->c_str());
  sd_bus_flush_close_unref(state.bus);
  return 0;
}
