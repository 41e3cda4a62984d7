#include "runtime/lsm.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/base/atomic_file.h"

namespace berth {

LsmSupport DetectLsm() {
  static const LsmSupport support = [] {
    LsmSupport found;
    absl::StatusOr<std::string> apparmor =
        ReadFileToString("/sys/module/apparmor/parameters/enabled");
    found.apparmor = apparmor.ok() && absl::StripAsciiWhitespace(*apparmor) == "Y";
    // selinuxfs is mounted exactly when SELinux is enabled.
    found.selinux = ::access("/sys/fs/selinux/enforce", F_OK) == 0;
    return found;
  }();
  return support;
}

std::string UnenforcedLabels(const oci::Process& process, const LsmSupport& lsm) {
  std::string text;
  if (!process.apparmor_profile.empty() && !lsm.apparmor) {
    absl::StrAppend(&text, "AppArmor profile ", process.apparmor_profile,
                    " is not enforced: AppArmor is not enabled on this host");
  }
  if (!process.selinux_label.empty() && !lsm.selinux) {
    absl::StrAppend(&text, text.empty() ? "" : "; ", "SELinux label ", process.selinux_label,
                    " is not enforced: SELinux is not enabled on this host");
  }
  return text;
}

}  // namespace berth
