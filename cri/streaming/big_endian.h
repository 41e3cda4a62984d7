#pragma once

// 32-bit big-endian fields, as SPDY writes its lengths and ids.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace berth::streaming {

// The caller has checked that 4 bytes are there.
inline uint32_t ReadBigEndian32(absl::string_view bytes, size_t at) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + i])); };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

inline void AppendBigEndian32(std::string& out, uint32_t value) {
  out.push_back(static_cast<char>(value >> 24));
  out.push_back(static_cast<char>(value >> 16));
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
}

}  // namespace berth::streaming
