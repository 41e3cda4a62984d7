#include "snapshotter/digest.h"

#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::snapshotter {

absl::StatusOr<Digest> Digest::Parse(absl::string_view text) {
  constexpr absl::string_view kPrefix = "sha256:";
  if (!absl::StartsWith(text, kPrefix)) {
    if (text.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("digest \"", text, "\" has no algorithm"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("digest \"", text, "\": only sha256 is supported"));
  }
  absl::string_view hex = text.substr(kPrefix.size());
  if (hex.size() != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest \"", text, "\": a sha256 digest has 64 hex digits"));
  }
  for (char c : hex) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) {
      return absl::InvalidArgumentError(absl::StrCat("digest \"", text, "\": not lowercase hex"));
    }
  }
  return Digest(std::string(hex));
}

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() = default;

void Sha256::Update(const void* data, size_t size) { EVP_DigestUpdate(context_->ctx, data, size); }

Digest Sha256::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->ctx, out, &length);
  return Digest(
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(out), length)));
}

Digest DigestOf(absl::string_view data) {
  Sha256 hasher;
  hasher.Update(data);
  return hasher.Finish();
}

}  // namespace berth::snapshotter
