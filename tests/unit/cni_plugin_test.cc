// The CNI network manager against fake plugins: shell scripts in a temp bin
// dir that record their environment, stdin and call order, and print canned
// results or errors. No root: nothing touches a real network.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cni/network_manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/temp_dir.h"

namespace berth::cni {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::IsOk;
using testing::StatusIs;
using testing::TempDir;

// fake-a's result: the pod's eth0 plus a host-side bridge address; IPv6
// listed first to show the manager puts IPv4 first.
constexpr char kResultA[] = R"({"cniVersion":"1.0.0",
  "interfaces":[{"name":"br0"},{"name":"eth0","sandbox":"NETNS"}],
  "ips":[{"address":"10.9.0.1/24","interface":0},
         {"address":"fd00:9::5/64","interface":1},
         {"address":"10.9.0.5/24","interface":1,"gateway":"10.9.0.1"}]})";
// fake-b's: what a chained plugin passing the result on (with DNS) prints.
constexpr char kResultB[] = R"({"cniVersion":"1.0.0",
  "interfaces":[{"name":"br0"},{"name":"eth0","sandbox":"NETNS"}],
  "ips":[{"address":"fd00:9::5/64","interface":1},
         {"address":"10.9.0.5/24","interface":1,"gateway":"10.9.0.1"}],
  "dns":{"nameservers":["10.9.0.1"]}})";

constexpr char kTwoPluginList[] = R"({"cniVersion":"1.0.0","name":"fakenet","plugins":[
  {"type":"fake-a","capabilities":{"portMappings":true},"custom":{"kept":1}},
  {"type":"fake-b","capabilities":{"bandwidth":true,"dns":false}}]})";

class CniPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* sub : {"bin", "bin2", "net.d", "rec"}) {
      ASSERT_THAT(MakeDirectories(tmp_.Join(sub), 0755), IsOk());
    }
    netns_ = tmp_.Join("netns");
    ASSERT_THAT(WriteFileAtomically(netns_, ""), IsOk());
  }

  // A plugin script that records its call, then runs `body` (which sees
  // $CNI_COMMAND and may print a result).
  void AddPlugin(const std::string& name, const std::string& body, const std::string& bin = "bin") {
    std::string rec = tmp_.Join("rec");
    std::string script = absl::StrCat("#!/bin/sh\n",                                            //
                                      "echo \"$CNI_COMMAND ", name, "\" >> ", rec, "/calls\n",  //
                                      "env > ", rec, "/", name, ".$CNI_COMMAND.env\n",          //
                                      "cat > ", rec, "/", name, ".$CNI_COMMAND.stdin\n",        //
                                      body, "\n");
    ASSERT_THAT(WriteFileAtomically(tmp_.Join(bin + "/" + name), script, 0755), IsOk());
  }
  // Prints `result` on ADD, nothing on DEL and CHECK.
  void AddResultPlugin(const std::string& name, std::string result) {
    result = absl::StrReplaceAll(result, {{"NETNS", netns_}});
    AddPlugin(name, absl::StrCat("if [ \"$CNI_COMMAND\" = ADD ]; then cat <<'JSON'\n", result,
                                 "\nJSON\nfi"));
  }
  void WriteConf(const std::string& name, const std::string& text) {
    ASSERT_THAT(WriteFileAtomically(tmp_.Join("net.d/" + name), text), IsOk());
  }

  std::unique_ptr<NetworkManager> Manager(absl::Duration timeout = absl::Seconds(20)) {
    return NewCniNetworkManager(CniOptions{.conf_dir = tmp_.Join("net.d"),
                                           .bin_dirs = {tmp_.Join("bin"), tmp_.Join("bin2")},
                                           .cache_dir = tmp_.Join("cache"),
                                           .plugin_timeout = timeout});
  }

  AttachRequest Request() {
    AttachRequest request{.container_id = "pod1", .netns_path = netns_};
    request.args = {{"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", "web-0"}};
    request.port_mappings = {{.container_port = 80, .host_port = 8080}};
    request.bandwidth = BandwidthLimits{.ingress_rate = 1000, .ingress_burst = 10};
    request.dns = DnsCapability{.servers = {"10.96.0.10"}};
    return request;
  }

  std::string Recorded(const std::string& file) {
    absl::StatusOr<std::string> text = ReadFileToString(tmp_.Join("rec/" + file));
    return text.ok() ? *text : "<missing " + file + ">";
  }
  std::vector<std::string> Calls() {
    absl::StatusOr<std::string> text = ReadFileToString(tmp_.Join("rec/calls"));
    if (!text.ok()) return {};
    return absl::StrSplit(*text, '\n', absl::SkipEmpty());
  }
  std::map<std::string, std::string> Env(const std::string& plugin, const std::string& command) {
    std::map<std::string, std::string> env;
    for (absl::string_view line : absl::StrSplit(Recorded(plugin + "." + command + ".env"), '\n')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
      if (absl::StartsWith(kv.first, "CNI_")) env[kv.first] = kv.second;
    }
    return env;
  }
  nlohmann::json Stdin(const std::string& plugin, const std::string& command) {
    return nlohmann::json::parse(Recorded(plugin + "." + command + ".stdin"), nullptr, false);
  }
  nlohmann::json Json(const char* text) {
    return nlohmann::json::parse(absl::StrReplaceAll(text, {{"NETNS", netns_}}));
  }
  std::string CachePath() { return tmp_.Join("cache/results/fakenet-pod1-eth0"); }

  TempDir tmp_;
  std::string netns_;
};

TEST_F(CniPluginTest, AddPassesCniEnvironmentAndChainsPrevResult) {
  AddResultPlugin("fake-a", kResultA);
  AddResultPlugin("fake-b", kResultB);
  WriteConf("10-fake.conflist", kTwoPluginList);
  auto manager = Manager();

  absl::StatusOr<AttachResult> attached = manager->Attach(Request());
  ASSERT_THAT(attached, IsOk());
  EXPECT_EQ(attached->network_name, "fakenet");
  EXPECT_EQ(attached->cni_version, "1.0.0");
  EXPECT_THAT(attached->ips, ElementsAre("10.9.0.5", "fd00:9::5"));
  EXPECT_EQ(nlohmann::json::parse(attached->result_json), Json(kResultB));
  EXPECT_THAT(Calls(), ElementsAre("ADD fake-a", "ADD fake-b"));

  EXPECT_EQ(Env("fake-a", "ADD"), (std::map<std::string, std::string>{
                                      {"CNI_COMMAND", "ADD"},
                                      {"CNI_CONTAINERID", "pod1"},
                                      {"CNI_NETNS", netns_},
                                      {"CNI_IFNAME", "eth0"},
                                      {"CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0"},
                                      {"CNI_PATH", tmp_.Join("bin") + ":" + tmp_.Join("bin2")}}));

  nlohmann::json a = Stdin("fake-a", "ADD");
  EXPECT_EQ(a["name"], "fakenet");
  EXPECT_EQ(a["cniVersion"], "1.0.0");
  EXPECT_EQ(a["custom"]["kept"], 1);
  EXPECT_FALSE(a.contains("prevResult"));
  EXPECT_EQ(a["runtimeConfig"], nlohmann::json::parse(
                                    R"({"portMappings":[{"hostPort":8080,"containerPort":80,
                                        "protocol":"tcp"}]})"));

  nlohmann::json b = Stdin("fake-b", "ADD");
  EXPECT_EQ(b["prevResult"], Json(kResultA));
  EXPECT_EQ(b["runtimeConfig"], nlohmann::json::parse(
                                    R"({"bandwidth":{"ingressRate":1000,"ingressBurst":10,
                                        "egressRate":0,"egressBurst":0}})"));
}

TEST_F(CniPluginTest, AttachCachesInLibcniLayoutBeforeReturning) {
  AddResultPlugin("fake-a", kResultA);
  AddResultPlugin("fake-b", kResultB);
  WriteConf("10-fake.conflist", kTwoPluginList);
  ASSERT_THAT(Manager()->Attach(Request()), IsOk());

  absl::StatusOr<std::string> text = ReadFileToString(CachePath());
  ASSERT_THAT(text, IsOk());
  nlohmann::json cached = nlohmann::json::parse(*text);
  EXPECT_EQ(cached["kind"], "cniCacheV1");
  EXPECT_EQ(cached["containerId"], "pod1");
  EXPECT_EQ(cached["ifName"], "eth0");
  EXPECT_EQ(cached["networkName"], "fakenet");
  std::string config;
  ASSERT_TRUE(absl::Base64Unescape(cached["config"].get<std::string>(), &config));
  EXPECT_EQ(config, kTwoPluginList);
  EXPECT_EQ(cached["cniArgs"],
            nlohmann::json::parse(R"([["K8S_POD_NAMESPACE","default"],["K8S_POD_NAME","web-0"]])"));
  EXPECT_EQ(cached["capabilityArgs"]["dns"]["servers"][0], "10.96.0.10");
  EXPECT_EQ(cached["result"], Json(kResultB));
}

TEST_F(CniPluginTest, DetachRunsChainInReverseWithCachedConfigAndResult) {
  AddResultPlugin("fake-a", kResultA);
  AddResultPlugin("fake-b", kResultB);
  AddResultPlugin("other", kResultA);
  WriteConf("10-fake.conflist", kTwoPluginList);
  auto manager = Manager();
  ASSERT_THAT(manager->Attach(Request()), IsOk());

  // The config directory now names another network: DEL must not follow it.
  ASSERT_EQ(::unlink(tmp_.Join("net.d/10-fake.conflist").c_str()), 0);
  WriteConf("05-other.conf", R"({"cniVersion":"1.0.0","name":"othernet","type":"other"})");
  AttachRequest request = Request();
  request.args.clear();  // what ADD was given comes from the cache
  ASSERT_THAT(manager->Detach(request), IsOk());

  EXPECT_THAT(Calls(), ElementsAre("ADD fake-a", "ADD fake-b", "DEL fake-b", "DEL fake-a"));
  for (const char* plugin : {"fake-a", "fake-b"}) {
    SCOPED_TRACE(plugin);
    nlohmann::json del = Stdin(plugin, "DEL");
    EXPECT_EQ(del["name"], "fakenet");
    EXPECT_EQ(del["prevResult"], Json(kResultB));
    EXPECT_EQ(Env(plugin, "DEL")["CNI_ARGS"], "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0");
    EXPECT_EQ(Env(plugin, "DEL")["CNI_NETNS"], netns_);
  }
  EXPECT_TRUE(Stdin("fake-a", "DEL").contains("runtimeConfig"));
  EXPECT_NE(::access(CachePath().c_str(), F_OK), 0) << "cache kept after a successful DEL";

  // A second DEL has nothing cached and runs on the current config, as libcni would.
  ASSERT_THAT(manager->Detach(Request()), IsOk());
  EXPECT_EQ(Calls().back(), "DEL other");
  EXPECT_FALSE(Stdin("other", "DEL").contains("prevResult"));
}

TEST_F(CniPluginTest, DelBeforeVersion040GetsNoPrevResult) {
  AddResultPlugin("fake-a",
                  R"({"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.9.0.5/24"}]})");
  WriteConf("10-old.conf", R"({"cniVersion":"0.3.1","name":"fakenet","type":"fake-a"})");
  auto manager = Manager();
  absl::StatusOr<AttachResult> attached = manager->Attach(Request());
  ASSERT_THAT(attached, IsOk());
  EXPECT_THAT(attached->ips, ElementsAre("10.9.0.5"));
  ASSERT_THAT(manager->Detach(Request()), IsOk());
  EXPECT_FALSE(Stdin("fake-a", "DEL").contains("prevResult"));
  EXPECT_THAT(manager->Check(Request()), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CniPluginTest, PluginErrorObjectFailsAttachAndUndoesTheChain) {
  AddResultPlugin("fake-a", kResultA);
  AddPlugin("fake-b", R"(if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.0.0","code":7,"msg":"Invalid Configuration","details":"no room"}'
  echo "some log line" >&2
  exit 1
fi)");
  WriteConf("10-fake.conflist", kTwoPluginList);
  absl::StatusOr<AttachResult> attached = Manager()->Attach(Request());
  EXPECT_THAT(attached, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 "network \"fakenet\": CNI plugin \"fake-b\" ADD failed with code "
                                 "7: Invalid Configuration (no room)"));
  // What ADD did is undone (DEL in reverse, with the last result there was), and nothing is cached.
  EXPECT_THAT(Calls(), ElementsAre("ADD fake-a", "ADD fake-b", "DEL fake-b", "DEL fake-a"));
  EXPECT_EQ(Stdin("fake-a", "DEL")["prevResult"], Json(kResultA));
  EXPECT_NE(::access(CachePath().c_str(), F_OK), 0);
}

TEST_F(CniPluginTest, FailedUndoIsReportedWithTheAddError) {
  AddPlugin("fake-a", R"(echo '{"code":100,"msg":"boom"}'; exit 1)");
  WriteConf("10-a.conf", R"({"cniVersion":"1.0.0","name":"fakenet","type":"fake-a"})");
  EXPECT_THAT(Manager()->Attach(Request()),
              StatusIs(absl::StatusCode::kUnknown,
                       HasSubstr("ADD failed with code 100: boom; undoing it failed too: "
                                 "network \"fakenet\": CNI plugin \"fake-a\" DEL failed")));
}

TEST_F(CniPluginTest, HangingPluginIsKilledAtTheTimeoutWithWhatItStarted) {
  std::string pid_file = tmp_.Join("rec/sleep.pid");
  AddPlugin("fake-a", absl::StrCat("if [ \"$CNI_COMMAND\" = ADD ]; then sleep 60 & echo $! > ",
                                   pid_file, "; wait; fi"));
  WriteConf("10-a.conf", R"({"cniVersion":"1.0.0","name":"fakenet","type":"fake-a"})");
  absl::Time start = absl::Now();
  absl::StatusOr<AttachResult> attached = Manager(absl::Milliseconds(500))->Attach(Request());
  EXPECT_THAT(attached, StatusIs(absl::StatusCode::kDeadlineExceeded,
                                 HasSubstr("CNI plugin \"fake-a\" ADD for container pod1 still "
                                           "running after 500ms; killed")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_THAT(Calls(), ElementsAre("ADD fake-a", "DEL fake-a"));

  // The plugin's own child went with it (a zombie awaiting its new parent counts as gone).
  pid_t sleeper = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(Recorded("sleep.pid")), &sleeper));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(sleeper) + "/stat");
    std::string pid, comm, state;
    gone = !(stat >> pid >> comm >> state) || state == "Z";
    if (!gone) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(gone) << "sleep " << sleeper << " survived the plugin's timeout";
  if (!gone) ::kill(sleeper, SIGKILL);
}

TEST_F(CniPluginTest, DelGoesOnPastMissingPluginsAndAGoneNetns) {
  AddResultPlugin("fake-a", kResultA);
  AddResultPlugin("fake-b", kResultB);
  WriteConf("10-fake.conflist", kTwoPluginList);
  auto manager = Manager();
  ASSERT_THAT(manager->Attach(Request()), IsOk());

  ASSERT_EQ(::unlink(tmp_.Join("bin/fake-b").c_str()), 0);
  ASSERT_EQ(::unlink(netns_.c_str()), 0);
  ASSERT_THAT(manager->Detach(Request()), IsOk());
  EXPECT_EQ(Calls().back(), "DEL fake-a");
  EXPECT_EQ(Env("fake-a", "DEL")["CNI_NETNS"], "");
  EXPECT_NE(::access(CachePath().c_str(), F_OK), 0);
}

TEST_F(CniPluginTest, DelFailureKeepsTheCacheForARetry) {
  AddResultPlugin("fake-a", kResultA);
  WriteConf("10-a.conf", R"({"cniVersion":"1.0.0","name":"fakenet","type":"fake-a"})");
  auto manager = Manager();
  ASSERT_THAT(manager->Attach(Request()), IsOk());
  AddPlugin("fake-a", R"(echo '{"code":11,"msg":"busy"}'; exit 1)");
  EXPECT_THAT(manager->Detach(Request()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("DEL failed with code 11: busy")));
  EXPECT_EQ(::access(CachePath().c_str(), F_OK), 0);
  AddResultPlugin("fake-a", kResultA);
  EXPECT_THAT(manager->Detach(Request()), IsOk());
  EXPECT_NE(::access(CachePath().c_str(), F_OK), 0);
}

TEST_F(CniPluginTest, DetachWithNothingAttachedAndNoConfigSucceeds) {
  EXPECT_THAT(Manager()->Detach(Request()), IsOk());
  EXPECT_THAT(Calls(), IsEmpty());
}

TEST_F(CniPluginTest, CheckUsesTheCachedResult) {
  AddResultPlugin("fake-a", kResultA);
  AddResultPlugin("fake-b", kResultB);
  WriteConf("10-fake.conflist", kTwoPluginList);
  auto manager = Manager();
  ASSERT_THAT(manager->Attach(Request()), IsOk());
  ASSERT_THAT(manager->Check(Request()), IsOk());
  EXPECT_THAT(Calls(), ElementsAre("ADD fake-a", "ADD fake-b", "CHECK fake-a", "CHECK fake-b"));
  EXPECT_EQ(Stdin("fake-a", "CHECK")["prevResult"], Json(kResultB));
}

TEST_F(CniPluginTest, ReadyFollowsTheConfigDirectoryAndInstalledPlugins) {
  auto manager = Manager();
  EXPECT_THAT(manager->Ready(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         HasSubstr("no valid CNI network config")));
  WriteConf("10-fake.conflist", kTwoPluginList);
  EXPECT_THAT(manager->Ready(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("CNI plugin \"fake-a\" not found in " + tmp_.Join("bin"))));
  AddResultPlugin("fake-a", kResultA);
  AddPlugin("fake-b", "", "bin2");  // the second bin dir counts too
  EXPECT_THAT(manager->Ready(), IsOk());
  EXPECT_THAT(Calls(), IsEmpty()) << "Ready ran a plugin of a pre-1.1.0 network";

  // 1.1.0 networks answer STATUS.
  AddPlugin("fake-a", R"(if [ "$CNI_COMMAND" = STATUS ]; then
  echo '{"code":50,"msg":"daemon down"}'; exit 1; fi)");
  WriteConf("10-fake.conflist", R"({"cniVersion":"1.1.0","name":"fakenet","plugins":[
    {"type":"fake-a"},{"type":"fake-b"}]})");
  EXPECT_THAT(manager->Ready(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         HasSubstr("STATUS failed with code 50: daemon down")));
  EXPECT_EQ(Stdin("fake-a", "STATUS")["cniVersion"], "1.1.0");
}

TEST_F(CniPluginTest, BadRequestsFailBeforeAnyPluginRuns) {
  AddResultPlugin("fake-a", kResultA);
  WriteConf("10-a.conf", R"({"cniVersion":"1.0.0","name":"fakenet","type":"fake-a"})");
  auto manager = Manager();
  AttachRequest bad_id = Request();
  bad_id.container_id = "../x";
  EXPECT_THAT(manager->Attach(bad_id), StatusIs(absl::StatusCode::kInvalidArgument));
  AttachRequest bad_args = Request();
  bad_args.args.push_back({"A", "b;c"});
  EXPECT_THAT(manager->Attach(bad_args), StatusIs(absl::StatusCode::kInvalidArgument));
  AttachRequest no_netns = Request();
  no_netns.netns_path.clear();
  EXPECT_THAT(manager->Attach(no_netns), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Calls(), IsEmpty());
}

TEST_F(CniPluginTest, GarbageResultIsAnErrorAndUndone) {
  AddPlugin("fake-a", R"(if [ "$CNI_COMMAND" = ADD ]; then echo 'not json'; fi)");
  WriteConf("10-a.conf", R"({"cniVersion":"1.0.0","name":"fakenet","type":"fake-a"})");
  EXPECT_THAT(Manager()->Attach(Request()),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr("ADD printed no result object")));
  EXPECT_THAT(Calls(), ElementsAre("ADD fake-a", "DEL fake-a"));
}

}  // namespace
}  // namespace berth::cni
