// The systemd cgroup driver against a stand-in for systemd's manager on a
// private bus (fake_systemd_bus.h): berth-runtime's transient scopes, and
// berthd's pods and containers through the CRI. Needs root and Debian's
// dbus-daemon; skipped otherwise.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/systemd/systemd_manager.h"
#include "tests/e2e/berthd_fixture.h"
#include "tests/e2e/cri_node.h"
#include "tests/e2e/fake_systemd_bus.h"
#include "tests/e2e/local_registry.h"
#include "tests/e2e/nspawn_systemd.h"
#include "tests/e2e/runtime_fixture.h"
#include "tests/unit/temp_dir.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
using cri::BerthdUnderTest;
using cri::CriClient;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Stub = runtime::v1::RuntimeService::Stub;

// pid's cgroup in the v1 hierarchy named `hierarchy` ("freezer", "name=systemd").
std::string CgroupOf(pid_t pid, const std::string& hierarchy) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cgroup"));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() == 3 && fields[1] == hierarchy) return fields[2];
  }
  return "";
}

// The directories named `path` in any mounted cgroup hierarchy.
std::vector<std::string> CgroupDirs(const std::string& path) {
  std::vector<std::string> found;
  std::error_code ignored;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ignored)) {
    std::string dir = hierarchy.path().string() + path;
    if (fs::exists(dir, ignored)) found.push_back(dir);
  }
  return found;
}

// Removes the slice directories a test's scopes were made in, deepest first,
// where they are empty (real systemd keeps slices; these are the test's).
void RemoveSliceDirs(const std::vector<std::string>& slice_paths) {
  std::error_code ignored;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ignored))
    for (const std::string& path : slice_paths) ::rmdir((hierarchy.path().string() + path).c_str());
}

std::string CallsText(const FakeSystemdBus& bus) {
  std::string text;
  for (const nlohmann::json& call : bus.Calls()) absl::StrAppend(&text, "\n  ", call.dump());
  return text;
}

// A pod on the host's network (no CNI needed) in the slice `cgroup_parent`,
// as kubelet's systemd driver names pod slices.
runtime::v1::PodSandboxConfig HostNetworkPod(const std::string& name, const std::string& log_dir,
                                             const std::string& cgroup_parent) {
  runtime::v1::PodSandboxConfig pod;
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("e2e");
  pod.mutable_metadata()->set_uid(absl::StrCat(name, "-", ::getpid()));
  pod.set_log_directory(log_dir);
  pod.mutable_linux()->set_cgroup_parent(cgroup_parent);
  pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
      runtime::v1::NODE);
  return pod;
}

// busybox sleeping, with a 64 MiB memory limit.
runtime::v1::CreateContainerRequest Sleeper(const std::string& pod_id,
                                            const runtime::v1::PodSandboxConfig& pod) {
  runtime::v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod_id);
  *create.mutable_sandbox_config() = pod;
  runtime::v1::ContainerConfig& config = *create.mutable_config();
  config.mutable_metadata()->set_name("sleeper");
  config.mutable_image()->set_image(cri::kBusybox);
  for (const char* arg : {"sleep", "1000"}) config.add_command(arg);
  config.set_log_path("sleeper.log");
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(64 << 20);
  return create;
}

bool HasDbusDaemon() { return ::access(FakeSystemdBus::kDbusDaemon, X_OK) == 0; }

// ---- berth-runtime --systemd-cgroup ----

class SystemdRuntimeTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    if (!HasDbusDaemon()) GTEST_SKIP() << "needs dbus-daemon (hack/deps installs it)";
    fs::create_directories(dir().Join("bus"));
    absl::Status started = bus_.Start(dir().Join("bus"), "refused.slice", "slow.slice");
    ASSERT_TRUE(started.ok()) << started;
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_.address().c_str(), 1);
  }

  void TearDown() override {
    RuntimeTest::TearDown();
    RemoveSliceDirs({slice_path_, "/berthe2e.slice", "/refused.slice", "/slow.slice"});
    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  }

  FakeSystemdBus bus_;
  std::string slice_ = absl::StrCat("berthe2e-rt", ::getpid(), ".slice");
  std::string slice_path_ = "/berthe2e.slice/" + slice_;
};

TEST_F(SystemdRuntimeTest, TheContainersCgroupIsATransientScopeSystemdMakes) {
  std::string id = NewId();
  nlohmann::json config = Config({"sleep", "1000"});
  config["linux"]["cgroupsPath"] = absl::StrCat(slice_, ":berth:", id);
  config["linux"]["resources"]["memory"] = {{"limit", 64 << 20}};
  config["linux"]["resources"]["pids"] = {{"limit", 42}};
  config["linux"]["resources"]["cpu"] = {{"shares", 512}};
  RunResult created = Runtime({"--systemd-cgroup", "create", "--bundle", Bundle(config), id});
  ASSERT_EQ(created.exit_code, 0) << created.err << CallsText(bus_);
  RunResult state = Runtime({"state", id});
  ASSERT_EQ(state.exit_code, 0) << state.err;
  pid_t pid = nlohmann::json::parse(state.out).value("pid", 0);
  ASSERT_GT(pid, 0);

  std::string unit = "berth-" + id + ".scope";
  nlohmann::json start = bus_.StartOf(unit);
  ASSERT_FALSE(start.is_null()) << "no StartTransientUnit of " << unit << CallsText(bus_);
  EXPECT_EQ(start["mode"], "replace");
  EXPECT_EQ(start["properties"]["Slice"], slice_);
  EXPECT_EQ(start["properties"]["PIDs"], nlohmann::json::array({pid}));
  EXPECT_EQ(start["properties"]["Delegate"], true);
  EXPECT_EQ(start["properties"]["DefaultDependencies"], false);
  EXPECT_EQ(start["properties"]["MemoryAccounting"], true);
  // The limits are the unit's from its start, so that a reload of systemd
  // keeps them: one exchange with systemd for the whole create.
  EXPECT_EQ(start["properties"]["MemoryLimit"], 64 << 20);
  EXPECT_EQ(start["properties"]["TasksMax"], 42);
  EXPECT_EQ(start["properties"]["CPUShares"], 512);
  EXPECT_THAT(bus_.Calls("SetUnitProperties"), IsEmpty());

  std::string path = slice_path_ + "/" + unit;
  // systemd moved the init into the scope; berth joined the hierarchies
  // systemd leaves alone (freezer) and wrote the limits.
  EXPECT_EQ(CgroupOf(pid, "name=systemd"), path);
  EXPECT_EQ(CgroupOf(pid, "memory"), path);
  EXPECT_EQ(CgroupOf(pid, "freezer"), path);
  EXPECT_EQ(
      ReadFileToString("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes").value_or(""),
      "67108864\n");

  // A live update is mirrored too.
  RunResult updated = Runtime({"update", "--memory", "134217728", id});
  EXPECT_EQ(updated.exit_code, 0) << updated.err;
  std::vector<nlohmann::json> set = bus_.Calls("SetUnitProperties");
  ASSERT_EQ(set.size(), 1u) << CallsText(bus_);
  EXPECT_EQ(set[0]["unit"], unit);
  EXPECT_EQ(set[0]["runtime"], true);
  EXPECT_EQ(set[0]["properties"]["MemoryLimit"], 128 << 20);
  EXPECT_EQ(
      ReadFileToString("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes").value_or(""),
      "134217728\n");

  RunResult deleted = Runtime({"delete", "--force", id});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  std::vector<nlohmann::json> stops = bus_.Calls("StopUnit");
  ASSERT_EQ(stops.size(), 1u) << CallsText(bus_);
  EXPECT_EQ(stops[0]["unit"], unit);
  EXPECT_THAT(CgroupDirs(path), IsEmpty());
}

TEST_F(SystemdRuntimeTest, AScopeLeftByACrashedCreateIsStoppedAndMadeAfresh) {
  std::string id = NewId();
  std::string unit = "berth-" + id + ".scope";
  // What a create killed between its scope's start and its rollback leaves:
  // the unit, with a process in it.
  absl::StatusOr<ChildProcess> leftover = ChildProcess::Spawn({"/bin/sleep", "1000"});
  ASSERT_TRUE(leftover.ok()) << leftover.status();
  absl::StatusOr<systemd::Manager> systemd = systemd::Manager::Connect();
  ASSERT_TRUE(systemd.ok()) << systemd.status();
  absl::Status left = systemd->StartTransientUnit(
      unit, {{"Slice", slice_}, {"PIDs", std::vector<uint32_t>{uint32_t(leftover->pid())}}});
  ASSERT_TRUE(left.ok()) << left;

  nlohmann::json config = Config({"sleep", "1000"});
  config["linux"]["cgroupsPath"] = absl::StrCat(slice_, ":berth:", id);
  RunResult created = Runtime({"--systemd-cgroup", "create", "--bundle", Bundle(config), id});
  ASSERT_EQ(created.exit_code, 0) << created.err << CallsText(bus_);
  std::vector<std::string> methods;
  for (const nlohmann::json& call : bus_.Calls())
    if (call["unit"] == unit) methods.push_back(call["method"]);
  EXPECT_THAT(methods, ::testing::ElementsAre("StartTransientUnit", "StartTransientUnit",
                                              "StopUnit", "ResetFailedUnit", "StartTransientUnit"))
      << CallsText(bus_);
  absl::StatusOr<ExitStatus> killed = leftover->WaitFor(absl::Seconds(5));
  ASSERT_TRUE(killed.ok()) << "the leftover's process outlived its unit";
  EXPECT_EQ(killed->signal, SIGKILL);
  pid_t pid = nlohmann::json::parse(Runtime({"state", id}).out).value("pid", 0);
  EXPECT_EQ(bus_.StartOf(unit)["properties"]["PIDs"], nlohmann::json::array({pid}));
  EXPECT_EQ(CgroupOf(pid, "name=systemd"), slice_path_ + "/" + unit);
  EXPECT_EQ(Runtime({"delete", "--force", id}).exit_code, 0);
  EXPECT_THAT(CgroupDirs(slice_path_ + "/" + unit), IsEmpty());
}

TEST_F(SystemdRuntimeTest, AFailedStartJobFailsTheCreateAndLeavesNothing) {
  std::string id = NewId();
  nlohmann::json config = Config({"sleep", "1000"});
  config["linux"]["cgroupsPath"] = "refused.slice:berth:" + id;
  RunResult created = Runtime({"--systemd-cgroup", "create", "--bundle", Bundle(config), id});
  EXPECT_NE(created.exit_code, 0);
  EXPECT_THAT(created.err, HasSubstr("systemd StartTransientUnit berth-" + id +
                                     ".scope: the job ended \"failed\""));
  EXPECT_NE(Runtime({"state", id}).exit_code, 0) << "a container was left";
  EXPECT_THAT(CgroupDirs("/refused.slice/berth-" + id + ".scope"), IsEmpty());
  EXPECT_FALSE(fs::exists(root() + "/" + id));
}

// An init that fails while systemd is still making its scope is gone by the
// time systemd looks for it; the create reports the init's reason, not
// systemd's "process does not exist".
TEST_F(SystemdRuntimeTest, AnInitThatFailsEarlyIsReportedWithItsOwnReason) {
  std::string id = NewId();
  nlohmann::json config = Config({"sleep", "1000"});
  config["root"]["path"] = dir().Join("no-such-rootfs");
  config["linux"]["cgroupsPath"] = "slow.slice:berth:" + id;
  RunResult created = Runtime({"--systemd-cgroup", "create", "--bundle", Bundle(config), id});
  EXPECT_NE(created.exit_code, 0);
  EXPECT_THAT(created.err, HasSubstr("no-such-rootfs"));
  EXPECT_THAT(created.err, ::testing::Not(HasSubstr("does not exist"))) << CallsText(bus_);
  EXPECT_NE(Runtime({"state", id}).exit_code, 0) << "a container was left";
  EXPECT_THAT(CgroupDirs("/slow.slice/berth-" + id + ".scope"), IsEmpty());
}

TEST_F(SystemdRuntimeTest, NoSystemBusIsAClearError) {
  std::string absent = dir().Join("no-bus-here");
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", ("unix:path=" + absent).c_str(), 1);
  std::string id = NewId();
  nlohmann::json config = Config({"sleep", "1000"});
  config["linux"]["cgroupsPath"] = absl::StrCat(slice_, ":berth:", id);
  RunResult created = Runtime({"--systemd-cgroup", "create", "--bundle", Bundle(config), id});
  EXPECT_NE(created.exit_code, 0);
  EXPECT_THAT(created.err, HasSubstr("cannot connect to the system bus at unix:path=" + absent));
  EXPECT_NE(Runtime({"state", id}).exit_code, 0) << "a container was left";
  EXPECT_THAT(CgroupDirs(slice_path_ + "/berth-" + id + ".scope"), IsEmpty());
}

// ---- berth-runtime under a real systemd ----

// The same scope, asked of systemd itself (booted in a container): systemd
// takes the unit and its properties, places the init, keeps the limits over
// a daemon-reload, takes a live update, and forgets the unit on delete.
class RealSystemdTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    if (::access(SystemdInAContainer::kNspawn, X_OK) != 0 ||
        ::access(SystemdInAContainer::kSystemd, X_OK) != 0)
      GTEST_SKIP() << "needs systemd-nspawn and systemd (hack/deps installs systemd-container)";
    if (::access("/run/systemd/system", F_OK) == 0)
      GTEST_SKIP() << "systemd runs this host: its cgroups are not a test's to share";
  }
};

TEST_F(RealSystemdTest, BerthRuntimesScopeUnderSystemdInAContainer) {
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  std::string rootfs = Rootfs();
  std::string runtime = BERTH_RUNTIME_PATH;
  std::string bundle = dir.Join("bundle");
  fs::create_directories(bundle);
  ASSERT_EQ(ChildProcess::Spawn({runtime, "spec", "--bundle", bundle})->Wait()->exit_code, 0);
  nlohmann::json config = nlohmann::json::parse(*ReadFileToString(bundle + "/config.json"));
  config["root"] = {{"path", rootfs}, {"readonly", true}};
  config["process"]["args"] = {"sleep", "1000"};
  config["process"]["terminal"] = false;
  config["linux"]["cgroupsPath"] = "berthe2e-real.slice:berth:c1";
  config["linux"]["resources"]["memory"] = {{"limit", 64 << 20}};
  config["linux"]["resources"]["pids"] = {{"limit", 42}};
  config["linux"]["resources"]["cpu"] = {{"shares", 512}, {"quota", 25000}, {"period", 100000}};
  ASSERT_TRUE(WriteFileAtomically(bundle + "/config.json", config.dump()).ok());

  SystemdInAContainer systemd;
  absl::Status booted =
      systemd.Boot(dir.Join("node"), {dir.path(), fs::path(rootfs).parent_path().string(),
                                      fs::path(runtime).parent_path().string()});
  if (absl::IsFailedPrecondition(booted)) GTEST_SKIP() << booted.message();
  ASSERT_TRUE(booted.ok()) << booted;
  const std::vector<std::string> berth_runtime = {runtime, "--root", "/run/berth-e2e"};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), berth_runtime.begin(), berth_runtime.end());
    return systemd.Run(args);
  };

  SystemdInAContainer::Output created =
      run({"--systemd-cgroup", "create", "--bundle", bundle, "c1"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::map<std::string, std::string> unit = systemd.Show("berth-c1.scope");
  EXPECT_EQ(unit["ActiveState"], "active");
  EXPECT_EQ(unit["Slice"], "berthe2e-real.slice");
  EXPECT_EQ(unit["Delegate"], "yes");
  EXPECT_EQ(unit["MemoryLimit"], "67108864");
  EXPECT_EQ(unit["TasksMax"], "42");
  EXPECT_EQ(unit["CPUShares"], "512");
  EXPECT_EQ(unit["CPUQuotaPerSecUSec"], "250ms");
  EXPECT_EQ(unit["NeedDaemonReload"], "no");  // the limits came with the unit, not after
  std::string cgroup = unit["ControlGroup"];
  EXPECT_EQ(cgroup, "/berthe2e.slice/berthe2e-real.slice/berth-c1.scope");
  pid_t pid = nlohmann::json::parse(run({"state", "c1"}).out).value("pid", 0);
  std::string placed = systemd.Run({"cat", absl::StrCat("/proc/", pid, "/cgroup")}).out;
  for (const char* hierarchy : {"name=systemd", "memory", "pids", "freezer"})
    EXPECT_THAT(placed, HasSubstr(absl::StrCat(":", hierarchy, ":", cgroup, "\n")));

  // A reload makes systemd apply its units again: the limits and the device
  // rules berth wrote must survive it.
  std::string memory = "/sys/fs/cgroup/memory" + cgroup + "/memory.limit_in_bytes";
  std::string devices = "/sys/fs/cgroup/devices" + cgroup + "/devices.list";
  ASSERT_EQ(systemd.Run({"systemctl", "daemon-reload"}).exit_code, 0);
  EXPECT_EQ(systemd.Run({"cat", memory}).out, "67108864\n");
  std::string rules = systemd.Run({"cat", devices}).out;
  EXPECT_THAT(rules, HasSubstr("c 1:3 rwm"));  // /dev/null
  EXPECT_THAT(rules, ::testing::Not(HasSubstr("a *:* rwm")));

  ASSERT_EQ(run({"start", "c1"}).exit_code, 0);
  SystemdInAContainer::Output updated = run({"update", "--memory", "134217728", "c1"});
  EXPECT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_EQ(systemd.Show("berth-c1.scope")["MemoryLimit"], "134217728");
  EXPECT_EQ(systemd.Run({"cat", memory}).out, "134217728\n");

  SystemdInAContainer::Output deleted = run({"delete", "--force", "c1"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(systemd.Show("berth-c1.scope")["LoadState"], "not-found");
  EXPECT_NE(systemd.Run({"test", "-e", "/sys/fs/cgroup/systemd" + cgroup}).exit_code, 0);
}

// berthd as the systemd service it ships as (packaging/berth.service, with
// a drop-in pointing it at this build), in that container, with
// cgroup_driver systemd: systemd learns it is ready and reloaded, pods and
// containers get scopes systemd made, and a restart of the service leaves
// them running.
TEST_F(RealSystemdTest, BerthdServiceRunsPodsInScopesUnderSystemd) {
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  TestImages images;
  ASSERT_TRUE(images.Build(dir.Join("images")).ok());
  absl::StatusOr<std::string> archive = cri::BuildArchive(images);
  ASSERT_TRUE(archive.ok()) << archive.status();
  std::string build_dir = fs::path(BERTHD_PATH).parent_path().parent_path().string();
  // Everything berthd keeps is in the container's /run, gone with it.
  std::string config = dir.Join("berth.yaml");
  ASSERT_TRUE(WriteFileAtomically(config,
                                  "root: /run/berth-e2e/root\n"
                                  "state_dir: /run/berth-e2e/run\n"
                                  "socket: /run/berth-e2e/berth.sock\n"
                                  "cgroup_driver: systemd\n"
                                  "cni:\n  conf_dir: /run/berth-e2e/net.d\n")
                  .ok());
  fs::copy_file(std::string(BERTH_SOURCE_DIR) + "/packaging/berth.service",
                dir.Join("berth.service"));
  ASSERT_TRUE(WriteFileAtomically(dir.Join("10-e2e.conf"),
                                  absl::StrCat("[Service]\nExecStart=\nExecStart=", BERTHD_PATH,
                                               " --config ", config, "\n"))
                  .ok());

  SystemdInAContainer systemd;
  absl::Status booted = systemd.Boot(dir.Join("node"), {dir.path(), build_dir});
  if (absl::IsFailedPrecondition(booted)) GTEST_SKIP() << booted.message();
  ASSERT_TRUE(booted.ok()) << booted;
  SystemdInAContainer::Output started = systemd.Run(
      {"/bin/sh", "-c",
       absl::StrCat("mkdir -p /run/systemd/system/berth.service.d && cp ",
                    dir.Join("berth.service"), " /run/systemd/system/ && cp ",
                    dir.Join("10-e2e.conf"),
                    " /run/systemd/system/berth.service.d/ && systemctl daemon-reload && "
                    "systemctl start berth")});
  ASSERT_EQ(started.exit_code, 0) << started.err << systemd.Run({"journalctl", "-u", "berth"}).out;
  // systemctl start returns once the service said READY=1.
  std::map<std::string, std::string> service = systemd.Show("berth.service");
  EXPECT_EQ(service["ActiveState"], "active");
  EXPECT_EQ(service["Type"], "notify");
  EXPECT_EQ(service["KillMode"], "process");
  EXPECT_EQ(service["Delegate"], "yes");
  EXPECT_THAT(service["StatusText"], HasSubstr("serving CRI on /run/berth-e2e/berth.sock"));
  std::string main_pid = service["MainPID"];
  // ExecReload: SIGHUP, RELOADING=1, then READY=1 again; same process.
  SystemdInAContainer::Output reloaded = systemd.Run({"systemctl", "reload", "berth"});
  EXPECT_EQ(reloaded.exit_code, 0) << reloaded.err;
  service = systemd.Show("berth.service");
  EXPECT_EQ(service["ActiveState"], "active");
  EXPECT_EQ(service["MainPID"], main_pid);

  std::string socket = absl::StrCat("/proc/", systemd.leader(), "/root/run/berth-e2e/berth.sock");
  absl::StatusOr<CriClient> client = CriClient::Connect(socket, absl::Seconds(10));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(cri::Import(*client, *archive).ok());

  runtime::v1::PodSandboxConfig pod =
      HostNetworkPod("under-systemd", "/run/berth-e2e/logs", "berthe2e-pod1.slice");
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = pod;
  absl::StatusOr<runtime::v1::RunPodSandboxResponse> ran = client->Call(&Stub::RunPodSandbox, run);
  ASSERT_TRUE(ran.ok()) << ran.status();
  std::map<std::string, std::string> pod_unit =
      systemd.Show("berth-" + ran->pod_sandbox_id() + ".scope");
  EXPECT_EQ(pod_unit["ActiveState"], "active");
  EXPECT_EQ(pod_unit["Slice"], "berthe2e-pod1.slice");

  runtime::v1::CreateContainerRequest create = Sleeper(ran->pod_sandbox_id(), pod);
  absl::StatusOr<runtime::v1::CreateContainerResponse> made =
      client->Call(&Stub::CreateContainer, create);
  ASSERT_TRUE(made.ok()) << made.status();
  std::string id = made->container_id();
  runtime::v1::StartContainerRequest start;
  start.set_container_id(id);
  ASSERT_TRUE(client->Call(&Stub::StartContainer, start).ok());
  std::string unit = "berth-" + id + ".scope";
  std::map<std::string, std::string> scope = systemd.Show(unit);
  EXPECT_EQ(scope["ActiveState"], "active");
  EXPECT_EQ(scope["Slice"], "berthe2e-pod1.slice");
  EXPECT_EQ(scope["MemoryLimit"], "67108864");
  EXPECT_EQ(scope["ControlGroup"], "/berthe2e.slice/berthe2e-pod1.slice/" + unit);
  // The container's processes are the scope's, not the service's.
  EXPECT_EQ(systemd.Show("berth.service")["ControlGroup"], "/system.slice/berth.service");

  // A restart of the service keeps the pod and its container running.
  SystemdInAContainer::Output restarted = systemd.Run({"systemctl", "restart", "berth"});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  client = CriClient::Connect(socket, absl::Seconds(10));
  ASSERT_TRUE(client.ok()) << client.status();
  runtime::v1::ContainerStatusRequest status;
  status.set_container_id(id);
  absl::StatusOr<runtime::v1::ContainerStatusResponse> after =
      client->Call(&Stub::ContainerStatus, status);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status().state(), runtime::v1::CONTAINER_RUNNING);
  EXPECT_EQ(systemd.Show(unit)["ActiveState"], "active");

  runtime::v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(ran->pod_sandbox_id());
  ASSERT_TRUE(client->Call(&Stub::RemovePodSandbox, remove).ok());
  EXPECT_EQ(systemd.Show(unit)["LoadState"], "not-found");
  EXPECT_EQ(systemd.Show("berth-" + ran->pod_sandbox_id() + ".scope")["LoadState"], "not-found");
  SystemdInAContainer::Output stopped = systemd.Run({"systemctl", "stop", "berth"});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(systemd.Show("berth.service")["Result"], "success");
}

// ---- berthd with cgroup_driver: systemd ----

// The slice directories of a test's scopes, removed when it ends, passed or
// not; the bus address it set goes too.
struct SliceDirsRemovedAtExit {
  std::vector<std::string> paths;
  ~SliceDirsRemovedAtExit() {
    RemoveSliceDirs(paths);
    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  }
};

// Removes every pod of a berthd when the test ends, passed or not.
struct PodsRemovedAtExit {
  CriClient* client = nullptr;
  ~PodsRemovedAtExit() {
    if (client == nullptr) return;
    absl::StatusOr<runtime::v1::ListPodSandboxResponse> pods =
        client->Call(&Stub::ListPodSandbox, runtime::v1::ListPodSandboxRequest());
    if (!pods.ok()) return;
    for (const runtime::v1::PodSandbox& pod : pods->items()) {
      runtime::v1::RemovePodSandboxRequest request;
      request.set_pod_sandbox_id(pod.id());
      EXPECT_TRUE(client->Call(&Stub::RemovePodSandbox, request).ok()) << pod.id();
    }
  }
};

TEST(SystemdBerthdTest, PodsAndContainersRunInTransientScopes) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, mounts and cgroups";
  if (!HasDbusDaemon()) GTEST_SKIP() << "needs dbus-daemon (hack/deps installs it)";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  fs::create_directories(dir.Join("bus"));
  FakeSystemdBus bus;
  ASSERT_TRUE(bus.Start(dir.Join("bus")).ok());
  // kubelet's systemd driver names each pod's slice as its cgroup_parent.
  std::string slice = absl::StrCat("berthe2e-pod", ::getpid(), ".slice");
  std::string slice_path = "/berthe2e.slice/" + slice;
  // Declared before berthd, so it runs after berthd stops, passed or not.
  SliceDirsRemovedAtExit slice_dirs{{slice_path, "/berthe2e.slice"}};
  fs::create_directories(dir.Join("systemd/system"));  // as if systemd ran
  ::setenv("BERTH_SYSTEMD_SYSTEM_DIR", dir.Join("systemd/system").c_str(), 1);
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);
  TestImages images;
  ASSERT_TRUE(images.Build(dir.Join("images")).ok());
  absl::StatusOr<std::string> archive = cri::BuildArchive(images);
  ASSERT_TRUE(archive.ok()) << archive.status();

  BerthdUnderTest berthd(dir);
  absl::Status started = berthd.Start("cgroup_driver: systemd\n");
  ::unsetenv("BERTH_SYSTEMD_SYSTEM_DIR");
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(cri::Import(berthd.client(), *archive).ok());
  PodsRemovedAtExit cleanup{&berthd.client()};

  runtime::v1::PodSandboxConfig pod = HostNetworkPod("scoped", dir.Join("logs"), slice);
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = pod;
  absl::StatusOr<runtime::v1::RunPodSandboxResponse> ran =
      berthd.client().Call(&Stub::RunPodSandbox, run);
  ASSERT_TRUE(ran.ok()) << ran.status() << berthd.Log();
  std::string pod_unit = "berth-" + ran->pod_sandbox_id() + ".scope";
  nlohmann::json pod_start = bus.StartOf(pod_unit);
  ASSERT_FALSE(pod_start.is_null()) << CallsText(bus);
  EXPECT_EQ(pod_start["properties"]["Slice"], slice);
  ASSERT_EQ(pod_start["properties"]["PIDs"].size(), 1u);
  pid_t pause = pod_start["properties"]["PIDs"][0].get<pid_t>();
  EXPECT_EQ(CgroupOf(pause, "name=systemd"), slice_path + "/" + pod_unit);

  runtime::v1::CreateContainerRequest create = Sleeper(ran->pod_sandbox_id(), pod);
  absl::StatusOr<runtime::v1::CreateContainerResponse> made =
      berthd.client().Call(&Stub::CreateContainer, create);
  ASSERT_TRUE(made.ok()) << made.status() << berthd.Log();
  std::string id = made->container_id();
  runtime::v1::StartContainerRequest start;
  start.set_container_id(id);
  ASSERT_TRUE(berthd.client().Call(&Stub::StartContainer, start).ok()) << berthd.Log();

  std::string unit = "berth-" + id + ".scope";
  std::string path = slice_path + "/" + unit;
  nlohmann::json container_start = bus.StartOf(unit);
  ASSERT_FALSE(container_start.is_null()) << CallsText(bus);
  EXPECT_EQ(container_start["properties"]["Slice"], slice);
  EXPECT_EQ(container_start["properties"]["Delegate"], true);
  ASSERT_EQ(container_start["properties"]["PIDs"].size(), 1u);
  pid_t init = container_start["properties"]["PIDs"][0].get<pid_t>();
  EXPECT_EQ(CgroupOf(init, "name=systemd"), path);
  EXPECT_EQ(CgroupOf(init, "memory"), path);
  EXPECT_EQ(
      ReadFileToString("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes").value_or(""),
      "67108864\n");

  // systemd was asked from short-lived children: no monitor, which lives as
  // long as its container, carries libsystemd.
  int monitors = 0;
  for (const auto& proc : fs::directory_iterator("/proc")) {
    std::string cmdline = ReadFileToString(proc.path().string() + "/cmdline").value_or("");
    if (!absl::StrContains(cmdline, "berth-monitor") || !absl::StrContains(cmdline, dir.path()))
      continue;
    ++monitors;
    std::string maps = ReadFileToString(proc.path().string() + "/maps").value_or("");
    EXPECT_FALSE(absl::StrContains(maps, "libsystemd")) << proc.path() << " maps libsystemd";
  }
  EXPECT_EQ(monitors, 2);  // the pause's and the container's

  // A live update reaches systemd too.
  runtime::v1::UpdateContainerResourcesRequest update;
  update.set_container_id(id);
  update.mutable_linux()->set_memory_limit_in_bytes(128 << 20);
  ASSERT_TRUE(berthd.client().Call(&Stub::UpdateContainerResources, update).ok()) << berthd.Log();
  nlohmann::json last_set;
  for (const nlohmann::json& call : bus.Calls("SetUnitProperties"))
    if (call["unit"] == unit) last_set = call;
  EXPECT_EQ(last_set["properties"]["MemoryLimit"], 128 << 20) << CallsText(bus);
  EXPECT_EQ(
      ReadFileToString("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes").value_or(""),
      "134217728\n");

  // Stats come from the scope's cgroup.
  runtime::v1::ContainerStatsRequest stats_request;
  stats_request.set_container_id(id);
  absl::StatusOr<runtime::v1::ContainerStatsResponse> stats =
      berthd.client().Call(&Stub::ContainerStats, stats_request);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->stats().memory().usage_bytes().value(), 0u);

  runtime::v1::RemoveContainerRequest remove;
  remove.set_container_id(id);
  ASSERT_TRUE(berthd.client().Call(&Stub::RemoveContainer, remove).ok()) << berthd.Log();
  runtime::v1::RemovePodSandboxRequest remove_pod;
  remove_pod.set_pod_sandbox_id(ran->pod_sandbox_id());
  ASSERT_TRUE(berthd.client().Call(&Stub::RemovePodSandbox, remove_pod).ok()) << berthd.Log();
  std::vector<std::string> stopped;
  for (const nlohmann::json& call : bus.Calls("StopUnit")) stopped.push_back(call["unit"]);
  EXPECT_THAT(stopped, Contains(unit)) << CallsText(bus);
  EXPECT_THAT(stopped, Contains(pod_unit)) << CallsText(bus);
  EXPECT_THAT(CgroupDirs(path), IsEmpty());
  EXPECT_THAT(CgroupDirs(slice_path + "/" + pod_unit), IsEmpty());

  berthd.process().Signal(SIGTERM).IgnoreError();
  (void)berthd.process().WaitFor(absl::Seconds(20));
}

}  // namespace
}  // namespace berth::testing
