#pragma once

// berthctl's pod and container commands, laid out as crictl lays them out:
//   pods             POD ID  CREATED  STATE  NAME  NAMESPACE  ATTEMPT  RUNTIME
//   ps [-a]          CONTAINER  IMAGE  CREATED  STATE  NAME  ATTEMPT  POD ID  POD  NAMESPACE
//   inspect ID       a container's or pod's status with berthd's details, as JSON
//   logs [-f] ID     a container's log (CRI log format, as written by berth-monitor)
// IDs may be abbreviated to any unique prefix.

#include <string>
#include <vector>

#include "cri/client/cri_client.h"

namespace berth::cri {

int PodsCommand(CriClient& client, const std::vector<std::string>& args);
int PsCommand(CriClient& client, const std::vector<std::string>& args);
int InspectCommand(CriClient& client, const std::vector<std::string>& args);
int LogsCommand(CriClient& client, const std::vector<std::string>& args);

}  // namespace berth::cri
