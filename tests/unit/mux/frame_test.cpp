#include "mux/frame.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "core/rng.hpp"
#include "mux_test_util.hpp"
#include "support/vectors.hpp"

namespace paniq::mux {
namespace {

using paniq::test::hex;
using Status = FrameDecoder::Status;

// Header fields of each vector (misc-vectors.json smux_frames), in file order.
struct Expected {
  Cmd cmd;
  std::uint16_t length;
  StreamId id;
  const char* payload_hex;
};
const Expected kExpected[] = {
    {Cmd::Syn, 0, 3, ""},
    {Cmd::Psh, 2, 3, "6869"},
    {Cmd::Fin, 0, 3, ""},
    {Cmd::Nop, 0, 0, ""},
    {Cmd::Psh, 300, 5, nullptr},  // header only
};

TEST(Frame, EncodesAndDecodesTheSharedVectorsByteForByte) {
  const auto v = paniq::test::load_vectors("misc-vectors.json").at("smux_frames");
  ASSERT_EQ(v.size(), std::size(kExpected));
  for (std::size_t i = 0; i < v.size(); ++i) {
    SCOPED_TRACE(v[i].at("desc").get<std::string>());
    const Bytes wire = hex(v[i].at("hex").get<std::string>());
    const Expected& e = kExpected[i];
    const FrameHeader h{e.cmd, e.length, e.id};
    std::uint8_t hdr[kHeaderSize];
    encode_header(hdr, h);
    ASSERT_GE(wire.size(), kHeaderSize);
    EXPECT_EQ(to_hex(hdr), to_hex(ByteView(wire).first(kHeaderSize)));
    if (e.payload_hex != nullptr) {
      EXPECT_EQ(to_hex(encode_frame(e.cmd, e.id, hex(e.payload_hex))), to_hex(wire));
    }
    FrameDecoder dec;
    auto st = dec.next(wire);
    ASSERT_EQ(st.status, Status::Header);
    EXPECT_EQ(st.consumed, kHeaderSize);
    EXPECT_EQ(st.header, h);
    EXPECT_EQ(dec.payload_remaining(), e.length);
    if (e.payload_hex != nullptr && e.length > 0) {
      st = dec.next(ByteView(wire).subspan(kHeaderSize));
      ASSERT_EQ(st.status, Status::Payload);
      EXPECT_TRUE(st.frame_done);
      EXPECT_EQ(to_hex(st.payload), e.payload_hex);
    }
  }
}

TEST(Frame, DecodesAnySplitOfTheByteStream) {
  SeededRng rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<test::Frame> frames;
    Bytes stream;
    for (int i = 0; i < 20; ++i) {
      const auto cmd = static_cast<Cmd>(rng.uniform(0, 3));
      Bytes payload(cmd == Cmd::Psh ? rng.uniform(0, 3000) : 0);
      rng.fill(payload);
      const auto id = static_cast<StreamId>(rng.next_u32());
      frames.push_back(test::frame(cmd, id, payload));
      const Bytes enc = encode_frame(cmd, id, payload);
      stream.insert(stream.end(), enc.begin(), enc.end());
    }
    // Feed in random pieces (1..20 bytes often, so headers split everywhere).
    std::vector<test::Frame> got;
    FrameDecoder dec;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      const std::size_t piece = rng.uniform(0, 1) ? rng.uniform(1, 20) : rng.uniform(1, 4000);
      ByteView in = ByteView(stream).subspan(pos, std::min(piece, stream.size() - pos));
      pos += in.size();
      while (!in.empty()) {
        auto st = dec.next(in, rng.uniform(1, 5000));
        ASSERT_NE(st.status, Status::Error);
        ASSERT_GT(st.consumed, 0u);
        in = in.subspan(st.consumed);
        if (st.status == Status::Header) got.push_back({st.header, {}});
        if (st.status == Status::Payload) {
          got.back().payload.insert(got.back().payload.end(), st.payload.begin(),
                                    st.payload.end());
        }
      }
    }
    EXPECT_FALSE(dec.in_payload());
    ASSERT_EQ(got, frames);
  }
}

TEST(Frame, PartialHeaderAsksForMoreAndKeepsTheBytes) {
  const Bytes wire = hex("01020200030000006869");
  FrameDecoder dec;
  auto st = dec.next(ByteView(wire).first(5));
  EXPECT_EQ(st.status, Status::NeedMore);
  EXPECT_EQ(st.consumed, 5u);
  st = dec.next(ByteView(wire).subspan(5, 3));
  ASSERT_EQ(st.status, Status::Header);
  EXPECT_EQ(st.consumed, 3u);
  EXPECT_EQ(st.header, (FrameHeader{Cmd::Psh, 2, 3}));
  st = dec.next(ByteView(wire).subspan(8), 0);  // no room: nothing taken
  EXPECT_EQ(st.status, Status::Payload);
  EXPECT_EQ(st.consumed, 0u);
  EXPECT_EQ(dec.payload_remaining(), 2u);
  st = dec.next(ByteView(wire).subspan(8), 1);
  EXPECT_EQ(to_hex(st.payload), "68");
  EXPECT_FALSE(st.frame_done);
  st = dec.next(ByteView(wire).subspan(9));
  EXPECT_EQ(to_hex(st.payload), "69");
  EXPECT_TRUE(st.frame_done);
  EXPECT_FALSE(dec.in_payload());
}

TEST(Frame, WrongVersionIsAnErrorThatSticks) {
  FrameDecoder dec;
  auto st = dec.next(hex("0200000003000000"));
  ASSERT_EQ(st.status, Status::Error);
  EXPECT_EQ(st.error, Errc::bad_version);
  EXPECT_TRUE(dec.failed());
  st = dec.next(hex("0100000003000000"));  // a valid frame after it changes nothing
  EXPECT_EQ(st.status, Status::Error);
  EXPECT_EQ(st.consumed, 0u);
}

TEST(Frame, UnknownCommandIsAnError) {
  for (int cmd : {4, 5, 0xff}) {
    FrameDecoder dec;
    Bytes wire = hex("0100000003000000");
    wire[1] = static_cast<std::uint8_t>(cmd);
    auto st = dec.next(wire);
    ASSERT_EQ(st.status, Status::Error);
    EXPECT_EQ(st.error, Errc::bad_command);
  }
}

TEST(Frame, LengthOverTheLimitIsAnErrorAndTheFullU16IsAcceptedByDefault) {
  FrameDecoder strict(1024);
  auto st = strict.next(hex("0102010403000000"));  // length 1025
  ASSERT_EQ(st.status, Status::Error);
  EXPECT_EQ(st.error, Errc::frame_too_large);
  FrameDecoder dec;  // PROTOCOL.md 7.2: must accept 65535
  st = dec.next(hex("0102ffff03000000"));
  ASSERT_EQ(st.status, Status::Header);
  EXPECT_EQ(dec.payload_remaining(), 65535u);
}

TEST(Frame, EncodeRejectsPayloadOverU16) {
  const Bytes big(kMaxPayload + 1);
  EXPECT_THROW((void)encode_frame(Cmd::Psh, 3, big), std::length_error);
  const Bytes max(kMaxPayload);
  const Bytes enc = encode_frame(Cmd::Psh, 3, max);
  EXPECT_EQ(to_hex(ByteView(enc).first(kHeaderSize)), "0102ffff03000000");
}

TEST(Frame, CommandNames) {
  EXPECT_STREQ(to_string(Cmd::Syn), "SYN");
  EXPECT_STREQ(to_string(Cmd::Fin), "FIN");
  EXPECT_STREQ(to_string(Cmd::Psh), "PSH");
  EXPECT_STREQ(to_string(Cmd::Nop), "NOP");
}

}  // namespace
}  // namespace paniq::mux
