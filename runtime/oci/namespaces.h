#pragma once

#include <sched.h>

#include "absl/strings/string_view.h"

namespace berth::oci {

// One kind of Linux namespace, as the spec, the kernel and /proc name it.
struct NamespaceKind {
  const char* type;       // linux.namespaces[].type in the spec: "network"
  int clone_flag;         // for clone, unshare and setns: CLONE_NEWNET
  const char* proc_name;  // its file in /proc/<pid>/ns: "net"
};

// Every kind the spec defines, in the order exec joins them. The host's
// root may join any namespace, but once in a user namespace it can no
// longer join those the host owns (a pod's network namespace): user comes
// after them. Mount is last, as joining it changes our root and working
// directory.
inline constexpr NamespaceKind kNamespaceKinds[] = {
    {"ipc", CLONE_NEWIPC, "ipc"},          {"uts", CLONE_NEWUTS, "uts"},
    {"network", CLONE_NEWNET, "net"},      {"pid", CLONE_NEWPID, "pid"},
    {"cgroup", CLONE_NEWCGROUP, "cgroup"}, {"time", CLONE_NEWTIME, "time"},
    {"user", CLONE_NEWUSER, "user"},       {"mount", CLONE_NEWNS, "mnt"}};

// The kind a spec type names, or nullptr when the spec defines no such type.
inline const NamespaceKind* FindNamespaceKind(absl::string_view type) {
  for (const NamespaceKind& kind : kNamespaceKinds) {
    if (type == kind.type) return &kind;
  }
  return nullptr;
}

}  // namespace berth::oci
