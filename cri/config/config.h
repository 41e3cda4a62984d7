#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "snapshotter/layer_apply.h"

namespace berth::cri {

enum class CgroupDriver { kCgroupfs, kSystemd };

struct CniConfig {
  // Where network configurations (.conf, .conflist, .json) are looked up.
  std::string conf_dir = "/etc/cni/net.d";
  // Where plugin binaries are looked up, in order (also the plugins' CNI_PATH).
  std::vector<std::string> bin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  // libcni's cache directory: results/ holds what DEL needs of each attachment.
  std::string cache_dir = "/var/lib/cni";
  // Where pods' network namespaces are pinned (berth-<sandbox id>), as
  // `ip netns` expects them.
  std::string netns_dir = "/var/run/netns";
  // A plugin call still running after this long is killed and fails.
  absl::Duration plugin_timeout = absl::Minutes(1);
  // A network config template that UpdateRuntimeConfig fills in with the
  // node's pod CIDRs and writes to <conf_dir>/10-berth-net.conflist
  // (cni/conf_template.h). Empty: the CIDRs are only recorded.
  std::string conf_template;
};

struct ImageConfig {
  // The pod's pause image (e.g. registry.k8s.io/pause:3.10), pulled on first
  // use and pinned; empty runs the built-in berth-pause, needing no image.
  std::string sandbox_image;
  // Per-registry mirrors and TLS / plain-HTTP settings (cri/config/registries_file.h).
  // A missing file means no special settings.
  std::string registries_file = "/etc/berth/registries.yaml";
  // Credentials per registry in docker's config.json format, used when a
  // pull brings none. A missing file means none.
  std::string auth_file = "/etc/berth/auth.json";
  // Layers of one image downloaded (and unpacked) at once.
  int max_concurrent_downloads = 3;
  // A download that receives nothing for this long fails instead of hanging.
  absl::Duration stall_timeout = absl::Minutes(1);
  // Caps on one layer's uncompressed bytes and tar entries, for pulls and
  // imports: past either the layer is refused instead of filling the disk.
  int64_t max_layer_size = snapshotter::LayerLimits{}.max_bytes;
  int64_t max_layer_entries = snapshotter::LayerLimits{}.max_entries;
};

// The streaming server that Exec, Attach and PortForward hand out URLs on.
struct StreamConfig {
  // Listen address (an IP) and port; port 0 takes any free port, which the
  // URLs then carry.
  std::string address = "127.0.0.1";
  int port = 0;
  // Both set: https. PEM files.
  std::string tls_cert_file;
  std::string tls_key_file;
  // A connection with no traffic for this long is closed (kubelet's default).
  absl::Duration idle_timeout = absl::Hours(4);
  // How long a client may take to open the streams its request implies.
  absl::Duration creation_timeout = absl::Seconds(30);
  // Sessions (connections) served at once; more get HTTP 503.
  int max_sessions = 128;
};

// Prometheus metrics, served over plain HTTP at /metrics.
struct MetricsConfig {
  // "host:port" ("127.0.0.1:9095", "[::1]:9095"); empty: not served.
  std::string address;
};

// A RuntimeClass handler naming another OCI runtime with runc's command line
// (runc, crun, berth-runtime) that runs the pods asking for it.
struct RuntimeHandlerConfig {
  std::string binary;  // absolute path of the runtime
  std::string root;    // its --root; default <state_dir>/runtimes/<name>
};

// berthd's effective configuration. Every field has an embedded default, so
// berthd runs without any config file.
struct BerthConfig {
  // Persistent state: the metadata store, content, snapshots.
  std::string root = "/var/lib/berth";
  // Runtime state that does not survive a reboot: bundles, monitor sockets.
  std::string state_dir = "/run/berth";
  // The CRI endpoint kubelet and crictl connect to.
  std::string socket = "/run/berth/berth.sock";
  // spdlog level: trace, debug, info, warn, error, critical, off.
  std::string log_level = "info";
  CgroupDriver cgroup_driver = CgroupDriver::kCgroupfs;
  // How long SIGTERM waits for in-flight RPCs before cancelling them.
  absl::Duration shutdown_timeout = absl::Seconds(10);
  CniConfig cni;
  ImageConfig image;
  StreamConfig stream;
  MetricsConfig metrics;
  // Handlers besides the default ("", berth's own executor), by name:
  //   runtime_handlers:
  //     runc: {binary: /usr/sbin/runc}
  std::map<std::string, RuntimeHandlerConfig> runtime_handlers;
};

inline constexpr char kDefaultConfigPath[] = "/etc/berth/berth.yaml";

// Sets one scalar key, named by its dotted path ("cni.conf_dir"), from its
// text form, validating it. InvalidArgument names the key and the reason;
// NotFound for a key that does not exist.
absl::Status SetConfigValue(absl::string_view key_path, absl::string_view value,
                            BerthConfig& config);

// Every settable key path, in the order of the reference documentation.
std::vector<absl::string_view> ConfigKeyPaths();

// Every key's value as JSON text, by key path, with "runtime_handlers" as
// one key: for telling which keys a reload changes.
std::map<std::string, std::string> ConfigValues(const BerthConfig& config);

// The configuration as pretty JSON. JSON is also YAML, so the output of
// `berthd --print-config` is a valid config file.
std::string ConfigToJson(const BerthConfig& config);

absl::string_view CgroupDriverName(CgroupDriver driver);

// Parses berth.yaml text over the defaults. `source` names the file in errors:
// "<source>: cni.conf_dri: unknown key".
absl::StatusOr<BerthConfig> ParseConfigYaml(absl::string_view yaml, absl::string_view source);

// Loads `path` over the defaults. A missing file is an error only when the
// path was given explicitly (--config); the default path may be absent.
absl::StatusOr<BerthConfig> LoadConfigFile(const std::string& path, bool explicitly_given);

// The main file and its drop-ins: <path>.d/*.yaml (e.g.
// /etc/berth/berth.yaml.d/), merged in lexical order over the main file,
// a later file's value winning per key.
struct LoadedConfig {
  BerthConfig config;
  std::vector<std::string> files;              // read, in order
  std::map<std::string, std::string> sources;  // key path -> the file that set it
};
absl::StatusOr<LoadedConfig> LoadConfigFiles(const std::string& path, bool explicitly_given);

}  // namespace berth::cri
