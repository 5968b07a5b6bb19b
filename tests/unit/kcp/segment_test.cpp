// Segment codec (src/kcp/segment.hpp) against tests/vectors/kcp-segment-vectors.json and the
// KCP segments inside tests/vectors/wire-example.json (a second, independent source).
#include "kcp/segment.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/rng.hpp"
#include "support/vectors.hpp"

namespace paniq::kcp {
namespace {

using test::hex;
using test::load_vectors;

std::uint8_t cmd_of(const std::string& name) {
  static const std::map<std::string, Cmd> cmds{
      {"push", Cmd::push}, {"ack", Cmd::ack}, {"wask", Cmd::wask}, {"wins", Cmd::wins}};
  return static_cast<std::uint8_t>(cmds.at(name));
}

SegmentHeader header_of(const nlohmann::json& v) {
  SegmentHeader h;
  h.conv = v.at("conv").get<std::uint32_t>();
  h.cmd = cmd_of(v.at("cmd").get<std::string>());
  h.frg = v.at("frg").get<std::uint8_t>();
  h.wnd = v.at("wnd").get<std::uint16_t>();
  h.ts = v.at("ts").get<std::uint32_t>();
  h.sn = v.at("sn").get<std::uint32_t>();
  h.una = v.at("una").get<std::uint32_t>();
  h.len = v.at("len").get<std::uint32_t>();
  return h;
}

Errc errc_of(const std::string& name) {
  static const std::map<std::string, Errc> errs{{"short_datagram", Errc::short_datagram},
                                                {"truncated_segment", Errc::truncated_segment},
                                                {"unknown_command", Errc::unknown_command},
                                                {"conv_mismatch", Errc::conv_mismatch}};
  return errs.at(name);
}

TEST(Segment, VectorsEncode) {
  const auto v = load_vectors("kcp-segment-vectors.json");
  ASSERT_GE(v.at("segments").size(), 5u);
  for (const auto& c : v.at("segments")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    Bytes out;
    append_segment(out, header_of(c), hex(c.at("data_hex")));
    EXPECT_EQ(to_hex(out), c.at("hex").get<std::string>());
  }
}

TEST(Segment, VectorsDecode) {
  const auto v = load_vectors("kcp-segment-vectors.json");
  for (const auto& c : v.at("segments")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const Bytes wire = hex(c.at("hex"));
    SegmentView seg;
    ASSERT_EQ(decode_segment(wire, seg), Errc::ok);
    EXPECT_EQ(seg.header, header_of(c));
    EXPECT_EQ(to_hex(seg.data), c.at("data_hex").get<std::string>());
    EXPECT_EQ(kOverhead + seg.header.len, wire.size());
  }
}

TEST(Segment, DatagramWithSeveralSegments) {
  const auto v = load_vectors("kcp-segment-vectors.json").at("multi_segment");
  const Bytes wire = hex(v.at("hex"));
  ByteView rest = wire;
  std::size_t i = 0;
  while (!rest.empty()) {
    SegmentView seg;
    ASSERT_EQ(decode_segment(rest, seg), Errc::ok);
    ASSERT_LT(i, v.at("segments").size());
    EXPECT_EQ(seg.header, header_of(v.at("segments")[i]));
    EXPECT_EQ(to_hex(seg.data), v.at("segments")[i].at("data_hex").get<std::string>());
    rest = rest.subspan(kOverhead + seg.header.len);
    ++i;
  }
  EXPECT_EQ(i, v.at("segments").size());
}

TEST(Segment, InvalidVectorsFailAtTheFirstBadSegment) {
  const auto v = load_vectors("kcp-segment-vectors.json");
  for (const auto& c : v.at("invalid")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const Errc want = errc_of(c.at("error"));
    if (want == Errc::conv_mismatch) continue;  // the engine checks conv (engine_test)
    const Bytes wire = hex(c.at("hex"));
    ByteView rest = wire;
    Errc got = Errc::ok;
    do {
      SegmentView seg;
      got = decode_segment(rest, seg);
      if (got != Errc::ok) break;
      rest = rest.subspan(kOverhead + seg.header.len);
    } while (rest.size() >= kOverhead);
    EXPECT_EQ(got, want);
  }
}

TEST(Segment, WireExampleSegments) {
  const auto w = load_vectors("wire-example.json");
  const std::uint32_t conv = w.at("conv_id").get<std::uint32_t>();

  SegmentView push;
  const Bytes p = hex(w.at("client_transport_1").at("kcp_segment_hex"));
  ASSERT_EQ(decode_segment(p, push), Errc::ok);
  EXPECT_EQ(push.header.conv, conv);
  EXPECT_EQ(push.header.cmd, static_cast<std::uint8_t>(Cmd::push));
  EXPECT_EQ(push.header.wnd, 1024);
  EXPECT_EQ(push.header.ts, 1000u);
  EXPECT_EQ(push.header.sn, 0u);
  EXPECT_EQ(push.header.una, 0u);
  EXPECT_EQ(to_hex(push.data), w.at("client_transport_1").at("smux_bytes_hex").get<std::string>());

  SegmentView ack;
  const Bytes a = hex(w.at("server_transport_ack").at("kcp_segment_hex"));
  ASSERT_EQ(decode_segment(a, ack), Errc::ok);
  EXPECT_EQ(ack.header.cmd, static_cast<std::uint8_t>(Cmd::ack));
  EXPECT_EQ(ack.header.ts, 1000u);
  EXPECT_EQ(ack.header.una, 1u);
  EXPECT_EQ(ack.header.wnd, 1024);
  EXPECT_EQ(ack.header.len, 0u);

  SegmentView reply;
  const Bytes r = hex(w.at("server_transport_reply").at("kcp_segment_hex"));
  ASSERT_EQ(decode_segment(r, reply), Errc::ok);
  EXPECT_EQ(reply.header.ts, 1012u);
  EXPECT_EQ(reply.header.una, 1u);
  Bytes again;
  append_segment(again, reply.header, reply.data);
  EXPECT_EQ(again, r);
}

TEST(Segment, RoundTripProperty) {
  SeededRng rng(2024);
  for (int i = 0; i < 2000; ++i) {
    SegmentHeader h;
    h.conv = rng.next_u32();
    h.cmd = static_cast<std::uint8_t>(rng.uniform(81, 84));
    h.frg = static_cast<std::uint8_t>(rng.uniform(0, 255));
    h.wnd = static_cast<std::uint16_t>(rng.uniform(0, 65535));
    h.ts = rng.next_u32();
    h.sn = rng.next_u32();
    h.una = rng.next_u32();
    Bytes data(rng.uniform(0, 64));
    rng.fill(data);
    Bytes wire;
    append_segment(wire, h, data);
    h.len = static_cast<std::uint32_t>(data.size());
    SegmentView seg;
    ASSERT_EQ(decode_segment(wire, seg), Errc::ok);
    ASSERT_EQ(seg.header, h);
    ASSERT_TRUE(std::equal(seg.data.begin(), seg.data.end(), data.begin(), data.end()));
    EXPECT_EQ(get_u32_le(wire.data() + 20), data.size());
  }
}

TEST(Segment, UnknownCommandsAndHugeLengths) {
  Bytes wire(kOverhead, 0);
  SegmentView seg;
  for (int cmd = 0; cmd < 256; ++cmd) {
    wire[4] = static_cast<std::uint8_t>(cmd);
    EXPECT_EQ(decode_segment(wire, seg) == Errc::ok, cmd >= 81 && cmd <= 84) << cmd;
  }
  wire[4] = 81;
  put_u32_le(wire.data() + 20, 0xFFFFFFFFu);  // ikcp reads this as a negative int: -2
  EXPECT_EQ(decode_segment(wire, seg), Errc::truncated_segment);
}

}  // namespace
}  // namespace paniq::kcp
