#include "runtime/systemd/sd_bus_library.h"

#include <dlfcn.h>

#include <mutex>

#include "absl/strings/str_cat.h"

namespace berth::systemd {
namespace {

template <typename Function>
bool Resolve(void* library, const char* symbol, Function& out, std::string& missing) {
  out = reinterpret_cast<Function>(::dlsym(library, symbol));
  if (out == nullptr && missing.empty()) missing = symbol;
  return out != nullptr;
}

absl::StatusOr<SdBus> Load() {
  // Never closed: the functions stay in use until the process exits.
  void* library = ::dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* error = ::dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("the systemd cgroup driver needs libsystemd.so.0 (package libsystemd0): ",
                     error != nullptr ? error : "dlopen failed"));
  }
  SdBus bus;
  std::string missing;
  Resolve(library, "sd_bus_open_system", bus.open_system, missing);
  Resolve(library, "sd_bus_flush_close_unref", bus.flush_close_unref, missing);
  Resolve(library, "sd_bus_call", bus.call, missing);
  Resolve(library, "sd_bus_process", bus.process, missing);
  Resolve(library, "sd_bus_wait", bus.wait, missing);
  Resolve(library, "sd_bus_match_signal", bus.match_signal, missing);
  Resolve(library, "sd_bus_slot_unref", bus.slot_unref, missing);
  Resolve(library, "sd_bus_message_new_method_call", bus.message_new_method_call, missing);
  Resolve(library, "sd_bus_message_unref", bus.message_unref, missing);
  Resolve(library, "sd_bus_message_append_basic", bus.message_append_basic, missing);
  Resolve(library, "sd_bus_message_open_container", bus.message_open_container, missing);
  Resolve(library, "sd_bus_message_close_container", bus.message_close_container, missing);
  Resolve(library, "sd_bus_message_read_basic", bus.message_read_basic, missing);
  Resolve(library, "sd_bus_error_free", bus.error_free, missing);
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("libsystemd.so.0 lacks ", missing, ": it is older than systemd 237"));
  }
  return bus;
}

}  // namespace

absl::StatusOr<const SdBus*> LoadSdBus() {
  static std::once_flag once;
  static absl::StatusOr<SdBus>* loaded = nullptr;
  std::call_once(once, [] { loaded = new absl::StatusOr<SdBus>(Load()); });
  if (!loaded->ok()) return loaded->status();
  return &**loaded;
}

}  // namespace berth::systemd
