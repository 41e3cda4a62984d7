// berth-monitor with real containers: CRI logs, log reopen, exit files, OOM.

#include "runtime/monitor/monitor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/unique_fd.h"
#include "runtime/monitor/exit_file.h"
#include "tests/e2e/runtime_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

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

// The monitor reports one JSON line. Reading to end-of-file would wait for
// the container's init, which holds the pipe (close-on-exec) until `start`.
std::string ReadReport(int fd) {
  std::string report;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') report.push_back(c);
  return report;
}

class MonitorTest : public RuntimeTest {
 protected:
  // Spawns a monitor for a container running `config` and waits for its
  // report; returns the container's init pid (or fails the test).
  pid_t SpawnMonitor(const nlohmann::json& config, bool stdin = false, bool stdin_once = false,
                     bool tty = false) {
    config_.tty = tty;
    config_.stdin = stdin;
    config_.stdin_once = stdin_once;
    config_.id = NewId();
    config_.bundle = Bundle(config);
    config_.runtime_root = root();
    config_.state_dir = dir().Join(absl::StrCat("monitor-", config_.id));
    config_.log_path = dir().Join(absl::StrCat(config_.id, ".log"));
    std::filesystem::create_directories(config_.state_dir);
    std::string config_path = config_.state_dir + "/config.json";
    EXPECT_TRUE(WriteFileAtomically(config_path, MonitorConfigToJson(config_)).ok());
    int sync[2];
    EXPECT_EQ(::pipe(sync), 0);  // the write end is inherited by the monitor
    // Spawned through a shell that exits at once, as berthd's death would
    // leave it: the monitor must not depend on whoever started it.
    absl::StatusOr<ChildProcess> shell = ChildProcess::Spawn(
        {"/bin/sh", "-c",
         absl::StrCat(BERTH_MONITOR_PATH, " --config ", config_path, " --sync-fd ", sync[1], " &")},
        {.new_session = true});
    ::close(sync[1]);
    EXPECT_TRUE(shell.ok());
    (void)shell->Wait();
    std::string report = ReadReport(sync[0]);
    ::close(sync[0]);
    nlohmann::json parsed = nlohmann::json::parse(report, nullptr, false);
    EXPECT_TRUE(parsed.is_object() && parsed.contains("pid")) << "monitor reported: " << report;
    return parsed.is_object() ? parsed.value("pid", 0) : 0;
  }

  std::string Control(const std::string& request) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{.sun_family = AF_UNIX};
    std::strncpy(addr.sun_path, config_.control_socket().c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      return "connect failed";
    ::send(fd.get(), request.data(), request.size(), 0);
    char reply[512] = {};
    ssize_t n = ::recv(fd.get(), reply, sizeof(reply) - 1, 0);
    return n > 0 ? std::string(reply, n) : "no reply";
  }

  UniqueFd Attach() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{.sun_family = AF_UNIX};
    std::strncpy(addr.sun_path, config_.attach_socket().c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    return fd;
  }

  // Collects an attacher's stdout until `until` shows up or it hangs up.
  static std::string ReadAttached(int fd, const std::string& until) {
    std::string out;
    char message[65536];
    timeval timeout{.tv_sec = 10};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    while (out.find(until) == std::string::npos) {
      ssize_t n = ::recv(fd, message, sizeof(message), 0);
      if (n <= 0) break;
      if (message[0] == 1) out.append(message + 1, n - 1);
    }
    return out;
  }

  absl::StatusOr<ExitRecord> WaitExit(absl::Duration timeout = absl::Seconds(60)) {
    absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      absl::StatusOr<ExitRecord> record = ReadExitFile(config_.exit_file());
      if (record.ok() || absl::Now() > deadline) return record;
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  MonitorConfig config_;
};

TEST_F(MonitorTest, HundredThousandLinesArriveInOrder) {
  nlohmann::json config =
      Config({"sh", "-c",
              "i=0; while [ $i -lt 100000 ]; do echo line $i; i=$((i+1)); done; echo bye >&2"});
  ASSERT_GT(SpawnMonitor(config), 0);
  ASSERT_EQ(Control("start"), "ok");
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
  ASSERT_EQ(Control("start"), "ok");
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
  ASSERT_EQ(Control("start"), "ok");
  // Rotate as kubelet does while the container is still writing.
  for (int i = 0; i < 500 && std::filesystem::file_size(config_.log_path) < 100000; ++i)
    ::usleep(2000);
  std::filesystem::rename(config_.log_path, config_.log_path + ".1");
  ASSERT_EQ(Control("reopen-log"), "ok");
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
  ASSERT_EQ(Control("start"), "ok");
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
  ASSERT_EQ(Control("start"), "ok");
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
  UniqueFd first = Attach();
  UniqueFd second = Attach();
  ASSERT_EQ(Control("start"), "ok");
  ASSERT_EQ(::send(first.get(), "hello\n", 6, 0), 6);
  EXPECT_EQ(ReadAttached(first.get(), "got hello\n"), "got hello\n");
  EXPECT_EQ(ReadAttached(second.get(), "got hello\n"), "got hello\n");
  // Detaching one attacher leaves the container and the other one alone.
  first.Reset();
  ASSERT_EQ(::send(second.get(), "world\n", 6, 0), 6);
  EXPECT_EQ(ReadAttached(second.get(), "and world\n"), "and world\n");
  absl::StatusOr<ExitRecord> exit = WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
  std::vector<LogEntry> entries = ParseLog(*ReadFileToString(config_.log_path));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].content, "and world");
}

TEST_F(MonitorTest, StdinOnceClosesStdinWhenTheAttacherLeaves) {
  nlohmann::json config = Config({"cat"});
  ASSERT_GT(SpawnMonitor(config, /*stdin=*/true, /*stdin_once=*/true), 0);
  UniqueFd attacher = Attach();
  ASSERT_EQ(Control("start"), "ok");
  ASSERT_EQ(::send(attacher.get(), "echoed\n", 7, 0), 7);
  EXPECT_EQ(ReadAttached(attacher.get(), "echoed\n"), "echoed\n");
  attacher.Reset();  // cat sees end-of-file and exits
  absl::StatusOr<ExitRecord> exit = WaitExit(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << "cat never saw end-of-file: " << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
}

TEST_F(MonitorTest, TerminalOutputIsLoggedAsStdoutAndCanBeResized) {
  nlohmann::json config = Config({"sh", "-c", "sleep 0.3; stty size; tty; echo done >&2"});
  config["process"]["terminal"] = true;
  ASSERT_GT(SpawnMonitor(config, false, false, /*tty=*/true), 0);
  EXPECT_EQ(Control("resize 30 100"), "ok");
  ASSERT_EQ(Control("start"), "ok");
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

TEST_F(MonitorTest, CreateErrorsAreReportedToTheSpawner) {
  nlohmann::json config = Config({"no-such-program"});
  config_.id = NewId();
  config_.bundle = Bundle(config);
  config_.runtime_root = root();
  config_.state_dir = dir().Join("monitor-err");
  config_.log_path = dir().Join("err.log");
  std::filesystem::create_directories(config_.state_dir);
  ASSERT_TRUE(
      WriteFileAtomically(config_.state_dir + "/config.json", MonitorConfigToJson(config_)).ok());
  int sync[2];
  ASSERT_EQ(::pipe(sync), 0);
  absl::StatusOr<ChildProcess> monitor =
      ChildProcess::Spawn({BERTH_MONITOR_PATH, "--config", config_.state_dir + "/config.json",
                           "--sync-fd", std::to_string(sync[1])});
  ::close(sync[1]);
  ASSERT_TRUE(monitor.ok());
  std::string report = ReadReport(sync[0]);
  ::close(sync[0]);
  EXPECT_THAT(report, HasSubstr("executable file not found in $PATH"));
  EXPECT_EQ(monitor->Wait()->exit_code, 1);
}

}  // namespace
}  // namespace berth::testing
