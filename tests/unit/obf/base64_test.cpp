// Unpadded standard base64 used by <ds> (base64.cpp).
#include <gtest/gtest.h>

#include <string>

#include "core/rng.hpp"
#include "obf/base64.hpp"

namespace paniq::obf::base64 {
namespace {

std::string enc(std::string_view s) {
  std::string out(encoded_len(s.size()), '?');
  encode(as_bytes(s), reinterpret_cast<std::uint8_t*>(out.data()));
  return out;
}

TEST(Base64, Rfc4648VectorsWithoutPadding) {
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg");
  EXPECT_EQ(enc("fo"), "Zm8");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foob"), "Zm9vYg");
  EXPECT_EQ(enc("fooba"), "Zm9vYmE");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodeStrict) {
  Bytes out{0x55};
  EXPECT_TRUE(decode(as_bytes("Zm9vYmE"), out));
  EXPECT_EQ(std::string(out.begin() + 1, out.end()), "fooba");
  for (std::string_view bad : {"Z", "Zm9vY", "Zg==", "Zh", "Zm9", "Zm-v", "Zm_v", "Zm9v\n"}) {
    Bytes b{0x55};
    EXPECT_FALSE(decode(as_bytes(bad), b)) << bad;  // "Zm9": non-zero trailing bits
    EXPECT_EQ(b.size(), 1u) << bad;  // output untouched on failure
  }
  Bytes fo;
  EXPECT_TRUE(decode(as_bytes("Zm8"), fo));
  EXPECT_EQ(std::string(fo.begin(), fo.end()), "fo");
  EXPECT_EQ(decoded_len(0), 0u);
  EXPECT_EQ(decoded_len(2), 1u);
  EXPECT_EQ(decoded_len(3), 2u);
  EXPECT_EQ(decoded_len(8), 6u);
  EXPECT_FALSE(decoded_len(5).has_value());
}

TEST(Base64, RandomRoundTrip) {
  SeededRng rng(77);
  for (int i = 0; i < 2000; ++i) {
    Bytes in(rng.uniform(0, 64));
    rng.fill(in);
    Bytes text(encoded_len(in.size()));
    encode(in, text.data());
    Bytes back;
    ASSERT_TRUE(decode(text, back));
    EXPECT_EQ(back, in);
  }
}

}  // namespace
}  // namespace paniq::obf::base64
