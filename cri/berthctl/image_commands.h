#pragma once

#include <string>
#include <vector>

#include "cri/client/cri_client.h"

namespace berth::cri {

// `berthctl images ...` and `berthctl pull`; `args` follow the command name.
// Return the process exit code.
int ImagesCommand(CriClient& client, const std::vector<std::string>& args);
int PullCommand(CriClient& client, const std::vector<std::string>& args);

}  // namespace berth::cri
