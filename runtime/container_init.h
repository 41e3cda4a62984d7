#pragma once

// The processes berth-runtime forks to build a container. They run our code
// without exec'ing anything of ours (so /proc/<pid>/exe is never this binary
// once the user program runs) and report to the parent over a SyncSocket.
//
//   parent --fork--> stage 1: joins the namespaces given by path, then
//                     joins/creates the user namespace (the parent writes
//                     its id maps), unshares the others, forks the init (PID 1 of a new pid
//                     namespace), reports its pid and exits.
//            init:   waits until the parent has put it in its cgroup, then
//                     builds the rootfs, identity and limits, reports ready,
//                     blocks on the exec fifo until `start`, and execs.

#include <map>
#include <string>
#include <vector>

#include "runtime/oci/spec.h"
#include "runtime/sync_socket.h"

namespace berth {

struct InitConfig {
  const oci::Spec* spec = nullptr;
  std::string bundle;
  std::string exec_fifo;
  int preserve_fds = 0;
  std::string console_socket;
  // Namespaces to join, opened by the parent: (fd, CLONE_NEW* type).
  std::vector<std::pair<int, int>> join_namespaces;
  int join_user_namespace_fd = -1;
  bool new_user_namespace = false;
  bool new_cgroup_namespace = false;
  int unshare_flags = 0;  // new namespaces other than user and cgroup
  // Detached idmapped mounts by index in spec->mounts (PrepareIdmappedMounts).
  std::map<size_t, int> idmapped_mounts;
  std::map<std::string, std::string> cgroup_dirs;
  int cgroup_version = 1;
};

// Runs stage 1 in the forked child; never returns.
[[noreturn]] void RunStage1(const InitConfig& config, SyncSocket& socket);

}  // namespace berth
