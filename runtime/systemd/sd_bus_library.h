#pragma once

// libsystemd's sd-bus, loaded when first needed. Only processes that talk to
// systemd pay for the library and the ones it pulls in: the per-container
// monitors of a cgroupfs node never load it.

#include <systemd/sd-bus.h>  // declarations only; nothing links against libsystemd

#include "absl/status/statusor.h"

namespace berth::systemd {

struct SdBus {
  decltype(&::sd_bus_open_system) open_system;
  decltype(&::sd_bus_flush_close_unref) flush_close_unref;
  decltype(&::sd_bus_call) call;
  decltype(&::sd_bus_process) process;
  decltype(&::sd_bus_wait) wait;
  decltype(&::sd_bus_match_signal) match_signal;
  decltype(&::sd_bus_slot_unref) slot_unref;
  decltype(&::sd_bus_message_new_method_call) message_new_method_call;
  decltype(&::sd_bus_message_unref) message_unref;
  decltype(&::sd_bus_message_append_basic) message_append_basic;
  decltype(&::sd_bus_message_open_container) message_open_container;
  decltype(&::sd_bus_message_close_container) message_close_container;
  decltype(&::sd_bus_message_read_basic) message_read_basic;
  decltype(&::sd_bus_error_free) error_free;
};

// libsystemd.so.0's sd-bus functions, loaded once per process.
absl::StatusOr<const SdBus*> LoadSdBus();

}  // namespace berth::systemd
