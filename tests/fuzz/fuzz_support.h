#pragma once

// What the streaming fuzzers share: an invariant check that aborts (so
// libFuzzer keeps the input), feeding bytes in chunks the input chooses,
// and the client's side of SPDY header compression.

#include <fuzzer/FuzzedDataProvider.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "cri/streaming/spdy_dictionary.h"

// Aborts with the failed condition and a message when `condition` is false.
#define FUZZ_CHECK(condition, ...)                                                           \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::fprintf(stderr, "  " __VA_ARGS__);                                                \
      std::fprintf(stderr, "\n");                                                            \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

namespace berth::streaming::fuzz {

// Calls `receive` with consecutive pieces of `bytes`, each as long as the
// input says (everything at once when the input is used up).
template <typename Receive>
void FeedInChunks(FuzzedDataProvider& input, absl::string_view bytes, Receive receive) {
  while (!bytes.empty()) {
    size_t size = input.remaining_bytes() == 0
                      ? bytes.size()
                      : input.ConsumeIntegralInRange<size_t>(1, bytes.size());
    receive(bytes.substr(0, size));
    bytes.remove_prefix(size);
  }
}

inline void Append32(std::string& out, uint32_t value) {
  out.push_back(static_cast<char>(value >> 24));
  out.push_back(static_cast<char>(value >> 16));
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
}

// One deflate stream for a whole connection, primed with the SPDY
// dictionary, a SYNC_FLUSH after each block: what a Go client sends.
class ClientDeflater {
 public:
  ClientDeflater() {
    deflateInit(&stream_, Z_DEFAULT_COMPRESSION);
    absl::string_view dictionary = SpdyHeaderDictionary();
    deflateSetDictionary(&stream_, Bytes(dictionary), static_cast<uInt>(dictionary.size()));
  }
  ~ClientDeflater() { deflateEnd(&stream_); }
  ClientDeflater(const ClientDeflater&) = delete;
  ClientDeflater& operator=(const ClientDeflater&) = delete;

  std::string Compress(absl::string_view raw) {
    std::string out;
    stream_.next_in = Bytes(raw);
    stream_.avail_in = static_cast<uInt>(raw.size());
    char chunk[16 << 10];
    do {
      stream_.next_out = reinterpret_cast<Bytef*>(chunk);
      stream_.avail_out = sizeof(chunk);
      FUZZ_CHECK(deflate(&stream_, Z_SYNC_FLUSH) != Z_STREAM_ERROR, "deflate");
      out.append(chunk, sizeof(chunk) - stream_.avail_out);
    } while (stream_.avail_out == 0);
    return out;
  }

 private:
  static Bytef* Bytes(absl::string_view bytes) {
    return reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  }

  z_stream stream_{};
};

}  // namespace berth::streaming::fuzz
