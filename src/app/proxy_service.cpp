#include "app/proxy_service.hpp"

#include <array>
#include <vector>

#include <spdlog/spdlog.h>

#include "app/active_count.hpp"

#include "net/dial.hpp"
#include "net/endpoint.hpp"
#include "net/relay.hpp"
#include "net/watchdog.hpp"
#include "socks5/reply.hpp"

namespace paniq::app {
namespace {

using net::tcp;
using net::udp;
using socks5::ReplyCode;

ReplyCode reply_for(const net::DialOutcome& d) {
  if (d.stage == net::DialOutcome::Stage::resolve) {
    return d.error == std::errc::timed_out ? ReplyCode::TtlExpired : ReplyCode::HostUnreachable;
  }
  return socks5::reply_code_for(d.error);
}

awaitable<std::error_code> send_reply(net::MuxStream& stream, ReplyCode code) {
  const std::uint8_t b = socks5::open_reply_byte(code);
  co_return co_await stream.write_all(ByteView(&b, 1));
}

// One stream's slot in the per-user table, given back when the handler's frame ends (the stream
// or its session ended) unless the service is already gone (shutdown).
class UserSlot {
 public:
  UserSlot(tunnel::UserStreamLimits& t, std::string user, std::shared_ptr<bool> alive)
      : t_(t), user_(std::move(user)), alive_(std::move(alive)) {}
  ~UserSlot() {
    if (*alive_) t_.release(user_);
  }
  UserSlot(const UserSlot&) = delete;
  UserSlot& operator=(const UserSlot&) = delete;

 private:
  tunnel::UserStreamLimits& t_;
  std::string user_;
  std::shared_ptr<bool> alive_;
};

}  // namespace

awaitable<void> ProxyService::serve(net::MuxStream stream) {
  ++stats_.streams;
  if (stats_.active >= opt_.max_connections) {
    ++stats_.over_limit;
    if (std::uint64_t left_out = 0; refusal_log_.allow(left_out)) {
      spdlog::warn("max_connections ({}) reached: refusing stream {}{}", opt_.max_connections,
                   stream.id(), left_out ? " (" + std::to_string(left_out) + " similar not logged)" : "");
    }
    co_await send_reply(stream, ReplyCode::GeneralFailure);
    co_return;
  }
  const std::string user = user_of_ ? user_of_(stream.session()) : std::string();
  if (!user_limits_.acquire(user)) {
    if (std::uint64_t left_out = 0; user_refusal_log_.allow(left_out)) {
      spdlog::warn("rate-limited: user {} reached max_streams_per_user ({}): refusing stream {} of "
                   "session {} (refused_user_streams {}{})",
                   user, user_limits_.cap(user), stream.id(), stream.session(),
                   user_limits_.refused_total(),
                   left_out ? ", " + std::to_string(left_out) + " similar not logged" : "");
    }
    co_await send_reply(stream, ReplyCode::GeneralFailure);
    co_return;
  }
  const UserSlot slot(user_limits_, user, alive_);
  const ActiveCount active(stats_.active, alive_);

  socks5::OpenRequestDecoder decoder;
  std::array<std::uint8_t, 1024> buf;
  Bytes early;
  {
    net::Watchdog wd(ex_, opt_.request_timeout, [&stream] { stream.close(); });
    for (;;) {
      const net::IoResult r = co_await stream.read_some(MutByteView(buf.data(), buf.size()));
      if (r.error || r.count == 0) co_return;  // closed before a whole request
      const auto step = decoder.put(ByteView(buf.data(), r.count));
      if (step.status == socks5::OpenRequestDecoder::Status::NeedMore) continue;
      if (step.status == socks5::OpenRequestDecoder::Status::Error) {
        ++stats_.bad_requests;
        spdlog::debug("stream {}: bad open request ({})", stream.id(),
                      socks5::make_error_code(step.error).message());
        if (step.error == socks5::Errc::empty_domain) {
          co_await send_reply(stream, ReplyCode::HostUnreachable);
        }
        co_return;  // the stream closes (FIN) with the MuxStream
      }
      early.assign(buf.begin() + static_cast<std::ptrdiff_t>(step.consumed),
                   buf.begin() + static_cast<std::ptrdiff_t>(r.count));
      break;
    }
  }
  const socks5::OpenRequest req = decoder.request();
  switch (req.command) {
    case socks5::Command::Connect:
      if (socks5::speedtest::is_target(req.target)) {
        co_await speedtest_.serve(stream, req.target, early);
        break;
      }
      co_await serve_connect(stream, req.target, early);
      break;
    case socks5::Command::UdpAssociate:
      co_await serve_udp(stream, early);
      break;
    default:
      co_await send_reply(stream, ReplyCode::CommandNotSupported);
      break;
  }
}

awaitable<void> ProxyService::serve_connect(net::MuxStream& stream, const socks5::Address& target,
                                            ByteView early) {
  const auto deadline = net::DialClock::now() + opt_.dial_timeout;
  net::DialOutcome d;
  auto [rec, resolved] = co_await net::resolve_tcp(ex_, target, deadline);
  if (rec) {
    d.error = net::to_generic(rec);
    d.stage = net::DialOutcome::Stage::resolve;
  } else {
    tcp::endpoint refused_ep;
    tunnel::EgressDecision refusal;
    const std::vector<tcp::endpoint> allowed = egress_.filter(resolved, refused_ep, refusal);
    if (allowed.empty()) {
      egress_.refused(EgressGate::Use::connect, target, refused_ep.address(), refusal);
      co_await send_reply(stream, ReplyCode::NotAllowed);
      co_return;
    }
    if (allowed.size() < resolved.size()) {
      spdlog::debug("connect {}: {} of {} addresses refused by the egress policy (first {}: {})",
                    target.to_string(), resolved.size() - allowed.size(), resolved.size(),
                    net::to_string(refused_ep), refusal.describe());
    }
    d = co_await net::connect_any(ex_, allowed, deadline, opt_.happy_eyeballs_stagger);
  }
  if (!d.socket) {
    ++stats_.connect_failed;
    const ReplyCode code = reply_for(d);
    spdlog::info("connect {} failed: {} ({})", target.to_string(), d.error.message(),
                 socks5::to_string(code));
    co_await send_reply(stream, code);
    co_return;
  }
  ++stats_.connect_ok;
  tcp::socket& sock = *d.socket;
  spdlog::debug("connect {} ok (stream {})", target.to_string(), stream.id());
  if (co_await send_reply(stream, ReplyCode::Succeeded)) co_return;
  if (!early.empty()) {
    auto [ec, n] = co_await asio::async_write(sock, asio::buffer(early.data(), early.size()),
                                              net::use_nothrow);
    (void)n;
    if (ec) co_return;
  }
  const net::RelayStats rs = co_await net::relay(sock, stream);
  spdlog::debug("connect {} done: {} bytes to target, {} back{}{}", target.to_string(),
                rs.stream_to_tcp, rs.tcp_to_stream, rs.error ? ", " : "",
                rs.error ? rs.error.message() : "");
}

awaitable<void> ProxyService::serve_udp(net::MuxStream& stream, ByteView early) {
  udp::socket sock(ex_);
  std::error_code ec;
  // Dual-stack when possible (IPv4 targets as v4-mapped), else IPv4 only.
  sock.open(udp::v6(), ec);
  if (!ec) sock.set_option(asio::ip::v6_only(false), ec);
  if (!ec) sock.bind(udp::endpoint(udp::v6(), 0), ec);
  if (ec) {
    std::error_code ignored;
    sock.close(ignored);
    ec.clear();
    sock.open(udp::v4(), ec);
    if (!ec) sock.bind(udp::endpoint(udp::v4(), 0), ec);
  }
  if (ec) {
    spdlog::warn("UDP ASSOCIATE: socket: {}", ec.message());
    co_await send_reply(stream, ReplyCode::GeneralFailure);
    co_return;
  }
  if (co_await send_reply(stream, ReplyCode::Succeeded)) co_return;
  ++stats_.udp_associations;
  co_await run_proxy_udp_association(stream, sock, early, opt_.udp_resolve_timeout, egress_);
}

}  // namespace paniq::app
