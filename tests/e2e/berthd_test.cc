// berthd as a user meets it: started as a process on its own socket and
// root, spoken to over the CRI, stopped with a signal.

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cri/client/cri_client.h"
#include "cri/version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/unique_fd.h"
#include "tests/e2e/berthd_fixture.h"
#include "tests/e2e/fake_systemd_bus.h"
#include "tests/e2e/metrics_scrape.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

const runtime::v1::RuntimeCondition* FindCondition(const runtime::v1::StatusResponse& status,
                                                   const std::string& type) {
  for (const auto& condition : status.status().conditions()) {
    if (condition.type() == type) return &condition;
  }
  return nullptr;
}

TEST(BerthdTest, VersionNamesTheRuntimeAndItsBuild) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  ASSERT_TRUE(berthd.Start().ok()) << berthd.Log();
  absl::StatusOr<runtime::v1::VersionResponse> version = berthd.client().Version();
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->version(), "0.1.0");
  EXPECT_EQ(version->runtime_name(), "berth");
  EXPECT_EQ(version->runtime_version(), kBerthVersion);
  EXPECT_EQ(version->runtime_api_version(), "v1");
}

TEST(BerthdTest, NetworkIsReadyOnlyOnceACniConfigExists) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  ASSERT_TRUE(berthd.Start().ok()) << berthd.Log();

  absl::StatusOr<runtime::v1::StatusResponse> status = berthd.client().Status(false);
  ASSERT_TRUE(status.ok()) << status.status();
  const auto* runtime_ready = FindCondition(*status, "RuntimeReady");
  const auto* network_ready = FindCondition(*status, "NetworkReady");
  ASSERT_NE(runtime_ready, nullptr);
  ASSERT_NE(network_ready, nullptr);
  EXPECT_TRUE(runtime_ready->status());
  EXPECT_FALSE(network_ready->status());
  EXPECT_EQ(network_ready->reason(), "NetworkPluginNotReady");
  EXPECT_THAT(network_ready->message(), HasSubstr(berthd.conf_dir()));
  EXPECT_TRUE(status->info().empty()) << "info is only for verbose requests";

  ASSERT_TRUE(MakeDirectories(berthd.conf_dir(), 0755).ok());
  ASSERT_TRUE(
      WriteFileAtomically(berthd.conf_dir() + "/10-pods.conflist",
                          R"({"cniVersion":"1.0.0","name":"pods","plugins":[{"type":"bridge"}]})")
          .ok());
  status = berthd.client().Status(false);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(FindCondition(*status, "NetworkReady")->status());
}

// UpdateRuntimeConfig: with cni.conf_template, kubelet's pod CIDR becomes
// the node's network config; a bad CIDR is refused and writes nothing;
// without a template the CIDR is only recorded.
TEST(BerthdTest, UpdateRuntimeConfigFillsTheNetworkTemplate) {
  using Stub = runtime::v1::RuntimeService::Stub;
  TempDir dir;
  std::string conf_template = dir.Join("net.template");
  ASSERT_TRUE(WriteFileAtomically(conf_template, R"({"cniVersion": "1.0.0", "name": "templated",
      "plugins": [{"type": "bridge", "bridge": "bt-unused",
                   "ipam": {"type": "host-local", "ranges": {{.PodCIDRRanges}},
                            "routes": {{.Routes}}}}]})")
                  .ok());
  BerthdUnderTest berthd(dir);
  // The line continues berth.yaml's cni: block.
  ASSERT_TRUE(berthd.Start("  conf_template: " + conf_template + "\n").ok()) << berthd.Log();
  auto update = [&](CriClient& client, const std::string& cidr) {
    runtime::v1::UpdateRuntimeConfigRequest request;
    request.mutable_runtime_config()->mutable_network_config()->set_pod_cidr(cidr);
    return client.Call(&Stub::UpdateRuntimeConfig, request).status();
  };
  std::string written = berthd.conf_dir() + "/10-berth-net.conflist";

  EXPECT_EQ(update(berthd.client(), "10.77.3.0/33").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(written));
  EXPECT_FALSE(FindCondition(*berthd.client().Status(false), "NetworkReady")->status());

  absl::Status updated = update(berthd.client(), "10.77.3.0/24");
  ASSERT_TRUE(updated.ok()) << updated << berthd.Log();
  nlohmann::json conf = nlohmann::json::parse(ReadFileToString(written).value_or("null"));
  EXPECT_EQ(conf["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "10.77.3.0/24");
  EXPECT_EQ(conf["plugins"][0]["ipam"]["routes"][0]["dst"], "0.0.0.0/0");
  absl::StatusOr<runtime::v1::StatusResponse> status = berthd.client().Status(true);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(FindCondition(*status, "NetworkReady")->status());
  nlohmann::json network = nlohmann::json::parse(status->info().at("network"));
  EXPECT_EQ(network["pod_cidr"], "10.77.3.0/24");
  EXPECT_EQ(network["networks"][0]["name"], "templated");

  TempDir other_dir;
  BerthdUnderTest plain(other_dir);
  ASSERT_TRUE(plain.Start().ok()) << plain.Log();
  EXPECT_TRUE(update(plain.client(), "10.77.4.0/24,fd00:77::/64").ok());
  EXPECT_FALSE(std::filesystem::exists(plain.conf_dir() + "/10-berth-net.conflist"));
  nlohmann::json recorded =
      nlohmann::json::parse(plain.client().Status(true)->info().at("network"));
  EXPECT_EQ(recorded["pod_cidr"], "10.77.4.0/24,fd00:77::/64");
}

TEST(BerthdTest, VerboseStatusCarriesTheEffectiveConfig) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  ASSERT_TRUE(berthd.Start("shutdown_timeout: 3s\n").ok()) << berthd.Log();
  absl::StatusOr<runtime::v1::StatusResponse> status = berthd.client().Status(true);
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(status->info().contains("config"));
  nlohmann::json config = nlohmann::json::parse(status->info().at("config"));
  EXPECT_EQ(config["root"], berthd.root());
  EXPECT_EQ(config["socket"], berthd.socket());
  EXPECT_EQ(config["shutdown_timeout"], "3s");
  EXPECT_EQ(config["cni"]["conf_dir"], berthd.conf_dir());
}

// Where no systemd runs, the systemd driver is refused at startup.
TEST(BerthdTest, SystemdCgroupDriverNeedsARunningSystemd) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  ::setenv("BERTH_SYSTEMD_SYSTEM_DIR", dir.Join("no-systemd").c_str(), 1);
  absl::StatusOr<ChildProcess> process = berthd.Spawn("cgroup_driver: systemd\n");
  ::unsetenv("BERTH_SYSTEMD_SYSTEM_DIR");
  ASSERT_TRUE(process.ok());
  absl::StatusOr<ExitStatus> exit = process->WaitFor(absl::Seconds(10));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 1);
  EXPECT_THAT(berthd.Log(), HasSubstr("cgroup_driver systemd: systemd does not run here (" +
                                      dir.Join("no-systemd") + " is absent); use cgroup_driver "
                                                               "cgroupfs"));
}

// Where systemd runs but its manager does not answer on the bus, the
// systemd driver is refused at startup too.
TEST(BerthdTest, SystemdCgroupDriverNeedsSystemdOnTheBus) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  std::filesystem::create_directories(dir.Join("systemd/system"));
  ::setenv("BERTH_SYSTEMD_SYSTEM_DIR", dir.Join("systemd/system").c_str(), 1);
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", ("unix:path=" + dir.Join("no-bus")).c_str(), 1);
  absl::StatusOr<ChildProcess> process = berthd.Spawn("cgroup_driver: systemd\n");
  ::unsetenv("BERTH_SYSTEMD_SYSTEM_DIR");
  ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  ASSERT_TRUE(process.ok());
  absl::StatusOr<ExitStatus> exit = process->WaitFor(absl::Seconds(10));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 1);
  EXPECT_THAT(berthd.Log(),
              HasSubstr("cgroup_driver systemd: systemd's manager does not answer on the system "
                        "bus: cannot connect to the system bus at unix:path=" +
                        dir.Join("no-bus")));
}

TEST(BerthdTest, RuntimeConfigReportsTheConfiguredCgroupDriver) {
  if (::access(testing::FakeSystemdBus::kDbusDaemon, X_OK) != 0)
    GTEST_SKIP() << "needs dbus-daemon (hack/deps installs it)";
  TempDir dir;
  std::filesystem::create_directories(dir.Join("bus"));
  testing::FakeSystemdBus bus;
  ASSERT_TRUE(bus.Start(dir.Join("bus")).ok());
  BerthdUnderTest berthd(dir);
  // As if systemd ran (its runtime directory exists), on the fake's bus.
  std::filesystem::create_directories(dir.Join("systemd/system"));
  ::setenv("BERTH_SYSTEMD_SYSTEM_DIR", dir.Join("systemd/system").c_str(), 1);
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);
  absl::Status started = berthd.Start("cgroup_driver: systemd\n");
  ::unsetenv("BERTH_SYSTEMD_SYSTEM_DIR");
  ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  ASSERT_TRUE(started.ok()) << berthd.Log();
  absl::StatusOr<runtime::v1::RuntimeConfigResponse> config = berthd.client().RuntimeConfig();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->linux().cgroup_driver(), runtime::v1::CgroupDriver::SYSTEMD);

  TempDir other_dir;
  BerthdUnderTest defaults(other_dir);
  ASSERT_TRUE(defaults.Start().ok()) << defaults.Log();
  EXPECT_EQ(defaults.client().RuntimeConfig()->linux().cgroup_driver(),
            runtime::v1::CgroupDriver::CGROUPFS);
}

TEST(BerthdTest, UnimplementedRpcsSayWhichRpc) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  ASSERT_TRUE(berthd.Start().ok()) << berthd.Log();
  absl::StatusOr<runtime::v1::CheckpointContainerResponse> checkpoint = berthd.client().Call(
      &runtime::v1::RuntimeService::Stub::CheckpointContainer,
      runtime::v1::CheckpointContainerRequest());
  EXPECT_EQ(checkpoint.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(checkpoint.status().message(), "CheckpointContainer is not implemented by berth yet");

  // The image service is implemented: a fresh node simply has no images.
  absl::StatusOr<runtime::v1::ListImagesResponse> images = berthd.client().Call(
      &runtime::v1::ImageService::Stub::ListImages, runtime::v1::ListImagesRequest());
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(images->images_size(), 0);
}

TEST(BerthdTest, EveryRpcIsLoggedWithDurationAndCode) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  ASSERT_TRUE(berthd.Start().ok()) << berthd.Log();
  ASSERT_TRUE(berthd.client().Version().ok());
  (void)berthd.client().Call(&runtime::v1::RuntimeService::Stub::CheckpointContainer,
                             runtime::v1::CheckpointContainerRequest());
  (void)berthd.client().Call(&runtime::v1::RuntimeService::Stub::ContainerStatus,
                             runtime::v1::ContainerStatusRequest());
  std::string log = berthd.Log();
  EXPECT_THAT(log, ::testing::ContainsRegex("debug rpc Version OK in [0-9.]+ms"));
  EXPECT_THAT(log, ::testing::ContainsRegex("debug rpc CheckpointContainer UNIMPLEMENTED in [0-9.]+ms"));
  EXPECT_THAT(log, ::testing::ContainsRegex("rpc ContainerStatus NOT_FOUND in [0-9.]+ms"));
}

// metrics.address: off unless given; then every RPC moves its histogram,
// a failed pull counts with its reason, and the process figures are there.
TEST(BerthdTest, MetricsAreServedOnlyWhenAnAddressIsGiven) {
  TempDir dir;
  BerthdUnderTest quiet(dir, "quiet");
  ASSERT_TRUE(quiet.Start().ok()) << quiet.Log();
  EXPECT_THAT(quiet.Log(), ::testing::Not(HasSubstr("metrics on")));

  BerthdUnderTest berthd(dir);
  ASSERT_TRUE(berthd.Start("metrics:\n  address: 127.0.0.1:0\n").ok()) << berthd.Log();
  std::optional<int> port = MetricsPort(berthd.Log());
  ASSERT_TRUE(port.has_value()) << berthd.Log();
  ASSERT_TRUE(berthd.client().Version().ok());
  std::string first = Scrape(*port);
  const std::string version_count =
      R"(berth_cri_rpc_duration_seconds_count{code="OK",method="Version"})";
  std::optional<double> before = SampleValue(first, version_count);
  ASSERT_TRUE(before.has_value()) << first;
  ASSERT_TRUE(berthd.client().Version().ok());
  runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image("127.0.0.1:1/berth-e2e/nowhere:latest");
  EXPECT_FALSE(berthd.client().Call(&runtime::v1::ImageService::Stub::PullImage, pull).ok());
  (void)berthd.client().Call(&runtime::v1::RuntimeService::Stub::ContainerStatus,
                             runtime::v1::ContainerStatusRequest());

  std::string text = Scrape(*port);
  EXPECT_EQ(SampleValue(text, version_count), *before + 1) << text;
  EXPECT_EQ(SampleValue(text, R"(berth_cri_rpc_duration_seconds_count{code="NOT_FOUND",method="ContainerStatus"})"),
            1)
      << text;
  EXPECT_EQ(SampleValue(text, R"(berth_image_pull_duration_seconds_count{result="failure"})"), 1)
      << text;
  EXPECT_EQ(SampleValue(text, R"(berth_image_pull_failures_total{reason="UNAVAILABLE"})"), 1)
      << text;
  EXPECT_EQ(SampleValue(text, "berth_monitors_alive"), 0) << text;
  for (const char* family :
       {"# TYPE berth_cri_rpc_duration_seconds histogram", "# TYPE berth_image_pull_bytes_total counter",
        "# TYPE berth_sandboxes gauge",
        "# TYPE berth_containers gauge", "# TYPE process_cpu_seconds_total counter",
        "# TYPE process_resident_memory_bytes gauge", "# TYPE process_open_fds gauge"})
    EXPECT_THAT(text, HasSubstr(family));
  std::optional<double> resident = SampleValue(text, "process_resident_memory_bytes");
  EXPECT_GT(resident.value_or(0), 1 << 20) << text;

  // An address berthd cannot listen on stops it at startup, saying why.
  BerthdUnderTest clash(dir, "clash");
  EXPECT_FALSE(clash.Start(absl::StrCat("metrics:\n  address: 127.0.0.1:", *port, "\n")).ok());
  EXPECT_THAT(clash.Log(), HasSubstr("cannot serve metrics: metrics.address 127.0.0.1:"));
}

// SIGHUP: live keys take effect (the log level at once, registries for the
// next pull, stream limits, in the verbose Status), keys that need a
// restart are named and keep their running value, and a bad file changes
// nothing.
TEST(BerthdTest, SighupReloadsLiveKeysAndKeepsTheRestUntilARestart) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  berthd.set_log_level_flag(false);
  ASSERT_TRUE(berthd.Start("log_level: info\n").ok()) << berthd.Log();
  ASSERT_TRUE(berthd.client().Version().ok());
  EXPECT_THAT(berthd.Log(), ::testing::Not(HasSubstr("debug rpc Version")));
  auto rewrite_and_reload = [&](const std::string& yaml, const std::string& expect_in_log) {
    size_t before = berthd.Log().size();
    ASSERT_TRUE(WriteFileAtomically(berthd.config_path(),
                                    absl::StrCat("cni:\n  conf_dir: ", berthd.conf_dir(), "\n", yaml))
                    .ok());
    ASSERT_TRUE(berthd.process().Signal(SIGHUP).ok());
    for (int i = 0; i < 100 && berthd.Log().substr(before).find(expect_in_log) == std::string::npos;
         ++i)
      ::usleep(50'000);
    ASSERT_THAT(berthd.Log().substr(before), HasSubstr(expect_in_log));
  };

  // A pull from 127.0.0.1:1 goes to its mirror once the reload names one
  // (both refuse connections: the error says which was tried).
  std::string registries = dir.Join("registries.yaml");
  ASSERT_TRUE(WriteFileAtomically(registries,
                                  "\"127.0.0.1:1\":\n  mirrors: [\"http://127.0.0.1:9\"]\n")
                  .ok());
  runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image("127.0.0.1:1/berth-e2e/reload:1");
  absl::Status before_reload =
      berthd.client().Call(&runtime::v1::ImageService::Stub::PullImage, pull).status();
  EXPECT_THAT(before_reload.message(), ::testing::Not(HasSubstr("127.0.0.1:9")));

  rewrite_and_reload(absl::StrCat("log_level: debug\ncgroup_driver: systemd\nimage:\n  "
                                  "registries_file: ",
                                  registries, "\nstream:\n  max_sessions: 7\n"),
                     "config reloaded");
  std::string log = berthd.Log();
  EXPECT_THAT(log, HasSubstr("applied image.registries_file, log_level, stream.max_sessions"));
  EXPECT_THAT(log, HasSubstr("changed keys that need a restart (their running values stay): "
                             "cgroup_driver"));
  ASSERT_TRUE(berthd.client().Version().ok());
  EXPECT_THAT(berthd.Log(), ::testing::ContainsRegex("debug rpc Version OK"));
  absl::Status after_reload =
      berthd.client().Call(&runtime::v1::ImageService::Stub::PullImage, pull).status();
  EXPECT_THAT(after_reload.message(), HasSubstr("127.0.0.1:9"));
  absl::StatusOr<runtime::v1::StatusResponse> status = berthd.client().Status(true);
  ASSERT_TRUE(status.ok()) << status.status();
  nlohmann::json config = nlohmann::json::parse(status->info().at("config"));
  EXPECT_EQ(config["log_level"], "debug");
  EXPECT_EQ(config["stream"]["max_sessions"], 7);
  EXPECT_EQ(config["image"]["registries_file"], registries);
  EXPECT_EQ(config["cgroup_driver"], "cgroupfs") << "needs a restart: still the running value";
  absl::StatusOr<runtime::v1::RuntimeConfigResponse> runtime_config =
      berthd.client().RuntimeConfig();
  ASSERT_TRUE(runtime_config.ok());
  EXPECT_EQ(runtime_config->linux().cgroup_driver(), runtime::v1::CgroupDriver::CGROUPFS);

  // A bad file: refused, the running config stays (still debug).
  rewrite_and_reload("log_level: loud\n", "reload refused, the running config stays");
  EXPECT_THAT(berthd.Log(), HasSubstr("log_level: must be one of"));
  status = berthd.client().Status(true);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(nlohmann::json::parse(status->info().at("config"))["log_level"], "debug");
  EXPECT_FALSE(berthd.process().WaitFor(absl::ZeroDuration()).ok()) << "still running";
}

// --help of every installed binary reads as a manual page: the sections
// in order, on stdout, exit 0.
TEST(BerthdTest, EveryBinaryHasAManualPageHelp) {
  TempDir dir;
  const std::pair<std::string, std::string> binaries[] = {
      {BERTHD_PATH, "BERTHD(8)"},
      {BERTHCTL_PATH, "BERTHCTL(8)"},
      {std::string(BERTH_BUILD_DIR) + "/runtime/berth-runtime", "BERTH-RUNTIME(8)"},
      {std::string(BERTH_BUILD_DIR) + "/runtime/berth-monitor", "BERTH-MONITOR(8)"},
      {std::string(BERTH_BUILD_DIR) + "/runtime/berth-pause", "BERTH-PAUSE(8)"}};
  for (const auto& [binary, title] : binaries) {
    std::string out = dir.Join(title + ".out");
    absl::StatusOr<ChildProcess> help = ChildProcess::Spawn(
        {binary, "--help"}, {.stdout_path = out, .stderr_path = dir.Join(title + ".err")});
    ASSERT_TRUE(help.ok()) << binary;
    absl::StatusOr<ExitStatus> exit = help->WaitFor(absl::Seconds(10));
    ASSERT_TRUE(exit.ok()) << binary;
    EXPECT_EQ(exit->exit_code, 0) << binary;
    std::string text = ReadFileToString(out).value_or("");
    EXPECT_TRUE(absl::StartsWith(text, title + "\n")) << binary << ":\n" << text;
    size_t at = 0;
    for (const char* section : {"\nNAME\n", "\nSYNOPSIS\n", "\nDESCRIPTION\n", "\nSEE ALSO\n"}) {
      size_t found = text.find(section, at);
      EXPECT_NE(found, std::string::npos) << binary << " lacks" << section;
      if (found != std::string::npos) at = found;
    }
  }
}

TEST(BerthdTest, SocketIsCreatedWithItsDirectoryAndMode0660) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  ASSERT_TRUE(berthd.Start().ok()) << berthd.Log();
  struct stat st;
  ASSERT_EQ(::stat(berthd.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

TEST(BerthdTest, SecondBerthdOnTheSameRootIsRefused) {
  TempDir dir;
  BerthdUnderTest first(dir);
  ASSERT_TRUE(first.Start().ok()) << first.Log();

  // Same root, different socket: only the root lock can stop it.
  BerthdUnderTest second(dir, "second");
  absl::StatusOr<ChildProcess> process =
      second.Spawn("", {"--root", first.root()});  // later flags win
  ASSERT_TRUE(process.ok());
  absl::StatusOr<ExitStatus> exit = process->WaitFor(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << "second berthd kept running";
  EXPECT_EQ(exit->exit_code, 1);
  EXPECT_THAT(second.Log(), HasSubstr("another berthd is already running on root " + first.root()));
  EXPECT_THAT(second.Log(), HasSubstr(absl::StrCat("(pid ", first.process().pid(), ")")));
  EXPECT_TRUE(first.client().Version().ok()) << "the first berthd must be unaffected";
}

TEST(BerthdTest, LiveSocketIsNotTakenOver) {
  TempDir dir;
  BerthdUnderTest first(dir);
  ASSERT_TRUE(first.Start().ok()) << first.Log();
  BerthdUnderTest second(dir, "second");
  absl::StatusOr<ChildProcess> process = second.Spawn("", {"--socket", first.socket()});
  ASSERT_TRUE(process.ok());
  absl::StatusOr<ExitStatus> exit = process->WaitFor(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << "second berthd kept running";
  EXPECT_EQ(exit->exit_code, 1);
  EXPECT_THAT(second.Log(), HasSubstr("is in use by another server"));
  EXPECT_TRUE(first.client().Version().ok());
}

TEST(BerthdTest, StaleSocketFromACrashIsReplaced) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  // What a killed berthd leaves: a socket file nobody listens on.
  ASSERT_TRUE(MakeDirectories(dir.Join("berthd-run"), 0711).ok());
  {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{.sun_family = AF_UNIX};
    std::strncpy(addr.sun_path, berthd.socket().c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ASSERT_TRUE(berthd.Start().ok()) << berthd.Log();
  EXPECT_TRUE(berthd.client().Version().ok());
  EXPECT_THAT(berthd.Log(), HasSubstr("replacing stale socket"));
}

TEST(BerthdTest, SigtermStopsCleanlyWithExitZero) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  ASSERT_TRUE(berthd.Start().ok()) << berthd.Log();
  ASSERT_TRUE(berthd.process().Signal(SIGTERM).ok());
  absl::StatusOr<ExitStatus> exit = berthd.process().WaitFor(absl::Seconds(15));
  ASSERT_TRUE(exit.ok());
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_NE(::access(berthd.socket().c_str(), F_OK), 0) << "socket should be removed";
  EXPECT_THAT(berthd.Log(), HasSubstr("berthd stopped"));

  // The state survives for the next start, which takes the freed lock.
  ASSERT_TRUE(berthd.Start().ok()) << berthd.Log();
  absl::StatusOr<runtime::v1::VersionResponse> version = berthd.client().Version();
  EXPECT_TRUE(version.ok()) << version.status();
}

TEST(BerthdTest, BadConfigStopsStartupNamingTheKey) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  // Indented: continues the fixture's "cni:" section.
  absl::StatusOr<ChildProcess> process = berthd.Spawn("  bin_dri: /x\n");
  ASSERT_TRUE(process.ok());
  absl::StatusOr<ExitStatus> exit = process->WaitFor(absl::Seconds(10));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 2);
  EXPECT_THAT(berthd.Log(), HasSubstr("cni.bin_dri: unknown key"));

  process = berthd.Spawn("", {"--cgroup-driver", "cgroupv3"});
  ASSERT_TRUE(process.ok());
  exit = process->WaitFor(absl::Seconds(10));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 2);
  EXPECT_THAT(berthd.Log(), HasSubstr("flag --cgroup_driver: must be one of cgroupfs, systemd"));
}

TEST(BerthdTest, PrintConfigShowsFileAndFlagsWithFlagsWinning) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  absl::StatusOr<ChildProcess> process = berthd.Spawn("log_level: error\ncgroup_driver: systemd\n",
                                                      {"--log-level=warn", "--print-config"});
  ASSERT_TRUE(process.ok());
  absl::StatusOr<ExitStatus> exit = process->WaitFor(absl::Seconds(10));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 0);
  // YAML comments name where each value came from, then the JSON itself.
  std::string output = berthd.Log();
  EXPECT_THAT(output, HasSubstr("# log_level: flag --log_level\n"));
  EXPECT_THAT(output, ::testing::ContainsRegex("# cgroup_driver: /[^\n]*berthd.yaml\n"));
  nlohmann::json printed = nlohmann::json::parse(output.substr(output.find('{')));
  EXPECT_EQ(printed["log_level"], "warn");         // flag over file
  EXPECT_EQ(printed["cgroup_driver"], "systemd");  // file over default
  EXPECT_EQ(printed["shutdown_timeout"], "10s");   // default
  EXPECT_EQ(printed["root"], berthd.root());
}

TEST(BerthdTest, BerthctlTalksToTheDaemon) {
  TempDir dir;
  BerthdUnderTest berthd(dir);
  ASSERT_TRUE(berthd.Start().ok()) << berthd.Log();
  std::string out = dir.Join("berthctl.out");
  absl::StatusOr<ChildProcess> version = ChildProcess::Spawn(
      {BERTHCTL_PATH, "--socket", "unix://" + berthd.socket(), "version"}, {.stdout_path = out});
  ASSERT_TRUE(version.ok());
  ASSERT_EQ(version->Wait()->exit_code, 0);
  EXPECT_THAT(*ReadFileToString(out), HasSubstr("RuntimeName:  berth\n"));

  std::string info_out = dir.Join("info.out");
  absl::StatusOr<ChildProcess> info = ChildProcess::Spawn(
      {BERTHCTL_PATH, "--socket", berthd.socket(), "info"}, {.stdout_path = info_out});
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->Wait()->exit_code, 0);
  nlohmann::json parsed = nlohmann::json::parse(*ReadFileToString(info_out));
  EXPECT_EQ(parsed["config"]["root"], berthd.root());
  EXPECT_EQ(parsed["status"]["conditions"][0]["type"], "RuntimeReady");
}

// Type=notify: READY=1 once the socket serves, STOPPING=1 on SIGTERM, sent
// to the datagram socket systemd names in NOTIFY_SOCKET (here a fake one).
TEST(BerthdTest, TellsTheServiceManagerWhenReadyReloadingAndStopping) {
  TempDir dir;
  std::string notify_path = dir.Join("notify.sock");
  UniqueFd notify(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{.sun_family = AF_UNIX};
  std::strncpy(addr.sun_path, notify_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(notify.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(notify.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

  ::setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
  BerthdUnderTest berthd(dir);
  absl::Status started = berthd.Start();
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(started.ok()) << berthd.Log();
  char message[512] = {};
  ASSERT_GT(::recv(notify.get(), message, sizeof(message) - 1, 0), 0);
  EXPECT_THAT(message, HasSubstr("READY=1\n"));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("MAINPID=", berthd.process().pid())));
  // Ready means serving: the socket answers now.
  EXPECT_TRUE(berthd.client().Version().ok());

  // A reload (Type=notify-reload's protocol): RELOADING=1 with the
  // monotonic time, then READY=1 once it is done.
  ASSERT_TRUE(berthd.process().Signal(SIGHUP).ok());
  std::memset(message, 0, sizeof(message));
  ASSERT_GT(::recv(notify.get(), message, sizeof(message) - 1, 0), 0);
  EXPECT_THAT(message, ::testing::ContainsRegex("^RELOADING=1\nMONOTONIC_USEC=[0-9]+\n"));
  std::memset(message, 0, sizeof(message));
  ASSERT_GT(::recv(notify.get(), message, sizeof(message) - 1, 0), 0);
  EXPECT_THAT(message, HasSubstr("READY=1\n"));
  EXPECT_TRUE(berthd.client().Version().ok());

  ASSERT_TRUE(berthd.process().Signal(SIGTERM).ok());
  std::memset(message, 0, sizeof(message));
  ASSERT_GT(::recv(notify.get(), message, sizeof(message) - 1, 0), 0);
  EXPECT_THAT(message, HasSubstr("STOPPING=1"));
  ASSERT_TRUE(berthd.process().WaitFor(absl::Seconds(20)).ok());
}

// `cmake --install` lays berth out in FHS places, and the installed berthd
// finds its helpers (berth-monitor, berth-pause) relative to itself: it
// refuses to start without them.
TEST(BerthdTest, InstalledBerthdFindsItsHelpers) {
  TempDir dir;
  std::string prefix = dir.Join("usr");
  absl::StatusOr<ChildProcess> install = ChildProcess::Spawn(
      {"/usr/bin/cmake", "--install", BERTH_BUILD_DIR, "--prefix", prefix},
      {.stdout_path = dir.Join("install.log"), .stderr_path = dir.Join("install.log")});
  ASSERT_TRUE(install.ok());
  ASSERT_EQ(install->WaitFor(absl::Seconds(60))->ShellCode(), 0)
      << ReadFileToString(dir.Join("install.log")).value_or("");
  for (const char* file :
       {"bin/berthd", "bin/berthctl", "bin/berth-runtime", "libexec/berth/berth-monitor",
        "libexec/berth/berth-pause", "lib/systemd/system/berth.service", "etc/berth/berth.yaml",
        "share/man/man8/berthd.8", "share/man/man8/berthctl.8"}) {
    EXPECT_EQ(::access((prefix + "/" + file).c_str(), F_OK), 0) << file;
  }
  std::string socket = dir.Join("run/berth.sock");
  absl::StatusOr<ChildProcess> berthd = ChildProcess::Spawn(
      {prefix + "/bin/berthd", "--root", dir.Join("root"), "--state-dir", dir.Join("run"),
       "--socket", socket},
      {.stdout_path = dir.Join("berthd.log"), .stderr_path = dir.Join("berthd.log")});
  ASSERT_TRUE(berthd.ok());
  absl::StatusOr<CriClient> client = CriClient::Connect(socket, absl::Seconds(10));
  ASSERT_TRUE(client.ok()) << ReadFileToString(dir.Join("berthd.log")).value_or("");
  EXPECT_TRUE(client->Version().ok());
  berthd->Signal(SIGTERM).IgnoreError();
  EXPECT_EQ(berthd->WaitFor(absl::Seconds(20))->ShellCode(), 0);
}

}  // namespace
}  // namespace berth::cri
