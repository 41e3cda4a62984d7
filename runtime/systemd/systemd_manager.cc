#include "runtime/systemd/systemd_manager.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "runtime/systemd/sd_bus_library.h"

namespace berth::systemd {
namespace {

constexpr char kSystemd[] = "org.freedesktop.systemd1";
constexpr char kManagerPath[] = "/org/freedesktop/systemd1";
constexpr char kManagerInterface[] = "org.freedesktop.systemd1.Manager";

std::string BusAddress() {
  const char* address = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
  return address != nullptr ? address : "unix:path=/run/dbus/system_bus_socket";
}

class Message {
 public:
  explicit Message(const SdBus* sd) : sd_(sd) {}
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() {
    if (message_ != nullptr) sd_->message_unref(message_);
  }
  sd_bus_message* get() const { return message_; }
  sd_bus_message** out() { return &message_; }

 private:
  const SdBus* sd_;
  sd_bus_message* message_ = nullptr;
};

class BusError {
 public:
  explicit BusError(const SdBus* sd) : sd_(sd) {}
  BusError(const BusError&) = delete;
  BusError& operator=(const BusError&) = delete;
  ~BusError() { sd_->error_free(&error_); }
  sd_bus_error* get() { return &error_; }

 private:
  const SdBus* sd_;
  sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

absl::Status CallStatus(int result, const sd_bus_error& error, const std::string& what) {
  if (error.name == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("systemd ", what, " over ", BusAddress(), ": ", std::strerror(-result)));
  }
  std::string name = error.name;
  std::string message =
      absl::StrCat("systemd ", what, ": ", name, ": ", error.message ? error.message : "");
  if (name == "org.freedesktop.systemd1.UnitExists") return absl::AlreadyExistsError(message);
  if (name == "org.freedesktop.systemd1.NoSuchUnit") return absl::NotFoundError(message);
  if (name == "org.freedesktop.DBus.Error.InvalidArgs") return absl::InvalidArgumentError(message);
  if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
      name == "org.freedesktop.DBus.Error.NoReply") {
    return absl::UnavailableError(message);
  }
  return absl::FailedPreconditionError(message);
}

absl::Status Appended(int result, const std::string& what) {
  if (result >= 0) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("D-Bus message: cannot append ", what, ": ", std::strerror(-result)));
}

// a(sv): each property as its name and a variant.
absl::Status AppendProperties(const SdBus* sd, sd_bus_message* m,
                              const std::vector<UnitProperty>& properties) {
  if (absl::Status s = Appended(sd->message_open_container(m, 'a', "(sv)"), "a(sv)"); !s.ok())
    return s;
  for (const UnitProperty& property : properties) {
    int r = sd->message_open_container(m, 'r', "sv");
    if (r >= 0) r = sd->message_append_basic(m, 's', property.name.c_str());
    if (const bool* flag = std::get_if<bool>(&property.value)) {
      int value = *flag;
      if (r >= 0) r = sd->message_open_container(m, 'v', "b");
      if (r >= 0) r = sd->message_append_basic(m, 'b', &value);
    } else if (const uint64_t* number = std::get_if<uint64_t>(&property.value)) {
      if (r >= 0) r = sd->message_open_container(m, 'v', "t");
      if (r >= 0) r = sd->message_append_basic(m, 't', number);
    } else if (const std::string* text = std::get_if<std::string>(&property.value)) {
      if (r >= 0) r = sd->message_open_container(m, 'v', "s");
      if (r >= 0) r = sd->message_append_basic(m, 's', text->c_str());
    } else {
      if (r >= 0) r = sd->message_open_container(m, 'v', "au");
      if (r >= 0) r = sd->message_open_container(m, 'a', "u");
      for (uint32_t value : std::get<std::vector<uint32_t>>(property.value)) {
        if (r >= 0) r = sd->message_append_basic(m, 'u', &value);
      }
      if (r >= 0) r = sd->message_close_container(m);  // a
    }
    if (r >= 0) r = sd->message_close_container(m);  // v
    if (r >= 0) r = sd->message_close_container(m);  // r
    if (absl::Status s = Appended(r, property.name); !s.ok()) return s;
  }
  return Appended(sd->message_close_container(m), "a(sv)");
}

// What JobRemoved(u id, o job, s unit, s result) reported for the job we wait for.
struct JobWatch {
  const SdBus* sd;
  std::string job;  // set once the call that queued the job returned
  std::string result;
};

int OnJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* watch = static_cast<JobWatch*>(userdata);
  uint32_t id = 0;
  const char* job = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (watch->sd->message_read_basic(m, 'u', &id) < 0 ||
      watch->sd->message_read_basic(m, 'o', &job) < 0 ||
      watch->sd->message_read_basic(m, 's', &unit) < 0 ||
      watch->sd->message_read_basic(m, 's', &result) < 0) {
    return 0;
  }
  if (!watch->job.empty() && watch->job == job) watch->result = result;
  return 0;
}

using Arguments = std::function<absl::Status(sd_bus_message*)>;

// Calls `member` of `interface` on systemd's manager object.
absl::Status CallManager(const SdBus* sd, sd_bus* bus, const char* interface, const char* member,
                         const std::string& what, const Arguments& arguments, Message& reply) {
  Message call(sd);
  int r = sd->message_new_method_call(bus, call.out(), kSystemd, kManagerPath, interface, member);
  if (r < 0) return Appended(r, member);
  if (absl::Status s = arguments(call.get()); !s.ok()) return s;
  BusError error(sd);
  r = sd->call(bus, call.get(), 0, error.get(), reply.out());
  if (r < 0) return CallStatus(r, *error.get(), what);
  return absl::OkStatus();
}

// Calls a manager method that queues a job and waits for the job to end.
// The match is in place before the call, so the job's end cannot be missed.
absl::Status RunJob(const SdBus* sd, sd_bus* bus, const char* member, const std::string& unit,
                    const Arguments& arguments, absl::Duration timeout) {
  std::string what = absl::StrCat(member, " ", unit);
  JobWatch watch{.sd = sd};
  sd_bus_slot* slot = nullptr;
  int r = sd->match_signal(bus, &slot, kSystemd, kManagerPath, kManagerInterface, "JobRemoved",
                           OnJobRemoved, &watch);
  if (r < 0) return CallStatus(r, sd_bus_error{}, "subscribe to JobRemoved");
  std::unique_ptr<sd_bus_slot, decltype(sd->slot_unref)> slot_owner(slot, sd->slot_unref);

  Message reply(sd);
  if (absl::Status s = CallManager(sd, bus, kManagerInterface, member, what, arguments, reply);
      !s.ok()) {
    return s;
  }
  const char* job = nullptr;
  if (sd->message_read_basic(reply.get(), 'o', &job) < 0 || job == nullptr)
    return absl::InternalError(absl::StrCat("systemd ", what, ": the reply names no job"));
  watch.job = job;

  absl::Time deadline = absl::Now() + timeout;
  while (watch.result.empty()) {
    r = sd->process(bus, nullptr);
    if (r < 0) {
      return absl::UnavailableError(absl::StrCat("systemd ", what, ": bus lost while waiting for ",
                                                 job, ": ", std::strerror(-r)));
    }
    if (r > 0) continue;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "systemd ", what, ": job ", job, " did not end within ", absl::FormatDuration(timeout)));
    }
    r = sd->wait(bus, absl::ToInt64Microseconds(left));
    if (r < 0 && r != -EINTR) {
      return absl::UnavailableError(
          absl::StrCat("systemd ", what, ": wait on the bus: ", std::strerror(-r)));
    }
  }
  if (watch.result != "done") {
    return absl::FailedPreconditionError(
        absl::StrCat("systemd ", what, ": the job ended \"", watch.result, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Manager> Manager::Connect(absl::Duration job_timeout) {
  absl::StatusOr<const SdBus*> sd = LoadSdBus();
  if (!sd.ok()) return sd.status();
  sd_bus* bus = nullptr;
  int r = (*sd)->open_system(&bus);
  if (r < 0) {
    return absl::UnavailableError(absl::StrCat("cannot connect to the system bus at ", BusAddress(),
                                               ": ", std::strerror(-r)));
  }
  return Manager(*sd, bus, job_timeout);
}

Manager::Manager(Manager&& other) noexcept
    : sd_(other.sd_), bus_(other.bus_), job_timeout_(other.job_timeout_) {
  other.bus_ = nullptr;
}

Manager::~Manager() {
  if (bus_ != nullptr) sd_->flush_close_unref(bus_);
}

absl::Status Manager::Ping() {
  Message reply(sd_);
  return CallManager(
      sd_, bus_, "org.freedesktop.DBus.Peer", "Ping", "Ping",
      [](sd_bus_message*) { return absl::OkStatus(); }, reply);
}

absl::Status Manager::StartTransientUnit(const std::string& name,
                                         const std::vector<UnitProperty>& properties) {
  const SdBus* sd = sd_;
  return RunJob(
      sd_, bus_, "StartTransientUnit", name,
      [&](sd_bus_message* m) {
        int r = sd->message_append_basic(m, 's', name.c_str());
        if (r >= 0) r = sd->message_append_basic(m, 's', "replace");
        if (absl::Status s = Appended(r, "name and mode"); !s.ok()) return s;
        if (absl::Status s = AppendProperties(sd, m, properties); !s.ok()) return s;
        // No auxiliary units.
        r = sd->message_open_container(m, 'a', "(sa(sv))");
        if (r >= 0) r = sd->message_close_container(m);
        return Appended(r, "a(sa(sv))");
      },
      job_timeout_);
}

absl::Status Manager::SetUnitProperties(const std::string& name,
                                        const std::vector<UnitProperty>& properties) {
  const SdBus* sd = sd_;
  Message reply(sd_);
  return CallManager(
      sd_, bus_, kManagerInterface, "SetUnitProperties", absl::StrCat("SetUnitProperties ", name),
      [&](sd_bus_message* m) {
        int runtime_only = 1;
        int r = sd->message_append_basic(m, 's', name.c_str());
        if (r >= 0) r = sd->message_append_basic(m, 'b', &runtime_only);
        if (absl::Status s = Appended(r, "name"); !s.ok()) return s;
        return AppendProperties(sd, m, properties);
      },
      reply);
}

absl::Status Manager::StopUnit(const std::string& name) {
  const SdBus* sd = sd_;
  absl::Status stopped = RunJob(
      sd_, bus_, "StopUnit", name,
      [&](sd_bus_message* m) {
        int r = sd->message_append_basic(m, 's', name.c_str());
        if (r >= 0) r = sd->message_append_basic(m, 's', "replace");
        return Appended(r, "name and mode");
      },
      job_timeout_);
  return absl::IsNotFound(stopped) ? absl::OkStatus() : stopped;
}

absl::Status Manager::ResetFailedUnit(const std::string& name) {
  const SdBus* sd = sd_;
  Message reply(sd_);
  return CallManager(
      sd_, bus_, kManagerInterface, "ResetFailedUnit", absl::StrCat("ResetFailedUnit ", name),
      [&](sd_bus_message* m) {
        return Appended(sd->message_append_basic(m, 's', name.c_str()), "name");
      },
      reply);
}

}  // namespace berth::systemd
