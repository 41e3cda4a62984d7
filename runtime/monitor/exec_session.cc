#include "runtime/monitor/exec_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/container_exec.h"
#include "runtime/monitor/exec_config.h"
#include "runtime/monitor/stdio.h"
#include "runtime/monitor/stream_protocol.h"
#include "runtime/monitor/terminal_io.h"
#include "runtime/oci/spec_parse.h"
#include "runtime/terminal.h"

namespace berth {
namespace {

// Output waiting for the client beyond this stops us reading the process.
constexpr size_t kOutboxHighWater = 1 << 20;
// After the process exits, its output pipes may be held by processes it
// left behind; they get this long (without backpressure) to let go.
constexpr absl::Duration kDrainGrace = absl::Seconds(2);
constexpr size_t kMaxConfigSize = 4 << 20;

int PollTimeout(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60'000));
}

class ExecSession {
 public:
  explicit ExecSession(int channel) : channel_(channel) {}
  ~ExecSession() {
    std::error_code ignored;
    if (!scratch_.empty()) std::filesystem::remove_all(scratch_, ignored);
  }

  absl::Status Run() {
    absl::Status started = ReceiveConfigAndStart();
    if (!started.ok()) {
      if (pid_ > 0) ::kill(pid_, SIGKILL);
      SendBlocking(StreamMessage(StreamTag::kError, StatusToJson(started)));
      return started;
    }
    SetNonBlocking(channel_);
    RETURN_IF_ERROR(Loop());
    if (!channel_gone_) {
      outbox_.push_back(StreamMessage(StreamTag::kExit, ExecExitToJson(Exit())));
      for (const std::string& message : outbox_) SendBlocking(message);
    }
    return absl::OkStatus();
  }

 private:
  absl::Status ReceiveConfigAndStart() {
    timeval wait{.tv_sec = 30};
    ::setsockopt(channel_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
    ssize_t size = ::recv(channel_, nullptr, 0, MSG_PEEK | MSG_TRUNC);
    if (size <= 0) return ErrnoStatus("receive the exec config");
    if (static_cast<size_t>(size) > kMaxConfigSize)
      return absl::InvalidArgumentError("exec config is too large");
    std::string message(static_cast<size_t>(size), '\0');
    if (::recv(channel_, message.data(), message.size(), 0) != size)
      return ErrnoStatus("receive the exec config");
    if (static_cast<StreamTag>(message[0]) != StreamTag::kExecConfig)
      return absl::InvalidArgumentError("the exec channel must start with the exec config");
    ASSIGN_OR_RETURN(ExecConfig config, ParseExecConfig(absl::string_view(message).substr(1)));
    return Start(config);
  }

  absl::Status Start(const ExecConfig& config) {
    if (!config.runtime_binary.empty() && absl::StrContains(config.process_json, "\"terminal\":true")) {
      return absl::UnimplementedError(absl::StrCat(
          "exec with a terminal in container ", config.container_id, " of the OCI runtime ",
          config.runtime_binary, " is not supported yet"));
    }
    // The process's parent exits at once, so it is reparented to us.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
      return ErrnoStatus("prctl(PR_SET_CHILD_SUBREAPER)");
    sigset_t signals;
    sigemptyset(&signals);
    for (int signal : {SIGCHLD, SIGPIPE, SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, signal);
    if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) return ErrnoStatus("block signals");
    signal_fd_.Reset(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signal_fd_) return ErrnoStatus("signalfd");

    ASSIGN_OR_RETURN(oci::Process process, oci::ParseProcessJson(config.process_json));
    tty_ = process.terminal;
    RuntimeOptions runtime{.root = config.runtime_root, .systemd_cgroup = config.systemd_cgroup};
    ExecOptions options{.process = process};
    if (tty_) {
      int pair[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        return ErrnoStatus("socketpair for the terminal");
      UniqueFd ours(pair[0]), theirs(pair[1]);
      options.console_fd = theirs.get();
      ASSIGN_OR_RETURN(pid_, StartExecInContainer(runtime, config.container_id, options));
      ASSIGN_OR_RETURN(stdout_, ReceiveConsoleMaster(ours.get()));
      if (config.stdin) stdin_.Reset(::fcntl(stdout_.get(), F_DUPFD_CLOEXEC, 3));
    } else {
      ASSIGN_OR_RETURN(Pipe out, MakePipe());
      ASSIGN_OR_RETURN(Pipe err, MakePipe());
      std::optional<Pipe> in;
      if (config.stdin) {
        ASSIGN_OR_RETURN(in, MakePipe());
      }
      {
        ScopedStdio stdio(in ? in->read.get() : -1, out.write.get(), err.write.get());
        if (config.runtime_binary.empty()) {
          ASSIGN_OR_RETURN(pid_, StartExecInContainer(runtime, config.container_id, options));
        } else {
          ASSIGN_OR_RETURN(pid_, StartRuntimeExec(config));
        }
      }
      stdout_ = std::move(out.read);
      stderr_ = std::move(err.read);
      if (in) stdin_ = std::move(in->write);
    }
    for (const UniqueFd* fd : {&stdout_, &stderr_, &stdin_}) {
      if (*fd) SetNonBlocking(fd->get());
    }
    if (config.timeout > absl::ZeroDuration()) deadline_ = absl::Now() + config.timeout;
    SendBlocking(StreamMessage(StreamTag::kStarted, absl::StrCat("{\"pid\":", pid_, "}")));
    return absl::OkStatus();
  }

  // `<runtime> --root R exec --process P --pid-file F <id>`, with our stdio:
  // runc's (and crun's) exec waits for the process and exits with its code.
  absl::StatusOr<pid_t> StartRuntimeExec(const ExecConfig& config) {
    char pattern[] = "/tmp/berth-exec-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return ErrnoStatus("make a directory for the exec");
    scratch_ = pattern;
    std::string process_file = scratch_ + "/process.json";
    RETURN_IF_ERROR(WriteFileAtomically(process_file, config.process_json, 0600));
    ASSIGN_OR_RETURN(ChildProcess runtime,
                     ChildProcess::Spawn({config.runtime_binary, "--root", config.runtime_root,
                                          "exec", "--process", process_file, "--pid-file",
                                          scratch_ + "/pid", config.container_id},
                                         {.stdin_fd = 0}));
    return runtime.Release();
  }

  // The exec'd process's pid, once the runtime has written it; 0 otherwise.
  pid_t RuntimeExecPid() const {
    if (scratch_.empty()) return 0;
    int pid = 0;
    std::string text = ReadFileToString(scratch_ + "/pid").value_or("");
    return absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) ? pid : 0;
  }

  absl::Status Loop() {
    for (;;) {
      if (exited_ && (channel_gone_ || (!stdout_ && !stderr_ && outbox_.empty())))
        return absl::OkStatus();
      bool reading = outbox_bytes_ < kOutboxHighWater;
      std::vector<pollfd> fds = {{signal_fd_.get(), POLLIN, 0}};
      if (!channel_gone_) {
        short events = pending_input_.empty() ? POLLIN : 0;
        if (!outbox_.empty()) events |= POLLOUT;
        fds.push_back({channel_, events, 0});
      }
      if (reading || channel_gone_) {
        if (stdout_) fds.push_back({stdout_.get(), POLLIN, 0});
        if (stderr_) fds.push_back({stderr_.get(), POLLIN, 0});
      }
      if (stdin_ && !pending_input_.empty()) fds.push_back({stdin_.get(), POLLOUT, 0});
      absl::Time wake = exited_ ? drain_deadline_ : deadline_;
      if (::poll(fds.data(), fds.size(), PollTimeout(wake)) < 0 && errno != EINTR)
        return ErrnoStatus("poll");

      if (reading || channel_gone_) {
        RETURN_IF_ERROR(Pump(stdout_, StreamTag::kStdout));
        RETURN_IF_ERROR(Pump(stderr_, StreamTag::kStderr));
      }
      Reap();
      absl::Time now = absl::Now();
      if (!exited_ && now >= deadline_) {
        // Through another runtime, pid_ is its `exec`, which waits for the
        // process: the process itself is killed, and the runtime reports it.
        pid_t process = RuntimeExecPid();
        if (process > 0) ::kill(process, SIGKILL);
        ::kill(pid_, SIGKILL);
        timed_out_ = true;
        deadline_ = absl::InfiniteFuture();
      }
      if (exited_) {
        // A client slow to read is not a reason to drop what the pipes hold.
        if (outbox_bytes_ >= kOutboxHighWater) drain_deadline_ = now + kDrainGrace;
        if (now >= drain_deadline_) {
          stdout_.Reset();
          stderr_.Reset();
        }
      }
      ServeChannel();
      FlushInput();
    }
  }

  absl::Status Pump(UniqueFd& fd, StreamTag tag) {
    char buffer[kMaxStreamPayload];
    while (fd && outbox_bytes_ < kOutboxHighWater) {
      ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
      if (n > 0) {
        if (!channel_gone_) {
          outbox_.push_back(StreamMessage(tag, {buffer, static_cast<size_t>(n)}));
          outbox_bytes_ += outbox_.back().size();
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n < 0 && errno != EIO) return ErrnoStatus("read exec output");
      fd.Reset();  // end of output (EIO: every slave end of the terminal is closed)
      if (&fd == &stdout_ && tty_) stdin_.Reset();
    }
    return absl::OkStatus();
  }

  void Reap() {
    signalfd_siginfo info;
    while (::read(signal_fd_.get(), &info, sizeof(info)) == sizeof(info)) {
      // SIGCHLD brings us here; a SIGTERM for the helper is ignored: the
      // session ends with its process or its client.
    }
    int status;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      if (pid != pid_) continue;
      exited_ = true;
      status_ = status;
      drain_deadline_ = absl::Now() + kDrainGrace;
    }
  }

  void ServeChannel() {
    if (channel_gone_) return;
    while (!outbox_.empty()) {
      const std::string& message = outbox_.front();
      if (::send(channel_, message.data(), message.size(), MSG_NOSIGNAL) < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        ClientGone();
        return;
      }
      outbox_bytes_ -= message.size();
      outbox_.pop_front();
    }
    char message[1 + kMaxStreamPayload];
    while (pending_input_.empty()) {
      ssize_t n = ::recv(channel_, message, sizeof(message), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (n <= 0) {
        ClientGone();
        return;
      }
      absl::string_view payload(message + 1, static_cast<size_t>(n - 1));
      switch (static_cast<StreamTag>(message[0])) {
        case StreamTag::kStdin:
          if (stdin_) pending_input_.assign(payload.data(), payload.size());
          break;
        case StreamTag::kCloseStdin:
          if (tty_ && stdin_) {
            (void)SendTerminalEof(stdin_.get());
          } else {
            stdin_.Reset();
          }
          break;
        case StreamTag::kResize:
          if (std::optional<TerminalSize> size = ParseResizePayload(payload);
              size && tty_ && stdout_)
            (void)ResizeTerminal(stdout_.get(), *size);
          break;
        default:
          break;
      }
    }
  }

  // Input waits until the process takes it; until then we read no more from the client.
  void FlushInput() {
    while (stdin_ && !pending_input_.empty()) {
      ssize_t n = ::write(stdin_.get(), pending_input_.data(), pending_input_.size());
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (n < 0) {  // the process closed its stdin
        stdin_.Reset();
        break;
      }
      pending_input_.erase(0, static_cast<size_t>(n));
    }
    if (!stdin_) pending_input_.clear();
  }

  // Nobody is left to see the output: the process goes too.
  void ClientGone() {
    channel_gone_ = true;
    outbox_.clear();
    outbox_bytes_ = 0;
    pending_input_.clear();
    if (!exited_) ::kill(pid_, SIGKILL);
  }

  ExecExit Exit() const {
    ExitStatus status = ExitStatus::FromWaitStatus(status_);
    return ExecExit{.exit_code = status.ShellCode(),
                    .signal = status.signaled ? status.signal : 0,
                    .timed_out = timed_out_};
  }

  void SendBlocking(const std::string& message) {
    ::fcntl(channel_, F_SETFL, ::fcntl(channel_, F_GETFL) & ~O_NONBLOCK);
    timeval wait{.tv_sec = 30};
    ::setsockopt(channel_, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait));
    (void)::send(channel_, message.data(), message.size(), MSG_NOSIGNAL);
  }

  int channel_;
  bool channel_gone_ = false;
  UniqueFd signal_fd_, stdout_, stderr_, stdin_;
  bool tty_ = false;
  pid_t pid_ = 0;
  bool exited_ = false;
  bool timed_out_ = false;
  std::string scratch_;  // the process file and pid file of a runtime's exec
  int status_ = 0;
  absl::Time deadline_ = absl::InfiniteFuture();
  absl::Time drain_deadline_ = absl::InfiniteFuture();
  std::deque<std::string> outbox_;
  size_t outbox_bytes_ = 0;
  std::string pending_input_;
};

}  // namespace

absl::Status RunExecSession(int channel) { return ExecSession(channel).Run(); }

}  // namespace berth
