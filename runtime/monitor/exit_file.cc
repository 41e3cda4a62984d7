#include "runtime/monitor/exit_file.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/json_reader.h"

namespace berth {

absl::Status WriteExitFile(const std::string& path, const ExitRecord& record) {
  nlohmann::ordered_json doc = {{"exit_code", record.exit_code},
                                {"signal", record.signal},
                                {"oom_killed", record.oom_killed},
                                {"finished_at_ns", absl::ToUnixNanos(record.finished_at)},
                                {"reason", record.reason}};
  return WriteFileAtomically(path, doc.dump() + "\n", 0644);
}

absl::StatusOr<ExitRecord> ReadExitFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  nlohmann::json doc = ParseJson(*text, path).value_or(nullptr);
  try {
    if (!doc.is_object()) throw nlohmann::json::other_error::create(501, "not JSON", nullptr);
    return ExitRecord{.exit_code = doc.at("exit_code").get<int>(),
                      .signal = doc.at("signal").get<int>(),
                      .oom_killed = doc.at("oom_killed").get<bool>(),
                      .finished_at = absl::FromUnixNanos(doc.at("finished_at_ns").get<int64_t>()),
                      .reason = doc.at("reason").get<std::string>()};
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("exit file ", path, " is corrupt: ", e.what()));
  }
}

}  // namespace berth
