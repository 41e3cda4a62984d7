#pragma once

// Content digests: "sha256:<64 lowercase hex>", the only algorithm OCI
// images and registries use in practice.

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::snapshotter {

class Digest {
 public:
  // InvalidArgument naming what is wrong for anything but sha256:<64 hex>.
  static absl::StatusOr<Digest> Parse(absl::string_view text);

  Digest() = default;
  const std::string& hex() const { return hex_; }
  std::string ToString() const { return "sha256:" + hex_; }
  bool empty() const { return hex_.empty(); }

  bool operator==(const Digest&) const = default;
  auto operator<=>(const Digest&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const Digest& d) {
    return H::combine(std::move(h), d.hex_);
  }

 private:
  friend class Sha256;
  explicit Digest(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

// Incremental SHA-256 (OpenSSL, so the CPU's SHA extensions are used).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  // The digest of everything passed to Update; the hasher is then spent.
  Digest Finish();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

Digest DigestOf(absl::string_view data);

}  // namespace berth::snapshotter
