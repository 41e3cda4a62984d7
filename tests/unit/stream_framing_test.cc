// The streaming server's pure parts against the protocol texts: SPDY/3.1
// frames, header blocks and sessions, WebSocket frames (RFC 6455 examples),
// the HTTP request head, tokens, the upgrade decision and exit statuses.
// Input frames are written out byte by byte here and compressed header
// blocks come from the test's own zlib stream, so a misreading shared with
// the server's encoders cannot pass both ways.

#include <openssl/evp.h>
#include <zlib.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cri/streaming/http_request.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/spdy_dictionary.h"
#include "cri/streaming/spdy_frames.h"
#include "cri/streaming/spdy_headers.h"
#include "cri/streaming/spdy_session.h"
#include "cri/streaming/stream_backend.h"
#include "cri/streaming/stream_request.h"
#include "cri/streaming/stream_upgrade.h"
#include "cri/streaming/websocket_frames.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/status_matchers.h"

namespace berth::streaming {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::Optional;

// A reader's Next() that is OK and has nothing yet.
MATCHER(IsPending, "is OK and holds nothing yet") { return arg.ok() && !arg->has_value(); }

using Pairs = std::vector<std::pair<std::string, std::string>>;

// ---- bytes, written out by hand ---------------------------------------------

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int byte : bytes) out.push_back(static_cast<char>(byte));
  return out;
}

std::string U32(uint32_t value) {
  return Bytes({static_cast<int>(value >> 24), static_cast<int>((value >> 16) & 0xff),
                static_cast<int>((value >> 8) & 0xff), static_cast<int>(value & 0xff)});
}

// flags(8) | length(24)
std::string FlagsAndLength(uint8_t flags, size_t length) {
  return Bytes({flags, static_cast<int>((length >> 16) & 0xff),
                static_cast<int>((length >> 8) & 0xff), static_cast<int>(length & 0xff)});
}

// 1 | version(15) | type(16) | flags(8) | length(24) | payload
std::string Control(uint16_t type, uint8_t flags, absl::string_view payload, uint16_t version = 3) {
  return Bytes({0x80 | (version >> 8), version & 0xff, type >> 8, type & 0xff}) +
         FlagsAndLength(flags, payload.size()) + std::string(payload);
}

// 0 | stream-id(31) | flags(8) | length(24) | payload
std::string Data(uint32_t stream_id, uint8_t flags, absl::string_view payload) {
  return U32(stream_id) + FlagsAndLength(flags, payload.size()) + std::string(payload);
}

// An uncompressed header block: count, then length-prefixed names and values.
std::string RawBlock(const Pairs& headers) {
  std::string block = U32(static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers)
    absl::StrAppend(&block, U32(static_cast<uint32_t>(name.size())), name,
                    U32(static_cast<uint32_t>(value.size())), value);
  return block;
}

// stream-id(31), associated-stream-id(31), priority(3)+unused(5), slot(8), block
std::string SynStreamPayload(uint32_t stream_id, absl::string_view block) {
  return U32(stream_id) + U32(0) + Bytes({0, 0}) + std::string(block);
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), length));
}

Bytef* ZlibBytes(absl::string_view bytes) {
  return reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
}

// The client's side of the header compression: one deflate stream for the
// whole connection, primed with the SPDY dictionary (or another one), a
// SYNC_FLUSH after each block.
class TestDeflater {
 public:
  explicit TestDeflater(absl::string_view dictionary = SpdyHeaderDictionary()) {
    deflateInit(&stream_, Z_DEFAULT_COMPRESSION);
    deflateSetDictionary(&stream_, ZlibBytes(dictionary), static_cast<uInt>(dictionary.size()));
  }
  ~TestDeflater() { deflateEnd(&stream_); }
  TestDeflater(const TestDeflater&) = delete;
  TestDeflater& operator=(const TestDeflater&) = delete;

  std::string Compress(absl::string_view raw) {
    std::string out;
    stream_.next_in = ZlibBytes(raw);
    stream_.avail_in = static_cast<uInt>(raw.size());
    char chunk[16 << 10];
    do {
      stream_.next_out = reinterpret_cast<Bytef*>(chunk);
      stream_.avail_out = sizeof(chunk);
      EXPECT_NE(deflate(&stream_, Z_SYNC_FLUSH), Z_STREAM_ERROR);
      out.append(chunk, sizeof(chunk) - stream_.avail_out);
    } while (stream_.avail_out == 0);
    return out;
  }

 private:
  z_stream stream_{};
};

// The client's side of the server's header compression.
class ReferenceInflater {
 public:
  ReferenceInflater() { inflateInit(&stream_); }
  ~ReferenceInflater() { inflateEnd(&stream_); }
  ReferenceInflater(const ReferenceInflater&) = delete;
  ReferenceInflater& operator=(const ReferenceInflater&) = delete;

  std::string Inflate(absl::string_view compressed) {
    stream_.next_in = ZlibBytes(compressed);
    stream_.avail_in = static_cast<uInt>(compressed.size());
    std::string out;
    char chunk[256];
    for (;;) {
      stream_.next_out = reinterpret_cast<Bytef*>(chunk);
      stream_.avail_out = sizeof(chunk);
      int rc = inflate(&stream_, Z_SYNC_FLUSH);
      out.append(chunk, sizeof(chunk) - stream_.avail_out);
      if (rc == Z_NEED_DICT) {
        absl::string_view dictionary = SpdyHeaderDictionary();
        EXPECT_EQ(inflateSetDictionary(&stream_, ZlibBytes(dictionary),
                                       static_cast<uInt>(dictionary.size())),
                  Z_OK);
        continue;
      }
      if (rc != Z_OK || (stream_.avail_in == 0 && stream_.avail_out != 0)) {
        EXPECT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << "inflate: " << rc;
        break;
      }
    }
    EXPECT_EQ(stream_.avail_in, 0u);
    return out;
  }

 private:
  z_stream stream_{};
};

// The server's output, split into frames by a reader of the test's own.
struct WireFrame {
  bool control = false;
  uint16_t version = 0;
  uint16_t type = 0;
  uint32_t stream_id = 0;
  uint8_t flags = 0;
  std::string payload;
};

uint32_t ReadU32(absl::string_view bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = value << 8 | static_cast<uint8_t>(bytes[at + i]);
  return value;
}

std::vector<WireFrame> SplitFrames(absl::string_view bytes) {
  std::vector<WireFrame> frames;
  while (!bytes.empty()) {
    if (bytes.size() < 8) {
      ADD_FAILURE() << "output ends inside a frame header";
      break;
    }
    uint32_t first = ReadU32(bytes, 0);
    uint32_t second = ReadU32(bytes, 4);
    size_t length = second & 0xffffff;
    if (bytes.size() < 8 + length) {
      ADD_FAILURE() << "output ends inside a frame payload";
      break;
    }
    WireFrame frame{.control = (first >> 31) != 0, .flags = static_cast<uint8_t>(second >> 24)};
    if (frame.control) {
      frame.version = static_cast<uint16_t>((first >> 16) & 0x7fff);
      frame.type = static_cast<uint16_t>(first & 0xffff);
    } else {
      frame.stream_id = first;
    }
    frame.payload = std::string(bytes.substr(8, length));
    frames.push_back(std::move(frame));
    bytes.remove_prefix(8 + length);
  }
  return frames;
}

// "rst <id> <status>", "goaway <last> <status>", "ping <id>", "reply <id>",
// "data <id> <size>[ fin]": the server's output in a line per frame.
std::vector<std::string> DescribeOutput(absl::string_view bytes) {
  std::vector<std::string> lines;
  for (const WireFrame& frame : SplitFrames(bytes)) {
    if (!frame.control) {
      lines.push_back(absl::StrCat("data ", frame.stream_id, " ", frame.payload.size(),
                                   frame.flags & 1 ? " fin" : ""));
      continue;
    }
    EXPECT_EQ(frame.version, 3);
    std::string line = absl::StrCat("control ", frame.type);
    if (frame.type == 3 && frame.payload.size() == 8)
      line = absl::StrCat("rst ", ReadU32(frame.payload, 0), " ", ReadU32(frame.payload, 4));
    if (frame.type == 7 && frame.payload.size() == 8)
      line = absl::StrCat("goaway ", ReadU32(frame.payload, 0), " ", ReadU32(frame.payload, 4));
    if (frame.type == 6 && frame.payload.size() == 4)
      line = absl::StrCat("ping ", ReadU32(frame.payload, 0));
    if (frame.type == 2 && frame.payload.size() >= 4)
      line = absl::StrCat("reply ", ReadU32(frame.payload, 0));
    lines.push_back(line);
  }
  return lines;
}

// ---- SPDY frame reader --------------------------------------------------------

std::vector<SpdyFrame> ReadAll(SpdyFrameReader& reader) {
  std::vector<SpdyFrame> frames;
  for (;;) {
    absl::StatusOr<std::optional<SpdyFrame>> frame = reader.Next();
    EXPECT_THAT(frame, IsOk());
    if (!frame.ok() || !frame->has_value()) return frames;
    frames.push_back(**frame);
  }
}

TEST(SpdyFrameReaderTest, ReadsControlAndDataFrames) {
  SpdyFrameReader reader;
  reader.Append(Bytes({0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07}) +
                Bytes({0x00, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x03}) + "abc");
  std::vector<SpdyFrame> frames = ReadAll(reader);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(frames[0].control);
  EXPECT_EQ(frames[0].type, SpdyType::kPing);
  EXPECT_EQ(frames[0].flags, 0);
  EXPECT_EQ(frames[0].payload, Bytes({0, 0, 0, 7}));
  EXPECT_FALSE(frames[1].control);
  EXPECT_EQ(frames[1].stream_id, 5u);
  EXPECT_EQ(frames[1].flags, kSpdyFin);
  EXPECT_EQ(frames[1].payload, "abc");
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(SpdyFrameReaderTest, FramesSplitByteByByteComeOutWhole) {
  const std::string payload(3000, 'x');
  const std::string stream = Control(4, 0, U32(0)) + Data(1, 0, payload) + Data(3, kSpdyFin, "") +
                             Control(9, 0, U32(1) + U32(100));
  SpdyFrameReader reader;
  std::vector<SpdyFrame> frames;
  for (char byte : stream) {
    reader.Append(absl::string_view(&byte, 1));
    for (SpdyFrame& frame : ReadAll(reader)) frames.push_back(std::move(frame));
  }
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].type, SpdyType::kSettings);
  EXPECT_EQ(frames[1].stream_id, 1u);
  EXPECT_EQ(frames[1].payload, payload);
  EXPECT_EQ(frames[2].stream_id, 3u);
  EXPECT_EQ(frames[2].flags, kSpdyFin);
  EXPECT_EQ(frames[2].payload, "");
  EXPECT_EQ(frames[3].type, SpdyType::kWindowUpdate);
  EXPECT_EQ(frames[3].payload, U32(1) + U32(100));
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(SpdyFrameReaderTest, LimitsAreInclusive) {
  // A header announcing exactly the limit waits for its payload.
  for (size_t limit : {kMaxSpdyDataPayload, kMaxSpdyControlPayload}) {
    SpdyFrameReader reader;
    reader.Append(limit == kMaxSpdyDataPayload ? Bytes({0, 0, 0, 1}) + FlagsAndLength(0, limit)
                                               : Bytes({0x80, 3, 0, 1}) + FlagsAndLength(0, limit));
    EXPECT_THAT(reader.Next(), IsPending());
  }
}

TEST(SpdyFrameReaderTest, RejectsBadFrames) {
  struct Case {
    std::string name;
    std::string bytes;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"version 2", Control(6, 0, U32(1), 2), "version 2"},
      {"version 0", Control(6, 0, U32(1), 0), "version 0"},
      {"data over the limit", Bytes({0, 0, 0, 1}) + FlagsAndLength(0, kMaxSpdyDataPayload + 1),
       "over the limit"},
      {"control over the limit",
       Bytes({0x80, 3, 0, 1}) + FlagsAndLength(0, kMaxSpdyControlPayload + 1), "over the limit"},
      {"largest length", Bytes({0x80, 3, 0, 9}) + FlagsAndLength(0xff, 0xffffff), "over the limit"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SpdyFrameReader reader;
    reader.Append(c.bytes);
    EXPECT_THAT(reader.Next(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
    // Nothing was consumed: the error stays.
    EXPECT_THAT(reader.Next(), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(SpdyFramesTest, ParsesSynStream) {
  absl::StatusOr<SynStream> syn =
      ParseSynStream(U32(0x80000005) + U32(0x80000003) + Bytes({0xe0, 0x00}) + "block");
  ASSERT_THAT(syn, IsOk());
  EXPECT_EQ(syn->stream_id, 5u);  // the reserved bit is not part of the id
  EXPECT_EQ(syn->associated_stream_id, 3u);
  EXPECT_EQ(syn->priority, 7);
  EXPECT_EQ(syn->header_block, "block");

  EXPECT_THAT(ParseSynStream(U32(1) + U32(0) + Bytes({0, 0})), IsOk());
  EXPECT_THAT(ParseSynStream(U32(1) + U32(0) + Bytes({0})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too short")));
  EXPECT_THAT(ParseSynStream(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SpdyFramesTest, ParsesRstStreamOfEightBytesOnly) {
  absl::StatusOr<RstStream> rst = ParseRstStream(U32(7) + U32(5));
  ASSERT_THAT(rst, IsOk());
  EXPECT_EQ(rst->stream_id, 7u);
  EXPECT_EQ(rst->status, 5u);
  for (const std::string& payload :
       {U32(7) + Bytes({0, 0, 5}), U32(7) + U32(5) + Bytes({0}), std::string()}) {
    EXPECT_THAT(ParseRstStream(payload),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not 8")));
  }
  EXPECT_THAT(ParseStreamIdPrefix(Bytes({0, 0, 1})), StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<uint32_t> id = ParseStreamIdPrefix(U32(0x80000009));
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(*id, 9u);
}

TEST(SpdyFramesTest, EncodersWriteTheDraftLayout) {
  EXPECT_EQ(EncodeSpdyDataFrame(5, kSpdyFin, "hi"), Bytes({0, 0, 0, 5, 1, 0, 0, 2, 'h', 'i'}));
  EXPECT_EQ(EncodeSpdyControlFrame(SpdyType::kPing, 0, U32(9)),
            Bytes({0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 9}));
  EXPECT_EQ(RstStreamPayload(3, SpdyRstStatus::kRefusedStream), U32(3) + U32(3));
  EXPECT_EQ(GoAwayPayload(7, SpdyGoAwayStatus::kProtocolError), U32(7) + U32(1));
  EXPECT_EQ(SynReplyPayload(1, "zz"), U32(1) + "zz");
}

// ---- header blocks ------------------------------------------------------------

TEST(SpdyHeadersTest, DictionaryIsTheSpecFile) {
  EXPECT_EQ(SpdyHeaderDictionary().size(), 1423u);
  EXPECT_EQ(Sha256Hex(SpdyHeaderDictionary()),
            "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02");
}

TEST(SpdyHeadersTest, SerializesCountThenLengthPrefixedPairs) {
  EXPECT_EQ(SerializeSpdyHeaders({{"streamtype", "error"}}),
            Bytes({0, 0, 0, 1, 0, 0, 0, 10}) + "streamtype" + Bytes({0, 0, 0, 5}) + "error");
  EXPECT_EQ(SerializeSpdyHeaders({}), Bytes({0, 0, 0, 0}));
}

TEST(SpdyHeadersTest, EncoderBlocksInflateWithAnIndependentInflater) {
  SpdyHeaderEncoder encoder;
  ReferenceInflater inflater;
  const std::vector<Pairs> blocks = {
      {},
      {{"streamtype", "error"}},
      {{"streamtype", "data"}, {"port", "8080"}, {"requestid", "0"}},
      {{"streamtype", "data"}, {"port", "8080"}, {"requestid", "1"}},
  };
  for (const Pairs& headers : blocks) {
    std::string compressed = encoder.Encode(headers);
    EXPECT_EQ(inflater.Inflate(compressed), RawBlock(headers));
  }
}

TEST(SpdyHeadersTest, DecoderReadsBlocksSharingOneContext) {
  TestDeflater deflater;
  SpdyHeaderDecoder decoder;
  const std::vector<Pairs> blocks = {
      {{"streamtype", "error"}},
      {{"streamtype", "stdout"}},
      // Go's framer joins several values with NUL; names arrive lower-cased
      // but upper case is tolerated.
      {{"Streamtype", "data"}, {"port", "80"}, {"x-multi", std::string("a\0b", 3)}},
      {},
  };
  for (const Pairs& headers : blocks) {
    absl::StatusOr<SpdyHeaders> decoded = decoder.Decode(deflater.Compress(RawBlock(headers)));
    ASSERT_THAT(decoded, IsOk());
    Pairs expected = headers;
    for (auto& [name, value] : expected) name = absl::AsciiStrToLower(name);
    EXPECT_EQ(*decoded, expected);
  }
}

TEST(SpdyHeadersTest, DecoderAcceptsABlockOfExactlyTheLimit) {
  // count + name length + "x" + value length: 13 bytes around the value.
  const std::string value(kMaxSpdyHeaderBlock - 13, 'v');
  TestDeflater deflater;
  SpdyHeaderDecoder decoder;
  absl::StatusOr<SpdyHeaders> decoded = decoder.Decode(deflater.Compress(RawBlock({{"x", value}})));
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(SpdyHeaderValue(*decoded, "x"), value);
}

TEST(SpdyHeadersTest, HeaderValueIsTheFirstOfSeveral) {
  SpdyHeaders headers = {{"a", std::string("one\0two", 7)}, {"a", "three"}, {"b", "x"}};
  EXPECT_EQ(SpdyHeaderValue(headers, "a"), "one");
  EXPECT_EQ(SpdyHeaderValue(headers, "b"), "x");
  EXPECT_EQ(SpdyHeaderValue(headers, "c"), "");
}

struct MalformedBlock {
  std::string name;
  std::string raw;
  std::string message;
};

std::vector<MalformedBlock> MalformedBlocks() {
  return {
      {"empty", "", "without a count"},
      {"short count", Bytes({0, 0, 1}), "without a count"},
      {"count larger than the block", U32(5) + U32(1) + "a" + U32(1) + "b", "claims 5 headers"},
      {"huge count", U32(0xffffffff), "claims"},
      {"name length past the end", U32(1) + U32(100) + "ab" + U32(0), "runs past the block"},
      {"value length past the end", U32(1) + U32(1) + "a" + U32(50) + "b", "runs past the block"},
      {"block ends inside a length", U32(2) + U32(1) + "a" + U32(5) + "bcdef" + "xyz",
       "ends inside a name length"},
      {"stray trailing bytes", RawBlock({{"a", "b"}}) + "x", "1 stray bytes"},
      {"empty name", RawBlock({{"", "b"}}), "empty header name"},
  };
}

TEST(SpdyHeadersTest, ParseRejectsMalformedBlocks) {
  for (const MalformedBlock& c : MalformedBlocks()) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(ParseSpdyHeaders(c.raw),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

TEST(SpdyHeadersTest, DecoderFailsOnBadBlocksAndKeepsFailing) {
  std::vector<MalformedBlock> cases = MalformedBlocks();
  // A zlib bomb: a megabyte of zeros deflates to about a kilobyte.
  cases.push_back(
      {"inflates past the limit", RawBlock({{"x", std::string(1 << 20, '\0')}}), "inflates past"});
  for (const MalformedBlock& c : cases) {
    SCOPED_TRACE(c.name);
    TestDeflater deflater;
    SpdyHeaderDecoder decoder;
    ASSERT_THAT(decoder.Decode(deflater.Compress(RawBlock({{"ok", "1"}}))), IsOk());
    std::string compressed = deflater.Compress(c.raw);
    if (c.raw.size() > kMaxSpdyHeaderBlock) {
      EXPECT_LT(compressed.size(), 4096u);
    }
    EXPECT_THAT(decoder.Decode(compressed),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
    EXPECT_THAT(decoder.Decode(deflater.Compress(RawBlock({{"ok", "2"}}))), Not(IsOk()));
  }
}

TEST(SpdyHeadersTest, DecoderFailsOnBadZlibAndKeepsFailing) {
  struct Case {
    std::string name;
    std::string compressed;
  };
  TestDeflater other_dictionary("not the SPDY dictionary");
  const std::vector<Case> cases = {
      {"not zlib", Bytes({0x00, 0x01, 0x02, 0x03, 0x04})},
      {"another dictionary", other_dictionary.Compress(RawBlock({{"a", "b"}}))},
      {"wrong dictionary id", Bytes({0x78, 0xbb, 0xff, 0xff, 0xff, 0xff, 0xff})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SpdyHeaderDecoder decoder;
    EXPECT_THAT(decoder.Decode(c.compressed), StatusIs(absl::StatusCode::kInvalidArgument));
    TestDeflater deflater;
    EXPECT_THAT(decoder.Decode(deflater.Compress(RawBlock({{"a", "b"}}))),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
}

TEST(SpdyHeadersTest, EncoderAndDecoderRoundTrip) {
  SpdyHeaderEncoder encoder;
  SpdyHeaderDecoder decoder;
  for (int i = 0; i < 5; ++i) {
    SpdyHeaders headers = {{"streamtype", "data"}, {"requestid", std::to_string(i)}};
    absl::StatusOr<SpdyHeaders> decoded = decoder.Decode(encoder.Encode(headers));
    ASSERT_THAT(decoded, IsOk());
    EXPECT_EQ(*decoded, headers);
  }
}

// ---- SPDY session ---------------------------------------------------------------

// "opened 1 streamtype=error", "data 1 hello", "done 1", "reset 1", "goaway".
std::vector<std::string> DescribeEvents(const std::vector<SpdySession::Event>& events) {
  std::vector<std::string> lines;
  for (const SpdySession::Event& event : events) {
    switch (event.kind) {
      case SpdySession::Event::kOpened: {
        std::vector<std::string> headers;
        for (const auto& [name, value] : event.headers) headers.push_back(name + "=" + value);
        lines.push_back(absl::StrCat("opened ", event.stream_id, " ", absl::StrJoin(headers, ",")));
        break;
      }
      case SpdySession::Event::kData:
        lines.push_back(absl::StrCat("data ", event.stream_id, " ", event.data));
        break;
      case SpdySession::Event::kRemoteDone:
        lines.push_back(absl::StrCat("done ", event.stream_id));
        break;
      case SpdySession::Event::kReset:
        lines.push_back(absl::StrCat("reset ", event.stream_id));
        break;
      case SpdySession::Event::kGoAway:
        lines.push_back("goaway");
        break;
    }
  }
  return lines;
}

// A client talking to a session: its own header compression, the events
// the session reported so far.
class SpdyClient {
 public:
  explicit SpdyClient(size_t max_streams = 256) : session_(max_streams) {}

  // Each block advances the compression context: frames must be made in
  // the order they are sent (not as operands of one `+`).
  std::string Syn(uint32_t stream_id, const Pairs& headers, uint8_t flags = 0) {
    return Control(1, flags, SynStreamPayload(stream_id, deflater_.Compress(RawBlock(headers))));
  }
  // SYN_STREAMs with "a: b", in order.
  std::string Syns(std::initializer_list<uint32_t> stream_ids) {
    std::string frames;
    for (uint32_t id : stream_ids) frames += Syn(id, {{"a", "b"}});
    return frames;
  }
  std::string HeadersFrame(uint32_t stream_id, const Pairs& headers) {
    return Control(8, 0, U32(stream_id) + deflater_.Compress(RawBlock(headers)));
  }

  absl::Status Feed(absl::string_view bytes) { return session_.Receive(bytes, events_); }
  // The events since the last call.
  std::vector<std::string> Events() { return DescribeEvents(std::exchange(events_, {})); }
  // The output since the last call, a line per frame.
  std::vector<std::string> Output() {
    return DescribeOutput(std::exchange(session_.output(), std::string()));
  }

  SpdySession& session() { return session_; }

 private:
  TestDeflater deflater_;
  SpdySession session_;
  std::vector<SpdySession::Event> events_;
};

TEST(SpdySessionTest, SynStreamOpensAStreamWithItsHeaders) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syn(1, {{"streamtype", "error"}})), IsOk());
  ASSERT_THAT(client.Feed(client.Syn(3, {{"streamtype", "stdout"}, {"x", "y"}})), IsOk());
  EXPECT_THAT(client.Events(),
              ElementsAre("opened 1 streamtype=error", "opened 3 streamtype=stdout,x=y"));
  EXPECT_THAT(client.Output(), IsEmpty());
  EXPECT_EQ(client.session().open_streams(), 2u);
}

TEST(SpdySessionTest, DataAndFinBecomeEvents) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syn(1, {{"streamtype", "stdin"}})), IsOk());
  ASSERT_THAT(client.Feed(Data(1, 0, "hello") + Data(1, 0, "") + Data(1, kSpdyFin, "world")),
              IsOk());
  ASSERT_THAT(client.Feed(client.Syn(3, {{"streamtype", "resize"}}, kSpdyFin)), IsOk());
  ASSERT_THAT(client.Feed(client.Syn(5, {{"streamtype", "x"}}) + Data(5, kSpdyFin, "")), IsOk());
  EXPECT_THAT(client.Events(), ElementsAre("opened 1 streamtype=stdin", "data 1 hello",
                                           "data 1 world", "done 1", "opened 3 streamtype=resize",
                                           "done 3", "opened 5 streamtype=x", "done 5"));
  EXPECT_THAT(client.Output(), IsEmpty());
}

TEST(SpdySessionTest, BytesSplitAnywhereGiveTheSameEvents) {
  SpdyClient client;
  std::string bytes = client.Syn(1, {{"streamtype", "stdin"}}) + Data(1, 0, "abc");
  bytes += client.Syn(3, {{"streamtype", "stdout"}}) + Data(1, kSpdyFin, "d");
  for (char byte : bytes) ASSERT_THAT(client.Feed(absl::string_view(&byte, 1)), IsOk());
  EXPECT_THAT(client.Events(), ElementsAre("opened 1 streamtype=stdin", "data 1 abc",
                                           "opened 3 streamtype=stdout", "data 1 d", "done 1"));
}

TEST(SpdySessionTest, PingIsEchoed) {
  SpdyClient client;
  const std::string ping = Bytes({0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 7});
  ASSERT_THAT(client.Feed(ping), IsOk());
  EXPECT_EQ(client.session().output(), ping);
  EXPECT_THAT(client.Events(), IsEmpty());
}

TEST(SpdySessionTest, IgnoresSettingsWindowUpdateNoopAndUnknownTypes) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syn(1, {{"streamtype", "stdin"}})), IsOk());
  client.Events();
  const std::string frames = Control(4, 1, U32(1) + Bytes({0, 0, 0, 7}) + U32(65536)) +  // SETTINGS
                             Control(9, 0, U32(1) + U32(65536)) +  // WINDOW_UPDATE
                             Control(5, 0, "") +                   // NOOP
                             Control(0x0a, 0, "anything") +        // CREDENTIAL, unused by Go
                             Control(0xfff0, 0xff, "abc");
  ASSERT_THAT(client.Feed(frames), IsOk());
  EXPECT_THAT(client.Events(), IsEmpty());
  EXPECT_THAT(client.Output(), IsEmpty());
  EXPECT_EQ(client.session().open_streams(), 1u);
}

TEST(SpdySessionTest, HeadersFramesKeepTheDecompressorInStep) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syn(1, {{"streamtype", "data"}, {"port", "80"}})), IsOk());
  ASSERT_THAT(client.Feed(client.HeadersFrame(1, {{"extra", "data"}, {"port", "81"}})), IsOk());
  ASSERT_THAT(client.Feed(client.Syn(3, {{"streamtype", "error"}, {"port", "80"}})), IsOk());
  EXPECT_THAT(client.Events(),
              ElementsAre("opened 1 streamtype=data,port=80", "opened 3 streamtype=error,port=80"));
}

TEST(SpdySessionTest, ClientResetAndGoAwayBecomeEvents) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syn(1, {{"streamtype", "stdin"}})), IsOk());
  ASSERT_THAT(client.Feed(Control(3, 0, U32(1) + U32(5))), IsOk());
  // A reset of a stream the session does not know says nothing.
  ASSERT_THAT(client.Feed(Control(3, 0, U32(9) + U32(5))), IsOk());
  ASSERT_THAT(client.Feed(Control(7, 0, U32(1) + U32(0))), IsOk());
  EXPECT_THAT(client.Events(), ElementsAre("opened 1 streamtype=stdin", "reset 1", "goaway"));
  EXPECT_EQ(client.session().open_streams(), 0u);
  EXPECT_THAT(client.Output(), IsEmpty());
}

TEST(SpdySessionTest, ProtocolViolationsFailAndQueueAGoAway) {
  struct Case {
    std::string name;
    // Frames after an accepted SYN_STREAM for stream 1.
    std::function<std::string(SpdyClient&)> frames;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"stream id reused",
       [](SpdyClient& c) {
         return c.Syn(1, {{"a", "b"}});
       },
       "reused"},
      {"lower stream id",
       [](SpdyClient& c) {
         return c.Syns({5, 3});
       },
       "reused"},
      {"even stream id",
       [](SpdyClient& c) {
         return c.Syn(2, {{"a", "b"}});
       },
       "not an odd id"},
      {"stream id 0",
       [](SpdyClient& c) {
         return c.Syn(0, {{"a", "b"}});
       },
       "not an odd id"},
      {"SYN_STREAM too short", [](SpdyClient&) { return Control(1, 0, U32(3) + U32(0) + "x"); },
       "too short"},
      {"RST_STREAM of 7 bytes", [](SpdyClient&) { return Control(3, 0, U32(1) + "abc"); }, "not 8"},
      {"RST_STREAM of 12 bytes",
       [](SpdyClient&) { return Control(3, 0, U32(1) + U32(1) + U32(1)); }, "not 8"},
      {"PING of 3 bytes", [](SpdyClient&) { return Control(6, 0, "abc"); }, "PING of 3"},
      {"SYN_REPLY from the client", [](SpdyClient&) { return Control(2, 0, U32(1) + U32(0)); },
       "SYN_REPLY"},
      {"HEADERS without a stream id", [](SpdyClient&) { return Control(8, 0, "ab"); }, "stream id"},
      {"bad header block",
       [](SpdyClient&) {
         return Control(1, 0, SynStreamPayload(3, Bytes({0x07, 0, 0})));
       },
       "inflate"},
      {"wrong version", [](SpdyClient&) { return Control(6, 0, U32(1), 2); }, "version 2"},
      {"oversized data frame",
       [](SpdyClient&) {
         return Bytes({0, 0, 0, 1}) + FlagsAndLength(0, kMaxSpdyDataPayload + 1);
       },
       "over the limit"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SpdyClient client;
    ASSERT_THAT(client.Feed(client.Syn(1, {{"streamtype", "error"}})), IsOk());
    client.Events();
    EXPECT_THAT(client.Feed(c.frames(client)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
    std::vector<std::string> output = client.Output();
    ASSERT_FALSE(output.empty());
    EXPECT_THAT(output.back(), MatchesRegex("goaway [0-9]+ 1"));
    EXPECT_TRUE(client.session().going_away());
    // Final: nothing more is read, not even a valid PING.
    EXPECT_THAT(client.Feed(Control(6, 0, U32(1))),
                StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(client.Output(), IsEmpty());
  }
}

TEST(SpdySessionTest, GoAwayNamesTheLastAcceptedStream) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syns({1, 7})), IsOk());
  EXPECT_THAT(client.Feed(client.Syn(7, {{"a", "b"}})), Not(IsOk()));
  EXPECT_THAT(client.Output(), ElementsAre("goaway 7 1"));
}

TEST(SpdySessionTest, DataForAnUnknownStreamIsReset) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(Data(9, 0, "x")), IsOk());
  EXPECT_THAT(client.Output(), ElementsAre("rst 9 2"));  // INVALID_STREAM
  EXPECT_THAT(client.Events(), IsEmpty());
}

// Regression: the reset used to erase the stream a second time through a
// dangling iterator, crashing berthd (found by this test and by
// spdy_session_fuzzer as an ASan double-free).
TEST(SpdySessionTest, DataAfterTheClientsFinResetsTheStream) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syn(1, {{"a", "b"}}, kSpdyFin)), IsOk());
  ASSERT_THAT(client.Feed(Data(1, 0, "late")), IsOk());
  EXPECT_THAT(client.Events(), ElementsAre("opened 1 a=b", "done 1", "reset 1"));
  EXPECT_THAT(client.Output(), ElementsAre("rst 1 9"));  // STREAM_ALREADY_CLOSED
  EXPECT_EQ(client.session().open_streams(), 0u);
}

TEST(SpdySessionTest, StreamsOverTheLimitAreRefused) {
  SpdyClient client(/*max_streams=*/2);
  ASSERT_THAT(client.Feed(client.Syns({1, 3, 5})), IsOk());
  EXPECT_THAT(client.Events(), ElementsAre("opened 1 a=b", "opened 3 a=b"));
  EXPECT_THAT(client.Output(), ElementsAre("rst 5 3"));  // REFUSED_STREAM
  EXPECT_EQ(client.session().open_streams(), 2u);
  // A closed stream makes room again.
  client.session().Reset(1, SpdyRstStatus::kCancel);
  ASSERT_THAT(client.Feed(client.Syn(7, {{"a", "b"}})), IsOk());
  EXPECT_THAT(client.Events(), ElementsAre("opened 7 a=b"));
  EXPECT_THAT(client.Output(), ElementsAre("rst 1 5"));
}

TEST(SpdySessionTest, AfterGoAwayNewStreamsAreRefused) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syn(1, {{"a", "b"}})), IsOk());
  client.session().GoAway();
  client.session().GoAway();  // said once
  ASSERT_THAT(client.Feed(client.Syn(3, {{"a", "b"}})), IsOk());
  EXPECT_THAT(client.Output(), ElementsAre("goaway 1 0", "rst 3 3"));
  EXPECT_THAT(client.Events(), ElementsAre("opened 1 a=b"));
}

TEST(SpdySessionTest, StreamsDoneBothWaysAreForgotten) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syn(1, {{"a", "b"}}, kSpdyFin)), IsOk());
  client.session().Finish(1);
  EXPECT_EQ(client.session().open_streams(), 0u);

  ASSERT_THAT(client.Feed(client.Syn(3, {{"a", "b"}})), IsOk());
  client.session().Finish(3);
  EXPECT_EQ(client.session().open_streams(), 1u);
  ASSERT_THAT(client.Feed(Data(3, kSpdyFin, "")), IsOk());
  EXPECT_EQ(client.session().open_streams(), 0u);

  // Regression: a unidirectional stream the client also finished is done at
  // once; it used to hold one of max_streams places for good.
  ASSERT_THAT(client.Feed(client.Syn(5, {{"a", "b"}}, kSpdyFin | kSpdyUnidirectional)), IsOk());
  EXPECT_THAT(client.Events(), ElementsAre("opened 1 a=b", "done 1", "opened 3 a=b", "done 3",
                                           "opened 5 a=b", "done 5"));
  EXPECT_EQ(client.session().open_streams(), 0u);
}

TEST(SpdySessionTest, ReplyIsASynReplyWithAnEmptyHeaderBlock) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syns({1, 3})), IsOk());
  client.session().Reply(1);
  client.session().Reply(3);
  std::vector<WireFrame> frames = SplitFrames(client.session().output());
  ASSERT_EQ(frames.size(), 2u);
  ReferenceInflater inflater;  // one context for the whole connection
  for (size_t i = 0; i < frames.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(frames[i].control);
    EXPECT_EQ(frames[i].version, 3);
    EXPECT_EQ(frames[i].type, 2);
    EXPECT_EQ(frames[i].flags, 0);
    ASSERT_GE(frames[i].payload.size(), 4u);
    EXPECT_EQ(ReadU32(frames[i].payload, 0), i == 0 ? 1u : 3u);
    EXPECT_EQ(inflater.Inflate(absl::string_view(frames[i].payload).substr(4)), U32(0));
  }
}

TEST(SpdySessionTest, SendChunksLargeDataWithFinOnlyOnTheLast) {
  SpdyClient client;
  ASSERT_THAT(client.Feed(client.Syns({1, 3})), IsOk());
  std::string data(80 << 10, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  client.session().Send(1, data, /*fin=*/true);
  std::vector<WireFrame> frames = SplitFrames(client.session().output());
  EXPECT_THAT(DescribeOutput(client.session().output()),
              ElementsAre("data 1 32768", "data 1 32768", "data 1 16384 fin"));
  std::string joined;
  for (const WireFrame& frame : frames) joined += frame.payload;
  EXPECT_EQ(joined, data);
  client.Output();

  // Exactly two chunks: no empty trailing frame. Without fin, no FIN.
  client.session().Send(3, std::string(64 << 10, 'x'));
  client.session().Send(3, "y");
  client.session().Finish(3);
  EXPECT_THAT(client.Output(),
              ElementsAre("data 3 32768", "data 3 32768", "data 3 1", "data 3 0 fin"));

  // Nothing after our FIN, nothing on unknown streams.
  client.session().Send(1, "late");
  client.session().Send(3, "late", true);
  client.session().Send(99, "nobody");
  EXPECT_THAT(client.Output(), IsEmpty());
}

// ---- WebSocket ---------------------------------------------------------------

// A client frame: `first` is FIN|RSV|opcode, the payload masked with `key`,
// the length in its shortest form.
std::string WsFrame(uint8_t first, absl::string_view payload,
                    absl::string_view key = "\x37\xfa\x21\x3d") {
  std::string frame = Bytes({first});
  size_t length = payload.size();
  if (length < 126) {
    frame += Bytes({0x80 | static_cast<int>(length)});
  } else if (length <= 0xffff) {
    frame += Bytes({0x80 | 126, static_cast<int>(length >> 8), static_cast<int>(length & 0xff)});
  } else {
    frame += Bytes({0x80 | 127});
    for (int shift = 56; shift >= 0; shift -= 8)
      frame += Bytes({static_cast<int>((static_cast<uint64_t>(length) >> shift) & 0xff)});
  }
  frame.append(key.data(), key.size());
  for (size_t i = 0; i < payload.size(); ++i) frame.push_back(payload[i] ^ key[i % 4]);
  return frame;
}

std::vector<WsMessage> ReadMessages(WebSocketReader& reader) {
  std::vector<WsMessage> messages;
  for (;;) {
    absl::StatusOr<std::optional<WsMessage>> message = reader.Next();
    EXPECT_THAT(message, IsOk());
    if (!message.ok() || !message->has_value()) return messages;
    messages.push_back(**message);
  }
}

TEST(WebSocketTest, ReadsTheRfcMaskedHelloExample) {
  const std::string frame =
      Bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(WsFrame(0x81, "Hello"), frame);  // the helper agrees with the RFC

  WebSocketReader whole;
  whole.Append(frame);
  std::vector<WsMessage> messages = ReadMessages(whole);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].opcode, WsOpcode::kText);
  EXPECT_EQ(messages[0].payload, "Hello");

  WebSocketReader bytewise;
  messages.clear();
  for (char byte : frame) {
    bytewise.Append(absl::string_view(&byte, 1));
    for (WsMessage& message : ReadMessages(bytewise)) messages.push_back(std::move(message));
  }
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload, "Hello");
}

TEST(WebSocketTest, ReassemblesFragmentsAroundAnInterleavedPing) {
  WebSocketReader reader;
  reader.Append(WsFrame(0x02, "\x01Hel", "abcd") + WsFrame(0x89, "ping!", "wxyz") +
                WsFrame(0x00, "lo, ", "1234") +
                WsFrame(0x80, "world", absl::string_view("\xff\x00\x80\x7f", 4)));
  std::vector<WsMessage> messages = ReadMessages(reader);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].opcode, WsOpcode::kPing);
  EXPECT_EQ(messages[0].payload, "ping!");
  EXPECT_EQ(messages[1].opcode, WsOpcode::kBinary);
  EXPECT_EQ(messages[1].payload, "\x01Hello, world");

  // The next message starts afresh.
  reader.Append(WsFrame(0x82, "\x02next") + WsFrame(0x8a, "") + WsFrame(0x88, "\x03\xe8"));
  messages = ReadMessages(reader);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].payload, "\x02next");
  EXPECT_EQ(messages[1].opcode, WsOpcode::kPong);
  EXPECT_EQ(messages[2].opcode, WsOpcode::kClose);
  EXPECT_EQ(messages[2].payload, "\x03\xe8");
}

TEST(WebSocketTest, Reads16And64BitLengths) {
  for (size_t size : {size_t{126}, size_t{200}, size_t{65535}, size_t{65536}, size_t{70000},
                      kMaxWebSocketMessage}) {
    SCOPED_TRACE(size);
    std::string payload(size, '\0');
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i % 251);
    std::string frame = WsFrame(0x82, payload);
    EXPECT_EQ(static_cast<uint8_t>(frame[1]), size <= 0xffff ? 0xfe : 0xff);
    WebSocketReader reader;
    reader.Append(absl::string_view(frame).substr(0, frame.size() - 1));
    EXPECT_THAT(reader.Next(), IsPending());
    reader.Append(absl::string_view(frame).substr(frame.size() - 1));
    std::vector<WsMessage> messages = ReadMessages(reader);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].payload, payload);
  }
}

// Regression for "continuation without a start": that error used to consume
// its frame, so the next Next() went on reading (found by this test and by
// websocket_fuzzer).
TEST(WebSocketTest, RejectsBadFramesAndKeepsFailing) {
  struct Case {
    std::string name;
    std::string bytes;
    std::string message;
  };
  const std::string mask = "\x01\x02\x03\x04";
  const std::string big(600 << 10, 'a');
  const std::vector<Case> cases = {
      {"unmasked", Bytes({0x81, 0x05}) + "Hello", "unmasked"},
      {"RSV1", WsFrame(0xc1, "Hello"), "reserved bits"},
      {"RSV3", WsFrame(0x91, "Hello"), "reserved bits"},
      {"opcode 3", WsFrame(0x83, "x"), "opcode 3"},
      {"opcode 11", WsFrame(0x8b, "x"), "opcode 11"},
      {"16-bit length under 126", Bytes({0x82, 0xfe, 0x00, 0x7d}) + mask, "minimally"},
      {"64-bit length under 65536", Bytes({0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff}) + mask,
       "minimally"},
      {"64-bit length with the top bit", Bytes({0x82, 0xff, 0x80, 0, 0, 0, 0, 1, 0, 0}) + mask,
       "top bit"},
      {"ping over 125 bytes", WsFrame(0x89, std::string(126, 'p')), "control frame"},
      {"fragmented ping", WsFrame(0x09, "p"), "control frame"},
      {"fragmented close", WsFrame(0x08, ""), "control frame"},
      {"continuation without a start", WsFrame(0x80, "x") + WsFrame(0x81, "ok"), "without a start"},
      {"message inside a fragmented one",
       WsFrame(0x01, "a") + WsFrame(0x81, "b") + WsFrame(0x81, "c"), "inside another"},
      {"frame over the limit",
       Bytes({0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 1}) + mask,  // kMaxWebSocketMessage + 1
       "over 1048576 bytes"},
      {"fragments over the limit",
       WsFrame(0x02, big) + Bytes({0x80, 0xff, 0, 0, 0, 0, 0, 0x09, 0x60, 0x00}) + mask,
       "over 1048576 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WebSocketReader reader;
    reader.Append(c.bytes);
    absl::StatusOr<std::optional<WsMessage>> first = reader.Next();
    while (first.ok() && first->has_value()) first = reader.Next();
    EXPECT_THAT(first, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
    EXPECT_THAT(reader.Next(), StatusIs(absl::StatusCode::kInvalidArgument));
    reader.Append(WsFrame(0x82, "more"));
    EXPECT_THAT(reader.Next(), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(WebSocketTest, AcceptKeyOfTheRfcExample) {
  EXPECT_EQ(WebSocketAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketTest, EncoderUsesTheShortestLength) {
  struct Case {
    size_t size;
    std::string header;
  };
  const std::vector<Case> cases = {
      {0, Bytes({0x82, 0})},
      {125, Bytes({0x82, 125})},
      {126, Bytes({0x82, 126, 0x00, 0x7e})},
      {65535, Bytes({0x82, 126, 0xff, 0xff})},
      {65536, Bytes({0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.size);
    const std::string payload(c.size, 'z');
    EXPECT_EQ(EncodeWebSocketFrame(WsOpcode::kBinary, payload), c.header + payload);
  }
  EXPECT_EQ(EncodeWebSocketFrame(WsOpcode::kPong, "p"), Bytes({0x8a, 1, 'p'}));
  EXPECT_EQ(EncodeWebSocketClose(1000, "bye"), Bytes({0x88, 5, 0x03, 0xe8, 'b', 'y', 'e'}));
  // A close frame is a control frame: at most 125 bytes.
  EXPECT_EQ(EncodeWebSocketClose(1002, std::string(300, 'r')).size(), 2u + 125u);
}

// ---- HTTP request head ------------------------------------------------------------

constexpr absl::string_view kHead =
    "POST /exec/abc?command=ls HTTP/1.1\r\n"
    "Host: localhost:10010\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Upgrade: SPDY/3.1\r\n"
    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
    "x-stream-protocol-version:v3.channel.k8s.io ,  v2.channel.k8s.io,\r\n"
    "Empty:\r\n"
    "\r\n";

TEST(HttpRequestTest, ParsesACompleteHead) {
  absl::StatusOr<std::optional<ParsedHead>> parsed =
      ParseHttpRequestHead(absl::StrCat(kHead, "SPDY bytes follow"));
  ASSERT_THAT(parsed, IsOk());
  ASSERT_TRUE(parsed->has_value());
  const HttpRequest& request = (*parsed)->request;
  EXPECT_EQ((*parsed)->head_size, kHead.size());
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/exec/abc?command=ls");
  EXPECT_EQ(request.Header("host"), "localhost:10010");
  EXPECT_EQ(request.Header("x-stream-protocol-version"), "v4.channel.k8s.io");
  EXPECT_EQ(request.Header("empty"), "");
  EXPECT_EQ(request.Header("missing"), "");
  EXPECT_THAT(request.HeaderList("x-stream-protocol-version"),
              ElementsAre("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"));
  EXPECT_THAT(request.HeaderList("empty"), IsEmpty());
  EXPECT_TRUE(request.HeaderHasToken("connection", "upgrade"));
  EXPECT_TRUE(request.HeaderHasToken("connection", "KEEP-ALIVE"));
  EXPECT_FALSE(request.HeaderHasToken("connection", "upgrad"));
  EXPECT_FALSE(request.HeaderHasToken("upgrade", "spdy"));
}

TEST(HttpRequestTest, IncompleteHeadsWait) {
  for (size_t size = 0; size < kHead.size(); ++size) {
    SCOPED_TRACE(size);
    EXPECT_THAT(ParseHttpRequestHead(kHead.substr(0, size)), IsPending());
  }
}

TEST(HttpRequestTest, RejectsMalformedHeads) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GET /x\r\n\r\n", "request line"},
      {"GET /x HTTP/1.1 extra\r\n\r\n", "request line"},
      {"GET  /x HTTP/1.1\r\n\r\n", "request line"},
      {" /x HTTP/1.1\r\n\r\n", "request line"},
      {"GET /x FTP/1.0\r\n\r\n", "request line"},
      {"\r\n\r\n", "request line"},
      {"GET /x HTTP/1.1\r\nNoColon\r\n\r\n", "header line"},
      {"GET /x HTTP/1.1\r\n: value\r\n\r\n", "header line"},
      {"GET /x HTTP/1.1\r\nBad Name: value\r\n\r\n", "header name"},
      {"GET /x HTTP/1.1\r\nName\t: value\r\n\r\n", "header name"},
      // Bytes a proxy in front might read as a line break or a new request.
      {"GE\nT /x HTTP/1.1\r\n\r\n", "request line"},
      {"GET /x\r HTTP/1.1\r\n\r\n", "request line"},
      {"GET /x HTTP/2.0\r\n\r\n", "request line"},
      {"GET /x HTTP/1.1\r\nNa\x01me: value\r\n\r\n", "header name"},
      {"GET /x HTTP/1.1\r\nName: va\nlue\r\n\r\n", "control characters"},
      {"GET /x HTTP/1.1\r\nName: va\rlue\r\n\r\n", "control characters"},
  };
  for (const auto& [head, message] : cases) {
    SCOPED_TRACE(head);
    EXPECT_THAT(ParseHttpRequestHead(head),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)));
  }
}

TEST(HttpRequestTest, BoundsTheHeadSize) {
  const std::string line = "GET /x HTTP/1.1\r\nX-Pad: ";
  // Exactly the limit, blank line included, is fine.
  std::string fits = line + std::string(kMaxHttpRequestHead - line.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), kMaxHttpRequestHead);
  EXPECT_THAT(ParseHttpRequestHead(fits), IsOk());
  std::string over = line + std::string(kMaxHttpRequestHead - line.size() - 3, 'p') + "\r\n\r\n";
  EXPECT_THAT(ParseHttpRequestHead(over),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too large")));
  // Without an end: waits up to the limit, fails past it.
  EXPECT_THAT(ParseHttpRequestHead(std::string(kMaxHttpRequestHead, 'a')), IsPending());
  EXPECT_THAT(ParseHttpRequestHead(std::string(kMaxHttpRequestHead + 1, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too large")));
}

// ---- request tokens ---------------------------------------------------------------

StreamRequest ExecRequest() {
  return {.kind = StreamKind::kExec, .container_id = "c1", .cmd = {"ls", "-l"}, .stdout = true};
}

TEST(StreamRequestCacheTest, TokenIsSingleUse) {
  StreamRequestCache cache;
  absl::StatusOr<std::string> token = cache.Insert(ExecRequest());
  ASSERT_THAT(token, IsOk());
  std::optional<StreamRequest> request = cache.Take(*token, StreamKind::kExec);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->container_id, "c1");
  EXPECT_THAT(request->cmd, ElementsAre("ls", "-l"));
  EXPECT_TRUE(request->stdout);
  EXPECT_FALSE(cache.Take(*token, StreamKind::kExec).has_value());
  EXPECT_FALSE(cache.Take("", StreamKind::kExec).has_value());
}

TEST(StreamRequestCacheTest, TokensAreDistinctAndUrlSafe) {
  StreamRequestCache cache;
  std::set<std::string> tokens;
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<std::string> token = cache.Insert(ExecRequest());
    ASSERT_THAT(token, IsOk());
    EXPECT_THAT(*token, MatchesRegex("[A-Za-z0-9_-]{22}"));
    tokens.insert(*token);
  }
  EXPECT_EQ(tokens.size(), 200u);
}

TEST(StreamRequestCacheTest, TokensExpire) {
  StreamRequestCache cache(absl::Milliseconds(50));
  absl::StatusOr<std::string> token = cache.Insert(ExecRequest());
  ASSERT_THAT(token, IsOk());
  absl::SleepFor(absl::Milliseconds(120));
  EXPECT_FALSE(cache.Take(*token, StreamKind::kExec).has_value());
}

TEST(StreamRequestCacheTest, KindMustMatch) {
  StreamRequestCache cache;
  absl::StatusOr<std::string> token = cache.Insert(ExecRequest());
  ASSERT_THAT(token, IsOk());
  EXPECT_FALSE(cache.Take(*token, StreamKind::kAttach).has_value());
  EXPECT_FALSE(cache.Take(*token, StreamKind::kPortForward).has_value());
}

TEST(StreamRequestCacheTest, CapacityIsBoundedUntilRequestsExpire) {
  StreamRequestCache cache(absl::Milliseconds(50), /*capacity=*/2);
  ASSERT_THAT(cache.Insert(ExecRequest()), IsOk());
  ASSERT_THAT(cache.Insert(ExecRequest()), IsOk());
  EXPECT_THAT(cache.Insert(ExecRequest()), StatusIs(absl::StatusCode::kResourceExhausted));
  absl::SleepFor(absl::Milliseconds(120));
  EXPECT_THAT(cache.Insert(ExecRequest()), IsOk());
}

TEST(StreamRequestCacheTest, PathPrefixes) {
  EXPECT_STREQ(StreamPathPrefix(StreamKind::kExec), "/exec/");
  EXPECT_STREQ(StreamPathPrefix(StreamKind::kAttach), "/attach/");
  EXPECT_STREQ(StreamPathPrefix(StreamKind::kPortForward), "/portforward/");
}

// ---- upgrade ---------------------------------------------------------------------

// The handlers are made but not driven; whatever they ask fails.
class FakeStreamBackend final : public StreamBackend {
 public:
  absl::StatusOr<std::unique_ptr<StreamSession>> Exec(const StreamRequest&) override {
    return absl::UnavailableError("fake backend: no exec");
  }
  absl::StatusOr<std::unique_ptr<StreamSession>> Attach(const StreamRequest&) override {
    return absl::UnavailableError("fake backend: no attach");
  }
  absl::StatusOr<UniqueFd> DialPod(const std::string&, uint16_t) override {
    return absl::UnavailableError("fake backend: no pods");
  }
};

struct HttpReply {
  int code = 0;
  Pairs headers;  // names lower-cased
  std::string body;

  std::optional<std::string> Header(absl::string_view name) const {
    for (const auto& [key, value] : headers)
      if (key == name) return value;
    return std::nullopt;
  }
};

HttpReply ParseReply(absl::string_view text) {
  HttpReply reply;
  size_t end = text.find("\r\n\r\n");
  EXPECT_NE(end, absl::string_view::npos) << text;
  if (end == absl::string_view::npos) return reply;
  reply.body = std::string(text.substr(end + 4));
  std::vector<absl::string_view> lines = absl::StrSplit(text.substr(0, end), "\r\n");
  std::vector<absl::string_view> status = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  EXPECT_EQ(status[0], "HTTP/1.1");
  if (status.size() < 2 || !absl::SimpleAtoi(status[1], &reply.code)) ADD_FAILURE() << lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> header =
        absl::StrSplit(lines[i], absl::MaxSplits(": ", 1));
    reply.headers.emplace_back(absl::AsciiStrToLower(header.first), header.second);
  }
  return reply;
}

class UpgradeTest : public ::testing::Test {
 protected:
  std::string NewToken(StreamKind kind) {
    StreamRequest request = ExecRequest();
    request.kind = kind;
    request.sandbox_id = "s1";
    absl::StatusOr<std::string> token = cache_.Insert(request);
    EXPECT_THAT(token, IsOk());
    return token.value_or("");
  }

  // The upgrade decision for a request head (header lines without CRLF).
  std::pair<HttpReply, bool> Run(absl::string_view method, absl::string_view target,
                                 const std::vector<std::string>& header_lines) {
    std::string head = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: localhost\r\n");
    for (const std::string& line : header_lines) absl::StrAppend(&head, line, "\r\n");
    head += "\r\n";
    absl::StatusOr<std::optional<ParsedHead>> parsed = ParseHttpRequestHead(head);
    EXPECT_THAT(parsed, IsOk());
    if (!parsed.ok() || !parsed->has_value()) return {};
    Upgrade upgrade = UpgradeConnection((*parsed)->request, cache_, backend_, absl::Seconds(30));
    HttpReply reply = ParseReply(upgrade.response);
    // A handler exactly for a 101.
    EXPECT_EQ(upgrade.handler != nullptr, reply.code == 101) << upgrade.response;
    return {reply, upgrade.handler != nullptr};
  }

  HttpReply Spdy(absl::string_view target, const std::vector<std::string>& protocols,
                 absl::string_view method = "POST") {
    std::vector<std::string> lines = {"Connection: Upgrade", "Upgrade: SPDY/3.1"};
    for (const std::string& protocol : protocols)
      lines.push_back("X-Stream-Protocol-Version: " + protocol);
    return Run(method, target, lines).first;
  }

  HttpReply WebSocket(absl::string_view target, absl::string_view protocols,
                      absl::string_view key = "dGhlIHNhbXBsZSBub25jZQ==") {
    std::vector<std::string> lines = {"Connection: Upgrade", "Upgrade: websocket",
                                      "Sec-WebSocket-Version: 13"};
    if (!key.empty()) lines.push_back(absl::StrCat("Sec-WebSocket-Key: ", key));
    if (!protocols.empty()) lines.push_back(absl::StrCat("Sec-WebSocket-Protocol: ", protocols));
    return Run("GET", target, lines).first;
  }

  StreamRequestCache cache_;
  FakeStreamBackend backend_;
};

TEST_F(UpgradeTest, UnknownReusedOrMisdirectedTokensAreNotFound) {
  EXPECT_EQ(Spdy("/exec/nosuchtoken", {"v4.channel.k8s.io"}).code, 404);

  std::string token = NewToken(StreamKind::kExec);
  EXPECT_EQ(Spdy("/exec/" + token, {"v4.channel.k8s.io"}).code, 101);
  EXPECT_EQ(Spdy("/exec/" + token, {"v4.channel.k8s.io"}).code, 404);

  EXPECT_EQ(Spdy("/attach/" + NewToken(StreamKind::kExec), {"v4.channel.k8s.io"}).code, 404);
  EXPECT_EQ(Spdy("/portforward/" + NewToken(StreamKind::kExec), {}).code, 404);
  for (const std::string& target :
       {std::string("/exec/"), "/exec/" + NewToken(StreamKind::kExec) + "/more",
        "/other/" + NewToken(StreamKind::kExec), std::string("/")}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(Spdy(target, {"v4.channel.k8s.io"}).code, 404);
  }
  // The query string is not part of the token.
  EXPECT_EQ(Spdy("/attach/" + NewToken(StreamKind::kAttach) + "?stdout=1", {}).code, 101);
}

TEST_F(UpgradeTest, SpdyTakesTheClientsFirstSupportedProtocol) {
  struct Case {
    std::vector<std::string> offered;
    std::string chosen;
  };
  const std::vector<Case> cases = {
      // v5 exists only over WebSocket.
      {{"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io"}, "v4.channel.k8s.io"},
      {{"v5.channel.k8s.io, v4.channel.k8s.io"}, "v4.channel.k8s.io"},
      {{"v2.channel.k8s.io", "v4.channel.k8s.io"}, "v2.channel.k8s.io"},
      {{"bogus", "channel.k8s.io"}, "channel.k8s.io"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.offered, " | "));
    HttpReply reply = Spdy("/exec/" + NewToken(StreamKind::kExec), c.offered);
    EXPECT_EQ(reply.code, 101);
    EXPECT_EQ(reply.Header("x-stream-protocol-version"), c.chosen);
    EXPECT_EQ(reply.Header("upgrade"), "SPDY/3.1");
    EXPECT_EQ(reply.Header("connection"), "Upgrade");
  }
}

TEST_F(UpgradeTest, SpdyWithoutAProtocolHeaderIsTheFirstVersion) {
  HttpReply reply = Spdy("/exec/" + NewToken(StreamKind::kExec), {});
  EXPECT_EQ(reply.code, 101);
  EXPECT_EQ(reply.Header("x-stream-protocol-version"), std::nullopt);
}

TEST_F(UpgradeTest, SpdyWithOnlyUnsupportedProtocolsIsForbidden) {
  HttpReply reply = Spdy("/exec/" + NewToken(StreamKind::kExec), {"v5.channel.k8s.io", "v9"});
  EXPECT_EQ(reply.code, 403);
  EXPECT_THAT(reply.Header("x-accepted-stream-protocol-versions"),
              Optional(HasSubstr("v4.channel.k8s.io")));
  EXPECT_THAT(reply.body, HasSubstr("unable to negotiate protocol"));
}

TEST_F(UpgradeTest, SpdyPortForward) {
  HttpReply reply =
      Spdy("/portforward/" + NewToken(StreamKind::kPortForward), {"portforward.k8s.io"});
  EXPECT_EQ(reply.code, 101);
  EXPECT_EQ(reply.Header("x-stream-protocol-version"), "portforward.k8s.io");
  reply = Spdy("/portforward/" + NewToken(StreamKind::kPortForward), {});
  EXPECT_EQ(reply.code, 101);
  EXPECT_EQ(reply.Header("x-stream-protocol-version"), std::nullopt);
  reply = Spdy("/portforward/" + NewToken(StreamKind::kPortForward), {"v4.channel.k8s.io"});
  EXPECT_EQ(reply.code, 403);
  EXPECT_EQ(reply.Header("x-accepted-stream-protocol-versions"), "portforward.k8s.io");
}

TEST_F(UpgradeTest, WebSocketV5) {
  HttpReply reply =
      WebSocket("/exec/" + NewToken(StreamKind::kExec), "v5.channel.k8s.io, v4.channel.k8s.io");
  EXPECT_EQ(reply.code, 101);
  EXPECT_EQ(reply.Header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(reply.Header("sec-websocket-protocol"), "v5.channel.k8s.io");
  EXPECT_EQ(reply.Header("upgrade"), "websocket");
}

TEST_F(UpgradeTest, WebSocketProtocolChoice) {
  struct Case {
    std::string offered;
    int code;
    std::optional<std::string> chosen;
  };
  const std::vector<Case> cases = {
      {"v4.base64.channel.k8s.io, v4.channel.k8s.io", 101, "v4.base64.channel.k8s.io"},
      {"base64.channel.k8s.io", 101, "base64.channel.k8s.io"},
      {"v5.base64.channel.k8s.io", 403, std::nullopt},  // v5 has no base64 variant
      {"v9.channel.k8s.io", 403, std::nullopt},
      {"", 101, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.offered);
    HttpReply reply = WebSocket("/attach/" + NewToken(StreamKind::kAttach), c.offered);
    EXPECT_EQ(reply.code, c.code);
    EXPECT_EQ(reply.Header("sec-websocket-protocol"), c.chosen);
  }
}

TEST_F(UpgradeTest, WebSocketNeedsAKeyAndVersion13) {
  EXPECT_EQ(WebSocket("/exec/" + NewToken(StreamKind::kExec), "v5.channel.k8s.io", "").code, 400);
  HttpReply reply = Run("GET", "/exec/" + NewToken(StreamKind::kExec),
                        {"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 8",
                         "Sec-WebSocket-Key: abc"})
                        .first;
  EXPECT_EQ(reply.code, 400);
}

TEST_F(UpgradeTest, WebSocketPortForwardNeedsTheSpdyTunnel) {
  HttpReply reply =
      WebSocket("/portforward/" + NewToken(StreamKind::kPortForward), "portforward.k8s.io");
  EXPECT_EQ(reply.code, 403);
  EXPECT_EQ(reply.Header("x-accepted-stream-protocol-versions"), "SPDY/3.1+portforward.k8s.io");
  reply = WebSocket("/portforward/" + NewToken(StreamKind::kPortForward),
                    "v4.channel.k8s.io, SPDY/3.1+portforward.k8s.io");
  EXPECT_EQ(reply.code, 101);
  EXPECT_EQ(reply.Header("sec-websocket-protocol"), "SPDY/3.1+portforward.k8s.io");
}

TEST_F(UpgradeTest, OnlyGetAndPost) {
  std::vector<std::string> lines = {"Connection: Upgrade", "Upgrade: SPDY/3.1"};
  EXPECT_EQ(Run("GET", "/exec/" + NewToken(StreamKind::kExec), lines).first.code, 101);
  EXPECT_EQ(Run("POST", "/exec/" + NewToken(StreamKind::kExec), lines).first.code, 101);
  std::string token = NewToken(StreamKind::kExec);
  HttpReply reply = Run("PUT", "/exec/" + token, lines).first;
  EXPECT_EQ(reply.code, 405);
  EXPECT_EQ(reply.Header("allow"), "GET, POST");
  // The refused method did not use the token up.
  EXPECT_EQ(Run("POST", "/exec/" + token, lines).first.code, 101);
}

TEST_F(UpgradeTest, WithoutAnUpgradeItIsABadRequest) {
  struct Case {
    std::string name;
    std::vector<std::string> lines;
    int code;
  };
  const std::vector<Case> cases = {
      {"no upgrade headers", {}, 400},
      {"no Upgrade header", {"Connection: Upgrade"}, 400},
      {"no Connection header", {"Upgrade: SPDY/3.1"}, 400},
      {"another protocol", {"Connection: Upgrade", "Upgrade: h2c"}, 400},
      {"case-insensitive", {"Connection: keep-alive, UPGRADE", "Upgrade: spdy/3.1"}, 101},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpReply reply = Run("POST", "/exec/" + NewToken(StreamKind::kExec), c.lines).first;
    EXPECT_EQ(reply.code, c.code);
    if (c.code == 400) {
      EXPECT_THAT(reply.body, HasSubstr("SPDY/3.1 or websocket"));
    }
  }
}

// ---- remote command statuses ----------------------------------------------------

TEST(RemoteCommandTest, VersionOfEachProtocolName) {
  const std::vector<std::pair<std::string, int>> cases = {
      {"channel.k8s.io", 1},
      {"v2.channel.k8s.io", 2},
      {"v3.channel.k8s.io", 3},
      {"v4.channel.k8s.io", 4},
      {"v5.channel.k8s.io", 5},
      {"v6.channel.k8s.io", 0},
      {"v1.channel.k8s.io", 0},
      {"v.channel.k8s.io", 0},
      {"v4.base64.channel.k8s.io", 0},
      {"portforward.k8s.io", 0},
      {"x", 0},
      {"", 0},
  };
  for (const auto& [protocol, version] : cases) {
    SCOPED_TRACE(protocol);
    EXPECT_EQ(RemoteCommandVersion(protocol), version);
  }
}

TEST(RemoteCommandTest, V4SuccessIsTheExactStatus) {
  EXPECT_EQ(ExitStatusMessage(4, {"true"}, 0), R"({"metadata":{},"status":"Success"})");
  EXPECT_EQ(ExitStatusMessage(5, {"true"}, 0), R"({"metadata":{},"status":"Success"})");
}

TEST(RemoteCommandTest, V4NonZeroExitIsAFailureStatus) {
  std::string text = ExitStatusMessage(4, {"sh", "-c", "exit 3"}, 3);
  nlohmann::json status = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(status.is_discarded()) << text;
  EXPECT_EQ(status["metadata"], nlohmann::json::object());
  EXPECT_EQ(status["status"], "Failure");
  EXPECT_EQ(status["reason"], "NonZeroExitCode");
  EXPECT_THAT(status["message"].get<std::string>(),
              HasSubstr("command terminated with non-zero exit code"));
  ASSERT_EQ(status["details"]["causes"].size(), 1u);
  EXPECT_EQ(status["details"]["causes"][0],
            nlohmann::json({{"reason", "ExitCode"}, {"message", "3"}}));
}

TEST(RemoteCommandTest, OlderVersionsGetPlainText) {
  EXPECT_EQ(ExitStatusMessage(2, {"true"}, 0), "");
  std::string text = ExitStatusMessage(2, {"sh", "-c", "exit 3"}, 3);
  EXPECT_THAT(text, HasSubstr("exit code 3"));
  EXPECT_TRUE(nlohmann::json::parse(text, nullptr, false).is_discarded()) << text;
  EXPECT_EQ(ErrorStatusMessage(3, "container not running"), "container not running");
}

TEST(RemoteCommandTest, V4ErrorIsAnInternalErrorStatus) {
  nlohmann::json status =
      nlohmann::json::parse(ErrorStatusMessage(4, "container not running"), nullptr, false);
  ASSERT_FALSE(status.is_discarded());
  EXPECT_EQ(status["status"], "Failure");
  EXPECT_EQ(status["reason"], "InternalError");
  EXPECT_EQ(status["code"], 500);
  EXPECT_THAT(status["message"].get<std::string>(), HasSubstr("container not running"));
}

}  // namespace
}  // namespace berth::streaming
