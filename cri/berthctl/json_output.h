#pragma once

// How berthctl prints CRI answers as JSON: messages with every field, and
// the verbose `info` maps, whose values are JSON text themselves when
// berthd wrote them so (kept as strings otherwise).

#include <google/protobuf/map.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <string>

#include "nlohmann/json.hpp"

namespace berth::cri {

inline nlohmann::ordered_json MessageJson(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &text, options);
  return nlohmann::ordered_json::parse(text, nullptr, false);
}

// Adds each entry of `info` to `out`, parsed where it is JSON.
inline void AddInfoJson(const google::protobuf::Map<std::string, std::string>& info,
                        nlohmann::ordered_json& out) {
  for (const auto& [key, value] : info) {
    nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(value, nullptr, false);
    out[key] = parsed.is_discarded() ? nlohmann::ordered_json(value) : parsed;
  }
}

}  // namespace berth::cri
