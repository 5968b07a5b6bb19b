#include "socks5/address.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/rng.hpp"
#include "support/vectors.hpp"

namespace paniq::socks5 {
namespace {

using paniq::test::hex;

Address v6(const std::string& h, std::uint16_t port) {
  const Bytes b = hex(h);
  std::array<std::uint8_t, 16> ip{};
  std::copy(b.begin(), b.end(), ip.begin());
  return Address::ipv6(ip, port);
}

Address dom(std::string_view name, std::uint16_t port) {
  auto r = Address::domain(name, port);
  if (!r) throw std::runtime_error(r.error().message);
  return *r;
}

Bytes encoded(const Address& a) {
  Bytes out;
  a.append_to(out);
  return out;
}

TEST(Address, DefaultIsUnspecifiedIpv4PortZero) {
  const Address a;
  EXPECT_EQ(a.type(), AddressType::IPv4);
  EXPECT_TRUE(a.is_unspecified());
  EXPECT_EQ(a.to_string(), "0.0.0.0:0");
  EXPECT_EQ(to_hex(encoded(a)), "01000000000000");
}

TEST(Address, ToStringForEachType) {
  EXPECT_EQ(Address::ipv4({1, 2, 3, 4}, 80).to_string(), "1.2.3.4:80");
  EXPECT_EQ(Address::ipv4({255, 255, 255, 255}, 65535).to_string(), "255.255.255.255:65535");
  EXPECT_EQ(v6("00000000000000000000000000000001", 80).to_string(), "[::1]:80");
  EXPECT_EQ(dom("example.com", 443).to_string(), "example.com:443");
  EXPECT_EQ(dom("example.com", 443).host_string(), "example.com");
  EXPECT_EQ(dom("example.com", 443).domain_name(), "example.com");
  EXPECT_EQ(Address::ipv4({1, 2, 3, 4}, 80).domain_name(), "");
}

TEST(Address, Ipv6TextFollowsRfc5952) {
  const std::pair<const char*, const char*> cases[] = {
      {"00000000000000000000000000000000", "::"},
      {"20010db8000000000000000000000001", "2001:db8::1"},
      {"00010000000000000000000000000000", "1::"},
      {"20010db8000000000001000000000001", "2001:db8::1:0:0:1"},   // first of equal runs
      {"20010db8000000010000000000000001", "2001:db8:0:1::1"},      // longest run wins
      {"20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"}, // one zero group stays
      {"fe800000000000000a0bc0dd00ef0123", "fe80::a0b:c0dd:ef:123"},
      {"00000000000000000000ffff01020304", "::ffff:1.2.3.4"},
      {"ffffffffffffffffffffffffffffffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
  };
  for (const auto& [h, text] : cases) {
    EXPECT_EQ(v6(h, 1).host_string(), text) << h;
  }
  EXPECT_EQ(v6("20010db8000000000000000000000001", 8443).to_string(), "[2001:db8::1]:8443");
}

TEST(Address, DomainLengthBounds) {
  auto empty = Address::domain(std::string_view(""), 1);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Errc::empty_domain);
  auto too_long = Address::domain(std::string(256, 'a'), 1);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, Errc::domain_too_long);
  auto longest = Address::domain(std::string(255, 'a'), 1);
  ASSERT_TRUE(longest);
  EXPECT_EQ(longest->host().size(), 255u);
  EXPECT_EQ(longest->wire_size(), kMaxAddressWireSize);
}

TEST(Address, DomainKeepsRawBytes) {
  const Bytes raw = {0xff, 0x00, 'A'};
  auto a = Address::domain(ByteView(raw), 7);
  ASSERT_TRUE(a);
  EXPECT_EQ(Bytes(a->host().begin(), a->host().end()), raw);
  EXPECT_EQ(to_hex(encoded(*a)), "0303ff00410007");
}

TEST(Address, EncodesTheVectorAddressFields) {
  // The address part of misc-vectors.json proxy_requests (bytes after version and cmd).
  const auto v = paniq::test::load_vectors("misc-vectors.json").at("proxy_requests");
  const Address expected[] = {Address::ipv4({1, 2, 3, 4}, 80), dom("example.com", 443),
                              v6("20010db8000000000000000000000001", 8443),
                              Address::ipv4({0, 0, 0, 0}, 0)};
  ASSERT_EQ(v.size(), std::size(expected));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const Bytes wire = hex(v[i].at("hex").get<std::string>());
    const ByteView field = ByteView(wire).subspan(2);
    EXPECT_EQ(encoded(expected[i]), Bytes(field.begin(), field.end()));
    const AddressDecode d = decode_address(field, DomainCheck::Utf8);
    ASSERT_EQ(d.error, Errc::ok);
    EXPECT_EQ(d.size, field.size());
    EXPECT_EQ(d.address, expected[i]);
  }
}

TEST(Address, EncodeIntoShortSpanWritesNothing) {
  const Address a = dom("example.com", 443);
  Bytes out(a.wire_size() - 1, 0xAA);
  EXPECT_EQ(a.encode(out), 0u);
  EXPECT_EQ(out, Bytes(a.wire_size() - 1, 0xAA));
  out.resize(a.wire_size() + 3, 0xAA);
  EXPECT_EQ(a.encode(out), a.wire_size());
}

TEST(Address, DecodeReportsTruncationOnEveryPrefix) {
  for (const Address& a : {Address::ipv4({9, 8, 7, 6}, 1), dom("a.b", 2),
                           v6("20010db8000000000000000000000001", 3)}) {
    const Bytes wire = encoded(a);
    for (std::size_t n = 0; n < wire.size(); ++n) {
      EXPECT_EQ(decode_address(ByteView(wire).first(n), DomainCheck::Raw).error, Errc::truncated)
          << a.to_string() << " prefix " << n;
    }
    Bytes longer = wire;
    longer.push_back(0x55);
    const AddressDecode d = decode_address(longer, DomainCheck::Raw);
    ASSERT_EQ(d.error, Errc::ok);
    EXPECT_EQ(d.size, wire.size());
    EXPECT_EQ(d.address, a);
  }
}

TEST(Address, DecodeRejectsBadTypeAndEmptyDomain) {
  for (std::uint8_t atyp : {0x00, 0x02, 0x05, 0xff}) {
    const Bytes wire = {atyp, 1, 2, 3, 4, 0, 80};
    EXPECT_EQ(decode_address(wire, DomainCheck::Raw).error, Errc::bad_address_type);
    EXPECT_EQ(address_field_size(wire).error, Errc::bad_address_type);
  }
  const Bytes empty = hex("03000050");
  EXPECT_EQ(decode_address(empty, DomainCheck::Raw).error, Errc::empty_domain);
  EXPECT_EQ(address_field_size(empty).error, Errc::empty_domain);
}

TEST(Address, Utf8CheckOnlyWhenAsked) {
  const Bytes wire = hex("0302c328" "0050");  // C3 28: invalid two-byte sequence
  EXPECT_EQ(decode_address(wire, DomainCheck::Utf8).error, Errc::invalid_domain);
  const AddressDecode raw = decode_address(wire, DomainCheck::Raw);
  ASSERT_EQ(raw.error, Errc::ok);
  EXPECT_EQ(to_hex(raw.address.host()), "c328");
  const Bytes good = hex("0306" "e4bda0e5a5bd" "0050");  // "你好"
  EXPECT_EQ(decode_address(good, DomainCheck::Utf8).error, Errc::ok);
}

TEST(Address, FieldSizeFromPartialPrefix) {
  EXPECT_EQ(address_field_size({}).size, 0u);
  EXPECT_EQ(address_field_size(hex("01")).size, 7u);
  EXPECT_EQ(address_field_size(hex("04")).size, 19u);
  EXPECT_EQ(address_field_size(hex("03")).size, 0u);
  EXPECT_EQ(address_field_size(hex("0305")).size, 9u);
  EXPECT_EQ(address_field_size(hex("03ff")).size, kMaxAddressWireSize);
}

TEST(Address, Utf8ValidatorMatchesRustRules) {
  const std::pair<const char*, bool> cases[] = {
      {"", true},
      {"6578616d706c65", true},
      {"c2a9", true},          // ©
      {"e282ac", true},        // €
      {"f09f9880", true},      // U+1F600
      {"f48fbfbf", true},      // U+10FFFF
      {"80", false},           // lone continuation
      {"c0af", false},         // overlong '/'
      {"e080af", false},       // overlong
      {"f08282ac", false},     // overlong
      {"eda080", false},       // surrogate U+D800
      {"f4908080", false},     // above U+10FFFF
      {"f8888080", false},     // 5-byte form
      {"e282", false},         // truncated
      {"c2", false},           // truncated
      {"c241", false},         // bad continuation
  };
  for (const auto& [h, ok] : cases) EXPECT_EQ(is_valid_utf8(hex(h)), ok) << h;
}

TEST(Address, IsUnspecified) {
  EXPECT_TRUE(v6("00000000000000000000000000000000", 0).is_unspecified());
  EXPECT_FALSE(v6("00000000000000000000000000000001", 0).is_unspecified());
  EXPECT_FALSE(Address::ipv4({0, 0, 0, 1}, 0).is_unspecified());
  EXPECT_FALSE(dom("0", 0).is_unspecified());
}

TEST(Address, EqualityComparesOnlyMeaningfulBytes) {
  EXPECT_EQ(dom("abc", 1), dom("abc", 1));
  EXPECT_NE(dom("abc", 1), dom("abd", 1));
  EXPECT_NE(dom("abc", 1), dom("abc", 2));
  EXPECT_NE(dom("ab", 1), dom("abc", 1));
  EXPECT_NE(Address::ipv4({1, 2, 3, 4}, 1), dom("\x01\x02\x03\x04", 1));
}

Address random_address(Rng& rng) {
  const auto port = static_cast<std::uint16_t>(rng.next_u32());
  switch (rng.uniform(0, 2)) {
    case 0: {
      std::array<std::uint8_t, 4> ip{};
      rng.fill(ip);
      return Address::ipv4(ip, port);
    }
    case 1: {
      std::array<std::uint8_t, 16> ip{};
      rng.fill(ip);
      return Address::ipv6(ip, port);
    }
    default: {
      Bytes name(rng.uniform(1, 255));
      rng.fill(name);
      return *Address::domain(ByteView(name), port);
    }
  }
}

TEST(Address, RandomAddressesRoundTrip) {
  SeededRng rng(0x50C55);
  for (int i = 0; i < 2000; ++i) {
    const Address a = random_address(rng);
    const Bytes wire = encoded(a);
    ASSERT_EQ(wire.size(), a.wire_size());
    EXPECT_EQ(address_field_size(ByteView(wire).first(std::min<std::size_t>(2, wire.size()))).size,
              wire.size());
    const AddressDecode d = decode_address(wire, DomainCheck::Raw);
    ASSERT_EQ(d.error, Errc::ok);
    EXPECT_EQ(d.size, wire.size());
    EXPECT_EQ(d.address, a);
  }
}

}  // namespace
}  // namespace paniq::socks5
