#pragma once

// What berthd needs from pod networking: attach a pod's network namespace to
// the default CNI network (ADD through the network's plugin chain), detach it
// (DEL), check it, and say whether networking is ready. The CNI details
// (config files, plugin discovery and invocation, result versions, the
// on-disk result cache) stay behind this interface; cri/ tests use a fake.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::cni {

// The portMappings capability (CNI CONVENTIONS.md), from the pod's port mappings.
struct PortMapping {
  std::string protocol = "tcp";  // tcp, udp or sctp
  int32_t container_port = 0;
  int32_t host_port = 0;
  std::string host_ip;  // empty: every address
};

// The bandwidth capability, from the kubernetes.io/ingress-bandwidth and
// egress-bandwidth annotations; rates in bits per second, bursts in bits.
struct BandwidthLimits {
  uint64_t ingress_rate = 0, ingress_burst = 0;
  uint64_t egress_rate = 0, egress_burst = 0;
};

// The dns capability.
struct DnsCapability {
  std::vector<std::string> servers, searches, options;
};

struct AttachRequest {
  std::string container_id;  // the sandbox id (CNI_CONTAINERID)
  std::string netns_path;    // CNI_NETNS
  std::string ifname = "eth0";
  // CNI_ARGS, e.g. K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID.
  std::vector<std::pair<std::string, std::string>> args;
  std::vector<PortMapping> port_mappings;
  std::optional<BandwidthLimits> bandwidth;
  std::optional<DnsCapability> dns;
};

struct AttachResult {
  std::string network_name;
  std::string cni_version;
  // Addresses (no prefix length) of the pod's interface, IPv4 first, as
  // PodSandboxStatus reports them: the first is the primary IP.
  std::vector<std::string> ips;
  std::string result_json;  // the final plugin's result, as the plugin wrote it
};

class NetworkManager {
 public:
  virtual ~NetworkManager() = default;

  // OK when a valid network config exists (the lexically first wins);
  // otherwise FailedPrecondition saying why (for the NetworkReady condition).
  virtual absl::Status Ready() = 0;
  // ADD on the default network, each plugin of the chain getting the
  // previous result. Caches what DEL will need before returning. A failure
  // runs DEL for what was added and reports the plugin's code and message.
  virtual absl::StatusOr<AttachResult> Attach(const AttachRequest& request) = 0;
  // DEL with the config and result cached by Attach (so a changed config
  // dir or a restarted berthd still detaches right); with no cache, DEL on
  // the current default network. Succeeds when there is nothing to detach.
  virtual absl::Status Detach(const AttachRequest& request) = 0;
  virtual absl::Status Check(const AttachRequest& request) = 0;
};

struct CniOptions {
  std::string conf_dir = "/etc/cni/net.d";
  std::vector<std::string> bin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  std::string cache_dir = "/var/lib/cni";  // results/ inside, in libcni's layout
  absl::Duration plugin_timeout = absl::Minutes(1);
  // Told of each plugin run: type, command, success, duration (optional).
  std::function<void(const std::string&, const std::string&, bool, absl::Duration)> on_plugin_run;
};

// The real manager: plugins spawned (never forked from the threaded daemon)
// per the CNI spec, config reloaded when conf_dir changes.
std::unique_ptr<NetworkManager> NewCniNetworkManager(CniOptions options);

// A new network namespace, pinned by a bind mount at <dir>/<name> so it
// outlives every process in it, with its loopback interface up. Safe to call from a threaded
// process (the namespace is made on a thread of its own).
absl::StatusOr<std::string> CreatePinnedNetns(const std::string& dir, const std::string& name);
// Pins the network namespace process `pid` is in at dir/name, with
// loopback up: for a namespace the pod's user namespace must own, which
// only a process in it can make.
absl::StatusOr<std::string> PinNetnsOfProcess(const std::string& dir, const std::string& name,
                                              pid_t pid);
// Unmounts and removes a pinned namespace; succeeds if it is already gone.
absl::Status RemovePinnedNetns(const std::string& path);

}  // namespace berth::cni
