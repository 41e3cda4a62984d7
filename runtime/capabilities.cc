#include "runtime/capabilities.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/oci/capability_names.h"

namespace berth {
namespace {

int LastCapability() {
  static const int last = [] {
    std::ifstream in("/proc/sys/kernel/cap_last_cap");
    int value = static_cast<int>(oci::KnownCapabilities().size()) - 1;
    in >> value;
    return value;
  }();
  return last;
}

// A capability set as the two 32-bit words capset() takes.
std::array<uint32_t, 2> ToMask(const std::vector<std::string>& names) {
  std::array<uint32_t, 2> mask = {0, 0};
  for (const std::string& name : names) {
    std::optional<int> cap = oci::CapabilityFromName(name);
    if (!cap.has_value() || *cap > LastCapability()) continue;  // unknown to this kernel
    mask[*cap / 32] |= 1u << (*cap % 32);
  }
  return mask;
}

bool Contains(const std::vector<std::string>& names, int cap) {
  for (const std::string& name : names) {
    if (oci::CapabilityFromName(name) == cap) return true;
  }
  return false;
}

}  // namespace

absl::Status DropBoundingCapabilities(const oci::Capabilities& caps) {
  for (int cap = 0; cap <= LastCapability(); ++cap) {
    if (Contains(caps.bounding, cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return ErrnoStatus(absl::StrCat("drop capability ", cap, " from the bounding set"));
    }
  }
  return absl::OkStatus();
}

absl::Status SetProcessCapabilities(const oci::Capabilities& caps) {
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  std::array<uint32_t, 2> effective = ToMask(caps.effective);
  std::array<uint32_t, 2> permitted = ToMask(caps.permitted);
  std::array<uint32_t, 2> inheritable = ToMask(caps.inheritable);
  __user_cap_data_struct data[2];
  for (int i = 0; i < 2; ++i) {
    data[i] = {.effective = effective[i], .permitted = permitted[i], .inheritable = inheritable[i]};
  }
  if (::syscall(SYS_capset, &header, data) != 0) return ErrnoStatus("capset");
  return absl::OkStatus();
}

absl::Status RaiseAmbientCapabilities(const oci::Capabilities& caps) {
  for (const std::string& name : caps.ambient) {
    std::optional<int> cap = oci::CapabilityFromName(name);
    if (!cap.has_value() || *cap > LastCapability()) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, *cap, 0, 0) != 0) {
      // The kernel refuses caps not both permitted and inheritable; runc
      // ignores those too rather than failing the container.
      if (errno == EPERM) continue;
      return ErrnoStatus("raise ambient capability " + name);
    }
  }
  return absl::OkStatus();
}

}  // namespace berth
