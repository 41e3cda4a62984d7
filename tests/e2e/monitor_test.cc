// berth-monitor with real containers: CRI logs, log reopen, exit files, OOM;
// in front of the in-tree executor and of runc-compatible runtime binaries.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/unique_fd.h"
#include "runtime/monitor/client/monitor_client.h"
#include "runtime/monitor/exit_file.h"
#include "tests/e2e/runtime_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Input to a session, waiting (up to 10 s) while its channel is full.
absl::Status SendInput(StreamSession& session, StreamTag tag, absl::string_view payload = {}) {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (;;) {
    absl::StatusOr<bool> taken = session.OfferInput(tag, payload);
    if (!taken.ok()) return taken.status();
    if (*taken) return absl::OkStatus();
    if (absl::Now() > deadline) return absl::DeadlineExceededError("the session takes no input");
    pollfd writable{session.fd(), POLLOUT, 0};
    ::poll(&writable, 1, 100);
  }
}

struct LogEntry {
  std::string stream;
  char tag;
  std::string content;
};

std::vector<LogEntry> ParseLog(const std::string& text) {
  std::vector<LogEntry> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (fields.size() < 3) continue;
    entries.push_back(
        {std::string(fields[1]), fields[2][0], fields.size() == 4 ? std::string(fields[3]) : ""});
  }
  return entries;
}

class MonitorTest : public RuntimeTest {
 protected:
  void TearDown() override {
    RuntimeTest::TearDown();  // kills what a failed test left running
    for (const std::string& state_dir : state_dirs_)
      (void)client_->WaitForExit(state_dir, absl::Seconds(10));
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  // Fills config_ for a container running `config`.
  void Prepare(const nlohmann::json& config, bool stdin = false, bool stdin_once = false,
               bool tty = false) {
    config_.tty = tty;
    config_.stdin = stdin;
    config_.stdin_once = stdin_once;
    config_.id = NewId();
    config_.bundle = Bundle(config);
    config_.runtime_binary = runtime_binary_;
    config_.runtime_root = root();
    config_.state_dir = dir().Join(absl::StrCat("monitor-", config_.id));
    config_.log_path = dir().Join(absl::StrCat(config_.id, ".log"));
    std::filesystem::create_directories(config_.state_dir);
    state_dirs_.push_back(config_.state_dir);
  }

  // Creates a container running `config` through its monitor; returns the
  // container's init pid (or fails the test).
  pid_t SpawnMonitor(const nlohmann::json& config, bool stdin = false, bool stdin_once = false,
                     bool tty = false) {
    Prepare(config, stdin, stdin_once, tty);
    absl::StatusOr<pid_t> pid = client_->Create(config_);
    EXPECT_TRUE(pid.ok()) << pid.status();
    return pid.ok() ? *pid : 0;
  }

  absl::Status Start() { return client_->Start(config_.state_dir); }

  std::unique_ptr<StreamSession> Attach() {
    absl::StatusOr<std::unique_ptr<StreamSession>> session = client_->Attach(config_.state_dir);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.ok() ? *std::move(session) : nullptr;
  }

  // Collects a session's stdout until `until` shows up or the stream ends.
  static std::string ReadStdout(StreamSession& session, const std::string& until) {
    std::string out;
    while (out.find(until) == std::string::npos) {
      absl::StatusOr<StreamSession::Event> event = session.Next(absl::Seconds(10));
      if (!event.ok() || event->kind == StreamSession::Event::kEnd ||
          event->kind == StreamSession::Event::kExit)
        break;
      if (event->kind == StreamSession::Event::kStdout) out += event->data;
    }
    return out;
  }

  absl::StatusOr<ExitRecord> WaitExit(absl::Duration timeout = absl::Seconds(60)) {
    return client_->WaitForExit(config_.state_dir, timeout);
  }

  // An exec in the running container of config_.
  ExecConfig Exec(const std::vector<std::string>& args, bool terminal = false) {
    nlohmann::json process = {{"args", args},
                              {"cwd", "/"},
                              {"env", {"PATH=/bin:/usr/bin"}},
                              {"user", {{"uid", 0}, {"gid", 0}}},
                              {"terminal", terminal}};
    return ExecConfig{
        .container_id = config_.id, .runtime_root = root(), .process_json = process.dump()};
  }

  // $BERTH_E2E_MONITOR runs the same tests against another build.
  static std::string MonitorBinary() {
    const char* other = std::getenv("BERTH_E2E_MONITOR");
    return other != nullptr ? other : BERTH_MONITOR_PATH;
  }

  std::unique_ptr<MonitorClient> client_ = NewMonitorClient(MonitorBinary());
  // The OCI runtime binary the monitor drives; empty: its in-tree executor.
  std::string runtime_binary_;
  MonitorConfig config_;
  std::vector<std::string> state_dirs_;
};

TEST_F(MonitorTest, HundredThousandLinesArriveInOrder) {
  nlohmann::json config =
      Config({"sh", "-c",
              "i=0; while [ $i -lt 100000 ]; do echo line $i; i=$((i+1)); done; echo bye >&2"});
  ASSERT_GT(SpawnMonitor(config), 0);
  ASSERT_TRUE(Start().ok());
  absl::StatusOr<ExitRecord> exit = WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(exit->reason, "Completed");
  std::vector<LogEntry> entries = ParseLog(*ReadFileToString(config_.log_path));
  ASSERT_EQ(entries.size(), 100001u);
  int next = 0;
  for (const LogEntry& e : entries) {
    if (e.stream == "stderr") {
      EXPECT_EQ(e.content, "bye");
      continue;
    }
    ASSERT_EQ(e.tag, 'F');
    ASSERT_EQ(e.content, absl::StrCat("line ", next)) << "out of order or lost";
    ++next;
  }
  EXPECT_EQ(next, 100000);
}

TEST_F(MonitorTest, LongLineBecomesPartialsAndAFullEntry) {
  nlohmann::json config =
      Config({"sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; printf tail"});
  ASSERT_GT(SpawnMonitor(config), 0);
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(WaitExit().ok());
  std::vector<LogEntry> entries = ParseLog(*ReadFileToString(config_.log_path));
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].tag, 'P');
  EXPECT_EQ(entries[0].content.size(), 16384u);
  EXPECT_EQ(entries[1].tag, 'P');
  EXPECT_EQ(entries[1].content.size(), 16384u);
  EXPECT_EQ(entries[2].tag, 'F');
  EXPECT_EQ(entries[2].content, std::string(40000 - 2 * 16384, 'a'));
  EXPECT_EQ(entries[3].tag, 'F');  // no newline at the end: written when the stream closed
  EXPECT_EQ(entries[3].content, "tail");
}

TEST_F(MonitorTest, ReopenDuringHeavyWritingLosesNothing) {
  nlohmann::json config =
      Config({"sh", "-c", "i=0; while [ $i -lt 200000 ]; do echo $i; i=$((i+1)); done"});
  ASSERT_GT(SpawnMonitor(config), 0);
  ASSERT_TRUE(Start().ok());
  // Rotate as kubelet does while the container is still writing.
  for (int i = 0; i < 500 && std::filesystem::file_size(config_.log_path) < 100000; ++i)
    ::usleep(2000);
  std::filesystem::rename(config_.log_path, config_.log_path + ".1");
  ASSERT_TRUE(client_->ReopenLog(config_.state_dir).ok());
  ASSERT_TRUE(WaitExit().ok());
  std::vector<LogEntry> first = ParseLog(*ReadFileToString(config_.log_path + ".1"));
  std::vector<LogEntry> second = ParseLog(*ReadFileToString(config_.log_path));
  EXPECT_GT(first.size(), 0u);
  EXPECT_GT(second.size(), 0u) << "the container should still have been writing after the reopen";
  first.insert(first.end(), second.begin(), second.end());
  ASSERT_EQ(first.size(), 200000u);
  for (int i = 0; i < 200000; ++i) ASSERT_EQ(first[i].content, std::to_string(i));
}

TEST_F(MonitorTest, ExitFileIsWrittenAfterTheSpawnerIsGone) {
  nlohmann::json config = Config({"sh", "-c", "sleep 0.3; exit 3"});
  ASSERT_GT(SpawnMonitor(config), 0);  // the spawning shell has already exited
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(ReadExitFile(config_.exit_file()).status().code(), absl::StatusCode::kNotFound)
      << "still running";
  absl::StatusOr<ExitRecord> exit = WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(exit->signal, 0);
  EXPECT_EQ(exit->reason, "Error");
  EXPECT_LT(absl::Now() - exit->finished_at, absl::Seconds(30));
  // The container is left stopped for its owner to delete.
  EXPECT_THAT(Runtime({"state", config_.id}).out, HasSubstr("\"status\": \"stopped\""));
}

TEST_F(MonitorTest, SignalledContainerAndOomKill) {
  nlohmann::json config =
      Config({"sh", "-c", "tail /dev/zero"});  // grows until the OOM killer comes
  config["linux"]["resources"]["memory"] = {{"limit", 16 * 1024 * 1024},
                                            {"swap", 16 * 1024 * 1024}};
  ASSERT_GT(SpawnMonitor(config), 0);
  ASSERT_TRUE(Start().ok());
  absl::StatusOr<ExitRecord> exit = WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->oom_killed);
  EXPECT_EQ(exit->reason, "OOMKilled");
  EXPECT_EQ(exit->exit_code, 137);
}

TEST_F(MonitorTest, TwoAttachersShareOutputAndStdin) {
  nlohmann::json config =
      Config({"sh", "-c", "read line; echo \"got $line\"; read more; echo \"and $more\""});
  ASSERT_GT(SpawnMonitor(config, /*stdin=*/true), 0);
  std::unique_ptr<StreamSession> first = Attach();
  std::unique_ptr<StreamSession> second = Attach();
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(SendInput(*first, StreamTag::kStdin, "hello\n").ok());
  EXPECT_EQ(ReadStdout(*first, "got hello\n"), "got hello\n");
  EXPECT_EQ(ReadStdout(*second, "got hello\n"), "got hello\n");
  // Detaching one attacher leaves the container and the other one alone.
  first.reset();
  ASSERT_TRUE(SendInput(*second, StreamTag::kStdin, "world\n").ok());
  EXPECT_EQ(ReadStdout(*second, "and world\n"), "and world\n");
  absl::StatusOr<ExitRecord> exit = WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  // The container's end ends the attach stream.
  absl::StatusOr<StreamSession::Event> end = second->Next(absl::Seconds(10));
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->kind, StreamSession::Event::kEnd);
  std::vector<LogEntry> entries = ParseLog(*ReadFileToString(config_.log_path));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].content, "and world");
}

TEST_F(MonitorTest, StdinOnceClosesStdinWhenTheAttacherLeaves) {
  nlohmann::json config = Config({"cat"});
  ASSERT_GT(SpawnMonitor(config, /*stdin=*/true, /*stdin_once=*/true), 0);
  std::unique_ptr<StreamSession> attacher = Attach();
  ASSERT_TRUE(attacher);
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(SendInput(*attacher, StreamTag::kStdin, "echoed\n").ok());
  EXPECT_EQ(ReadStdout(*attacher, "echoed\n"), "echoed\n");
  attacher.reset();  // cat sees end-of-file and exits
  absl::StatusOr<ExitRecord> exit = WaitExit(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << "cat never saw end-of-file: " << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
}

TEST_F(MonitorTest, AttacherCanCloseStdin) {
  nlohmann::json config = Config({"sh", "-c", "cat; echo after-eof"});
  ASSERT_GT(SpawnMonitor(config, /*stdin=*/true), 0);
  std::unique_ptr<StreamSession> attacher = Attach();
  ASSERT_TRUE(attacher);
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(SendInput(*attacher, StreamTag::kStdin, "one\n").ok());
  ASSERT_TRUE(SendInput(*attacher, StreamTag::kCloseStdin).ok());
  EXPECT_EQ(ReadStdout(*attacher, "after-eof\n"), "one\nafter-eof\n");
  absl::StatusOr<ExitRecord> exit = WaitExit(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
}

TEST_F(MonitorTest, TerminalOutputIsLoggedAsStdoutAndCanBeResized) {
  nlohmann::json config = Config({"sh", "-c", "sleep 0.3; stty size; tty; echo done >&2"});
  config["process"]["terminal"] = true;
  ASSERT_GT(SpawnMonitor(config, false, false, /*tty=*/true), 0);
  EXPECT_TRUE(client_->Resize(config_.state_dir, {.rows = 30, .columns = 100}).ok());
  ASSERT_TRUE(Start().ok());
  absl::StatusOr<ExitRecord> exit = WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  std::vector<LogEntry> entries = ParseLog(*ReadFileToString(config_.log_path));
  ASSERT_EQ(entries.size(), 3u) << *ReadFileToString(config_.log_path);
  // One stream on a terminal, even for what the program wrote to stderr;
  // the terminal ends lines with \r\n.
  for (const LogEntry& e : entries) EXPECT_EQ(e.stream, "stdout");
  EXPECT_EQ(entries[0].content, "30 100\r");
  EXPECT_EQ(entries[1].content, "/dev/pts/0\r");
  EXPECT_EQ(entries[2].content, "done\r");
}

TEST_F(MonitorTest, ResizeWithoutATerminalIsRefused) {
  ASSERT_GT(SpawnMonitor(Config({"sleep", "10"})), 0);
  absl::Status resize = client_->Resize(config_.state_dir, {.rows = 10, .columns = 10});
  EXPECT_EQ(resize.code(), absl::StatusCode::kFailedPrecondition) << resize;
  EXPECT_THAT(resize.message(), HasSubstr("no terminal"));
}

TEST_F(MonitorTest, CreateErrorsAreReportedToTheSpawner) {
  Prepare(Config({"no-such-program"}));
  absl::StatusOr<pid_t> pid = client_->Create(config_);
  ASSERT_FALSE(pid.ok());
  EXPECT_THAT(pid.status().message(), HasSubstr("executable file not found in $PATH"));
  // Nothing is left: no container, and the monitor has gone.
  EXPECT_NE(Runtime({"state", config_.id}).exit_code, 0);
  absl::StatusOr<ExitRecord> exit = WaitExit(absl::Seconds(10));
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kInternal) << exit.status();
}

// posix_spawn does no PATH search: berthd must resolve the handler's binary.
TEST_F(MonitorTest, RelativeRuntimeBinaryIsRefused) {
  Prepare(Config({"true"}));
  config_.runtime_binary = "runc";
  absl::StatusOr<pid_t> pid = client_->Create(config_);
  EXPECT_EQ(pid.status().code(), absl::StatusCode::kInvalidArgument) << pid.status();
  EXPECT_THAT(pid.status().message(), HasSubstr("not an absolute path"));
}

TEST_F(MonitorTest, StartOfAnExitedContainerFailsClearly) {
  ASSERT_GT(SpawnMonitor(Config({"true"})), 0);
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(WaitExit().ok());
  // Once the monitor has exited, requests fail without hanging.
  for (int i = 0; i < 100 && ::access(config_.control_socket().c_str(), F_OK) == 0; ++i) {
    absl::Status again = Start();
    if (again.code() == absl::StatusCode::kFailedPrecondition &&
        absl::StrContains(again.message(), "not running"))
      return;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(Start().message(), HasSubstr("not running"));
}

// berthd dies (SIGKILL) while the container runs; the berthd that comes
// back learns how the container ended from a new client.
TEST_F(MonitorTest, ClientKilledWhileTheContainerRunsThenANewClientReadsTheExit) {
  Prepare(Config({"sh", "-c", "sleep 1; exit 7"}));
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t old_client = ::fork();
  ASSERT_GE(old_client, 0);
  if (old_client == 0) {
    std::unique_ptr<MonitorClient> client = NewMonitorClient(BERTH_MONITOR_PATH);
    absl::StatusOr<pid_t> pid = client->Create(config_);
    absl::Status started = pid.ok() ? client->Start(config_.state_dir) : pid.status();
    if (!started.ok()) std::fprintf(stderr, "old client: %s\n", started.ToString().c_str());
    bool ok = started.ok();
    (void)::write(ready[1], ok ? "y" : "n", 1);
    // Blocks waiting for the exit, as berthd would, until it is killed.
    (void)client->WaitForExit(config_.state_dir, absl::Minutes(1));
    _exit(0);
  }
  ::close(ready[1]);
  char answer = 0;
  ASSERT_EQ(::read(ready[0], &answer, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(answer, 'y');
  ASSERT_EQ(::kill(old_client, SIGKILL), 0);
  int status;
  ASSERT_EQ(::waitpid(old_client, &status, 0), old_client);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(client_->WaitForExit(config_.state_dir, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kDeadlineExceeded)
      << "the container should still be running";

  std::unique_ptr<MonitorClient> new_client = NewMonitorClient(BERTH_MONITOR_PATH);
  absl::StatusOr<ExitRecord> exit = new_client->WaitForExit(config_.state_dir, absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 7);
  EXPECT_EQ(exit->reason, "Error");
}

TEST_F(MonitorTest, ExecSyncCollectsOutputAndTheExitCode) {
  ASSERT_GT(SpawnMonitor(Config({"sleep", "30"})), 0);
  ASSERT_TRUE(Start().ok());
  absl::StatusOr<ExecSyncResult> result =
      client_->ExecSync(Exec({"sh", "-c", "echo out; echo err >&2; cat /proc/1/cmdline; exit 3"}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit.exit_code, 3);
  EXPECT_FALSE(result->exit.timed_out);
  // pid 1 is the container's own init: the exec ran in its pid namespace.
  EXPECT_EQ(result->stdout_data, std::string("out\nsleep\0"
                                             "30\0",
                                             13));
  EXPECT_EQ(result->stderr_data, "err\n");
}

TEST_F(MonitorTest, ExecTimeoutKillsTheProcess) {
  ASSERT_GT(SpawnMonitor(Config({"sleep", "30"})), 0);
  ASSERT_TRUE(Start().ok());
  ExecConfig exec = Exec({"sh", "-c", "echo started; sleep 30"});
  exec.timeout = absl::Milliseconds(500);
  absl::Time begin = absl::Now();
  absl::StatusOr<ExecSyncResult> result = client_->ExecSync(exec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->exit.timed_out);
  EXPECT_EQ(result->exit.signal, SIGKILL);
  EXPECT_EQ(result->exit.exit_code, 137);
  EXPECT_EQ(result->stdout_data, "started\n");
  EXPECT_LT(absl::Now() - begin, absl::Seconds(10));
  // The container itself is untouched.
  EXPECT_EQ(WaitExit(absl::ZeroDuration()).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(MonitorTest, ExecSyncOutputIsCapped) {
  ASSERT_GT(SpawnMonitor(Config({"sleep", "30"})), 0);
  ASSERT_TRUE(Start().ok());
  // 20 MiB of stdout and a little stderr after it: the process is not
  // stopped by the cap, and the rest of its output still arrives.
  absl::StatusOr<ExecSyncResult> result =
      client_->ExecSync(Exec({"sh", "-c", "head -c 20971520 /dev/zero; echo done >&2"}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit.exit_code, 0);
  EXPECT_EQ(result->stdout_data.size(), MonitorClient::kExecSyncOutputCap);
  EXPECT_EQ(result->stdout_data.find_first_not_of('\0'), std::string::npos);
  EXPECT_EQ(result->stderr_data, "done\n");
}

TEST_F(MonitorTest, ExecWithStdinWithoutATerminal) {
  ASSERT_GT(SpawnMonitor(Config({"sleep", "30"})), 0);
  ASSERT_TRUE(Start().ok());
  ExecConfig exec = Exec({"sh", "-c", "tr a-z A-Z; echo end >&2"});
  exec.stdin = true;
  absl::StatusOr<std::unique_ptr<StreamSession>> session = client_->Exec(exec);
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE(SendInput(**session, StreamTag::kStdin, "hello\n").ok());
  EXPECT_EQ(ReadStdout(**session, "HELLO\n"), "HELLO\n");
  ASSERT_TRUE(SendInput(**session, StreamTag::kCloseStdin).ok());
  std::string err;
  std::optional<ExecExit> exit;
  while (!exit) {
    absl::StatusOr<StreamSession::Event> event = (*session)->Next(absl::Seconds(10));
    ASSERT_TRUE(event.ok()) << event.status();
    ASSERT_NE(event->kind, StreamSession::Event::kEnd);
    if (event->kind == StreamSession::Event::kStderr) err += event->data;
    if (event->kind == StreamSession::Event::kExit) exit = event->exit;
  }
  EXPECT_EQ(err, "end\n");
  EXPECT_EQ(exit->exit_code, 0);
}

TEST_F(MonitorTest, ExecWithATerminal) {
  ASSERT_GT(SpawnMonitor(Config({"sleep", "30"})), 0);
  ASSERT_TRUE(Start().ok());
  ExecConfig exec = Exec({"sh", "-c", "read go; stty size; tty; cat"}, /*terminal=*/true);
  exec.stdin = true;
  absl::StatusOr<std::unique_ptr<StreamSession>> session = client_->Exec(exec);
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE(
      SendInput(**session, StreamTag::kResize, ResizePayload({.rows = 40, .columns = 120})).ok());
  ASSERT_TRUE(SendInput(**session, StreamTag::kStdin, "go\n").ok());
  std::string out = ReadStdout(**session, "/dev/pts/");
  EXPECT_THAT(out, HasSubstr("40 120\r\n"));
  // End of input on a terminal: cat sees its end-of-file character.
  ASSERT_TRUE(SendInput(**session, StreamTag::kCloseStdin).ok());
  std::optional<ExecExit> exit;
  while (!exit) {
    absl::StatusOr<StreamSession::Event> event = (*session)->Next(absl::Seconds(10));
    ASSERT_TRUE(event.ok()) << "cat did not end: " << event.status();
    ASSERT_NE(event->kind, StreamSession::Event::kEnd);
    if (event->kind == StreamSession::Event::kStderr) ADD_FAILURE() << "a terminal has one stream";
    if (event->kind == StreamSession::Event::kExit) exit = event->exit;
  }
  EXPECT_EQ(exit->exit_code, 0);
}

TEST_F(MonitorTest, ClosingAnExecSessionKillsItsProcess) {
  ASSERT_GT(SpawnMonitor(Config({"sleep", "30"})), 0);
  ASSERT_TRUE(Start().ok());
  absl::StatusOr<std::unique_ptr<StreamSession>> session =
      client_->Exec(Exec({"sh", "-c", "echo $$; exec sleep 31"}));
  ASSERT_TRUE(session.ok()) << session.status();
  std::string pid(absl::StripTrailingAsciiWhitespace(ReadStdout(**session, "\n")));
  ASSERT_FALSE(pid.empty());
  // Its pid as the container sees it, through another exec.
  auto alive = [&] {
    absl::StatusOr<ExecSyncResult> probe =
        client_->ExecSync(Exec({"sh", "-c", "test -e /proc/" + pid + " && echo yes || echo no"}));
    return probe.ok() ? probe->stdout_data : probe.status().ToString();
  };
  EXPECT_EQ(alive(), "yes\n");
  session->reset();  // the client hangs up
  EXPECT_EQ(alive(), "no\n");
}

TEST_F(MonitorTest, ExecInAStoppedContainerFails) {
  ASSERT_GT(SpawnMonitor(Config({"true"})), 0);
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(WaitExit().ok());
  absl::StatusOr<ExecSyncResult> result = client_->ExecSync(Exec({"true"}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
}

// CVE-2019-5736 against the monitor (see exe_overwrite_attack.cc): the
// container's init is a fork of berth-monitor until its program runs.
TEST_F(MonitorTest, ProcSelfExeEntrypointCannotOverwriteTheMonitor) {
  std::string binary = CopyOf(MonitorBinary());
  std::string original = *ReadFileToString(binary);
  client_ = NewMonitorClient(binary);
  std::string rootfs = ExeAttackRootfs();
  nlohmann::json config = Config({"/proc/self/exe"});
  config["root"] = {{"path", rootfs}, {"readonly", false}};
  ASSERT_GT(SpawnMonitor(config), 0);
  ASSERT_TRUE(Start().ok());
  absl::StatusOr<ExitRecord> exit = WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  std::string result = ReadFileToString(rootfs + "/record/result").value_or("no result");
  EXPECT_THAT(result, ::testing::StartsWith("denied")) << "the monitor's binary was writable";
  EXPECT_TRUE(*ReadFileToString(binary) == original) << "berth-monitor was overwritten";
}

// The same through an exec session, whose helper joins the container.
TEST_F(MonitorTest, ExecSessionCannotOverwriteTheMonitor) {
  std::string rootfs = ExeAttackRootfs();
  nlohmann::json config = Config({"sleep", "60"});
  config["root"] = {{"path", rootfs}, {"readonly", false}};
  ASSERT_GT(SpawnMonitor(config), 0);
  ASSERT_TRUE(Start().ok());
  std::string binary = CopyOf(MonitorBinary());
  std::string original = *ReadFileToString(binary);
  absl::StatusOr<ExecSyncResult> result =
      NewMonitorClient(binary)->ExecSync(Exec({"/proc/self/exe"}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->stdout_data, ::testing::StartsWith("denied"))
      << "the exec helper's binary was writable";
  EXPECT_TRUE(*ReadFileToString(binary) == original) << "berth-monitor was overwritten";
}

// The CRI log is opened beneath the pod's log directory and never through a
// symlink: the monitor runs as root, and /var/log/pods is not only ours.
TEST_F(MonitorTest, LogPathThroughASymlinkIsRefused) {
  std::string outside = dir().Join("outside");
  std::filesystem::create_directories(outside);
  ASSERT_TRUE(WriteFileAtomically(outside + "/target", "precious\n").ok());
  std::string pod_logs = dir().Join("pod-logs");
  std::filesystem::create_directories(pod_logs + "/app");
  std::filesystem::create_symlink(outside, pod_logs + "/linked-dir");
  std::filesystem::create_symlink(outside + "/target", pod_logs + "/app/0.log");
  for (const char* path : {"app/0.log", "linked-dir/target", "../outside/target"}) {
    Prepare(Config({"echo", "hi"}));
    config_.log_directory = pod_logs;
    config_.log_path = path;
    absl::StatusOr<pid_t> pid = client_->Create(config_);
    EXPECT_FALSE(pid.ok()) << path;
  }
  // Without a directory, the file itself still may not be a symlink.
  Prepare(Config({"echo", "hi"}));
  config_.log_path = pod_logs + "/app/0.log";
  EXPECT_FALSE(client_->Create(config_).ok());
  EXPECT_EQ(*ReadFileToString(outside + "/target"), "precious\n");
}

TEST_F(MonitorTest, ReopenedLogThroughASymlinkIsRefused) {
  std::string outside = dir().Join("outside-reopen");
  ASSERT_TRUE(WriteFileAtomically(outside, "precious\n").ok());
  std::string pod_logs = dir().Join("pod-logs-reopen");
  std::filesystem::create_directories(pod_logs);
  Prepare(Config({"sleep", "30"}));
  config_.log_directory = pod_logs;
  config_.log_path = "0.log";
  ASSERT_TRUE(client_->Create(config_).ok());
  ASSERT_TRUE(Start().ok());
  // "Rotation" swaps in a symlink to a file elsewhere.
  std::filesystem::remove(pod_logs + "/0.log");
  std::filesystem::create_symlink(outside, pod_logs + "/0.log");
  EXPECT_FALSE(client_->ReopenLog(config_.state_dir).ok());
  EXPECT_EQ(*ReadFileToString(outside), "precious\n");
}

// The monitor's sockets are never connectable by others, not even between
// bind and chmod: their directory is 0700.
TEST_F(MonitorTest, StateDirectoryIsPrivateBeforeSocketsAreBound) {
  nlohmann::json config = Config({"true"});
  Prepare(config);
  ::chmod(config_.state_dir.c_str(), 0755);
  ASSERT_TRUE(client_->Create(config_).ok());
  struct stat st;
  ASSERT_EQ(::stat(config_.state_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_TRUE(Start().ok());
}

// The monitor in front of another OCI runtime with runc's command line, as
// for a RuntimeClass handler: create, start and a failed setup's delete go
// through the binary; output, attach and the exit file work as with the
// in-tree executor. berthd's part (kill, delete) is done here with the CLI.
// (Typed rather than value-parameterized: a value's "/name" suffix would
// end up in the container ids, which may not hold a slash.)
struct Runc {
  static constexpr char kBinary[] = "/usr/sbin/runc";
  static constexpr char kName[] = "runc";
};
struct Crun {
  static constexpr char kBinary[] = "/usr/bin/crun";
  static constexpr char kName[] = "crun";
};
struct BerthRuntimeBinary {
  static constexpr char kBinary[] = BERTH_RUNTIME_PATH;
  static constexpr char kName[] = "berth_runtime";
};

template <typename Binary>
class ExternalRuntimeMonitorTest : public MonitorTest {
 protected:
  void SetUp() override {
    MonitorTest::SetUp();
    if (IsSkipped()) return;
    if (::access(Binary::kBinary, X_OK) != 0)
      GTEST_SKIP() << Binary::kBinary << " is not installed";
    runtime_binary_ = Binary::kBinary;
    UseRuntimeBinary(runtime_binary_);  // the fixture's Runtime() and cleanup use it too
    if (std::string why = CannotRunContainers(); !why.empty())
      GTEST_SKIP() << Binary::kBinary << " cannot run a container on this host: " << why;
  }

  // crun 1.8 accepts ociVersion 1.0.x only; `berth-runtime spec` writes 1.2.0.
  nlohmann::json PortableConfig(const std::vector<std::string>& args) {
    nlohmann::json config = Config(args);
    config["ociVersion"] = "1.0.2";
    return config;
  }

  // Why the runtime cannot run a container here by itself (crun refuses
  // hybrid cgroup hosts, for one), or empty: a host limit, not our bug.
  // Probed once per binary.
  std::string CannotRunContainers() {
    static std::optional<std::string> verdict;
    if (!verdict) {
      RunResult run = Runtime({"run", "--bundle", Bundle(PortableConfig({"true"})), NewId()});
      std::string output = run.err + run.out;
      verdict = run.exit_code == 0 ? "" : std::string(absl::StripAsciiWhitespace(output));
    }
    return *verdict;
  }

  // The host directory of the memory cgroup (v1) or the unified cgroup of `pid`.
  static std::string CgroupDir(pid_t pid) {
    std::string text = ReadFileToString(absl::StrCat("/proc/", pid, "/cgroup")).value_or("");
    std::string unified;
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
      if (fields.size() != 3) continue;
      if (absl::StrContains(fields[1], "memory")) return "/sys/fs/cgroup/memory" + fields[2];
      if (fields[0] == "0") unified = "/sys/fs/cgroup" + fields[2];
    }
    return unified;
  }

  // Processes whose command line names the container: its monitor (by its
  // state directory), or a runtime process left behind. Waits a while for
  // them to go: the monitor exits just after it writes the exit file.
  std::vector<std::string> ProcessesNaming(const std::string& id) {
    std::vector<std::string> found;
    for (int attempt = 0; attempt < 100; ++attempt) {
      found.clear();
      for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string cmdline = ReadFileToString(entry.path().string() + "/cmdline").value_or("");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (absl::StrContains(cmdline, id)) found.push_back(name + ": " + cmdline);
      }
      if (found.empty()) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return found;
  }

  // After `delete`: no runtime state, no cgroup, no process of the container.
  void ExpectNothingLeft(pid_t init, const std::string& cgroup_dir) {
    EXPECT_NE(Runtime({"state", config_.id}).exit_code, 0) << "the runtime still knows it";
    EXPECT_FALSE(std::filesystem::exists(root() + "/" + config_.id)) << "runtime state is left";
    EXPECT_FALSE(cgroup_dir.empty() || std::filesystem::exists(cgroup_dir))
        << "cgroup left: " << cgroup_dir;
    EXPECT_NE(::kill(init, 0), 0) << "the init " << init << " is still there";
    EXPECT_THAT(ProcessesNaming(config_.id), IsEmpty());
  }
};

class RuntimeNames {
 public:
  template <typename Binary>
  static std::string GetName(int) {
    return Binary::kName;
  }
};
using ExternalRuntimes = ::testing::Types<Runc, Crun, BerthRuntimeBinary>;
TYPED_TEST_SUITE(ExternalRuntimeMonitorTest, ExternalRuntimes, RuntimeNames);

TYPED_TEST(ExternalRuntimeMonitorTest, OutputReachesTheLogAndTheExitCodeIsRecorded) {
  pid_t init =
      this->SpawnMonitor(this->PortableConfig({"sh", "-c", "echo out; echo err >&2; exit 3"}));
  ASSERT_GT(init, 0);
  EXPECT_THAT(this->Runtime({"state", this->config_.id}).out, HasSubstr("\"created\""));
  std::string cgroup = TestFixture::CgroupDir(init);
  ASSERT_TRUE(this->Start().ok());
  absl::StatusOr<ExitRecord> exit = this->WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(exit->signal, 0);
  EXPECT_FALSE(exit->oom_killed);
  EXPECT_EQ(exit->reason, "Error");
  std::vector<LogEntry> entries = ParseLog(*ReadFileToString(this->config_.log_path));
  ASSERT_EQ(entries.size(), 2u) << *ReadFileToString(this->config_.log_path);
  EXPECT_EQ(entries[0].stream, "stdout");
  EXPECT_EQ(entries[0].content, "out");
  EXPECT_EQ(entries[1].stream, "stderr");
  EXPECT_EQ(entries[1].content, "err");
  // Left stopped for its owner, who deletes it through the runtime.
  EXPECT_THAT(this->Runtime({"state", this->config_.id}).out, HasSubstr("\"stopped\""));
  RunResult deleted = this->Runtime({"delete", this->config_.id});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  this->ExpectNothingLeft(init, cgroup);
}

TYPED_TEST(ExternalRuntimeMonitorTest, AttachSharesOutputAndStdin) {
  ASSERT_GT(this->SpawnMonitor(this->PortableConfig({"sh", "-c", "read line; echo \"got $line\""}),
                               /*stdin=*/true),
            0);
  std::unique_ptr<StreamSession> attacher = this->Attach();
  ASSERT_TRUE(attacher);
  ASSERT_TRUE(this->Start().ok());
  ASSERT_TRUE(SendInput(*attacher, StreamTag::kStdin, "hello\n").ok());
  EXPECT_EQ(TestFixture::ReadStdout(*attacher, "got hello\n"), "got hello\n");
  absl::StatusOr<ExitRecord> exit = this->WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  absl::StatusOr<StreamSession::Event> end = attacher->Next(absl::Seconds(10));
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->kind, StreamSession::Event::kEnd);
  EXPECT_EQ(this->Runtime({"delete", this->config_.id}).exit_code, 0);
}

TYPED_TEST(ExternalRuntimeMonitorTest, TerminalThroughTheConsoleSocket) {
  nlohmann::json config = this->PortableConfig({"sh", "-c", "sleep 0.3; stty size; tty"});
  config["process"]["terminal"] = true;
  ASSERT_GT(this->SpawnMonitor(config, false, false, /*tty=*/true), 0);
  EXPECT_TRUE(this->client_->Resize(this->config_.state_dir, {.rows = 30, .columns = 100}).ok());
  ASSERT_TRUE(this->Start().ok());
  absl::StatusOr<ExitRecord> exit = this->WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  std::vector<LogEntry> entries = ParseLog(*ReadFileToString(this->config_.log_path));
  ASSERT_EQ(entries.size(), 2u) << *ReadFileToString(this->config_.log_path);
  EXPECT_EQ(entries[0].content, "30 100\r");
  EXPECT_THAT(entries[1].content, ::testing::StartsWith("/dev/pts/"));
  EXPECT_EQ(this->Runtime({"delete", this->config_.id}).exit_code, 0);
}

TYPED_TEST(ExternalRuntimeMonitorTest, CreateFailureCarriesTheRuntimesMessage) {
  this->Prepare(this->PortableConfig({"no-such-program"}));
  absl::StatusOr<pid_t> pid = this->client_->Create(this->config_);
  ASSERT_FALSE(pid.ok());
  EXPECT_THAT(pid.status().message(),
              HasSubstr(this->runtime_binary_ + " create " + this->config_.id));
  EXPECT_THAT(pid.status().message(), HasSubstr("no-such-program"));
  EXPECT_THAT(pid.status().message(), HasSubstr("not found"));
  // Nothing is left: no container, no runtime process, and the monitor has gone.
  EXPECT_NE(this->Runtime({"state", this->config_.id}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(this->root() + "/" + this->config_.id));
  absl::StatusOr<ExitRecord> exit = this->WaitExit(absl::Seconds(10));
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kInternal) << exit.status();
  EXPECT_THAT(this->ProcessesNaming(this->config_.id), IsEmpty());
}

// berthd stops the container through the runtime; the monitor sees the
// init die, as it was reparented to it.
TYPED_TEST(ExternalRuntimeMonitorTest, KilledThroughTheRuntime) {
  pid_t init = this->SpawnMonitor(this->PortableConfig({"sleep", "60"}));
  ASSERT_GT(init, 0);
  std::string cgroup = TestFixture::CgroupDir(init);
  ASSERT_TRUE(this->Start().ok());
  RunResult killed = this->Runtime({"kill", this->config_.id, "KILL"});
  ASSERT_EQ(killed.exit_code, 0) << killed.err;
  absl::StatusOr<ExitRecord> exit = this->WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_EQ(exit->exit_code, 137);
  EXPECT_EQ(exit->reason, "Error");
  RunResult deleted = this->Runtime({"delete", this->config_.id});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  this->ExpectNothingLeft(init, cgroup);
}

TYPED_TEST(ExternalRuntimeMonitorTest, OomKillIsRecorded) {
  nlohmann::json config = this->PortableConfig({"sh", "-c", "tail /dev/zero"});
  config["linux"]["resources"]["memory"] = {{"limit", 16 * 1024 * 1024},
                                            {"swap", 16 * 1024 * 1024}};
  ASSERT_GT(this->SpawnMonitor(config), 0);
  ASSERT_TRUE(this->Start().ok());
  absl::StatusOr<ExitRecord> exit = this->WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->oom_killed);
  EXPECT_EQ(exit->reason, "OOMKilled");
  EXPECT_EQ(exit->exit_code, 137);
  EXPECT_EQ(this->Runtime({"delete", this->config_.id}).exit_code, 0);
}

TYPED_TEST(ExternalRuntimeMonitorTest, ExecRunsThroughTheRuntime) {
  ASSERT_GT(this->SpawnMonitor(this->PortableConfig({"sleep", "60"})), 0);
  ASSERT_TRUE(this->Start().ok());
  ExecConfig exec = this->Exec({"sh", "-c", "echo out; echo err >&2; exit 3"});
  exec.runtime_binary = this->runtime_binary_;
  absl::StatusOr<ExecSyncResult> result = this->client_->ExecSync(exec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "out\n");
  EXPECT_EQ(result->stderr_data, "err\n");
  EXPECT_EQ(result->exit.exit_code, 3);

  // A timeout kills the process in the container, not only the runtime.
  ExecConfig slow = this->Exec({"sleep", "1000"});
  slow.runtime_binary = this->runtime_binary_;
  slow.timeout = absl::Seconds(1);
  result = this->client_->ExecSync(slow);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->exit.timed_out);
  ExecConfig count = this->Exec({"sh", "-c", "ps -o comm | grep -c '^sleep$' || true"});
  count.runtime_binary = this->runtime_binary_;
  result = this->client_->ExecSync(count);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "1\n") << "only the container's own sleep is left";

  // A terminal through another runtime is refused clearly.
  ExecConfig tty = this->Exec({"true"});
  tty.runtime_binary = this->runtime_binary_;
  nlohmann::json process = nlohmann::json::parse(tty.process_json);
  process["terminal"] = true;
  tty.process_json = process.dump();
  result = this->client_->ExecSync(tty);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnimplemented) << result.status();
  EXPECT_EQ(this->Runtime({"delete", "--force", this->config_.id}).exit_code, 0);
  EXPECT_TRUE(this->WaitExit().ok());
}

}  // namespace
}  // namespace berth::testing
