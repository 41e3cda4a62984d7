#include "runtime/monitor/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unix_socket.h"
#include "runtime/cgroups/cgroup_manager.h"
#include "runtime/monitor/cri_log_writer.h"
#include "runtime/monitor/exec_config.h"
#include "runtime/monitor/exit_file.h"
#include "runtime/monitor/oci_runtime.h"
#include "runtime/monitor/startup_pages.h"
#include "runtime/monitor/stdio.h"
#include "runtime/monitor/stream_protocol.h"
#include "runtime/monitor/terminal_io.h"
#include "runtime/terminal.h"

namespace berth {
namespace {

// Our sockets are bound in the state directory, and bind() then chmod()
// leaves a moment in which a socket has the umask's mode: a 0700 directory
// of ours closes that window for everyone else.
absl::Status MakePrivate(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open state directory " + dir);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat state directory " + dir);
  if (st.st_uid != ::geteuid())
    return absl::PermissionDeniedError("state directory " + dir + " is not ours");
  if ((st.st_mode & 07777) != 0700 && ::fchmod(fd.get(), 0700) != 0)
    return ErrnoStatus("chmod 0700 " + dir);
  return absl::OkStatus();
}

// One line to whoever spawned us: {"pid": N}, or a failure as StatusToJson
// writes it.
void Report(int sync_fd, const std::string& json) {
  if (sync_fd < 0) return;
  std::string line = json + "\n";
  (void)::write(sync_fd, line.data(), line.size());
}

// An anonymous mapping used as a buffer: its pages are zero-fill-on-demand,
// so only what data has passed through ever takes memory.
class IoBuffer {
 public:
  explicit IoBuffer(size_t size)
      : size_(size),
        data_(static_cast<char*>(
            ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))) {}
  ~IoBuffer() {
    if (data_ != MAP_FAILED) ::munmap(data_, size_);
  }
  IoBuffer(const IoBuffer&) = delete;
  IoBuffer& operator=(const IoBuffer&) = delete;
  char* data() { return data_ == MAP_FAILED ? fallback_ : data_; }
  size_t size() const { return data_ == MAP_FAILED ? sizeof(fallback_) : size_; }

 private:
  size_t size_;
  char* data_;
  char fallback_[4096];  // if the mapping failed: slower, still correct
};

class Monitor {
 public:
  Monitor(const MonitorConfig& config, CriLogWriter log) : config_(config), log_(std::move(log)) {}

  // Everything up to a created container whose output we hold. On failure
  // no container is left behind.
  absl::Status Setup() {
    absl::Status status = SetupSteps();
    if (!status.ok() && created_) (void)runtime_->ForceDelete();
    return status;
  }

  pid_t init_pid() const { return init_pid_; }

  // Copies output and serves clients until the container has exited and
  // its output ended; then writes the exit file.
  absl::Status Serve() { return CopyUntilExit(); }

 private:
  absl::Status WatchChildren() {
    // Orphans of the container come to us: its init, whose parent (the
    // executor's or an external runtime's create) exits, and what it leaves.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
      return ErrnoStatus("prctl(PR_SET_CHILD_SUBREAPER)");
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGCHLD);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGPIPE);
    if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) return ErrnoStatus("block signals");
    signal_fd_.Reset(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signal_fd_) return ErrnoStatus("signalfd");
    return absl::OkStatus();
  }

  absl::Status SetupSteps() {
    ASSIGN_OR_RETURN(runtime_, NewOciRuntime(config_));
    RETURN_IF_ERROR(WatchChildren());
    ASSIGN_OR_RETURN(Pipe out, MakePipe());
    ASSIGN_OR_RETURN(Pipe err, MakePipe());
    RETURN_IF_ERROR(MakePrivate(config_.state_dir));
    ASSIGN_OR_RETURN(listener_,
                     ListenUnix(config_.control_socket(), SOCK_SEQPACKET | SOCK_NONBLOCK, 8, 0600));
    ASSIGN_OR_RETURN(attach_listener_,
                     ListenUnix(config_.attach_socket(), SOCK_SEQPACKET | SOCK_NONBLOCK, 8, 0600));
    UniqueFd console_listener;
    if (config_.tty) {
      ASSIGN_OR_RETURN(console_listener,
                       ListenUnix(config_.console_socket(), SOCK_STREAM, 1, 0600));
    }
    std::optional<Pipe> in;
    if (config_.stdin) {
      ASSIGN_OR_RETURN(in, MakePipe());
    }
    ASSIGN_OR_RETURN(CreatedContainer container, runtime_->Create({.in = in ? in->read.get() : -1,
                                                                   .out = out.write.get(),
                                                                   .err = err.write.get()}));
    created_ = true;
    init_pid_ = container.init_pid;
    ASSIGN_OR_RETURN(cgroup_, NewCgroupManager(container.cgroup_path));
    out.write.Reset();
    err.write.Reset();
    stdout_ = std::move(out.read);
    stderr_ = std::move(err.read);
    if (in) {
      stdin_ = std::move(in->write);  // the container holds the read end
      SetNonBlocking(stdin_.get());
    }
    if (config_.tty) {
      // The init connected and sent its terminal before create returned.
      UniqueFd connection(::accept4(console_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      absl::StatusOr<UniqueFd> terminal =
          connection ? ReceiveConsoleMaster(connection.get())
                     : absl::StatusOr<UniqueFd>(ErrnoStatus("accept on the console socket"));
      if (!terminal.ok()) return terminal.status();
      // One fd carries both directions: output in, attachers' input out.
      stdout_ = std::move(*terminal);
      stdin_.Reset(::fcntl(stdout_.get(), F_DUPFD_CLOEXEC, 3));
      stderr_.Reset();
    }
    // The loop drains whatever is there on every wakeup: never block on a pipe.
    for (const UniqueFd* fd : {&stdout_, &stderr_}) {
      if (*fd) SetNonBlocking(fd->get());
    }
    return absl::OkStatus();
  }

  absl::Status CopyUntilExit() {
    absl::Time drain_deadline = absl::InfiniteFuture();
    while (!exited_ || ((stdout_ || stderr_) && absl::Now() < drain_deadline)) {
      std::vector<pollfd> fds = {{signal_fd_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      if (stdout_) fds.push_back({stdout_.get(), POLLIN, 0});
      if (stderr_) fds.push_back({stderr_.get(), POLLIN, 0});
      for (const UniqueFd& client : clients_) fds.push_back({client.get(), POLLIN, 0});
      fds.push_back({attach_listener_.get(), POLLIN, 0});
      for (const UniqueFd& attacher : attachers_) fds.push_back({attacher.get(), POLLIN, 0});
      int timeout = exited_ ? 100 : -1;
      if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return ErrnoStatus("poll");
      // Output first: a container that writes and exits at once must lose nothing.
      if (stdout_) RETURN_IF_ERROR(Pump(stdout_, LogStream::kStdout));
      if (stderr_) RETURN_IF_ERROR(Pump(stderr_, LogStream::kStderr));
      HandleSignals();
      if (exited_ && drain_deadline == absl::InfiniteFuture()) {
        // The container ends with its init, as it would in a pid namespace
        // of its own: processes left in a shared one (the pod's, the
        // host's) go now, or they would hold the pipes and the exit.
        KillLeftovers();
        // Whatever still holds the pipes is not waited for forever.
        drain_deadline = absl::Now() + absl::Seconds(2);
      }
      AcceptClients();
      ServeClients();
      AcceptAttachers();
      ServeAttachers();
    }
    (void)log_.Close(LogStream::kStdout);
    (void)log_.Close(LogStream::kStderr);
    return WriteExit();
  }

  void KillLeftovers() {
    if (cgroup_ == nullptr) return;
    absl::StatusOr<std::vector<pid_t>> pids = cgroup_->Pids();
    if (!pids.ok()) return;
    for (pid_t pid : *pids) ::kill(pid, SIGKILL);
  }

  absl::Status Pump(UniqueFd& fd, LogStream stream) {
    char* buffer = io_buffer_.data();
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer, kMaxStreamPayload);
      if (n > 0) {
        RETURN_IF_ERROR(log_.Write(stream, absl::string_view(buffer, static_cast<size_t>(n))));
        Broadcast(stream, buffer, static_cast<size_t>(n));
        if (n < static_cast<ssize_t>(kMaxStreamPayload)) return absl::OkStatus();
        continue;
      }
      if (n == 0) {  // every writer is gone
        RETURN_IF_ERROR(log_.Close(stream));
        fd.Reset();
        return absl::OkStatus();
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return absl::OkStatus();
      if (errno == EIO) {  // a terminal whose every slave end is closed
        RETURN_IF_ERROR(log_.Close(stream));
        fd.Reset();
        return absl::OkStatus();
      }
      return ErrnoStatus("read container output");
    }
  }

  void HandleSignals() {
    signalfd_siginfo info;
    while (::read(signal_fd_.get(), &info, sizeof(info)) == sizeof(info)) {
      // Only SIGCHLD matters: the monitor lives until its container exits.
    }
    int status;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      if (pid == init_pid_) {
        exited_ = true;
        init_status_ = status;
        finished_at_ = absl::Now();
      }
    }
  }

  // Output goes to every attacher as it goes to the log. An attacher too
  // slow to take a chunk misses it (the log has everything); one that
  // fails otherwise is dropped.
  void Broadcast(LogStream stream, const char* data, size_t size) {
    if (attachers_.empty()) return;
    std::string message = StreamMessage(
        stream == LogStream::kStdout ? StreamTag::kStdout : StreamTag::kStderr, {data, size});
    for (auto it = attachers_.begin(); it != attachers_.end();) {
      if (::send(it->get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
          errno != EAGAIN) {
        it = attachers_.erase(it);
        continue;
      }
      ++it;
    }
  }

  void AcceptAttachers() {
    for (;;) {
      UniqueFd attacher(
          ::accept4(attach_listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!attacher) return;
      attachers_.push_back(std::move(attacher));
    }
  }

  void ServeAttachers() {
    for (auto it = attachers_.begin(); it != attachers_.end();) {
      char* message = io_buffer_.data();
      ssize_t n = ::recv(it->get(), message, io_buffer_.size(), 0);
      if (n < 0 && errno == EAGAIN) {
        ++it;
        continue;
      }
      if (n <= 0) {  // detached
        it = attachers_.erase(it);
        if (config_.stdin_once) CloseStdin();
        continue;
      }
      absl::string_view payload(message + 1, static_cast<size_t>(n - 1));
      switch (static_cast<StreamTag>(message[0])) {
        case StreamTag::kStdin:
          // A container not reading its stdin loses input beyond the pipe's buffer.
          if (stdin_) (void)::write(stdin_.get(), payload.data(), payload.size());
          break;
        case StreamTag::kCloseStdin:
          CloseStdin();
          break;
        case StreamTag::kResize:
          if (std::optional<TerminalSize> size = ParseResizePayload(payload); size && config_.tty)
            (void)ResizeTerminal(stdout_.get(), *size);
          break;
        default:
          break;  // not for us
      }
      ++it;
    }
  }

  // End of input: a pipe closes; a terminal (which must stay open for
  // output) gets its end-of-file character, as if typed.
  void CloseStdin() {
    if (!stdin_) return;
    if (config_.tty) {
      (void)SendTerminalEof(stdin_.get());
      return;
    }
    stdin_.Reset();
  }

  void AcceptClients() {
    for (;;) {
      UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!client) return;
      clients_.push_back(std::move(client));
    }
  }

  void ServeClients() {
    for (auto it = clients_.begin(); it != clients_.end();) {
      char request[256];
      ssize_t n = ::recv(it->get(), request, sizeof(request), 0);
      if (n < 0 && errno == EAGAIN) {
        ++it;
        continue;
      }
      if (n <= 0) {
        it = clients_.erase(it);
        continue;
      }
      absl::Status result = Handle(absl::string_view(request, static_cast<size_t>(n)));
      std::string reply = result.ok() ? "ok" : StatusToJson(result);
      (void)::send(it->get(), reply.data(), reply.size(), MSG_NOSIGNAL);
      ++it;
    }
  }

  absl::Status Handle(absl::string_view request) {
    if (request == "start") {
      absl::Status started = runtime_->Start();
      DropStartupPages();  // the last executor code this monitor runs
      return started;
    }
    if (request == "reopen-log") return log_.Reopen();
    if (absl::ConsumePrefix(&request, "resize ")) {
      std::optional<TerminalSize> size = ParseResizePayload(request);
      if (!size) return absl::InvalidArgumentError("resize: expected \"resize ROWS COLS\"");
      if (!config_.tty)
        return absl::FailedPreconditionError("resize: the container has no terminal");
      if (!stdout_) return absl::FailedPreconditionError("resize: the terminal is closed");
      return ResizeTerminal(stdout_.get(), *size);
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown request \"", request, "\""));
  }

  absl::Status WriteExit() {
    ExitRecord record{.finished_at = finished_at_};
    ExitStatus status = ExitStatus::FromWaitStatus(init_status_);
    record.signal = status.signaled ? status.signal : 0;
    record.exit_code = status.ShellCode();
    absl::StatusOr<uint64_t> ooms = cgroup_->OomKillCount();
    record.oom_killed = ooms.ok() && *ooms > 0;
    record.reason = record.oom_killed ? "OOMKilled" : record.exit_code == 0 ? "Completed" : "Error";
    return WriteExitFile(config_.exit_file(), record);
  }

  const MonitorConfig& config_;
  std::unique_ptr<OciRuntime> runtime_;
  CriLogWriter log_;
  UniqueFd signal_fd_, listener_, stdout_, stderr_, stdin_, attach_listener_;
  std::vector<UniqueFd> clients_;
  std::vector<UniqueFd> attachers_;
  std::unique_ptr<CgroupManager> cgroup_;
  pid_t init_pid_ = 0;
  bool created_ = false;
  bool exited_ = false;
  int init_status_ = 0;
  absl::Time finished_at_;
  // Output and attach messages pass through here, not through a 64 KiB
  // stack frame: untouched pages of it cost nothing, while a stack frame's
  // pages stay dirty for the monitor's life once probed. Pump and
  // ServeAttachers never run at once.
  IoBuffer io_buffer_{1 + kMaxStreamPayload};
};

}  // namespace

absl::Status RunMonitor(const MonitorConfig& config, int sync_fd) {
  absl::StatusOr<CriLogWriter> log =
      CriLogWriter::OpenBeneath(config.log_directory, config.log_path);
  if (!log.ok()) {
    Report(sync_fd, StatusToJson(log.status()));
    return log.status();
  }
  Monitor monitor(config, *std::move(log));
  absl::Status setup = monitor.Setup();
  if (!setup.ok()) {
    Report(sync_fd, StatusToJson(setup));
    return setup;
  }
  Report(sync_fd, absl::StrCat("{\"pid\":", monitor.init_pid(), "}"));
  if (sync_fd >= 0) ::close(sync_fd);
  DropStartupPages();
  return monitor.Serve();
}

}  // namespace berth
