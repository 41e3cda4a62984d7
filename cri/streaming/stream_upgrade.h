#pragma once

// From an HTTP request to a protocol handler: the token in the path picks
// the stored request, the Upgrade and protocol headers pick the transport
// (SPDY/3.1 or WebSocket) and the protocol version. Refusals are whole
// HTTP responses (404 for an unknown token, 400/403 for a bad upgrade).

#include <memory>
#include <string>

#include "cri/streaming/http_request.h"
#include "cri/streaming/stream_backend.h"
#include "cri/streaming/stream_handler.h"
#include "cri/streaming/stream_request.h"

namespace berth::streaming {

struct Upgrade {
  std::string response;                    // 101, or the refusal
  std::unique_ptr<StreamHandler> handler;  // null when refused
};

Upgrade UpgradeConnection(const HttpRequest& request, StreamRequestCache& requests,
                          StreamBackend& backend, absl::Duration creation_timeout);

}  // namespace berth::streaming
