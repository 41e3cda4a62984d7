#pragma once

// What the benchmarks share: a busybox-static rootfs, OCI bundles on it,
// and one cgroup view for every runtime compared.

#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace berth::bench {

// A read-only-safe rootfs in `dir` with busybox-static and a few applets.
std::string MakeBusyboxRootfs(const testing::TempDir& dir);

// A bundle named `name` in `dir` whose process runs `args`.
std::string MakeBundle(const testing::TempDir& dir, const std::string& name,
                       const std::string& rootfs, const std::vector<std::string>& args);

// crun refuses hybrid hosts whose cgroup2 mount holds controllers. Gives
// this process (and what it starts) a private mount namespace without the
// unified mount, so every runtime sees the same pure-v1 view.
void HideHybridCgroup2();

}  // namespace berth::bench
