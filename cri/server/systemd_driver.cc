#include "cri/server/systemd_driver.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "runtime/systemd/systemd_manager.h"

namespace berth::cri {

absl::Status CheckSystemdCgroupDriver(const std::string& systemd_dir) {
  if (::access(systemd_dir.c_str(), F_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cgroup_driver systemd: systemd does not run here (", systemd_dir,
                     " is absent); use cgroup_driver cgroupfs"));
  }
  absl::StatusOr<systemd::Manager> manager = systemd::Manager::Connect();
  absl::Status answered = manager.ok() ? manager->Ping() : manager.status();
  if (!answered.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cgroup_driver systemd: systemd's manager does not answer on the system bus: ",
                     answered.message()));
  }
  return absl::OkStatus();
}

}  // namespace berth::cri
