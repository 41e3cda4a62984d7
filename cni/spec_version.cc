#include "cni/spec_version.h"

#include <array>
#include <optional>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace berth::cni {
namespace {

constexpr std::array<absl::string_view, 7> kSupportedVersions = {"0.1.0", "0.2.0", "0.3.0", "0.3.1",
                                                                 "0.4.0", "1.0.0", "1.1.0"};

std::optional<std::tuple<int, int, int>> ParseVersion(absl::string_view version) {
  std::vector<absl::string_view> parts = absl::StrSplit(version, '.');
  if (parts.size() != 3) return std::nullopt;
  int numbers[3];
  for (int i = 0; i < 3; ++i) {
    if (parts[i].empty() || !absl::SimpleAtoi(parts[i], &numbers[i]) || numbers[i] < 0) {
      return std::nullopt;
    }
  }
  return std::make_tuple(numbers[0], numbers[1], numbers[2]);
}

}  // namespace

bool IsSupportedVersion(absl::string_view version) {
  for (absl::string_view supported : kSupportedVersions) {
    if (version == supported) return true;
  }
  return false;
}

int CompareVersions(absl::string_view a, absl::string_view b) {
  std::optional<std::tuple<int, int, int>> left = ParseVersion(a);
  std::optional<std::tuple<int, int, int>> right = ParseVersion(b);
  if (!left.has_value() || !right.has_value()) {
    return static_cast<int>(left.has_value()) - static_cast<int>(right.has_value());
  }
  if (*left < *right) return -1;
  return *left == *right ? 0 : 1;
}

bool HasCheckAndPrevResultOnDel(absl::string_view version) {
  return CompareVersions(version, "0.4.0") >= 0;
}

bool HasStatus(absl::string_view version) { return CompareVersions(version, "1.1.0") >= 0; }

}  // namespace berth::cni
