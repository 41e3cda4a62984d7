#include "runtime/oci/rlimit_names.h"

#include <sys/resource.h>

#include <utility>

namespace berth::oci {
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

}  // namespace berth::oci
