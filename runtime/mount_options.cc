#include "runtime/mount_options.h"

#include <linux/mount.h>
#include <sys/mount.h>

#include <string_view>

#include "absl/strings/str_cat.h"

namespace berth {
namespace {

struct FlagOption {
  std::string_view name;
  bool clear;
  unsigned long flag;
};

constexpr FlagOption kFlagOptions[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
};

constexpr std::pair<std::string_view, unsigned long> kPropagationOptions[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct RecursiveOption {
  std::string_view name;
  bool clear;
  uint64_t attr;
};

constexpr RecursiveOption kRecursiveOptions[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},          {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},      {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},        {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},      {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
};

}  // namespace

bool MountOptions::is_bind() const { return (flags & MS_BIND) != 0; }

absl::StatusOr<MountOptions> ParseMountOptions(const std::vector<std::string>& options) {
  MountOptions parsed;
  for (const std::string& option : options) {
    bool known = false;
    for (const FlagOption& f : kFlagOptions) {
      if (option != f.name) continue;
      if (f.clear) {
        parsed.flags &= ~f.flag;
        parsed.clear_flags |= f.flag;
      } else {
        parsed.flags |= f.flag;
        parsed.clear_flags &= ~f.flag;
      }
      known = true;
      break;
    }
    for (const auto& [name, flag] : kPropagationOptions) {
      if (!known && option == name) {
        parsed.propagation = flag;
        known = true;
      }
    }
    for (const RecursiveOption& r : kRecursiveOptions) {
      if (known || option != r.name) continue;
      (r.clear ? parsed.recursive_clear : parsed.recursive_set) |= r.attr;
      known = true;
    }
    if (!known) {
      if (option.empty()) return absl::InvalidArgumentError("empty mount option");
      absl::StrAppend(&parsed.data, parsed.data.empty() ? "" : ",", option);
    }
  }
  return parsed;
}

}  // namespace berth
