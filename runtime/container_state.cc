#include "runtime/container_state.h"

#include <signal.h>

#include <cerrno>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/json_reader.h"
#include "runtime/oci/spec_parse.h"

namespace berth {

const char* StatusName(ContainerStatus status) {
  switch (status) {
    case ContainerStatus::kCreating:
      return "creating";
    case ContainerStatus::kCreated:
      return "created";
    case ContainerStatus::kRunning:
      return "running";
    case ContainerStatus::kPaused:
      return "paused";
    case ContainerStatus::kStopped:
      return "stopped";
  }
  return "unknown";
}

absl::Status ValidateContainerId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("container id must not be empty");
  if (id.size() > 1024) return absl::InvalidArgumentError("container id is longer than 1024 bytes");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '+';
    if (!ok)
      return absl::InvalidArgumentError(
          absl::StrCat("invalid container id \"", id, "\": use letters, digits, _ - . +"));
  }
  if (id == "." || id == "..")
    return absl::InvalidArgumentError(absl::StrCat("invalid container id \"", id, "\""));
  return absl::OkStatus();
}

absl::Status SaveState(const StateDir& dir, const ContainerState& state) {
  nlohmann::ordered_json doc = {{"id", state.id},
                                {"pid", state.pid},
                                {"pid_start_time", state.pid_start_time},
                                {"bundle", state.bundle},
                                {"rootfs", state.rootfs},
                                {"created", state.created},
                                {"cgroup_path", state.cgroup_path},
                                {"systemd_cgroup", state.systemd_cgroup},
                                {"annotations", state.annotations},
                                {"owner", state.owner}};
  return WriteFileAtomically(dir.state_file(), doc.dump(), 0600);
}

absl::StatusOr<ContainerState> LoadState(const StateDir& dir, const std::string& id) {
  absl::StatusOr<std::string> text = ReadFileToString(dir.state_file());
  if (!text.ok()) {
    if (absl::IsNotFound(text.status()))
      return absl::NotFoundError(absl::StrCat("container ", id, " does not exist"));
    return text.status();
  }
  absl::StatusOr<nlohmann::json> parsed = ParseJson(*text, dir.state_file());
  if (!parsed.ok() || !parsed->is_object())
    return absl::DataLossError(dir.state_file() + " is corrupt");
  const nlohmann::json& doc = *parsed;
  try {
    ContainerState state;
    state.id = doc.at("id").get<std::string>();
    state.pid = doc.at("pid").get<pid_t>();
    state.pid_start_time = doc.at("pid_start_time").get<uint64_t>();
    state.bundle = doc.at("bundle").get<std::string>();
    state.rootfs = doc.at("rootfs").get<std::string>();
    state.created = doc.at("created").get<std::string>();
    state.cgroup_path = doc.at("cgroup_path").get<std::string>();
    state.systemd_cgroup = doc.at("systemd_cgroup").get<bool>();
    state.annotations = doc.at("annotations").get<std::map<std::string, std::string>>();
    state.owner = doc.at("owner").get<uid_t>();
    return state;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat(dir.state_file(), " is corrupt: ", e.what()));
  }
}

uint64_t ProcessStartTime(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadFileToString(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return 0;
  // The command name (field 2) may hold spaces and parentheses: skip past the last ')'.
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  std::string rest = stat->substr(close + 2);
  std::vector<absl::string_view> fields = absl::StrSplit(rest, ' ');
  // After the name, field 3 (state) is index 0; starttime (field 22) is index 19.
  uint64_t start = 0;
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[19], &start)) return 0;
  if (fields[0] == "Z" || fields[0] == "X") return 0;  // exited, not yet reaped
  return start;
}

absl::StatusOr<oci::Spec> LoadContainerSpec(const StateDir& dir, const ContainerState& state) {
  absl::StatusOr<std::string> text = ReadFileToString(dir.spec_file());
  if (absl::IsNotFound(text.status())) return oci::LoadBundleSpec(state.bundle);
  if (!text.ok()) return text.status();
  return oci::ParseBundleSpec(*text, state.bundle, dir.spec_file());
}

bool InitAlive(const ContainerState& state) {
  return state.pid > 0 && ProcessStartTime(state.pid) == state.pid_start_time;
}

std::string OciStateJson(const ContainerState& state, ContainerStatus status, bool pretty) {
  nlohmann::ordered_json doc = {{"ociVersion", "1.2.0"},
                                {"id", state.id},
                                {"pid", status == ContainerStatus::kStopped ? 0 : state.pid},
                                {"status", StatusName(status)},
                                {"bundle", state.bundle},
                                {"rootfs", state.rootfs},
                                {"created", state.created},
                                {"owner", ""}};
  if (!state.annotations.empty()) doc["annotations"] = state.annotations;
  return pretty ? doc.dump(2) : doc.dump();
}

}  // namespace berth
