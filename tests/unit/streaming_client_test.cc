// The test streaming client: its codecs against the protocol texts (RFC 6455
// examples, SPDY/3 layouts, zlib with the dictionary), and its sessions
// against canned servers that send a fixed byte script and hang up.

#include "tests/support/streaming_client.h"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <zlib.h>

#include <initializer_list>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/unique_fd.h"
#include "tests/support/scripted_http_server.h"
#include "tests/support/spdy_client_codec.h"
#include "tests/support/status_matchers.h"
#include "tests/support/upgrade_connection.h"
#include "tests/support/websocket_client_codec.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kSuccessStatus[] = R"({"metadata":{},"status":"Success"})";

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int byte : bytes) out.push_back(static_cast<char>(byte));
  return out;
}

std::string U32(uint32_t value) {
  return Bytes({static_cast<int>(value >> 24), static_cast<int>((value >> 16) & 0xFF),
                static_cast<int>((value >> 8) & 0xFF), static_cast<int>(value & 0xFF)});
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), length));
}

// A zlib inflater of its own (not the client's HeaderDecompressor), primed
// with the dictionary when it asks, as the server's side does.
class ReferenceInflater {
 public:
  ReferenceInflater() { inflateInit(&stream_); }
  ~ReferenceInflater() { inflateEnd(&stream_); }

  std::string Inflate(absl::string_view compressed) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    stream_.avail_in = static_cast<uInt>(compressed.size());
    std::string out;
    char chunk[256];
    while (true) {
      stream_.next_out = reinterpret_cast<Bytef*>(chunk);
      stream_.avail_out = sizeof(chunk);
      int rc = inflate(&stream_, Z_SYNC_FLUSH);
      out.append(chunk, sizeof(chunk) - stream_.avail_out);
      if (rc == Z_NEED_DICT) {
        absl::string_view dictionary = spdy::HeaderDictionary();
        EXPECT_EQ(inflateSetDictionary(&stream_, reinterpret_cast<const Bytef*>(dictionary.data()),
                                       static_cast<uInt>(dictionary.size())),
                  Z_OK);
        continue;
      }
      if (rc != Z_OK || (stream_.avail_in == 0 && stream_.avail_out != 0)) break;
    }
    EXPECT_EQ(stream_.avail_in, 0u);
    return out;
  }

 private:
  z_stream stream_{};
};

// ---- SPDY codec -------------------------------------------------------------

TEST(SpdyCodecTest, DictionaryIsTheSpecFile) {
  EXPECT_EQ(spdy::HeaderDictionary().size(), 1423u);
  EXPECT_EQ(Sha256Hex(spdy::HeaderDictionary()),
            "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02");
}

TEST(SpdyCodecTest, HeaderBlockIsCountThenLengthPrefixedPairs) {
  EXPECT_EQ(spdy::SerializeHeaderBlock({{"streamtype", "error"}}),
            Bytes({0, 0, 0, 1, 0, 0, 0, 10}) + "streamtype" + Bytes({0, 0, 0, 5}) + "error");
  EXPECT_EQ(spdy::SerializeHeaderBlock({}), Bytes({0, 0, 0, 0}));
}

TEST(SpdyCodecTest, HeaderBlockParsesBack) {
  const spdy::HeaderBlock headers = {{"streamtype", "data"}, {"port", "8080"}, {"requestid", "0"}};
  absl::StatusOr<spdy::HeaderBlock> parsed =
      spdy::ParseHeaderBlock(spdy::SerializeHeaderBlock(headers));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, headers);
}

TEST(SpdyCodecTest, HeaderBlockRejectsMalformedBlocks) {
  const std::string valid = spdy::SerializeHeaderBlock({{"port", "80"}});
  EXPECT_THAT(spdy::ParseHeaderBlock(""),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("truncated")));
  EXPECT_THAT(spdy::ParseHeaderBlock(valid.substr(0, valid.size() - 1)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("truncated")));
  EXPECT_THAT(spdy::ParseHeaderBlock(valid + "x"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("trailing")));
  EXPECT_THAT(spdy::ParseHeaderBlock(Bytes({0xFF, 0xFF, 0xFF, 0xFF})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("announces")));
  EXPECT_THAT(spdy::ParseHeaderBlock(spdy::SerializeHeaderBlock({{"Port", "80"}})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("lower-case")));
  EXPECT_THAT(spdy::ParseHeaderBlock(spdy::SerializeHeaderBlock({{"port", "1"}, {"port", "2"}})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("twice")));
  EXPECT_THAT(spdy::ParseHeaderBlock(spdy::SerializeHeaderBlock({{"", "1"}})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("empty header name")));
}

TEST(SpdyCodecTest, CompressedBlocksInflateWithAFreshDictionaryPrimedInflater) {
  absl::StatusOr<spdy::HeaderCompressor> compressor = spdy::HeaderCompressor::Create();
  ASSERT_THAT(compressor, IsOk());
  const std::string first = spdy::SerializeHeaderBlock({{"streamtype", "error"}});
  const std::string second =
      spdy::SerializeHeaderBlock({{"streamtype", "data"}, {"port", "80"}, {"requestid", "0"}});
  absl::StatusOr<std::string> first_compressed = compressor->Compress(first);
  absl::StatusOr<std::string> second_compressed = compressor->Compress(second);
  ASSERT_THAT(first_compressed, IsOk());
  ASSERT_THAT(second_compressed, IsOk());

  // A zlib header announcing a preset dictionary, whose id is the Adler-32
  // of the SPDY/3 dictionary.
  ASSERT_GE(first_compressed->size(), 6u);
  EXPECT_EQ((*first_compressed)[1] & 0x20, 0x20);
  absl::string_view dictionary = spdy::HeaderDictionary();
  const uLong dictionary_id =
      adler32(adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(dictionary.data()),
              static_cast<uInt>(dictionary.size()));
  EXPECT_EQ(first_compressed->substr(2, 4), U32(static_cast<uint32_t>(dictionary_id)));

  // One context for the connection: the second block needs the first.
  ReferenceInflater inflater;
  EXPECT_EQ(inflater.Inflate(*first_compressed), first);
  EXPECT_EQ(inflater.Inflate(*second_compressed), second);
}

TEST(SpdyCodecTest, DecompressorReadsConsecutiveBlocksAndRejectsGarbage) {
  absl::StatusOr<spdy::HeaderCompressor> compressor = spdy::HeaderCompressor::Create();
  absl::StatusOr<spdy::HeaderDecompressor> decompressor = spdy::HeaderDecompressor::Create();
  ASSERT_THAT(compressor, IsOk());
  ASSERT_THAT(decompressor, IsOk());
  for (const std::string& block :
       {spdy::SerializeHeaderBlock({}), spdy::SerializeHeaderBlock({{"streamtype", "stdout"}}),
        spdy::SerializeHeaderBlock({{"streamtype", "stdout"}})}) {
    absl::StatusOr<std::string> compressed = compressor->Compress(block);
    ASSERT_THAT(compressed, IsOk());
    absl::StatusOr<std::string> inflated = decompressor->Decompress(*compressed, 1024);
    ASSERT_THAT(inflated, IsOk());
    EXPECT_EQ(*inflated, block);
  }

  absl::StatusOr<spdy::HeaderDecompressor> fresh = spdy::HeaderDecompressor::Create();
  ASSERT_THAT(fresh, IsOk());
  EXPECT_THAT(fresh->Decompress("not zlib at all", 1024),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("does not inflate")));

  absl::StatusOr<spdy::HeaderCompressor> big_compressor = spdy::HeaderCompressor::Create();
  absl::StatusOr<spdy::HeaderDecompressor> small = spdy::HeaderDecompressor::Create();
  absl::StatusOr<std::string> big =
      big_compressor->Compress(spdy::SerializeHeaderBlock({{"x", std::string(5000, 'a')}}));
  ASSERT_THAT(big, IsOk());
  EXPECT_THAT(small->Decompress(*big, 1024),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("beyond 1024 bytes")));
}

TEST(SpdyCodecTest, EncodesFramesBigEndian) {
  EXPECT_EQ(spdy::EncodeSynStream(1, 0, "xyz"), Bytes({0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
                                                       0x0D,  // control, v3, SYN_STREAM, len 13
                                                       0, 0, 0, 1, 0, 0, 0, 0, 0, 0}) +
                                                    "xyz");
  EXPECT_EQ(spdy::EncodeDataFrame(3, spdy::kFlagFin, "hi"),
            Bytes({0, 0, 0, 3, 0x01, 0, 0, 2}) + "hi");
  EXPECT_EQ(spdy::EncodeDataFrame(5, spdy::kFlagFin, ""), Bytes({0, 0, 0, 5, 0x01, 0, 0, 0}));
  EXPECT_EQ(spdy::EncodePing(1), Bytes({0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1}));
  EXPECT_EQ(spdy::EncodeRstStream(5, spdy::kRstCancel),
            Bytes({0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 5}));
  EXPECT_EQ(spdy::EncodeGoAway(0, spdy::kGoAwayOk),
            Bytes({0x80, 3, 0, 7, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(SpdyCodecTest, ParsesCompleteFramesOnly) {
  const std::string ping = spdy::EncodePing(7);
  size_t consumed = 0;
  for (size_t partial : {0, 7, 11}) {
    absl::StatusOr<std::optional<spdy::Frame>> frame =
        spdy::ParseFrame(ping.substr(0, partial), &consumed);
    ASSERT_THAT(frame, IsOk());
    EXPECT_FALSE(frame->has_value()) << partial;
  }
  absl::StatusOr<std::optional<spdy::Frame>> frame = spdy::ParseFrame(ping + "next", &consumed);
  ASSERT_THAT(frame, IsOk());
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ(consumed, 12u);
  EXPECT_TRUE((*frame)->is_control);
  EXPECT_EQ((*frame)->type, static_cast<uint16_t>(spdy::FrameType::kPing));
  EXPECT_THAT(spdy::ParsePing((*frame)->payload), IsOk());
  EXPECT_EQ(*spdy::ParsePing((*frame)->payload), 7u);

  frame = spdy::ParseFrame(spdy::EncodeDataFrame(3, spdy::kFlagFin, "hi"), &consumed);
  ASSERT_THAT(frame, IsOk());
  ASSERT_TRUE(frame->has_value());
  EXPECT_FALSE((*frame)->is_control);
  EXPECT_EQ((*frame)->stream_id, 3u);
  EXPECT_EQ((*frame)->flags, spdy::kFlagFin);
  EXPECT_EQ((*frame)->payload, "hi");
}

TEST(SpdyCodecTest, RejectsBadFrames) {
  size_t consumed = 0;
  EXPECT_THAT(spdy::ParseFrame(Bytes({0x80, 0x02, 0, 6, 0, 0, 0, 4}), &consumed),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("version 2")));
  EXPECT_THAT(spdy::ParseFrame(Bytes({0x80, 0x03, 0, 5, 0, 0, 0, 0}), &consumed),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("unknown control frame type 5")));
  EXPECT_THAT(spdy::ParseFrame(Bytes({0, 0, 0, 0, 0, 0, 0, 0}), &consumed),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("stream 0")));

  EXPECT_THAT(spdy::ParsePing("abc"), StatusIs(absl::StatusCode::kInternal, HasSubstr("want 4")));
  EXPECT_THAT(spdy::ParseRstStream(U32(1) + U32(0)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("undefined status 0")));
  EXPECT_THAT(spdy::ParseRstStream(U32(0) + U32(1)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("stream 0")));
  // SPDY/2's 4-byte GOAWAY is not SPDY/3's.
  EXPECT_THAT(spdy::ParseGoAway(U32(1)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("want 8")));
  EXPECT_THAT(spdy::ParseWindowUpdate(U32(1) + U32(0)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("delta of 0")));
  EXPECT_THAT(spdy::ValidateSettings(U32(1)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("announces 1 entries")));
  EXPECT_THAT(spdy::ValidateSettings(U32(1) + U32(0x01000004) + U32(100)), IsOk());
  EXPECT_THAT(spdy::ParseStreamHeaders(U32(0)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("stream 0")));
  EXPECT_THAT(spdy::ParseStreamHeaders("ab"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("want >= 4")));
}

// ---- WebSocket codec ----------------------------------------------------------

TEST(WebSocketCodecTest, AcceptKeyOfTheRfcExample) {
  // RFC 6455 section 1.3 (base64 of SHA-1 of the key and the GUID).
  EXPECT_EQ(websocket::AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketCodecTest, ClientKeysAreFreshBase64Nonces) {
  const std::string key = websocket::NewClientKey();
  std::string nonce;
  ASSERT_TRUE(absl::Base64Unescape(key, &nonce));
  EXPECT_EQ(nonce.size(), 16u);
  EXPECT_NE(key, websocket::NewClientKey());
}

TEST(WebSocketCodecTest, EncodesMaskedClientFrames) {
  // RFC 6455 5.7: a single-frame masked text message "Hello".
  EXPECT_EQ(
      websocket::EncodeClientFrame(websocket::Opcode::kText, "Hello", {0x37, 0xfa, 0x21, 0x3d}),
      Bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  const websocket::MaskKey zero = {0, 0, 0, 0};
  EXPECT_EQ(websocket::EncodeClientFrame(websocket::Opcode::kBinary, std::string(256, 'a'), zero)
                .substr(0, 8),
            Bytes({0x82, 0xFE, 0x01, 0x00, 0, 0, 0, 0}));
  EXPECT_EQ(websocket::EncodeClientFrame(websocket::Opcode::kBinary, std::string(65536, 'a'), zero)
                .substr(0, 14),
            Bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(websocket::EncodeClientFrame(websocket::Opcode::kBinary, Bytes({1}) + "x", zero, false),
            Bytes({0x02, 0x82, 0, 0, 0, 0, 1}) + "x");
}

TEST(WebSocketCodecTest, ParsesServerFrames) {
  size_t consumed = 0;
  // RFC 6455 5.7: a single-frame unmasked text message, then the first
  // fragment of a fragmented one.
  absl::StatusOr<std::optional<websocket::Frame>> frame = websocket::ParseServerFrame(
      Bytes({0x81, 0x05}) + "Hello" + Bytes({0x01, 0x03}) + "Hel", 1024, &consumed);
  ASSERT_THAT(frame, IsOk());
  ASSERT_TRUE(frame->has_value());
  EXPECT_TRUE((*frame)->fin);
  EXPECT_EQ((*frame)->opcode, websocket::Opcode::kText);
  EXPECT_EQ((*frame)->payload, "Hello");
  EXPECT_EQ(consumed, 7u);
  frame = websocket::ParseServerFrame(Bytes({0x01, 0x03}) + "Hel", 1024, &consumed);
  ASSERT_THAT(frame, IsOk());
  ASSERT_TRUE(frame->has_value());
  EXPECT_FALSE((*frame)->fin);

  frame = websocket::ParseServerFrame(Bytes({0x82, 0x7E, 0x01, 0x00}) + std::string(256, 'b'), 1024,
                                      &consumed);
  ASSERT_THAT(frame, IsOk());
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ((*frame)->payload.size(), 256u);
  EXPECT_EQ(consumed, 260u);

  for (const std::string& partial :
       {std::string(), Bytes({0x82}), Bytes({0x82, 0x7E, 0x01}), Bytes({0x82, 0x05}) + "abc"}) {
    frame = websocket::ParseServerFrame(partial, 1024, &consumed);
    ASSERT_THAT(frame, IsOk());
    EXPECT_FALSE(frame->has_value());
  }
}

TEST(WebSocketCodecTest, RejectsBadServerFrames) {
  size_t consumed = 0;
  auto parse = [&](const std::string& bytes) {
    return websocket::ParseServerFrame(bytes, 1024, &consumed).status();
  };
  EXPECT_THAT(parse(Bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("masked")));
  EXPECT_THAT(parse(Bytes({0xC2, 0x00})), StatusIs(absl::StatusCode::kInternal, HasSubstr("RSV")));
  EXPECT_THAT(parse(Bytes({0x83, 0x00})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("unknown opcode 3")));
  EXPECT_THAT(parse(Bytes({0x09, 0x00})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("fragmented control")));
  EXPECT_THAT(parse(Bytes({0x89, 0x7E, 0x00, 0x7E})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("over 125")));
  EXPECT_THAT(parse(Bytes({0x82, 0x7E, 0x00, 0x05})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("shortest form")));
  EXPECT_THAT(parse(Bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0x01, 0x00})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("shortest form")));
  EXPECT_THAT(parse(Bytes({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("top bit")));
  EXPECT_THAT(parse(Bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("limit is 1024")));
}

TEST(WebSocketCodecTest, ClosePayloads) {
  EXPECT_EQ(websocket::EncodeClosePayload(1000), Bytes({0x03, 0xE8}));
  absl::StatusOr<websocket::CloseReason> close =
      websocket::ParseClosePayload(Bytes({0x03, 0xE8}) + "bye");
  ASSERT_THAT(close, IsOk());
  EXPECT_EQ(close->code, 1000);
  EXPECT_EQ(close->reason, "bye");
  close = websocket::ParseClosePayload("");
  ASSERT_THAT(close, IsOk());
  EXPECT_FALSE(close->code.has_value());
  EXPECT_THAT(websocket::ParseClosePayload(Bytes({0x03})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("1-byte")));
  EXPECT_THAT(websocket::ParseClosePayload(Bytes({0x03, 0xED})),  // 1005 is never sent
              StatusIs(absl::StatusCode::kInternal, HasSubstr("code 1005")));
}

// ---- HTTP ---------------------------------------------------------------------

TEST(HttpTest, ParsesUrls) {
  absl::StatusOr<HttpUrl> url = ParseHttpUrl("http://127.0.0.1:34567/exec/AbC-123");
  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 34567);
  EXPECT_EQ(url->authority, "127.0.0.1:34567");
  EXPECT_EQ(url->path, "/exec/AbC-123");

  url = ParseHttpUrl("http://[::1]:10010/portforward/x");
  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 10010);
  EXPECT_EQ(url->authority, "[::1]:10010");

  url = ParseHttpUrl("http://localhost");
  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->path, "/");

  for (const char* bad : {"https://127.0.0.1/exec/x", "http://127.0.0.1:0/x", "http://h:99999/x",
                          "http://:80/x", "http://u@h/x", "http://[::1/x"}) {
    EXPECT_THAT(ParseHttpUrl(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(HttpTest, BuildsRequests) {
  absl::StatusOr<HttpUrl> url = ParseHttpUrl("http://127.0.0.1:1/exec/t");
  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(BuildHttpRequest("POST", *url, {{"Upgrade", "SPDY/3.1"}, {"Connection", "Upgrade"}}),
            "POST /exec/t HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUpgrade: SPDY/3.1\r\n"
            "Connection: Upgrade\r\n\r\n");
}

TEST(HttpTest, ParsesResponseHeads) {
  absl::StatusOr<HttpResponse> response = ParseHttpResponseHead(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
      "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nVary: a, b\r\nVary: c");
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 101);
  EXPECT_EQ(response->Header("x-stream-protocol-version"), "v4.channel.k8s.io");
  EXPECT_EQ(response->Header("missing"), "");
  EXPECT_THAT(response->HeaderTokens("vary"), ::testing::ElementsAre("a", "b", "c"));

  response = ParseHttpResponseHead("HTTP/1.1 404");
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 404);

  for (const char* bad : {"HTTP/2 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 200 OK\r\nno colon",
                          "HTTP/1.1 200 OK\r\nBad Name: x", "ICY 200 OK"}) {
    EXPECT_THAT(ParseHttpResponseHead(bad), StatusIs(absl::StatusCode::kInternal)) << bad;
  }
}

// ---- Sessions against canned servers ----------------------------------------

// The server's side of a SPDY conversation as bytes: one compression context
// for its header blocks, like a real server.
class SpdyServerScript {
 public:
  SpdyServerScript() : compressor_(*spdy::HeaderCompressor::Create()) {}

  SpdyServerScript& Reply(uint32_t stream_id, uint8_t flags = 0) {
    const std::string headers = *compressor_.Compress(spdy::SerializeHeaderBlock({}));
    bytes_ += spdy::EncodeControlFrame(spdy::FrameType::kSynReply, flags, U32(stream_id) + headers);
    return *this;
  }
  SpdyServerScript& Data(uint32_t stream_id, const std::string& data, bool fin) {
    bytes_ += spdy::EncodeDataFrame(stream_id, fin ? spdy::kFlagFin : 0, data);
    return *this;
  }
  SpdyServerScript& Ping(uint32_t id) {
    bytes_ += spdy::EncodePing(id);
    return *this;
  }
  SpdyServerScript& Raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  spdy::HeaderCompressor compressor_;
  std::string bytes_;
};

std::string SpdyUpgradeResponse(absl::string_view protocol) {
  return absl::StrCat(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
      "X-Stream-Protocol-Version: ",
      protocol, "\r\n\r\n");
}

std::string Url(const ScriptedHttpServer& server, absl::string_view path) {
  return absl::StrCat("http://", server.host(), path);
}

RemoteCommandOptions FastOptions() {
  RemoteCommandOptions options;
  options.timeout = absl::Seconds(5);
  return options;
}

TEST(SpdyRemoteCommandTest, CollectsStreamsFromACannedServer) {
  SpdyServerScript script;
  // PING answer, replies to error (1) and stdout (3), output, exit status.
  script.Ping(1).Reply(1).Reply(3).Data(3, "hello\n", true).Data(1, kSuccessStatus, true);
  ScriptedHttpServer server([&](const RecordedRequest&) {
    return SpdyUpgradeResponse("v4.channel.k8s.io") + script.bytes();
  });
  absl::StatusOr<RemoteCommandResult> result =
      RunSpdyRemoteCommand(Url(server, "/exec/tok"), FastOptions());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->http_status, 101);
  EXPECT_EQ(result->protocol, "v4.channel.k8s.io");
  EXPECT_EQ(result->stdout_data, "hello\n");
  EXPECT_EQ(result->error_data, kSuccessStatus);
  EXPECT_TRUE(result->pong_received);
  EXPECT_TRUE(result->streams_reset_by_server.empty());
  EXPECT_TRUE(result->streams_unfinished.empty());

  std::vector<RecordedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/exec/tok");
  EXPECT_EQ(requests[0].header("connection"), "Upgrade");
  EXPECT_EQ(requests[0].header("upgrade"), "SPDY/3.1");
  EXPECT_FALSE(requests[0].header("x-stream-protocol-version").empty());
}

TEST(SpdyRemoteCommandTest, ReportsARefusedUpgrade) {
  ScriptedHttpServer server(
      [](const RecordedRequest&) { return ScriptedHttpServer::Response(404, "no such token"); });
  absl::StatusOr<RemoteCommandResult> result =
      RunSpdyRemoteCommand(Url(server, "/exec/gone"), FastOptions());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->http_status, 404);
  EXPECT_EQ(result->http_body, "no such token");
}

TEST(SpdyRemoteCommandTest, FailsOnServerProtocolViolations) {
  struct Case {
    std::string name;
    std::string response;
    std::string error;
    bool stdin = false;
  };
  std::vector<Case> cases = {
      {"reply for an unopened stream",
       SpdyUpgradeResponse("v4.channel.k8s.io") + SpdyServerScript().Ping(1).Reply(5).bytes(),
       "SYN_REPLY for stream 5, which the client never opened"},
      {"control frame of version 2",
       SpdyUpgradeResponse("v4.channel.k8s.io") + Bytes({0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 2}),
       "version 2"},
      {"data after FIN",
       SpdyUpgradeResponse("v4.channel.k8s.io") + SpdyServerScript()
                                                      .Ping(1)
                                                      .Reply(1)
                                                      .Reply(3)
                                                      .Data(3, "a", true)
                                                      .Data(3, "b", false)
                                                      .bytes(),
       "DATA on stream 3 (streamtype=stdout) after the server closed it"},
      {"data before the reply",
       SpdyUpgradeResponse("v4.channel.k8s.io") + SpdyServerScript().Data(1, "x", false).bytes(),
       "before its SYN_REPLY"},
      {"unanswered PING",
       SpdyUpgradeResponse("v4.channel.k8s.io") +
           SpdyServerScript().Reply(1).Reply(3).Data(3, "", true).Data(1, "", true).bytes(),
       "without an answer to the client's PING"},
      {"no protocol version",
       "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n",
       "0 X-Stream-Protocol-Version values"},
      {"a version not offered", SpdyUpgradeResponse("v9.channel.k8s.io"), "did not offer"},
      {"data on stdin",
       SpdyUpgradeResponse("v4.channel.k8s.io") + SpdyServerScript()
                                                      .Ping(1)
                                                      .Reply(1)
                                                      .Reply(3)
                                                      .Reply(5)
                                                      .Data(3, "?", true)
                                                      .Data(5, "", true)
                                                      .Data(1, "", true)
                                                      .bytes(),
       "the server wrote 1 bytes on stream 3 (streamtype=stdin)", /*stdin=*/true},
      {"a frame cut short",
       SpdyUpgradeResponse("v4.channel.k8s.io") + spdy::EncodePing(1).substr(0, 10),
       "ended inside a frame"},
  };
  for (const Case& test : cases) {
    ScriptedHttpServer server([&](const RecordedRequest&) { return test.response; });
    RemoteCommandOptions options = FastOptions();
    options.stdin = test.stdin;
    EXPECT_THAT(RunSpdyRemoteCommand(Url(server, "/exec/x"), options),
                StatusIs(absl::StatusCode::kInternal, HasSubstr(test.error)))
        << test.name;
  }
}

TEST(SpdyRemoteCommandTest, HangsUpOnTheStopMarker) {
  SpdyServerScript script;
  script.Ping(1).Reply(1).Reply(3).Data(3, "attached\nready> ", false).Data(3, "more", false);
  ScriptedHttpServer server([&](const RecordedRequest&) {
    return SpdyUpgradeResponse("v4.channel.k8s.io") + script.bytes();
  });
  RemoteCommandOptions options = FastOptions();
  options.stop_when_stdout_contains = "ready>";
  absl::StatusOr<RemoteCommandResult> result =
      RunSpdyRemoteCommand(Url(server, "/attach/x"), options);
  ASSERT_THAT(result, IsOk());
  // Stops at the frame that completed the marker.
  EXPECT_EQ(result->stdout_data, "attached\nready> ");
  EXPECT_THAT(result->streams_unfinished, ::testing::ElementsAre("stream 1 (streamtype=error)",
                                                                 "stream 3 (streamtype=stdout)"));
}

TEST(SpdyRemoteCommandTest, ReportsResetAndUnfinishedStreams) {
  SpdyServerScript script;
  // stdout reset (RST_STREAM CANCEL), the error stream never ended.
  script.Ping(1).Reply(1).Reply(3).Raw(spdy::EncodeRstStream(3, spdy::kRstCancel));
  ScriptedHttpServer server([&](const RecordedRequest&) {
    return SpdyUpgradeResponse("v4.channel.k8s.io") + script.bytes();
  });
  absl::StatusOr<RemoteCommandResult> result =
      RunSpdyRemoteCommand(Url(server, "/exec/x"), FastOptions());
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(result->streams_reset_by_server,
              ::testing::ElementsAre("stream 3 (streamtype=stdout)"));
  EXPECT_THAT(result->streams_unfinished, ::testing::ElementsAre("stream 1 (streamtype=error)"));
}

TEST(SpdyRemoteCommandTest, ChecksOptions) {
  RemoteCommandOptions options = FastOptions();
  options.stdin_data = "x";
  EXPECT_THAT(RunSpdyRemoteCommand("http://127.0.0.1:1/exec/x", options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options = FastOptions();
  options.resizes = {{80, 24}};
  EXPECT_THAT(RunWebSocketRemoteCommand("http://127.0.0.1:1/exec/x", options),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SpdyRemoteCommandTest, TimesOutOnASilentServer) {
  // A listener that never accepts: the kernel completes the handshake, no
  // one answers.
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener.get(), 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  RemoteCommandOptions options;
  options.timeout = absl::Milliseconds(200);
  EXPECT_THAT(RunSpdyRemoteCommand(
                  absl::StrCat("http://127.0.0.1:", ntohs(address.sin_port), "/exec/x"), options),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("HTTP response head")));
}

std::string WebSocketUpgradeResponse(const RecordedRequest& request, absl::string_view protocol) {
  return absl::StrCat(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ",
      websocket::AcceptKey(request.header("sec-websocket-key")),
      "\r\nSec-WebSocket-Protocol: ", protocol, "\r\n\r\n");
}

// An unmasked server frame with a short payload.
std::string ServerFrame(websocket::Opcode opcode, absl::string_view payload) {
  return Bytes({0x80 | static_cast<int>(opcode), static_cast<int>(payload.size())}) +
         std::string(payload);
}

std::string ChannelMessage(int channel, absl::string_view data) {
  return ServerFrame(websocket::Opcode::kBinary, Bytes({channel}) + std::string(data));
}

std::string Pong() { return ServerFrame(websocket::Opcode::kPong, kWebSocketPingPayload); }

std::string NormalClose() {
  return ServerFrame(websocket::Opcode::kClose, websocket::EncodeClosePayload(1000));
}

TEST(WebSocketRemoteCommandTest, CollectsChannelsFromACannedServer) {
  ScriptedHttpServer server([](const RecordedRequest& request) {
    return WebSocketUpgradeResponse(request, "v5.channel.k8s.io") + Pong() + ChannelMessage(1, "") +
           ChannelMessage(1, "hi\n") + ChannelMessage(2, "warn\n") +
           ChannelMessage(3, kSuccessStatus) + NormalClose();
  });
  RemoteCommandOptions options = FastOptions();
  options.stderr = true;
  options.stdin = true;
  options.stdin_data = "input";
  absl::StatusOr<RemoteCommandResult> result =
      RunWebSocketRemoteCommand(Url(server, "/exec/tok"), options);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->http_status, 101);
  EXPECT_EQ(result->protocol, "v5.channel.k8s.io");
  EXPECT_EQ(result->stdout_data, "hi\n");
  EXPECT_EQ(result->stderr_data, "warn\n");
  EXPECT_EQ(result->error_data, kSuccessStatus);
  EXPECT_TRUE(result->pong_received);

  std::vector<RecordedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].header("upgrade"), "websocket");
  EXPECT_EQ(requests[0].header("sec-websocket-version"), "13");
  EXPECT_EQ(requests[0].header("sec-websocket-protocol"), "v5.channel.k8s.io, v4.channel.k8s.io");
}

TEST(WebSocketRemoteCommandTest, FailsOnServerProtocolViolations) {
  struct Case {
    std::string name;
    std::function<std::string(const RecordedRequest&)> response;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"masked frame",
       [](const RecordedRequest& r) {
         return WebSocketUpgradeResponse(r, "v4.channel.k8s.io") +
                Bytes({0x82, 0x81, 1, 2, 3, 4, 0});
       },
       "masked"},
      {"wrong accept key",
       [](const RecordedRequest&) {
         return std::string(
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kxEGzzWoo/YxPo=\r\n"
             "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n");
       },
       "Sec-WebSocket-Accept"},
      {"no pong",
       [](const RecordedRequest& r) {
         return WebSocketUpgradeResponse(r, "v4.channel.k8s.io") + NormalClose();
       },
       "without a pong"},
      {"stderr not asked for",
       [](const RecordedRequest& r) {
         return WebSocketUpgradeResponse(r, "v4.channel.k8s.io") + Pong() + ChannelMessage(2, "x");
       },
       "on stderr, which the client did not ask for"},
      {"text message",
       [](const RecordedRequest& r) {
         return WebSocketUpgradeResponse(r, "v4.channel.k8s.io") + Pong() +
                ServerFrame(websocket::Opcode::kText, "1aGk=");
       },
       "text message"},
      {"close signal on v4",
       [](const RecordedRequest& r) {
         return WebSocketUpgradeResponse(r, "v4.channel.k8s.io") + Pong() +
                ChannelMessage(255, Bytes({1}));
       },
       "close signal (channel 255) on v4.channel.k8s.io"},
      {"frame after close",
       [](const RecordedRequest& r) {
         return WebSocketUpgradeResponse(r, "v4.channel.k8s.io") + Pong() + NormalClose() +
                ChannelMessage(1, "late");
       },
       ""},  // the client stops reading at the close frame: no error
  };
  for (const Case& test : cases) {
    ScriptedHttpServer server(test.response);
    absl::StatusOr<RemoteCommandResult> result =
        RunWebSocketRemoteCommand(Url(server, "/exec/x"), FastOptions());
    if (test.error.empty()) {
      EXPECT_THAT(result, IsOk()) << test.name;
    } else {
      EXPECT_THAT(result, StatusIs(absl::StatusCode::kInternal, HasSubstr(test.error)))
          << test.name;
    }
  }
}

TEST(SpdyPortForwardClientTest, ExchangesWithACannedServer) {
  SpdyServerScript script;
  // Replies to error (1) and data (3), the response, then both FINs.
  script.Reply(1).Reply(3).Data(3, "HTTP/1.0 200 OK\r\n\r\nhello", true).Data(1, "", true);
  ScriptedHttpServer server([&](const RecordedRequest&) {
    return SpdyUpgradeResponse("portforward.k8s.io") + script.bytes();
  });
  absl::StatusOr<std::unique_ptr<SpdyPortForwardClient>> client =
      SpdyPortForwardClient::Connect(Url(server, "/portforward/tok"), absl::Seconds(5));
  ASSERT_THAT(client, IsOk());
  EXPECT_EQ((*client)->http_status(), 101);
  EXPECT_EQ((*client)->protocol(), "portforward.k8s.io");
  absl::StatusOr<std::vector<SpdyPortForwardClient::Exchange>> exchanges =
      (*client)->ExchangeAll(80, {"GET / HTTP/1.0\r\n\r\n"});
  ASSERT_THAT(exchanges, IsOk());
  ASSERT_EQ(exchanges->size(), 1u);
  EXPECT_EQ((*exchanges)[0].response, "HTTP/1.0 200 OK\r\n\r\nhello");
  EXPECT_EQ((*exchanges)[0].error, "");
  EXPECT_EQ(server.requests().at(0).header("x-stream-protocol-version"), "portforward.k8s.io");
}

TEST(SpdyPortForwardClientTest, CountsBytesAndReportsForwardingErrors) {
  SpdyServerScript script;
  script.Reply(1)
      .Reply(3)
      .Data(3, std::string(3000, 'z'), false)
      .Data(3, std::string(3000, 'z'), false);
  ScriptedHttpServer server([&](const RecordedRequest&) {
    return SpdyUpgradeResponse("portforward.k8s.io") + script.bytes();
  });
  absl::StatusOr<std::unique_ptr<SpdyPortForwardClient>> client =
      SpdyPortForwardClient::Connect(Url(server, "/portforward/tok"), absl::Seconds(5));
  ASSERT_THAT(client, IsOk());
  absl::StatusOr<size_t> received = (*client)->ReceiveBytes(80, "GET", 4000);
  ASSERT_THAT(received, IsOk());
  EXPECT_EQ(*received, 6000u);

  SpdyServerScript failing;
  failing.Reply(1).Reply(3).Data(3, "", true).Data(1, "dial tcp 127.0.0.1:80: refused", true);
  ScriptedHttpServer failing_server([&](const RecordedRequest&) {
    return SpdyUpgradeResponse("portforward.k8s.io") + failing.bytes();
  });
  client =
      SpdyPortForwardClient::Connect(Url(failing_server, "/portforward/tok"), absl::Seconds(5));
  ASSERT_THAT(client, IsOk());
  EXPECT_THAT((*client)->ReceiveBytes(80, "GET", 4000),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("dial tcp 127.0.0.1:80: refused")));
}

TEST(SpdyPortForwardClientTest, KeepsTheStatusOfARefusedUpgrade) {
  ScriptedHttpServer server(
      [](const RecordedRequest&) { return ScriptedHttpServer::Response(404, "unknown token"); });
  absl::StatusOr<std::unique_ptr<SpdyPortForwardClient>> client =
      SpdyPortForwardClient::Connect(Url(server, "/portforward/gone"), absl::Seconds(5));
  ASSERT_THAT(client, IsOk());
  EXPECT_EQ((*client)->http_status(), 404);
  EXPECT_EQ((*client)->http_body(), "unknown token");
  EXPECT_THAT((*client)->ExchangeAll(80, {"x"}), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace berth::testing
