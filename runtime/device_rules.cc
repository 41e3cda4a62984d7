#include "runtime/device_rules.h"

namespace berth {

std::vector<oci::DeviceRule> EffectiveDeviceRules(const oci::Spec& spec) {
  std::vector<oci::DeviceRule> rules;
  if (spec.linux.resources.has_value()) rules = spec.linux.resources->devices;
  if (rules.empty()) return rules;  // no rules: the device cgroup is left as the parent has it
  auto allow = [&](char type, std::optional<int64_t> major, std::optional<int64_t> minor) {
    rules.push_back({.allow = true, .type = type, .major = major, .minor = minor, .access = "rwm"});
  };
  allow('c', 1, 3);               // null
  allow('c', 1, 5);               // zero
  allow('c', 1, 7);               // full
  allow('c', 1, 8);               // random
  allow('c', 1, 9);               // urandom
  allow('c', 5, 0);               // tty
  allow('c', 5, 1);               // console
  allow('c', 5, 2);               // ptmx
  allow('c', 136, std::nullopt);  // pts/*
  for (const oci::Device& device : spec.linux.devices) {
    if (device.type == 'c' || device.type == 'b' || device.type == 'u') {
      allow(device.type == 'b' ? 'b' : 'c', device.major, device.minor);
    }
  }
  return rules;
}

}  // namespace berth
