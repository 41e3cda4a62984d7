#include "runtime/rlimits.h"

#include <sys/resource.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth {
namespace {

constexpr std::pair<const char*, int> kRlimits[] = {{"RLIMIT_AS", RLIMIT_AS},
                                                    {"RLIMIT_CORE", RLIMIT_CORE},
                                                    {"RLIMIT_CPU", RLIMIT_CPU},
                                                    {"RLIMIT_DATA", RLIMIT_DATA},
                                                    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
                                                    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
                                                    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
                                                    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
                                                    {"RLIMIT_NICE", RLIMIT_NICE},
                                                    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
                                                    {"RLIMIT_NPROC", RLIMIT_NPROC},
                                                    {"RLIMIT_RSS", RLIMIT_RSS},
                                                    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
                                                    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
                                                    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
                                                    {"RLIMIT_STACK", RLIMIT_STACK}};

}  // namespace

std::optional<int> RlimitFromName(const std::string& name) {
  for (const auto& [rlimit_name, resource] : kRlimits) {
    if (name == rlimit_name) return resource;
  }
  return std::nullopt;
}

absl::Status ApplyRlimits(const std::vector<oci::Rlimit>& limits) {
  for (const oci::Rlimit& limit : limits) {
    int resource = *RlimitFromName(limit.type);  // validated by the parser
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
