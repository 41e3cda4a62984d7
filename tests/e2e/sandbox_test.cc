// Pod sandboxes through berthd's CRI socket, on Debian's real CNI plugins
// (bridge, host-local, portmap) with a bridge, subnet, IPAM store and CNI
// cache of this test process's own, so runs cannot collide. Every test
// checks that what it made is gone again: netns pins, veths on the bridge,
// IP allocations, iptables rules, mounts, cgroups, processes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/unique_fd.h"
#include "tests/e2e/berthd_fixture.h"
#include "tests/e2e/local_registry.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using Stub = runtime::v1::RuntimeService::Stub;

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, mounts, cgroups";
    if (::access("/usr/lib/cni/bridge", X_OK) != 0)
      GTEST_SKIP() << "needs containernetworking-plugins (hack/deps installs it)";
    int pid = ::getpid();
    bridge_ = absl::StrCat("bt", pid);
    subnet_prefix_ = absl::StrCat("10.", 100 + pid % 100, ".", (pid / 100) % 250, ".");
    host_port_ = 20000 + pid % 20000;
    std::filesystem::create_directories(berthd_.conf_dir());
    WriteNetwork({});
    ASSERT_TRUE(berthd_.Start(CniYaml()).ok()) << berthd_.Log();
  }

  void TearDown() override {
    if (IsSkipped()) return;
    RemoveAll();
    RunCommand({"/usr/sbin/ip", "link", "del", bridge_});
  }

  void StopBerthd() {
    berthd_.process().Signal(SIGTERM).IgnoreError();
    (void)berthd_.process().WaitFor(absl::Seconds(20));
  }

  // Restarts berthd with a fake CNI plugin `name` (a shell `script`) after
  // the bridge network's plugins; returns the config it runs with.
  std::string RestartWithPlugin(const std::string& name, const std::string& script) {
    std::string bin = dir_.Join("fake-bin");
    std::filesystem::create_directories(bin);
    EXPECT_TRUE(WriteFileAtomically(bin + "/" + name, script, 0755).ok());
    StopBerthd();
    WriteNetwork({{{"type", name}}});
    std::string yaml = CniYaml() + absl::StrCat("  bin_dirs: ", bin, ":/usr/lib/cni\n");
    EXPECT_TRUE(berthd_.Start(yaml).ok()) << berthd_.Log();
    return yaml;
  }

  // More cni keys: the fixture's config starts with "cni:\n  conf_dir: ...".
  std::string CniYaml() { return absl::StrCat("  cache_dir: ", dir_.Join("cni-cache"), "\n"); }

  // The bridge network, with `extra` plugins after bridge.
  void WriteNetwork(const std::vector<nlohmann::json>& extra) {
    nlohmann::json plugins = {
        {{"type", "bridge"},
         {"bridge", bridge_},
         {"isGateway", true},
         {"ipMasq", true},
         {"hairpinMode", true},
         {"ipam",
          {{"type", "host-local"},
           {"dataDir", dir_.Join("ipam")},
           {"ranges", {{{{"subnet", subnet_prefix_ + "0/24"}}}}},
           {"routes", {{{"dst", "0.0.0.0/0"}}}}}}},
        {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}}};
    for (const nlohmann::json& plugin : extra) plugins.push_back(plugin);
    nlohmann::json list = {{"cniVersion", "1.0.0"},
                           {"name", absl::StrCat("berth-e2e-", ::getpid())},
                           {"plugins", plugins}};
    ASSERT_TRUE(WriteFileAtomically(berthd_.conf_dir() + "/10-test.conflist", list.dump()).ok());
  }

  runtime::v1::PodSandboxConfig Pod(const std::string& name) {
    runtime::v1::PodSandboxConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_metadata()->set_namespace_("e2e");
    config.mutable_metadata()->set_uid(absl::StrCat(name, "-uid-", ::getpid()));
    config.set_hostname(name);
    config.set_log_directory(dir_.Join("logs/" + name));
    (*config.mutable_labels())["app"] = name;
    return config;
  }

  absl::StatusOr<std::string> RunPod(const runtime::v1::PodSandboxConfig& config) {
    runtime::v1::RunPodSandboxRequest request;
    *request.mutable_config() = config;
    absl::StatusOr<runtime::v1::RunPodSandboxResponse> response =
        berthd_.client().Call(&Stub::RunPodSandbox, request);
    if (!response.ok()) return response.status();
    return response->pod_sandbox_id();
  }

  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> Status(const std::string& id,
                                                               bool verbose = false) {
    runtime::v1::PodSandboxStatusRequest request;
    request.set_pod_sandbox_id(id);
    request.set_verbose(verbose);
    return berthd_.client().Call(&Stub::PodSandboxStatus, request);
  }

  absl::Status Stop(const std::string& id) {
    runtime::v1::StopPodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    return berthd_.client().Call(&Stub::StopPodSandbox, request).status();
  }

  absl::Status Remove(const std::string& id) {
    runtime::v1::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    return berthd_.client().Call(&Stub::RemovePodSandbox, request).status();
  }

  std::vector<runtime::v1::PodSandbox> List(const runtime::v1::PodSandboxFilter& filter = {}) {
    runtime::v1::ListPodSandboxRequest request;
    *request.mutable_filter() = filter;
    absl::StatusOr<runtime::v1::ListPodSandboxResponse> response =
        berthd_.client().Call(&Stub::ListPodSandbox, request);
    if (!response.ok()) return {};
    return {response->items().begin(), response->items().end()};
  }

  void RemoveAll() {
    for (const runtime::v1::PodSandbox& pod : List()) {
      absl::Status removed = Remove(pod.id());
      EXPECT_TRUE(removed.ok()) << pod.id() << ": " << removed;
    }
  }

  pid_t PausePid(const std::string& id) {
    absl::StatusOr<runtime::v1::PodSandboxStatusResponse> status = Status(id, true);
    if (!status.ok()) return 0;
    return nlohmann::json::parse(status->info().at("info"))["pid"].get<pid_t>();
  }

  // Everything a pod leaves on the node, as seen from outside berthd.
  std::vector<std::string> Leftovers(const std::vector<std::string>& ids,
                                     const std::vector<pid_t>& pids) {
    std::vector<std::string> left;
    for (const std::string& id : ids) {
      if (::access(("/var/run/netns/berth-" + id).c_str(), F_OK) == 0)
        left.push_back("netns pin of " + id);
      if (std::filesystem::exists("/sys/fs/cgroup/memory/berth/" + id))
        left.push_back("memory cgroup of " + id);
      if (absl::StrContains(RunCommand({"/usr/sbin/iptables-save"}), id.substr(0, 12)))
        left.push_back("iptables rules naming " + id);
    }
    for (pid_t pid : pids) {
      if (pid > 0 && ::kill(pid, 0) == 0) left.push_back(absl::StrCat("pause process ", pid));
    }
    std::string ports = RunCommand({"/usr/sbin/ip", "-o", "link", "show", "master", bridge_});
    if (!ports.empty()) left.push_back("veths on " + bridge_ + ": " + ports);
    std::error_code ignored;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(dir_.Join("ipam"), ignored)) {
      std::string name = entry.path().filename();
      if (absl::StartsWith(name, subnet_prefix_)) left.push_back("IP allocation " + name);
    }
    std::string mounts = ReadFileToString("/proc/self/mountinfo").value_or("");
    if (absl::StrContains(mounts, dir_.path())) left.push_back("mounts under " + dir_.path());
    return left;
  }

  TempDir dir_;
  BerthdUnderTest berthd_{dir_};
  std::string bridge_, subnet_prefix_;
  int host_port_ = 0;
};

TEST_F(SandboxTest, PodGetsAnIpAndLeavesNothingOnceRemoved) {
  absl::StatusOr<std::string> id = RunPod(Pod("web"));
  ASSERT_TRUE(id.ok()) << id.status() << berthd_.Log();
  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> status = Status(*id, true);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->status().state(), runtime::v1::SANDBOX_READY);
  EXPECT_THAT(status->status().network().ip(), ::testing::StartsWith(subnet_prefix_));
  EXPECT_EQ(status->status().metadata().name(), "web");
  EXPECT_EQ(status->status().labels().at("app"), "web");
  nlohmann::json info = nlohmann::json::parse(status->info().at("info"));
  pid_t pid = info["pid"];
  EXPECT_GT(pid, 0);
  EXPECT_EQ(info["netnsPath"], "/var/run/netns/berth-" + *id);
  EXPECT_TRUE(info["cniResult"].contains("ips"));
  // The pause process lives in the pinned namespace.
  struct stat pinned, joined;
  ASSERT_EQ(::stat(("/var/run/netns/berth-" + *id).c_str(), &pinned), 0);
  ASSERT_EQ(::stat(absl::StrCat("/proc/", pid, "/ns/net").c_str(), &joined), 0);
  EXPECT_EQ(pinned.st_ino, joined.st_ino);

  ASSERT_TRUE(Stop(*id).ok());
  EXPECT_EQ(Status(*id)->status().state(), runtime::v1::SANDBOX_NOTREADY);
  ASSERT_TRUE(Remove(*id).ok());
  EXPECT_EQ(Status(*id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(List().empty());
  EXPECT_THAT(Leftovers({*id}, {pid}), ::testing::IsEmpty());
}

TEST_F(SandboxTest, StopAndRemoveAreIdempotent) {
  EXPECT_TRUE(Stop("no-such-sandbox").ok());
  EXPECT_TRUE(Remove("no-such-sandbox").ok());
  absl::StatusOr<std::string> id = RunPod(Pod("idem"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(Stop(*id).ok());
  EXPECT_TRUE(Stop(*id).ok());
  EXPECT_TRUE(Remove(*id).ok());
  EXPECT_TRUE(Remove(*id).ok());
  EXPECT_TRUE(Stop(*id).ok());
}

TEST_F(SandboxTest, RetriedRunReturnsTheSameSandboxAndOtherConfigsAreRefused) {
  runtime::v1::PodSandboxConfig config = Pod("retry");
  absl::StatusOr<std::string> first = RunPod(config);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::string> again = RunPod(config);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  config.set_hostname("another-host");
  absl::StatusOr<std::string> other = RunPod(config);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(other.status().message(), HasSubstr(*first));
  EXPECT_EQ(List().size(), 1u);
}

TEST_F(SandboxTest, DnsConfigAndHostnameLandInThePodFiles) {
  runtime::v1::PodSandboxConfig config = Pod("dns");
  config.mutable_dns_config()->add_servers("10.96.0.10");
  config.mutable_dns_config()->add_searches("e2e.svc.cluster.local");
  config.mutable_dns_config()->add_options("ndots:5");
  absl::StatusOr<std::string> id = RunPod(config);
  ASSERT_TRUE(id.ok()) << id.status();
  nlohmann::json info = nlohmann::json::parse(Status(*id, true)->info().at("info"));
  std::string sandbox_dir = info["sandboxDir"];
  EXPECT_EQ(*ReadFileToString(sandbox_dir + "/resolv.conf"),
            "search e2e.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n");
  EXPECT_EQ(*ReadFileToString(sandbox_dir + "/hostname"), "dns\n");
  EXPECT_THAT(*ReadFileToString(sandbox_dir + "/hosts"), HasSubstr("\tdns\n"));
}

TEST_F(SandboxTest, HostNetworkPodSharesTheHostsNamespace) {
  runtime::v1::PodSandboxConfig config = Pod("hostnet");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
      runtime::v1::NODE);
  absl::StatusOr<std::string> id = RunPod(config);
  ASSERT_TRUE(id.ok()) << id.status() << berthd_.Log();
  pid_t pid = PausePid(*id);
  struct stat host, pod;
  ASSERT_EQ(::stat("/proc/self/ns/net", &host), 0);
  ASSERT_EQ(::stat(absl::StrCat("/proc/", pid, "/ns/net").c_str(), &pod), 0);
  EXPECT_EQ(host.st_ino, pod.st_ino);
  EXPECT_NE(::access(("/var/run/netns/berth-" + *id).c_str(), F_OK), 0) << "no netns, no CNI";
  EXPECT_TRUE(Remove(*id).ok());
}

TEST_F(SandboxTest, FailingPluginFailsRunAndLeavesNothing) {
  RestartWithPlugin("failing",
                    "#!/bin/sh\ncat >/dev/null\n"
                    "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                    "echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"refused "
                    "on purpose\"}'\nexit 1\n");
  absl::StatusOr<std::string> id = RunPod(Pod("fails"));
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(id.status().message(), HasSubstr("refused on purpose"));
  EXPECT_TRUE(List().empty());
  EXPECT_THAT(Leftovers({}, {}), ::testing::IsEmpty());
  std::error_code ignored;
  EXPECT_TRUE(std::filesystem::is_empty(dir_.Join("berthd-run/sandboxes"), ignored));
}

TEST_F(SandboxTest, SandboxesOutliveABerthdRestart) {
  absl::StatusOr<std::string> id = RunPod(Pod("restart"));
  ASSERT_TRUE(id.ok()) << id.status();
  pid_t pid = PausePid(*id);
  berthd_.process().Signal(SIGKILL).IgnoreError();
  (void)berthd_.process().WaitFor(absl::Seconds(20));
  EXPECT_EQ(::kill(pid, 0), 0) << "the pause process outlives berthd";
  ASSERT_TRUE(berthd_.Start(CniYaml()).ok()) << berthd_.Log();
  std::vector<runtime::v1::PodSandbox> pods = List();
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].id(), *id);
  EXPECT_EQ(pods[0].state(), runtime::v1::SANDBOX_READY);
  EXPECT_EQ(*RunPod(Pod("restart")), *id) << "the name is still the pod's";
  ASSERT_TRUE(Remove(*id).ok());
  EXPECT_THAT(Leftovers({*id}, {pid}), ::testing::IsEmpty());
}

TEST_F(SandboxTest, ListFiltersByIdPrefixStateAndLabels) {
  absl::StatusOr<std::string> a = RunPod(Pod("list-a"));
  absl::StatusOr<std::string> b = RunPod(Pod("list-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(Stop(*b).ok());
  runtime::v1::PodSandboxFilter by_id;
  by_id.set_id(a->substr(0, 12));
  EXPECT_EQ(List(by_id).size(), 1u);
  runtime::v1::PodSandboxFilter ready;
  ready.mutable_state()->set_state(runtime::v1::SANDBOX_READY);
  ASSERT_EQ(List(ready).size(), 1u);
  EXPECT_EQ(List(ready)[0].id(), *a);
  runtime::v1::PodSandboxFilter labelled;
  (*labelled.mutable_label_selector())["app"] = "list-b";
  ASSERT_EQ(List(labelled).size(), 1u);
  EXPECT_EQ(List(labelled)[0].id(), *b);
}

TEST_F(SandboxTest, TwentyPodsInParallelLeaveNothingBehind) {
  std::vector<std::string> ids(20);
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<std::string> id = RunPod(Pod(absl::StrCat("many-", i)));
      if (id.ok()) ids[i] = *id;
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<pid_t> pids;
  std::set<std::string> ips;
  for (const std::string& id : ids) {
    ASSERT_FALSE(id.empty()) << berthd_.Log();
    pids.push_back(PausePid(id));
    ips.insert(Status(id)->status().network().ip());
  }
  EXPECT_EQ(ips.size(), 20u) << "every pod has its own address";
  threads.clear();
  for (const std::string& id : ids) {
    threads.emplace_back([&, id] { EXPECT_TRUE(Remove(id).ok()); });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(Leftovers(ids, pids), ::testing::IsEmpty());
}

// A process of the test's inside a pod's network namespace: busybox nc
// listening on `port`, what it receives going to `out`.
absl::StatusOr<ChildProcess> ListenInPod(const std::string& netns, int port,
                                         const std::string& out) {
  return ChildProcess::Spawn({"/usr/bin/nsenter", "--net=" + netns, "/bin/busybox", "nc", "-l",
                              "-p", std::to_string(port)},
                             {.stdout_path = out});
}

bool AwaitText(const std::string& path, const std::string& text, int tries = 100) {
  for (int i = 0; i < tries; ++i) {
    if (absl::StrContains(ReadFileToString(path).value_or(""), text)) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

TEST_F(SandboxTest, PodsReachEachOtherAndAHostPortReachesAPodFromLoopback) {
  runtime::v1::PodSandboxConfig server = Pod("server");
  runtime::v1::PortMapping* port = server.add_port_mappings();
  port->set_container_port(8080);
  port->set_host_port(host_port_);
  port->set_host_ip("127.0.0.1");
  absl::StatusOr<std::string> server_id = RunPod(server);
  absl::StatusOr<std::string> client_id = RunPod(Pod("client"));
  ASSERT_TRUE(server_id.ok() && client_id.ok()) << berthd_.Log();
  std::string server_ip = Status(*server_id)->status().network().ip();
  std::string server_netns = "/var/run/netns/berth-" + *server_id;

  // Pod to pod, over the bridge.
  std::string received = dir_.Join("from-pod");
  absl::StatusOr<ChildProcess> listener = ListenInPod(server_netns, 8080, received);
  ASSERT_TRUE(listener.ok());
  for (int i = 0; i < 50 && !AwaitText(received, "hello from a pod", 4); ++i) {
    RunCommand({"/usr/bin/nsenter", "--net=/var/run/netns/berth-" + *client_id, "/bin/sh", "-c",
                absl::StrCat("echo hello from a pod | /bin/busybox nc -w 1 ", server_ip, " 8080")});
  }
  EXPECT_TRUE(AwaitText(received, "hello from a pod"));
  listener->Signal(SIGKILL).IgnoreError();
  (void)listener->Wait();

  // The host port, from the host's loopback (portmap's DNAT).
  std::string forwarded = dir_.Join("from-host");
  listener = ListenInPod(server_netns, 8080, forwarded);
  ASSERT_TRUE(listener.ok());
  for (int i = 0; i < 50 && !AwaitText(forwarded, "hello from the host", 4); ++i) {
    UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{.sin_family = AF_INET, .sin_port = htons(static_cast<uint16_t>(host_port_))};
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      const char text[] = "hello from the host\n";
      (void)::write(socket.get(), text, sizeof(text) - 1);
    }
  }
  EXPECT_TRUE(AwaitText(forwarded, "hello from the host"));
  listener->Signal(SIGKILL).IgnoreError();
  (void)listener->Wait();
  ASSERT_TRUE(Remove(*server_id).ok());
  ASSERT_TRUE(Remove(*client_id).ok());
  EXPECT_FALSE(
      absl::StrContains(RunCommand({"/usr/sbin/iptables-save"}), std::to_string(host_port_)))
      << "the host port's DNAT rule is gone";
}

// berthd killed while a CNI ADD runs (the IP already allocated), then
// restarted: the half-made pod is undone, its IP freed.
TEST_F(SandboxTest, BerthdKilledDuringCniAddLeavesNothingAfterRestart) {
  // Passes the previous result through, slowly.
  std::string yaml =
      RestartWithPlugin("slow",
                        "#!/bin/sh\nconfig=$(cat)\n"
                        "[ \"$CNI_COMMAND\" = ADD ] || exit 0\nsleep 3\n"
                        "echo \"$config\" | /usr/bin/python3 -c 'import json,sys; "
                        "print(json.dumps(json.load(sys.stdin)[\"prevResult\"]))'\n");
  std::thread run([&] { (void)RunPod(Pod("killed")); });
  // Wait for the IP to be allocated, then kill berthd in the middle of ADD.
  bool allocated = false;
  for (int i = 0; i < 100 && !allocated; ++i) {
    std::error_code ignored;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(dir_.Join("ipam"), ignored)) {
      if (absl::StartsWith(entry.path().filename().string(), subnet_prefix_)) allocated = true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(allocated);
  berthd_.process().Signal(SIGKILL).IgnoreError();
  (void)berthd_.process().WaitFor(absl::Seconds(20));
  run.join();
  ASSERT_TRUE(berthd_.Start(yaml).ok()) << berthd_.Log();
  EXPECT_TRUE(List().empty());
  EXPECT_THAT(Leftovers({}, {}), ::testing::IsEmpty());
  for (const auto& entry : std::filesystem::directory_iterator("/var/run/netns"))
    EXPECT_FALSE(absl::StrContains(berthd_.Log(), entry.path().filename().string()))
        << "a netns of this berthd is left: " << entry.path();
}

// RuntimeClass handlers: pods of a configured handler run under that OCI
// runtime (Debian's runc and crun here); unknown handlers are refused.
TEST_F(SandboxTest, RuntimeHandlersRunPodsWithOtherOciRuntimes) {
  StopBerthd();
  std::string yaml = CniYaml() + "runtime_handlers:\n";
  std::vector<std::pair<std::string, std::string>> runtimes;
  for (auto [name, binary] :
       {std::pair<std::string, std::string>{"runc", "/usr/sbin/runc"}, {"crun", "/usr/bin/crun"}}) {
    if (::access(binary.c_str(), X_OK) != 0) continue;
    // crun 1.8 refuses hybrid cgroup hosts (a cgroup2 mount beside v1).
    if (name == "crun" && std::filesystem::exists("/sys/fs/cgroup/unified/cgroup.controllers"))
      continue;
    runtimes.emplace_back(name, binary);
    absl::StrAppend(&yaml, "  ", name, ": {binary: ", binary, ", root: ", dir_.Join(name), "}\n");
  }
  if (runtimes.empty()) GTEST_SKIP() << "needs runc or crun";
  ASSERT_TRUE(berthd_.Start(yaml).ok()) << berthd_.Log();

  absl::StatusOr<runtime::v1::StatusResponse> status = berthd_.client().Status(false);
  ASSERT_TRUE(status.ok());
  std::set<std::string> listed;
  for (const auto& handler : status->runtime_handlers()) listed.insert(handler.name());
  EXPECT_EQ(listed.count(""), 1u);

  for (const auto& [name, binary] : runtimes) {
    EXPECT_EQ(listed.count(name), 1u) << name;
    runtime::v1::RunPodSandboxRequest request;
    *request.mutable_config() = Pod("handler-" + name);
    request.set_runtime_handler(name);
    absl::StatusOr<runtime::v1::RunPodSandboxResponse> run =
        berthd_.client().Call(&Stub::RunPodSandbox, request);
    ASSERT_TRUE(run.ok()) << name << ": " << run.status() << berthd_.Log();
    std::string id = run->pod_sandbox_id();
    EXPECT_EQ(Status(id)->status().runtime_handler(), name);
    EXPECT_EQ(Status(id)->status().state(), runtime::v1::SANDBOX_READY);
    std::string state = RunCommand({binary, "--root", dir_.Join(name), "state", id});
    EXPECT_THAT(state, HasSubstr("\"running\"")) << name << " runs the pause process";
    pid_t pid = PausePid(id);
    ASSERT_TRUE(Remove(id).ok());
    EXPECT_THAT(RunCommand({binary, "--root", dir_.Join(name), "list", "-q"}),
                ::testing::Not(HasSubstr(id)));
    EXPECT_THAT(Leftovers({id}, {pid}), ::testing::IsEmpty());
  }
  runtime::v1::RunPodSandboxRequest unknown;
  *unknown.mutable_config() = Pod("unknown-handler");
  unknown.set_runtime_handler("kata");
  EXPECT_EQ(berthd_.client().Call(&Stub::RunPodSandbox, unknown).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// sandbox_image: a pause image pulled from a registry on first use, pinned,
// and run instead of berth-pause.
TEST_F(SandboxTest, SandboxImageIsPulledPinnedAndRun) {
  testing::LocalRegistry registry(dir_.Join("registry"));
  ASSERT_TRUE(registry.Start().ok());
  std::string layout = dir_.Join("pause-image");
  ASSERT_TRUE(
      testing::RunHack({"test-images", "pause", layout, "--binary", BERTH_PAUSE_PATH, "--layout"},
                       dir_.Join("pause-image.log"))
          .ok());
  ASSERT_TRUE(registry.Push(layout).ok());
  std::string image = registry.host() + "/berth-test/pause:latest";

  StopBerthd();
  ASSERT_TRUE(berthd_.Start(CniYaml() + "image:\n  sandbox_image: " + image + "\n").ok())
      << berthd_.Log();
  absl::StatusOr<std::string> id = RunPod(Pod("imaged"));
  ASSERT_TRUE(id.ok()) << id.status() << berthd_.Log();
  EXPECT_EQ(Status(*id)->status().state(), runtime::v1::SANDBOX_READY);
  EXPECT_EQ(registry.CountRequests("/v2/berth-test/pause/manifests/latest"), 1);
  runtime::v1::ImageStatusRequest request;
  request.mutable_image()->set_image(image);
  absl::StatusOr<runtime::v1::ImageStatusResponse> status =
      berthd_.client().Call(&runtime::v1::ImageService::Stub::ImageStatus, request);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->image().pinned()) << "kubelet's image GC must leave it alone";
  // The pause process runs from the image's view, not berth-pause's rootfs.
  pid_t pid = PausePid(*id);
  std::string mounts = ReadFileToString(absl::StrCat("/proc/", pid, "/mountinfo")).value_or("");
  // Its root is the image's (one-layer) snapshot, read-only.
  EXPECT_THAT(mounts, ::testing::ContainsRegex("/snapshots/[0-9]+/fs / ro,"));
  // A second pod reuses the pulled image.
  absl::StatusOr<std::string> second = RunPod(Pod("imaged-too"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(registry.CountRequests("/v2/berth-test/pause/manifests/latest"), 1);
  ASSERT_TRUE(Remove(*id).ok());
  ASSERT_TRUE(Remove(*second).ok());
  EXPECT_THAT(Leftovers({*id, *second}, {pid}), ::testing::IsEmpty());
}

// The pod's sysctls land in the pod's namespaces, not the node's.
TEST_F(SandboxTest, PodSysctlsApplyInsideThePod) {
  runtime::v1::PodSandboxConfig config = Pod("sysctls");
  (*config.mutable_linux()->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "321";
  (*config.mutable_linux()->mutable_sysctls())["kernel.shm_rmid_forced"] = "1";
  absl::StatusOr<std::string> id = RunPod(config);
  ASSERT_TRUE(id.ok()) << id.status() << berthd_.Log();
  pid_t pid = PausePid(*id);
  EXPECT_EQ(RunCommand({"/usr/bin/nsenter", absl::StrCat("--net=/proc/", pid, "/ns/net"),
                        "/bin/cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"}),
            "321\n");
  EXPECT_EQ(RunCommand({"/usr/bin/nsenter", absl::StrCat("--ipc=/proc/", pid, "/ns/ipc"),
                        "/bin/cat", "/proc/sys/kernel/shm_rmid_forced"}),
            "1\n");
  EXPECT_NE(ReadFileToString("/proc/sys/net/ipv4/ip_unprivileged_port_start").value_or(""), "321\n")
      << "the node's own value is untouched";
  runtime::v1::PodSandboxConfig node_wide = Pod("node-wide-sysctl");
  (*node_wide.mutable_linux()->mutable_sysctls())["vm.swappiness"] = "1";
  EXPECT_EQ(RunPod(node_wide).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(List().size(), 1u);
}

// A pod whose pause process died is NOTREADY, and still stops and goes.
TEST_F(SandboxTest, DeadPauseMakesThePodNotReadyAndStopStillWorks) {
  absl::StatusOr<std::string> id = RunPod(Pod("dies"));
  ASSERT_TRUE(id.ok()) << id.status();
  pid_t pid = PausePid(*id);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (int i = 0; i < 100 && Status(*id)->status().state() == runtime::v1::SANDBOX_READY; ++i)
    absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(Status(*id)->status().state(), runtime::v1::SANDBOX_NOTREADY);
  EXPECT_TRUE(Stop(*id).ok());
  EXPECT_TRUE(Remove(*id).ok());
  EXPECT_THAT(Leftovers({*id}, {pid}), ::testing::IsEmpty());
}

// A CNI DEL that fails is owed: StopPodSandbox says so, and the next stop
// (or berthd's next start) runs it again, so the IP is not leaked.
TEST_F(SandboxTest, FailedCniDelIsRetriedOnTheNextStopAndAtStartup) {
  std::string once = dir_.Join("del-failed-once");
  std::string yaml = RestartWithPlugin(
      "flaky",
      absl::StrCat("#!/bin/sh\nconfig=$(cat)\n"
                   "if [ \"$CNI_COMMAND\" = DEL ] && [ ! -e ",
                   once, " ]; then touch ", once,
                   "; echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"DEL refused once\"}';"
                   " exit 1; fi\n"
                   "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                   "echo \"$config\" | /usr/bin/python3 -c 'import json,sys; "
                   "print(json.dumps(json.load(sys.stdin)[\"prevResult\"]))'\n"));
  absl::StatusOr<std::string> id = RunPod(Pod("flaky-del"));
  ASSERT_TRUE(id.ok()) << id.status() << berthd_.Log();
  absl::Status first = Stop(*id);
  EXPECT_FALSE(first.ok());
  EXPECT_THAT(first.message(), HasSubstr("DEL refused once"));
  EXPECT_TRUE(Stop(*id).ok()) << "the owed DEL runs again";
  EXPECT_TRUE(Remove(*id).ok());
  EXPECT_THAT(Leftovers({*id}, {}), ::testing::IsEmpty());

  // The same, with berthd restarted in between: startup runs the owed DEL.
  std::filesystem::remove(once);
  absl::StatusOr<std::string> again = RunPod(Pod("flaky-del-restart"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(Stop(*again).ok());
  StopBerthd();
  ASSERT_TRUE(berthd_.Start(yaml).ok()) << berthd_.Log();
  EXPECT_THAT(Leftovers({*again}, {}), ::testing::IsEmpty()) << "startup freed the IP";
  EXPECT_TRUE(Remove(*again).ok());
}

}  // namespace
}  // namespace berth::cri
