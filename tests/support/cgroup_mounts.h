#pragma once

// The cgroup hierarchies mounted here, read from /proc/self/mountinfo: for
// test helpers that must find every hierarchy (v1 controllers, named ones,
// the unified one) the way a cgroup manager would.

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace berth::testing {

struct CgroupMount {
  std::string point;                 // /sys/fs/cgroup/memory
  bool unified = false;              // cgroup2
  std::vector<std::string> options;  // v1 super options: "memory", "name=systemd"
};

inline std::vector<CgroupMount> CgroupMounts() {
  std::vector<CgroupMount> mounts;
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    std::vector<std::string> halves = absl::StrSplit(line, " - ");
    if (halves.size() != 2) continue;
    std::vector<std::string> left = absl::StrSplit(halves[0], ' ');
    std::vector<std::string> right = absl::StrSplit(halves[1], ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    if (right[0] != "cgroup" && right[0] != "cgroup2") continue;
    mounts.push_back({.point = left[4],
                      .unified = right[0] == "cgroup2",
                      .options = absl::StrSplit(right[2], ',')});
  }
  return mounts;
}

}  // namespace berth::testing
