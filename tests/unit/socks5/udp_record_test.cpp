#include "socks5/udp_record.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "support/vectors.hpp"

namespace paniq::socks5 {
namespace {

using paniq::test::hex;
using Status = UdpRecordDecoder::Status;

struct Decoded {
  std::vector<Bytes> records;
  bool error = false;
  std::size_t consumed = 0;
};

// Feeds `stream` in chunks of the given sizes the way a relay loop does.
Decoded decode_chunks(ByteView stream, const std::vector<std::size_t>& sizes,
                      std::size_t max = kDefaultMaxRecord) {
  UdpRecordDecoder dec(max);
  Decoded out;
  std::size_t off = 0;
  for (std::size_t n : sizes) {
    ByteView chunk = stream.subspan(off, n);
    off += n;
    while (!chunk.empty()) {
      const auto s = dec.next(chunk);
      EXPECT_LE(s.consumed, chunk.size());
      out.consumed += s.consumed;
      chunk = chunk.subspan(s.consumed);
      if (s.status == Status::Error) {
        EXPECT_EQ(s.error, Errc::record_too_large);
        EXPECT_TRUE(dec.failed());
        out.error = true;
        return out;
      }
      if (s.status == Status::Record) out.records.emplace_back(s.record.begin(), s.record.end());
      if (s.status == Status::NeedMore) {
        EXPECT_TRUE(chunk.empty());
      }
    }
  }
  return out;
}

std::vector<std::size_t> random_sizes(Rng& rng, std::size_t total, std::size_t max_chunk) {
  std::vector<std::size_t> sizes;
  for (std::size_t left = total; left > 0;) {
    sizes.push_back(rng.uniform(1, std::min(left, max_chunk)));
    left -= sizes.back();
  }
  return sizes;
}

TEST(UdpRecord, VectorsEncodeAndDecodeByteForByte) {
  const auto v = paniq::test::load_vectors("misc-vectors.json").at("udp_associate_stream_records");
  const Address addrs[] = {Address::ipv4({127, 0, 0, 1}, 5353), Address::ipv4({8, 8, 8, 8}, 53)};
  const char* payloads[] = {"hi", "ok"};
  Bytes stream;
  for (std::size_t i = 0; i < v.size(); ++i) {
    SCOPED_TRACE(v[i].at("desc").get<std::string>());
    const Bytes record = hex(v[i].at("hex").get<std::string>());
    const Bytes datagram(record.begin() + 2, record.end());
    EXPECT_EQ(encode_udp_record(datagram), record);
    // The proxy's way: prefix written in place, data after it.
    std::array<std::uint8_t, 64> buf{};
    const std::size_t p = encode_udp_record_prefix(buf, addrs[i], 2);
    ASSERT_EQ(p, 12u);
    std::copy_n(payloads[i], 2, buf.begin() + 12);
    EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 14), record);
    const Decoded d = decode_chunks(record, {record.size()});
    ASSERT_EQ(d.records.size(), 1u);
    EXPECT_EQ(d.records[0], datagram);
    stream.insert(stream.end(), record.begin(), record.end());
  }
  const Decoded both = decode_chunks(stream, std::vector<std::size_t>(stream.size(), 1));
  ASSERT_EQ(both.records.size(), 2u);
  EXPECT_EQ(both.consumed, stream.size());
}

TEST(UdpRecord, WholeRecordIsHandedOutWithoutCopy) {
  const Bytes stream = hex("0003aabbcc" "0001dd");
  UdpRecordDecoder dec;
  auto s = dec.next(stream);
  ASSERT_EQ(s.status, Status::Record);
  EXPECT_EQ(s.consumed, 5u);
  EXPECT_EQ(s.record.data(), stream.data() + 2);
  s = dec.next(ByteView(stream).subspan(5));
  ASSERT_EQ(s.status, Status::Record);
  EXPECT_EQ(to_hex(s.record), "dd");
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(UdpRecord, SplitRecordIsBuffered) {
  UdpRecordDecoder dec;
  auto s = dec.next(hex("00"));
  EXPECT_EQ(s.status, Status::NeedMore);
  EXPECT_EQ(dec.buffered(), 1u);
  s = dec.next(hex("04aa"));
  EXPECT_EQ(s.status, Status::NeedMore);
  EXPECT_EQ(s.consumed, 2u);
  EXPECT_EQ(dec.buffered(), 3u);
  const Bytes rest = hex("bbccdd" "0000");
  s = dec.next(rest);
  ASSERT_EQ(s.status, Status::Record);
  EXPECT_EQ(s.consumed, 3u);
  EXPECT_EQ(to_hex(s.record), "aabbccdd");
  s = dec.next(ByteView(rest).subspan(3));
  ASSERT_EQ(s.status, Status::Record);  // an empty record is framed like any other
  EXPECT_TRUE(s.record.empty());
}

TEST(UdpRecord, OversizeLengthFailsAndStaysFailed) {
  const Decoded d = decode_chunks(hex("0401" "00"), {3}, 1024);
  EXPECT_TRUE(d.error);
  EXPECT_EQ(d.consumed, 2u);
  UdpRecordDecoder dec(1024);
  auto s = dec.next(hex("0400" "aabb"));  // 1024: at the limit, accepted
  EXPECT_EQ(s.status, Status::NeedMore);
  EXPECT_EQ(s.consumed, 4u);
  EXPECT_FALSE(dec.failed());
  UdpRecordDecoder strict(1023);
  s = strict.next(hex("0400"));
  EXPECT_EQ(s.status, Status::Error);
  s = strict.next(hex("0000"));
  EXPECT_EQ(s.status, Status::Error);
  EXPECT_EQ(s.consumed, 0u);
  // The defaults follow the reference proxy.
  EXPECT_EQ(kDefaultMaxRecord, 33280u);
  EXPECT_TRUE(decode_chunks(hex("8201"), {2}).error);
  EXPECT_FALSE(decode_chunks(hex("8200"), {2}).error);
}

TEST(UdpRecord, EncodersRefuseOversize) {
  std::array<std::uint8_t, kRecordLengthSize> len{};
  EXPECT_TRUE(encode_record_length(len, 65535));
  EXPECT_EQ(to_hex(len), "ffff");
  EXPECT_FALSE(encode_record_length(len, 65536));
  EXPECT_THROW(encode_udp_record(Bytes(65536)), std::length_error);
  std::array<std::uint8_t, 32> buf{};
  const Address a = Address::ipv4({1, 1, 1, 1}, 1);
  EXPECT_EQ(encode_udp_record_prefix(buf, a, 65535 - 10), 12u);
  EXPECT_EQ(to_hex(ByteView(buf).first(2)), "ffff");
  EXPECT_EQ(encode_udp_record_prefix(buf, a, 65535 - 9), 0u);
  EXPECT_EQ(encode_udp_record_prefix(MutByteView(buf).first(11), a, 0), 0u);
}

TEST(UdpRecord, RandomRecordStreamsUnderRandomSplits) {
  SeededRng rng(0x5EC0);
  for (int round = 0; round < 60; ++round) {
    std::vector<Bytes> want;
    Bytes stream;
    const std::size_t count = rng.uniform(1, 12);
    for (std::size_t i = 0; i < count; ++i) {
      Bytes data(rng.uniform(0, rng.uniform(0, 1) ? 40 : 3000));
      rng.fill(data);
      const Bytes dg = build_udp_datagram(Address::ipv4({10, 0, 0, 2}, 53), data);
      want.push_back(dg);
      const Bytes rec = encode_udp_record(dg);
      stream.insert(stream.end(), rec.begin(), rec.end());
    }
    const std::size_t max_chunk = rng.uniform(1, 2) == 1 ? 5 : 4096;
    const Decoded d = decode_chunks(stream, random_sizes(rng, stream.size(), max_chunk));
    ASSERT_FALSE(d.error);
    EXPECT_EQ(d.records, want);
    EXPECT_EQ(d.consumed, stream.size());
    EXPECT_EQ(decode_chunks(stream, {stream.size()}).records, want);
  }
}

}  // namespace
}  // namespace paniq::socks5
