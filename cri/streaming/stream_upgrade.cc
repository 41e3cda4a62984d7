#include "cri/streaming/stream_upgrade.h"

#include <array>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cri/streaming/port_forward.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/websocket_frames.h"
#include "cri/streaming/websocket_tunnel.h"

namespace berth::streaming {

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Server preference does not matter: the client's order wins, as kubelet's
// handshake does.
constexpr std::array<absl::string_view, 4> kSpdyRemoteCommand = {
    "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"};
constexpr std::array<absl::string_view, 5> kWebSocketRemoteCommand = {
    "v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
    "channel.k8s.io"};

Upgrade Refuse(int code, absl::string_view reason, absl::string_view body,
               Headers headers = {}) {
  return {.response = HttpResponse(code, reason, headers, absl::StrCat(body, "\n"))};
}

template <size_t N>
std::optional<std::string> Negotiate(const std::vector<std::string>& offered,
                                     const std::array<absl::string_view, N>& supported) {
  for (const std::string& protocol : offered)
    for (absl::string_view ours : supported)
      if (protocol == ours) return protocol;
  return std::nullopt;
}

// "base64.channel.k8s.io" and "v4.base64.channel.k8s.io": the text variant.
std::optional<std::string> NegotiateWebSocket(const std::vector<std::string>& offered,
                                              bool& base64) {
  for (const std::string& protocol : offered) {
    std::string plain = protocol;
    bool is_base64 = false;
    if (protocol == "base64.channel.k8s.io") {
      plain = "channel.k8s.io";
      is_base64 = true;
    } else if (absl::EndsWith(protocol, ".base64.channel.k8s.io")) {
      plain = absl::StrCat(protocol.substr(0, protocol.find('.')), ".channel.k8s.io");
      is_base64 = true;
    }
    for (absl::string_view ours : kWebSocketRemoteCommand) {
      if (plain == ours && !(is_base64 && plain == "v5.channel.k8s.io")) {
        base64 = is_base64;
        return protocol;
      }
    }
  }
  return std::nullopt;
}

Upgrade NoProtocol(const std::vector<std::string>& offered, absl::string_view supported) {
  return Refuse(403, "Forbidden",
                absl::StrCat("unable to upgrade: unable to negotiate protocol: client supports [",
                             absl::StrJoin(offered, ", "), "], server supports [", supported, "]"),
                {{"X-Accepted-Stream-Protocol-Versions", std::string(supported)}});
}

Upgrade SpdyUpgrade(const HttpRequest& http, StreamRequest request, StreamBackend& backend,
                    absl::Duration creation_timeout) {
  std::vector<std::string> offered = http.HeaderList("x-stream-protocol-version");
  Headers headers = {{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}};
  if (request.kind == StreamKind::kPortForward) {
    if (!offered.empty() &&
        !Negotiate(offered, std::array<absl::string_view, 1>{kPortForwardProtocol}))
      return NoProtocol(offered, kPortForwardProtocol);
    if (!offered.empty()) headers.emplace_back("X-Stream-Protocol-Version", kPortForwardProtocol);
    return {.response = HttpResponse(101, "Switching Protocols", headers),
            .handler = NewSpdyPortForward(request.sandbox_id, backend, creation_timeout)};
  }
  // No protocol header at all: the first version, as kubelet assumes.
  std::string protocol = "channel.k8s.io";
  if (!offered.empty()) {
    std::optional<std::string> chosen = Negotiate(offered, kSpdyRemoteCommand);
    if (!chosen) return NoProtocol(offered, absl::StrJoin(kSpdyRemoteCommand, ", "));
    protocol = *chosen;
    headers.emplace_back("X-Stream-Protocol-Version", protocol);
  }
  return {.response = HttpResponse(101, "Switching Protocols", headers),
          .handler = NewSpdyRemoteCommand(std::move(request), RemoteCommandVersion(protocol),
                                          backend, creation_timeout)};
}

Upgrade WebSocketUpgrade(const HttpRequest& http, StreamRequest request, StreamBackend& backend,
                         absl::Duration creation_timeout) {
  std::string key = http.Header("sec-websocket-key");
  if (key.empty() || http.Header("sec-websocket-version") != "13")
    return Refuse(400, "Bad Request", "a WebSocket upgrade needs Sec-WebSocket-Key and version 13");
  std::vector<std::string> offered = http.HeaderList("sec-websocket-protocol");
  Headers headers = {{"Upgrade", "websocket"},
                     {"Connection", "Upgrade"},
                     {"Sec-WebSocket-Accept", WebSocketAcceptKey(key)}};
  if (request.kind == StreamKind::kPortForward) {
    std::string tunnel = absl::StrCat(kSpdyTunnelProtocolPrefix, kPortForwardProtocol);
    if (!Negotiate(offered, std::array<absl::string_view, 1>{tunnel}))
      return NoProtocol(offered, tunnel);
    headers.emplace_back("Sec-WebSocket-Protocol", tunnel);
    return {.response = HttpResponse(101, "Switching Protocols", headers),
            .handler = NewWebSocketTunnel(
                NewSpdyPortForward(request.sandbox_id, backend, creation_timeout))};
  }
  bool base64 = false;
  std::string protocol = "channel.k8s.io";
  if (!offered.empty()) {
    std::optional<std::string> chosen = NegotiateWebSocket(offered, base64);
    if (!chosen) return NoProtocol(offered, absl::StrJoin(kWebSocketRemoteCommand, ", "));
    protocol = *chosen;
    headers.emplace_back("Sec-WebSocket-Protocol", protocol);
  }
  std::string plain = base64 ? absl::StrCat(protocol.substr(0, protocol.find("base64.")),
                                            protocol.substr(protocol.find("base64.") + 7))
                             : protocol;
  return {.response = HttpResponse(101, "Switching Protocols", headers),
          .handler = NewWebSocketRemoteCommand(std::move(request), RemoteCommandVersion(plain),
                                               base64, backend)};
}

}  // namespace

Upgrade UpgradeConnection(const HttpRequest& http, StreamRequestCache& requests,
                          StreamBackend& backend, absl::Duration creation_timeout) {
  if (http.method != "GET" && http.method != "POST")
    return Refuse(405, "Method Not Allowed", "use GET or POST", {{"Allow", "GET, POST"}});
  std::optional<StreamKind> kind;
  absl::string_view path = http.target;
  path = path.substr(0, path.find('?'));
  for (StreamKind candidate :
       {StreamKind::kExec, StreamKind::kAttach, StreamKind::kPortForward}) {
    if (absl::ConsumePrefix(&path, StreamPathPrefix(candidate))) {
      kind = candidate;
      break;
    }
  }
  if (!kind || path.empty() || absl::StrContains(path, '/')) return Refuse(404, "Not Found", "not found");
  std::optional<StreamRequest> request = requests.Take(std::string(path), *kind);
  if (!request) return Refuse(404, "Not Found", "unknown or expired token");

  bool connection_upgrade = http.HeaderHasToken("connection", "upgrade");
  std::string upgrade = http.Header("upgrade");
  if (connection_upgrade && absl::EqualsIgnoreCase(upgrade, "SPDY/3.1"))
    return SpdyUpgrade(http, *std::move(request), backend, creation_timeout);
  if (connection_upgrade && absl::EqualsIgnoreCase(upgrade, "websocket"))
    return WebSocketUpgrade(http, *std::move(request), backend, creation_timeout);
  return Refuse(400, "Bad Request",
                "unable to upgrade: the request must upgrade to SPDY/3.1 or websocket");
}

}  // namespace berth::streaming
