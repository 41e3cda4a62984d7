#include "tests/support/streaming_client.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/status_macros.h"
#include "tests/support/spdy_client_session.h"
#include "tests/support/upgrade_connection.h"
#include "tests/support/websocket_client_codec.h"
#include "tests/support/websocket_client_session.h"

namespace berth::testing {
namespace {

constexpr char kPortForwardProtocol[] = "portforward.k8s.io";
constexpr char kUserAgent[] = "berth-streaming-test-client";
// client-go copies stdin with io.Copy, whose buffer is 32 KiB: one WebSocket
// message per read.
constexpr size_t kStdinChunk = 32 * 1024;
constexpr size_t kMaxOutputBytes = 64 * 1024 * 1024;

// WebSocket channels (the stream types of the SPDY protocols, numbered).
enum Channel : uint8_t {
  kStdinChannel = 0,
  kStdoutChannel = 1,
  kStderrChannel = 2,
  kErrorChannel = 3,
  kResizeChannel = 4,
  kCloseSignalChannel = 255,  // v5: the payload is the channel closed
};

absl::Status Violation(absl::string_view protocol, absl::string_view what) {
  return absl::InternalError(absl::StrCat(protocol, " protocol violation: ", what));
}

absl::Status CheckOptions(const RemoteCommandOptions& options) {
  if (!options.stdin && !options.stdin_data.empty()) {
    return absl::InvalidArgumentError("stdin_data given without stdin");
  }
  if (!options.tty && !options.resizes.empty()) {
    return absl::InvalidArgumentError("resizes given without tty");
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout must be positive");
  }
  return absl::OkStatus();
}

// client-go's json.Encoder writes each size as one line.
std::string ResizeMessage(uint16_t width, uint16_t height) {
  return absl::StrCat("{\"Width\":", width, ",\"Height\":", height, "}\n");
}

// "12 bytes \"hello...\"", for timeout messages.
std::string Preview(absl::string_view data) {
  constexpr size_t kPreviewBytes = 200;
  std::string text = absl::CHexEscape(data.substr(0, kPreviewBytes));
  return absl::StrCat(data.size(), " bytes \"", text, data.size() > kPreviewBytes ? "...\"" : "\"");
}

std::string DescribeOutput(const RemoteCommandResult& result) {
  return absl::StrCat("stdout so far: ", Preview(result.stdout_data),
                      "; stderr: ", Preview(result.stderr_data),
                      "; error: ", Preview(result.error_data));
}

absl::Status AppendOutput(std::string& sink, absl::string_view data, absl::string_view name) {
  if (sink.size() + data.size() > kMaxOutputBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("more than ", kMaxOutputBytes, " bytes on ", name));
  }
  sink.append(data.data(), data.size());
  return absl::OkStatus();
}

bool ContainsToken(const HttpResponse& response, absl::string_view header,
                   absl::string_view token) {
  for (const std::string& value : response.HeaderTokens(header)) {
    if (absl::EqualsIgnoreCase(value, token)) return true;
  }
  return false;
}

// Upgrade and response, before any protocol-specific check.
struct Upgrade {
  UpgradeConnection connection;
  HttpResponse response;
};

absl::StatusOr<Upgrade> RequestUpgrade(const std::string& url, absl::string_view method,
                                       const HttpHeaders& headers, absl::Time deadline) {
  ASSIGN_OR_RETURN(HttpUrl parsed, ParseHttpUrl(url));
  ASSIGN_OR_RETURN(UpgradeConnection connection, UpgradeConnection::Connect(parsed, deadline));
  ASSIGN_OR_RETURN(
      HttpResponse response,
      ExchangeUpgradeRequest(connection, BuildHttpRequest(method, parsed, headers), deadline));
  return Upgrade{std::move(connection), std::move(response)};
}

// ---- SPDY -----------------------------------------------------------------

std::vector<std::string> SpdyProtocols(const RemoteCommandOptions& options) {
  if (!options.protocols.empty()) return options.protocols;
  return {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"};
}

absl::StatusOr<Upgrade> RequestSpdyUpgrade(const std::string& url,
                                           const std::vector<std::string>& protocols,
                                           absl::Time deadline) {
  HttpHeaders headers = {
      {"User-Agent", kUserAgent}, {"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}};
  for (const std::string& protocol : protocols) {
    headers.emplace_back("X-Stream-Protocol-Version", protocol);
  }
  // Go's HTTP client sends a zero length on a POST without a body.
  headers.emplace_back("Content-Length", "0");
  return RequestUpgrade(url, "POST", headers, deadline);
}

// The 101 checks of client-go's SpdyRoundTripper.NewConnection, then the
// negotiated version, which must be one the client offered.
absl::StatusOr<std::string> CheckSpdyUpgrade(const HttpResponse& response,
                                             const std::vector<std::string>& offered) {
  if (!ContainsToken(response, "connection", "upgrade")) {
    return Violation("HTTP", "101 without Connection: Upgrade");
  }
  if (!absl::StrContains(absl::AsciiStrToLower(response.Header("upgrade")), "spdy/3.1")) {
    return Violation("HTTP", absl::StrCat("101 with Upgrade \"", response.Header("upgrade"),
                                          "\" (want SPDY/3.1)"));
  }
  std::vector<std::string> chosen = response.HeaderTokens("x-stream-protocol-version");
  if (chosen.size() != 1) {
    return Violation("HTTP", absl::StrCat("101 with ", chosen.size(),
                                          " X-Stream-Protocol-Version values (want 1)"));
  }
  if (std::find(offered.begin(), offered.end(), chosen[0]) == offered.end()) {
    return Violation("HTTP", absl::StrCat("the server chose protocol \"", chosen[0],
                                          "\", which the client did not offer"));
  }
  return chosen[0];
}

bool HasResizeStream(absl::string_view protocol) {
  return protocol == "v3.channel.k8s.io" || protocol == "v4.channel.k8s.io";
}

// One exec/attach session over an upgraded SPDY connection.
class SpdyRemoteCommand {
 public:
  SpdyRemoteCommand(SpdyClientSession& session, const RemoteCommandOptions& options,
                    RemoteCommandResult& result)
      : session_(session), options_(options), result_(result) {}

  absl::Status Run() {
    if (!options_.resizes.empty() && !HasResizeStream(result_.protocol)) {
      return absl::FailedPreconditionError(
          absl::StrCat("resizes asked for, but ", result_.protocol, " has no resize stream"));
    }
    if (options_.send_ping) session_.SendPing();
    RETURN_IF_ERROR(OpenStreams());
    RETURN_IF_ERROR(SendInput());
    absl::Status status = session_.RunUntil([&] { return OutputDone() || StopMarkerSeen(); },
                                            "the server to close the output streams");
    Collect();
    if (absl::IsDeadlineExceeded(status)) {
      return absl::DeadlineExceededError(
          absl::StrCat(status.message(), " (", DescribeOutput(result_), ")"));
    }
    RETURN_IF_ERROR(status);
    RETURN_IF_ERROR(CheckInputStreamsUnwritten());
    if (StopMarkerSeen()) {
      session_.HangUp();
      return absl::OkStatus();
    }
    if (options_.send_ping && !session_.ping_answered()) {
      // Frames after the last FIN may still hold the answer.
      RETURN_IF_ERROR(session_.RunUntil([&] { return session_.ping_answered(); },
                                        "the answer to the client's PING"));
      result_.pong_received = session_.ping_answered();
      if (!result_.pong_received) {
        return Violation("SPDY", "the session ended without an answer to the client's PING");
      }
    }
    session_.SayGoodbye();
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<uint32_t> Open(absl::string_view type) {
    return session_.OpenStream({{"streamtype", std::string(type)}});
  }

  // The order of client-go's streamProtocolV2/V3 createStreams.
  absl::Status OpenStreams() {
    ASSIGN_OR_RETURN(error_, Open("error"));
    if (options_.stdin) {
      ASSIGN_OR_RETURN(stdin_, Open("stdin"));
    }
    if (options_.stdout) {
      ASSIGN_OR_RETURN(stdout_, Open("stdout"));
    }
    if (options_.stderr && !options_.tty) {
      ASSIGN_OR_RETURN(stderr_, Open("stderr"));
    }
    if (options_.tty && HasResizeStream(result_.protocol)) {
      ASSIGN_OR_RETURN(resize_, Open("resize"));
    }
    return absl::OkStatus();
  }

  absl::Status SendInput() {
    for (const auto& [width, height] : options_.resizes) {
      RETURN_IF_ERROR(session_.Write(*resize_, ResizeMessage(width, height), /*fin=*/false));
    }
    if (stdin_.has_value()) {
      RETURN_IF_ERROR(session_.Write(*stdin_, options_.stdin_data, options_.close_stdin));
    }
    return absl::OkStatus();
  }

  // The server reads stdin and resize; it has nothing to write there.
  absl::Status CheckInputStreamsUnwritten() const {
    for (const std::optional<uint32_t>& id : {stdin_, resize_}) {
      if (id.has_value() && !session_.stream(*id).data.empty()) {
        return Violation("SPDY", absl::StrCat("the server wrote ", session_.stream(*id).data.size(),
                                              " bytes on ", session_.stream(*id).label));
      }
    }
    return absl::OkStatus();
  }

  bool Closed(const std::optional<uint32_t>& stream_id) const {
    return !stream_id.has_value() || session_.stream(*stream_id).remote_closed;
  }

  bool OutputDone() const { return Closed(error_) && Closed(stdout_) && Closed(stderr_); }

  bool StopMarkerSeen() const {
    return !options_.stop_when_stdout_contains.empty() && stdout_.has_value() &&
           absl::StrContains(session_.stream(*stdout_).data, options_.stop_when_stdout_contains);
  }

  void Collect() {
    auto data = [&](const std::optional<uint32_t>& id) {
      return id.has_value() ? session_.stream(*id).data : std::string();
    };
    result_.error_data = data(error_);
    result_.stdout_data = data(stdout_);
    result_.stderr_data = data(stderr_);
    result_.pong_received = options_.send_ping && session_.ping_answered();
    result_.streams_reset_by_server.clear();
    for (const std::optional<uint32_t>& id : {error_, stdin_, stdout_, stderr_, resize_}) {
      if (id.has_value() && session_.stream(*id).reset_by_server) {
        result_.streams_reset_by_server.push_back(session_.stream(*id).label);
      }
    }
    result_.streams_unfinished.clear();
    for (const std::optional<uint32_t>& id : {error_, stdout_, stderr_}) {
      if (!Closed(id)) result_.streams_unfinished.push_back(session_.stream(*id).label);
    }
  }

  SpdyClientSession& session_;
  const RemoteCommandOptions& options_;
  RemoteCommandResult& result_;
  std::optional<uint32_t> error_, stdin_, stdout_, stderr_, resize_;
};

// ---- WebSocket --------------------------------------------------------------

std::vector<std::string> WebSocketProtocols(const RemoteCommandOptions& options) {
  if (!options.protocols.empty()) return options.protocols;
  return {"v5.channel.k8s.io", "v4.channel.k8s.io"};
}

// RFC 6455 4.1: the client fails the connection unless the 101 carries the
// upgrade tokens, the accept value for its key, and one offered subprotocol.
absl::StatusOr<std::string> CheckWebSocketUpgrade(const HttpResponse& response,
                                                  absl::string_view key,
                                                  const std::vector<std::string>& offered) {
  if (!ContainsToken(response, "upgrade", "websocket")) {
    return Violation("HTTP", absl::StrCat("101 with Upgrade \"", response.Header("upgrade"),
                                          "\" (want websocket)"));
  }
  if (!ContainsToken(response, "connection", "upgrade")) {
    return Violation("HTTP", "101 without Connection: Upgrade");
  }
  const std::string accept = response.Header("sec-websocket-accept");
  if (accept != websocket::AcceptKey(key)) {
    return Violation("HTTP", absl::StrCat("Sec-WebSocket-Accept \"", accept, "\" (want \"",
                                          websocket::AcceptKey(key), "\")"));
  }
  if (!response.Header("sec-websocket-extensions").empty()) {
    return Violation("HTTP", "the server chose an extension the client did not offer");
  }
  std::vector<std::string> chosen = response.HeaderTokens("sec-websocket-protocol");
  if (chosen.size() != 1) {
    return Violation("HTTP", absl::StrCat("101 with ", chosen.size(),
                                          " Sec-WebSocket-Protocol values (want 1)"));
  }
  if (std::find(offered.begin(), offered.end(), chosen[0]) == offered.end()) {
    return Violation("HTTP", absl::StrCat("the server chose subprotocol \"", chosen[0],
                                          "\", which the client did not offer"));
  }
  return chosen[0];
}

// One exec/attach session over WebSocket: routes the server's messages to
// the result by channel and sends the client's input.
class WebSocketRemoteCommand {
 public:
  WebSocketRemoteCommand(const RemoteCommandOptions& options, RemoteCommandResult& result)
      : options_(options), result_(result) {}

  absl::Status HandleMessage(absl::string_view message) {
    if (message.empty()) return Violation("WebSocket", "a binary message without a channel byte");
    const uint8_t channel = static_cast<uint8_t>(message[0]);
    absl::string_view data = message.substr(1);
    switch (channel) {
      case kStdoutChannel:
        RETURN_IF_ERROR(CheckRequested(options_.stdout, "stdout", data));
        return AppendOutput(result_.stdout_data, data, "stdout");
      case kStderrChannel:
        // With a terminal, stderr is merged into stdout.
        RETURN_IF_ERROR(CheckRequested(options_.stderr && !options_.tty, "stderr", data));
        return AppendOutput(result_.stderr_data, data, "stderr");
      case kErrorChannel:
        return AppendOutput(result_.error_data, data, "the error channel");
      case kStdinChannel:
      case kResizeChannel:
        // The server may open a channel with an empty message, never write on
        // the client's input channels.
        if (!data.empty()) {
          return Violation("WebSocket", absl::StrCat("the server wrote ", data.size(),
                                                     " bytes on input channel ", channel));
        }
        return absl::OkStatus();
      case kCloseSignalChannel:
        if (result_.protocol != "v5.channel.k8s.io") {
          return Violation("WebSocket",
                           absl::StrCat("a close signal (channel 255) on ", result_.protocol));
        }
        if (data.size() != 1) {
          return Violation("WebSocket",
                           absl::StrCat("a close signal with ", data.size(), " bytes (want 1)"));
        }
        result_.channels_closed_by_server.push_back(static_cast<uint8_t>(data[0]));
        return absl::OkStatus();
      default:
        return Violation("WebSocket", absl::StrCat("a message on unknown channel ", channel));
    }
  }

  absl::Status Run(WebSocketClientSession& session) {
    if (options_.send_ping) session.SendPing(kWebSocketPingPayload);
    for (const auto& [width, height] : options_.resizes) {
      session.SendBinary(WithChannel(kResizeChannel, ResizeMessage(width, height)));
    }
    if (options_.stdin) SendStdin(session);
    absl::Status status =
        session.RunUntil([&] { return StopMarkerSeen(); }, "the server to close the connection");
    result_.pong_received = options_.send_ping && session.pong_received();
    if (absl::IsDeadlineExceeded(status)) {
      return absl::DeadlineExceededError(
          absl::StrCat(status.message(), " (", DescribeOutput(result_), ")"));
    }
    RETURN_IF_ERROR(status);
    if (StopMarkerSeen()) {
      session.HangUp();
      return absl::OkStatus();
    }
    if (options_.send_ping && !session.pong_received()) {
      return Violation("WebSocket", "the session ended without a pong for the client's ping");
    }
    session.SayGoodbye();
    return absl::OkStatus();
  }

 private:
  static std::string WithChannel(uint8_t channel, absl::string_view data) {
    std::string message(1, static_cast<char>(channel));
    message.append(data.data(), data.size());
    return message;
  }

  void SendStdin(WebSocketClientSession& session) {
    absl::string_view data = options_.stdin_data;
    for (size_t offset = 0; offset < data.size(); offset += kStdinChunk) {
      session.SendBinary(WithChannel(kStdinChannel, data.substr(offset, kStdinChunk)));
    }
    // Only v5 can say that stdin ended.
    if (options_.close_stdin && result_.protocol == "v5.channel.k8s.io") {
      session.SendBinary(WithChannel(kCloseSignalChannel, std::string(1, kStdinChannel)));
    }
  }

  // Output on a channel the client did not ask for is a server bug; the
  // empty message that opens a channel is not.
  static absl::Status CheckRequested(bool requested, absl::string_view name,
                                     absl::string_view data) {
    if (requested || data.empty()) return absl::OkStatus();
    return Violation("WebSocket", absl::StrCat(data.size(), " bytes on ", name,
                                               ", which the client did not ask for"));
  }

  bool StopMarkerSeen() const {
    return !options_.stop_when_stdout_contains.empty() &&
           absl::StrContains(result_.stdout_data, options_.stop_when_stdout_contains);
  }

  const RemoteCommandOptions& options_;
  RemoteCommandResult& result_;
};

}  // namespace

absl::StatusOr<RemoteCommandResult> RunSpdyRemoteCommand(const std::string& url,
                                                         const RemoteCommandOptions& options) {
  RETURN_IF_ERROR(CheckOptions(options));
  const absl::Time deadline = absl::Now() + options.timeout;
  const std::vector<std::string> protocols = SpdyProtocols(options);
  ASSIGN_OR_RETURN(Upgrade upgrade, RequestSpdyUpgrade(url, protocols, deadline));
  RemoteCommandResult result;
  result.http_status = upgrade.response.status;
  if (result.http_status != 101) {
    result.http_body = std::move(upgrade.response.body);
    return result;
  }
  ASSIGN_OR_RETURN(result.protocol, CheckSpdyUpgrade(upgrade.response, protocols));
  ASSIGN_OR_RETURN(std::unique_ptr<SpdyClientSession> session,
                   SpdyClientSession::Create(std::move(upgrade.connection)));
  session->set_deadline(deadline);
  RETURN_IF_ERROR(SpdyRemoteCommand(*session, options, result).Run());
  return result;
}

absl::StatusOr<std::unique_ptr<SpdyClientSession>> OpenSpdySession(
    const std::string& url, const std::vector<std::string>& protocols, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  ASSIGN_OR_RETURN(Upgrade upgrade, RequestSpdyUpgrade(url, protocols, deadline));
  if (upgrade.response.status != 101)
    return absl::FailedPreconditionError(absl::StrCat("upgrade refused with ",
                                                      upgrade.response.status, ": ",
                                                      upgrade.response.body));
  RETURN_IF_ERROR(CheckSpdyUpgrade(upgrade.response, protocols).status());
  ASSIGN_OR_RETURN(std::unique_ptr<SpdyClientSession> session,
                   SpdyClientSession::Create(std::move(upgrade.connection)));
  session->set_deadline(deadline);
  return session;
}

absl::StatusOr<RemoteCommandResult> RunWebSocketRemoteCommand(const std::string& url,
                                                              const RemoteCommandOptions& options) {
  RETURN_IF_ERROR(CheckOptions(options));
  const absl::Time deadline = absl::Now() + options.timeout;
  const std::vector<std::string> protocols = WebSocketProtocols(options);
  const std::string key = websocket::NewClientKey();
  const HttpHeaders headers = {
      {"User-Agent", kUserAgent},      {"Connection", "Upgrade"},
      {"Upgrade", "websocket"},        {"Sec-WebSocket-Key", key},
      {"Sec-WebSocket-Version", "13"}, {"Sec-WebSocket-Protocol", absl::StrJoin(protocols, ", ")}};
  ASSIGN_OR_RETURN(Upgrade upgrade, RequestUpgrade(url, "GET", headers, deadline));
  RemoteCommandResult result;
  result.http_status = upgrade.response.status;
  if (result.http_status != 101) {
    result.http_body = std::move(upgrade.response.body);
    return result;
  }
  ASSIGN_OR_RETURN(result.protocol, CheckWebSocketUpgrade(upgrade.response, key, protocols));
  WebSocketRemoteCommand command(options, result);
  WebSocketClientSession session(
      std::move(upgrade.connection),
      [&command](absl::string_view message) { return command.HandleMessage(message); });
  session.set_deadline(deadline);
  RETURN_IF_ERROR(command.Run(session));
  return result;
}

// ---- Port-forward -------------------------------------------------------------

absl::StatusOr<std::unique_ptr<SpdyPortForwardClient>> SpdyPortForwardClient::Connect(
    const std::string& url, absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration())
    return absl::InvalidArgumentError("timeout must be positive");
  const std::vector<std::string> protocols = {kPortForwardProtocol};
  ASSIGN_OR_RETURN(Upgrade upgrade, RequestSpdyUpgrade(url, protocols, absl::Now() + timeout));
  std::unique_ptr<SpdyPortForwardClient> client(new SpdyPortForwardClient(timeout));
  client->http_status_ = upgrade.response.status;
  if (client->http_status_ != 101) {
    client->http_body_ = std::move(upgrade.response.body);
    return client;
  }
  ASSIGN_OR_RETURN(client->protocol_, CheckSpdyUpgrade(upgrade.response, protocols));
  ASSIGN_OR_RETURN(client->session_, SpdyClientSession::Create(std::move(upgrade.connection)));
  return client;
}

SpdyPortForwardClient::SpdyPortForwardClient(absl::Duration timeout) : timeout_(timeout) {}

SpdyPortForwardClient::~SpdyPortForwardClient() {
  if (session_ != nullptr) session_->SayGoodbye();
}

absl::Status SpdyPortForwardClient::CheckUpgraded() const {
  if (session_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the server refused the upgrade with HTTP ", http_status_, ": ", http_body_));
  }
  return absl::OkStatus();
}

absl::StatusOr<SpdyPortForwardClient::ForwardedStreams>
SpdyPortForwardClient::OpenForwardedConnection(uint16_t port) {
  const std::string request_id = absl::StrCat(next_request_id_++);
  spdy::HeaderBlock headers = {
      {"streamtype", "error"}, {"port", absl::StrCat(port)}, {"requestid", request_id}};
  ForwardedStreams streams;
  ASSIGN_OR_RETURN(streams.error, session_->OpenStream(headers));
  // client-go never writes on the error stream and says so at once.
  RETURN_IF_ERROR(session_->Write(streams.error, "", /*fin=*/true));
  headers[0].second = "data";
  ASSIGN_OR_RETURN(streams.data, session_->OpenStream(headers));
  return streams;
}

bool SpdyPortForwardClient::Finished(const ForwardedStreams& streams) const {
  return session_->stream(streams.data).remote_closed &&
         session_->stream(streams.error).remote_closed;
}

absl::StatusOr<std::vector<SpdyPortForwardClient::Exchange>> SpdyPortForwardClient::ExchangeAll(
    uint16_t port, const std::vector<std::string>& requests) {
  RETURN_IF_ERROR(CheckUpgraded());
  session_->set_deadline(absl::Now() + timeout_);
  std::vector<ForwardedStreams> forwarded;
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSIGN_OR_RETURN(ForwardedStreams streams, OpenForwardedConnection(port));
    forwarded.push_back(streams);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    RETURN_IF_ERROR(session_->Write(forwarded[i].data, requests[i], /*fin=*/true));
  }
  auto all_finished = [&] {
    return std::all_of(forwarded.begin(), forwarded.end(),
                       [&](const ForwardedStreams& streams) { return Finished(streams); });
  };
  RETURN_IF_ERROR(
      session_->RunUntil(all_finished, "the server to finish every forwarded connection"));
  if (!all_finished()) {
    std::vector<std::string> open;
    for (const ForwardedStreams& streams : forwarded) {
      for (uint32_t id : {streams.error, streams.data}) {
        if (!session_->stream(id).remote_closed) open.push_back(session_->stream(id).label);
      }
    }
    return absl::UnavailableError(absl::StrCat("the server closed the connection before closing ",
                                               absl::StrJoin(open, ", ")));
  }
  std::vector<Exchange> exchanges;
  for (const ForwardedStreams& streams : forwarded) {
    exchanges.push_back({std::move(session_->mutable_stream(streams.data).data),
                         std::move(session_->mutable_stream(streams.error).data)});
  }
  return exchanges;
}

absl::StatusOr<size_t> SpdyPortForwardClient::ReceiveBytes(uint16_t port,
                                                           const std::string& request,
                                                           size_t bytes) {
  RETURN_IF_ERROR(CheckUpgraded());
  session_->set_deadline(absl::Now() + timeout_);
  ASSIGN_OR_RETURN(ForwardedStreams streams, OpenForwardedConnection(port));
  const SpdyClientSession::Stream& data = session_->stream(streams.data);
  const SpdyClientSession::Stream& error = session_->stream(streams.error);
  session_->mutable_stream(streams.data).keep_data = false;
  RETURN_IF_ERROR(session_->Write(streams.data, request, /*fin=*/false));
  RETURN_IF_ERROR(
      session_->RunUntil([&] { return data.bytes_received >= bytes || data.remote_closed; },
                         absl::StrCat(bytes, " bytes on ", data.label)));
  if (data.bytes_received < bytes) {
    if (!data.remote_closed) {
      return absl::UnavailableError(absl::StrCat("the server closed the connection after ",
                                                 data.bytes_received, " bytes on ", data.label));
    }
    // A short stream: the error stream says why, if anything.
    RETURN_IF_ERROR(session_->RunUntil([&] { return error.remote_closed; },
                                       absl::StrCat("the end of ", error.label)));
    if (!error.data.empty()) {
      return absl::InternalError(absl::StrCat("port-forward to port ", port, " failed after ",
                                              data.bytes_received, " bytes: ", error.data));
    }
  }
  if (!data.reset_by_server) RETURN_IF_ERROR(session_->Write(streams.data, "", /*fin=*/true));
  if (!data.remote_closed) session_->Abandon(streams.data);
  if (!error.remote_closed) session_->Abandon(streams.error);
  session_->TryFlush();
  return static_cast<size_t>(data.bytes_received);
}

}  // namespace berth::testing
