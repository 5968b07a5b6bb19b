#include "socks5/handshake.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "support/vectors.hpp"

namespace paniq::socks5 {
namespace {

using paniq::test::hex;
using Status = ServerHandshake::Status;

struct Outcome {
  Status status = Status::NeedMore;
  std::size_t consumed = 0;  // over the whole input
  Bytes output;              // everything the shell would have sent
  Request request;           // valid when Done
  std::string reason;
  friend bool operator==(const Outcome&, const Outcome&) = default;
  friend void PrintTo(const Outcome& o, std::ostream* os) {
    *os << "{status " << static_cast<int>(o.status) << ", consumed " << o.consumed << ", output "
        << to_hex(o.output) << ", target " << o.request.target.to_string() << ", reason '"
        << o.reason << "'}";
  }
};

// Feeds `input` in chunks of the given sizes the way a shell does (send the output, stop at a
// terminal status, keep the rest of the chunk as application data), checking put()'s contract.
Outcome run_chunks(const HandshakeConfig& cfg, ByteView input, const std::vector<std::size_t>& sizes) {
  ServerHandshake hs(cfg);
  Outcome o;
  std::size_t off = 0;
  for (std::size_t n : sizes) {
    const ByteView chunk = input.subspan(off, n);
    const auto step = hs.put(chunk);
    EXPECT_LE(step.consumed, chunk.size());
    o.output.insert(o.output.end(), step.output.begin(), step.output.end());
    o.status = step.status;
    EXPECT_EQ(hs.status(), step.status);
    if (step.status != Status::NeedMore) {
      o.consumed = off + step.consumed;
      if (step.status == Status::Done) o.request = hs.request();
      o.reason = hs.failure_reason();
      const auto again = hs.put(chunk.subspan(step.consumed));
      EXPECT_EQ(again.status, step.status);
      EXPECT_EQ(again.consumed, 0u);
      EXPECT_TRUE(again.output.empty());
      return o;
    }
    EXPECT_EQ(step.consumed, chunk.size());  // NeedMore takes everything
    off += n;
  }
  o.consumed = off;
  return o;
}

Outcome run_whole(const HandshakeConfig& cfg, ByteView input) {
  return run_chunks(cfg, input, {input.size()});
}

// Runs the input as one read, byte at a time and in seeded random splits; all must agree.
Outcome run_any_split(const HandshakeConfig& cfg, const Bytes& input, std::uint64_t seed = 1) {
  const Outcome whole = run_whole(cfg, input);
  EXPECT_EQ(run_chunks(cfg, input, std::vector<std::size_t>(input.size(), 1)), whole);
  SeededRng rng(seed);
  for (int round = 0; round < 8; ++round) {
    std::vector<std::size_t> sizes;
    for (std::size_t left = input.size(); left > 0;) {
      const std::size_t n = rng.uniform(1, std::min<std::size_t>(left, 7));
      sizes.push_back(n);
      left -= n;
    }
    EXPECT_EQ(run_chunks(cfg, input, sizes), whole);
  }
  return whole;
}

Bytes cat(std::initializer_list<const char*> parts) {
  Bytes out;
  for (const char* p : parts) {
    const Bytes b = hex(p);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

HandshakeConfig with_auth() {
  HandshakeConfig c;
  c.username = "user";
  c.password = "secret";
  return c;
}

const HandshakeConfig kNoAuth = HandshakeConfig::defaults();
constexpr const char* kConnect8080 = "050100017f0000011f90";  // CONNECT 127.0.0.1:8080
constexpr const char* kUserSecret = "010475736572" "06736563726574";  // user / secret

TEST(Handshake, NoAuthConnectIpv4) {
  const Outcome o = run_any_split(kNoAuth, cat({"050100", kConnect8080}));
  EXPECT_EQ(o.status, Status::Done);
  EXPECT_EQ(to_hex(o.output), "0500");
  EXPECT_EQ(o.consumed, 13u);
  EXPECT_EQ(o.request.command, Command::Connect);
  EXPECT_EQ(o.request.target, Address::ipv4({127, 0, 0, 1}, 8080));
}

TEST(Handshake, ConnectDomainAndIpv6AndUdpAssociate) {
  Outcome o = run_any_split(kNoAuth, cat({"05020100", "050100030b6578616d706c652e636f6d01bb"}));
  ASSERT_EQ(o.status, Status::Done);
  EXPECT_EQ(o.request.target, *Address::domain("example.com", 443));
  EXPECT_EQ(o.request.target.to_string(), "example.com:443");

  o = run_any_split(kNoAuth, cat({"050100", "0501000420010db800000000000000000000000120fb"}));
  ASSERT_EQ(o.status, Status::Done);
  EXPECT_EQ(o.request.target.to_string(), "[2001:db8::1]:8443");

  o = run_any_split(kNoAuth, cat({"050100", "05030001000000000000"}));
  ASSERT_EQ(o.status, Status::Done);
  EXPECT_EQ(o.request.command, Command::UdpAssociate);
  EXPECT_TRUE(o.request.target.is_unspecified());
  EXPECT_EQ(o.request.target.port(), 0);
}

TEST(Handshake, PipelinedApplicationDataIsLeftOver) {
  const Bytes input = cat({"050100", kConnect8080, "474554202f20485454502f312e310d0a"});
  const Outcome o = run_any_split(kNoAuth, input);
  ASSERT_EQ(o.status, Status::Done);
  EXPECT_EQ(o.consumed, 13u);
  EXPECT_EQ(std::string(input.begin() + 13, input.end()), "GET / HTTP/1.1\r\n");
}

TEST(Handshake, PartialInputNeedsMoreAndTracksPhase) {
  ServerHandshake hs(kNoAuth);
  EXPECT_EQ(hs.phase(), ServerHandshake::Phase::Methods);
  auto s = hs.put(hex("0502"));
  EXPECT_EQ(s.status, Status::NeedMore);
  EXPECT_EQ(s.consumed, 2u);
  EXPECT_TRUE(s.output.empty());
  s = hs.put(hex("0200"));
  EXPECT_EQ(to_hex(s.output), "0500");
  EXPECT_EQ(hs.phase(), ServerHandshake::Phase::Request);
  s = hs.put(hex("0501"));
  EXPECT_EQ(s.status, Status::NeedMore);
  EXPECT_TRUE(s.output.empty());
  s = hs.put(hex("0003"));
  EXPECT_EQ(s.status, Status::NeedMore);
  s = hs.put({});
  EXPECT_EQ(s.status, Status::NeedMore);
  EXPECT_EQ(s.consumed, 0u);
  s = hs.put(hex("0161" "0050" "ff"));
  EXPECT_EQ(s.status, Status::Done);
  EXPECT_EQ(s.consumed, 4u);
  EXPECT_EQ(hs.request().target.to_string(), "a:80");
  EXPECT_EQ(hs.phase(), ServerHandshake::Phase::Finished);
}

TEST(Handshake, GreetingVersionNotFiveClosesWithoutReply) {
  for (const char* greeting : {"040100", "00", "ff", "0401"}) {
    const Outcome o = run_any_split(kNoAuth, hex(greeting));
    EXPECT_EQ(o.status, Status::Close) << greeting;
    EXPECT_TRUE(o.output.empty());
    EXPECT_LE(o.consumed, 1u);
  }
}

TEST(Handshake, NoAuthConfiguredButNoAuthNotOffered) {
  for (const char* greeting : {"050102", "0500", "05020102"}) {
    const Outcome o = run_any_split(kNoAuth, cat({greeting, kConnect8080}));
    EXPECT_EQ(o.status, Status::ReplyAndClose) << greeting;
    EXPECT_EQ(to_hex(o.output), "05ff");
    EXPECT_EQ(o.consumed, hex(greeting).size());
    EXPECT_EQ(o.reason, "no acceptable authentication method offered");
  }
}

TEST(Handshake, CredentialsConfiguredRequireUserPass) {
  const HandshakeConfig auth = with_auth();
  Outcome o = run_any_split(auth, cat({"050100", kUserSecret}));
  EXPECT_EQ(o.status, Status::ReplyAndClose);
  EXPECT_EQ(to_hex(o.output), "05ff");

  o = run_any_split(auth, cat({"05020002", kUserSecret, kConnect8080, "abcd"}));
  ASSERT_EQ(o.status, Status::Done);
  EXPECT_EQ(to_hex(o.output), "05020100");
  EXPECT_EQ(o.consumed, 4u + 13u + 10u);
  EXPECT_EQ(o.request.target, Address::ipv4({127, 0, 0, 1}, 8080));
}

TEST(Handshake, WrongCredentialsGetFailureStatusAndClose) {
  const HandshakeConfig auth = with_auth();
  const char* bad[] = {
      "010475736572" "06736563726575",    // user / secreu
      "010475736571" "06736563726574",    // usep / secret
      "0103757365" "06736563726574",      // use / secret
      "01057573657273" "06736563726574",  // users / secret
      "010475736572" "0773656372657474",  // user / secrett
      "010475736572" "057365637265",      // user / secre
  };
  for (const char* msg : bad) {
    const Outcome o = run_any_split(auth, cat({"050102", msg, kConnect8080}));
    EXPECT_EQ(o.status, Status::ReplyAndClose) << msg;
    EXPECT_EQ(to_hex(o.output), "05020101") << msg;
    EXPECT_EQ(o.consumed, 3 + hex(msg).size()) << msg;
    EXPECT_EQ(o.reason, "wrong username or password");
  }
}

TEST(Handshake, EmptyUsernameOrPasswordFails) {
  const HandshakeConfig auth = with_auth();
  Outcome o = run_any_split(auth, cat({"050102", "0100", "06736563726574"}));
  EXPECT_EQ(o.status, Status::ReplyAndClose);
  EXPECT_EQ(to_hex(o.output), "05020101");
  EXPECT_EQ(o.consumed, 5u);
  o = run_any_split(auth, cat({"050102", "01047573657200", kConnect8080}));
  EXPECT_EQ(o.status, Status::ReplyAndClose);
  EXPECT_EQ(to_hex(o.output), "05020101");
  EXPECT_EQ(o.consumed, 10u);
}

TEST(Handshake, AuthVersionNotOneClosesWithoutReply) {
  const Outcome o = run_any_split(with_auth(), cat({"050102", "050475736572"}));
  EXPECT_EQ(o.status, Status::Close);
  EXPECT_EQ(to_hex(o.output), "0502");  // the method selection was already due
}

TEST(Handshake, LongestCredentialsAccepted) {
  HandshakeConfig auth;
  auth.username = std::string(255, 'u');
  auth.password = std::string(255, 'p');
  ASSERT_TRUE(auth.validate());
  Bytes msg = {0x05, 0x01, 0x02, 0x01, 0xff};
  msg.insert(msg.end(), 255, 'u');
  msg.push_back(0xff);
  msg.insert(msg.end(), 255, 'p');
  const Bytes req = hex(kConnect8080);
  msg.insert(msg.end(), req.begin(), req.end());
  const Outcome o = run_any_split(auth, msg);
  EXPECT_EQ(o.status, Status::Done);
  EXPECT_EQ(to_hex(o.output), "05020100");
  EXPECT_EQ(o.consumed, msg.size());
}

TEST(Handshake, RequestVersionNotFiveClosesWithoutReply) {
  const Outcome o = run_any_split(kNoAuth, cat({"050100", "040100017f0000011f90"}));
  EXPECT_EQ(o.status, Status::Close);
  EXPECT_EQ(to_hex(o.output), "0500");
  EXPECT_EQ(o.consumed, 4u);
}

TEST(Handshake, UnsupportedCommandsGetReply07) {
  for (const char* cmd : {"02", "00", "04", "ff"}) {
    const Bytes req = cat({"05", cmd, "00017f0000011f90"});
    const Outcome o = run_any_split(kNoAuth, cat({"050100", to_hex(req).c_str()}));
    EXPECT_EQ(o.status, Status::ReplyAndClose) << cmd;
    EXPECT_EQ(to_hex(o.output), "0500" "05070001000000000000") << cmd;
    EXPECT_EQ(o.consumed, 3u + 4u) << cmd;  // decided on the 4-byte header, as the reference
    EXPECT_EQ(o.reason, "command not supported");
  }
}

TEST(Handshake, BadAddressesGetReply08) {
  const char* requests[] = {
      "050100027f0000011f90",   // ATYP 2
      "050100057f0000011f90",   // ATYP 5
      "05010003000050",         // empty domain
      "0501000302c3280050",     // non-UTF-8 domain
  };
  for (const char* req : requests) {
    const Outcome o = run_any_split(kNoAuth, cat({"050100", req}));
    EXPECT_EQ(o.status, Status::ReplyAndClose) << req;
    EXPECT_EQ(to_hex(o.output), "0500" "05080001000000000000") << req;
  }
}

TEST(Handshake, ReservedByteIsNotChecked) {
  const Outcome o = run_any_split(kNoAuth, cat({"050100", "0501ff017f0000011f90"}));
  EXPECT_EQ(o.status, Status::Done);
  EXPECT_EQ(o.request.target, Address::ipv4({127, 0, 0, 1}, 8080));
}

TEST(Handshake, ConfigValidation) {
  EXPECT_TRUE(HandshakeConfig::defaults().validate());
  EXPECT_FALSE(HandshakeConfig::defaults().requires_auth());
  EXPECT_TRUE(with_auth().validate());
  EXPECT_TRUE(with_auth().requires_auth());
  HandshakeConfig c;
  c.username = "u";
  auto r = c.validate();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_config);
  EXPECT_EQ(r.error().message, "socks5.password: empty while a username is set");
  c = HandshakeConfig{};
  c.password = "p";
  EXPECT_EQ(c.validate().error().message, "socks5.username: empty while a password is set");
  c.username = std::string(256, 'u');
  EXPECT_EQ(c.validate().error().message,
            "socks5.username: 256 bytes: must be at most 255 (RFC 1929)");
  c.username = "u";
  c.password = std::string(300, 'p');
  EXPECT_EQ(c.validate().error().message,
            "socks5.password: 300 bytes: must be at most 255 (RFC 1929)");
}

Address random_target(Rng& rng) {
  const auto port = static_cast<std::uint16_t>(rng.next_u32());
  switch (rng.uniform(0, 2)) {
    case 0: return Address::ipv4({static_cast<std::uint8_t>(rng.next_u32()), 2, 3, 4}, port);
    case 1: {
      std::array<std::uint8_t, 16> ip{};
      rng.fill(ip);
      return Address::ipv6(ip, port);
    }
    default: {
      std::string name(rng.uniform(1, 255), 'a');
      for (char& ch : name) ch = static_cast<char>('a' + rng.uniform(0, 25));
      return *Address::domain(name, port);
    }
  }
}

TEST(Handshake, RandomValidHandshakesDecodeUnderRandomSplits) {
  SeededRng rng(0xC0FFEE);
  const HandshakeConfig auth = with_auth();
  for (int i = 0; i < 300; ++i) {
    const bool use_auth = rng.uniform(0, 1) == 1;
    const Request want{rng.uniform(0, 1) ? Command::Connect : Command::UdpAssociate,
                       random_target(rng)};
    Bytes input = use_auth ? cat({"05020002", kUserSecret}) : hex("050100");
    const std::size_t auth_len = input.size();
    input.insert(input.end(), {0x05, static_cast<std::uint8_t>(want.command), 0x00});
    want.target.append_to(input);
    const std::size_t handshake_len = input.size();
    Bytes tail(rng.uniform(0, 20));
    rng.fill(tail);
    input.insert(input.end(), tail.begin(), tail.end());

    const Outcome o = run_any_split(use_auth ? auth : kNoAuth, input, rng.next_u64());
    ASSERT_EQ(o.status, Status::Done) << i;
    EXPECT_EQ(o.request, want);
    EXPECT_EQ(o.consumed, handshake_len);
    EXPECT_EQ(o.output, use_auth ? hex("05020100") : hex("0500"));
    EXPECT_GT(handshake_len, auth_len);
  }
}

}  // namespace
}  // namespace paniq::socks5
