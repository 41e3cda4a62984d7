#include "runtime/oci/spec_parse.h"

#include <sys/resource.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/json_reader.h"
#include "runtime/base/path_in_root.h"
#include "runtime/base/status_macros.h"
#include "runtime/oci/capability_names.h"
#include "runtime/oci/namespaces.h"
#include "runtime/oci/rlimit_names.h"

namespace berth::oci {
namespace {

using json = nlohmann::json;

absl::Status Invalid(const std::string& path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

std::string Join(const std::string& path, const char* key) {
  return path.empty() ? key : absl::StrCat(path, ".", key);
}

// Typed readers for optional members: a missing or null member leaves `out`
// untouched; a member of the wrong type is an error naming it.
absl::Status Read(const json& object, const char* key, const std::string& path, std::string& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) return Invalid(Join(path, key), "must be a string");
  out = it->get<std::string>();
  if (out.find('\0') != std::string::npos) return Invalid(Join(path, key), "contains a null byte");
  return absl::OkStatus();
}

absl::Status Read(const json& object, const char* key, const std::string& path, bool& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return Invalid(Join(path, key), "must be true or false");
  out = it->get<bool>();
  return absl::OkStatus();
}

template <typename Int>
absl::Status ReadInteger(const json& value, const std::string& path, Int& out) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<Int>::max())) {
      return Invalid(path, "is out of range");
    }
    out = static_cast<Int>(v);
    return absl::OkStatus();
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < static_cast<int64_t>(std::numeric_limits<Int>::min()) ||
        (v > 0 &&
         static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<Int>::max()))) {
      return Invalid(path, "is out of range");
    }
    out = static_cast<Int>(v);
    return absl::OkStatus();
  }
  return Invalid(path, "must be an integer");
}

template <typename Int>
absl::Status Read(const json& object, const char* key, const std::string& path,
                  Int& out) requires std::is_integral_v<Int> {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  return ReadInteger(*it, Join(path, key), out);
}

template <typename Int>
absl::Status Read(const json& object, const char* key, const std::string& path,
                  std::optional<Int>& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if constexpr (std::is_same_v<Int, bool>) {
    if (!it->is_boolean()) return Invalid(Join(path, key), "must be true or false");
    out = it->get<bool>();
    return absl::OkStatus();
  } else {
    Int value{};
    RETURN_IF_ERROR(ReadInteger(*it, Join(path, key), value));
    out = value;
    return absl::OkStatus();
  }
}

absl::Status Read(const json& object, const char* key, const std::string& path,
                  std::vector<std::string>& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Invalid(Join(path, key), "must be an array of strings");
  out.clear();
  for (size_t i = 0; i < it->size(); ++i) {
    const json& item = (*it)[i];
    if (!item.is_string())
      return Invalid(absl::StrCat(Join(path, key), "[", i, "]"), "must be a string");
    out.push_back(item.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status Read(const json& object, const char* key, const std::string& path,
                  std::map<std::string, std::string>& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return Invalid(Join(path, key), "must be an object of strings");
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string())
      return Invalid(absl::StrCat(Join(path, key), ".", name), "must be a string");
    out[name] = value.get<std::string>();
  }
  return absl::OkStatus();
}

// Calls `each` for every element of an optional array of objects.
absl::Status ForEachObject(
    const json& object, const char* key, const std::string& path,
    const std::function<absl::Status(const json&, const std::string&)>& each) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Invalid(Join(path, key), "must be an array");
  for (size_t i = 0; i < it->size(); ++i) {
    std::string item_path = absl::StrCat(Join(path, key), "[", i, "]");
    if (!(*it)[i].is_object()) return Invalid(item_path, "must be an object");
    RETURN_IF_ERROR(each((*it)[i], item_path));
  }
  return absl::OkStatus();
}

// The member `key` as an object, or nullptr when absent; an error if it is not an object.
absl::StatusOr<const json*> Object(const json& object, const char* key, const std::string& path) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  if (!it->is_object()) return Invalid(Join(path, key), "must be an object");
  return &*it;
}

absl::Status RequireAbsolute(const std::string& value, const std::string& path) {
  if (value.empty() || value[0] != '/')
    return Invalid(path, absl::StrCat("must be an absolute path, got \"", value, "\""));
  return absl::OkStatus();
}

absl::Status ParseCapabilities(const json& object, const std::string& path, Capabilities& caps) {
  const std::pair<const char*, std::vector<std::string>*> sets[] = {
      {"bounding", &caps.bounding},
      {"effective", &caps.effective},
      {"permitted", &caps.permitted},
      {"inheritable", &caps.inheritable},
      {"ambient", &caps.ambient}};
  for (const auto& [key, set] : sets) {
    RETURN_IF_ERROR(Read(object, key, path, *set));
    for (size_t i = 0; i < set->size(); ++i) {
      if (!CapabilityFromName((*set)[i]).has_value()) {
        return Invalid(absl::StrCat(Join(path, key), "[", i, "]"),
                       absl::StrCat("unknown capability \"", (*set)[i], "\""));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ParseProcess(const json& object, const std::string& path, Process& process) {
  RETURN_IF_ERROR(Read(object, "terminal", path, process.terminal));
  ASSIGN_OR_RETURN(const json* size, Object(object, "consoleSize", path));
  if (size != nullptr) {
    ConsoleSize console;
    RETURN_IF_ERROR(Read(*size, "height", Join(path, "consoleSize"), console.height));
    RETURN_IF_ERROR(Read(*size, "width", Join(path, "consoleSize"), console.width));
    process.console_size = console;
  }
  ASSIGN_OR_RETURN(const json* user, Object(object, "user", path));
  if (user != nullptr) {
    std::string user_path = Join(path, "user");
    RETURN_IF_ERROR(Read(*user, "uid", user_path, process.user.uid));
    RETURN_IF_ERROR(Read(*user, "gid", user_path, process.user.gid));
    std::optional<uint32_t> umask;
    RETURN_IF_ERROR(Read(*user, "umask", user_path, umask));
    if (umask.has_value()) {
      if (*umask > 0777) return Invalid(Join(user_path, "umask"), "must be at most 0777");
      process.user.umask = *umask;
    }
    auto gids = user->find("additionalGids");
    if (gids != user->end() && !gids->is_null()) {
      if (!gids->is_array()) return Invalid(Join(user_path, "additionalGids"), "must be an array");
      for (size_t i = 0; i < gids->size(); ++i) {
        gid_t gid = 0;
        RETURN_IF_ERROR(ReadInteger(
            (*gids)[i], absl::StrCat(Join(user_path, "additionalGids"), "[", i, "]"), gid));
        process.user.additional_gids.push_back(gid);
      }
    }
  }
  RETURN_IF_ERROR(Read(object, "args", path, process.args));
  if (object.contains("commandLine")) {
    return Invalid(Join(path, "commandLine"), "is for Windows; use args");
  }
  if (process.args.empty()) return Invalid(Join(path, "args"), "must name the program to run");
  RETURN_IF_ERROR(Read(object, "env", path, process.env));
  for (size_t i = 0; i < process.env.size(); ++i) {
    if (process.env[i].find('=') == std::string::npos) {
      return Invalid(absl::StrCat(Join(path, "env"), "[", i, "]"), "must be NAME=value");
    }
  }
  RETURN_IF_ERROR(Read(object, "cwd", path, process.cwd));
  RETURN_IF_ERROR(RequireAbsolute(process.cwd, Join(path, "cwd")));
  ASSIGN_OR_RETURN(const json* caps, Object(object, "capabilities", path));
  if (caps != nullptr) {
    process.capabilities.emplace();
    RETURN_IF_ERROR(ParseCapabilities(*caps, Join(path, "capabilities"), *process.capabilities));
  }
  std::set<std::string> seen_rlimits;
  RETURN_IF_ERROR(
      ForEachObject(object, "rlimits", path, [&](const json& item, const std::string& item_path) {
        Rlimit limit;
        RETURN_IF_ERROR(Read(item, "type", item_path, limit.type));
        if (!RlimitFromName(limit.type).has_value()) {
          return Invalid(Join(item_path, "type"),
                         absl::StrCat("unknown rlimit \"", limit.type, "\""));
        }
        if (!seen_rlimits.insert(limit.type).second)
          return Invalid(Join(item_path, "type"), "is given twice");
        RETURN_IF_ERROR(Read(item, "soft", item_path, limit.soft));
        RETURN_IF_ERROR(Read(item, "hard", item_path, limit.hard));
        if (limit.soft > limit.hard) return Invalid(item_path, "soft limit exceeds the hard limit");
        process.rlimits.push_back(limit);
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(Read(object, "noNewPrivileges", path, process.no_new_privileges));
  RETURN_IF_ERROR(Read(object, "apparmorProfile", path, process.apparmor_profile));
  RETURN_IF_ERROR(Read(object, "selinuxLabel", path, process.selinux_label));
  RETURN_IF_ERROR(Read(object, "oomScoreAdj", path, process.oom_score_adj));
  if (process.oom_score_adj.has_value() &&
      (*process.oom_score_adj < -1000 || *process.oom_score_adj > 1000)) {
    return Invalid(Join(path, "oomScoreAdj"), "must be between -1000 and 1000");
  }
  if (object.contains("ioPriority") || object.contains("scheduler") ||
      object.contains("execCPUAffinity")) {
    for (const char* key : {"ioPriority", "scheduler", "execCPUAffinity"}) {
      if (object.contains(key))
        return Invalid(Join(path, key), "is not supported by berth-runtime yet");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseHook(const json& item, const std::string& path, Hook& hook) {
  RETURN_IF_ERROR(Read(item, "path", path, hook.path));
  RETURN_IF_ERROR(RequireAbsolute(hook.path, Join(path, "path")));
  RETURN_IF_ERROR(Read(item, "args", path, hook.args));
  RETURN_IF_ERROR(Read(item, "env", path, hook.env));
  RETURN_IF_ERROR(Read(item, "timeout", path, hook.timeout_seconds));
  if (hook.timeout_seconds.has_value() && *hook.timeout_seconds <= 0) {
    return Invalid(Join(path, "timeout"), "must be positive");
  }
  return absl::OkStatus();
}

absl::Status ParseHooks(const json& object, const std::string& path, Hooks& hooks) {
  // "prestart" is the deprecated name of createRuntime, still emitted by
  // older tools; its hooks run first.
  std::vector<Hook> prestart;
  const std::pair<const char*, std::vector<Hook>*> kinds[] = {
      {"prestart", &prestart},
      {"createRuntime", &hooks.create_runtime},
      {"createContainer", &hooks.create_container},
      {"startContainer", &hooks.start_container},
      {"poststart", &hooks.poststart},
      {"poststop", &hooks.poststop}};
  for (const auto& [key, list] : kinds) {
    RETURN_IF_ERROR(
        ForEachObject(object, key, path, [&](const json& item, const std::string& item_path) {
          Hook hook;
          RETURN_IF_ERROR(ParseHook(item, item_path, hook));
          list->push_back(std::move(hook));
          return absl::OkStatus();
        }));
  }
  hooks.create_runtime.insert(hooks.create_runtime.begin(), prestart.begin(), prestart.end());
  return absl::OkStatus();
}

absl::Status ParseIdMappings(const json& object, const char* key, const std::string& path,
                             std::vector<IdMapping>& out) {
  return ForEachObject(object, key, path, [&](const json& item, const std::string& item_path) {
    IdMapping mapping;
    RETURN_IF_ERROR(Read(item, "containerID", item_path, mapping.container_id));
    RETURN_IF_ERROR(Read(item, "hostID", item_path, mapping.host_id));
    RETURN_IF_ERROR(Read(item, "size", item_path, mapping.size));
    if (mapping.size == 0) return Invalid(Join(item_path, "size"), "must be positive");
    out.push_back(mapping);
    return absl::OkStatus();
  });
}

absl::Status ParseDeviceRule(const json& item, const std::string& path, DeviceRule& rule) {
  RETURN_IF_ERROR(Read(item, "allow", path, rule.allow));
  std::string type = "a";
  RETURN_IF_ERROR(Read(item, "type", path, type));
  if (type != "a" && type != "c" && type != "b")
    return Invalid(Join(path, "type"), "must be a, c or b");
  rule.type = type[0];
  RETURN_IF_ERROR(Read(item, "major", path, rule.major));
  RETURN_IF_ERROR(Read(item, "minor", path, rule.minor));
  RETURN_IF_ERROR(Read(item, "access", path, rule.access));
  if (rule.access.empty()) rule.access = "rwm";
  for (char c : rule.access) {
    if (c != 'r' && c != 'w' && c != 'm')
      return Invalid(Join(path, "access"), "may hold only r, w and m");
  }
  return absl::OkStatus();
}

absl::Status ParseThrottles(const json& object, const char* key, const std::string& path,
                            std::vector<ThrottleDevice>& out) {
  return ForEachObject(object, key, path, [&](const json& item, const std::string& item_path) {
    ThrottleDevice device;
    RETURN_IF_ERROR(Read(item, "major", item_path, device.major));
    RETURN_IF_ERROR(Read(item, "minor", item_path, device.minor));
    RETURN_IF_ERROR(Read(item, "rate", item_path, device.rate));
    out.push_back(device);
    return absl::OkStatus();
  });
}

absl::Status ParseResources(const json& object, const std::string& path, Resources& resources) {
  RETURN_IF_ERROR(
      ForEachObject(object, "devices", path, [&](const json& item, const std::string& item_path) {
        DeviceRule rule;
        RETURN_IF_ERROR(ParseDeviceRule(item, item_path, rule));
        resources.devices.push_back(rule);
        return absl::OkStatus();
      }));
  ASSIGN_OR_RETURN(const json* memory, Object(object, "memory", path));
  if (memory != nullptr) {
    std::string p = Join(path, "memory");
    MemoryResources& m = resources.memory;
    RETURN_IF_ERROR(Read(*memory, "limit", p, m.limit));
    RETURN_IF_ERROR(Read(*memory, "reservation", p, m.reservation));
    RETURN_IF_ERROR(Read(*memory, "swap", p, m.swap));
    RETURN_IF_ERROR(Read(*memory, "kernel", p, m.kernel));
    RETURN_IF_ERROR(Read(*memory, "kernelTCP", p, m.kernel_tcp));
    RETURN_IF_ERROR(Read(*memory, "swappiness", p, m.swappiness));
    RETURN_IF_ERROR(Read(*memory, "disableOOMKiller", p, m.disable_oom_killer));
    if (m.swappiness.has_value() && *m.swappiness > 100)
      return Invalid(Join(p, "swappiness"), "must be at most 100");
  }
  ASSIGN_OR_RETURN(const json* cpu, Object(object, "cpu", path));
  if (cpu != nullptr) {
    std::string p = Join(path, "cpu");
    CpuResources& c = resources.cpu;
    RETURN_IF_ERROR(Read(*cpu, "shares", p, c.shares));
    RETURN_IF_ERROR(Read(*cpu, "quota", p, c.quota));
    RETURN_IF_ERROR(Read(*cpu, "period", p, c.period));
    RETURN_IF_ERROR(Read(*cpu, "realtimeRuntime", p, c.realtime_runtime));
    RETURN_IF_ERROR(Read(*cpu, "realtimePeriod", p, c.realtime_period));
    RETURN_IF_ERROR(Read(*cpu, "cpus", p, c.cpus));
    RETURN_IF_ERROR(Read(*cpu, "mems", p, c.mems));
    RETURN_IF_ERROR(Read(*cpu, "idle", p, c.idle));
  }
  ASSIGN_OR_RETURN(const json* network, Object(object, "network", path));
  if (network != nullptr) {
    std::string p = Join(path, "network");
    RETURN_IF_ERROR(Read(*network, "classID", p, resources.network.class_id));
    RETURN_IF_ERROR(
        ForEachObject(*network, "priorities", p, [&](const json& item, const std::string& ip) {
          std::string name;
          uint32_t priority = 0;
          RETURN_IF_ERROR(Read(item, "name", ip, name));
          RETURN_IF_ERROR(Read(item, "priority", ip, priority));
          if (name.empty() || name.find_first_of(" \n/") != std::string::npos)
            return Invalid(Join(ip, "name"), "must name a network interface");
          resources.network.priorities.emplace_back(name, priority);
          return absl::OkStatus();
        }));
  }
  ASSIGN_OR_RETURN(const json* pids, Object(object, "pids", path));
  if (pids != nullptr) {
    int64_t limit = 0;
    RETURN_IF_ERROR(Read(*pids, "limit", Join(path, "pids"), limit));
    resources.pids_limit = limit;
  }
  ASSIGN_OR_RETURN(const json* block_io, Object(object, "blockIO", path));
  if (block_io != nullptr) {
    std::string p = Join(path, "blockIO");
    BlockIoResources& b = resources.block_io;
    RETURN_IF_ERROR(Read(*block_io, "weight", p, b.weight));
    RETURN_IF_ERROR(Read(*block_io, "leafWeight", p, b.leaf_weight));
    RETURN_IF_ERROR(
        ForEachObject(*block_io, "weightDevice", p, [&](const json& item, const std::string& ip) {
          WeightDevice device;
          RETURN_IF_ERROR(Read(item, "major", ip, device.major));
          RETURN_IF_ERROR(Read(item, "minor", ip, device.minor));
          RETURN_IF_ERROR(Read(item, "weight", ip, device.weight));
          RETURN_IF_ERROR(Read(item, "leafWeight", ip, device.leaf_weight));
          b.weight_devices.push_back(device);
          return absl::OkStatus();
        }));
    RETURN_IF_ERROR(ParseThrottles(*block_io, "throttleReadBpsDevice", p, b.read_bps));
    RETURN_IF_ERROR(ParseThrottles(*block_io, "throttleWriteBpsDevice", p, b.write_bps));
    RETURN_IF_ERROR(ParseThrottles(*block_io, "throttleReadIOPSDevice", p, b.read_iops));
    RETURN_IF_ERROR(ParseThrottles(*block_io, "throttleWriteIOPSDevice", p, b.write_iops));
  }
  RETURN_IF_ERROR(
      ForEachObject(object, "hugepageLimits", path, [&](const json& item, const std::string& ip) {
        HugepageLimit limit;
        RETURN_IF_ERROR(Read(item, "pageSize", ip, limit.page_size));
        RETURN_IF_ERROR(Read(item, "limit", ip, limit.limit));
        if (limit.page_size.empty()) return Invalid(Join(ip, "pageSize"), "is required");
        resources.hugepage_limits.push_back(limit);
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(Read(object, "unified", path, resources.unified));
  for (const auto& [key, value] : resources.unified) {
    if (key.find('/') != std::string::npos || key.find("..") != std::string::npos) {
      return Invalid(absl::StrCat(Join(path, "unified"), ".", key),
                     "must name a file of the cgroup");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSeccomp(const json& object, const std::string& path, Seccomp& seccomp) {
  RETURN_IF_ERROR(Read(object, "defaultAction", path, seccomp.default_action));
  if (seccomp.default_action.empty()) return Invalid(Join(path, "defaultAction"), "is required");
  RETURN_IF_ERROR(Read(object, "defaultErrnoRet", path, seccomp.default_errno_ret));
  RETURN_IF_ERROR(Read(object, "architectures", path, seccomp.architectures));
  RETURN_IF_ERROR(Read(object, "flags", path, seccomp.flags));
  RETURN_IF_ERROR(Read(object, "listenerPath", path, seccomp.listener_path));
  if (!seccomp.listener_path.empty()) {
    return Invalid(Join(path, "listenerPath"),
                   "seccomp notify listeners are not supported by berth-runtime");
  }
  return ForEachObject(object, "syscalls", path, [&](const json& item, const std::string& ip) {
    SeccompSyscall rule;
    RETURN_IF_ERROR(Read(item, "names", ip, rule.names));
    if (rule.names.empty()) return Invalid(Join(ip, "names"), "must name at least one syscall");
    RETURN_IF_ERROR(Read(item, "action", ip, rule.action));
    if (rule.action.empty()) return Invalid(Join(ip, "action"), "is required");
    RETURN_IF_ERROR(Read(item, "errnoRet", ip, rule.errno_ret));
    RETURN_IF_ERROR(
        ForEachObject(item, "args", ip, [&](const json& arg_item, const std::string& ap) {
          SeccompArg arg;
          RETURN_IF_ERROR(Read(arg_item, "index", ap, arg.index));
          if (arg.index > 5) return Invalid(Join(ap, "index"), "must be 0 to 5");
          RETURN_IF_ERROR(Read(arg_item, "value", ap, arg.value));
          RETURN_IF_ERROR(Read(arg_item, "valueTwo", ap, arg.value_two));
          RETURN_IF_ERROR(Read(arg_item, "op", ap, arg.op));
          if (arg.op.empty()) return Invalid(Join(ap, "op"), "is required");
          rule.args.push_back(arg);
          return absl::OkStatus();
        }));
    seccomp.syscalls.push_back(std::move(rule));
    return absl::OkStatus();
  });
}

absl::Status ParseLinux(const json& object, const std::string& path, Linux& linux) {
  std::set<std::string> seen_namespaces;
  RETURN_IF_ERROR(
      ForEachObject(object, "namespaces", path, [&](const json& item, const std::string& ip) {
        Namespace ns;
        RETURN_IF_ERROR(Read(item, "type", ip, ns.type));
        if (FindNamespaceKind(ns.type) == nullptr) {
          return Invalid(Join(ip, "type"), absl::StrCat("unknown namespace \"", ns.type, "\""));
        }
        if (!seen_namespaces.insert(ns.type).second)
          return Invalid(Join(ip, "type"),
                         absl::StrCat("namespace \"", ns.type, "\" is given twice"));
        RETURN_IF_ERROR(Read(item, "path", ip, ns.path));
        if (!ns.path.empty()) RETURN_IF_ERROR(RequireAbsolute(ns.path, Join(ip, "path")));
        linux.namespaces.push_back(ns);
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(ParseIdMappings(object, "uidMappings", path, linux.uid_mappings));
  RETURN_IF_ERROR(ParseIdMappings(object, "gidMappings", path, linux.gid_mappings));
  bool has_mappings = !linux.uid_mappings.empty() || !linux.gid_mappings.empty();
  if (has_mappings && !seen_namespaces.contains("user")) {
    return Invalid(Join(path, "uidMappings"), "id mappings need a user namespace");
  }
  RETURN_IF_ERROR(
      ForEachObject(object, "devices", path, [&](const json& item, const std::string& ip) {
        Device device;
        RETURN_IF_ERROR(Read(item, "path", ip, device.path));
        RETURN_IF_ERROR(RequireAbsolute(device.path, Join(ip, "path")));
        std::string type;
        RETURN_IF_ERROR(Read(item, "type", ip, type));
        if (type != "c" && type != "b" && type != "u" && type != "p")
          return Invalid(Join(ip, "type"), "must be c, b, u or p");
        device.type = type[0];
        RETURN_IF_ERROR(Read(item, "major", ip, device.major));
        RETURN_IF_ERROR(Read(item, "minor", ip, device.minor));
        std::optional<uint32_t> mode;
        RETURN_IF_ERROR(Read(item, "fileMode", ip, mode));
        if (mode.has_value()) device.file_mode = *mode;
        RETURN_IF_ERROR(Read(item, "uid", ip, device.uid));
        RETURN_IF_ERROR(Read(item, "gid", ip, device.gid));
        linux.devices.push_back(device);
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(Read(object, "cgroupsPath", path, linux.cgroups_path));
  ASSIGN_OR_RETURN(const json* resources, Object(object, "resources", path));
  if (resources != nullptr) {
    linux.resources.emplace();
    RETURN_IF_ERROR(ParseResources(*resources, Join(path, "resources"), *linux.resources));
  }
  RETURN_IF_ERROR(Read(object, "rootfsPropagation", path, linux.rootfs_propagation));
  static const std::set<std::string> kPropagations = {"",        "private",    "rprivate",
                                                      "slave",   "rslave",     "shared",
                                                      "rshared", "unbindable", "runbindable"};
  if (!kPropagations.contains(linux.rootfs_propagation)) {
    return Invalid(Join(path, "rootfsPropagation"),
                   absl::StrCat("unknown propagation \"", linux.rootfs_propagation, "\""));
  }
  RETURN_IF_ERROR(Read(object, "maskedPaths", path, linux.masked_paths));
  RETURN_IF_ERROR(Read(object, "readonlyPaths", path, linux.readonly_paths));
  for (const std::string& masked : linux.masked_paths)
    RETURN_IF_ERROR(RequireAbsolute(masked, Join(path, "maskedPaths")));
  for (const std::string& ro : linux.readonly_paths)
    RETURN_IF_ERROR(RequireAbsolute(ro, Join(path, "readonlyPaths")));
  RETURN_IF_ERROR(Read(object, "sysctl", path, linux.sysctl));
  ASSIGN_OR_RETURN(const json* seccomp, Object(object, "seccomp", path));
  if (seccomp != nullptr) {
    linux.seccomp.emplace();
    RETURN_IF_ERROR(ParseSeccomp(*seccomp, Join(path, "seccomp"), *linux.seccomp));
  }
  RETURN_IF_ERROR(Read(object, "mountLabel", path, linux.mount_label));
  for (const char* key : {"intelRdt", "personality", "memoryPolicy", "netDevices"}) {
    if (object.contains(key) && !object[key].is_null()) {
      return Invalid(Join(path, key), "is not supported by berth-runtime yet");
    }
  }
  return absl::OkStatus();
}

// CVE-2019-19921: a volume mounted over /proc (or part of it) turns the
// runtime's writes to /proc into writes to whatever the volume holds. Only a
// proc mount may sit at /proc; below it, only binds of the files lxcfs
// serves, which the runtime never writes to.
absl::Status ValidateProcMount(const Mount& mount, const std::string& path) {
  static constexpr const char* kLxcfsFiles[] = {"/proc/cpuinfo",
                                                "/proc/diskstats",
                                                "/proc/meminfo",
                                                "/proc/stat",
                                                "/proc/swaps",
                                                "/proc/uptime",
                                                "/proc/loadavg",
                                                "/proc/slabinfo",
                                                "/proc/net/dev",
                                                "/proc/pressure/cpu",
                                                "/proc/pressure/io",
                                                "/proc/pressure/memory",
                                                "/proc/sys/kernel/ns_last_pid"};
  std::string destination = "/" + LexicallyClean(mount.destination);
  if (destination == "/proc") {
    if (mount.type == "proc") return absl::OkStatus();
    return Invalid(path,
                   absl::StrCat("a \"", mount.type, "\" mount at /proc: only proc is allowed"));
  }
  if (!absl::StartsWith(destination, "/proc/")) return absl::OkStatus();
  bool bind =
      mount.type == "bind" ||
      std::find(mount.options.begin(), mount.options.end(), "bind") != mount.options.end() ||
      std::find(mount.options.begin(), mount.options.end(), "rbind") != mount.options.end();
  for (const char* allowed : kLxcfsFiles) {
    if (bind && destination == allowed) return absl::OkStatus();
  }
  return Invalid(path, absl::StrCat("a mount at ", destination,
                                    ": nothing may be mounted under /proc but binds of the files "
                                    "lxcfs provides (/proc/cpuinfo, /proc/meminfo, ...)"));
}

}  // namespace

absl::StatusOr<Spec> ParseSpec(absl::string_view json_text) {
  ASSIGN_OR_RETURN(json doc, ParseJson(json_text, "config.json"));
  if (!doc.is_object()) return absl::InvalidArgumentError("config.json must be a JSON object");
  Spec spec;
  RETURN_IF_ERROR(Read(doc, "ociVersion", "", spec.oci_version));
  if (spec.oci_version.empty()) return Invalid("ociVersion", "is required");
  if (!absl::StartsWith(spec.oci_version, "1.")) {
    return Invalid("ociVersion",
                   absl::StrCat("version \"", spec.oci_version, "\" is not supported (need 1.x)"));
  }
  ASSIGN_OR_RETURN(const json* root, Object(doc, "root", ""));
  if (root == nullptr) return Invalid("root", "is required");
  RETURN_IF_ERROR(Read(*root, "path", "root", spec.root.path));
  if (spec.root.path.empty()) return Invalid("root.path", "is required");
  RETURN_IF_ERROR(Read(*root, "readonly", "root", spec.root.readonly));
  ASSIGN_OR_RETURN(const json* process, Object(doc, "process", ""));
  if (process != nullptr) {
    spec.process.emplace();
    RETURN_IF_ERROR(ParseProcess(*process, "process", *spec.process));
  }
  RETURN_IF_ERROR(Read(doc, "hostname", "", spec.hostname));
  RETURN_IF_ERROR(Read(doc, "domainname", "", spec.domainname));
  RETURN_IF_ERROR(ForEachObject(doc, "mounts", "", [&](const json& item, const std::string& ip) {
    Mount mount;
    RETURN_IF_ERROR(Read(item, "destination", ip, mount.destination));
    RETURN_IF_ERROR(RequireAbsolute(mount.destination, Join(ip, "destination")));
    RETURN_IF_ERROR(Read(item, "type", ip, mount.type));
    RETURN_IF_ERROR(Read(item, "source", ip, mount.source));
    RETURN_IF_ERROR(Read(item, "options", ip, mount.options));
    RETURN_IF_ERROR(ParseIdMappings(item, "uidMappings", ip, mount.uid_mappings));
    RETURN_IF_ERROR(ParseIdMappings(item, "gidMappings", ip, mount.gid_mappings));
    if (mount.uid_mappings.empty() != mount.gid_mappings.empty())
      return Invalid(Join(ip, "uidMappings"), "an idmapped mount needs both uid and gid mappings");
    auto has_option = [&](const char* option) {
      return std::find(mount.options.begin(), mount.options.end(), option) != mount.options.end();
    };
    if (!mount.uid_mappings.empty() && mount.type != "bind" && !has_option("bind") &&
        !has_option("rbind"))
      return Invalid(Join(ip, "uidMappings"), "only bind mounts can be idmapped");
    RETURN_IF_ERROR(ValidateProcMount(mount, ip));
    spec.mounts.push_back(std::move(mount));
    return absl::OkStatus();
  }));
  ASSIGN_OR_RETURN(const json* hooks, Object(doc, "hooks", ""));
  if (hooks != nullptr) RETURN_IF_ERROR(ParseHooks(*hooks, "hooks", spec.hooks));
  RETURN_IF_ERROR(Read(doc, "annotations", "", spec.annotations));
  ASSIGN_OR_RETURN(const json* linux, Object(doc, "linux", ""));
  if (linux != nullptr) RETURN_IF_ERROR(ParseLinux(*linux, "linux", spec.linux));
  if (!spec.hostname.empty()) {
    // A joined uts namespace (by path) is legal: the hostname is set in it.
    if (spec.FindNamespace("uts") == nullptr) {
      return Invalid("hostname", "setting a hostname needs a uts namespace");
    }
  }
  return spec;
}

absl::StatusOr<Process> ParseProcessJson(absl::string_view json_text) {
  absl::StatusOr<json> doc = ParseJson(json_text, "process");
  if (!doc.ok() || !doc->is_object())
    return absl::InvalidArgumentError("process: not a JSON object");
  Process process;
  RETURN_IF_ERROR(ParseProcess(*doc, "process", process));
  return process;
}

absl::StatusOr<Resources> ParseResourcesJson(absl::string_view json_text) {
  absl::StatusOr<json> doc = ParseJson(json_text, "resources");
  if (!doc.ok() || !doc->is_object())
    return absl::InvalidArgumentError("resources: not a JSON object");
  Resources resources;
  RETURN_IF_ERROR(ParseResources(*doc, "resources", resources));
  return resources;
}

absl::StatusOr<Spec> ParseBundleSpec(absl::string_view text, const std::string& bundle,
                                     const std::string& origin) {
  absl::StatusOr<Spec> spec = ParseSpec(text);
  if (!spec.ok())
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", spec.status().message()));
  if (spec->root.path[0] != '/') spec->root.path = absl::StrCat(bundle, "/", spec->root.path);
  return spec;
}

absl::StatusOr<Spec> LoadBundleSpec(const std::string& bundle) {
  std::string path = bundle + "/config.json";
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseBundleSpec(*text, bundle, path);
}

}  // namespace berth::oci
