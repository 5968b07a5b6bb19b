// proxy-server's side of a UDP ASSOCIATE relay (PROTOCOL.md 8.5; policy in proxy_service.hpp).
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "app/proxy_service.hpp"
#include "net/dial.hpp"
#include "net/endpoint.hpp"
#include "socks5/udp_header.hpp"
#include "socks5/udp_record.hpp"

namespace paniq::app {
namespace {

using net::udp;
using net::use_nothrow;

// Record prefix room: length + RSV RSV FRAG + the longest IP address field (IPv6).
constexpr std::size_t kPrefixRoom = socks5::kRecordLengthSize + socks5::kUdpFixedHeader + 1 + 16 + 2;
constexpr std::size_t kMaxData = 65535 - (kPrefixRoom - socks5::kRecordLengthSize);
constexpr std::size_t kRemembered = 64;

struct ProxyAssociation {
  ProxyAssociation(net::MuxStream& st, udp::socket& so, std::chrono::milliseconds rt, EgressGate& eg)
      : stream(st), sock(so), resolve_timeout(rt), egress(eg) {}
  net::MuxStream& stream;
  udp::socket& sock;
  std::chrono::milliseconds resolve_timeout;
  EgressGate& egress;
  bool v6 = false;
  // Targets this association sent to (ring): only their answers go back to the client.
  std::array<udp::endpoint, kRemembered> contacted{};
  std::size_t contacted_next = 0, contacted_count = 0;
  // The chosen address of a destination: `to` (unmapped), or none with the refusal when the
  // egress policy allowed none of them.
  struct Choice {
    std::optional<udp::endpoint> to;
    asio::ip::address refused_address;
    tunnel::EgressDecision refusal;
    bool refused = false;
  };
  // One-entry resolver cache (the choice, so a cached name is never re-judged differently).
  std::string cached_name;
  std::uint16_t cached_port = 0;
  Choice cached;
  bool ended = false;

  void end_all() {
    if (ended) return;
    ended = true;
    std::error_code ignored;
    sock.close(ignored);
    stream.close();
  }

  void remember(const udp::endpoint& ep) {
    for (std::size_t i = 0; i < contacted_count; ++i) {
      if (contacted[i] == ep) return;
    }
    contacted[contacted_next] = ep;
    contacted_next = (contacted_next + 1) % kRemembered;
    if (contacted_count < kRemembered) ++contacted_count;
  }

  bool contacted_before(const udp::endpoint& ep) const {
    for (std::size_t i = 0; i < contacted_count; ++i) {
      if (contacted[i] == ep) return true;
    }
    return false;
  }

  // The first address of `eps` this socket can send to and the egress policy allows.
  Choice choose(const std::vector<udp::endpoint>& eps) const {
    Choice c;
    for (const udp::endpoint& e : eps) {
      const udp::endpoint ep(net::unmap(e.address()), e.port());
      if (ep.address().is_v6() && !v6) continue;  // IPv4-only socket
      const tunnel::EgressDecision d = egress.decide(ep.address(), ep.port());
      if (d.allowed()) {
        c.to = ep;
        return c;
      }
      if (!c.refused) {
        c.refused = true;
        c.refused_address = ep.address();
        c.refusal = d;
      }
    }
    return c;
  }

  // The socket-family endpoint of a datagram's destination; nullopt = drop it (refusals by the
  // egress policy are counted and logged).
  awaitable<std::optional<udp::endpoint>> destination(const socks5::Address& a) {
    Choice c;
    if (a.type() == socks5::AddressType::Domain) {
      if (cached_name == a.domain_name() && cached_port == a.port()) {
        c = cached;
      } else {
        auto [ec, found] = co_await net::resolve_udp_all(sock.get_executor(), a, resolve_timeout);
        if (ec) {
          spdlog::debug("UDP ASSOCIATE: resolve {}: {}", a.to_string(), ec.message());
          co_return std::nullopt;
        }
        c = choose(found);
        cached_name = std::string(a.domain_name());
        cached_port = a.port();
        cached = c;
      }
    } else {
      c = choose({udp::endpoint(*net::to_ip(a), a.port())});
    }
    if (!c.to) {
      if (c.refused) egress.refused(EgressGate::Use::udp, a, c.refused_address, c.refusal);
      co_return std::nullopt;
    }
    udp::endpoint ep = *c.to;
    remember(ep);
    if (ep.address().is_v4() && v6) {
      ep.address(asio::ip::make_address_v6(asio::ip::v4_mapped, ep.address().to_v4()));
    }
    co_return ep;
  }

  // Sends every complete record of `in`; false when the association must end.
  awaitable<bool> forward(socks5::UdpRecordDecoder& decoder, ByteView in) {
    while (!in.empty()) {
      const auto step = decoder.next(in);
      in = in.subspan(step.consumed);
      if (step.status == socks5::UdpRecordDecoder::Status::Error) co_return false;
      if (step.status != socks5::UdpRecordDecoder::Status::Record) continue;
      const auto d = socks5::parse_udp_datagram(step.record);
      if (d.error != socks5::Errc::ok) continue;  // skipped, as the reference
      // The record views `in` or the decoder's buffer, both stable until the next next().
      const auto to = co_await destination(d.address);
      if (!to || ended) continue;
      auto [ec, n] = co_await sock.async_send_to(asio::buffer(d.data.data(), d.data.size()), *to, use_nothrow);
      (void)n;
      if (ec == asio::error::operation_aborted) co_return false;
    }
    co_return true;
  }

  awaitable<void> stream_to_udp(ByteView early) {
    socks5::UdpRecordDecoder decoder(socks5::kDefaultMaxRecord);
    std::vector<std::uint8_t> buf(64 * 1024);
    bool go_on = co_await forward(decoder, early);
    while (go_on) {
      const net::IoResult r = co_await stream.read_some(MutByteView(buf.data(), buf.size()));
      if (r.error || r.count == 0) break;
      go_on = co_await forward(decoder, ByteView(buf.data(), r.count));
    }
    end_all();
  }

  awaitable<void> udp_to_stream() {
    std::vector<std::uint8_t> buf(kPrefixRoom + kMaxData);
    udp::endpoint from;
    for (;;) {
      auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf.data() + kPrefixRoom, kMaxData),
                                                      from, use_nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || ended) break;
        continue;  // ICMP errors from earlier sends
      }
      const udp::endpoint src(net::unmap(from.address()), from.port());
      if (!contacted_before(src)) continue;
      const socks5::Address a = net::to_socks_address(src.address(), src.port());
      const std::size_t prefix = socks5::kRecordLengthSize + socks5::udp_header_size(a);
      std::uint8_t* start = buf.data() + kPrefixRoom - prefix;
      if (socks5::encode_udp_record_prefix(MutByteView(start, prefix), a, n) != prefix) continue;
      if (co_await stream.write_all(ByteView(start, prefix + n))) break;
    }
    end_all();
  }
};

}  // namespace

awaitable<void> run_proxy_udp_association(net::MuxStream& stream, udp::socket& sock, ByteView early,
                                          std::chrono::milliseconds resolve_timeout, EgressGate& egress) {
  using namespace asio::experimental::awaitable_operators;
  std::error_code ec;
  ProxyAssociation a(stream, sock, resolve_timeout, egress);
  a.v6 = sock.local_endpoint(ec).address().is_v6();
  co_await (a.stream_to_udp(early) && a.udp_to_stream());
}

}  // namespace paniq::app
