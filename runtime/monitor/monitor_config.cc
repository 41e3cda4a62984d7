#include "runtime/monitor/monitor_config.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "runtime/base/json_reader.h"

namespace berth {

absl::StatusOr<MonitorConfig> ParseMonitorConfig(const std::string& json_text) {
  nlohmann::json doc = ParseJson(json_text, "monitor config").value_or(nullptr);
  if (!doc.is_object()) return absl::InvalidArgumentError("monitor config is not a JSON object");
  try {
    MonitorConfig config;
    config.id = doc.at("id").get<std::string>();
    config.bundle = doc.at("bundle").get<std::string>();
    // Configs written before runtime_binary existed name no binary: the in-tree executor.
    config.runtime_binary = doc.value("runtime_binary", "");
    config.runtime_root = doc.value("runtime_root", config.runtime_root);
    config.systemd_cgroup = doc.value("systemd_cgroup", false);
    config.state_dir = doc.at("state_dir").get<std::string>();
    config.log_directory = doc.value("log_directory", "");
    config.log_path = doc.at("log_path").get<std::string>();
    config.stdin = doc.value("stdin", false);
    config.stdin_once = doc.value("stdin_once", false);
    config.tty = doc.value("tty", false);
    return config;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("monitor config: ", e.what()));
  }
}

std::string MonitorConfigToJson(const MonitorConfig& config) {
  return nlohmann::json{{"id", config.id},
                        {"bundle", config.bundle},
                        {"runtime_binary", config.runtime_binary},
                        {"runtime_root", config.runtime_root},
                        {"systemd_cgroup", config.systemd_cgroup},
                        {"state_dir", config.state_dir},
                        {"log_directory", config.log_directory},
                        {"log_path", config.log_path},
                        {"stdin", config.stdin},
                        {"stdin_once", config.stdin_once},
                        {"tty", config.tty}}
      .dump();
}

}  // namespace berth
