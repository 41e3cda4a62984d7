#include "runtime/cgroups/device_filter.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth {
namespace {

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn insn{};
  insn.code = code;
  insn.dst_reg = dst;
  insn.src_reg = src;
  insn.off = off;
  insn.imm = imm;
  return insn;
}

// Registers: r1 = context (bpf_cgroup_dev_ctx), r2 = device type,
// r3 = requested access, r4 = major, r5 = minor, r6 = scratch.
bpf_insn LoadContextWord(uint8_t dst, int16_t offset) {
  return Insn(BPF_LDX | BPF_W | BPF_MEM, dst, BPF_REG_1, offset, 0);
}
bpf_insn JumpIfNotEqual(uint8_t reg, int32_t value) {  // offset patched later
  return Insn(BPF_JMP | BPF_JNE | BPF_K, reg, 0, 0, value);
}

int32_t AccessMask(const std::string& access) {
  int32_t mask = 0;
  for (char c : access) {
    if (c == 'r') mask |= BPF_DEVCG_ACC_READ;
    if (c == 'w') mask |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') mask |= BPF_DEVCG_ACC_MKNOD;
  }
  return mask;
}

long Bpf(int command, bpf_attr& attr) { return ::syscall(SYS_bpf, command, &attr, sizeof(attr)); }

}  // namespace

std::vector<bpf_insn> CompileDeviceFilter(const std::vector<oci::DeviceRule>& rules) {
  constexpr int32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  std::vector<bpf_insn> program = {
      // access_type holds the device type in its low 16 bits, the access above.
      LoadContextWord(BPF_REG_2, offsetof(bpf_cgroup_dev_ctx, access_type)),
      Insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0),
      Insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff),
      Insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16),
      LoadContextWord(BPF_REG_4, offsetof(bpf_cgroup_dev_ctx, major)),
      LoadContextWord(BPF_REG_5, offsetof(bpf_cgroup_dev_ctx, minor)),
  };
  // The last matching rule decides, so test rules from the last to the first.
  for (auto rule = rules.rbegin(); rule != rules.rend(); ++rule) {
    std::vector<size_t> skips;  // jumps to the next rule, patched below
    if (rule->type != 'a') {
      skips.push_back(program.size());
      program.push_back(
          JumpIfNotEqual(BPF_REG_2, rule->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
    }
    int32_t mask = AccessMask(rule->access);
    if (mask != kAllAccess) {
      // Every requested access must be one the rule names.
      program.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_3, 0, 0));
      program.push_back(Insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_6, 0, 0, ~mask & kAllAccess));
      skips.push_back(program.size());
      program.push_back(JumpIfNotEqual(BPF_REG_6, 0));
    }
    if (rule->type != 'a' && rule->major.has_value()) {
      skips.push_back(program.size());
      program.push_back(JumpIfNotEqual(BPF_REG_4, static_cast<int32_t>(*rule->major)));
    }
    if (rule->type != 'a' && rule->minor.has_value()) {
      skips.push_back(program.size());
      program.push_back(JumpIfNotEqual(BPF_REG_5, static_cast<int32_t>(*rule->minor)));
    }
    program.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, rule->allow ? 1 : 0));
    program.push_back(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    for (size_t jump : skips) program[jump].off = static_cast<int16_t>(program.size() - jump - 1);
    // A rule that matches everything ends the program: the verifier rejects
    // instructions nothing can reach.
    if (skips.empty()) return program;
  }
  program.push_back(
      Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));  // nothing matched: deny
  program.push_back(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return program;
}

absl::Status AttachDeviceFilter(const std::string& cgroup_dir,
                                const std::vector<oci::DeviceRule>& rules) {
  UniqueFd cgroup(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup) return ErrnoStatus("open cgroup " + cgroup_dir);

  // The programs attached now, to detach once the new one is in place.
  uint32_t old_ids[64] = {};
  bpf_attr query{};
  query.query.target_fd = static_cast<uint32_t>(cgroup.get());
  query.query.attach_type = BPF_CGROUP_DEVICE;
  query.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
  query.query.prog_cnt = 64;
  if (Bpf(BPF_PROG_QUERY, query) != 0) return ErrnoStatus("query device programs of " + cgroup_dir);

  std::vector<bpf_insn> program = CompileDeviceFilter(rules);
  char log[4096] = {};
  bpf_attr load{};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(program.data());
  load.insn_cnt = static_cast<uint32_t>(program.size());
  load.license = reinterpret_cast<uint64_t>("Apache");
  load.log_buf = reinterpret_cast<uint64_t>(log);
  load.log_size = sizeof(log);
  load.log_level = 1;
  UniqueFd prog(static_cast<int>(Bpf(BPF_PROG_LOAD, load)));
  if (!prog) {
    absl::Status status = ErrnoStatus("load device filter");
    return absl::Status(status.code(), absl::StrCat(status.message(), ": ", log));
  }
  bpf_attr attach{};
  attach.target_fd = static_cast<uint32_t>(cgroup.get());
  attach.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, attach) != 0)
    return ErrnoStatus("attach device filter to " + cgroup_dir);

  for (uint32_t i = 0; i < query.query.prog_cnt && i < 64; ++i) {
    bpf_attr get{};
    get.prog_id = old_ids[i];
    UniqueFd old(static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, get)));
    if (!old) continue;  // already gone
    bpf_attr detach{};
    detach.target_fd = static_cast<uint32_t>(cgroup.get());
    detach.attach_bpf_fd = static_cast<uint32_t>(old.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (Bpf(BPF_PROG_DETACH, detach) != 0 && errno != ENOENT) {
      return ErrnoStatus("detach the previous device filter of " + cgroup_dir);
    }
  }
  return absl::OkStatus();
}

}  // namespace berth
