#pragma once

// The console-socket protocol: the runtime creates the container's terminal
// and passes its master end, as SCM_RIGHTS, to whoever listens on the
// socket given by --console-socket (containerd's shim, conmon, our monitor).

#include <string>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/oci/spec.h"

namespace berth {

// Connects to the console socket; done while its host path is reachable.
absl::StatusOr<UniqueFd> ConnectConsoleSocket(const std::string& path);

// The receiving end: the master sent over a connected console socket.
absl::StatusOr<UniqueFd> ReceiveConsoleMaster(int connection);

// Opens a terminal in the current /dev/pts, sends its master over
// `console_socket`, and makes the slave this process's controlling terminal
// and stdio (the caller must lead a session). With `bind_dev_console` the
// slave is also bound on /dev/console.
absl::Status SetUpTerminal(int console_socket, const oci::Process& process, bool bind_dev_console);

}  // namespace berth
