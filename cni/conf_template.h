#pragma once

// Network config templates filled in with a node's pod CIDRs, as
// containerd's conf_template: berthd's UpdateRuntimeConfig writes the result
// to the CNI config directory, where the pods' network then comes from.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::cni {

// The file UpdateRuntimeConfig writes in cni.conf_dir.
inline constexpr char kTemplatedConfName[] = "10-berth-net.conflist";

// kubelet's pod CIDRs: one, or an IPv4 and an IPv6 one, comma-separated
// ("10.244.1.0/24,fd00:1::/64"). INVALID_ARGUMENT names what is wrong.
absl::StatusOr<std::vector<std::string>> ParsePodCidrs(absl::string_view text);

// `text` with its placeholders filled in from `cidrs`:
//   {{.PodCIDR}}        the first CIDR, as text
//   {{.PodCIDRRanges}}  host-local's "ranges": [[{"subnet": "<cidr>"}], ...]
//   {{.Routes}}         a default route per family: [{"dst": "0.0.0.0/0"}, ...]
// Any other {{...}} is refused; so is a result that is not a JSON object.
absl::StatusOr<std::string> RenderCniConfTemplate(absl::string_view text,
                                                  const std::vector<std::string>& cidrs);

}  // namespace berth::cni
