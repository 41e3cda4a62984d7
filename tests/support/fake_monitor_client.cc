#include "tests/support/fake_monitor_client.h"

#include <deque>

#include "absl/strings/str_cat.h"

namespace berth::testing {
namespace {

// Plays back an exec's result: its output, then its exit, then the end.
class ScriptedStreamSession : public StreamSession {
 public:
  explicit ScriptedStreamSession(std::deque<Event> events) : events_(std::move(events)) {}

  absl::StatusOr<Event> Next(absl::Duration timeout) override {
    if (events_.empty()) return Event{.kind = Event::kEnd};
    Event event = std::move(events_.front());
    events_.pop_front();
    return event;
  }
  absl::StatusOr<bool> OfferInput(StreamTag tag, absl::string_view payload) override {
    if (tag == StreamTag::kStdin) stdin_.append(payload.data(), payload.size());
    return true;
  }
  int fd() const override { return -1; }

 private:
  std::deque<Event> events_;
  std::string stdin_;
};

}  // namespace

void FakeMonitorClient::FailNextCreate(absl::Status status) {
  absl::MutexLock lock(&mutex_);
  create_failure_ = std::move(status);
}

void FakeMonitorClient::Exit(const std::string& state_dir, const ExitRecord& record) {
  absl::MutexLock lock(&mutex_);
  auto it = containers_.find(state_dir);
  if (it != containers_.end()) it->second.exit = record;
}

void FakeMonitorClient::SetExecHandler(ExecHandler handler) {
  absl::MutexLock lock(&mutex_);
  exec_handler_ = std::move(handler);
}

std::optional<FakeMonitorClient::Container> FakeMonitorClient::Find(
    const std::string& state_dir) const {
  absl::MutexLock lock(&mutex_);
  auto it = containers_.find(state_dir);
  if (it == containers_.end()) return std::nullopt;
  return it->second;
}

std::vector<ExecConfig> FakeMonitorClient::execs() const {
  absl::MutexLock lock(&mutex_);
  return execs_;
}

absl::StatusOr<pid_t> FakeMonitorClient::Create(const MonitorConfig& config) {
  absl::MutexLock lock(&mutex_);
  if (create_failure_) {
    absl::Status failure = *std::move(create_failure_);
    create_failure_.reset();
    return failure;
  }
  if (containers_.count(config.state_dir))
    return absl::AlreadyExistsError(absl::StrCat("a monitor already runs in ", config.state_dir));
  Container& container = containers_[config.state_dir];
  container.config = config;
  container.pid = next_pid_++;
  return container.pid;
}

absl::StatusOr<FakeMonitorClient::Container*> FakeMonitorClient::Running(
    const std::string& state_dir) {
  auto it = containers_.find(state_dir);
  if (it == containers_.end() || it->second.exit) {
    return absl::FailedPreconditionError(
        absl::StrCat("the container's monitor in ", state_dir, " is not running"));
  }
  return &it->second;
}

absl::Status FakeMonitorClient::Start(const std::string& state_dir) {
  absl::MutexLock lock(&mutex_);
  absl::StatusOr<Container*> container = Running(state_dir);
  if (!container.ok()) return container.status();
  if ((*container)->started) return absl::FailedPreconditionError("container already started");
  (*container)->started = true;
  return absl::OkStatus();
}

absl::Status FakeMonitorClient::ReopenLog(const std::string& state_dir) {
  absl::MutexLock lock(&mutex_);
  absl::StatusOr<Container*> container = Running(state_dir);
  if (!container.ok()) return container.status();
  ++(*container)->log_reopens;
  return absl::OkStatus();
}

absl::Status FakeMonitorClient::Resize(const std::string& state_dir, TerminalSize size) {
  absl::MutexLock lock(&mutex_);
  absl::StatusOr<Container*> container = Running(state_dir);
  if (!container.ok()) return container.status();
  if (!(*container)->config.tty)
    return absl::FailedPreconditionError("resize: the container has no terminal");
  (*container)->size = size;
  return absl::OkStatus();
}

absl::StatusOr<ExitRecord> FakeMonitorClient::WaitForExit(const std::string& state_dir,
                                                          absl::Duration timeout) {
  absl::MutexLock lock(&mutex_);
  auto exited = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    auto it = containers_.find(state_dir);
    return it == containers_.end() || it->second.exit.has_value();
  };
  mutex_.AwaitWithTimeout(absl::Condition(&exited), timeout);
  auto it = containers_.find(state_dir);
  if (it == containers_.end())
    return absl::InternalError(absl::StrCat("no monitor ever ran in ", state_dir));
  if (!it->second.exit) return absl::DeadlineExceededError("the container is still running");
  return *it->second.exit;
}

absl::StatusOr<std::unique_ptr<StreamSession>> FakeMonitorClient::Attach(
    const std::string& state_dir) {
  absl::MutexLock lock(&mutex_);
  absl::StatusOr<Container*> container = Running(state_dir);
  if (!container.ok()) return container.status();
  return std::make_unique<ScriptedStreamSession>(std::deque<StreamSession::Event>{});
}

absl::StatusOr<ExecSyncResult> FakeMonitorClient::RunExec(const ExecConfig& config) {
  ExecHandler handler;
  {
    absl::MutexLock lock(&mutex_);
    execs_.push_back(config);
    handler = exec_handler_;
  }
  return handler ? handler(config) : ExecSyncResult{};
}

absl::StatusOr<ExecSyncResult> FakeMonitorClient::ExecSync(const ExecConfig& config,
                                                           size_t output_cap) {
  absl::StatusOr<ExecSyncResult> result = RunExec(config);
  if (result.ok()) {
    if (result->stdout_data.size() > output_cap) result->stdout_data.resize(output_cap);
    if (result->stderr_data.size() > output_cap) result->stderr_data.resize(output_cap);
  }
  return result;
}

absl::StatusOr<std::unique_ptr<StreamSession>> FakeMonitorClient::Exec(const ExecConfig& config) {
  absl::StatusOr<ExecSyncResult> result = RunExec(config);
  if (!result.ok()) return result.status();
  std::deque<StreamSession::Event> events;
  if (!result->stdout_data.empty())
    events.push_back({.kind = StreamSession::Event::kStdout, .data = result->stdout_data});
  if (!result->stderr_data.empty())
    events.push_back({.kind = StreamSession::Event::kStderr, .data = result->stderr_data});
  events.push_back({.kind = StreamSession::Event::kExit, .exit = result->exit});
  return std::make_unique<ScriptedStreamSession>(std::move(events));
}

}  // namespace berth::testing
