// Exec, Attach and PortForward end to end: the RPC over berthd's socket,
// then the session on its streaming server, spoken by a test client written
// apart from the server's framing (tests/support/streaming_client.h) and by
// the real crictl when ../shared/conformance has it. Pods run on the shared
// node of tests/e2e/cri_node.h.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/cri_node.h"
#include "tests/support/spdy_client_session.h"
#include "tests/support/streaming_client.h"
#include "tests/support/upgrade_connection.h"

namespace berth::cri {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Stub = runtime::v1::RuntimeService::Stub;
using berth::testing::RemoteCommandOptions;
using berth::testing::RemoteCommandResult;

// Low enough that the limit and timeout tests reach them quickly.
constexpr int kMaxSessions = 6;
constexpr absl::Duration kCreationTimeout = absl::Seconds(2);
constexpr absl::Duration kIdleTimeout = absl::Seconds(6);

const bool kConfigured = [] {
  Node::SetExtraConfig(absl::StrCat("stream:\n  max_sessions: ", kMaxSessions,
                                    "\n  creation_timeout: ", absl::FormatDuration(kCreationTimeout),
                                    "\n  idle_timeout: ", absl::FormatDuration(kIdleTimeout), "\n"));
  return true;
}();

std::vector<std::string> Sh(const std::string& script) { return {"/bin/sh", "-c", script}; }

nlohmann::json StatusJson(const RemoteCommandResult& result) {
  return nlohmann::json::parse(result.error_data, nullptr, /*allow_exceptions=*/false);
}

// The exit code a v4+ status reports: 0 for Success, -1 when unreadable.
int ExitCodeOf(const RemoteCommandResult& result) {
  nlohmann::json status = StatusJson(result);
  if (!status.is_object()) return -1;
  if (status.value("status", "") == "Success") return 0;
  if (status.value("reason", "") != "NonZeroExitCode") return -1;
  int code = -1;
  for (const auto& cause : status["details"]["causes"])
    if (cause.value("reason", "") == "ExitCode")
      (void)absl::SimpleAtoi(cause.value("message", ""), &code);
  return code;
}

// Processes on the host whose command line contains `marker`.
std::vector<std::string> ProcessesWith(const std::string& marker) {
  std::vector<std::string> found;
  std::error_code ignored;
  for (const auto& proc : fs::directory_iterator("/proc", ignored)) {
    int pid = 0;
    if (!absl::SimpleAtoi(proc.path().filename().string(), &pid)) continue;
    std::string cmdline = ReadFileToString(proc.path().string() + "/cmdline").value_or("");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (absl::StrContains(cmdline, marker)) found.push_back(absl::StrCat(pid, ": ", cmdline));
  }
  return found;
}

int CountEntries(const std::string& dir) {
  std::error_code ignored;
  int count = 0;
  for (auto it = fs::directory_iterator(dir, ignored); it != fs::directory_iterator(); ++it) ++count;
  return count;
}

int64_t RssKiB(pid_t pid) {
  std::string status = ReadFileToString(absl::StrCat("/proc/", pid, "/status")).value_or("");
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    int64_t kib = 0;
    (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(
                               absl::StripAsciiWhitespace(line), "kB")),
                           &kib);
    return kib;
  }
  return -1;
}

class StreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, mounts, cgroups";
    if (::access("/usr/lib/cni/bridge", X_OK) != 0)
      GTEST_SKIP() << "needs containernetworking-plugins (hack/deps installs it)";
    node_ = &Node::Get();
    ASSERT_TRUE(node_->status().ok()) << node_->status() << node_->LogTail();
    ASSERT_TRUE(node_->EnsureServing().ok());
  }

  void TearDown() override {
    if (node_ == nullptr || !node_->status().ok()) return;
    for (const std::string& id : pods_) {
      runtime::v1::RemovePodSandboxRequest request;
      request.set_pod_sandbox_id(id);
      absl::Status removed = client().Call(&Stub::RemovePodSandbox, request).status();
      EXPECT_TRUE(removed.ok()) << "remove pod " << id << ": " << removed;
    }
  }

  CriClient& client() { return node_->client(); }

  // A pod with one running container of busybox running `command`.
  struct Running {
    std::string pod_id;
    std::string container_id;
  };
  absl::StatusOr<Running> RunContainer(const std::string& name,
                                       const std::vector<std::string>& command,
                                       bool tty = false, bool stdin = false) {
    static int counter = 0;
    std::string pod_name = absl::StrCat("stream-", name, "-", ++counter);
    runtime::v1::PodSandboxConfig pod;
    pod.mutable_metadata()->set_name(pod_name);
    pod.mutable_metadata()->set_namespace_("e2e");
    pod.mutable_metadata()->set_uid(absl::StrCat(pod_name, "-uid-", ::getpid()));
    pod.set_hostname(pod_name);
    runtime::v1::RunPodSandboxRequest run;
    *run.mutable_config() = pod;
    ASSIGN_OR_RETURN(runtime::v1::RunPodSandboxResponse ran,
                     client().Call(&Stub::RunPodSandbox, run));
    pods_.push_back(ran.pod_sandbox_id());
    runtime::v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(ran.pod_sandbox_id());
    runtime::v1::ContainerConfig& config = *create.mutable_config();
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(kBusybox);
    for (const std::string& arg : command) config.add_command(arg);
    config.set_tty(tty);
    config.set_stdin(stdin);
    *create.mutable_sandbox_config() = pod;
    ASSIGN_OR_RETURN(runtime::v1::CreateContainerResponse created,
                     client().Call(&Stub::CreateContainer, create));
    runtime::v1::StartContainerRequest start;
    start.set_container_id(created.container_id());
    RETURN_IF_ERROR(client().Call(&Stub::StartContainer, start).status());
    return Running{ran.pod_sandbox_id(), created.container_id()};
  }

  absl::StatusOr<std::string> ExecUrl(const std::string& id, const std::vector<std::string>& cmd,
                                      bool stdin, bool stdout, bool stderr, bool tty = false) {
    runtime::v1::ExecRequest request;
    request.set_container_id(id);
    for (const std::string& arg : cmd) request.add_cmd(arg);
    request.set_stdin(stdin);
    request.set_stdout(stdout);
    request.set_stderr(stderr);
    request.set_tty(tty);
    ASSIGN_OR_RETURN(runtime::v1::ExecResponse response, client().Call(&Stub::Exec, request));
    return response.url();
  }

  absl::StatusOr<std::string> AttachUrl(const std::string& id, bool stdin, bool stdout,
                                        bool stderr) {
    runtime::v1::AttachRequest request;
    request.set_container_id(id);
    request.set_stdin(stdin);
    request.set_stdout(stdout);
    request.set_stderr(stderr);
    ASSIGN_OR_RETURN(runtime::v1::AttachResponse response, client().Call(&Stub::Attach, request));
    return response.url();
  }

  absl::StatusOr<std::string> PortForwardUrl(const std::string& pod_id) {
    runtime::v1::PortForwardRequest request;
    request.set_pod_sandbox_id(pod_id);
    ASSIGN_OR_RETURN(runtime::v1::PortForwardResponse response,
                     client().Call(&Stub::PortForward, request));
    return response.url();
  }

  runtime::v1::ContainerState State(const std::string& id) {
    runtime::v1::ContainerStatusRequest request;
    request.set_container_id(id);
    absl::StatusOr<runtime::v1::ContainerStatusResponse> status =
        client().Call(&Stub::ContainerStatus, request);
    return status.ok() ? status->status().state() : runtime::v1::CONTAINER_UNKNOWN;
  }

  std::string ExecSyncOut(const std::string& id, const std::string& script) {
    runtime::v1::ExecSyncRequest request;
    request.set_container_id(id);
    for (const std::string& arg : Sh(script)) request.add_cmd(arg);
    request.set_timeout(10);
    absl::StatusOr<runtime::v1::ExecSyncResponse> response =
        client().Call(&Stub::ExecSync, request);
    return response.ok() ? response->stdout() : "error: " + response.status().ToString();
  }

  Node* node_ = nullptr;
  std::vector<std::string> pods_;
};

// ---- exec over SPDY ----

TEST_F(StreamingTest, ExecEchoWithStdoutOnly) {
  absl::StatusOr<Running> c = RunContainer("echo", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> url = ExecUrl(c->container_id, {"echo", "hello", "stream"},
                                            /*stdin=*/false, /*stdout=*/true, /*stderr=*/false);
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(absl::StartsWith(*url, "http://127.0.0.1:")) << *url;
  absl::StatusOr<RemoteCommandResult> result = berth::testing::RunSpdyRemoteCommand(*url, {});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->http_status, 101);
  EXPECT_EQ(result->protocol, "v4.channel.k8s.io");
  EXPECT_EQ(result->stdout_data, "hello stream\n");
  EXPECT_EQ(StatusJson(*result), nlohmann::json::parse(R"({"metadata":{},"status":"Success"})"));
  EXPECT_TRUE(result->pong_received);
  EXPECT_THAT(result->streams_unfinished, IsEmpty());
}

TEST_F(StreamingTest, ExecStdinReachesTheProcessAndTheExitCodeComesBack) {
  absl::StatusOr<Running> c = RunContainer("stdin", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> url =
      ExecUrl(c->container_id, Sh("cat; echo to-stderr >&2; exit 3"), true, true, true);
  ASSERT_TRUE(url.ok()) << url.status();
  RemoteCommandOptions options{.stdin = true, .stdout = true, .stderr = true};
  // More than one pipe and socket buffer: input flows while output does.
  options.stdin_data = std::string(1 << 20, 'x') + "\nend of input\n";
  absl::StatusOr<RemoteCommandResult> result = berth::testing::RunSpdyRemoteCommand(*url, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data.size(), options.stdin_data.size());
  EXPECT_TRUE(result->stdout_data == options.stdin_data) << "stdout differs from stdin";
  EXPECT_EQ(result->stderr_data, "to-stderr\n");
  EXPECT_EQ(ExitCodeOf(*result), 3) << result->error_data;
  EXPECT_EQ(StatusJson(*result).value("status", ""), "Failure");
}

TEST_F(StreamingTest, ExecWithATerminalSizedByResizeMessages) {
  absl::StatusOr<Running> c = RunContainer("tty", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> url =
      ExecUrl(c->container_id, {"/bin/sh"}, /*stdin=*/true, /*stdout=*/true, /*stderr=*/false,
              /*tty=*/true);
  ASSERT_TRUE(url.ok()) << url.status();
  RemoteCommandOptions options{.stdin = true, .stdout = true, .tty = true};
  options.resizes = {{111, 33}};
  options.stdin_data = "stty size; tty; exit 7\n";
  absl::StatusOr<RemoteCommandResult> result = berth::testing::RunSpdyRemoteCommand(*url, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->stdout_data, HasSubstr("33 111\r\n"));
  EXPECT_THAT(result->stdout_data, HasSubstr("/dev/pts/"));
  EXPECT_EQ(ExitCodeOf(*result), 7) << result->error_data;
  EXPECT_TRUE(result->stderr_data.empty());
}

TEST_F(StreamingTest, OlderProtocolVersionsGetPlainTextErrors) {
  absl::StatusOr<Running> c = RunContainer("v2", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> url = ExecUrl(c->container_id, Sh("echo old; exit 2"), false, true,
                                            false);
  ASSERT_TRUE(url.ok()) << url.status();
  RemoteCommandOptions options;
  options.protocols = {"v2.channel.k8s.io"};
  absl::StatusOr<RemoteCommandResult> result = berth::testing::RunSpdyRemoteCommand(*url, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->protocol, "v2.channel.k8s.io");
  EXPECT_EQ(result->stdout_data, "old\n");
  EXPECT_THAT(result->error_data, HasSubstr("non-zero exit code"));
  EXPECT_THAT(result->error_data, HasSubstr("exit code 2"));
}

// ---- exec over WebSocket ----

TEST_F(StreamingTest, WebSocketV5ExecWithStdinCloseSignal) {
  absl::StatusOr<Running> c = RunContainer("ws", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> url =
      ExecUrl(c->container_id, Sh("cat; echo err >&2; exit 3"), true, true, true);
  ASSERT_TRUE(url.ok()) << url.status();
  RemoteCommandOptions options{.stdin = true, .stdout = true, .stderr = true};
  options.stdin_data = "over websocket\n";
  absl::StatusOr<RemoteCommandResult> result =
      berth::testing::RunWebSocketRemoteCommand(*url, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->protocol, "v5.channel.k8s.io");
  EXPECT_EQ(result->stdout_data, "over websocket\n");
  EXPECT_EQ(result->stderr_data, "err\n");
  EXPECT_EQ(ExitCodeOf(*result), 3) << result->error_data;
  EXPECT_TRUE(result->pong_received);
}

TEST_F(StreamingTest, WebSocketV4ExecWithATerminal) {
  absl::StatusOr<Running> c = RunContainer("ws4", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> url =
      ExecUrl(c->container_id, {"/bin/sh"}, true, true, false, /*tty=*/true);
  ASSERT_TRUE(url.ok()) << url.status();
  RemoteCommandOptions options{.stdin = true, .stdout = true, .tty = true};
  options.protocols = {"v4.channel.k8s.io"};
  options.resizes = {{90, 20}};
  options.stdin_data = "stty size; exit 0\n";
  absl::StatusOr<RemoteCommandResult> result =
      berth::testing::RunWebSocketRemoteCommand(*url, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->protocol, "v4.channel.k8s.io");
  EXPECT_THAT(result->stdout_data, HasSubstr("20 90\r\n"));
  EXPECT_EQ(ExitCodeOf(*result), 0) << result->error_data;
}

// ---- attach ----

TEST_F(StreamingTest, AttachSeesTheOutputAndDetachingLeavesTheContainerRunning) {
  absl::StatusOr<Running> c = RunContainer(
      "counter", Sh("i=0; while true; do echo tick $i; echo tock $i >&2; i=$((i+1)); sleep 0.2; done"));
  ASSERT_TRUE(c.ok()) << c.status();
  for (const bool websocket : {false, true}) {
    SCOPED_TRACE(websocket ? "websocket" : "spdy");
    absl::StatusOr<std::string> url = AttachUrl(c->container_id, false, true, true);
    ASSERT_TRUE(url.ok()) << url.status();
    RemoteCommandOptions options{.stdout = true, .stderr = true};
    options.stop_when_stdout_contains = "tick";
    options.timeout = absl::Seconds(10);
    absl::StatusOr<RemoteCommandResult> result =
        websocket ? berth::testing::RunWebSocketRemoteCommand(*url, options)
                  : berth::testing::RunSpdyRemoteCommand(*url, options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_THAT(result->stdout_data, HasSubstr("tick"));
    EXPECT_EQ(State(c->container_id), runtime::v1::CONTAINER_RUNNING);
  }
  // Still printing after both detached.
  EXPECT_EQ(ExecSyncOut(c->container_id, "echo alive"), "alive\n");
}

TEST_F(StreamingTest, AttachStdinReachesTheContainer) {
  absl::StatusOr<Running> c =
      RunContainer("reader", Sh("while read line; do echo got:$line; done"), false, true);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> url = AttachUrl(c->container_id, true, true, false);
  ASSERT_TRUE(url.ok()) << url.status();
  RemoteCommandOptions options{.stdin = true, .stdout = true};
  options.stdin_data = "first\nsecond\n";
  options.close_stdin = false;
  options.stop_when_stdout_contains = "got:second";
  absl::StatusOr<RemoteCommandResult> result = berth::testing::RunSpdyRemoteCommand(*url, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->stdout_data, HasSubstr("got:first\ngot:second\n"));
}

// ---- port-forward ----

TEST_F(StreamingTest, PortForwardFetchesPagesFromAServerInThePod) {
  absl::StatusOr<Running> c = RunContainer(
      "httpd", Sh("mkdir -p /www && echo page-from-the-pod > /www/index.html && "
                  "exec httpd -f -p 8080 -h /www"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] {
    return absl::StrContains(ExecSyncOut(c->container_id, "netstat -ltn"), ":8080");
  })) << "httpd never listened";
  absl::StatusOr<std::string> url = PortForwardUrl(c->pod_id);
  ASSERT_TRUE(url.ok()) << url.status();
  auto forward = berth::testing::SpdyPortForwardClient::Connect(*url);
  ASSERT_TRUE(forward.ok()) << forward.status();
  ASSERT_EQ((*forward)->http_status(), 101) << (*forward)->http_body();
  const std::string get = "GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n";
  // Three forwarded connections at once over one SPDY connection.
  absl::StatusOr<std::vector<berth::testing::SpdyPortForwardClient::Exchange>> exchanges =
      (*forward)->ExchangeAll(8080, {get, get, get});
  ASSERT_TRUE(exchanges.ok()) << exchanges.status();
  ASSERT_EQ(exchanges->size(), 3u);
  for (const auto& exchange : *exchanges) {
    EXPECT_THAT(exchange.response, HasSubstr("200 OK"));
    EXPECT_THAT(exchange.response, HasSubstr("page-from-the-pod"));
    EXPECT_EQ(exchange.error, "");
  }
  // A closed port: an error on the error stream, and the connection lives on.
  absl::StatusOr<std::vector<berth::testing::SpdyPortForwardClient::Exchange>> refused =
      (*forward)->ExchangeAll(9, {get});
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_THAT((*refused)[0].error, HasSubstr("error forwarding port 9"));
  EXPECT_THAT((*refused)[0].error, HasSubstr("ECONNREFUSED"));
  absl::StatusOr<std::vector<berth::testing::SpdyPortForwardClient::Exchange>> again =
      (*forward)->ExchangeAll(8080, {get});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT((*again)[0].response, HasSubstr("page-from-the-pod"));
}

TEST_F(StreamingTest, PortForwardDialsInsideThePodNotOnTheHost) {
  // A listener on the host's loopback that the pod must not reach.
  UniqueFd host(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(host.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(host.get(), 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(host.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  uint16_t port = ntohs(address.sin_port);

  absl::StatusOr<Running> c = RunContainer("isolated", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> url = PortForwardUrl(c->pod_id);
  ASSERT_TRUE(url.ok()) << url.status();
  auto forward = berth::testing::SpdyPortForwardClient::Connect(*url);
  ASSERT_TRUE(forward.ok()) << forward.status();
  absl::StatusOr<std::vector<berth::testing::SpdyPortForwardClient::Exchange>> exchanges =
      (*forward)->ExchangeAll(port, {"hello?"});
  ASSERT_TRUE(exchanges.ok()) << exchanges.status();
  EXPECT_THAT((*exchanges)[0].error, HasSubstr("ECONNREFUSED"));
}

// ---- the RPCs' checks and the tokens ----

TEST_F(StreamingTest, RequestsAreCheckedBeforeAnyUrlIsMade) {
  absl::StatusOr<Running> c = RunContainer("checks", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  auto code = [](const absl::StatusOr<std::string>& url) { return url.status().code(); };
  EXPECT_EQ(code(ExecUrl("no-such-container", {"true"}, false, true, false)),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(code(ExecUrl(c->container_id, {"true"}, false, false, false)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(ExecUrl(c->container_id, {"true"}, false, true, true, /*tty=*/true)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(ExecUrl(c->container_id, {}, false, true, false)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(AttachUrl("no-such-container", false, true, false)),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(code(PortForwardUrl("no-such-pod")), absl::StatusCode::kNotFound);

  absl::StatusOr<Running> ended = RunContainer("ended", {"true"});
  ASSERT_TRUE(ended.ok()) << ended.status();
  ASSERT_TRUE(Eventually([&] { return State(ended->container_id) == runtime::v1::CONTAINER_EXITED; }));
  EXPECT_EQ(code(ExecUrl(ended->container_id, {"true"}, false, true, false)),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(code(AttachUrl(ended->container_id, false, true, false)),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StreamingTest, ATokenServesOneSessionAndUnknownTokensAre404) {
  absl::StatusOr<Running> c = RunContainer("token", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::string> url = ExecUrl(c->container_id, {"true"}, false, true, false);
  ASSERT_TRUE(url.ok()) << url.status();
  std::string token = url->substr(url->rfind('/') + 1);
  EXPECT_GE(token.size(), 22u) << "a token with at least 128 random bits";
  absl::StatusOr<RemoteCommandResult> first = berth::testing::RunSpdyRemoteCommand(*url, {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->http_status, 101);
  absl::StatusOr<RemoteCommandResult> second = berth::testing::RunSpdyRemoteCommand(*url, {});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->http_status, 404);
  std::string forged = url->substr(0, url->rfind('/') + 1) + "AAAAAAAAAAAAAAAAAAAAAA";
  absl::StatusOr<RemoteCommandResult> guessed = berth::testing::RunSpdyRemoteCommand(forged, {});
  ASSERT_TRUE(guessed.ok()) << guessed.status();
  EXPECT_EQ(guessed->http_status, 404);
  // An exec token is no attach token.
  absl::StatusOr<std::string> exec_url = ExecUrl(c->container_id, {"true"}, false, true, false);
  ASSERT_TRUE(exec_url.ok());
  std::string as_attach = absl::StrCat(exec_url->substr(0, exec_url->find("/exec/")), "/attach/",
                                       exec_url->substr(exec_url->rfind('/') + 1));
  absl::StatusOr<RemoteCommandResult> crossed = berth::testing::RunSpdyRemoteCommand(as_attach, {});
  ASSERT_TRUE(crossed.ok()) << crossed.status();
  EXPECT_EQ(crossed->http_status, 404);
}

// ---- many sessions, limits, and clients that misbehave ----

TEST_F(StreamingTest, ManySessionsAtOnce) {
  absl::StatusOr<Running> c = RunContainer("many", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  constexpr int kSessions = kMaxSessions;
  std::vector<std::string> urls;
  for (int i = 0; i < kSessions; ++i) {
    absl::StatusOr<std::string> url =
        ExecUrl(c->container_id, Sh(absl::StrCat("sleep 0.5; echo session-", i)), false, true, false);
    ASSERT_TRUE(url.ok()) << url.status();
    urls.push_back(*url);
  }
  std::vector<absl::StatusOr<RemoteCommandResult>> results(kSessions, absl::UnknownError(""));
  std::vector<std::thread> clients;
  for (int i = 0; i < kSessions; ++i)
    clients.emplace_back([&, i] {
      results[i] = i % 2 ? berth::testing::RunWebSocketRemoteCommand(urls[i], {})
                         : berth::testing::RunSpdyRemoteCommand(urls[i], {});
    });
  for (std::thread& t : clients) t.join();
  for (int i = 0; i < kSessions; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->stdout_data, absl::StrCat("session-", i, "\n"));
    EXPECT_EQ(ExitCodeOf(*results[i]), 0);
  }
}

TEST_F(StreamingTest, SessionsBeyondTheLimitGet503) {
  absl::StatusOr<Running> c = RunContainer("limit", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  // Hold kMaxSessions sessions open (each waits on stdin), then one more.
  std::vector<std::thread> holders;
  std::atomic<int> held{0};
  for (int i = 0; i < kMaxSessions; ++i) {
    absl::StatusOr<std::string> url =
        ExecUrl(c->container_id, Sh("echo holding; read line; echo done"), true, true, false);
    ASSERT_TRUE(url.ok()) << url.status();
    holders.emplace_back([&, url = *url] {
      RemoteCommandOptions options{.stdin = true, .stdout = true};
      options.close_stdin = false;
      options.stop_when_stdout_contains = "released";  // never: the client hangs up at timeout
      options.timeout = absl::Seconds(4);
      ++held;
      (void)berth::testing::RunSpdyRemoteCommand(url, options);
    });
  }
  ASSERT_TRUE(Eventually([&] {
    return absl::StrContains(ExecSyncOut(c->container_id, "ps"), "read line") && held == kMaxSessions;
  }));
  absl::SleepFor(absl::Milliseconds(500));
  absl::StatusOr<std::string> url = ExecUrl(c->container_id, {"true"}, false, true, false);
  ASSERT_TRUE(url.ok()) << url.status();
  absl::StatusOr<RemoteCommandResult> refused = berth::testing::RunSpdyRemoteCommand(*url, {});
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->http_status, 503);
  for (std::thread& t : holders) t.join();
  // Once they are gone, sessions are served again.
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<std::string> next = ExecUrl(c->container_id, {"true"}, false, true, false);
    if (!next.ok()) return false;
    absl::StatusOr<RemoteCommandResult> served = berth::testing::RunSpdyRemoteCommand(*next, {});
    return served.ok() && served->http_status == 101;
  }));
}

TEST_F(StreamingTest, AClientThatHangsUpLeavesNoProcessFdOrThreadBehind) {
  absl::StatusOr<Running> c = RunContainer("hangup", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  pid_t berthd = node_->berthd_pid();
  std::string fds = absl::StrCat("/proc/", berthd, "/fd");
  std::string tasks = absl::StrCat("/proc/", berthd, "/task");
  // Warm up: the first session may start threads that stay (gRPC's pool).
  absl::StatusOr<std::string> warm = ExecUrl(c->container_id, {"true"}, false, true, false);
  ASSERT_TRUE(warm.ok());
  ASSERT_TRUE(berth::testing::RunSpdyRemoteCommand(*warm, {}).ok());
  absl::SleepFor(absl::Milliseconds(300));
  int fds_before = CountEntries(fds), tasks_before = CountEntries(tasks);

  const std::string marker = absl::StrCat("sleep 31", ::getpid() % 1000);
  for (const bool websocket : {false, true}) {
    absl::StatusOr<std::string> url =
        ExecUrl(c->container_id, Sh("echo started; " + marker), true, true, true);
    ASSERT_TRUE(url.ok()) << url.status();
    RemoteCommandOptions options{.stdin = true, .stdout = true, .stderr = true};
    options.close_stdin = false;
    options.stop_when_stdout_contains = "started";
    absl::StatusOr<RemoteCommandResult> result =
        websocket ? berth::testing::RunWebSocketRemoteCommand(*url, options)
                  : berth::testing::RunSpdyRemoteCommand(*url, options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_THAT(result->stdout_data, HasSubstr("started"));
  }
  EXPECT_TRUE(Eventually([&] { return ProcessesWith(marker).empty(); }))
      << "left running: " << absl::StrJoin(ProcessesWith(marker), "\n");
  EXPECT_TRUE(Eventually([&] { return CountEntries(fds) <= fds_before; }))
      << "berthd fds: " << CountEntries(fds) << " after, " << fds_before << " before";
  EXPECT_TRUE(Eventually([&] { return CountEntries(tasks) <= tasks_before; }))
      << "berthd threads: " << CountEntries(tasks) << " after, " << tasks_before << " before";
}

TEST_F(StreamingTest, AClientThatNeverOpensItsStreamsIsCutOff) {
  absl::StatusOr<Running> c = RunContainer("creation", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string marker = absl::StrCat("never-started-", ::getpid());
  absl::StatusOr<std::string> url =
      ExecUrl(c->container_id, Sh("echo " + marker), false, true, false);
  ASSERT_TRUE(url.ok()) << url.status();
  absl::StatusOr<std::unique_ptr<berth::testing::SpdyClientSession>> session =
      berth::testing::OpenSpdySession(*url, {"v4.channel.k8s.io"}, absl::Seconds(20));
  ASSERT_TRUE(session.ok()) << session.status();
  // The error stream only: stdout, which the request implies, never comes.
  ASSERT_TRUE((*session)->OpenStream({{"streamtype", "error"}}).ok());
  absl::Time start = absl::Now();
  absl::Status closed =
      (*session)->RunUntil([] { return false; }, "the server to give up on the streams");
  EXPECT_TRUE(closed.ok()) << closed;
  EXPECT_TRUE((*session)->connection_closed());
  absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, kCreationTimeout - absl::Milliseconds(200));
  EXPECT_LT(waited, kCreationTimeout + absl::Seconds(3));
}

TEST_F(StreamingTest, AnIdleSessionIsClosedAndItsProcessEnds) {
  absl::StatusOr<Running> c = RunContainer("idle", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string marker = absl::StrCat("sleep 47", ::getpid() % 1000);
  absl::StatusOr<std::string> url =
      ExecUrl(c->container_id, Sh("echo started; " + marker), false, true, false);
  ASSERT_TRUE(url.ok()) << url.status();
  RemoteCommandOptions options;
  options.timeout = kIdleTimeout + absl::Seconds(10);
  absl::Time start = absl::Now();
  absl::StatusOr<RemoteCommandResult> result = berth::testing::RunSpdyRemoteCommand(*url, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(absl::Now() - start, kIdleTimeout - absl::Milliseconds(200));
  EXPECT_EQ(result->stdout_data, "started\n");
  EXPECT_EQ(result->error_data, "") << "closed for idleness, not ended";
  EXPECT_TRUE(Eventually([&] { return ProcessesWith(marker).empty(); }))
      << "left running: " << absl::StrJoin(ProcessesWith(marker), "\n");
}

TEST_F(StreamingTest, AClientThatStopsReadingDoesNotMakeBerthdBuffer) {
  absl::StatusOr<Running> c = RunContainer("flood", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string marker = absl::StrCat("flood-", ::getpid());
  absl::StatusOr<std::string> url = ExecUrl(
      c->container_id, Sh(absl::StrCat("while true; do cat /bin/busybox; done # ", marker)),
      false, true, false);
  ASSERT_TRUE(url.ok()) << url.status();
  absl::StatusOr<std::unique_ptr<berth::testing::SpdyClientSession>> session =
      berth::testing::OpenSpdySession(*url, {"v4.channel.k8s.io"}, absl::Seconds(20));
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->OpenStream({{"streamtype", "error"}}).ok());
  absl::StatusOr<uint32_t> stdout_stream = (*session)->OpenStream({{"streamtype", "stdout"}});
  ASSERT_TRUE(stdout_stream.ok()) << stdout_stream.status();
  // Read a little to see the flood flowing, then stop reading.
  (*session)->mutable_stream(*stdout_stream).keep_data = false;
  ASSERT_TRUE((*session)
                  ->RunUntil([&] { return (*session)->stream(*stdout_stream).bytes_received > (1 << 20); },
                             "the first MiB of output")
                  .ok());
  pid_t berthd = node_->berthd_pid();
  int64_t before = RssKiB(berthd);
  absl::SleepFor(absl::Seconds(3));
  int64_t after = RssKiB(berthd);
  EXPECT_LT(after - before, 16 * 1024) << "berthd grew from " << before << " KiB to " << after
                                       << " KiB while the client read nothing";
  (*session)->HangUp();
  EXPECT_TRUE(Eventually([&] { return ProcessesWith(marker).empty(); }))
      << "left running: " << absl::StrJoin(ProcessesWith(marker), "\n");
}


// ---- the real crictl (../shared/conformance), over both transports ----

namespace crictl {

std::string Binary() {
  const char* dir = std::getenv("BERTH_CONFORMANCE_DIR");
  return dir ? absl::StrCat(dir, "/bin/crictl")
             : absl::StrCat(BERTH_SOURCE_DIR, "/../shared/conformance/bin/crictl");
}

// Reads `path` until it contains `text` or `timeout` passes.
std::string WaitForText(const std::string& path, const std::string& text,
                        absl::Duration timeout = absl::Seconds(15)) {
  std::string content;
  Eventually([&] {
    content = ReadFileToString(path).value_or("");
    return absl::StrContains(content, text);
  }, timeout);
  return content;
}

// A blocking HTTP/1.0 GET to 127.0.0.1:port; the whole response.
std::string HttpGet(uint16_t port, const std::string& path) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return "";
  timeval five{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &five, sizeof(five));
  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: pod\r\n\r\n");
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return "";
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd.get(), buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, n);
  return response;
}

}  // namespace crictl

class CrictlStreamingTest : public StreamingTest {
 protected:
  void SetUp() override {
    StreamingTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (::access(crictl::Binary().c_str(), X_OK) != 0)
      GTEST_SKIP() << crictl::Binary() << " is absent (../shared/conformance)";
  }

  std::vector<std::string> Crictl(std::vector<std::string> args) {
    // A config file of its own, or crictl warns on stderr about the absent ones.
    std::string config = dir_.Join("crictl.yaml");
    (void)WriteFileAtomically(config, absl::StrCat("runtime-endpoint: unix://", node_->socket(),
                                                  "\nimage-endpoint: unix://", node_->socket(),
                                                  "\ntimeout: 20\n"));
    std::vector<std::string> argv = {crictl::Binary(), "--config", config};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Runs crictl to its end with `input` on stdin; its exit code and output.
  std::pair<int, std::string> RunCrictl(const std::vector<std::string>& args,
                                        const std::string& input = "") {
    std::string in = dir_.Join("stdin"), out = dir_.Join(absl::StrCat("out-", ++runs_));
    (void)WriteFileAtomically(in, input);
    UniqueFd stdin_fd(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
    absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(
        Crictl(args), {.stdout_path = out, .stderr_path = out, .stdin_fd = stdin_fd.get()});
    if (!child.ok()) return {-1, child.status().ToString()};
    absl::StatusOr<ExitStatus> ended = child->WaitFor(absl::Seconds(30));
    std::string output = ReadFileToString(out).value_or("");
    if (!ended.ok()) return {-1, "crictl did not end: " + output};
    return {ended->ShellCode(), output};
  }

  TempDir dir_;
  int runs_ = 0;
};

TEST_F(CrictlStreamingTest, ExecWithAndWithoutStdinOverBothTransports) {
  absl::StatusOr<Running> c = RunContainer("crictl-exec", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  for (const std::string transport : {"spdy", "websocket"}) {
    SCOPED_TRACE(transport);
    auto [code, output] = RunCrictl({"exec", "--transport", transport, c->container_id, "sh", "-c",
                                     "echo out-" + transport + "; echo err-" + transport + " >&2"});
    EXPECT_EQ(code, 0) << output;
    EXPECT_THAT(output, HasSubstr("out-" + transport + "\n"));
    EXPECT_THAT(output, HasSubstr("err-" + transport + "\n"));

    std::tie(code, output) =
        RunCrictl({"exec", "-i", "--transport", transport, c->container_id, "cat"},
                  "fed through stdin\n");
    EXPECT_EQ(code, 0) << output;
    EXPECT_EQ(output, "fed through stdin\n");

    std::tie(code, output) =
        RunCrictl({"exec", "--transport", transport, c->container_id, "sh", "-c", "exit 3"});
    EXPECT_NE(code, 0);
    EXPECT_THAT(output, HasSubstr("exit code 3"));
  }
}

TEST_F(CrictlStreamingTest, ExecWithATerminalOverBothTransports) {
  absl::StatusOr<Running> c = RunContainer("crictl-tty", {"sleep", "1000"});
  ASSERT_TRUE(c.ok()) << c.status();
  for (const std::string transport : {"spdy", "websocket"}) {
    SCOPED_TRACE(transport);
    UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    ASSERT_TRUE(master.valid());
    ASSERT_EQ(::grantpt(master.get()), 0);
    ASSERT_EQ(::unlockpt(master.get()), 0);
    std::string slave_path = ::ptsname(master.get());
    UniqueFd slave(::open(slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    winsize size{.ws_row = 33, .ws_col = 111, .ws_xpixel = 0, .ws_ypixel = 0};
    ASSERT_EQ(::ioctl(slave.get(), TIOCSWINSZ, &size), 0);
    absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(
        Crictl({"exec", "-it", "--transport", transport, c->container_id, "sh"}),
        {.stdout_path = slave_path, .stderr_path = slave_path, .stdin_fd = slave.get()});
    ASSERT_TRUE(child.ok()) << child.status();
    slave.Reset();
    std::string seen;
    auto read_until = [&](const std::string& text) {
      return Eventually([&] {
        pollfd p{master.get(), POLLIN, 0};
        char buffer[4096];
        while (::poll(&p, 1, 50) > 0) {
          ssize_t n = ::read(master.get(), buffer, sizeof(buffer));
          if (n <= 0) break;
          seen.append(buffer, n);
        }
        return absl::StrContains(seen, text);
      }, absl::Seconds(15));
    };
    ASSERT_TRUE(read_until("# ")) << "no prompt: " << seen;
    std::string command = "stty size; tty; exit 5\n";
    ASSERT_EQ(::write(master.get(), command.data(), command.size()),
              static_cast<ssize_t>(command.size()));
    EXPECT_TRUE(read_until("exit code 5")) << seen;
    EXPECT_THAT(seen, HasSubstr("33 111"));
    EXPECT_THAT(seen, HasSubstr("/dev/pts/"));
    absl::StatusOr<ExitStatus> ended = child->WaitFor(absl::Seconds(10));
    ASSERT_TRUE(ended.ok()) << seen;
  }
}

TEST_F(CrictlStreamingTest, AttachOverBothTransports) {
  absl::StatusOr<Running> c =
      RunContainer("crictl-attach", Sh("i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"));
  ASSERT_TRUE(c.ok()) << c.status();
  for (const std::string transport : {"spdy", "websocket"}) {
    SCOPED_TRACE(transport);
    std::string out = dir_.Join("attach-" + transport);
    absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(
        Crictl({"attach", "--transport", transport, c->container_id}),
        {.stdout_path = out, .stderr_path = out});
    ASSERT_TRUE(child.ok()) << child.status();
    std::string seen = crictl::WaitForText(out, "tick");
    EXPECT_THAT(seen, HasSubstr("tick"));
    // Detaching, however abruptly, leaves the container running.
    (void)child->Signal(SIGKILL);
    (void)child->WaitFor(absl::Seconds(10));
    EXPECT_EQ(State(c->container_id), runtime::v1::CONTAINER_RUNNING);
  }
}

TEST_F(CrictlStreamingTest, PortForwardOverBothTransports) {
  absl::StatusOr<Running> c = RunContainer(
      "crictl-pf", Sh("mkdir -p /www && echo served-to-crictl > /www/index.html && "
                      "exec httpd -f -p 8080 -h /www"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] {
    return absl::StrContains(ExecSyncOut(c->container_id, "netstat -ltn"), ":8080");
  }));
  for (const std::string transport : {"spdy", "websocket"}) {
    SCOPED_TRACE(transport);
    std::string out = dir_.Join("pf-" + transport);
    // Local port 0: crictl picks one and says which.
    absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(
        Crictl({"port-forward", "--transport", transport, c->pod_id, "0:8080"}),
        {.stdout_path = out, .stderr_path = out});
    ASSERT_TRUE(child.ok()) << child.status();
    std::string said = crictl::WaitForText(out, "-> 8080");
    size_t at = said.find("127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << said;
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(
        said.substr(at + 10, said.find(' ', at) - at - 10), &port)) << said;
    for (int i = 0; i < 2; ++i) {
      std::string response = crictl::HttpGet(static_cast<uint16_t>(port), "/index.html");
      EXPECT_THAT(response, HasSubstr("200 OK"));
      EXPECT_THAT(response, HasSubstr("served-to-crictl"));
    }
    (void)child->Signal(SIGKILL);
    (void)child->WaitFor(absl::Seconds(10));
  }
}


// ---- TLS: a berthd of its own with stream.tls_cert_file and tls_key_file ----

TEST(TlsStreamingTest, CrictlPortForwardsOverHttpsToAHostNetworkPod) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, mounts, cgroups";
  if (::access(crictl::Binary().c_str(), X_OK) != 0)
    GTEST_SKIP() << crictl::Binary() << " is absent (../shared/conformance)";
  TempDir dir;
  std::string cert = dir.Join("stream.crt"), key = dir.Join("stream.key");
  std::string made = RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                 "-days", "1", "-subj", "/CN=localhost", "-addext",
                                 "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key,
                                 "-out", cert});
  ASSERT_TRUE(fs::exists(cert) && fs::exists(key)) << made;
  BerthdUnderTest berthd(dir);
  absl::Status started = berthd.Start(
      absl::StrCat("stream:\n  tls_cert_file: ", cert, "\n  tls_key_file: ", key, "\n"));
  ASSERT_TRUE(started.ok()) << started;

  // Something on the host's loopback for the host-network pod to reach.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  uint16_t target = ntohs(address.sin_port);
  std::thread greeter([&] {
    UniqueFd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!peer) return;
    std::string hello = "hello over tls\n";
    (void)::send(peer.get(), hello.data(), hello.size(), MSG_NOSIGNAL);
  });
  absl::Cleanup stop_greeter = [&] {
    ::shutdown(listener.get(), SHUT_RDWR);
    greeter.join();
  };

  runtime::v1::RunPodSandboxRequest run;
  runtime::v1::PodSandboxConfig& pod = *run.mutable_config();
  pod.mutable_metadata()->set_name("tls-pod");
  pod.mutable_metadata()->set_namespace_("e2e");
  pod.mutable_metadata()->set_uid(absl::StrCat("tls-pod-", ::getpid()));
  pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
      runtime::v1::NODE);
  absl::StatusOr<runtime::v1::RunPodSandboxResponse> ran =
      berthd.client().Call(&Stub::RunPodSandbox, run);
  ASSERT_TRUE(ran.ok()) << ran.status();
  // However the test ends, the pod goes before berthd does (a pod's monitor
  // outlives its berthd).
  absl::Cleanup remove_pod = [&] {
    runtime::v1::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(ran->pod_sandbox_id());
    EXPECT_TRUE(berthd.client().Call(&Stub::RemovePodSandbox, remove).ok());
    (void)berthd.process().Signal(SIGTERM);
    (void)berthd.process().WaitFor(absl::Seconds(20));
  };

  runtime::v1::PortForwardRequest forward;
  forward.set_pod_sandbox_id(ran->pod_sandbox_id());
  absl::StatusOr<runtime::v1::PortForwardResponse> url =
      berthd.client().Call(&Stub::PortForward, forward);
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(absl::StartsWith(url->url(), "https://127.0.0.1:")) << url->url();

  std::string config = dir.Join("crictl.yaml"), out = dir.Join("crictl.out");
  ASSERT_TRUE(WriteFileAtomically(config, absl::StrCat("runtime-endpoint: unix://", berthd.socket(),
                                                       "\ntimeout: 20\n"))
                  .ok());
  absl::StatusOr<ChildProcess> crictl = ChildProcess::Spawn(
      // crictl wants a client certificate too; the server does not ask for one.
      {crictl::Binary(), "--config", config, "port-forward", "--tls-ca", cert, "--tls-cert", cert,
       "--tls-key", key,
       ran->pod_sandbox_id(), absl::StrCat("0:", target)},
      {.stdout_path = out, .stderr_path = out});
  ASSERT_TRUE(crictl.ok()) << crictl.status();
  std::string said = crictl::WaitForText(out, absl::StrCat("-> ", target));
  size_t at = said.find("127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << said << berthd.Log();
  int local = 0;
  ASSERT_TRUE(absl::SimpleAtoi(said.substr(at + 10, said.find(' ', at) - at - 10), &local)) << said;
  std::string response = crictl::HttpGet(static_cast<uint16_t>(local), "/");
  EXPECT_EQ(response, "hello over tls\n") << ReadFileToString(out).value_or("");
  (void)crictl->Signal(SIGKILL);
  (void)crictl->WaitFor(absl::Seconds(10));
}

}  // namespace
}  // namespace berth::cri
