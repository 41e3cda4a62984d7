#include "cri/container/seccomp_profiles.h"

#include <errno.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/json_reader.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

using json = nlohmann::json;

// ---- containerd's default profile (contrib/seccomp/seccomp_default.go) ----

// What the default profile says about this machine's architecture: the
// architectures the filter covers (the native one first, then the compat ABIs
// a container may run) and the syscalls only this architecture has. Docker's
// profile files name it by its Go name (includes.arches) or by the native
// SCMP_ARCH_ (archMap). Other architectures get the native ABI alone and no
// architecture-specific syscalls. Lists are space-separated names.
struct ArchDefaults {
  absl::string_view go_name;
  absl::string_view architectures;
  absl::string_view syscalls;
};

#if defined(__x86_64__)
constexpr ArchDefaults kArch = {"amd64", "SCMP_ARCH_X86_64 SCMP_ARCH_X86 SCMP_ARCH_X32",
                                "arch_prctl modify_ldt"};
#elif defined(__aarch64__)
constexpr ArchDefaults kArch = {
    "arm64", "SCMP_ARCH_AARCH64 SCMP_ARCH_ARM",
    "arm_fadvise64_64 arm_sync_file_range breakpoint cacheflush set_tls sync_file_range2"};
#else
constexpr ArchDefaults kArch = {"", "", ""};
#endif

// Allowed for every container. Names this libseccomp or kernel does not know
// are skipped by the executor, so newer syscalls can be listed already.
// process_vm_readv, process_vm_writev and ptrace: containerd allows them from
// kernel 4.8 on (before, ptrace could bypass seccomp); berth needs a far newer
// kernel (openat2, the new mount API), so they are allowed unconditionally.
constexpr absl::string_view kAllowed =
    "_llseek _newselect accept accept4 access adjtimex alarm bind brk cachestat capget capset "
    "chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 "
    "clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range "
    "connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl "
    "epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve "
    "execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate "
    "fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 "
    "fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 "
    "fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 "
    "futex_wait futex_waitv futex_wake futimesat get_robust_list get_thread_area getcpu "
    "getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups "
    "getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom "
    "getresgid getresgid32 getresuid getresuid32 getrlimit getrusage getsid getsockname "
    "getsockopt gettid gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch "
    "inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents "
    "io_pgetevents io_pgetevents_time64 io_setup io_submit ioctl ioprio_get ioprio_set ipc "
    "kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 "
    "lgetxattr link linkat listen listmount listxattr listxattrat llistxattr lremovexattr "
    "lseek lsetxattr lsm_get_self_attr lsm_list_modules lsm_set_self_attr lstat lstat64 "
    "madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat "
    "mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open "
    "mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap "
    "mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at "
    "nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 "
    "pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 "
    "prlimit64 process_mrelease process_vm_readv process_vm_writev pselect6 pselect6_time64 "
    "ptrace pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom "
    "recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename "
    "renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask "
    "rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 "
    "rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min sched_getaffinity "
    "sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval "
    "sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam "
    "sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop "
    "semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto set_robust_list "
    "set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 "
    "setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid "
    "setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid setsockopt setuid "
    "setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd "
    "signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 "
    "statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time "
    "timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime "
    "timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime "
    "timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat "
    "uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid "
    "write writev";

// Allowed only to a container with the capability, as the kernel would
// refuse most of them anyway; the filter keeps their attack surface away
// from containers that cannot use them.
struct CapabilityGroup {
  absl::string_view capability;
  absl::string_view syscalls;
};
constexpr CapabilityGroup kCapabilityGroups[] = {
    {"CAP_DAC_READ_SEARCH", "open_by_handle_at"},
    {"CAP_SYS_ADMIN",
     "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount "
     "mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
     "sethostname setns syslog umount umount2 unshare"},
    {"CAP_SYS_BOOT", "reboot"},
    {"CAP_SYS_CHROOT", "chroot"},
    {"CAP_SYS_MODULE", "delete_module finit_module init_module"},
    {"CAP_SYS_PACCT", "acct"},
    {"CAP_SYS_PTRACE",
     "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace"},
    {"CAP_SYS_RAWIO", "ioperm iopl"},
    {"CAP_SYS_TIME", "clock_settime clock_settime64 settimeofday stime"},
    {"CAP_SYS_TTY_CONFIG", "vhangup"},
    {"CAP_SYS_NICE", "get_mempolicy mbind set_mempolicy set_mempolicy_home_node"},
    {"CAP_SYSLOG", "syslog"},
    {"CAP_BPF", "bpf"},
    {"CAP_PERFMON", "perf_event_open"},
};

// personality() only to query or to pick the Linux personalities (32-bit,
// uname 2.6), never e.g. ADDR_NO_RANDOMIZE, which would weaken ASLR.
// 0xffffffff only queries the current personality.
constexpr uint64_t kPersonalities[] = {PER_LINUX, PER_LINUX32, UNAME26,
                                       uint64_t{UNAME26} | uint64_t{PER_LINUX32}, 0xffffffff};

// Without CAP_SYS_ADMIN, clone may not create namespaces. CLONE_NEWTIME is
// not among them: its bit lies in clone's exit-signal byte, so only clone3
// and unshare can ask for it, and both are denied here.
constexpr uint64_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWCGROUP;

std::vector<std::string> SplitNames(absl::string_view list) {
  return absl::StrSplit(list, ' ', absl::SkipEmpty());
}

// This machine's SCMP_ARCH_ name, or "" when the table does not know it.
std::string NativeArchitecture() {
  std::vector<std::string> architectures = SplitNames(kArch.architectures);
  return architectures.empty() ? "" : architectures.front();
}

json Arg(unsigned index, uint64_t value, const char* op) {
  return {{"index", index}, {"value", value}, {"valueTwo", 0}, {"op", op}};
}

json Rule(std::vector<std::string> names, const char* action, std::vector<json> args = {}) {
  json rule = {{"names", std::move(names)}, {"action", action}};
  if (!args.empty()) rule["args"] = std::move(args);
  return rule;
}

// ---- docker's profile format (moby profiles/seccomp) ----

constexpr absl::string_view kActions[] = {
    "SCMP_ACT_ALLOW",        "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",  "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",  "SCMP_ACT_TRACE", "SCMP_ACT_LOG"};
constexpr absl::string_view kOperators[] = {"SCMP_CMP_NE",       "SCMP_CMP_LT", "SCMP_CMP_LE",
                                            "SCMP_CMP_EQ",       "SCMP_CMP_GE", "SCMP_CMP_GT",
                                            "SCMP_CMP_MASKED_EQ"};

template <size_t N>
bool Contains(const absl::string_view (&list)[N], absl::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

absl::Status Invalid(const std::string& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

std::string Field(const std::string& parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

// Typed readers: a missing or null member is empty; a wrong type is an error.
absl::StatusOr<std::string> ReadString(const json& object, const char* key,
                                       const std::string& field) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Invalid(Field(field, key), "must be a string");
  return it->get<std::string>();
}

absl::StatusOr<std::vector<std::string>> ReadStrings(const json& object, const char* key,
                                                     const std::string& field) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array()) return Invalid(Field(field, key), "must be an array of strings");
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string())
      return Invalid(absl::StrCat(Field(field, key), "[", i, "]"), "must be a string");
    out.push_back((*it)[i].get<std::string>());
  }
  return out;
}

absl::StatusOr<std::optional<uint64_t>> ReadUnsigned(const json& object, const char* key,
                                                     const std::string& field, uint64_t max) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<uint64_t>();
  if (!it->is_number_unsigned() || it->get<uint64_t>() > max)
    return Invalid(Field(field, key), absl::StrCat("must be an integer from 0 to ", max));
  return it->get<uint64_t>();
}

// Each member of an optional array of objects, with its field name.
template <typename Fn>
absl::Status ForEachObject(const json& object, const char* key, const std::string& field, Fn&& fn) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Invalid(Field(field, key), "must be an array of objects");
  for (size_t i = 0; i < it->size(); ++i) {
    std::string item_field = absl::StrCat(Field(field, key), "[", i, "]");
    if (!(*it)[i].is_object()) return Invalid(item_field, "must be an object");
    RETURN_IF_ERROR(fn((*it)[i], item_field));
  }
  return absl::OkStatus();
}

// docker takes every action libseccomp has; the executor all but NOTIFY.
absl::Status CheckAction(const std::string& action, const std::string& field) {
  if (action.empty()) return Invalid(field, "is required");
  if (action == "SCMP_ACT_NOTIFY")
    return Invalid(field, "SCMP_ACT_NOTIFY needs a seccomp listener, which berth does not support");
  if (!Contains(kActions, action))
    return Invalid(field, absl::StrCat("unknown action \"", action, "\""));
  return absl::OkStatus();
}

using KernelVersion = std::pair<int, int>;

// "5.10", "6.18.44-generic" -> {5, 10}, {6, 18}: docker compares major.minor only.
std::optional<KernelVersion> ParseKernelVersion(absl::string_view text) {
  int parts[2] = {0, 0};
  size_t pos = 0;
  for (int i = 0; i < 2; ++i) {
    if (i == 1) {
      if (pos >= text.size() || text[pos] != '.') return std::nullopt;
      ++pos;
    }
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 6) {
      parts[i] = parts[i] * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  return KernelVersion{parts[0], parts[1]};
}

absl::StatusOr<KernelVersion> RunningKernel() {
  struct utsname names;
  if (uname(&names) != 0) return absl::InternalError("uname failed");
  std::optional<KernelVersion> version = ParseKernelVersion(names.release);
  if (!version)
    return absl::InternalError(
        absl::StrCat("kernel release \"", names.release, "\" has no major.minor version"));
  return *version;
}

using Capabilities = std::set<std::string, std::less<>>;

// Whether an entry's includes (`want` true) or excludes (`want` false)
// select this container on this machine: each condition given must hold for
// includes; any one that holds excludes. docker matches arches by Go name
// ("amd64"); the SCMP_ARCH_ name is taken too.
absl::StatusOr<bool> Selects(const json& entry, const char* key, const std::string& field,
                             const Capabilities& capabilities, bool want) {
  auto it = entry.find(key);
  if (it == entry.end() || it->is_null()) return want;  // no conditions: included, not excluded
  std::string cond_field = Field(field, key);
  if (!it->is_object()) return Invalid(cond_field, "must be an object");
  ASSIGN_OR_RETURN(std::vector<std::string> arches, ReadStrings(*it, "arches", cond_field));
  ASSIGN_OR_RETURN(std::vector<std::string> caps, ReadStrings(*it, "caps", cond_field));
  ASSIGN_OR_RETURN(std::string min_kernel, ReadString(*it, "minKernel", cond_field));
  bool arch_hit = false;
  for (const std::string& arch : arches)
    arch_hit |= !kArch.go_name.empty() && (arch == kArch.go_name || arch == NativeArchitecture());
  bool all_caps = true, any_cap = false;
  for (const std::string& cap : caps) {
    bool has = capabilities.contains(cap);
    all_caps &= has;
    any_cap |= has;
  }
  std::optional<bool> kernel_at_least;
  if (!min_kernel.empty()) {
    std::optional<KernelVersion> wanted = ParseKernelVersion(min_kernel);
    if (!wanted)
      return Invalid(Field(cond_field, "minKernel"),
                     absl::StrCat("\"", min_kernel, "\" is not <major>.<minor>"));
    ASSIGN_OR_RETURN(KernelVersion running, RunningKernel());
    kernel_at_least = running >= *wanted;
  }
  if (want) {
    return (arches.empty() || arch_hit) && all_caps && kernel_at_least.value_or(true);
  }
  return arch_hit || any_cap || kernel_at_least.value_or(false);
}

// One syscalls[] entry -> an OCI rule, or nullopt when includes/excludes drop it.
absl::StatusOr<std::optional<json>> ConvertSyscall(const json& entry, const std::string& field,
                                                   const Capabilities& capabilities) {
  ASSIGN_OR_RETURN(std::string name, ReadString(entry, "name", field));
  ASSIGN_OR_RETURN(std::vector<std::string> names, ReadStrings(entry, "names", field));
  if (!name.empty() && !names.empty())
    return Invalid(field, "has both name and names; use one of them");
  if (!name.empty()) names.push_back(name);
  if (names.empty()) return Invalid(field, "must name a syscall (name or names)");
  ASSIGN_OR_RETURN(std::string action, ReadString(entry, "action", field));
  RETURN_IF_ERROR(CheckAction(action, Field(field, "action")));
  json rule = {{"names", names}, {"action", action}};
  ASSIGN_OR_RETURN(std::optional<uint64_t> errno_ret,
                   ReadUnsigned(entry, "errnoRet", field, std::numeric_limits<uint32_t>::max()));
  if (errno_ret) rule["errnoRet"] = *errno_ret;
  json args = json::array();
  RETURN_IF_ERROR(ForEachObject(entry, "args", field, [&](const json& arg, const std::string& af) {
    ASSIGN_OR_RETURN(std::optional<uint64_t> index, ReadUnsigned(arg, "index", af, 5));
    ASSIGN_OR_RETURN(std::optional<uint64_t> value,
                     ReadUnsigned(arg, "value", af, std::numeric_limits<uint64_t>::max()));
    ASSIGN_OR_RETURN(std::optional<uint64_t> value_two,
                     ReadUnsigned(arg, "valueTwo", af, std::numeric_limits<uint64_t>::max()));
    ASSIGN_OR_RETURN(std::string op, ReadString(arg, "op", af));
    if (op.empty()) return Invalid(Field(af, "op"), "is required");
    if (!Contains(kOperators, op))
      return Invalid(Field(af, "op"), absl::StrCat("unknown operator \"", op, "\""));
    args.push_back({{"index", index.value_or(0)},
                    {"value", value.value_or(0)},
                    {"valueTwo", value_two.value_or(0)},
                    {"op", op}});
    return absl::OkStatus();
  }));
  if (!args.empty()) rule["args"] = std::move(args);
  // Every entry is checked above, also one these capabilities leave out, so
  // a broken profile fails for every container, not just some.
  ASSIGN_OR_RETURN(bool included, Selects(entry, "includes", field, capabilities, true));
  ASSIGN_OR_RETURN(bool excluded, Selects(entry, "excludes", field, capabilities, false));
  if (!included || excluded) return std::optional<json>();
  return std::optional<json>(std::move(rule));
}

absl::StatusOr<json> ConvertProfile(const json& profile, const Capabilities& capabilities) {
  const std::string top;
  ASSIGN_OR_RETURN(std::string default_action, ReadString(profile, "defaultAction", top));
  RETURN_IF_ERROR(CheckAction(default_action, "defaultAction"));
  json out = {{"defaultAction", default_action}};
  ASSIGN_OR_RETURN(
      std::optional<uint64_t> default_errno,
      ReadUnsigned(profile, "defaultErrnoRet", top, std::numeric_limits<uint32_t>::max()));
  if (default_errno) out["defaultErrnoRet"] = *default_errno;

  ASSIGN_OR_RETURN(std::vector<std::string> architectures,
                   ReadStrings(profile, "architectures", top));
  bool has_arch_map = false;
  RETURN_IF_ERROR(
      ForEachObject(profile, "archMap", top, [&](const json& entry, const std::string& ef) {
        has_arch_map = true;
        ASSIGN_OR_RETURN(std::string arch, ReadString(entry, "architecture", ef));
        ASSIGN_OR_RETURN(std::vector<std::string> subs, ReadStrings(entry, "subArchitectures", ef));
        if (arch.empty() || arch != NativeArchitecture()) return absl::OkStatus();
        out["architectures"].push_back(arch);
        for (const std::string& sub : subs) out["architectures"].push_back(sub);
        return absl::OkStatus();
      }));
  if (has_arch_map && !architectures.empty())
    return Invalid("archMap", "and architectures are both given; use one of them");
  for (const std::string& arch : architectures) out["architectures"].push_back(arch);
  if (!out.contains("architectures")) out["architectures"] = json::array();
  for (const json& arch : out["architectures"]) {
    if (!absl::StartsWith(arch.get<std::string>(), "SCMP_ARCH_"))
      return Invalid("architectures",
                     absl::StrCat("unknown architecture \"", arch.get<std::string>(), "\""));
  }

  ASSIGN_OR_RETURN(std::vector<std::string> flags, ReadStrings(profile, "flags", top));
  if (!flags.empty()) out["flags"] = flags;
  ASSIGN_OR_RETURN(std::string listener, ReadString(profile, "listenerPath", top));
  if (!listener.empty())
    return Invalid("listenerPath", "seccomp notify listeners are not supported by berth");

  out["syscalls"] = json::array();
  RETURN_IF_ERROR(
      ForEachObject(profile, "syscalls", top, [&](const json& entry, const std::string& ef) {
        ASSIGN_OR_RETURN(std::optional<json> rule, ConvertSyscall(entry, ef, capabilities));
        if (rule) out["syscalls"].push_back(std::move(*rule));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::optional<json>> LocalhostProfile(const std::string& path,
                                                     const std::vector<std::string>& capabilities) {
  if (!absl::StartsWith(path, "/"))
    return absl::InvalidArgumentError(
        absl::StrCat("localhost seccomp profile \"", path, "\" must be an absolute path"));
  ASSIGN_OR_RETURN(json profile, LocalhostSeccomp(path, capabilities));
  return std::optional<json>(std::move(profile));
}

}  // namespace

json RuntimeDefaultSeccomp(const std::vector<std::string>& capabilities) {
  Capabilities caps(capabilities.begin(), capabilities.end());
  // One allow rule with every unconditional name, each once: containerd's
  // groups overlap (bpf under CAP_SYS_ADMIN and CAP_BPF, ...).
  std::set<std::string> allowed;
  for (absl::string_view list : {kAllowed, kArch.syscalls}) {
    for (std::string& name : SplitNames(list)) allowed.insert(std::move(name));
  }
  for (const CapabilityGroup& group : kCapabilityGroups) {
    if (caps.contains(group.capability))
      for (std::string& name : SplitNames(group.syscalls)) allowed.insert(std::move(name));
  }

  json syscalls = json::array();
  syscalls.push_back(Rule({allowed.begin(), allowed.end()}, "SCMP_ACT_ALLOW"));
  for (uint64_t persona : kPersonalities)
    syscalls.push_back(Rule({"personality"}, "SCMP_ACT_ALLOW", {Arg(0, persona, "SCMP_CMP_EQ")}));
  // vsock sockets reach the host (or a VM's hypervisor) past the network namespace.
  syscalls.push_back(Rule({"socket"}, "SCMP_ACT_ALLOW", {Arg(0, AF_VSOCK, "SCMP_CMP_NE")}));
  if (!caps.contains("CAP_SYS_ADMIN")) {
    // flags & kCloneNamespaceFlags == 0 (valueTwo)
    syscalls.push_back(
        Rule({"clone"}, "SCMP_ACT_ALLOW", {Arg(0, kCloneNamespaceFlags, "SCMP_CMP_MASKED_EQ")}));
    // clone3 passes its flags in memory, out of the filter's sight: ENOSYS
    // makes libcs fall back to clone, where the rule above applies.
    json clone3 = Rule({"clone3"}, "SCMP_ACT_ERRNO");
    clone3["errnoRet"] = ENOSYS;
    syscalls.push_back(std::move(clone3));
  }

  json seccomp = {{"defaultAction", "SCMP_ACT_ERRNO"},
                  {"defaultErrnoRet", EPERM},
                  {"architectures", json::array()},
                  {"syscalls", std::move(syscalls)}};
  for (const std::string& arch : SplitNames(kArch.architectures))
    seccomp["architectures"].push_back(arch);
  return seccomp;
}

absl::StatusOr<json> LocalhostSeccomp(const std::string& path,
                                      const std::vector<std::string>& capabilities) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status()))
      return absl::NotFoundError(absl::StrCat("seccomp profile ", path, " does not exist"));
    return absl::InvalidArgumentError(
        absl::StrCat("seccomp profile ", path, " cannot be read: ", text.status().message()));
  }
  ASSIGN_OR_RETURN(json profile, ParseJson(*text, absl::StrCat("seccomp profile ", path)));
  if (!profile.is_object())
    return absl::InvalidArgumentError(
        absl::StrCat("seccomp profile ", path, " is not a JSON object"));
  absl::StatusOr<json> converted =
      ConvertProfile(profile, Capabilities(capabilities.begin(), capabilities.end()));
  if (absl::IsInvalidArgument(converted.status()))
    return absl::InvalidArgumentError(
        absl::StrCat("seccomp profile ", path, ": ", converted.status().message()));
  return converted;
}

absl::StatusOr<std::optional<json>> SeccompForProfile(
    const runtime::v1::SecurityProfile& profile, const std::vector<std::string>& capabilities) {
  using runtime::v1::SecurityProfile;
  if (&profile == &SecurityProfile::default_instance()) return std::optional<json>();
  if (!profile.localhost_ref().empty() && profile.profile_type() != SecurityProfile::Localhost) {
    return absl::InvalidArgumentError(absl::StrCat(
        "seccomp localhost_ref \"", profile.localhost_ref(), "\" is given for profile type ",
        SecurityProfile::ProfileType_Name(profile.profile_type())));
  }
  switch (profile.profile_type()) {
    case SecurityProfile::Unconfined:
      return std::optional<json>();
    case SecurityProfile::RuntimeDefault:
      return std::optional<json>(RuntimeDefaultSeccomp(capabilities));
    case SecurityProfile::Localhost:
      return LocalhostProfile(profile.localhost_ref(), capabilities);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown seccomp profile type ", profile.profile_type()));
  }
}

absl::StatusOr<std::optional<json>> SeccompForProfilePath(
    const std::string& path, const std::vector<std::string>& capabilities) {
  if (path.empty() || path == "unconfined") return std::optional<json>();
  if (path == "runtime/default" || path == "docker/default")
    return std::optional<json>(RuntimeDefaultSeccomp(capabilities));
  constexpr absl::string_view kLocalhost = "localhost/";
  if (absl::StartsWith(path, kLocalhost))
    return LocalhostProfile(path.substr(kLocalhost.size()), capabilities);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown seccomp profile \"", path,
      "\": want \"\", unconfined, runtime/default, docker/default or localhost/<absolute path>"));
}

}  // namespace berth::cri
