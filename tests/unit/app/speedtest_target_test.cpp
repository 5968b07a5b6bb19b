#include "app/speedtest_target.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/bytes.hpp"

namespace paniq::app {
namespace {

// RFC 8439 A.1 test vectors 1 and 2: all-zero key and nonce, block counters 0 and 1.
constexpr const char* kZeroKeyStream =
    "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
    "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
    "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
    "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f";

TEST(SpeedtestPattern, IsTheChaCha20KeystreamFromBlockZero) {
  SpeedtestPattern p(socks5::speedtest::Key{});
  Bytes out(128);
  p.fill(out);
  EXPECT_EQ(to_hex(out), kZeroKeyStream);
}

TEST(SpeedtestPattern, PiecesOfAnySizeGiveTheSameBytes) {
  socks5::speedtest::Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(7 * i + 1);
  SpeedtestPattern whole(key);
  Bytes want(10'000);
  whole.fill(want);

  SpeedtestPattern pieces(key);
  Bytes got;
  std::size_t step = 1;
  while (got.size() < want.size()) {
    Bytes part(std::min(step, want.size() - got.size()));
    pieces.fill(part);
    got.insert(got.end(), part.begin(), part.end());
    step = step * 3 % 257 + 1;  // 1, 4, 13, 40, 121, 107, ...: across block edges
  }
  EXPECT_EQ(got, want);
}

TEST(SpeedtestPattern, CheckFindsAnyChangedByte) {
  socks5::speedtest::Key key{};
  key[0] = 1;
  SpeedtestPattern gen(key);
  Bytes data(5000);
  gen.fill(data);

  SpeedtestPattern ok(key);
  EXPECT_TRUE(ok.check(ByteView(data.data(), 100)));
  EXPECT_TRUE(ok.check(ByteView(data.data() + 100, data.size() - 100)));

  data[4321] ^= 0x01;
  SpeedtestPattern bad(key);
  EXPECT_TRUE(bad.check(ByteView(data.data(), 4000)));
  EXPECT_FALSE(bad.check(ByteView(data.data() + 4000, data.size() - 4000)));
}

}  // namespace
}  // namespace paniq::app
