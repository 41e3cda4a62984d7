// The monitor protocol's pure parts and FakeMonitorClient, which the
// container RPC tests will stand on.

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/monitor/exec_config.h"
#include "runtime/monitor/stream_protocol.h"
#include "tests/support/fake_monitor_client.h"
#include "tests/support/status_matchers.h"

namespace berth {
namespace {

using ::berth::testing::FakeMonitorClient;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(StreamProtocolTest, MessagesCarryTheirTagFirst) {
  std::string message = StreamMessage(StreamTag::kStdin, "abc");
  ASSERT_EQ(message.size(), 4u);
  EXPECT_EQ(static_cast<StreamTag>(message[0]), StreamTag::kStdin);
  EXPECT_EQ(message.substr(1), "abc");
  EXPECT_EQ(StreamMessage(StreamTag::kCloseStdin).size(), 1u);
}

TEST(StreamProtocolTest, ResizePayloadRoundTripsAndRejectsGarbage) {
  std::optional<TerminalSize> size = ParseResizePayload(ResizePayload({.rows = 24, .columns = 80}));
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(size->rows, 24);
  EXPECT_EQ(size->columns, 80);
  for (const char* bad : {"", "24", "24 x", "-1 80", "70000 80", "24 80 1"})
    EXPECT_FALSE(ParseResizePayload(bad).has_value()) << bad;
}

TEST(ExecConfigTest, RoundTripsAndValidates) {
  ExecConfig config{.container_id = "c1",
                    .runtime_root = "/run/x",
                    .systemd_cgroup = true,
                    .process_json = R"({"args":["ls"],"cwd":"/"})",
                    .stdin = true,
                    .timeout = absl::Milliseconds(1500)};
  absl::StatusOr<ExecConfig> parsed = ParseExecConfig(ExecConfigToJson(config));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->container_id, "c1");
  EXPECT_EQ(parsed->runtime_root, "/run/x");
  EXPECT_TRUE(parsed->systemd_cgroup);
  EXPECT_TRUE(parsed->stdin);
  EXPECT_EQ(parsed->timeout, absl::Milliseconds(1500));
  EXPECT_THAT(parsed->process_json, HasSubstr("\"ls\""));
  EXPECT_FALSE(ParseExecConfig("[]").ok());
  EXPECT_FALSE(ParseExecConfig(R"({"container_id":"c","process":"ls"})").ok());
  EXPECT_FALSE(ParseExecConfig(R"({"container_id":"c","process":{},"timeout_ms":-1})").ok());
}

TEST(ExecConfigTest, ExitAndStatusReportsRoundTrip) {
  ExecExit exit{.exit_code = 137, .signal = 9, .timed_out = true};
  EXPECT_EQ(*ParseExecExit(ExecExitToJson(exit)), exit);
  EXPECT_THAT(ParseExecExit("{}"), StatusIs(absl::StatusCode::kDataLoss));
  absl::Status status = absl::NotFoundError("no such \"thing\"");
  EXPECT_EQ(StatusFromJson(StatusToJson(status)), status);
  EXPECT_THAT(StatusFromJson("garbage"), StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(StatusFromJson(R"({"code":99,"error":"x"})"), StatusIs(absl::StatusCode::kUnknown));
}

TEST(FakeMonitorClientTest, ContainerLifecycle) {
  FakeMonitorClient client;
  MonitorConfig config{.id = "c1", .state_dir = "/s/c1"};
  absl::StatusOr<pid_t> pid = client.Create(config);
  ASSERT_THAT(pid, IsOk());
  EXPECT_GT(*pid, 0);
  EXPECT_THAT(client.Create(config), StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_THAT(client.Start("/s/c1"), IsOk());
  EXPECT_THAT(client.Start("/s/c1"), Not(IsOk()));
  ASSERT_THAT(client.ReopenLog("/s/c1"), IsOk());
  EXPECT_EQ(client.Find("/s/c1")->log_reopens, 1);
  EXPECT_THAT(client.Resize("/s/c1", {.rows = 1, .columns = 1}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(client.WaitForExit("/s/c1", absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));

  // Exit from another thread wakes a waiter.
  std::thread exiter([&] {
    absl::SleepFor(absl::Milliseconds(20));
    client.Exit("/s/c1", {.exit_code = 2, .reason = "Error"});
  });
  absl::StatusOr<ExitRecord> exit = client.WaitForExit("/s/c1", absl::Seconds(10));
  exiter.join();
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->exit_code, 2);
  EXPECT_THAT(client.Start("/s/c1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(client.Attach("/s/c1"), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(FakeMonitorClientTest, InjectedCreateFailureCreatesNothing) {
  FakeMonitorClient client;
  client.FailNextCreate(absl::UnknownError("boom"));
  MonitorConfig config{.id = "c1", .state_dir = "/s/c1"};
  EXPECT_THAT(client.Create(config), StatusIs(absl::StatusCode::kUnknown, "boom"));
  EXPECT_FALSE(client.Find("/s/c1").has_value());
  EXPECT_THAT(client.Create(config), IsOk());
}

TEST(FakeMonitorClientTest, ExecsAreScriptedRecordedAndCapped) {
  FakeMonitorClient client;
  client.SetExecHandler([](const ExecConfig& config) -> absl::StatusOr<ExecSyncResult> {
    if (config.container_id == "gone") return absl::FailedPreconditionError("it is stopped");
    return ExecSyncResult{
        .exit = {.exit_code = 1}, .stdout_data = "0123456789", .stderr_data = "e"};
  });
  absl::StatusOr<ExecSyncResult> result = client.ExecSync({.container_id = "c1"}, 4);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->stdout_data, "0123");
  EXPECT_EQ(result->exit.exit_code, 1);
  EXPECT_THAT(client.ExecSync({.container_id = "gone"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "it is stopped"));

  absl::StatusOr<std::unique_ptr<StreamSession>> session = client.Exec({.container_id = "c1"});
  ASSERT_THAT(session, IsOk());
  std::vector<StreamSession::Event::Kind> kinds;
  for (;;) {
    StreamSession::Event event = *(*session)->Next(absl::Seconds(1));
    kinds.push_back(event.kind);
    if (event.kind == StreamSession::Event::kEnd) break;
  }
  EXPECT_THAT(kinds,
              ::testing::ElementsAre(StreamSession::Event::kStdout, StreamSession::Event::kStderr,
                                     StreamSession::Event::kExit, StreamSession::Event::kEnd));
  ASSERT_EQ(client.execs().size(), 3u);
  EXPECT_EQ(client.execs()[1].container_id, "gone");
}

}  // namespace
}  // namespace berth
