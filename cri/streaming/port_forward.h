#pragma once

// Port-forward (kubelet's portforward.k8s.io) over SPDY: per forwarded
// connection the client opens an error stream and a data stream sharing a
// "requestid"; the server dials the "port" inside the pod's network
// namespace and copies bytes both ways, reporting failures as text on the
// error stream. Over WebSocket the same SPDY connection is tunnelled
// (client-go's "SPDY/3.1+portforward.k8s.io"), see websocket_tunnel.h.

#include <memory>
#include <string>

#include "cri/streaming/stream_backend.h"
#include "cri/streaming/stream_handler.h"

namespace berth::streaming {

inline constexpr char kPortForwardProtocol[] = "portforward.k8s.io";

std::unique_ptr<StreamHandler> NewSpdyPortForward(std::string sandbox_id, StreamBackend& backend,
                                                  absl::Duration creation_timeout);

}  // namespace berth::streaming
