#pragma once

// systemd's service notification protocol (sd_notify(3)), without
// libsystemd: with Type=notify, berthd tells the service manager it is ready
// once the CRI socket serves, and that it is stopping when it drains.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace berth::cri {

// Sends `state` ("READY=1\nSTATUS=...") as one datagram to $NOTIFY_SOCKET
// (a path, or "@name" for the abstract namespace). Without NOTIFY_SOCKET
// (not started by systemd with Type=notify) it does nothing.
absl::Status NotifyServiceManager(absl::string_view state);

}  // namespace berth::cri
