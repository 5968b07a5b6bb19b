#include "socks5/speedtest.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "socks5/stream_open.hpp"
#include "core/bytes.hpp"

namespace paniq::socks5::speedtest {
namespace {

std::string hex(ByteView b) { return to_hex(b); }

TEST(Speedtest, TargetIsTheReservedNameAnyCase) {
  EXPECT_TRUE(is_target(Address::domain("speedtest.paniq.invalid", 1).value()));
  EXPECT_TRUE(is_target(Address::domain("SpeedTest.PANIQ.invalid", 9).value()));
  EXPECT_FALSE(is_target(Address::domain("speedtest.paniq.invalid.", 1).value()));
  EXPECT_FALSE(is_target(Address::domain("speedtest.paniq.invali", 1).value()));
  EXPECT_FALSE(is_target(Address::domain("xspeedtest.paniq.invalid", 1).value()));
  EXPECT_FALSE(is_target(Address::ipv4({127, 0, 0, 1}, 1)));
}

TEST(Speedtest, PortSelectsTheMode) {
  EXPECT_EQ(mode_for_port(1), Mode::download);
  EXPECT_EQ(mode_for_port(2), Mode::upload);
  EXPECT_EQ(mode_for_port(3), Mode::echo);
  EXPECT_EQ(mode_for_port(0), std::nullopt);
  EXPECT_EQ(mode_for_port(4), std::nullopt);
  EXPECT_EQ(mode_for_port(443), std::nullopt);
  const Address t = target(Mode::upload);
  EXPECT_TRUE(is_target(t));
  EXPECT_EQ(t.port(), 2);
}

TEST(Speedtest, OpenRequestBytesForTheDownloadTarget) {
  // 01 01 03 | len 23 | "speedtest.paniq.invalid" | port 1: what a Rust server would resolve.
  const Bytes wire = encode_open_request({Command::Connect, target(Mode::download)});
  EXPECT_EQ(hex(wire), "01010317" + to_hex(as_bytes(std::string_view("speedtest.paniq.invalid"))) + "0001");
}

TEST(Speedtest, RequestRoundTripAndLayout) {
  Request r;
  r.bytes = 20ull << 20;
  for (std::size_t i = 0; i < kKeySize; ++i) r.key[i] = static_cast<std::uint8_t>(i);
  const auto wire = encode_request(r);
  EXPECT_EQ(hex(ByteView(wire.data(), 8)), "0000000001400000");
  EXPECT_EQ(wire[8], 0);
  EXPECT_EQ(wire[39], 31);
  EXPECT_EQ(decode_request(wire), r);
}

TEST(Speedtest, RequestArrivesInPieces) {
  Request r;
  r.bytes = 0x0102030405060708ull;
  r.key.fill(0xAB);
  const auto wire = encode_request(r);
  Bytes input(wire.begin(), wire.end());
  input.push_back(0x55);  // stream data right behind the request
  FixedReader<kRequestSize> reader;
  std::size_t taken = 0;
  for (std::size_t step : {1u, 7u, 0u, 20u, 50u}) {
    if (taken >= input.size()) break;
    const std::size_t n = std::min(step, input.size() - taken);
    taken += reader.put(ByteView(input.data() + taken, n));
  }
  ASSERT_TRUE(reader.done());
  EXPECT_EQ(taken, kRequestSize);  // the data byte was left for the caller
  EXPECT_EQ(decode_request(reader.bytes()), r);
  EXPECT_EQ(reader.put(ByteView(input.data() + taken, 1)), 0u);
}

TEST(Speedtest, GrantAndUploadResult) {
  const auto g = encode_grant(123456789);
  EXPECT_EQ(hex(g), "00000000075bcd15");
  EXPECT_EQ(decode_grant(g), 123456789u);

  const UploadResult u{20ull << 20, 1'500'000, true};
  const auto w = encode_upload_result(u);
  EXPECT_EQ(hex(w), "0000000001400000" "000000000016e360" "01");
  auto back = decode_upload_result(w);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, u);

  auto bad = w;
  bad[16] = 2;
  auto err = decode_upload_result(bad);
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message.find("intact byte 2"), std::string::npos);
}

// Runs `input` through an UploadDecoder in pieces of `step` bytes; returns the data and the
// final status.
std::pair<Bytes, UploadDecoder::Status> decode_upload(UploadDecoder& d, const Bytes& input, std::size_t step,
                                                      std::size_t* left_over = nullptr) {
  Bytes data;
  UploadDecoder::Status last = UploadDecoder::Status::NeedMore;
  std::size_t pos = 0;
  while (pos < input.size()) {
    ByteView piece(input.data() + pos, std::min(step, input.size() - pos));
    while (!piece.empty()) {
      const auto st = d.put(piece);
      last = st.status;
      if (st.status == UploadDecoder::Status::Data) data.insert(data.end(), st.data.begin(), st.data.end());
      piece = piece.subspan(st.consumed);
      pos += st.consumed;
      if (st.status == UploadDecoder::Status::End || st.status == UploadDecoder::Status::Error) {
        if (left_over) *left_over = input.size() - pos;
        return {data, last};
      }
    }
  }
  return {data, last};
}

Bytes records(const std::vector<Bytes>& parts, bool end) {
  Bytes out;
  for (const Bytes& p : parts) {
    const auto h = upload_record_header(p.size());
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), p.begin(), p.end());
  }
  if (end) out.insert(out.end(), {0, 0});
  return out;
}

TEST(Speedtest, UploadRecordsInAnyPieces) {
  const Bytes a(300, 0x11), b(1, 0x22), c(65535, 0x33);
  Bytes want = a;
  want.insert(want.end(), b.begin(), b.end());
  want.insert(want.end(), c.begin(), c.end());
  Bytes input = records({a, b, c}, true);
  input.push_back(0x99);  // past the end record: not the decoder's
  for (std::size_t step : {1u, 2u, 3u, 301u, 70000u}) {
    UploadDecoder d(want.size());
    std::size_t left = 0;
    const auto [data, status] = decode_upload(d, input, step, &left);
    EXPECT_EQ(status, UploadDecoder::Status::End) << step;
    EXPECT_EQ(data, want) << step;
    EXPECT_EQ(d.received(), want.size());
    EXPECT_EQ(left, 1u) << step;
    EXPECT_EQ(d.put(ByteView(input.data() + input.size() - 1, 1)).consumed, 0u);
    EXPECT_TRUE(d.error().empty());
  }
}

TEST(Speedtest, UploadHeaderBytesAndEarlyEnd) {
  EXPECT_EQ(hex(upload_record_header(65535)), "ffff");
  EXPECT_EQ(hex(upload_record_header(258)), "0102");
  EXPECT_EQ(hex(upload_record_header(0)), "0000");
  UploadDecoder d(1000);  // the client stops early: fewer bytes than granted, then the end
  const auto [data, status] = decode_upload(d, records({Bytes(10, 1)}, true), 4);
  EXPECT_EQ(status, UploadDecoder::Status::End);
  EXPECT_EQ(d.received(), 10u);
  UploadDecoder half(1000);  // half a header: nothing yet
  const auto st = half.put(Bytes{0x00});
  EXPECT_EQ(st.status, UploadDecoder::Status::NeedMore);
  EXPECT_EQ(st.consumed, 1u);
}

TEST(Speedtest, UploadPastTheGrantIsAnError) {
  UploadDecoder d(100);
  const auto [data, status] = decode_upload(d, records({Bytes(60, 1), Bytes(41, 2)}, true), 1000);
  EXPECT_EQ(status, UploadDecoder::Status::Error);
  EXPECT_EQ(data.size(), 60u);  // the first record was delivered, the second refused whole
  EXPECT_EQ(d.error(), "upload record of 41 bytes after 60 would pass the granted 100");
  EXPECT_EQ(d.put(Bytes{1, 2, 3}).consumed, 0u);
}

TEST(Speedtest, ParseSize) {
  EXPECT_EQ(parse_size("5000").value(), 5000u);
  EXPECT_EQ(parse_size("20MiB").value(), 20ull << 20);
  EXPECT_EQ(parse_size("20mib").value(), 20ull << 20);
  EXPECT_EQ(parse_size("100MB").value(), 100'000'000u);
  EXPECT_EQ(parse_size("3k").value(), 3000u);
  EXPECT_EQ(parse_size("2GiB").value(), 2ull << 30);
  EXPECT_EQ(parse_size("7B").value(), 7u);
  for (const char* bad : {"", "MiB", "12 MiB", "12XB", "-1", "99999999999999999999",
                          "99999999999GiB"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find(std::string("\"") + bad + "\""), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace paniq::socks5::speedtest
