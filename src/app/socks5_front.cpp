#include "app/socks5_front.hpp"

#include <array>

#include <spdlog/spdlog.h>

#include "app/active_count.hpp"

#include "net/endpoint.hpp"
#include "net/relay.hpp"
#include "net/watchdog.hpp"
#include "socks5/reply.hpp"
#include "tunnel/errors.hpp"

namespace paniq::app {
namespace {

using net::tcp;
using net::udp;
using net::use_nothrow;

template <class Bytes>
awaitable<std::error_code> send(tcp::socket& s, const Bytes& bytes) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes.data(), bytes.size()), use_nothrow);
  (void)n;
  co_return ec;
}

std::string peer_of(const tcp::socket& s) {
  std::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  return ec ? std::string("?") : net::to_string(ep);
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("socks5 connection: {}", x.what());
  }
}

}  // namespace

Socks5Front::Socks5Front(asio::any_io_executor ex, net::ClientDriver& driver, Socks5Options opt)
    : ex_(ex), driver_(driver), opt_(std::move(opt)), acceptor_(ex) {}

Socks5Front::~Socks5Front() { *alive_ = false; }

Result<void> Socks5Front::listen(const tcp::endpoint& ep) {
  std::error_code ec;
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && ep.address().is_v6() && ep.address().is_unspecified()) {
    acceptor_.set_option(asio::ip::v6_only(false), ec);
  }
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::error_code ignored;
    acceptor_.close(ignored);
    return Error{ec, "cannot listen on " + net::to_string(ep) + ": " + ec.message()};
  }
  return {};
}

void Socks5Front::start() { asio::co_spawn(ex_, accept_loop(), [](std::exception_ptr e) { log_exception(e); }); }

void Socks5Front::stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
}

tcp::endpoint Socks5Front::local_endpoint() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec);
}

awaitable<void> Socks5Front::accept_loop() {
  for (;;) {
    auto [ec, sock] = co_await acceptor_.async_accept(use_nothrow);
    if (ec) {
      if (!acceptor_.is_open()) co_return;
      spdlog::warn("accept: {}", ec.message());  // e.g. out of file descriptors
      asio::steady_timer pause(ex_, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    ++stats_.accepted;
    if (stats_.active >= opt_.max_connections) {
      ++stats_.over_limit;
      if (std::uint64_t left_out = 0; refusal_log_.allow(left_out)) {
        spdlog::warn("max_connections ({}) reached: closing connection from {}{}", opt_.max_connections,
                     peer_of(sock), left_out ? " (" + std::to_string(left_out) + " similar not logged)" : "");
      }
      std::error_code ignored;
      sock.close(ignored);
      continue;
    }
    asio::co_spawn(ex_, serve(std::move(sock)), [](std::exception_ptr e) { log_exception(e); });
  }
}

namespace {

// Logs (debug) the end of a SOCKS connection with the number still being served. Made before
// the connection's ActiveCount, so it runs after that let go (not at shutdown: `alive`).
class EndLog {
 public:
  EndLog(const std::uint64_t& active, std::shared_ptr<bool> alive, const std::string& peer)
      : active_(active), alive_(std::move(alive)), peer_(peer) {}
  ~EndLog() {
    if (*alive_) spdlog::debug("socks5 {}: connection closed ({} being served)", peer_, active_);
  }
  EndLog(const EndLog&) = delete;
  EndLog& operator=(const EndLog&) = delete;

 private:
  const std::uint64_t& active_;
  std::shared_ptr<bool> alive_;
  const std::string& peer_;
};

}  // namespace

awaitable<void> Socks5Front::serve(tcp::socket sock) {
  std::error_code ignored;
  sock.set_option(tcp::no_delay(true), ignored);
  const std::string peer = peer_of(sock);
  const EndLog end_log(stats_.active, alive_, peer);
  const ActiveCount active(stats_.active, alive_);
  // These two lines (debug) are what tests wait on instead of sleeping.
  spdlog::debug("socks5 {}: connection accepted ({} being served)", peer, stats_.active);

  socks5::ServerHandshake hs(opt_.auth);
  std::array<std::uint8_t, 1024> buf;
  Bytes early;  // application data the client sent right behind its request
  Bytes http_first;  // an HTTP client's first bytes
  bool first_read = true;
  const auto negotiation_deadline = std::chrono::steady_clock::now() + opt_.negotiation_timeout;
  {
    net::Watchdog wd(ex_, opt_.negotiation_timeout, [&sock] {
      std::error_code e;
      sock.close(e);
    });
    for (;;) {
      auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), use_nothrow);
      if (ec) {
        spdlog::debug("socks5 {}: {}", peer, wd.expired() ? "negotiation timeout" : ec.message());
        co_return;
      }
      // The protocol from the first byte: 0x05 SOCKS5, an ASCII capital letter (a method
      // name) HTTP, anything else is closed without a reply.
      if (first_read) {
        first_read = false;
        if (buf[0] >= 'A' && buf[0] <= 'Z') {
          http_first.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
          break;
        }
        if (buf[0] != socks5::kSocksVersion) {
          spdlog::debug("socks5 {}: first byte 0x{:02x} is neither SOCKS5 nor HTTP", peer, buf[0]);
          co_return;
        }
      }
      const auto step = hs.put(ByteView(buf.data(), n));
      if (!step.output.empty() && co_await send(sock, step.output)) co_return;
      if (step.status == socks5::ServerHandshake::Status::NeedMore) continue;
      if (step.status != socks5::ServerHandshake::Status::Done) {
        spdlog::debug("socks5 {}: {}", peer, hs.failure_reason());
        co_return;
      }
      early.assign(buf.begin() + static_cast<std::ptrdiff_t>(step.consumed),
                   buf.begin() + static_cast<std::ptrdiff_t>(n));
      break;
    }
  }
  if (!http_first.empty()) {
    co_await serve_http(sock, http_first, peer, negotiation_deadline);
    co_return;
  }
  const socks5::Request req = hs.request();
  if (req.command == socks5::Command::Connect && opt_.fast_connect) {
    co_await serve_fast_connect(sock, req, early);
  } else if (req.command == socks5::Command::Connect) {
    co_await serve_connect(sock, req, early);
  } else {
    co_await serve_udp(sock, req);
  }
}

namespace {

// True when `ec` says the tunnel session died under a stream (not a handshake failure, not a
// refusal by the proxy): the request never got an answer and may be tried on a new session.
bool session_lost(const std::error_code& ec) {
  using tunnel::Errc;
  if (ec.category() == tunnel::error_category()) {
    const auto e = static_cast<Errc>(ec.value());
    return e == Errc::kcp_dead_link || e == Errc::liveness_timeout || e == Errc::mux_failed ||
           e == Errc::closed;
  }
  return ec == mux::make_error_code(mux::Errc::session_failed) ||
         ec == mux::make_error_code(mux::Errc::transport_closed);
}

}  // namespace

awaitable<Socks5Front::OpenAttempt> Socks5Front::open_once(const socks5::OpenRequest& r,
                                                           std::chrono::steady_clock::time_point deadline) {
  using socks5::ReplyCode;
  auto opened = co_await driver_.open_stream();
  if (!opened) {
    spdlog::warn("tunnel to {} unavailable: {}", net::to_string(driver_.server()),
                 opened.error().message);
    co_return OpenAttempt{ReplyCode::GeneralFailure, {}, session_lost(opened.error().code)};
  }
  net::MuxStream stream = std::move(opened.value());
  std::array<std::uint8_t, socks5::kMaxOpenRequestSize> req;
  const std::size_t n = socks5::encode_open_request(req, r);
  if (const auto ec = co_await stream.write_all(ByteView(req.data(), n))) {
    co_return OpenAttempt{ReplyCode::GeneralFailure, {}, session_lost(ec)};
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  net::Watchdog wd(ex_, std::max(left, std::chrono::milliseconds(1)), [&stream] { stream.close(); });
  std::uint8_t byte = 0;
  const net::IoResult got = co_await stream.read_some(MutByteView(&byte, 1));
  if (got.error || got.count == 0) {
    if (wd.expired()) co_return OpenAttempt{ReplyCode::TtlExpired, {}, false};
    co_return OpenAttempt{ReplyCode::GeneralFailure, {}, got.error && session_lost(got.error)};
  }
  const ReplyCode code = socks5::reply_code_from_open_reply(byte);
  if (code != ReplyCode::Succeeded) co_return OpenAttempt{code, {}, false};
  co_return OpenAttempt{code, std::move(stream), false};
}

awaitable<std::pair<socks5::ReplyCode, net::MuxStream>> Socks5Front::open_tunnel(
    const socks5::OpenRequest& r) {
  const auto deadline = std::chrono::steady_clock::now() + opt_.reply_timeout;
  for (int attempt = 0;; ++attempt) {
    OpenAttempt a = co_await open_once(r, deadline);
    if (!a.retry || attempt >= kOpenRetries || std::chrono::steady_clock::now() >= deadline) {
      co_return std::pair{a.code, std::move(a.stream)};
    }
    spdlog::info("{}: tunnel session lost before the proxy answered; retrying on a new session",
                 r.target.to_string());
  }
}

awaitable<void> Socks5Front::serve_connect(tcp::socket& sock, const socks5::Request& req,
                                           ByteView early) {
  auto [code, stream] = co_await open_tunnel({socks5::Command::Connect, req.target});
  if (code != socks5::ReplyCode::Succeeded) {
    ++stats_.connect_failed;
    spdlog::info("CONNECT {} failed: {}", req.target.to_string(), socks5::to_string(code));
    co_await send(sock, socks5::error_reply(code).bytes());
    co_return;
  }
  ++stats_.connect_ok;
  spdlog::debug("CONNECT {} via stream {}", req.target.to_string(), stream.id());
  if (co_await send(sock, socks5::reply(code, req.target).bytes())) co_return;
  if (!early.empty() && co_await stream.write_all(early)) co_return;
  co_await relay_counted(sock, stream, {}, req.target);
}

awaitable<std::optional<net::RelayStats>> Socks5Front::relay_counted(tcp::socket& sock,
                                                                     net::MuxStream& stream,
                                                                     net::RelayOptions opt,
                                                                     const socks5::Address& target) {
  auto alive = alive_;
  std::optional<net::RelayStats> rs;
  {
    const ActiveCount relaying(stats_.active_relays, alive_);
    rs = co_await net::relay(sock, stream, opt);
  }
  if (!*alive) co_return std::nullopt;
  spdlog::debug("CONNECT {} done: {} bytes up, {} down{}{}", target.to_string(), rs->tcp_to_stream,
                rs->stream_to_tcp, rs->error ? ", " : "", rs->error ? rs->error.message() : "");
  co_return rs;
}

awaitable<void> Socks5Front::serve_fast_connect(tcp::socket& sock, const socks5::Request& req,
                                                ByteView early) {
  using socks5::ReplyCode;
  auto opened = co_await driver_.open_stream();
  std::optional<net::MuxStream> stream;
  if (opened) {
    stream.emplace(std::move(opened.value()));
    // The open request and any early bytes in one write: one segment when they fit.
    Bytes first = socks5::encode_open_request({socks5::Command::Connect, req.target});
    first.insert(first.end(), early.begin(), early.end());
    if (co_await stream->write_all(first)) stream.reset();
  } else {
    spdlog::warn("tunnel to {} unavailable: {}", net::to_string(driver_.server()),
                 opened.error().message);
  }
  if (!stream) {
    ++stats_.connect_failed;
    co_await send(sock, socks5::error_reply(ReplyCode::GeneralFailure).bytes());
    co_return;
  }
  if (co_await send(sock, socks5::reply(ReplyCode::Succeeded, req.target).bytes())) co_return;
  net::RelayOptions ro;
  ro.leading_reply_byte = true;
  const auto rs = co_await relay_counted(sock, *stream, ro, req.target);
  if (!rs) co_return;
  if (rs->reply_byte == 0) {
    ++stats_.connect_ok;
  } else {
    ++stats_.connect_failed;
    spdlog::info("CONNECT {} failed after the early reply: {}", req.target.to_string(),
                 rs->reply_byte < 0 ? "no answer from the proxy"
                                    : socks5::to_string(socks5::reply_code_from_open_reply(
                                          static_cast<std::uint8_t>(rs->reply_byte))));
  }
}

awaitable<void> Socks5Front::serve_udp(tcp::socket& sock, const socks5::Request& req) {
  auto [code, stream] = co_await open_tunnel({socks5::Command::UdpAssociate, req.target});
  udp::socket relay_socket(ex_);
  std::error_code ec;
  if (code == socks5::ReplyCode::Succeeded) {
    const auto local = sock.local_endpoint(ec);
    if (!ec) relay_socket.open(local.protocol() == tcp::v4() ? udp::v4() : udp::v6(), ec);
    if (!ec) relay_socket.bind(udp::endpoint(local.address(), 0), ec);
    if (ec) {
      spdlog::warn("UDP ASSOCIATE: relay socket: {}", ec.message());
      code = socks5::ReplyCode::GeneralFailure;
    }
  }
  if (code != socks5::ReplyCode::Succeeded) {
    co_await send(sock, socks5::error_reply(code).bytes());
    co_return;
  }
  const auto bound = relay_socket.local_endpoint(ec);
  if (co_await send(sock, socks5::reply(code, net::to_socks_address(bound.address(), bound.port())).bytes())) {
    co_return;
  }
  ++stats_.udp_associations;
  spdlog::debug("UDP ASSOCIATE for {} on {}", peer_of(sock), net::to_string(bound));
  co_await run_client_udp_association(sock, relay_socket, stream);
}

}  // namespace paniq::app
