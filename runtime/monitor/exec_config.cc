#include "runtime/monitor/exec_config.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "runtime/base/json_reader.h"

namespace berth {

absl::StatusOr<ExecConfig> ParseExecConfig(absl::string_view json_text) {
  nlohmann::json doc = ParseJson(json_text, "exec config").value_or(nullptr);
  if (!doc.is_object()) return absl::InvalidArgumentError("exec config is not a JSON object");
  try {
    ExecConfig config;
    config.container_id = doc.at("container_id").get<std::string>();
    config.runtime_binary = doc.value("runtime_binary", "");
    config.runtime_root = doc.value("runtime_root", config.runtime_root);
    config.systemd_cgroup = doc.value("systemd_cgroup", false);
    const nlohmann::json& process = doc.at("process");
    if (!process.is_object())
      return absl::InvalidArgumentError("exec config: process is not an object");
    config.process_json = process.dump();
    config.stdin = doc.value("stdin", false);
    config.timeout = absl::Milliseconds(doc.value("timeout_ms", int64_t{0}));
    if (config.timeout < absl::ZeroDuration())
      return absl::InvalidArgumentError("exec config: negative timeout_ms");
    return config;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("exec config: ", e.what()));
  }
}

std::string ExecConfigToJson(const ExecConfig& config) {
  nlohmann::json process = ParseJson(config.process_json, "process").value_or(nullptr);
  return nlohmann::json{{"container_id", config.container_id},
                        {"runtime_binary", config.runtime_binary},
                        {"runtime_root", config.runtime_root},
                        {"systemd_cgroup", config.systemd_cgroup},
                        {"process", process},
                        {"stdin", config.stdin},
                        {"timeout_ms", absl::ToInt64Milliseconds(config.timeout)}}
      .dump();
}

absl::StatusOr<ExecExit> ParseExecExit(absl::string_view json_text) {
  nlohmann::json doc = ParseJson(json_text, "exec exit report").value_or(nullptr);
  try {
    if (!doc.is_object()) throw nlohmann::json::other_error::create(501, "not an object", nullptr);
    return ExecExit{.exit_code = doc.at("exit_code").get<int>(),
                    .signal = doc.at("signal").get<int>(),
                    .timed_out = doc.at("timed_out").get<bool>()};
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("exec exit report: ", e.what()));
  }
}

std::string ExecExitToJson(const ExecExit& exit) {
  return nlohmann::json{
      {"exit_code", exit.exit_code}, {"signal", exit.signal}, {"timed_out", exit.timed_out}}
      .dump();
}

std::string StatusToJson(const absl::Status& status) {
  return nlohmann::json{{"code", static_cast<int>(status.code())},
                        {"error", std::string(status.message())}}
      .dump();
}

absl::Status StatusFromJson(absl::string_view json_text) {
  nlohmann::json doc = ParseJson(json_text, "failure report").value_or(nullptr);
  if (!doc.is_object() || !doc.contains("error") || !doc["error"].is_string())
    return absl::InternalError(absl::StrCat("unreadable failure report: ", json_text));
  int code = doc.value("code", static_cast<int>(absl::StatusCode::kUnknown));
  if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated))
    code = static_cast<int>(absl::StatusCode::kUnknown);
  return absl::Status(static_cast<absl::StatusCode>(code), doc["error"].get<std::string>());
}

}  // namespace berth
