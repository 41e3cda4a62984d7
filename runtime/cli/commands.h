#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/container.h"

namespace berth::cli {

// Each command takes the arguments after its name and returns the process
// exit code; an error status is printed (and logged) by main.
using Command = absl::StatusOr<int> (*)(const RuntimeOptions& runtime,
                                        const std::vector<std::string>& args);

absl::StatusOr<int> CreateCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> StartCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> RunCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> KillCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> DeleteCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> PauseCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> ResumeCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> StateCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> ListCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> PsCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> SpecCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> ExecCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> UpdateCommand(const RuntimeOptions&, const std::vector<std::string>&);
absl::StatusOr<int> FeaturesCommand(const RuntimeOptions&, const std::vector<std::string>&);

// "KILL", "SIGKILL" or "9" -> 9.
absl::StatusOr<int> ParseSignal(const std::string& text);

}  // namespace berth::cli
