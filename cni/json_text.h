#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace berth::cni {

// Compact JSON text that never throws: strings that are not UTF-8 (a pod
// annotation, a plugin's odd output) are written with U+FFFD instead of
// making nlohmann throw from dump().
inline std::string ToJsonText(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace berth::cni
