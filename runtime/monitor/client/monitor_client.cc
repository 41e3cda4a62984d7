#include "runtime/monitor/client/monitor_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unix_socket.h"

namespace berth {
namespace {

// Create and start may run OCI hooks; kubelet gives its RPCs 2 minutes.
constexpr absl::Duration kRequestTimeout = absl::Minutes(2);
// An exec helper that ignores its hung-up client this long is killed.
constexpr absl::Duration kHelperExitGrace = absl::Seconds(5);

int PollTimeout(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return -1;
  if (timeout <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(timeout) + 1, INT32_MAX));
}

// Waits until `fd` is readable (or hung up). DeadlineExceeded otherwise.
absl::Status AwaitReadable(int fd, absl::Time deadline, absl::string_view what) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, PollTimeout(deadline - absl::Now()));
    if (n > 0) return absl::OkStatus();
    if (n == 0) return absl::DeadlineExceededError(absl::StrCat("timed out waiting for ", what));
    if (errno != EINTR) return ErrnoStatus("poll");
  }
}

std::string LastLine(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return "";
  absl::string_view rest = absl::StripTrailingAsciiWhitespace(*text);
  size_t newline = rest.rfind('\n');
  return std::string(newline == absl::string_view::npos ? rest : rest.substr(newline + 1));
}

class SocketStreamSession : public StreamSession {
 public:
  SocketStreamSession(UniqueFd channel, std::optional<ChildProcess> helper)
      : channel_(std::move(channel)), helper_(std::move(helper)) {}

  ~SocketStreamSession() override {
    // Hanging up ends an exec: the helper kills the process, then exits.
    channel_.Reset();
    if (helper_) (void)helper_->WaitFor(kHelperExitGrace);
  }

  absl::StatusOr<Event> Next(absl::Duration timeout) override {
    std::string message(1 + kMaxStreamPayload, '\0');
    absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      RETURN_IF_ERROR(AwaitReadable(channel_.get(), deadline, "stream output"));
      ssize_t n = ::recv(channel_.get(), message.data(), message.size(), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0 && errno != ECONNRESET) return ErrnoStatus("receive stream output");
      if (n <= 0) return Event{.kind = Event::kEnd};
      absl::string_view payload(message.data() + 1, static_cast<size_t>(n - 1));
      switch (static_cast<StreamTag>(message[0])) {
        case StreamTag::kStdout:
          return Event{.kind = Event::kStdout, .data = std::string(payload)};
        case StreamTag::kStderr:
          return Event{.kind = Event::kStderr, .data = std::string(payload)};
        case StreamTag::kExit: {
          ASSIGN_OR_RETURN(ExecExit exit, ParseExecExit(payload));
          return Event{.kind = Event::kExit, .exit = exit};
        }
        default:
          continue;  // nothing else is meant for us
      }
    }
  }

  absl::StatusOr<bool> OfferInput(StreamTag tag, absl::string_view payload) override {
    std::string message = StreamMessage(tag, payload.substr(0, kMaxStreamPayload));
    while (::send(channel_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
      if (errno == EAGAIN) return false;
      if (errno != EINTR) return ErrnoStatus("send to the stream");
    }
    return true;
  }
  int fd() const override { return channel_.get(); }

 private:
  UniqueFd channel_;
  std::optional<ChildProcess> helper_;
};

class RealMonitorClient : public MonitorClient {
 public:
  explicit RealMonitorClient(std::string binary) : binary_(std::move(binary)) {}

  absl::StatusOr<pid_t> Create(const MonitorConfig& config) override {
    RETURN_IF_ERROR(WriteFileAtomically(config.config_file(), MonitorConfigToJson(config), 0600));
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe");
    UniqueFd report(fds[0]), report_write(fds[1]);
    std::string monitor_log = config.state_dir + "/monitor.log";
    // The monitor daemonizes: the process spawned here exits at once.
    ASSIGN_OR_RETURN(
        ChildProcess spawned,
        ChildProcess::Spawn({binary_, "--config", config.config_file(), "--sync-fd", "3"},
                            {.stderr_path = monitor_log,
                             .new_session = true,
                             .extra_fds = {{report_write.get(), 3}}}));
    report_write.Reset();
    ASSIGN_OR_RETURN(ExitStatus spawned_exit, spawned.Wait());
    // One line; reading on would wait for the container, which holds the
    // pipe until it runs its program.
    std::string line;
    absl::Time deadline = absl::Now() + kRequestTimeout;
    for (char c = 0; c != '\n';) {
      RETURN_IF_ERROR(AwaitReadable(report.get(), deadline, "the monitor to create " + config.id));
      ssize_t n = ::read(report.get(), &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::string why = LastLine(monitor_log);
        return absl::InternalError(absl::StrCat("berth-monitor for ", config.id, " ended (",
                                                spawned_exit.ToString(), ") without reporting",
                                                why.empty() ? "" : ": ", why));
      }
      if (c != '\n') line.push_back(c);
    }
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "{\"pid\":") && absl::ConsumeSuffix(&rest, "}")) {
      int pid;
      if (absl::SimpleAtoi(rest, &pid) && pid > 0) return pid;
    }
    return StatusFromJson(line);
  }

  absl::Status Start(const std::string& state_dir) override { return Control(state_dir, "start"); }
  absl::Status ReopenLog(const std::string& state_dir) override {
    return Control(state_dir, "reopen-log");
  }
  absl::Status Resize(const std::string& state_dir, TerminalSize size) override {
    return Control(state_dir, absl::StrCat("resize ", ResizePayload(size)));
  }

  absl::StatusOr<ExitRecord> WaitForExit(const std::string& state_dir,
                                         absl::Duration timeout) override {
    MonitorConfig paths{.state_dir = state_dir};
    absl::StatusOr<ExitRecord> record = ReadExitFile(paths.exit_file());
    if (record.status().code() != absl::StatusCode::kNotFound) return record;
    // The monitor holds every control connection until it exits, after
    // writing the exit file: a hangup means the file is there, or never will be.
    absl::StatusOr<UniqueFd> connection = ConnectUnix(paths.control_socket(), SOCK_SEQPACKET);
    if (connection.ok()) {
      absl::Status waited =
          AwaitReadable(connection->get(), absl::Now() + timeout, "the container to exit");
      if (!waited.ok()) return waited;
    }
    record = ReadExitFile(paths.exit_file());
    if (record.status().code() == absl::StatusCode::kNotFound) {
      return absl::InternalError(
          absl::StrCat("the monitor in ", state_dir, " is gone without writing an exit file"));
    }
    return record;
  }

  absl::StatusOr<std::unique_ptr<StreamSession>> Attach(const std::string& state_dir) override {
    MonitorConfig paths{.state_dir = state_dir};
    absl::StatusOr<UniqueFd> channel = ConnectUnix(paths.attach_socket(), SOCK_SEQPACKET);
    if (!channel.ok()) return MonitorGone(state_dir, channel.status());
    return std::make_unique<SocketStreamSession>(*std::move(channel), std::nullopt);
  }

  absl::StatusOr<ExecSyncResult> ExecSync(const ExecConfig& config, size_t output_cap) override {
    ASSIGN_OR_RETURN(std::unique_ptr<StreamSession> session, Exec(config));
    // The helper enforces the timeout; this is only in case it cannot.
    absl::Duration limit = config.timeout > absl::ZeroDuration()
                               ? config.timeout + absl::Seconds(30)
                               : absl::InfiniteDuration();
    absl::Time deadline = absl::Now() + limit;
    ExecSyncResult result;
    for (;;) {
      ASSIGN_OR_RETURN(StreamSession::Event event, session->Next(deadline - absl::Now()));
      std::string* sink = event.kind == StreamSession::Event::kStdout   ? &result.stdout_data
                          : event.kind == StreamSession::Event::kStderr ? &result.stderr_data
                                                                        : nullptr;
      if (sink != nullptr) {
        size_t room = output_cap - std::min(output_cap, sink->size());
        sink->append(event.data, 0, std::min(room, event.data.size()));
        continue;
      }
      if (event.kind == StreamSession::Event::kExit) {
        result.exit = event.exit;
        return result;
      }
      return absl::InternalError(
          absl::StrCat("exec in ", config.container_id, ": the helper ended without an exit"));
    }
  }

  absl::StatusOr<std::unique_ptr<StreamSession>> Exec(const ExecConfig& config) override {
    std::string config_json = ExecConfigToJson(config);
    if (absl::StrContains(config_json, "<discarded>"))
      return absl::InvalidArgumentError("exec: the process is not valid JSON");
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
      return ErrnoStatus("socketpair");
    UniqueFd ours(pair[0]), theirs(pair[1]);
    ASSIGN_OR_RETURN(ChildProcess helper,
                     ChildProcess::Spawn({binary_, "--exec", "--channel-fd", "3"},
                                         {.extra_fds = {{theirs.get(), 3}}}));
    theirs.Reset();
    std::string message = StreamMessage(StreamTag::kExecConfig, config_json);
    if (::send(ours.get(), message.data(), message.size(), MSG_NOSIGNAL) < 0)
      return ErrnoStatus("send the exec config");
    // The first answer says whether the process runs.
    std::string answer(1 + kMaxStreamPayload, '\0');
    RETURN_IF_ERROR(AwaitReadable(ours.get(), absl::Now() + kRequestTimeout, "exec to start"));
    ssize_t n = ::recv(ours.get(), answer.data(), answer.size(), 0);
    if (n <= 0)
      return absl::InternalError(absl::StrCat("exec in ", config.container_id,
                                              ": the helper ended before starting the process"));
    answer.resize(static_cast<size_t>(n));
    if (static_cast<StreamTag>(answer[0]) == StreamTag::kError)
      return StatusFromJson(absl::string_view(answer).substr(1));
    if (static_cast<StreamTag>(answer[0]) != StreamTag::kStarted)
      return absl::InternalError("exec: unexpected first message from the helper");
    return std::make_unique<SocketStreamSession>(std::move(ours), std::move(helper));
  }

 private:
  static absl::Status MonitorGone(const std::string& state_dir, const absl::Status& cause) {
    return absl::FailedPreconditionError(absl::StrCat("the container's monitor in ", state_dir,
                                                      " is not running (", cause.message(),
                                                      "): the container has exited"));
  }

  absl::Status Control(const std::string& state_dir, const std::string& request) {
    MonitorConfig paths{.state_dir = state_dir};
    absl::StatusOr<UniqueFd> connection = ConnectUnix(paths.control_socket(), SOCK_SEQPACKET);
    if (!connection.ok()) return MonitorGone(state_dir, connection.status());
    if (::send(connection->get(), request.data(), request.size(), MSG_NOSIGNAL) < 0)
      return ErrnoStatus("send to the monitor");
    RETURN_IF_ERROR(AwaitReadable(connection->get(), absl::Now() + kRequestTimeout,
                                  "the monitor to answer \"" + request + "\""));
    char reply[4096];
    ssize_t n = ::recv(connection->get(), reply, sizeof(reply), 0);
    if (n <= 0) return MonitorGone(state_dir, absl::UnavailableError("it hung up"));
    absl::string_view answer(reply, static_cast<size_t>(n));
    if (answer == "ok") return absl::OkStatus();
    return StatusFromJson(answer);
  }

  std::string binary_;
};

}  // namespace

std::unique_ptr<MonitorClient> NewMonitorClient(std::string monitor_binary) {
  return std::make_unique<RealMonitorClient>(std::move(monitor_binary));
}

}  // namespace berth
