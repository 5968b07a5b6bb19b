#include "socks5/stream_open.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "support/vectors.hpp"

namespace paniq::socks5 {
namespace {

using paniq::test::hex;
using Status = OpenRequestDecoder::Status;

struct Outcome {
  Status status = Status::NeedMore;
  std::size_t consumed = 0;
  Errc error = Errc::ok;
  OpenRequest request;
  friend bool operator==(const Outcome&, const Outcome&) = default;
  friend void PrintTo(const Outcome& o, std::ostream* os) {
    *os << "{status " << static_cast<int>(o.status) << ", consumed " << o.consumed << ", error "
        << static_cast<int>(o.error) << ", target " << o.request.target.to_string() << "}";
  }
};

Outcome run_chunks(ByteView input, const std::vector<std::size_t>& sizes) {
  OpenRequestDecoder dec;
  Outcome o;
  std::size_t off = 0;
  for (std::size_t n : sizes) {
    const ByteView chunk = input.subspan(off, n);
    const auto step = dec.put(chunk);
    EXPECT_LE(step.consumed, chunk.size());
    o.status = step.status;
    o.error = step.error;
    if (step.status != Status::NeedMore) {
      o.consumed = off + step.consumed;
      if (step.status == Status::Done) o.request = dec.request();
      const auto again = dec.put(chunk.subspan(step.consumed));
      EXPECT_EQ(again.status, step.status);
      EXPECT_EQ(again.consumed, 0u);
      return o;
    }
    EXPECT_EQ(step.consumed, chunk.size());
    off += n;
  }
  o.consumed = off;
  return o;
}

Outcome run_any_split(const Bytes& input, std::uint64_t seed = 7) {
  const Outcome whole = run_chunks(input, {input.size()});
  EXPECT_EQ(run_chunks(input, std::vector<std::size_t>(input.size(), 1)), whole);
  SeededRng rng(seed);
  for (int round = 0; round < 6; ++round) {
    std::vector<std::size_t> sizes;
    for (std::size_t left = input.size(); left > 0;) {
      const std::size_t n = rng.uniform(1, std::min<std::size_t>(left, 40));
      sizes.push_back(n);
      left -= n;
    }
    EXPECT_EQ(run_chunks(input, sizes), whole);
  }
  return whole;
}

Address v6_2001_db8_1(std::uint16_t port) {
  std::array<std::uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8};
  ip[15] = 1;
  return Address::ipv6(ip, port);
}

TEST(StreamOpen, RequestVectorsEncodeAndDecodeByteForByte) {
  const auto v = paniq::test::load_vectors("misc-vectors.json").at("proxy_requests");
  const OpenRequest expected[] = {
      {Command::Connect, Address::ipv4({1, 2, 3, 4}, 80)},
      {Command::Connect, *Address::domain("example.com", 443)},
      {Command::Connect, v6_2001_db8_1(8443)},
      {Command::UdpAssociate, Address::ipv4({0, 0, 0, 0}, 0)},
  };
  ASSERT_EQ(v.size(), std::size(expected));
  for (std::size_t i = 0; i < v.size(); ++i) {
    SCOPED_TRACE(v[i].at("desc").get<std::string>());
    const Bytes wire = hex(v[i].at("hex").get<std::string>());
    EXPECT_EQ(encode_open_request(expected[i]), wire);
    const Outcome o = run_any_split(wire);
    ASSERT_EQ(o.status, Status::Done);
    EXPECT_EQ(o.consumed, wire.size());
    EXPECT_EQ(o.request, expected[i]);
  }
}

TEST(StreamOpen, ReplyVectorsAndExtensionMapping) {
  const auto v = paniq::test::load_vectors("misc-vectors.json").at("proxy_replies");
  EXPECT_EQ(hex(v.at("success").get<std::string>()), Bytes{kOpenSuccess});
  EXPECT_EQ(hex(v.at("general_failure").get<std::string>()), Bytes{kOpenGeneralFailure});
  EXPECT_EQ(open_reply_byte(ReplyCode::Succeeded), kOpenSuccess);
  EXPECT_EQ(open_reply_byte(ReplyCode::GeneralFailure), kOpenGeneralFailure);
  EXPECT_EQ(open_reply_byte(ReplyCode::ConnectionRefused), 0x05);
  EXPECT_EQ(open_reply_byte(ReplyCode::AddressTypeNotSupported), 0x08);
  for (int b = 0; b <= 8; ++b) {
    const auto code = static_cast<ReplyCode>(b);
    EXPECT_EQ(reply_code_from_open_reply(open_reply_byte(code)), code);
  }
  for (int b = 9; b <= 255; ++b) {
    EXPECT_EQ(reply_code_from_open_reply(static_cast<std::uint8_t>(b)), ReplyCode::GeneralFailure);
  }
}

TEST(StreamOpen, PipelinedBytesAreNotConsumed) {
  Bytes wire = hex("0101030b6578616d706c652e636f6d01bb");
  const std::size_t n = wire.size();
  wire.insert(wire.end(), {'G', 'E', 'T'});
  const Outcome o = run_any_split(wire);
  ASSERT_EQ(o.status, Status::Done);
  EXPECT_EQ(o.consumed, n);
}

TEST(StreamOpen, DecoderErrors) {
  const std::pair<const char*, Errc> cases[] = {
      {"02010101020304", Errc::bad_version},
      {"00", Errc::bad_version},
      {"0101020102030400", Errc::bad_address_type},
      {"01010501020304", Errc::bad_address_type},
      {"0101030000", Errc::empty_domain},
      {"01010302c3280050", Errc::invalid_domain},
  };
  for (const auto& [h, err] : cases) {
    const Outcome o = run_any_split(hex(h));
    EXPECT_EQ(o.status, Status::Error) << h;
    EXPECT_EQ(o.error, err) << h;
  }
}

TEST(StreamOpen, CommandByteIsReportedNotChecked) {
  const Outcome o = run_any_split(hex("010201010203040050"));
  ASSERT_EQ(o.status, Status::Done);
  EXPECT_EQ(o.request.command, Command::Bind);
  const Outcome odd = run_any_split(hex("017f01010203040050"));
  ASSERT_EQ(odd.status, Status::Done);
  EXPECT_EQ(static_cast<std::uint8_t>(odd.request.command), 0x7f);
}

TEST(StreamOpen, TruncatedRequestNeedsMore) {
  const Bytes wire = hex("0101030b6578616d706c652e636f6d01bb");
  for (std::size_t n = 0; n < wire.size(); ++n) {
    OpenRequestDecoder dec;
    const auto s = dec.put(ByteView(wire).first(n));
    EXPECT_EQ(s.status, Status::NeedMore) << n;
    EXPECT_EQ(s.consumed, n);
  }
}

TEST(StreamOpen, EncodeIntoShortSpanWritesNothing) {
  const OpenRequest r{Command::Connect, *Address::domain(std::string(255, 'd'), 1)};
  std::array<std::uint8_t, kMaxOpenRequestSize> buf{};
  EXPECT_EQ(encode_open_request(MutByteView(buf).first(kMaxOpenRequestSize - 1), r), 0u);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(encode_open_request(buf, r), kMaxOpenRequestSize);
  EXPECT_EQ(Bytes(buf.begin(), buf.end()), encode_open_request(r));
}

TEST(StreamOpen, RandomRequestsRoundTripUnderRandomSplits) {
  SeededRng rng(0x09E2);
  for (int i = 0; i < 400; ++i) {
    OpenRequest r;
    r.command = rng.uniform(0, 1) ? Command::Connect : Command::UdpAssociate;
    const auto port = static_cast<std::uint16_t>(rng.next_u32());
    switch (rng.uniform(0, 2)) {
      case 0: r.target = Address::ipv4({static_cast<std::uint8_t>(rng.next_u32()), 0, 0, 1}, port); break;
      case 1: r.target = v6_2001_db8_1(port); break;
      default: {
        std::string name(rng.uniform(1, 255), 'x');
        for (char& c : name) c = static_cast<char>('0' + rng.uniform(0, 74));
        r.target = *Address::domain(name, port);
      }
    }
    Bytes wire = encode_open_request(r);
    const std::size_t n = wire.size();
    Bytes tail(rng.uniform(0, 16));
    rng.fill(tail);
    wire.insert(wire.end(), tail.begin(), tail.end());
    const Outcome o = run_any_split(wire, rng.next_u64());
    ASSERT_EQ(o.status, Status::Done) << i;
    EXPECT_EQ(o.consumed, n);
    EXPECT_EQ(o.request, r);
  }
}

}  // namespace
}  // namespace paniq::socks5
