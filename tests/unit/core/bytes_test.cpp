#include "core/bytes.hpp"

#include <gtest/gtest.h>

namespace paniq {
namespace {

TEST(Bytes, IntegerCodecsRoundTripAndUseTheStatedByteOrder) {
  std::uint8_t b[8];
  put_u32_le(b, 0x12345678);
  EXPECT_EQ(to_hex(ByteView(b, 4)), "78563412");
  EXPECT_EQ(get_u32_le(b), 0x12345678u);
  put_u32_be(b, 0x12345678);
  EXPECT_EQ(to_hex(ByteView(b, 4)), "12345678");
  EXPECT_EQ(get_u32_be(b), 0x12345678u);
  put_u16_be(b, 0xabcd);
  EXPECT_EQ(to_hex(ByteView(b, 2)), "abcd");
  EXPECT_EQ(get_u16_be(b), 0xabcd);
  put_u16_le(b, 0xabcd);
  EXPECT_EQ(to_hex(ByteView(b, 2)), "cdab");
  EXPECT_EQ(get_u16_le(b), 0xabcd);
  put_u64_be(b, 7);
  EXPECT_EQ(to_hex(ByteView(b, 8)), "0000000000000007");
  EXPECT_EQ(get_u64_be(b), 7u);
}

TEST(Bytes, HexRejectsOddLengthAndNonDigits) {
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
  ASSERT_TRUE(from_hex("00fF"));
  EXPECT_EQ(*from_hex("00fF"), (Bytes{0x00, 0xff}));
}

}  // namespace
}  // namespace paniq
