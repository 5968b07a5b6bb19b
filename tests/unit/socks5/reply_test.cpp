#include "socks5/reply.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "support/vectors.hpp"

namespace paniq::socks5 {
namespace {

using paniq::test::hex;

Bytes to_bytes(ByteView v) { return Bytes(v.begin(), v.end()); }
template <std::size_t N>
Bytes to_bytes(const std::array<std::uint8_t, N>& a) {
  return Bytes(a.begin(), a.end());
}

TEST(Reply, BuildsTheSocks5ReplyVectorsByteForByte) {
  const auto v = paniq::test::load_vectors("misc-vectors.json").at("socks5_replies");
  const auto want = [&](const char* key) { return hex(v.at(key).get<std::string>()); };
  EXPECT_EQ(to_bytes(reply(ReplyCode::Succeeded, Address::ipv4({127, 0, 0, 1}, 8080)).bytes()),
            want("connect_success_echoing_ipv4_target_127.0.0.1:8080"));
  EXPECT_EQ(to_bytes(reply(ReplyCode::Succeeded, *Address::domain("example.com", 443)).bytes()),
            want("connect_success_echoing_domain_target_example.com:443"));
  EXPECT_EQ(to_bytes(reply(ReplyCode::Succeeded, Address::ipv4({127, 0, 0, 1}, 40000)).bytes()),
            want("udp_associate_success_bound_127.0.0.1:40000"));
  EXPECT_EQ(to_bytes(error_reply(ReplyCode::CommandNotSupported).bytes()),
            want("command_not_supported"));
  EXPECT_EQ(to_bytes(error_reply(ReplyCode::AddressTypeNotSupported).bytes()),
            want("address_type_not_supported"));
  EXPECT_EQ(to_bytes(method_selection(kMethodNoAuth)), want("method_selection_no_auth"));
  EXPECT_EQ(to_bytes(method_selection(kMethodUserPass)), want("method_selection_userpass"));
  EXPECT_EQ(to_bytes(method_selection(kMethodNoAcceptable)), want("method_not_acceptable"));
  EXPECT_EQ(to_bytes(auth_status(kAuthSuccess)), want("userpass_ok"));
  // The reference's failure status is 0xFF; ours is 0x01 (any non-zero is failure).
  EXPECT_EQ(to_bytes(auth_status(0xFF)), want("userpass_fail"));
  EXPECT_EQ(to_hex(auth_status(kAuthFailure)), "0101");
}

TEST(Reply, ErrorRepliesCarryEveryCodeAndAZeroIpv4Bound) {
  for (int c = 0; c <= 8; ++c) {
    const auto code = static_cast<ReplyCode>(c);
    const Bytes b = to_bytes(error_reply(code).bytes());
    EXPECT_EQ(to_hex(b), "05" + to_hex(Bytes{static_cast<std::uint8_t>(c)}) + "0001000000000000");
    EXPECT_STRNE(to_string(code), "unknown reply code");
  }
}

TEST(Reply, Ipv6AndLongestDomainBounds) {
  std::array<std::uint8_t, 16> ip{};
  ip[15] = 1;
  EXPECT_EQ(to_hex(reply(ReplyCode::Succeeded, Address::ipv6(ip, 443)).bytes()),
            "05000004" "00000000000000000000000000000001" "01bb");
  const auto longest = Address::domain(std::string(255, 'x'), 1);
  ASSERT_TRUE(longest);
  const ReplyMessage m = reply(ReplyCode::Succeeded, *longest);
  EXPECT_EQ(m.size, kMaxReplySize);
  EXPECT_EQ(m.data[3], 0x03);
  EXPECT_EQ(m.data[4], 0xff);
}

TEST(Reply, MapsErrorCodesToReplyCodes) {
  using std::errc;
  EXPECT_EQ(reply_code_for({}), ReplyCode::Succeeded);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::connection_refused)),
            ReplyCode::ConnectionRefused);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::network_unreachable)),
            ReplyCode::NetworkUnreachable);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::network_down)),
            ReplyCode::NetworkUnreachable);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::host_unreachable)),
            ReplyCode::HostUnreachable);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::timed_out)), ReplyCode::TtlExpired);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::address_family_not_supported)),
            ReplyCode::AddressTypeNotSupported);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::permission_denied)), ReplyCode::NotAllowed);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::operation_not_permitted)),
            ReplyCode::NotAllowed);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::connection_reset)),
            ReplyCode::GeneralFailure);
  EXPECT_EQ(reply_code_for(std::make_error_code(errc::no_such_file_or_directory)),
            ReplyCode::GeneralFailure);
  // What a socket layer reports: errno values in the system category.
  EXPECT_EQ(reply_code_for({ECONNREFUSED, std::system_category()}), ReplyCode::ConnectionRefused);
  EXPECT_EQ(reply_code_for({EHOSTUNREACH, std::system_category()}), ReplyCode::HostUnreachable);
  EXPECT_EQ(reply_code_for({ENETUNREACH, std::system_category()}), ReplyCode::NetworkUnreachable);
  EXPECT_EQ(reply_code_for({ETIMEDOUT, std::system_category()}), ReplyCode::TtlExpired);
  EXPECT_EQ(reply_code_for({EACCES, std::system_category()}), ReplyCode::NotAllowed);
  // An error of this layer that is no system condition.
  EXPECT_EQ(reply_code_for(make_error_code(Errc::bad_version)), ReplyCode::GeneralFailure);
}

}  // namespace
}  // namespace paniq::socks5
