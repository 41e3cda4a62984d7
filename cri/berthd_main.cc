// berthd: the CRI daemon. Reads its config, takes the state root's lock,
// opens the metadata store and serves the CRI on its unix socket until
// SIGTERM or SIGINT, reloading its config on SIGHUP. Containers are never
// stopped on exit: they outlive berthd.

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "cni/network_manager.h"
#include "cni/reloadable_network_manager.h"
#include "cri/config/config.h"
#include "cri/config/live_config.h"
#include "cri/container/container_events.h"
#include "cri/container/container_service.h"
#include "cri/images/container_image_provider.h"
#include "cri/images/image_stack.h"
#include "cri/images/sandbox_image_provider.h"
#include "cri/metrics/metrics_server.h"
#include "cri/metrics/monitor_processes.h"
#include "cri/sandbox/sandbox_service.h"
#include "cri/server/config_reload.h"
#include "cri/server/cri_server.h"
#include "cri/server/helper_binaries.h"
#include "cri/server/pod_stream_backend.h"
#include "cri/server/runtime_service.h"
#include "cri/server/systemd_driver.h"
#include "cri/server/systemd_notify.h"
#include "cri/store/metadata_store.h"
#include "cri/streaming/streaming_server.h"
#include "cri/version.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/file_lock.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"
#include "spdlog/sinks/stdout_sinks.h"

ABSL_FLAG(std::string, config, "",
          "config file (default /etc/berth/berth.yaml, which may be absent)");
ABSL_FLAG(std::optional<std::string>, root, std::nullopt, "overrides root");
ABSL_FLAG(std::optional<std::string>, state_dir, std::nullopt, "overrides state_dir");
ABSL_FLAG(std::optional<std::string>, socket, std::nullopt, "overrides socket");
ABSL_FLAG(std::optional<std::string>, log_level, std::nullopt, "overrides log_level");
ABSL_FLAG(std::optional<std::string>, cgroup_driver, std::nullopt, "overrides cgroup_driver");
ABSL_FLAG(bool, print_config, false, "print the effective config as JSON (valid YAML) and exit");
ABSL_FLAG(bool, version, false, "print the version and exit");

namespace berth::cri {
namespace {

absl::StatusOr<LoadedConfig> EffectiveConfig() {
  std::string path = absl::GetFlag(FLAGS_config);
  bool explicitly_given = !path.empty();
  ASSIGN_OR_RETURN(LoadedConfig loaded,
                   LoadConfigFiles(explicitly_given ? path : kDefaultConfigPath, explicitly_given));
  BerthConfig& config = loaded.config;
  const std::pair<absl::string_view, std::optional<std::string>> overrides[] = {
      {"root", absl::GetFlag(FLAGS_root)},
      {"state_dir", absl::GetFlag(FLAGS_state_dir)},
      {"socket", absl::GetFlag(FLAGS_socket)},
      {"log_level", absl::GetFlag(FLAGS_log_level)},
      {"cgroup_driver", absl::GetFlag(FLAGS_cgroup_driver)},
  };
  for (const auto& [key, value] : overrides) {
    if (!value.has_value()) continue;
    absl::Status status = SetConfigValue(key, *value, config);
    if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat("flag --", status.message()));
    loaded.sources[std::string(key)] = absl::StrCat("flag --", key);
  }
  return loaded;
}

// The effective config as JSON, after YAML comments saying which file (or
// flag) set each key: still a valid config file.
std::string ConfigWithSources(const LoadedConfig& loaded) {
  std::string text = "# files read, in order:";
  for (const std::string& file : loaded.files) absl::StrAppend(&text, " ", file);
  if (loaded.files.empty()) absl::StrAppend(&text, " none (embedded defaults)");
  absl::StrAppend(&text, "\n");
  for (const auto& [key, source] : loaded.sources)
    absl::StrAppend(&text, "# ", key, ": ", source, "\n");
  return text + ConfigToJson(loaded.config);
}

cni::CniOptions CniOptionsOf(const BerthConfig& config) {
  return cni::CniOptions{.conf_dir = config.cni.conf_dir,
                         .bin_dirs = config.cni.bin_dirs,
                         .cache_dir = config.cni.cache_dir,
                         .plugin_timeout = config.cni.plugin_timeout};
}

void SetUpLogging(const BerthConfig& config) {
  auto logger = spdlog::stderr_logger_mt("berthd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

// SIGTERM and SIGINT stop berthd; SIGHUP reloads its config.
sigset_t HandledSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, signal_number);
  return signals;
}

// SIGHUP: the config files (and flags) again; a bad one changes nothing.
void Reload(const ReloadTargets& targets) {
  timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  (void)NotifyServiceManager(absl::StrCat(
      "RELOADING=1\nMONOTONIC_USEC=", int64_t{now.tv_sec} * 1000000 + now.tv_nsec / 1000,
      "\nSTATUS=reloading the config"));
  absl::StatusOr<LoadedConfig> fresh = EffectiveConfig();
  absl::StatusOr<ReloadReport> report =
      fresh.ok() ? ApplyReload(*std::move(fresh), targets) : fresh.status();
  if (!report.ok()) {
    spdlog::error("reload refused, the running config stays: {}", report.status().message());
  } else {
    spdlog::info("config reloaded: {}", report->applied.empty()
                                            ? "no live key changed"
                                            : "applied " + absl::StrJoin(report->applied, ", "));
    if (!report->need_restart.empty())
      spdlog::warn("changed keys that need a restart (their running values stay): {}",
                   absl::StrJoin(report->need_restart, ", "));
    if (!report->handlers_kept.empty())
      spdlog::warn("runtime handlers gone from the config stay until a restart: {}",
                   absl::StrJoin(report->handlers_kept, ", "));
  }
  (void)NotifyServiceManager("READY=1\nSTATUS=serving CRI");
}

int Run(absl::Time started) {
  absl::StatusOr<LoadedConfig> loaded = EffectiveConfig();
  if (!loaded.ok()) {
    std::cerr << "berthd: " << loaded.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_print_config)) {
    std::cout << ConfigWithSources(*loaded) << "\n";
    return 0;
  }
  LiveConfig live_config(*loaded);
  const BerthConfig* config = &loaded->config;  // as started; reloads go to live_config
  SetUpLogging(*config);

  if (config->cgroup_driver == CgroupDriver::kSystemd) {
    // sd_booted(3)'s test; the variable points it elsewhere for tests.
    const char* marker = std::getenv("BERTH_SYSTEMD_SYSTEM_DIR");
    if (absl::Status usable =
            CheckSystemdCgroupDriver(marker != nullptr ? marker : "/run/systemd/system");
        !usable.ok()) {
      spdlog::critical("{}", usable.message());
      return 1;
    }
  }
  for (const std::string& dir : {config->root, config->state_dir}) {
    if (absl::Status status = MakeDirectories(dir, 0711); !status.ok()) {
      spdlog::critical("cannot create {}: {}", dir, status.message());
      return 1;
    }
  }
  // One berthd per state root: two would corrupt each other's store and containers.
  absl::StatusOr<FileLock> lock = FileLock::TryAcquire(config->root + "/berthd.lock");
  if (!lock.ok()) {
    spdlog::critical("another berthd is already running on root {}: {}", config->root,
                     lock.status().message());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<MetadataStore>> store =
      MetadataStore::Open(config->root + "/meta.db");
  if (!store.ok()) {
    spdlog::critical("cannot open the metadata store: {}", store.status().message());
    return 1;
  }

  // Prometheus (metrics.address, off by default): up before the services,
  // which report to it from their first call.
  std::unique_ptr<MetricsServer> metrics_server;
  if (!config->metrics.address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(config->metrics.address);
    if (!started.ok()) {
      spdlog::critical("cannot serve metrics: {}", started.status().message());
      return 1;
    }
    metrics_server = *std::move(started);
    const std::string& address = config->metrics.address;
    spdlog::info("metrics on http://{}:{}/metrics", address.substr(0, address.rfind(':')),
                 metrics_server->port());
  }
  Metrics& metrics = metrics_server ? *metrics_server : NoMetrics();

  absl::StatusOr<std::unique_ptr<ImageStack>> images = OpenImageStack(*config, **store, metrics);
  if (!images.ok()) {
    spdlog::critical("cannot open the image store: {}", images.status().message());
    return 1;
  }

  absl::StatusOr<std::string> monitor_binary = FindHelperBinary("berth-monitor");
  absl::StatusOr<std::string> pause_binary = FindHelperBinary("berth-pause");
  for (const absl::StatusOr<std::string>* helper : {&monitor_binary, &pause_binary}) {
    if (!helper->ok()) {
      spdlog::critical("{}", helper->status().message());
      return 1;
    }
  }
  cni::CniOptions cni_options = CniOptionsOf(*config);
  cni_options.on_plugin_run = [&metrics](const std::string& plugin, const std::string& command,
                                         bool ok, absl::Duration took) {
    metrics.CniPluginDone(plugin, command, ok, took);
  };
  auto network = std::make_unique<cni::ReloadableNetworkManager>(cni_options);
  std::unique_ptr<MonitorClient> monitors = NewMonitorClient(*monitor_binary);
  // Shared by pods and their containers.
  absl::StatusOr<std::map<std::string, ExternalRuntime>> handlers = RuntimeHandlersFrom(*config);
  if (!handlers.ok()) {
    spdlog::critical("{}", handlers.status().message());
    return 1;
  }
  SandboxImageProvider pause_images(*(*images)->service, **store, *(*images)->snapshots);
  SandboxService sandboxes({.state_dir = config->state_dir,
                            .netns_dir = config->cni.netns_dir,
                            .pause_binary = *pause_binary,
                            .systemd_cgroup = config->cgroup_driver == CgroupDriver::kSystemd,
                            .sandbox_image = config->image.sandbox_image,
                            .images = &pause_images,
                            .runtime_handlers = *handlers},
                           **store, *network, *monitors);
  if (absl::Status started = sandboxes.Start(); !started.ok()) {
    spdlog::critical("cannot reload pod sandboxes: {}", started.message());
    return 1;
  }
  ContainerImageProvider container_images(*(*images)->service, *(*images)->snapshots,
                                          config->root + "/snapshots");
  ContainerEvents events;
  ContainerService containers({.state_dir = config->state_dir,
                               .systemd_cgroup = config->cgroup_driver == CgroupDriver::kSystemd,
                               .runtime_handlers = *std::move(handlers)},
                              **store, sandboxes, container_images, *monitors, events);
  if (absl::Status started = containers.Start(); !started.ok()) {
    spdlog::critical("cannot reload containers: {}", started.message());
    return 1;
  }
  sandboxes.SetPodMembers(&containers);

  PodStreamBackend stream_backend(containers, sandboxes);
  absl::StatusOr<std::unique_ptr<streaming::StreamingServer>> streaming_server =
      streaming::StreamingServer::Start({.address = config->stream.address,
                                         .port = config->stream.port,
                                         .tls_cert_file = config->stream.tls_cert_file,
                                         .tls_key_file = config->stream.tls_key_file,
                                         .idle_timeout = config->stream.idle_timeout,
                                         .creation_timeout = config->stream.creation_timeout,
                                         .max_sessions = config->stream.max_sessions},
                                        stream_backend);
  if (!streaming_server.ok()) {
    spdlog::critical("cannot start the streaming server: {}", streaming_server.status().message());
    return 1;
  }
  spdlog::info("streaming server on {}", (*streaming_server)->base_url());

  CriRuntimeService runtime_service(live_config, &sandboxes, &containers, &events);
  runtime_service.SetStreamingServer(streaming_server->get());
  absl::StatusOr<std::unique_ptr<CriServer>> server = CriServer::Start(
      config->socket, {&runtime_service, (*images)->service.get(), (*images)->berth_service.get()},
      metrics);
  if (!server.ok()) {
    spdlog::critical("cannot serve the CRI: {}", server.status().message());
    return 1;
  }
  if (metrics_server != nullptr) {
    metrics_server->SetCounts([&sandboxes, &containers, state_dir = config->state_dir] {
      NodeCounts counts;
      for (const runtime::v1::PodSandbox& pod : sandboxes.List({}))
        ++counts.sandboxes_by_state[runtime::v1::PodSandboxState_Name(pod.state())];
      for (const runtime::v1::Container& container : containers.List({}))
        ++counts.containers_by_state[runtime::v1::ContainerState_Name(container.state())];
      counts.monitors_alive = CountLiveMonitors(state_dir).value_or(0);
      return counts;
    });
  }
  spdlog::info("berthd {} serving CRI on unix://{} (root {}, schema v{}) after {:.1f}ms",
               kBerthVersion, config->socket, config->root, (*store)->schema_version(),
               absl::ToDoubleMilliseconds(absl::Now() - started));

  // Type=notify: systemd starts kubelet's dependents only once we serve.
  if (absl::Status notified = NotifyServiceManager(absl::StrCat(
          "READY=1\nMAINPID=", ::getpid(), "\nSTATUS=serving CRI on ", config->socket));
      !notified.ok()) {
    spdlog::warn("{}", notified.message());
  }
  ReloadTargets reload_targets{.config = &live_config,
                               .registry = (*images)->registry.get(),
                               .network = network.get(),
                               .cni_options =
                                   [&cni_options](const BerthConfig& fresh) {
                                     cni::CniOptions options = CniOptionsOf(fresh);
                                     options.cache_dir =
                                         cni_options.cache_dir;  // where DEL finds ADD's results
                                     options.on_plugin_run = cni_options.on_plugin_run;
                                     return options;
                                   },
                               .sandboxes = &sandboxes,
                               .containers = &containers,
                               .streaming = streaming_server->get()};
  sigset_t signals = HandledSignals();
  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) Reload(reload_targets);
  absl::Duration shutdown_timeout = live_config.Get().config.shutdown_timeout;
  spdlog::info("{} received: draining in-flight RPCs for up to {}", strsignal(signal_number),
               absl::FormatDuration(shutdown_timeout));
  (void)NotifyServiceManager("STOPPING=1\nSTATUS=draining in-flight RPCs");
  (*server)->Shutdown(shutdown_timeout);
  // Open exec sessions end with berthd (their processes too, as with
  // containerd); containers keep running.
  (*streaming_server)->Stop();
  // Its scrapes read the services, which go when this function returns.
  metrics_server.reset();
  spdlog::info("berthd stopped");
  return 0;
}

constexpr char kManual[] = R"(BERTHD(8)

NAME
    berthd - the berth container runtime daemon (Kubernetes CRI)

SYNOPSIS
    berthd [--config FILE] [--root DIR] [--state-dir DIR] [--socket PATH]
           [--log-level LEVEL] [--cgroup-driver cgroupfs|systemd]
    berthd --print-config [FLAGS]
    berthd --version | --help

DESCRIPTION
    Serves the CRI RuntimeService and ImageService on a unix socket for
    kubelet and crictl: pod sandboxes with CNI networking, containers run
    by berth's own OCI executor under a berth-monitor each, images pulled
    into overlayfs snapshots, exec, attach and port-forward over the
    Kubernetes streaming protocols. Containers outlive berthd: a restart
    finds them again.

OPTIONS
    --config FILE        config file (default /etc/berth/berth.yaml, which may
                         be absent; a FILE given must exist)
    --root DIR           persistent state (default /var/lib/berth)
    --state-dir DIR      runtime state (default /run/berth)
    --socket PATH        the CRI socket (default /run/berth/berth.sock)
    --log-level LEVEL    trace, debug, info, warn, error, critical, off
    --cgroup-driver D    cgroupfs or systemd (transient scopes made by
                         systemd over D-Bus); must match kubelet's
    --print-config       print the effective config as JSON, after comments
                         naming the files read and what set each key; exit
    --version            print the version and exit
    Flags win over the files; dashes and underscores are alike
    (--state-dir, --state_dir).

FILES
    /etc/berth/berth.yaml           the config (every key optional)
    /etc/berth/berth.yaml.d/*.yaml  drop-ins, merged in lexical order
    /etc/berth/registries.yaml      registry mirrors, CAs, plain HTTP
    /etc/berth/auth.json            registry credentials
    /run/berth/berth.sock           the CRI socket
    /var/lib/berth, /run/berth      state (one berthd per root)

SIGNALS
    SIGTERM, SIGINT  stop serving, let in-flight RPCs finish within
                     shutdown_timeout, exit; containers keep running
    SIGHUP           read the config again and apply what can change
                     live; a bad config is refused and logged

EXIT STATUS
    0  stopped on a signal
    1  could not start (root locked, socket in use, helper missing, ...)
    2  bad config or flags

SEE ALSO
    berthctl(8), berth-runtime(8), berth-monitor(8), crictl(1)
)";

// Node daemons take dashed flags (--state-dir); Abseil's flags are named
// with underscores. Accept both by rewriting the name part of each flag.
std::vector<char*> NormalizeFlagNames(int argc, char** argv, std::vector<std::string>& storage) {
  storage.assign(argv, argv + argc);
  for (std::string& arg : storage) {
    if (arg == "--") break;
    if (arg.rfind("--", 0) != 0) continue;
    size_t end = std::min(arg.find('='), arg.size());
    std::replace(arg.begin() + 2, arg.begin() + static_cast<std::ptrdiff_t>(end), '-', '_');
  }
  std::vector<char*> pointers;
  for (std::string& arg : storage) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace
}  // namespace berth::cri

int main(int argc, char** argv) {
  const absl::Time started = absl::Now();
  // Block the handled signals before any thread exists, so every thread
  // inherits the mask and only sigwait() in main sees them.
  sigset_t signals = berth::cri::HandledSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client that hangs up mid-write must not kill the daemon.
  signal(SIGPIPE, SIG_IGN);

  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::cout << berth::cri::kManual;
      return 0;
    }
  }
  absl::SetProgramUsageMessage(
      "the berth CRI runtime daemon\n  berthd [--config FILE] [--root DIR] [--socket PATH] ...");
  std::vector<std::string> arg_storage;
  std::vector<char*> args = berth::cri::NormalizeFlagNames(argc, argv, arg_storage);
  absl::ParseCommandLine(argc, args.data());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "berthd " << berth::kBerthVersion << "\n";
    return 0;
  }
  return berth::cri::Run(started);
}
