#include "runtime/oci/spec_parse.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace berth::oci {
namespace {

using ::testing::HasSubstr;

nlohmann::json Minimal() {
  return {{"ociVersion", "1.2.0"},
          {"root", {{"path", "rootfs"}}},
          {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
          {"linux", {{"namespaces", {{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "uts"}}}}}}};
}

TEST(SpecParseTest, ParsesAFullConfig) {
  nlohmann::json config = Minimal();
  config["hostname"] = "box";
  config["process"]["user"] = {
      {"uid", 1000}, {"gid", 1000}, {"umask", 18}, {"additionalGids", {5}}};
  config["process"]["env"] = {"A=1"};
  config["process"]["capabilities"] = {{"bounding", {"CAP_KILL"}}, {"ambient", {"CAP_NET_RAW"}}};
  config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 10}, {"hard", 20}}};
  config["process"]["oomScoreAdj"] = -100;
  config["mounts"] = {
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}, {"options", {"nosuid"}}}};
  config["hooks"] = {
      {"poststart", {{{"path", "/bin/hook"}, {"args", {"hook", "x"}}, {"timeout", 5}}}}};
  config["linux"]["namespaces"].push_back({{"type", "network"}, {"path", "/var/run/netns/x"}});
  config["linux"]["resources"] = {{"memory", {{"limit", 1024}, {"swap", -1}}},
                                  {"cpu", {{"shares", 512}, {"quota", -1}, {"cpus", "0-1"}}},
                                  {"pids", {{"limit", 10}}},
                                  {"devices",
                                   {{{"allow", false}, {"access", "rwm"}},
                                    {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}}}},
                                  {"unified", {{"memory.high", "100"}}}};
  config["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ERRNO"},
      {"syscalls",
       {{{"names", {"read"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"args", {{{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  absl::StatusOr<Spec> spec = ParseSpec(config.dump());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->hostname, "box");
  EXPECT_EQ(spec->process->user.uid, 1000u);
  EXPECT_EQ(*spec->process->user.umask, 022u);
  EXPECT_EQ(spec->process->user.additional_gids, std::vector<gid_t>{5});
  EXPECT_EQ(spec->process->capabilities->ambient, std::vector<std::string>{"CAP_NET_RAW"});
  EXPECT_EQ(spec->process->rlimits[0].hard, 20u);
  EXPECT_EQ(*spec->process->oom_score_adj, -100);
  EXPECT_EQ(spec->mounts[0].options, std::vector<std::string>{"nosuid"});
  EXPECT_EQ(*spec->hooks.poststart[0].timeout_seconds, 5);
  EXPECT_EQ(spec->FindNamespace("network")->path, "/var/run/netns/x");
  EXPECT_EQ(*spec->linux.resources->memory.limit, 1024);
  EXPECT_EQ(*spec->linux.resources->memory.swap, -1);
  EXPECT_EQ(*spec->linux.resources->cpu.quota, -1);
  EXPECT_EQ(spec->linux.resources->cpu.cpus, "0-1");
  EXPECT_EQ(*spec->linux.resources->pids_limit, 10);
  EXPECT_FALSE(spec->linux.resources->devices[0].major.has_value());
  EXPECT_EQ(*spec->linux.resources->devices[1].minor, 3);
  EXPECT_EQ(spec->linux.resources->unified.at("memory.high"), "100");
  EXPECT_EQ(spec->linux.seccomp->syscalls[0].args[0].op, "SCMP_CMP_EQ");
}

struct BadCase {
  std::string name;
  std::function<void(nlohmann::json&)> mutate;
  std::string message;
};

class SpecRejectsTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SpecRejectsTest, NamesTheField) {
  nlohmann::json config = Minimal();
  GetParam().mutate(config);
  absl::StatusOr<Spec> spec = ParseSpec(config.dump());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SpecRejectsTest,
    ::testing::Values(
        BadCase{"NoVersion", [](auto& c) { c.erase("ociVersion"); }, "ociVersion: is required"},
        BadCase{"FutureVersion", [](auto& c) { c["ociVersion"] = "2.0.0"; },
                "ociVersion: version \"2.0.0\" is not supported"},
        BadCase{"NoRoot", [](auto& c) { c.erase("root"); }, "root: is required"},
        BadCase{"RootNotObject", [](auto& c) { c["root"] = "rootfs"; }, "root: must be an object"},
        BadCase{"EmptyArgs", [](auto& c) { c["process"]["args"] = nlohmann::json::array(); },
                "process.args: must name the program"},
        BadCase{"ArgNotString",
                [](auto& c) {
                  c["process"]["args"] = {"sh", 3};
                },
                "process.args[1]: must be a string"},
        BadCase{"RelativeCwd", [](auto& c) { c["process"]["cwd"] = "tmp"; },
                "process.cwd: must be an absolute path"},
        BadCase{"EnvWithoutEquals", [](auto& c) { c["process"]["env"] = {"PATH"}; },
                "process.env[0]: must be NAME=value"},
        BadCase{"UidNegative",
                [](auto& c) {
                  c["process"]["user"] = {{"uid", -1}};
                },
                "process.user.uid: is out of range"},
        BadCase{"UidString",
                [](auto& c) {
                  c["process"]["user"] = {{"uid", "root"}};
                },
                "process.user.uid: must be an integer"},
        BadCase{"UnknownCapability",
                [](auto& c) {
                  c["process"]["capabilities"] = {{"bounding", {"CAP_FLY"}}};
                },
                "process.capabilities.bounding[0]: unknown capability \"CAP_FLY\""},
        BadCase{"UnknownRlimit",
                [](auto& c) {
                  c["process"]["rlimits"] = {{{"type", "RLIMIT_FUN"}}};
                },
                "process.rlimits[0].type: unknown rlimit \"RLIMIT_FUN\""},
        BadCase{"SoftAboveHard",
                [](auto& c) {
                  c["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 5}, {"hard", 1}}};
                },
                "process.rlimits[0]: soft limit exceeds the hard limit"},
        BadCase{"OomOutOfRange", [](auto& c) { c["process"]["oomScoreAdj"] = 2000; },
                "process.oomScoreAdj: must be between -1000 and 1000"},
        BadCase{"UnknownNamespace",
                [](auto& c) {
                  c["linux"]["namespaces"].push_back({{"type", "netw"}});
                },
                "linux.namespaces[3].type: unknown namespace \"netw\""},
        BadCase{"DuplicateNamespace",
                [](auto& c) {
                  c["linux"]["namespaces"].push_back({{"type", "pid"}});
                },
                "linux.namespaces[3].type: namespace \"pid\" is given twice"},
        BadCase{"RelativeNamespacePath",
                [](auto& c) { c["linux"]["namespaces"][0]["path"] = "proc/1/ns/pid"; },
                "linux.namespaces[0].path: must be an absolute path"},
        BadCase{"MappingsWithoutUserNs",
                [](auto& c) {
                  c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
                },
                "linux.uidMappings: id mappings need a user namespace"},
        BadCase{"RelativeMount",
                [](auto& c) {
                  c["mounts"] = {{{"destination", "proc"}, {"type", "proc"}}};
                },
                "mounts[0].destination: must be an absolute path"},
        BadCase{"IdmappedMountWithUidsOnly",
                [](auto& c) {
                  c["mounts"] = {
                      {{"destination", "/x"},
                       {"type", "bind"},
                       {"source", "/tmp"},
                       {"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 10}}}}}};
                },
                "mounts[0].uidMappings: an idmapped mount needs both uid and gid mappings"},
        BadCase{"IdmappedTmpfs",
                [](auto& c) {
                  nlohmann::json range = {{{"containerID", 0}, {"hostID", 1000}, {"size", 10}}};
                  c["mounts"] = {{{"destination", "/x"},
                                  {"type", "tmpfs"},
                                  {"source", "tmpfs"},
                                  {"uidMappings", range},
                                  {"gidMappings", range}}};
                },
                "mounts[0].uidMappings: only bind mounts can be idmapped"},
        BadCase{"IdmappedMountOfSizeZero",
                [](auto& c) {
                  nlohmann::json range = {{{"containerID", 0}, {"hostID", 1000}, {"size", 0}}};
                  c["mounts"] = {{{"destination", "/x"},
                                  {"type", "bind"},
                                  {"source", "/tmp"},
                                  {"uidMappings", range},
                                  {"gidMappings", range}}};
                },
                "mounts[0].uidMappings[0].size: must be positive"},
        BadCase{"HostnameWithoutUts",
                [](auto& c) {
                  c["hostname"] = "x";
                  c["linux"]["namespaces"].erase(2);
                },
                "hostname: setting a hostname needs a uts namespace"},
        BadCase{"TmpfsOverProcSys",
                [](auto& c) {
                  c["mounts"].push_back({{"destination", "/proc/sys"}, {"type", "tmpfs"}});
                },
                "nothing may be mounted under /proc but binds"},
        BadCase{"BindOverProcThroughDots",
                [](auto& c) {
                  c["mounts"].push_back({{"destination", "/dev/../proc/./sys/kernel"},
                                         {"type", "bind"},
                                         {"source", "/tmp"},
                                         {"options", {"rbind"}}});
                },
                "a mount at /proc/sys/kernel"},
        BadCase{"BindAtProc",
                [](auto& c) {
                  c["mounts"].push_back(
                      {{"destination", "/proc"}, {"type", "bind"}, {"source", "/proc"}});
                },
                "a \"bind\" mount at /proc: only proc is allowed"},
        BadCase{"BadDeviceAccess",
                [](auto& c) {
                  c["linux"]["resources"] = {{"devices", {{{"allow", true}, {"access", "rwx"}}}}};
                },
                "linux.resources.devices[0].access: may hold only r, w and m"},
        BadCase{"UnifiedPathEscape",
                [](auto& c) {
                  c["linux"]["resources"] = {{"unified", {{"../memory.max", "1"}}}};
                },
                "linux.resources.unified.../memory.max: must name a file of the cgroup"},
        BadCase{"SwappinessTooHigh",
                [](auto& c) {
                  c["linux"]["resources"] = {{"memory", {{"swappiness", 200}}}};
                },
                "linux.resources.memory.swappiness: must be at most 100"},
        BadCase{"SeccompListener",
                [](auto& c) {
                  c["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                           {"listenerPath", "/run/l.sock"}};
                },
                "linux.seccomp.listenerPath: seccomp notify listeners are not supported"},
        BadCase{"SeccompNoDefault",
                [](auto& c) { c["linux"]["seccomp"] = nlohmann::json::object(); },
                "linux.seccomp.defaultAction: is required"},
        BadCase{"SeccompArgIndex",
                [](auto& c) {
                  c["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                           {"syscalls",
                                            {{{"names", {"read"}},
                                              {"action", "SCMP_ACT_ERRNO"},
                                              {"args", {{{"index", 6}, {"op", "SCMP_CMP_EQ"}}}}}}}};
                },
                "linux.seccomp.syscalls[0].args[0].index: must be 0 to 5"},
        BadCase{"BadPropagation", [](auto& c) { c["linux"]["rootfsPropagation"] = "sideways"; },
                "linux.rootfsPropagation: unknown propagation \"sideways\""},
        BadCase{"IntelRdt",
                [](auto& c) {
                  c["linux"]["intelRdt"] = {{"closID", "x"}};
                },
                "linux.intelRdt: is not supported by berth-runtime yet"},
        BadCase{"HookRelativePath",
                [](auto& c) {
                  c["hooks"] = {{"poststop", {{{"path", "hook"}}}}};
                },
                "hooks.poststop[0].path: must be an absolute path"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(SpecParseTest, IdmappedBindMountsKeepTheirRanges) {
  nlohmann::json config = Minimal();
  config["mounts"] = {
      {{"destination", "/data"},
       {"type", "bind"},
       {"source", "/srv/data"},
       {"options", {"rbind", "ro"}},
       {"uidMappings", {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}}},
       {"gidMappings", {{{"containerID", 0}, {"hostID", 200000}, {"size", 1000}}}}}};
  absl::StatusOr<Spec> spec = ParseSpec(config.dump());
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->mounts[0].uid_mappings.size(), 1u);
  EXPECT_EQ(spec->mounts[0].uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(spec->mounts[0].uid_mappings[0].size, 65536u);
  EXPECT_EQ(spec->mounts[0].gid_mappings[0].host_id, 200000u);
  EXPECT_EQ(spec->mounts[0].gid_mappings[0].size, 1000u);
}

TEST(SpecParseTest, NotJsonAtAll) {
  EXPECT_EQ(ParseSpec("{not json").status().message(), "config.json is not valid JSON");
}

TEST(SpecParseTest, ProcessJsonForExec) {
  absl::StatusOr<Process> process =
      ParseProcessJson(R"({"args":["ls"],"cwd":"/tmp","terminal":true})");
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_TRUE(process->terminal);
  EXPECT_EQ(process->cwd, "/tmp");
  EXPECT_THAT(std::string(ParseProcessJson(R"({"args":[]})").status().message()),
              HasSubstr("process.args: must name the program"));
}

}  // namespace
}  // namespace berth::oci
