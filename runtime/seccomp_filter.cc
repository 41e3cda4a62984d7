#include "runtime/seccomp_filter.h"

#include <errno.h>
#include <seccomp.h>

#include <map>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

namespace berth {
namespace {

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using SeccompCtx = std::unique_ptr<void, CtxDeleter>;

absl::StatusOr<uint32_t> Action(const std::string& name, std::optional<unsigned> errno_ret,
                                const std::string& field) {
  unsigned error = errno_ret.value_or(EPERM);
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(error);
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(error);
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": SCMP_ACT_NOTIFY needs a seccomp listener, which berth-runtime does not support"));
  }
  return absl::InvalidArgumentError(absl::StrCat(field, ": unknown seccomp action \"", name, "\""));
}

absl::StatusOr<scmp_compare> Operator(const std::string& name, const std::string& field) {
  static const std::map<std::string, scmp_compare> kOps = {
      {"SCMP_CMP_NE", SCMP_CMP_NE},
      {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE},
      {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  auto it = kOps.find(name);
  if (it == kOps.end())
    return absl::InvalidArgumentError(absl::StrCat(field, ": unknown operator \"", name, "\""));
  return it->second;
}

absl::StatusOr<uint32_t> Architecture(const std::string& name, const std::string& field) {
  if (!absl::StartsWith(name, "SCMP_ARCH_")) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": unknown architecture \"", name, "\""));
  }
  std::string arch = absl::AsciiStrToLower(name.substr(10));
  uint32_t token = seccomp_arch_resolve_name(arch.c_str());
  if (token == 0)
    return absl::InvalidArgumentError(absl::StrCat(field, ": unknown architecture \"", name, "\""));
  return token;
}

absl::StatusOr<SeccompCtx> Build(const oci::Seccomp& seccomp) {
  ASSIGN_OR_RETURN(
      uint32_t default_action,
      Action(seccomp.default_action, seccomp.default_errno_ret, "linux.seccomp.defaultAction"));
  SeccompCtx ctx(seccomp_init(default_action));
  if (!ctx) return absl::InternalError("seccomp_init failed");
  // no_new_privs is the spec's decision (process.noNewPrivileges), not libseccomp's.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  for (size_t i = 0; i < seccomp.architectures.size(); ++i) {
    ASSIGN_OR_RETURN(uint32_t arch,
                     Architecture(seccomp.architectures[i],
                                  absl::StrCat("linux.seccomp.architectures[", i, "]")));
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc != 0 && rc != -EEXIST)
      return absl::InternalError(
          absl::StrCat("seccomp_arch_add ", seccomp.architectures[i], ": ", -rc));
  }
  for (size_t i = 0; i < seccomp.flags.size(); ++i) {
    const std::string& flag = seccomp.flags[i];
    int rc = 0;
    if (flag == "SECCOMP_FILTER_FLAG_TSYNC") {
      rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1);
    } else if (flag == "SECCOMP_FILTER_FLAG_LOG") {
      rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_LOG, 1);
    } else if (flag == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
      rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_SSB, 1);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("linux.seccomp.flags[", i, "]: unknown flag \"", flag, "\""));
    }
    if (rc != 0)
      return absl::InternalError(
          absl::StrCat("linux.seccomp.flags[", i, "]: ", flag, " is not supported here"));
  }
  for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
    const oci::SeccompSyscall& rule = seccomp.syscalls[i];
    std::string field = absl::StrCat("linux.seccomp.syscalls[", i, "]");
    ASSIGN_OR_RETURN(uint32_t action, Action(rule.action, rule.errno_ret, field + ".action"));
    if (action == default_action) continue;  // libseccomp rejects rules that change nothing
    std::vector<scmp_arg_cmp> comparisons;
    std::set<unsigned> indexes;
    bool repeated_index = false;
    for (size_t a = 0; a < rule.args.size(); ++a) {
      const oci::SeccompArg& arg = rule.args[a];
      ASSIGN_OR_RETURN(scmp_compare op, Operator(arg.op, absl::StrCat(field, ".args[", a, "].op")));
      comparisons.push_back(
          {.arg = arg.index, .op = op, .datum_a = arg.value, .datum_b = arg.value_two});
      repeated_index |= !indexes.insert(arg.index).second;
    }
    for (const std::string& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // not a syscall of this architecture or kernel
      int rc;
      if (repeated_index) {
        // Several conditions on one argument cannot share a rule: each becomes
        // its own rule, matching when any of them holds.
        for (const scmp_arg_cmp& cmp : comparisons) {
          rc = seccomp_rule_add_exact_array(ctx.get(), action, nr, 1, &cmp);
          if (rc != 0) break;
        }
      } else {
        rc =
            seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(comparisons.size()),
                                   comparisons.empty() ? nullptr : comparisons.data());
      }
      if (rc != 0)
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": cannot add rule for ", name, " (", -rc, ")"));
    }
  }
  return ctx;
}

}  // namespace

absl::Status ValidateSeccomp(const oci::Seccomp& seccomp) { return Build(seccomp).status(); }

absl::Status LoadSeccompFilter(const oci::Seccomp& seccomp) {
  ASSIGN_OR_RETURN(SeccompCtx ctx, Build(seccomp));
  int rc = seccomp_load(ctx.get());
  if (rc != 0) return berth::ErrnoToStatus(-rc, "load seccomp filter");
  return absl::OkStatus();
}

}  // namespace berth
