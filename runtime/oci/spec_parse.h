#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/oci/spec.h"

namespace berth::oci {

// Parses and validates a config.json. Errors are InvalidArgument naming the
// field: `linux.namespaces[2].type: unknown namespace "netw"`. Features the
// executor does not support fail the same way, never silently.
absl::StatusOr<Spec> ParseSpec(absl::string_view json_text);

// Parses a process.json (the `process` object alone), as `exec --process` takes it.
absl::StatusOr<Process> ParseProcessJson(absl::string_view json_text);

// Parses a LinuxResources object, as `update --resources` takes it.
absl::StatusOr<Resources> ParseResourcesJson(absl::string_view json_text);

// Parses the config.json text of `bundle`, resolving root.path against the
// bundle; errors name `origin` (the file the text came from).
absl::StatusOr<Spec> ParseBundleSpec(absl::string_view text, const std::string& bundle,
                                     const std::string& origin);

// Reads <bundle>/config.json and parses it with ParseBundleSpec.
absl::StatusOr<Spec> LoadBundleSpec(const std::string& bundle);

}  // namespace berth::oci
