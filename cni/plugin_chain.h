#pragma once

// Running a network's whole plugin chain for one attachment (SPEC.md
// section 3): ADD in order with each result passed on as prevResult, DEL in
// reverse with the ADD's final result, CHECK in order, STATUS per plugin.

#include <string>

#include "absl/status/statusor.h"
#include "cni/network_config.h"
#include "cni/plugin_exec.h"
#include "cni/plugin_request.h"
#include "nlohmann/json.hpp"

namespace berth::cni {

struct AddOutcome {
  nlohmann::json result;    // the final plugin's result, parsed
  std::string result_text;  // and as it printed it
};

// ADD through the chain, stopping at the first failure. `partial_result`
// receives the last result a plugin returned before the failure (null when
// none did), for the DEL that undoes what was added.
absl::StatusOr<AddOutcome> AddNetworkList(const PluginExecutor& executor, const NetworkList& list,
                                          const Attachment& attachment,
                                          nlohmann::json* partial_result);

// DEL through the chain in reverse, with `prev_result` (may be null) as
// every plugin's prevResult on versions that have it. Best effort for what
// is already gone, as containerd is: a plugin missing from the bin dirs is
// skipped, and so is an error saying something was not found (or, once the
// netns is gone, "no such file or directory"); any other error stops the
// chain and is returned.
absl::Status DelNetworkList(const PluginExecutor& executor, const NetworkList& list,
                            const Attachment& attachment, const nlohmann::json* prev_result);

// CHECK through the chain with the cached ADD result. OK when the config
// sets disableCheck; Unimplemented before 0.4.0, which has no CHECK.
absl::Status CheckNetworkList(const PluginExecutor& executor, const NetworkList& list,
                              const Attachment& attachment, const nlohmann::json& prev_result);

// Whether every plugin of the chain is installed and, from 1.1.0 on,
// answers STATUS with success. FailedPrecondition saying which is not.
absl::Status NetworkListStatus(const PluginExecutor& executor, const NetworkList& list);

}  // namespace berth::cni
