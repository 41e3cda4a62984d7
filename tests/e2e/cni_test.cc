// CNI on real plugins (root): Debian's bridge, host-local, portmap and
// loopback from /usr/lib/cni, on namespaces pinned by CreatePinnedNetns.
// Every name is this process's own (bridge and network "bt<pid>", subnet
// 10.x.y.0/24 from the pid, temp conf, cache, IPAM and netns dirs), so the
// tests run in parallel with each other and with a live node. TearDown
// removes what a test made even when it failed: DEL for each attachment,
// the netns pins, iptables rules naming the test's ids, the bridge.

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cni/network_manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"
#include "tests/unit/temp_dir.h"

namespace berth::cni {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::TempDir;

constexpr char kDebianPlugins[] = "/usr/lib/cni";
constexpr uint16_t kPodPort = 8080;

// Runs a command to completion; its stdout, or an error naming it.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv, const std::string& dir,
                                       const std::string& input = "") {
  std::string out = dir + "/cmd.out", in = dir + "/cmd.in";
  ::unlink(out.c_str());
  if (absl::Status s = WriteFileAtomically(in, input); !s.ok()) return s;
  UniqueFd in_fd(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  SpawnOptions options{.stdout_path = out, .stdin_fd = in_fd.get()};
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(argv, options);
  if (!child.ok()) return child.status();
  absl::StatusOr<ExitStatus> exit = child->WaitFor(absl::Seconds(60));
  if (!exit.ok()) return exit.status();
  absl::StatusOr<std::string> text = ReadFileToString(out);
  if (exit->signaled || exit->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat(argv[0], " ", argv.size() > 1 ? argv[1] : "", ": ", exit->ToString()));
  }
  return text.ok() ? *text : std::string();
}

// Runs `work` on a thread that joined the netns at `path` (setns moves only
// the calling thread); sockets made there stay in that namespace.
template <typename Work>
auto InNetns(const std::string& path, Work work) -> decltype(work()) {
  decltype(work()) result = absl::UnknownError("not run");
  std::thread([&] {
    UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) {
      result = ErrnoStatus("open " + path);
      return;
    }
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      result = ErrnoStatus("setns " + path);
      return;
    }
    result = work();
  }).join();
  return result;
}

absl::StatusOr<UniqueFd> TcpSocket() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket");
  // Bounds connect() too, so an unreachable pod fails the test instead of hanging it.
  struct timeval timeout = {.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

absl::StatusOr<UniqueFd> ListenIn(const std::string& netns, uint16_t port) {
  return InNetns(netns, [&]() -> absl::StatusOr<UniqueFd> {
    absl::StatusOr<UniqueFd> fd = TcpSocket();
    if (!fd.ok()) return fd.status();
    int one = 1;
    ::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(port)};
    if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
      return ErrnoStatus("bind");
    if (::listen(fd->get(), 4) != 0) return ErrnoStatus("listen");
    return fd;
  });
}

// Connects `client` to ip:port, sends a line, and checks the listener gets it.
absl::Status Exchange(UniqueFd client, const UniqueFd& listener, const std::string& ip,
                      uint16_t port) {
  sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(port)};
  ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
    return ErrnoStatus(absl::StrCat("connect ", ip, ":", port));
  pollfd ready{.fd = listener.get(), .events = POLLIN};
  if (::poll(&ready, 1, 5000) != 1) return absl::DeadlineExceededError("no connection arrived");
  UniqueFd served(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!served) return ErrnoStatus("accept");
  const char message[] = "hello pod";
  if (::send(client.get(), message, sizeof(message), MSG_NOSIGNAL) != sizeof(message))
    return ErrnoStatus("send");
  char buffer[sizeof(message)] = {};
  ssize_t got = ::recv(served.get(), buffer, sizeof(buffer), MSG_WAITALL);
  if (got != sizeof(message) || std::memcmp(buffer, message, sizeof(message)) != 0)
    return absl::DataLossError("the listener did not get the message");
  return absl::OkStatus();
}

// The IPv4 addresses of `ifname` inside the netns.
absl::StatusOr<std::vector<std::string>> AddressesIn(const std::string& netns,
                                                     const std::string& ifname) {
  return InNetns(netns, [&]() -> absl::StatusOr<std::vector<std::string>> {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return ErrnoStatus("getifaddrs");
    std::vector<std::string> found;
    for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
      if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
      if (ifname != entry->ifa_name) continue;
      char text[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr, text,
                  sizeof(text));
      found.push_back(text);
    }
    ::freeifaddrs(list);
    return found;
  });
}

class CniE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, bridges, iptables";
    for (const char* plugin : {"bridge", "host-local", "portmap", "loopback"}) {
      std::string path = absl::StrCat(kDebianPlugins, "/", plugin);
      if (::access(path.c_str(), X_OK) != 0) {
        GTEST_SKIP() << path << " is missing (Debian package containernetworking-plugins)";
      }
    }
    if (::access("/usr/sbin/iptables", X_OK) != 0) GTEST_SKIP() << "portmap needs iptables";

    pid_t pid = ::getpid();
    name_ = absl::StrCat("bt", pid);
    subnet_prefix_ = absl::StrCat("10.", 100 + (pid >> 8) % 150, ".", pid & 255, ".");
    host_port_ = static_cast<uint16_t>(30000 + pid % 20000);
    for (const char* sub : {"net.d", "keep.d", "cache", "ipam", "netns", "bin"}) {
      ASSERT_TRUE(MakeDirectories(tmp_.Join(sub), 0755).ok());
    }
    conflist_ = Conflist("");
    ASSERT_TRUE(WriteFileAtomically(tmp_.Join("net.d/10-test.conflist"), conflist_).ok());
    // TearDown's DEL runs on this copy, whatever the test did to net.d.
    ASSERT_TRUE(WriteFileAtomically(tmp_.Join("keep.d/10-test.conflist"), conflist_).ok());
    manager_ = Manager("net.d");
  }

  void TearDown() override {
    if (name_.empty()) return;  // skipped
    std::unique_ptr<NetworkManager> cleanup = Manager("keep.d");
    for (const auto& [id, netns] : attached_) {
      absl::Status status = cleanup->Detach(Request(id, netns));
      if (!status.ok()) ADD_FAILURE() << "cleanup DEL of " << id << ": " << status;
    }
    for (const std::string& pin : pins_) {
      absl::Status status = RemovePinnedNetns(pin);
      if (!status.ok()) ADD_FAILURE() << "cleanup of netns " << pin << ": " << status;
    }
    RemoveIptablesLeftovers();
    if (fs::exists("/sys/class/net/" + name_)) {
      absl::StatusOr<std::string> deleted =
          RunCommand({"/usr/sbin/ip", "link", "del", name_}, tmp_.path());
      if (!deleted.ok()) ADD_FAILURE() << "cleanup of bridge " << name_ << ": " << deleted.status();
    }
  }

  // bridge (gateway for the host, so hostPort traffic from 127.0.0.1 is
  // routed to the pod) with host-local IPAM in the test's own dataDir, then
  // portmap with snat (what containerd's default config sets: localhost
  // traffic to a hostPort must be masqueraded, and portmap then enables
  // route_localnet on the bridge), then loopback. `extra` adds plugins.
  std::string Conflist(const std::string& extra) {
    return absl::StrCat(R"({"cniVersion":"1.0.0","name":")", name_, R"(","plugins":[
      {"type":"bridge","bridge":")",
                        name_, R"(","isGateway":true,"hairpinMode":true,
       "ipam":{"type":"host-local","ranges":[[{"subnet":")",
                        subnet_prefix_, R"(0/24"}]],
               "dataDir":")",
                        tmp_.Join("ipam"), R"("}},
      {"type":"portmap","capabilities":{"portMappings":true},"snat":true},
      {"type":"loopback"})",
                        extra, "]}");
  }

  std::unique_ptr<NetworkManager> Manager(const std::string& conf_dir) {
    return NewCniNetworkManager(CniOptions{.conf_dir = tmp_.Join(conf_dir),
                                           .bin_dirs = {tmp_.Join("bin"), kDebianPlugins},
                                           .cache_dir = tmp_.Join("cache"),
                                           .plugin_timeout = absl::Seconds(30)});
  }

  AttachRequest Request(const std::string& id, const std::string& netns) {
    AttachRequest request{.container_id = id, .netns_path = netns};
    request.args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", "e2e"}, {"K8S_POD_NAME", id}};
    return request;
  }

  // A pinned netns and a container id, both remembered for TearDown.
  std::pair<std::string, std::string> NewPod(const std::string& suffix) {
    std::string id = absl::StrCat("c", ::getpid(), suffix);
    absl::StatusOr<std::string> pin = CreatePinnedNetns(tmp_.Join("netns"), id);
    EXPECT_TRUE(pin.ok()) << pin.status();
    if (!pin.ok()) return {id, ""};
    pins_.push_back(*pin);
    attached_.emplace_back(id, *pin);
    return {id, *pin};
  }

  // A request for pod `id` in `netns` publishing kPodPort on host_port_.
  AttachRequest RequestWithHostPort(const std::string& id, const std::string& netns) {
    AttachRequest request = Request(id, netns);
    request.port_mappings = {
        {.protocol = "tcp", .container_port = kPodPort, .host_port = host_port_}};
    return request;
  }

  // Addresses host-local still holds: its dataDir has one file per IP.
  std::vector<std::string> AllocatedIps() {
    std::vector<std::string> ips;
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(tmp_.Join("ipam/" + name_), ignored)) {
      std::string file = entry.path().filename().string();
      if (absl::StartsWith(file, subnet_prefix_)) ips.push_back(file);
    }
    return ips;
  }

  std::vector<std::string> BridgePorts() {
    std::vector<std::string> ports;
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator("/sys/class/net/" + name_ + "/brif", ignored))
      ports.push_back(entry.path().filename().string());
    return ports;
  }

  // iptables-save lines that name this test's network or containers (in
  // portmap's rule comments, 'dnat name: \"bt1\" id: \"c1p\"'), plus the
  // per-container chains those rules jump to (CNI-DN-<hash>) and their rules.
  std::vector<std::string> IptablesLines(const std::string& table = "") {
    std::vector<std::string> argv = {"/usr/sbin/iptables-save"};
    if (!table.empty()) argv.insert(argv.end(), {"-t", table});
    absl::StatusOr<std::string> saved = RunCommand(argv, tmp_.path());
    EXPECT_TRUE(saved.ok()) << saved.status();
    std::vector<std::string> lines = absl::StrSplit(saved.value_or(""), '\n');
    auto quoted = [](absl::string_view line, const std::string& word) {
      return absl::StrContains(line, "\\\"" + word + "\\\"") ||
             absl::StrContains(line, "\"" + word + "\"");
    };
    std::vector<std::string> ours, chains;
    for (const std::string& line : lines) {
      bool mine = quoted(line, name_);
      for (const auto& [id, netns] : attached_) mine |= quoted(line, id);
      if (!mine) continue;
      ours.push_back(line);
      size_t jump = line.find(" -j CNI-");
      if (jump == std::string::npos) continue;
      std::string chain = line.substr(jump + 4, line.find(' ', jump + 4) - (jump + 4));
      if (!absl::StartsWith(chain, "CNI-HOSTPORT-")) chains.push_back(chain);
    }
    for (const std::string& line : lines) {
      for (const std::string& chain : chains) {
        if (absl::StartsWith(line, "-A " + chain + " ") || line == ":" + chain + " - [0:0]" ||
            absl::StartsWith(line, ":" + chain + " ")) {
          ours.push_back(line);
        }
      }
    }
    return ours;
  }

  // Deletes leftover rules naming the test's ids (a test that failed
  // before its DEL) and the per-container chains they jump to.
  // CNI-HOSTPORT-DNAT/SETMARK/MASQ are portmap's shared chains, which it
  // never deletes and other pods use: they stay.
  void RemoveIptablesLeftovers() {
    std::vector<std::string> lines = IptablesLines("nat");
    if (lines.empty()) return;
    std::vector<std::string> chains;
    std::string flushes;
    for (const std::string& line : lines) {
      if (!absl::StartsWith(line, ":")) continue;
      chains.push_back(line.substr(1, line.find(' ') - 1));
      absl::StrAppend(&flushes, "-F ", chains.back(), "\n-X ", chains.back(), "\n");
    }
    std::string deletes;
    for (const std::string& line : lines) {
      if (!absl::StartsWith(line, "-A ")) continue;
      std::string chain = line.substr(3, line.find(' ', 3) - 3);
      if (std::find(chains.begin(), chains.end(), chain) == chains.end()) {
        absl::StrAppend(&deletes, "-D ", line.substr(3), "\n");  // a rule in a shared chain
      }
    }
    std::string script = absl::StrCat("*nat\n", deletes, flushes, "COMMIT\n");
    absl::StatusOr<std::string> restored =
        RunCommand({"/usr/sbin/iptables-restore", "-w", "--noflush"}, tmp_.path(), script);
    if (!restored.ok())
      ADD_FAILURE() << "iptables cleanup: " << restored.status() << "\n" << script;
  }

  TempDir tmp_;
  std::string name_, subnet_prefix_, conflist_;
  uint16_t host_port_ = 0;
  std::unique_ptr<NetworkManager> manager_;
  std::vector<std::string> pins_;
  std::vector<std::pair<std::string, std::string>> attached_;
};

TEST_F(CniE2eTest, PinnedNetnsIsANewNamespaceWithLoopbackUp) {
  absl::StatusOr<std::string> pin = CreatePinnedNetns(tmp_.Join("netns/deeper"), "pin1");
  ASSERT_TRUE(pin.ok()) << pin.status();
  pins_.push_back(*pin);
  EXPECT_EQ(*pin, tmp_.Join("netns/deeper/pin1"));
  struct stat ours, pinned;
  ASSERT_EQ(::stat("/proc/self/ns/net", &ours), 0);
  ASSERT_EQ(::stat(pin->c_str(), &pinned), 0);
  EXPECT_NE(ours.st_ino, pinned.st_ino) << "the pin is the host's own namespace";
  // The calling thread stayed in the host namespace.
  struct stat thread_ns;
  ASSERT_EQ(::stat("/proc/thread-self/ns/net", &thread_ns), 0);
  EXPECT_EQ(thread_ns.st_ino, ours.st_ino);

  absl::StatusOr<int> lo_flags = InNetns(*pin, []() -> absl::StatusOr<int> {
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct ifreq request = {};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0) return ErrnoStatus("SIOCGIFFLAGS lo");
    return request.ifr_flags;
  });
  ASSERT_TRUE(lo_flags.ok()) << lo_flags.status();
  EXPECT_TRUE(*lo_flags & IFF_UP);

  EXPECT_EQ(CreatePinnedNetns(tmp_.Join("netns/deeper"), "pin1").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(CreatePinnedNetns(tmp_.Join("netns"), "../escape").status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(RemovePinnedNetns(*pin).ok());
  EXPECT_FALSE(fs::exists(*pin));
  EXPECT_TRUE(RemovePinnedNetns(*pin).ok()) << "removing twice must succeed";
}

TEST_F(CniE2eTest, PodsGetAddressesAndReachEachOther) {
  ASSERT_TRUE(manager_->Ready().ok()) << manager_->Ready();
  auto [id_a, ns_a] = NewPod("a");
  auto [id_b, ns_b] = NewPod("b");
  ASSERT_FALSE(ns_a.empty() || ns_b.empty());

  absl::StatusOr<AttachResult> a = manager_->Attach(Request(id_a, ns_a));
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<AttachResult> b = manager_->Attach(Request(id_b, ns_b));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->network_name, name_);
  ASSERT_EQ(a->ips.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(a->ips[0], subnet_prefix_)) << a->ips[0];
  EXPECT_NE(a->ips[0], b->ips[0]);
  absl::StatusOr<std::vector<std::string>> on_eth0 = AddressesIn(ns_a, "eth0");
  ASSERT_TRUE(on_eth0.ok()) << on_eth0.status();
  EXPECT_EQ(*on_eth0, a->ips);
  EXPECT_EQ(AllocatedIps().size(), 2u);

  absl::StatusOr<UniqueFd> listener = ListenIn(ns_a, kPodPort);
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<UniqueFd> client = InNetns(ns_b, TcpSocket);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::Status exchanged = Exchange(*std::move(client), *listener, a->ips[0], kPodPort);
  EXPECT_TRUE(exchanged.ok()) << exchanged;

  ASSERT_TRUE(manager_->Detach(Request(id_a, ns_a)).ok());
  ASSERT_TRUE(manager_->Detach(Request(id_b, ns_b)).ok());
  EXPECT_THAT(AllocatedIps(), IsEmpty());
  EXPECT_THAT(BridgePorts(), IsEmpty());
}

TEST_F(CniE2eTest, HostPortReachesThePodFromLoopback) {
  auto [id, netns] = NewPod("p");
  ASSERT_FALSE(netns.empty());
  AttachRequest request = RequestWithHostPort(id, netns);
  absl::StatusOr<AttachResult> attached = manager_->Attach(request);
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_THAT(IptablesLines("nat"), ::testing::Not(IsEmpty())) << "portmap added no DNAT rule";

  absl::StatusOr<UniqueFd> listener = ListenIn(netns, kPodPort);
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<UniqueFd> client = TcpSocket();
  ASSERT_TRUE(client.ok());
  absl::Status exchanged = Exchange(*std::move(client), *listener, "127.0.0.1", host_port_);
  EXPECT_TRUE(exchanged.ok()) << exchanged;

  ASSERT_TRUE(manager_->Detach(request).ok());
  EXPECT_THAT(IptablesLines(), IsEmpty()) << "portmap rules left after DEL";
  EXPECT_THAT(AllocatedIps(), IsEmpty());
}

TEST_F(CniE2eTest, DetachAfterTheConfigDirWasEmptiedFreesTheAddress) {
  auto [id, netns] = NewPod("d");
  ASSERT_FALSE(netns.empty());
  AttachRequest request = RequestWithHostPort(id, netns);
  absl::StatusOr<AttachResult> attached = manager_->Attach(request);
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(AllocatedIps(), attached->ips);
  EXPECT_EQ(BridgePorts().size(), 1u);

  ASSERT_EQ(::unlink(tmp_.Join("net.d/10-test.conflist").c_str()), 0);
  EXPECT_EQ(manager_->Ready().code(), absl::StatusCode::kFailedPrecondition);
  absl::Status detached = manager_->Detach(request);
  ASSERT_TRUE(detached.ok()) << detached;
  EXPECT_THAT(AllocatedIps(), IsEmpty());
  EXPECT_THAT(BridgePorts(), IsEmpty()) << "the pod's veth is still on the bridge";
  EXPECT_THAT(IptablesLines(), IsEmpty());
  EXPECT_FALSE(fs::exists(tmp_.Join("cache/results/" + name_ + "-" + id + "-eth0")));
}

TEST_F(CniE2eTest, FailingPluginFailsAttachAndLeavesNoAddressOrVeth) {
  ASSERT_TRUE(WriteFileAtomically(tmp_.Join("bin/fail-add"), R"(#!/bin/sh
cat >/dev/null
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.0.0","code":107,"msg":"refusing on purpose","details":"e2e"}'
  exit 1
fi
)",
                                  0755)
                  .ok());
  ASSERT_TRUE(
      WriteFileAtomically(tmp_.Join("net.d/10-test.conflist"), Conflist(R"(,{"type":"fail-add"})"))
          .ok());
  auto [id, netns] = NewPod("f");
  ASSERT_FALSE(netns.empty());
  AttachRequest request = RequestWithHostPort(id, netns);
  absl::StatusOr<AttachResult> attached = manager_->Attach(request);
  ASSERT_FALSE(attached.ok());
  EXPECT_THAT(
      std::string(attached.status().message()),
      HasSubstr("CNI plugin \"fail-add\" ADD failed with code 107: refusing on purpose (e2e)"));
  EXPECT_THAT(AllocatedIps(), IsEmpty());
  EXPECT_THAT(BridgePorts(), IsEmpty());
  absl::StatusOr<std::vector<std::string>> addresses = AddressesIn(netns, "eth0");
  ASSERT_TRUE(addresses.ok());
  EXPECT_THAT(*addresses, IsEmpty());
  EXPECT_THAT(IptablesLines(), IsEmpty());
  EXPECT_FALSE(fs::exists(tmp_.Join("cache/results/" + name_ + "-" + id + "-eth0")));
}

}  // namespace
}  // namespace berth::cni
