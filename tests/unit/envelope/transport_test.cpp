#include "envelope/transport.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace paniq::envelope {
namespace {

using test::hex;

// A policy that pads exactly `n` bytes without drawing (so scripted bytes go to the padding).
TransportOptions exact_padding(std::uint32_t n, bool counter, std::size_t budget = 2000) {
  TransportOptions o;
  o.counter = counter;
  o.budget = budget;
  o.padding.enabled = n > 0;
  o.padding.pad_min = o.padding.pad_max = n;
  o.padding.pad_burst_prob = 0.0;
  return o;
}

Bytes encode(ByteView inner, std::uint64_t counter, const TransportOptions& o, ByteView pad_bytes) {
  ScriptedRng rng;
  rng.push(pad_bytes);
  Bytes out(4096);
  auto n = build_transport(out, inner, counter, o, rng);
  EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().message);
  EXPECT_EQ(rng.remaining(), 0u);  // every scripted padding byte used
  out.resize(n.ok() ? *n : 0);
  return out;
}

TEST(Transport, RustParityVector) {
  const auto v = test::load_vectors("obf-parity-vectors.json");
  ASSERT_FALSE(v.at("transport").empty());
  for (const auto& c : v.at("transport")) {
    const Bytes wire = hex(c.at("output_hex"));
    const Bytes inner = hex(c.at("payload_hex"));
    const std::size_t pad = c.at("padding");
    const std::uint64_t counter = c.at("counter");
    auto d = decode_transport(wire, true);
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(d->counter);
    EXPECT_EQ(*d->counter, counter);
    EXPECT_EQ(Bytes(d->inner.begin(), d->inner.end()), inner);
    EXPECT_EQ(d->padding_len, pad);
    // Re-encode with the reference's padding bytes (budget 128 as in the vector).
    const ByteView pad_bytes = ByteView(wire).last(pad);
    EXPECT_EQ(to_hex(encode(inner, counter, exact_padding(3, true, 128), pad_bytes)),
              c.at("output_hex").get<std::string>());
  }
}

struct WireCase {
  const char* name;
  bool counter;
};

TEST(Transport, WireExampleDatagrams) {
  const auto v = test::load_vectors("wire-example.json");
  const std::size_t prefix = v.at("config").at("s4").get<std::size_t>() + 4;
  for (const WireCase wc :
       {WireCase{"client_transport_1", false}, WireCase{"server_transport_ack", false},
        WireCase{"server_transport_reply", false}, WireCase{"transport_with_counter", true}}) {
    SCOPED_TRACE(wc.name);
    const auto& c = v.at(wc.name);
    const Bytes datagram = hex(c.at("datagram_hex"));
    const ByteView payload = ByteView(datagram).subspan(prefix);
    const Bytes inner = hex(c.at("kcp_segment_hex"));
    const Bytes pad = c.contains("padding_hex") ? hex(c.at("padding_hex")) : Bytes{};
    auto d = decode_transport(payload, wc.counter);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(Bytes(d->inner.begin(), d->inner.end()), inner);
    EXPECT_EQ(d->padding_len, pad.size());
    std::uint64_t counter = 0;
    if (wc.counter) {
      ASSERT_TRUE(d->counter);
      counter = c.at("counter");
      EXPECT_EQ(*d->counter, counter);
    } else {
      EXPECT_FALSE(d->counter);
    }
    const Bytes rebuilt = encode(inner, counter, exact_padding(pad.size(), wc.counter), pad);
    EXPECT_EQ(to_hex(rebuilt), to_hex(payload));
  }
}

TEST(Transport, FinishInPlaceAroundSegment) {
  const Bytes segment = hex("7856341252000004e8030000000000000100000000000000");
  const auto o = exact_padding(5, true);
  Bytes buf(200, 0xee);
  std::copy(segment.begin(), segment.end(), buf.begin() + header_len(true));
  SeededRng rng(1);
  auto n = finish_transport(buf, segment.size(), 0x0102030405060708ULL, o, rng);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 10 + segment.size() + 5);
  EXPECT_EQ(to_hex(ByteView(buf).first(10)), "01020304050607080018");
  auto d = decode_transport(ByteView(buf).first(*n), true);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Bytes(d->inner.begin(), d->inner.end()), segment);
  EXPECT_EQ(d->padding_len, 5u);
  EXPECT_EQ(buf[*n], 0xee);  // nothing written past the payload
}

TEST(Transport, HeaderLength) {
  EXPECT_EQ(header_len(false), 2u);
  EXPECT_EQ(header_len(true), 10u);
}

TEST(Transport, DecodeErrorsAreDistinct) {
  auto e1 = decode_transport(hex("00000000000000"), true);
  ASSERT_FALSE(e1.ok());
  EXPECT_EQ(e1.error().code, Errc::too_short_for_counter);
  auto e2 = decode_transport(hex("000000000000000700"), true);
  ASSERT_FALSE(e2.ok());
  EXPECT_EQ(e2.error().code, Errc::too_short_for_length);
  auto e3 = decode_transport(hex("01"), false);
  ASSERT_FALSE(e3.ok());
  EXPECT_EQ(e3.error().code, Errc::too_short_for_length);
  auto e4 = decode_transport(hex("0004616263"), false);
  ASSERT_FALSE(e4.ok());
  EXPECT_EQ(e4.error().code, Errc::inner_truncated);
  EXPECT_FALSE(e4.error().message.empty());
  EXPECT_EQ(e4.error().code.category().name(), std::string("envelope"));
  // Empty inner with trailing padding decodes.
  auto ok = decode_transport(hex("0000ffff"), false);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->inner.empty());
  EXPECT_EQ(ok->padding_len, 2u);
}

TEST(Transport, PayloadTooLargeAndBufferTooSmall) {
  SeededRng rng(2);
  Bytes out(4096);
  const Bytes inner(100, 0x42);
  // 2 + 100 fits 102 exactly, not 101.
  EXPECT_TRUE(build_transport(out, inner, 0, exact_padding(0, false, 102), rng).ok());
  auto big = build_transport(out, inner, 0, exact_padding(0, false, 101), rng);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, Errc::payload_too_large);
  // Padding is clamped to what is left after the length field and the segment (the reference
  // forgets the length field and then drops the datagram): 105 - 2 - 100 = 3 bytes of padding.
  auto clamped = build_transport(out, inner, 0, exact_padding(10, false, 105), rng);
  ASSERT_TRUE(clamped.ok());
  EXPECT_EQ(*clamped, 105u);
  auto clamped_view = decode_transport(ByteView(out).first(*clamped), false);
  ASSERT_TRUE(clamped_view.ok());
  EXPECT_EQ(clamped_view->padding_len, 3u);
  // Counter adds 8.
  auto with_counter = build_transport(out, inner, 0, exact_padding(0, true, 109), rng);
  ASSERT_FALSE(with_counter.ok());
  EXPECT_EQ(with_counter.error().code, Errc::payload_too_large);
  // More than 16 bits of inner length.
  Bytes huge(70000);
  auto too_long = finish_transport(huge, 65536, 0, exact_padding(0, false, 1 << 20), rng);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, Errc::payload_too_large);
  // Within budget but the buffer is short.
  Bytes small(50);
  auto short_buf = build_transport(small, inner, 0, exact_padding(0, false, 1000), rng);
  ASSERT_FALSE(short_buf.ok());
  EXPECT_EQ(short_buf.error().code, Errc::buffer_too_small);
  Bytes almost(103);
  auto short_pad = build_transport(almost, inner, 0, exact_padding(5, false, 1000), rng);
  ASSERT_FALSE(short_pad.ok());
  EXPECT_EQ(short_pad.error().code, Errc::buffer_too_small);
}

// Seeded property test: random settings, build -> decode gives back counter, inner, padding.
TEST(Transport, PropertyBuildDecodeRoundTrip) {
  SeededRng rng(20240601);
  Bytes out(2048);
  int built = 0, rejected = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    TransportOptions o;
    o.counter = rng.uniform(0, 1) == 1;
    o.budget = rng.uniform(0, 1500);
    o.padding.enabled = rng.uniform(0, 1) == 1;
    o.padding.pad_min = static_cast<std::uint32_t>(rng.uniform(0, 120));
    o.padding.pad_max = static_cast<std::uint32_t>(rng.uniform(0, 120));
    o.padding.pad_burst_min = static_cast<std::uint32_t>(rng.uniform(0, 200));
    o.padding.pad_burst_max = static_cast<std::uint32_t>(rng.uniform(0, 200));
    o.padding.pad_burst_prob = rng.next_double() * 1.4 - 0.2;
    Bytes inner(rng.uniform(0, 1400));
    rng.fill(inner);
    const std::uint64_t counter = rng.next_u64();
    auto n = build_transport(out, inner, counter, o, rng);
    if (!n.ok()) {
      ASSERT_EQ(n.error().code, Errc::payload_too_large);
      // Without padding only an oversized segment is refused.
      if (!o.padding.enabled) {
        ASSERT_GT(header_len(o.counter) + inner.size(), o.budget);
      }
      ++rejected;
      continue;
    }
    ++built;
    ASSERT_LE(*n, o.budget);
    auto d = decode_transport(ByteView(out).first(*n), o.counter);
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d->counter.has_value(), o.counter);
    if (o.counter) {
      ASSERT_EQ(*d->counter, counter);
    }
    ASSERT_TRUE(std::equal(inner.begin(), inner.end(), d->inner.begin(), d->inner.end()));
    ASSERT_EQ(*n, header_len(o.counter) + inner.size() + d->padding_len);
    if (!o.padding.enabled) {
      ASSERT_EQ(d->padding_len, 0u);
    }
    const std::uint32_t cap = std::max(
        {o.padding.pad_min, o.padding.pad_max, o.padding.pad_burst_min, o.padding.pad_burst_max});
    ASSERT_LE(d->padding_len, cap);
  }
  EXPECT_GT(built, 1000);
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace paniq::envelope
