#pragma once

// The files a pod's containers share: /etc/hostname, /etc/hosts and
// /etc/resolv.conf, kept in the sandbox's directory. Pure text here; the
// sandbox writes them.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

std::string HostnameFile(const std::string& hostname);

// localhost entries, then each pod address with the hostname.
std::string HostsFile(const std::string& hostname, const std::vector<std::string>& ips);

// From the pod's DNS config; kubelet sends one for every pod (the host's
// own for dnsPolicy Default), so an empty config means "the host's file".
absl::StatusOr<std::string> ResolvConf(const runtime::v1::DNSConfig& dns,
                                       const std::string& host_resolv_conf = "/etc/resolv.conf");

}  // namespace berth::cri
