// socks5d's side of a UDP ASSOCIATE relay (PROTOCOL.md 8.5; policy in socks5_front.hpp).
#include <array>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "app/socks5_front.hpp"
#include "net/endpoint.hpp"
#include "socks5/udp_header.hpp"
#include "socks5/udp_record.hpp"

namespace paniq::app {
namespace {

using net::tcp;
using net::udp;
using net::use_nothrow;

constexpr std::size_t kMaxDatagram = 65535;

struct ClientAssociation {
  tcp::socket& control;
  udp::socket& relay;
  net::MuxStream& stream;
  asio::ip::address client_ip;
  std::optional<udp::endpoint> client;  // the application's UDP endpoint (latest wins)
  bool ended = false;

  void end_all() {
    if (ended) return;
    ended = true;
    std::error_code ignored;
    relay.close(ignored);
    control.close(ignored);
    stream.close();
  }

  // The association lives as long as its TCP control connection (RFC 1928 7).
  awaitable<void> watch_control() {
    std::array<std::uint8_t, 256> sink;
    for (;;) {
      auto [ec, n] = co_await control.async_read_some(asio::buffer(sink), use_nothrow);
      (void)n;
      if (ec) break;
    }
    end_all();
  }

  awaitable<void> udp_to_stream() {
    std::vector<std::uint8_t> buf(socks5::kRecordLengthSize + kMaxDatagram);
    udp::endpoint from;
    for (;;) {
      auto [ec, n] = co_await relay.async_receive_from(
          asio::buffer(buf.data() + socks5::kRecordLengthSize, kMaxDatagram), from, use_nothrow);
      if (ec) break;
      if (net::unmap(from.address()) != client_ip) continue;  // not our client
      const ByteView datagram(buf.data() + socks5::kRecordLengthSize, n);
      if (socks5::parse_udp_datagram(datagram).error != socks5::Errc::ok) continue;
      client = from;
      put_u16_be(buf.data(), static_cast<std::uint16_t>(n));
      if (co_await stream.write_all(ByteView(buf.data(), n + socks5::kRecordLengthSize))) break;
    }
    end_all();
  }

  awaitable<void> stream_to_udp() {
    std::vector<std::uint8_t> buf(64 * 1024);
    socks5::UdpRecordDecoder decoder(kMaxDatagram);
    bool failed = false;
    while (!failed) {
      const net::IoResult r = co_await stream.read_some(MutByteView(buf.data(), buf.size()));
      if (r.error || r.count == 0) break;
      ByteView in(buf.data(), r.count);
      while (!in.empty() && !failed) {
        const auto step = decoder.next(in);
        in = in.subspan(step.consumed);
        if (step.status == socks5::UdpRecordDecoder::Status::Error) failed = true;
        if (step.status != socks5::UdpRecordDecoder::Status::Record || !client) continue;
        auto [ec, sent] = co_await relay.async_send_to(
            asio::buffer(step.record.data(), step.record.size()), *client, use_nothrow);
        (void)sent;
        if (ec == asio::error::operation_aborted) failed = true;
      }
    }
    end_all();
  }
};

}  // namespace

awaitable<void> run_client_udp_association(tcp::socket& control, udp::socket& relay_socket,
                                           net::MuxStream& stream) {
  using namespace asio::experimental::awaitable_operators;
  std::error_code ec;
  const auto peer = control.remote_endpoint(ec);
  if (ec) co_return;
  ClientAssociation a{control, relay_socket, stream, net::unmap(peer.address()), std::nullopt};
  co_await (a.watch_control() && a.udp_to_stream() && a.stream_to_udp());
}

}  // namespace paniq::app
