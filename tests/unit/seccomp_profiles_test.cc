#include "cri/container/seccomp_profiles.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/oci/capability_names.h"
#include "runtime/oci/spec_parse.h"
#include "runtime/seccomp_filter.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

std::string Fixture(const std::string& name) {
  return std::string(SECCOMP_TESTDATA_DIR) + "/" + name;
}

// What a filter does with one call: the action and, for SCMP_ACT_ERRNO, the errno.
struct Outcome {
  std::string action;
  unsigned errno_ret = 0;
  bool operator==(const Outcome&) const = default;
};
void PrintTo(const Outcome& o, std::ostream* os) { *os << o.action << "(" << o.errno_ret << ")"; }

const Outcome kAllow = {"SCMP_ACT_ALLOW", 0};
const Outcome kEperm = {"SCMP_ACT_ERRNO", EPERM};
const Outcome kEnosys = {"SCMP_ACT_ERRNO", ENOSYS};

Outcome OutcomeOf(const std::string& action, const json& errno_ret) {
  if (action != "SCMP_ACT_ERRNO") return {action, 0};
  return {action, errno_ret.is_null() ? unsigned{EPERM} : errno_ret.get<unsigned>()};
}

bool Holds(const json& arg, uint64_t actual) {
  uint64_t value = arg["value"], two = arg.value("valueTwo", uint64_t{0});
  std::string op = arg["op"];
  if (op == "SCMP_CMP_EQ") return actual == value;
  if (op == "SCMP_CMP_NE") return actual != value;
  if (op == "SCMP_CMP_LT") return actual < value;
  if (op == "SCMP_CMP_LE") return actual <= value;
  if (op == "SCMP_CMP_GT") return actual > value;
  if (op == "SCMP_CMP_GE") return actual >= value;
  if (op == "SCMP_CMP_MASKED_EQ") return (actual & value) == two;
  ADD_FAILURE() << "unknown op " << op;
  return false;
}

// Reads an OCI linux.seccomp object the way the executor compiles it: a
// rule applies when all its conditions hold, or any of them when one
// argument is compared twice (runtime/seccomp_filter.cc splits those); no
// rule -> the default action. Two applicable rules that disagree would make
// the outcome depend on libseccomp's ordering, so they fail the test.
Outcome Evaluate(const json& seccomp, const std::string& name, std::array<uint64_t, 6> args = {}) {
  std::set<std::pair<std::string, unsigned>> outcomes;
  for (const json& rule : seccomp["syscalls"]) {
    const json& names = rule["names"];
    if (std::find(names.begin(), names.end(), name) == names.end()) continue;
    json conditions = rule.value("args", json::array());
    std::set<uint64_t> indexes;
    bool all = true, any = conditions.empty(), repeated = false;
    for (const json& arg : conditions) {
      uint64_t index = arg["index"];
      repeated |= !indexes.insert(index).second;
      bool holds = Holds(arg, args.at(index));
      all &= holds;
      any |= holds;
    }
    if (repeated ? any : all) {
      Outcome o = OutcomeOf(rule["action"], rule.value("errnoRet", json()));
      outcomes.insert({o.action, o.errno_ret});
    }
  }
  if (outcomes.size() > 1) ADD_FAILURE() << name << " matches rules that disagree";
  if (!outcomes.empty()) return {outcomes.begin()->first, outcomes.begin()->second};
  return OutcomeOf(seccomp["defaultAction"], seccomp.value("defaultErrnoRet", json()));
}

// Hands the object to the executor as config.json's linux.seccomp, then
// compiles it with libseccomp (without loading it).
absl::Status CompileWithExecutor(const json& seccomp) {
  json config = {{"ociVersion", "1.2.0"},
                 {"root", {{"path", "rootfs"}}},
                 {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
                 {"linux", {{"namespaces", {{{"type", "mount"}}}}, {"seccomp", seccomp}}}};
  absl::StatusOr<oci::Spec> spec = oci::ParseSpec(config.dump());
  if (!spec.ok()) return spec.status();
  return ValidateSeccomp(*spec->linux.seccomp);
}

// containerd's default capability set for a non-privileged container.
const std::vector<std::string> kDefaultCaps = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};

std::vector<std::string> AllCapsExcept(const std::set<std::string>& excluded) {
  std::vector<std::string> caps;
  for (const std::string& cap : oci::KnownCapabilities()) {
    if (!excluded.contains(cap)) caps.push_back(cap);
  }
  return caps;
}

// ---- RuntimeDefault ----

TEST(RuntimeDefaultSeccompTest, DeniesWhatItDoesNotListWithEperm) {
  json profile = RuntimeDefaultSeccomp(kDefaultCaps);
  EXPECT_EQ(profile["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(profile["defaultErrnoRet"], 1);
  for (const char* name : {"kexec_load", "swapon", "add_key", "keyctl", "userfaultfd",
                           "io_uring_setup", "open_by_handle_at", "mount", "reboot"}) {
    EXPECT_EQ(Evaluate(profile, name), kEperm) << name;
  }
}

TEST(RuntimeDefaultSeccompTest, AllowsWhatOrdinaryProgramsCall) {
  json profile = RuntimeDefaultSeccomp({});
  for (const char* name : {"read", "write", "openat", "close", "execve", "exit_group", "futex",
                           "mmap", "epoll_pwait", "rt_sigreturn", "getrandom", "statx", "rseq",
                           "landlock_create_ruleset", "name_to_handle_at"}) {
    EXPECT_EQ(Evaluate(profile, name), kAllow) << name;
  }
}

TEST(RuntimeDefaultSeccompTest, CoversThisMachinesAbis) {
  json profile = RuntimeDefaultSeccomp({});
#if defined(__x86_64__)
  EXPECT_THAT(profile["architectures"],
              ElementsAre("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"));
  EXPECT_EQ(Evaluate(profile, "arch_prctl"), kAllow);
  EXPECT_EQ(Evaluate(profile, "set_tls"), kEperm);
#elif defined(__aarch64__)
  EXPECT_THAT(profile["architectures"], ElementsAre("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"));
  EXPECT_EQ(Evaluate(profile, "set_tls"), kAllow);
  EXPECT_EQ(Evaluate(profile, "arch_prctl"), kEperm);
#else
  GTEST_SKIP() << "the default profile has no architecture table for this machine";
#endif
}

// A syscall containerd allows only with one of `caps`.
struct CapabilityCase {
  std::string syscall;
  std::set<std::string> caps;
};

void PrintTo(const CapabilityCase& c, std::ostream* os) { *os << c.syscall; }

class CapabilityGatedTest : public ::testing::TestWithParam<CapabilityCase> {};

TEST_P(CapabilityGatedTest, AllowedOnlyWithTheCapability) {
  const CapabilityCase& c = GetParam();
  EXPECT_EQ(Evaluate(RuntimeDefaultSeccomp({}), c.syscall), kEperm) << "with no capabilities";
  EXPECT_EQ(Evaluate(RuntimeDefaultSeccomp(AllCapsExcept(c.caps)), c.syscall), kEperm)
      << "with every other capability";
  for (const std::string& cap : c.caps) {
    std::vector<std::string> caps = kDefaultCaps;
    caps.push_back(cap);
    EXPECT_EQ(Evaluate(RuntimeDefaultSeccomp(caps), c.syscall), kAllow) << "with " << cap;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Containerd, CapabilityGatedTest,
    ::testing::Values(
        CapabilityCase{"open_by_handle_at", {"CAP_DAC_READ_SEARCH"}},
        CapabilityCase{"mount", {"CAP_SYS_ADMIN"}}, CapabilityCase{"umount2", {"CAP_SYS_ADMIN"}},
        CapabilityCase{"unshare", {"CAP_SYS_ADMIN"}}, CapabilityCase{"setns", {"CAP_SYS_ADMIN"}},
        CapabilityCase{"sethostname", {"CAP_SYS_ADMIN"}},
        CapabilityCase{"fsopen", {"CAP_SYS_ADMIN"}},
        CapabilityCase{"bpf", {"CAP_SYS_ADMIN", "CAP_BPF"}},
        CapabilityCase{"perf_event_open", {"CAP_SYS_ADMIN", "CAP_PERFMON"}},
        CapabilityCase{"syslog", {"CAP_SYS_ADMIN", "CAP_SYSLOG"}},
        CapabilityCase{"reboot", {"CAP_SYS_BOOT"}}, CapabilityCase{"chroot", {"CAP_SYS_CHROOT"}},
        CapabilityCase{"init_module", {"CAP_SYS_MODULE"}},
        CapabilityCase{"acct", {"CAP_SYS_PACCT"}}, CapabilityCase{"kcmp", {"CAP_SYS_PTRACE"}},
        CapabilityCase{"pidfd_getfd", {"CAP_SYS_PTRACE"}},
        CapabilityCase{"iopl", {"CAP_SYS_RAWIO"}}, CapabilityCase{"settimeofday", {"CAP_SYS_TIME"}},
        CapabilityCase{"clock_settime", {"CAP_SYS_TIME"}},
        CapabilityCase{"vhangup", {"CAP_SYS_TTY_CONFIG"}},
        CapabilityCase{"mbind", {"CAP_SYS_NICE"}}),
    [](const ::testing::TestParamInfo<CapabilityCase>& info) { return info.param.syscall; });

// containerd allows these to everyone on kernels from 4.8 on (earlier ones
// let ptrace bypass seccomp), which is every kernel berth runs on.
TEST(RuntimeDefaultSeccompTest, PtraceIsAllowedWithoutCapSysPtraceAsInContainerd) {
  json profile = RuntimeDefaultSeccomp({});
  for (const char* name : {"ptrace", "process_vm_readv", "process_vm_writev"})
    EXPECT_EQ(Evaluate(profile, name), kAllow) << name;
}

TEST(RuntimeDefaultSeccompTest, PersonalityOnlyForLinuxPersonasAndQueries) {
  json profile = RuntimeDefaultSeccomp(AllCapsExcept({}));
  for (uint64_t persona : std::initializer_list<uint64_t>{0x0, 0x8, 0x20000, 0x20008, 0xffffffff})
    EXPECT_EQ(Evaluate(profile, "personality", {persona}), kAllow) << std::hex << persona;
  // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, PER_BSD.
  for (uint64_t persona : {0x0040000, 0x0400000, 0x6})
    EXPECT_EQ(Evaluate(profile, "personality", {persona}), kEperm) << std::hex << persona;
}

TEST(RuntimeDefaultSeccompTest, CloneCreatesNoNamespaceWithoutCapSysAdmin) {
  json profile = RuntimeDefaultSeccomp(kDefaultCaps);
  EXPECT_EQ(Evaluate(profile, "clone", {SIGCHLD}), kAllow);
  EXPECT_EQ(Evaluate(profile, "clone",
                     {CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                      CLONE_SYSVSEM | CLONE_SETTLS}),
            kAllow);
  for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                        CLONE_NEWNET, CLONE_NEWCGROUP}) {
    EXPECT_EQ(Evaluate(profile, "clone", {flag | SIGCHLD}), kEperm) << std::hex << flag;
  }
  EXPECT_EQ(Evaluate(profile, "clone3"), kEnosys);
}

TEST(RuntimeDefaultSeccompTest, CloneIsFreeWithCapSysAdmin) {
  json profile = RuntimeDefaultSeccomp({"CAP_SYS_ADMIN"});
  EXPECT_EQ(Evaluate(profile, "clone", {CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD}), kAllow);
  EXPECT_EQ(Evaluate(profile, "clone3"), kAllow);
}

TEST(RuntimeDefaultSeccompTest, SocketExceptVsock) {
  json profile = RuntimeDefaultSeccomp({});
  for (uint64_t family : {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET})
    EXPECT_EQ(Evaluate(profile, "socket", {family}), kAllow) << family;
  EXPECT_EQ(Evaluate(profile, "socket", {AF_VSOCK}), kEperm);
}

TEST(RuntimeDefaultSeccompTest, OneUnconditionalRuleListsEachSyscallOnce) {
  json profile = RuntimeDefaultSeccomp(AllCapsExcept({}));
  std::map<std::string, int> seen;
  for (const json& rule : profile["syscalls"]) {
    if (rule.contains("args")) continue;
    for (const json& name : rule["names"]) ++seen[name.get<std::string>()];
  }
  for (const auto& [name, count] : seen) EXPECT_EQ(count, 1) << name;
  EXPECT_GT(seen.size(), 350u);
}

class RuntimeDefaultCompilesTest : public ::testing::TestWithParam<std::vector<std::string>> {};

// Names this libseccomp does not know yet (mseal, listmount...) are in the
// list; the executor must skip them rather than fail.
TEST_P(RuntimeDefaultCompilesTest, ExecutorBuildsTheFilter) {
  EXPECT_THAT(CompileWithExecutor(RuntimeDefaultSeccomp(GetParam())), IsOk());
}

std::string CapabilitySetName(const ::testing::TestParamInfo<std::vector<std::string>>& info) {
  const char* names[] = {"None", "ContainerdDefault", "All"};
  return names[info.index];
}

INSTANTIATE_TEST_SUITE_P(Capabilities, RuntimeDefaultCompilesTest,
                         ::testing::Values(std::vector<std::string>{}, kDefaultCaps,
                                           AllCapsExcept({})),
                         CapabilitySetName);

// ---- Localhost ----

TEST(LocalhostSeccompTest, DockerLayoutWithoutCapabilities) {
  absl::StatusOr<json> profile = LocalhostSeccomp(Fixture("docker_layout.json"), kDefaultCaps);
  ASSERT_THAT(profile, IsOk());
  EXPECT_EQ((*profile)["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ((*profile)["defaultErrnoRet"], 1);
#if defined(__x86_64__)
  EXPECT_THAT((*profile)["architectures"],
              ElementsAre("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"));
  EXPECT_EQ(Evaluate(*profile, "arch_prctl"), kAllow);
  EXPECT_EQ(Evaluate(*profile, "set_tls"), kEperm);
#elif defined(__aarch64__)
  EXPECT_THAT((*profile)["architectures"], ElementsAre("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"));
  EXPECT_EQ(Evaluate(*profile, "set_tls"), kAllow);
  EXPECT_EQ(Evaluate(*profile, "arch_prctl"), kEperm);
#endif
  EXPECT_EQ(Evaluate(*profile, "s390_runtime_instr"), kEperm);
  EXPECT_EQ(Evaluate(*profile, "read"), kAllow);
  EXPECT_EQ(Evaluate(*profile, "ptrace"), kAllow);  // minKernel 4.8
  EXPECT_EQ(Evaluate(*profile, "kcmp"), kEperm);
  EXPECT_EQ(Evaluate(*profile, "mount"), kEperm);
  EXPECT_EQ(Evaluate(*profile, "open_by_handle_at"), kEperm);
  EXPECT_EQ(Evaluate(*profile, "clone", {SIGCHLD}), kAllow);
  EXPECT_EQ(Evaluate(*profile, "clone", {CLONE_NEWUSER | SIGCHLD}), kEperm);
  // The s390 clone rule (flags in the second argument) is left out here.
  EXPECT_EQ(Evaluate(*profile, "clone", {SIGCHLD, CLONE_NEWUSER}), kAllow);
  EXPECT_EQ(Evaluate(*profile, "clone3"), kEnosys);
  EXPECT_EQ(Evaluate(*profile, "socket", {AF_VSOCK}), kEperm);
  EXPECT_EQ(Evaluate(*profile, "personality", {0xffffffff}), kAllow);
  EXPECT_EQ(Evaluate(*profile, "personality", {0x0040000}), kEperm);
  // Docker-only keys (comment, includes, excludes) do not reach the OCI object.
  for (const json& rule : (*profile)["syscalls"]) {
    for (const auto& [key, value] : rule.items())
      EXPECT_THAT(key, ::testing::AnyOf("names", "action", "errnoRet", "args")) << rule.dump();
  }
}

TEST(LocalhostSeccompTest, DockerLayoutIncludesByCapability) {
  absl::StatusOr<json> profile = LocalhostSeccomp(
      Fixture("docker_layout.json"), {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"});
  ASSERT_THAT(profile, IsOk());
  EXPECT_EQ(Evaluate(*profile, "mount"), kAllow);
  EXPECT_EQ(Evaluate(*profile, "kcmp"), kAllow);
  EXPECT_EQ(Evaluate(*profile, "open_by_handle_at"), kAllow);
  EXPECT_EQ(Evaluate(*profile, "clone", {CLONE_NEWUSER | SIGCHLD}), kAllow);
  EXPECT_EQ(Evaluate(*profile, "clone3"), kAllow);
  EXPECT_THAT(CompileWithExecutor(*profile), IsOk());
}

TEST(LocalhostSeccompTest, HandWrittenProfile) {
  absl::StatusOr<json> profile = LocalhostSeccomp(Fixture("hand_written.json"), {});
  ASSERT_THAT(profile, IsOk());
  json want = json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
      {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["kill", "tkill"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 1, "value": 9, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
      {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 1, "value": 4294967295, "valueTwo": 21522, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"names": ["berth_future_syscall", "uname"], "action": "SCMP_ACT_LOG"},
      {"names": ["chroot"], "action": "SCMP_ACT_ERRNO"}
    ]})");
  EXPECT_EQ(*profile, want) << profile->dump(2);
  EXPECT_EQ(Evaluate(*profile, "kill", {1, SIGKILL}), kEperm);
  EXPECT_EQ(Evaluate(*profile, "kill", {1, SIGTERM}), kAllow);
  EXPECT_EQ(Evaluate(*profile, "ioctl", {0, 0x5412}), kEperm);
  EXPECT_EQ(Evaluate(*profile, "ioctl", {0, 0x5413}), kAllow);
  // A syscall name this libseccomp does not know is skipped, not an error.
  EXPECT_THAT(CompileWithExecutor(*profile), IsOk());

  absl::StatusOr<json> with_chroot =
      LocalhostSeccomp(Fixture("hand_written.json"), {"CAP_SYS_CHROOT"});
  ASSERT_THAT(with_chroot, IsOk());
  EXPECT_EQ(Evaluate(*with_chroot, "chroot"), kAllow);
}

TEST(LocalhostSeccompTest, MissingFileIsNotFound) {
  std::string path = Fixture("no_such_profile.json");
  EXPECT_THAT(LocalhostSeccomp(path, {}), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

TEST(LocalhostSeccompTest, TruncatedJsonNamesTheFile) {
  std::string path = Fixture("truncated.json");
  EXPECT_THAT(LocalhostSeccomp(path, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(path), HasSubstr("not valid JSON"))));
}

TEST(LocalhostSeccompTest, UnknownActionNamesFileFieldAndAction) {
  std::string path = Fixture("unknown_action.json");
  EXPECT_THAT(LocalhostSeccomp(path, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(path), HasSubstr("syscalls[1].action"),
                             HasSubstr("SCMP_ACT_SOMETIMES"))));
}

TEST(LocalhostSeccompTest, UnreadableFileIsInvalidArgument) {
  EXPECT_THAT(LocalhostSeccomp(SECCOMP_TESTDATA_DIR, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot be read")));
}

struct BadProfile {
  std::string name;
  std::string text;
  std::string message;
};

class LocalhostRejectsTest : public ::testing::TestWithParam<BadProfile> {};

TEST_P(LocalhostRejectsTest, NamesFileAndField) {
  berth::testing::TempDir dir;
  std::string path = dir.Join("profile.json");
  std::ofstream(path) << GetParam().text;
  EXPECT_THAT(LocalhostSeccomp(path, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(path), HasSubstr(GetParam().message))));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LocalhostRejectsTest,
    ::testing::Values(
        BadProfile{"NotAnObject", R"(["SCMP_ACT_ALLOW"])", "is not a JSON object"},
        BadProfile{"NoDefaultAction", R"({"syscalls": []})", "defaultAction: is required"},
        BadProfile{"UnknownDefaultAction", R"({"defaultAction": "SCMP_ACT_MAYBE"})",
                   "defaultAction: unknown action \"SCMP_ACT_MAYBE\""},
        BadProfile{"NotifyAction",
                   R"({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]})",
                   "syscalls[0].action: SCMP_ACT_NOTIFY needs a seccomp listener"},
        BadProfile{"Listener",
                   R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/l.sock"})",
                   "listenerPath: seccomp notify listeners are not supported"},
        BadProfile{"NameAndNames",
                   R"({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"name": "read", "names": ["write"],
                                     "action": "SCMP_ACT_ERRNO"}]})",
                   "syscalls[0]: has both name and names"},
        BadProfile{"NoNames",
                   R"({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"action": "SCMP_ACT_ERRNO"}]})",
                   "syscalls[0]: must name a syscall"},
        BadProfile{"ArchitecturesAndArchMap",
                   R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                       "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})",
                   "archMap: and architectures are both given"},
        BadProfile{"BadArchitecture",
                   R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]})",
                   "unknown architecture \"x86_64\""},
        BadProfile{"UnknownOperator",
                   R"({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                                     "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_ABOUT"}]}]})",
                   "syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ABOUT\""},
        BadProfile{"ArgIndex",
                   R"({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                                     "args": [{"index": 6, "value": 9, "op": "SCMP_CMP_EQ"}]}]})",
                   "syscalls[0].args[0].index: must be an integer from 0 to 5"},
        BadProfile{"NegativeErrno",
                   R"({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                                     "errnoRet": -1}]})",
                   "syscalls[0].errnoRet: must be an integer"},
        BadProfile{"MinKernel",
                   R"({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                                     "includes": {"minKernel": "latest"}}]})",
                   "syscalls[0].includes.minKernel: \"latest\" is not <major>.<minor>"},
        BadProfile{"ExcludedEntryIsCheckedToo",
                   R"({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_BOOM",
                                     "includes": {"caps": ["CAP_SYS_ADMIN"]}}]})",
                   "syscalls[0].action: unknown action"},
        BadProfile{"SyscallsNotArray", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}})",
                   "syscalls: must be an array of objects"}),
    [](const ::testing::TestParamInfo<BadProfile>& info) { return info.param.name; });

// ---- CRI SecurityProfile ----

runtime::v1::SecurityProfile Profile(runtime::v1::SecurityProfile::ProfileType type,
                                     const std::string& ref = "") {
  runtime::v1::SecurityProfile profile;
  profile.set_profile_type(type);
  profile.set_localhost_ref(ref);
  return profile;
}

TEST(SeccompForProfileTest, UnconfinedHasNoFilter) {
  absl::StatusOr<std::optional<json>> seccomp =
      SeccompForProfile(Profile(runtime::v1::SecurityProfile::Unconfined), kDefaultCaps);
  ASSERT_THAT(seccomp, IsOk());
  EXPECT_FALSE(seccomp->has_value());
}

TEST(SeccompForProfileTest, UnsetFieldIsUnconfined) {
  runtime::v1::LinuxContainerSecurityContext context;
  ASSERT_FALSE(context.has_seccomp());
  absl::StatusOr<std::optional<json>> seccomp = SeccompForProfile(context.seccomp(), kDefaultCaps);
  ASSERT_THAT(seccomp, IsOk());
  EXPECT_FALSE(seccomp->has_value());
}

TEST(SeccompForProfileTest, RuntimeDefaultIsTheDefaultProfile) {
  runtime::v1::LinuxContainerSecurityContext context;
  context.mutable_seccomp()->set_profile_type(runtime::v1::SecurityProfile::RuntimeDefault);
  absl::StatusOr<std::optional<json>> seccomp = SeccompForProfile(context.seccomp(), kDefaultCaps);
  ASSERT_THAT(seccomp, IsOk());
  ASSERT_TRUE(seccomp->has_value());
  EXPECT_EQ(**seccomp, RuntimeDefaultSeccomp(kDefaultCaps));
}

TEST(SeccompForProfileTest, LocalhostReadsTheFile) {
  std::string path = Fixture("docker_layout.json");
  absl::StatusOr<std::optional<json>> seccomp =
      SeccompForProfile(Profile(runtime::v1::SecurityProfile::Localhost, path), {"CAP_SYS_ADMIN"});
  ASSERT_THAT(seccomp, IsOk());
  ASSERT_TRUE(seccomp->has_value());
  EXPECT_EQ(**seccomp, *LocalhostSeccomp(path, {"CAP_SYS_ADMIN"}));
}

TEST(SeccompForProfileTest, LocalhostNeedsAnAbsolutePath) {
  using runtime::v1::SecurityProfile;
  EXPECT_THAT(SeccompForProfile(Profile(SecurityProfile::Localhost, "profiles/audit.json"), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"profiles/audit.json\" must be an absolute path")));
  EXPECT_THAT(SeccompForProfile(Profile(SecurityProfile::Localhost), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute path")));
  EXPECT_THAT(SeccompForProfile(Profile(SecurityProfile::Localhost, "/no/such/profile.json"), {}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(SeccompForProfileTest, LocalhostRefOnAnotherTypeIsRejected) {
  EXPECT_THAT(
      SeccompForProfile(
          Profile(runtime::v1::SecurityProfile::RuntimeDefault, Fixture("docker_layout.json")), {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RuntimeDefault")));
}

TEST(SeccompForProfilePathTest, DeprecatedStrings) {
  for (const char* unconfined : {"", "unconfined"}) {
    absl::StatusOr<std::optional<json>> seccomp = SeccompForProfilePath(unconfined, {});
    ASSERT_THAT(seccomp, IsOk()) << unconfined;
    EXPECT_FALSE(seccomp->has_value()) << unconfined;
  }
  for (const char* name : {"runtime/default", "docker/default"}) {
    absl::StatusOr<std::optional<json>> seccomp = SeccompForProfilePath(name, kDefaultCaps);
    ASSERT_THAT(seccomp, IsOk()) << name;
    ASSERT_TRUE(seccomp->has_value()) << name;
    EXPECT_EQ(**seccomp, RuntimeDefaultSeccomp(kDefaultCaps)) << name;
  }
  std::string path = Fixture("hand_written.json");
  absl::StatusOr<std::optional<json>> local = SeccompForProfilePath("localhost/" + path, {});
  ASSERT_THAT(local, IsOk());
  ASSERT_TRUE(local->has_value());
  EXPECT_EQ(**local, *LocalhostSeccomp(path, {}));
}

TEST(SeccompForProfilePathTest, RejectsRelativeAndUnknown) {
  EXPECT_THAT(SeccompForProfilePath("localhost/profiles/audit.json", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute path")));
  EXPECT_THAT(SeccompForProfilePath("localhost/" + Fixture("no_such.json"), {}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(SeccompForProfilePath("runtime/strict", {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown seccomp profile \"runtime/strict\"")));
}

}  // namespace
}  // namespace berth::cri
