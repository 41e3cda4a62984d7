#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct sd_bus;

namespace berth::systemd {

struct SdBus;

// One unit property as systemd's D-Bus API takes it: a name and a variant of
// type b, t, s or au.
struct UnitProperty {
  std::string name;
  std::variant<bool, uint64_t, std::string, std::vector<uint32_t>> value;

  bool operator==(const UnitProperty&) const = default;
};

// A connection to systemd's manager (org.freedesktop.systemd1) on the system
// bus, as runc's systemd driver uses it. DBUS_SYSTEM_BUS_ADDRESS names
// another bus, as for every sd-bus client.
class Manager {
 public:
  static absl::StatusOr<Manager> Connect(absl::Duration job_timeout = absl::Seconds(30));
  Manager(Manager&& other) noexcept;
  Manager& operator=(Manager&&) = delete;
  ~Manager();

  // Whether systemd answers on the bus.
  absl::Status Ping();
  // Starts a transient unit and waits for its start job: OK means the unit
  // is active. An existing unit is ALREADY_EXISTS.
  absl::Status StartTransientUnit(const std::string& name,
                                  const std::vector<UnitProperty>& properties);
  // Changes a running unit's properties (for this boot only).
  absl::Status SetUnitProperties(const std::string& name,
                                 const std::vector<UnitProperty>& properties);
  // Stops a unit and waits for the stop job; a unit systemd does not know is
  // already stopped.
  absl::Status StopUnit(const std::string& name);
  // Forgets a failed unit's state so that its name can be used again.
  absl::Status ResetFailedUnit(const std::string& name);

 private:
  Manager(const SdBus* sd, sd_bus* bus, absl::Duration job_timeout)
      : sd_(sd), bus_(bus), job_timeout_(job_timeout) {}

  const SdBus* sd_;
  sd_bus* bus_;
  absl::Duration job_timeout_;
};

}  // namespace berth::systemd
