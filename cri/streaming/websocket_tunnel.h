#pragma once

// A byte-stream protocol carried in WebSocket binary messages, as client-go
// tunnels SPDY port-forwarding through WebSocket ("SPDY/3.1+portforward.k8s.io"):
// message boundaries mean nothing, the payloads are the stream.

#include <memory>

#include "cri/streaming/stream_handler.h"

namespace berth::streaming {

inline constexpr char kSpdyTunnelProtocolPrefix[] = "SPDY/3.1+";

std::unique_ptr<StreamHandler> NewWebSocketTunnel(std::unique_ptr<StreamHandler> inner);

}  // namespace berth::streaming
