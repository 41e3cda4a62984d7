#pragma once

// CNI specification versions: which ones berth reads, and which operations
// each adds (SPEC.md "Version"). One place, so the chain code asks
// "does this version have X" instead of comparing strings itself.

#include "absl/strings/string_view.h"

namespace berth::cni {

// True for the versions whose configs and results berth understands:
// 0.1.0 to 1.1.0.
bool IsSupportedVersion(absl::string_view version);

// Semantic-version order of two "major.minor.patch" strings: negative, zero
// or positive. A version that does not parse sorts before every valid one.
int CompareVersions(absl::string_view a, absl::string_view b);

// DEL and CHECK receive the cached ADD result as prevResult, and CHECK
// exists at all, from 0.4.0 on.
bool HasCheckAndPrevResultOnDel(absl::string_view version);

// The STATUS command exists from 1.1.0 on.
bool HasStatus(absl::string_view version);

}  // namespace berth::cni
