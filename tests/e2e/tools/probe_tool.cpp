// paniq-probe: the issue-6 prober for the end-to-end tests (tests/e2e/test_probe.py). Test-only:
// the pure layers (profile, obf, envelope, tunnel) and plain POSIX UDP sockets; seeded; every
// loop bounded; each command prints one JSON line.
//
//   paniq-probe hostile   --profile P --server IP:PORT [--bind IP] --count N --seed S
//                         [--rate R] [--wait-ms W]
//       One legitimate handshake from socket A (preamble + Initiation exactly as socks5d sends
//       them, through tunnel::ClientSession), then from a NEW socket B N datagrams over the
//       categories below at R per second, then W ms of listening on B. Reports what B received
//       (a server that keeps silent towards probers: 0) and the count per category.
//   paniq-probe flood     --profile P --server IP:PORT [--bind IP] --rate R --seconds T
//                         [--sources N]
//       Header-valid Initiations at R per second for T seconds (MAC1-valid with a garbage
//       encrypted timestamp when the profile has a server key, else empty Rust-style ones).
//       With --sources N: from N distinct source addresses in 127.1.0.0 - 127.255.255.254
//       (seeded, spread over the /24s), round robin, all on one port (one socket bound to
//       0.0.0.0, the source set per datagram with IP_PKTINFO; loopback only); what comes back is
//       counted per destination address.
//   paniq-probe handshake --profile P --server IP:PORT [--bind IP] [--timeout-ms MS]
//       One handshake (preamble, ONE Initiation); exit 0 and the elapsed time when a valid
//       Response (classified, conv parsed) arrives within MS of the Initiation, else exit 1.
//
// Exit codes: 0 done (hostile/flood) or handshake ok; 1 handshake failed or a socket error;
// 2 bad arguments or profile.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <set>
#include <unordered_set>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "core/rng.hpp"
#include "envelope/auth.hpp"
#include "envelope/handshake.hpp"
#include "obf/framer.hpp"
#include "profile/profile.hpp"
#include "profile/validate.hpp"
#include "tunnel/auth_config.hpp"
#include "tunnel/client.hpp"

namespace {

using namespace paniq;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxDatagram = 65536;

TimeMs now_ms() {
  return static_cast<TimeMs>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count());
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

WallTime wall_now() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return WallTime{ns / 1'000'000'000, static_cast<std::uint32_t>(ns % 1'000'000'000)};
}

std::optional<sockaddr_in> parse_v4(const std::string& text, bool need_port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  std::string host = text;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    const std::string port = text.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    const unsigned long p = std::stoul(port);
    if (p > 65535) return std::nullopt;
    a.sin_port = htons(static_cast<std::uint16_t>(p));
  } else if (need_port) {
    return std::nullopt;
  }
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return std::nullopt;
  return a;
}

// A UDP socket bound to (bind IP, ephemeral port) and connect()ed to the server: it sends to
// and receives from the server only.
class UdpSocket {
 public:
  UdpSocket(const sockaddr_in& local, const sockaddr_in& server) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) fail("socket");
    const int buf = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    sockaddr_in l = local;
    l.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&l), sizeof l) != 0) fail("bind");
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0)
      fail("connect");
  }
  ~UdpSocket() { ::close(fd_); }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // False on an error other than a full buffer (ECONNREFUSED after an ICMP, ...): counted by
  // the caller; the datagram is lost.
  bool send(ByteView d) {
    return ::send(fd_, d.data(), d.size(), 0) == static_cast<ssize_t>(d.size());
  }

  // Sends up to 64 datagrams in one sendmmsg; returns how many left (0 on an error).
  std::size_t send_batch(std::span<const Bytes> ds) {
    std::array<mmsghdr, 64> msgs{};
    std::array<iovec, 64> iov{};
    const std::size_t n = std::min(ds.size(), msgs.size());
    for (std::size_t i = 0; i < n; ++i) {
      iov[i].iov_base = const_cast<std::uint8_t*>(ds[i].data());
      iov[i].iov_len = ds[i].size();
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = ::sendmmsg(fd_, msgs.data(), static_cast<unsigned>(n), 0);
    return r > 0 ? static_cast<std::size_t>(r) : 0;
  }

  // Waits up to `timeout_ms` for a datagram; its size, or nullopt (nothing, or an error such
  // as ECONNREFUSED, which `errors` counts).
  std::optional<std::size_t> receive(MutByteView buf, int timeout_ms,
                                     std::uint64_t* errors = nullptr) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, std::max(0, timeout_ms)) <= 0) return std::nullopt;
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errors && errno != EAGAIN && errno != EWOULDBLOCK) ++*errors;
      return std::nullopt;
    }
    return static_cast<std::size_t>(n);
  }

  std::uint16_t local_port() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }

 private:
  [[noreturn]] static void fail(const char* what) {
    throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
  }
  int fd_ = -1;
};

// An unconnected UDP socket on 0.0.0.0:ephemeral that sends each datagram from a chosen local
// source address (IP_PKTINFO's ipi_spec_dst: any 127.x.y.z is local on Linux's lo) and tells,
// for what it receives, which of those addresses it was sent to.
class SpoofSocket {
 public:
  explicit SpoofSocket(const sockaddr_in& server) : server_(server) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) fail("socket");
    const int buf = 8 << 20, on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (::setsockopt(fd_, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0) fail("IP_PKTINFO");
    sockaddr_in any{};
    any.sin_family = AF_INET;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0) fail("bind");
  }
  ~SpoofSocket() { ::close(fd_); }
  SpoofSocket(const SpoofSocket&) = delete;
  SpoofSocket& operator=(const SpoofSocket&) = delete;

  // Datagram i from sources[i] (network order), up to 64 in one sendmmsg; how many left.
  std::size_t send_batch(std::span<const Bytes> ds, std::span<const in_addr> sources) {
    constexpr std::size_t kMax = 64;
    std::array<mmsghdr, kMax> msgs{};
    std::array<iovec, kMax> iov{};
    alignas(cmsghdr) std::array<std::array<char, CMSG_SPACE(sizeof(in_pktinfo))>, kMax> ctl{};
    const std::size_t n = std::min({ds.size(), sources.size(), kMax});
    for (std::size_t i = 0; i < n; ++i) {
      iov[i].iov_base = const_cast<std::uint8_t*>(ds[i].data());
      iov[i].iov_len = ds[i].size();
      msghdr& h = msgs[i].msg_hdr;
      h.msg_name = &server_;
      h.msg_namelen = sizeof server_;
      h.msg_iov = &iov[i];
      h.msg_iovlen = 1;
      h.msg_control = ctl[i].data();
      h.msg_controllen = ctl[i].size();
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo pi{};
      pi.ipi_spec_dst = sources[i];
      std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
    const int r = ::sendmmsg(fd_, msgs.data(), static_cast<unsigned>(n), 0);
    return r > 0 ? static_cast<std::size_t>(r) : 0;
  }

  // One datagram from the server within `timeout_ms`: its size and the local address it was
  // sent to (network order); nullopt when none.
  std::optional<std::pair<std::size_t, std::uint32_t>> receive(MutByteView buf, int timeout_ms) {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, std::max(0, timeout_ms)) <= 0) return std::nullopt;
      sockaddr_in from{};
      iovec iov{buf.data(), buf.size()};
      alignas(cmsghdr) std::array<char, 256> ctl{};
      msghdr h{};
      h.msg_name = &from;
      h.msg_namelen = sizeof from;
      h.msg_iov = &iov;
      h.msg_iovlen = 1;
      h.msg_control = ctl.data();
      h.msg_controllen = ctl.size();
      const ssize_t n = ::recvmsg(fd_, &h, MSG_DONTWAIT);
      if (n < 0) return std::nullopt;
      if (from.sin_addr.s_addr != server_.sin_addr.s_addr || from.sin_port != server_.sin_port) {
        continue;  // not the server's
      }
      std::uint32_t to = 0;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          in_pktinfo pi{};
          std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
          to = pi.ipi_addr.s_addr;
        }
      }
      return std::make_pair(static_cast<std::size_t>(n), to);
    }
  }

 private:
  [[noreturn]] static void fail(const char* what) {
    throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
  }
  int fd_ = -1;
  sockaddr_in server_;
};

// `n` distinct addresses in 127.1.0.0 - 127.255.255.254 (last byte 1..254), seeded.
std::vector<in_addr> spoofed_sources(std::size_t n, Rng& rng) {
  std::set<std::uint32_t> seen;
  std::vector<in_addr> out;
  while (out.size() < n) {
    const std::uint32_t host = (127u << 24) | (static_cast<std::uint32_t>(rng.uniform(1, 255)) << 16) |
                               (static_cast<std::uint32_t>(rng.uniform(0, 255)) << 8) |
                               static_cast<std::uint32_t>(rng.uniform(1, 254));
    if (!seen.insert(host).second) continue;
    in_addr a{};
    a.s_addr = htonl(host);
    out.push_back(a);
  }
  return out;
}

// Sleeps until `sent` keeps up with `rate` per second since t0 (bounded naps).
void pace(Clock::time_point t0, std::uint64_t sent, double rate) {
  const double due_s = static_cast<double>(sent) / rate;
  const double ahead = due_s - seconds_since(t0);
  if (ahead > 0) std::this_thread::sleep_for(std::chrono::duration<double>(std::min(ahead, 0.05)));
}

struct Context {
  profile::Profile profile;
  obf::Framer framer;
  std::optional<crypto::Key32> server_public;  // from server_public_key or server_private_key
  sockaddr_in server{};
  sockaddr_in bind{};
};

struct HandshakeResult {
  bool ok = false;
  std::uint32_t conv = 0;
  double elapsed_ms = 0;   // from the first preamble datagram to the Response
  double response_ms = 0;  // from the Initiation to the Response
  Bytes initiation;
  std::string error;
};

// One handshake as socks5d makes it (ClientSession: junk, signatures, the Initiation with MAC1
// and encrypted timestamp when the profile has a server public key), sending it ONCE and
// waiting `timeout_ms` for the Response. The Response is checked again here: it must classify
// as a Response whose conv is the one the session took (encrypted mode: that the session
// opened it).
HandshakeResult handshake(const Context& ctx, UdpSocket& sock, Rng& rng, std::uint32_t timeout_ms) {
  HandshakeResult out;
  auto cfg = tunnel::client_config_from_profile(ctx.profile);
  if (!cfg) {
    out.error = cfg.error().message;
    return out;
  }
  cfg->handshake_attempts = 1;
  cfg->handshake_timeout_ms = std::max<std::uint32_t>(1, timeout_ms);
  tunnel::ClientSession cs(*cfg, ctx.framer, rng);
  const auto t0 = Clock::now();
  std::optional<Clock::time_point> init_at;
  if (auto r = cs.start(now_ms(), wall_now()); !r) {
    out.error = r.error().message;
    return out;
  }
  Bytes buf(kMaxDatagram);
  std::optional<std::uint32_t> seen_conv;
  bool seen_response = false;
  // Bounded: the session fails by itself one timeout after its only Initiation; the preamble
  // takes (jc + 5) * (delay + jitter) at most.
  const auto limit = t0 + std::chrono::milliseconds(timeout_ms + 10'000);
  while (cs.state() == tunnel::ClientState::Handshaking && Clock::now() < limit) {
    const auto tx = cs.transmit();
    for (const ByteView d : tx) {
      (void)sock.send(d);
      if (cs.initiation().size() == d.size() &&
          std::equal(d.begin(), d.end(), cs.initiation().begin())) {
        init_at = Clock::now();
      }
    }
    cs.consume_transmit(tx.size());
    int wait = 20;
    if (const auto next = cs.next_timeout()) {
      wait = static_cast<int>(std::min<TimeMs>(20, *next > now_ms() ? *next - now_ms() : 0));
    }
    if (const auto n = sock.receive(buf, wait)) {
      const ByteView d(buf.data(), *n);
      if (const auto c = ctx.framer.classify(d); c && c->type == obf::MessageType::Response) {
        seen_response = true;
        if (const auto conv = envelope::parse_response_conv(c->payload)) seen_conv = *conv;
      }
      cs.handle_datagram(d, now_ms());
      cs.flush(now_ms());
    }
    if (const auto next = cs.next_timeout(); next && *next <= now_ms()) cs.handle_timeout(now_ms());
    while (cs.poll_event()) {
    }
  }
  out.initiation.assign(cs.initiation().begin(), cs.initiation().end());
  const auto done = Clock::now();
  out.elapsed_ms = std::chrono::duration<double, std::milli>(done - t0).count();
  if (init_at) out.response_ms = std::chrono::duration<double, std::milli>(done - *init_at).count();
  // A plain Response carries the conv in clear; an encrypted one (docs/protocol.md 7.1) inside
  // its Noise message, which the session has opened.
  out.ok = cs.state() == tunnel::ClientState::Established && seen_response &&
           (cs.encrypted() || seen_conv == cs.conv());
  out.conv = cs.conv();
  if (!out.ok) {
    out.error = cs.failure() ? cs.failure().message() : "no valid Response";
  }
  return out;
}

// The handshake paniq-rs makes (PROTOCOL.md 4): the I1..I5 signature datagrams of the profile
// (with <t> = now), then an Initiation whose payload is EMPTY (no capability tag, no MAC1, no
// encrypted timestamp, no Noise offer). ok when a plain Response arrives within the timeout.
HandshakeResult reference_handshake(const Context& ctx, UdpSocket& sock, Rng& rng, std::uint32_t timeout_ms) {
  HandshakeResult out;
  const auto t0 = Clock::now();
  for (const Bytes& sig : ctx.framer.signatures(static_cast<std::uint32_t>(wall_now().seconds), rng)) {
    (void)sock.send(sig);
  }
  const Bytes init = ctx.framer.encode(obf::MessageType::Initiation, {}, rng);
  (void)sock.send(init);
  const auto sent = Clock::now();
  out.initiation = init;
  Bytes buf(kMaxDatagram);
  const auto limit = sent + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < limit) {  // bounded by the timeout
    const auto n = sock.receive(buf, 20);
    if (!n) continue;
    const ByteView d(buf.data(), *n);
    const auto c = ctx.framer.classify(d);
    if (!c || c->type != obf::MessageType::Response) continue;
    if (const auto conv = envelope::parse_response_conv(c->payload)) {
      out.ok = true;
      out.conv = *conv;
      break;
    }
  }
  const auto done = Clock::now();
  out.elapsed_ms = std::chrono::duration<double, std::milli>(done - t0).count();
  out.response_ms = std::chrono::duration<double, std::milli>(done - sent).count();
  if (!out.ok) out.error = "no Response";
  return out;
}

// ---- hostile --------------------------------------------------------------------------------

enum Category : std::size_t {
  kRandom,          // uniformly random bytes, 0..1500
  kTruncated,       // a prefix of the valid Initiation
  kBitFlip,         // the valid Initiation with one bit flipped
  kReplay,          // the captured Initiation, exact bytes
  kRandomPayload,   // header-valid Initiation, random payload (0..200 bytes)
  kZeroPayload,     // header-valid Initiation, zero payload (0..200 bytes)
  kBadMac1,         // header-valid, 101-byte payload shaped like ours, wrong MAC1
  kBadTimestamp,    // valid MAC1 over a garbage encrypted timestamp
  kStaleTimestamp,  // valid MAC1 and encrypted timestamp, an hour old
  kMac1Only,        // valid MAC1, no encrypted timestamp
  kTransport,       // header-valid transport, random conv and content
  kJunk,            // junk-sized random datagrams (jmin..jmax)
  kSignature,       // signature datagrams of the profile's I1..I5
  kCategoryCount,
};
constexpr const char* kCategoryNames[kCategoryCount] = {
    "random",       "truncated", "bit_flip",      "replay",          "random_payload",
    "zero_payload", "bad_mac1",  "bad_timestamp", "stale_timestamp", "mac1_only",
    "transport",    "junk",      "signature"};

// Header-valid Initiation with `payload_len` payload bytes filled by `fill`, returned whole.
template <class Fill>
Bytes initiation_with(const Context& ctx, Rng& rng, std::size_t payload_len, Fill fill) {
  const std::size_t prefix = ctx.framer.prefix_len(obf::MessageType::Initiation);
  Bytes d(prefix + payload_len);
  ctx.framer.write_prefix(obf::MessageType::Initiation, rng, MutByteView(d).first(prefix));
  fill(MutByteView(d).subspan(prefix));
  return d;
}

Bytes make_probe(Category c, const Context& ctx, Rng& rng, const Bytes& init) {
  const std::size_t enc = envelope::kEncTimestampLen, mac = envelope::kMac1Len;
  switch (c) {
    case kRandom: {
      Bytes d(rng.uniform(0, 1500));
      rng.fill(d);
      return d;
    }
    case kTruncated:
      return Bytes(init.begin(),
                   init.begin() + static_cast<std::ptrdiff_t>(rng.uniform(0, init.size() - 1)));
    case kBitFlip: {
      Bytes d = init;
      d[rng.uniform(0, d.size() - 1)] ^= static_cast<std::uint8_t>(1u << rng.uniform(0, 7));
      return d;
    }
    case kReplay: return init;
    case kRandomPayload:
      return initiation_with(ctx, rng, rng.uniform(0, 200), [&](MutByteView p) { rng.fill(p); });
    case kZeroPayload: return initiation_with(ctx, rng, rng.uniform(0, 200), [](MutByteView) {});
    case kBadMac1:
      return initiation_with(ctx, rng, enc + mac, [&](MutByteView p) {
        rng.fill(p);
        p[0] = envelope::kEncTimestampVersion;
      });
    case kBadTimestamp:
    case kMac1Only:
      if (ctx.server_public) {
        const std::size_t len = c == kBadTimestamp ? enc + mac : mac;
        Bytes d = initiation_with(ctx, rng, len, [&](MutByteView p) {
          rng.fill(p);
          p[0] = envelope::kEncTimestampVersion;
        });
        envelope::write_mac1(d, envelope::mac1_key(*ctx.server_public));
        return d;
      }
      return make_probe(kRandomPayload, ctx, rng, init);
    case kStaleTimestamp:
      if (ctx.server_public) {
        envelope::InitiationAuth auth;
        auth.server_public = ctx.server_public;
        WallTime old = wall_now();
        old.seconds -= 3600;
        if (auto d = envelope::build_initiation(ctx.framer, rng, auth, old)) return std::move(*d);
      }
      return make_probe(kRandomPayload, ctx, rng, init);
    case kTransport: {
      const std::size_t prefix = ctx.framer.prefix_len(obf::MessageType::Transport);
      const std::size_t hdr = ctx.profile.obfuscation.transport_replay ? 10 : 2;
      const std::size_t inner = rng.uniform(0, 400);
      Bytes d(prefix + hdr + inner + rng.uniform(0, 64));
      ctx.framer.write_prefix(obf::MessageType::Transport, rng, MutByteView(d).first(prefix));
      rng.fill(MutByteView(d).subspan(prefix));
      if (rng.uniform(0, 1) == 0)
        put_u16_be(d.data() + prefix + hdr - 2, static_cast<std::uint16_t>(inner));
      return d;
    }
    case kJunk: {
      const auto& o = ctx.profile.obfuscation;
      const std::uint64_t lo = static_cast<std::uint64_t>(std::max(0, o.jmin));
      Bytes d(rng.uniform(
          lo, std::max<std::uint64_t>(lo, static_cast<std::uint64_t>(std::max(0, o.jmax)))));
      rng.fill(d);
      return d;
    }
    case kSignature: {
      auto sigs = ctx.framer.signatures(static_cast<std::uint32_t>(wall_now().seconds), rng);
      if (sigs.empty()) return make_probe(kJunk, ctx, rng, init);
      return std::move(sigs[rng.uniform(0, sigs.size() - 1)]);
    }
    case kCategoryCount: break;
  }
  return {};
}

int run_hostile(const Context& ctx, std::uint64_t count, std::uint64_t seed, double rate,
                int wait_ms) {
  SeededRng rng(seed);
  UdpSocket a(ctx.bind, ctx.server);
  const HandshakeResult hs = handshake(ctx, a, rng, 2000);
  nlohmann::ordered_json out{
      {"command", "hostile"}, {"handshake_ok", hs.ok}, {"handshake_ms", hs.elapsed_ms}};
  if (!hs.ok) {
    out["error"] = "legitimate handshake failed: " + hs.error;
    std::cout << out.dump() << std::endl;
    return 1;
  }
  UdpSocket b(ctx.bind, ctx.server);
  std::array<std::uint64_t, kCategoryCount> sent{};
  std::uint64_t send_errors = 0, recv_errors = 0, got_datagrams = 0, got_bytes = 0;
  Bytes buf(kMaxDatagram);
  const auto drain = [&](int timeout_ms) {
    while (const auto n = b.receive(buf, timeout_ms, &recv_errors)) {
      ++got_datagrams;
      got_bytes += *n;
      timeout_ms = 0;
    }
  };
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto c = static_cast<Category>(rng.uniform(0, kCategoryCount - 1));
    const Bytes d = make_probe(c, ctx, rng, hs.initiation);
    if (!b.send(d)) ++send_errors;
    ++sent[c];
    if (i % 32 == 31) {
      drain(0);
      pace(t0, i + 1, rate);
    }
  }
  const double send_s = seconds_since(t0);
  const auto until = Clock::now() + std::chrono::milliseconds(wait_ms);
  while (Clock::now() < until) {
    drain(static_cast<int>(
              std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count()) +
          1);
  }
  nlohmann::ordered_json cats = nlohmann::ordered_json::object();
  for (std::size_t k = 0; k < kCategoryCount; ++k) cats[kCategoryNames[k]] = sent[k];
  out["sent"] = count;
  out["send_seconds"] = send_s;
  out["rate"] = send_s > 0 ? static_cast<double>(count) / send_s : 0.0;
  out["send_errors"] = send_errors;
  out["received_datagrams"] = got_datagrams;
  out["received_bytes"] = got_bytes;
  out["receive_errors"] = recv_errors;
  out["probe_port"] = b.local_port();
  out["categories"] = cats;
  std::cout << out.dump() << std::endl;
  return 0;
}

// ---- flood ----------------------------------------------------------------------------------

int run_flood(const Context& ctx, std::uint64_t seed, double rate, double seconds,
              std::size_t sources) {
  SeededRng rng(seed);
  // One source: a socket bound to --bind. Several: spoofed loopback sources on one socket.
  std::optional<UdpSocket> s;
  std::optional<SpoofSocket> spoof;
  std::vector<in_addr> from;
  if (sources == 0) {
    s.emplace(ctx.bind, ctx.server);
  } else {
    spoof.emplace(ctx.server);
    from = spoofed_sources(sources, rng);
  }
  // With a server key: a pool of distinct MAC1-valid Initiations with garbage timestamps, sent
  // round robin (none is ever accepted, so none enters the replay cache or is answered as a
  // retransmission: each costs the server a MAC1 check and a token). Without a key: a fresh
  // empty Initiation each time (identical bytes would be answered as retransmissions).
  std::vector<Bytes> pool;
  for (int i = 0; ctx.server_public && i < 1024; ++i) {
    Bytes d = initiation_with(ctx, rng, envelope::kEncTimestampLen + envelope::kMac1Len,
                              [&](MutByteView p) {
                                rng.fill(p);
                                p[0] = envelope::kEncTimestampVersion;
                              });
    envelope::write_mac1(d, envelope::mac1_key(*ctx.server_public));
    pool.push_back(std::move(d));
  }
  const std::size_t init_len = ctx.framer.prefix_len(obf::MessageType::Initiation);
  const std::uint64_t total = static_cast<std::uint64_t>(rate * seconds);
  std::uint64_t sent = 0, errors = 0, answers = 0, answer_bytes = 0;
  std::unordered_set<std::uint32_t> answered;  // spoofed sources that got something
  Bytes buf(kMaxDatagram);
  const auto drain = [&](int timeout_ms) {
    for (;;) {
      if (spoof) {
        const auto r = spoof->receive(buf, timeout_ms);
        if (!r) return;
        answer_bytes += r->first;
        answered.insert(r->second);
      } else {
        const auto n = s->receive(buf, timeout_ms);
        if (!n) return;
        answer_bytes += *n;
      }
      ++answers;
      timeout_ms = 0;
    }
  };
  constexpr std::size_t kBurst = 32;
  std::array<Bytes, kBurst> burst;
  std::array<in_addr, kBurst> burst_from{};
  const auto t0 = Clock::now();
  const auto limit = t0 + std::chrono::duration<double>(seconds + 2.0);  // never runs long
  while (sent < total && Clock::now() < limit) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBurst, total - sent));
    for (std::size_t k = 0; k < n; ++k) {
      if (!pool.empty()) {
        burst[k] = pool[(sent + k) % pool.size()];
      } else {
        burst[k].resize(init_len);
        ctx.framer.write_prefix(obf::MessageType::Initiation, rng, burst[k]);
      }
      if (spoof) burst_from[k] = from[(sent + k) % from.size()];
    }
    const std::span<const Bytes> batch(burst.data(), n);
    const std::size_t done =
        spoof ? spoof->send_batch(batch, std::span<const in_addr>(burst_from.data(), n)) : s->send_batch(batch);
    if (done == 0) ++errors;
    sent += done == 0 ? n : done;  // a failed batch is lost, not retried
    drain(0);
    pace(t0, sent, rate);
  }
  const double took = seconds_since(t0);
  drain(200);
  nlohmann::ordered_json out{{"command", "flood"},
                             {"authenticated", ctx.server_public.has_value()},
                             {"sources", sources == 0 ? 1 : sources},
                             {"sent", sent},
                             {"seconds", took},
                             {"rate", took > 0 ? static_cast<double>(sent) / took : 0.0},
                             {"send_errors", errors},
                             {"answers", answers},
                             {"answer_bytes", answer_bytes}};
  if (spoof) out["answered_sources"] = answered.size();
  std::cout << out.dump() << std::endl;
  return 0;
}

// ---- handshake ------------------------------------------------------------------------------

int run_handshake(const Context& ctx, std::uint64_t seed, std::uint32_t timeout_ms, bool reference) {
  SeededRng rng(seed);
  UdpSocket s(ctx.bind, ctx.server);
  const HandshakeResult hs =
      reference ? reference_handshake(ctx, s, rng, timeout_ms) : handshake(ctx, s, rng, timeout_ms);
  nlohmann::ordered_json out{
      {"command", "handshake"},        {"ok", hs.ok},     {"elapsed_ms", hs.elapsed_ms},
      {"response_ms", hs.response_ms}, {"conv", hs.conv}, {"port", s.local_port()}};
  if (!hs.ok) out["error"] = hs.error;
  std::cout << out.dump() << std::endl;
  return hs.ok ? 0 : 1;
}

std::optional<Context> load_context(const std::string& profile_path, const std::string& server,
                                    const std::string& bind) {
  std::vector<std::string> warnings;
  auto p = profile::load_profile_file(profile_path, warnings);
  if (!p) {
    std::cerr << "paniq-probe: " << p.error().message << "\n";
    return std::nullopt;
  }
  auto framer = obf::Framer::create(profile::obf_config(*p));
  const auto srv = parse_v4(server, true);
  const auto local = parse_v4(bind, false);
  if (!framer || !srv || !local) {
    std::cerr << "paniq-probe: bad framer, --server (IPv4:port) or --bind (IPv4)\n";
    return std::nullopt;
  }
  Context ctx{*p, std::move(*framer), std::nullopt, *srv, *local};
  if (auto pub = tunnel::server_public_key_from_profile(*p); pub && *pub) {
    ctx.server_public = **pub;
  } else if (auto auth = tunnel::auth_config_from_profile(*p); auth && auth->server_private_key) {
    ctx.server_public = crypto::x25519_public(*auth->server_private_key);
  }
  return ctx;
}

struct Args {
  std::string profile, server, bind = "127.0.0.1";
  std::uint64_t count = 100'000, seed = 1;
  double rate = 20'000, seconds = 4;
  std::size_t sources = 0;
  int wait_ms = 1000;
  std::uint32_t timeout_ms = 1000;
  bool reference = false;
  CLI::App* hostile = nullptr;
  CLI::App* flood = nullptr;
};

void add_options(CLI::App& cli, Args& a) {
  cli.require_subcommand(1);
  const auto common = [&](CLI::App* c) {
    c->add_option("--profile", a.profile, "profile JSON (the server's: keys, S/H, I1..I5)")
        ->required();
    c->add_option("--server", a.server, "proxy-server IPv4:port")->required();
    c->add_option("--bind", a.bind, "local IPv4 address to send from")->capture_default_str();
    c->add_option("--seed", a.seed, "seed of every random draw")->capture_default_str();
  };
  a.hostile = cli.add_subcommand(
      "hostile", "a legitimate handshake, then N hostile datagrams from another socket");
  common(a.hostile);
  a.hostile->add_option("--count", a.count, "hostile datagrams")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  a.hostile->add_option("--rate", a.rate, "datagrams per second")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  a.hostile->add_option("--wait-ms", a.wait_ms, "listening after the last one")
      ->capture_default_str()
      ->check(CLI::Range(0, 60'000));
  a.flood = cli.add_subcommand("flood", "header-valid Initiations at a rate");
  common(a.flood);
  a.flood->add_option("--rate", a.rate, "Initiations per second")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  a.flood->add_option("--seconds", a.seconds, "duration")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 120.0));
  a.flood->add_option("--sources", a.sources,
                      "distinct spoofed source addresses in 127.1.0.0 - 127.255.255.254 "
                      "(0: just --bind)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1'000'000));
  auto* hs =
      cli.add_subcommand("handshake", "one handshake; exit 0 when the Response arrives in time");
  common(hs);
  hs->add_option("--timeout-ms", a.timeout_ms, "wait for the Response after the Initiation")
      ->capture_default_str()
      ->check(CLI::Range(1, 60'000));
  hs->add_flag("--reference", a.reference,
               "as paniq-rs does it: signatures, then an Initiation with an empty payload");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "paniq-probe: hostile datagrams, handshake floods and single handshakes against a "
      "running proxy-server (tests only)",
      "paniq-probe"};
  Args a;
  add_options(cli, a);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  try {
    const auto ctx = load_context(a.profile, a.server, a.bind);
    if (!ctx) return 2;
    if (a.hostile->parsed()) return run_hostile(*ctx, a.count, a.seed, a.rate, a.wait_ms);
    if (a.flood->parsed()) return run_flood(*ctx, a.seed, a.rate, a.seconds, a.sources);
    return run_handshake(*ctx, a.seed, a.timeout_ms, a.reference);
  } catch (const std::exception& e) {
    std::cerr << "paniq-probe: " << e.what() << "\n";
    return 1;
  }
}
