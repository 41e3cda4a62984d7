#include "runtime/rlimits.h"

#include <sys/resource.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/oci/rlimit_names.h"

namespace berth {

absl::Status ApplyRlimits(const std::vector<oci::Rlimit>& limits) {
  for (const oci::Rlimit& limit : limits) {
    int resource = *oci::RlimitFromName(limit.type);  // validated by the parser
    rlimit value{.rlim_cur = limit.soft, .rlim_max = limit.hard};
    if (::setrlimit(resource, &value) == 0) continue;
    int error = errno;
    rlimit current{};
    ::getrlimit(resource, &current);
    if (error == EPERM && limit.hard > current.rlim_max) {
      return absl::PermissionDeniedError(absl::StrCat(
          "set ", limit.type, ": raising the hard limit from ", current.rlim_max, " to ",
          limit.hard, " needs CAP_SYS_RESOURCE, which this runtime does not have"));
    }
    return berth::ErrnoToStatus(error, absl::StrCat("set ", limit.type));
  }
  return absl::OkStatus();
}

}  // namespace berth
