// socks5d's HTTP proxy (docs/http-proxy.md): the part of Socks5Front that serves a connection
// whose first byte is an ASCII capital letter. The request heads, body framing and replies come
// from the pure http layer; this file only moves bytes and maps tunnel outcomes to statuses.
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <asio/experimental/awaitable_operators.hpp>
#include <spdlog/spdlog.h>

#include "app/active_count.hpp"
#include "app/socks5_front.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "net/endpoint.hpp"
#include "net/watchdog.hpp"
#include "socks5/reply.hpp"

namespace paniq::app {
namespace {

using net::tcp;
using net::use_nothrow;
using namespace asio::experimental::awaitable_operators;

// How long a kept-alive client connection may sit idle between requests.
constexpr std::chrono::milliseconds kIdleTimeout{60'000};
constexpr std::size_t kBufferSize = 16 * 1024;

awaitable<std::error_code> write_to(tcp::socket& s, ByteView bytes) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes.data(), bytes.size()), use_nothrow);
  (void)n;
  co_return ec;
}

awaitable<std::error_code> write_to(tcp::socket& s, std::string_view text) {
  co_return co_await write_to(s, as_bytes(text));
}

// RFC 9209 Proxy-Status error type for a SOCKS reply code.
std::string_view proxy_status_error(socks5::ReplyCode code) {
  using socks5::ReplyCode;
  switch (code) {
    case ReplyCode::NotAllowed: return "destination_ip_prohibited";
    case ReplyCode::NetworkUnreachable: return "destination_ip_unroutable";
    case ReplyCode::HostUnreachable: return "destination_unavailable";
    case ReplyCode::ConnectionRefused: return "connection_refused";
    case ReplyCode::TtlExpired: return "connection_timeout";
    case ReplyCode::AddressTypeNotSupported: return "destination_not_found";
    default: return "proxy_internal_error";
  }
}

// 504 for TTL expired (no answer in time: the proxy's dial or our reply_timeout), 502 for the
// other failures; the SOCKS reason is in the body and in Proxy-Status.
std::string gateway_response(socks5::ReplyCode code, std::string_view target) {
  const int status = code == socks5::ReplyCode::TtlExpired ? 504 : 502;
  const std::string reason = socks5::to_string(code);
  std::string detail = "paniq: ";
  detail += target;
  detail += ": ";
  detail += reason;
  detail += " (SOCKS reply 0" + std::to_string(static_cast<int>(code)) + ")";
  std::string ps = "Proxy-Status: paniq; error=";
  ps += proxy_status_error(code);
  ps += "; details=\"" + reason + "\"";
  return http::simple_response(status, detail, {ps});
}

// The proxy's own error answer: "paniq: <detail>" and, with `error`, an RFC 9209
// Proxy-Status (407 gets the Basic challenge instead).
std::string proxy_reply(int status, std::string_view detail, std::string_view error = {}) {
  std::vector<std::string> extra;
  if (!error.empty()) extra.push_back("Proxy-Status: paniq; error=" + std::string(error));
  if (status == 407) extra.emplace_back("Proxy-Authenticate: Basic realm=\"paniq\"");
  return http::simple_response(status, "paniq: " + std::string(detail), extra);
}

socks5::Address target_address(const http::RequestHead& req) {
  std::error_code ec;
  const auto ip = asio::ip::make_address(req.host, ec);
  if (!ec) return net::to_socks_address(ip, req.port);
  auto a = socks5::Address::domain(req.host, req.port);
  return a ? *a : socks5::Address();  // the parser bounds the name to 255 bytes
}

struct Exchange {
  bool response_started = false;  // a response byte reached the client
  bool client_ok = false;         // the client connection may carry the next request
  bool upstream_ok = false;       // the stream may carry the next request to the same origin
};

// The request body, client -> stream: what `pending` holds first, then reads; bytes past the
// body stay in `pending` (a pipelined next request). False when the client or the stream
// failed before the body ended.
awaitable<bool> send_body(tcp::socket& sock, net::MuxStream& stream, http::BodyFraming framing,
                          Bytes& pending, bool& stop) {
  http::BodyTracker body(framing);
  std::array<std::uint8_t, kBufferSize> buf;
  for (;;) {
    if (!pending.empty() && !body.done()) {
      const auto step = body.put(pending);
      if (step.status == http::BodyTracker::Status::Error) co_return false;
      if (co_await stream.write_all(ByteView(pending.data(), step.consumed))) co_return false;
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(step.consumed));
    }
    if (body.done()) co_return true;
    if (stop) co_return false;
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), use_nothrow);
    if (ec || n == 0) {
      stream.close();  // the download ends too
      co_return false;
    }
    pending.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

// The response, stream -> client, forwarded as it arrives; interim 1xx heads pass through.
// `quiet_if_unanswered`: a stream that ends before any response byte is left for the caller
// to retry (no 502 sent).
awaitable<void> receive_response(tcp::socket& sock, net::MuxStream& stream, const http::RequestHead& req,
                                 bool quiet_if_unanswered, Exchange& ex) {
  http::ResponseParser parser;
  std::optional<http::BodyTracker> body;
  bool keep = false;
  Bytes head;
  std::array<std::uint8_t, kBufferSize> buf;
  for (;;) {
    const net::IoResult got = co_await stream.read_some(MutByteView(buf.data(), buf.size()));
    if (got.error || got.count == 0) {
      if (!ex.response_started && !quiet_if_unanswered) {
        // The origin closed without answering, or the tunnel stream failed.
        co_await write_to(sock, proxy_reply(502, "the origin closed the connection without a response",
                                            "connection_terminated"));
        ex.response_started = true;
      }
      // A close-delimited body ends here cleanly, anything else was cut short: either way the
      // client connection ends with the stream (client_ok stays false).
      co_return;
    }
    ByteView chunk(buf.data(), got.count);
    while (!chunk.empty()) {
      if (!body) {
        const auto step = parser.put(chunk);
        head.insert(head.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(step.consumed));
        chunk = chunk.subspan(step.consumed);
        if (step.status == http::ResponseParser::Status::NeedMore) continue;
        http::BodyFraming framing;
        if (step.status == http::ResponseParser::Status::Error ||
            http::response_body_framing(parser.head().headers, parser.head().status, req.method, framing) !=
                http::Errc::ok) {
          if (!ex.response_started) {
            co_await write_to(sock,
                              proxy_reply(502, "malformed response from the origin", "http_protocol_error"));
            ex.response_started = true;
          }
          co_return;
        }
        ex.response_started = true;
        if (co_await write_to(sock, head)) co_return;
        head.clear();
        if (parser.head().interim()) {
          parser.reset();
          continue;
        }
        if (parser.head().status == 101) framing = {http::BodyFraming::Kind::UntilClose, 0};
        keep = parser.head().keep_alive() && req.keep_alive() &&
               framing.kind != http::BodyFraming::Kind::UntilClose;
        body.emplace(framing);
      }
      const auto step = body->put(chunk);
      if (step.status == http::BodyTracker::Status::Error) co_return;
      if (co_await write_to(sock, chunk.first(step.consumed))) co_return;
      chunk = chunk.subspan(step.consumed);
      if (body->done()) {
        // Bytes after the response: the origin broke framing; that stream is not reused.
        ex.upstream_ok = keep && chunk.empty();
        ex.client_ok = keep;
        co_return;
      }
    }
  }
}

// One request/response on `stream`: head and body up, response down, concurrently (a client
// waiting for 100-continue, an origin answering before the body ended).
awaitable<Exchange> exchange(tcp::socket& sock, net::MuxStream& stream, const http::RequestHead& req,
                             Bytes& pending, bool quiet_if_unanswered) {
  Exchange ex;
  const std::string head = http::upstream_head(req);
  if (co_await stream.write_all(as_bytes(head))) {
    if (!quiet_if_unanswered) {
      co_await write_to(sock, proxy_reply(502, "the tunnel stream failed", "proxy_internal_error"));
      ex.response_started = true;
    }
    co_return ex;
  }
  bool body_ok = false;
  bool stop = false;
  auto up = [&]() -> awaitable<void> { body_ok = co_await send_body(sock, stream, req.body, pending, stop); };
  auto down = [&]() -> awaitable<void> {
    co_await receive_response(sock, stream, req, quiet_if_unanswered, ex);
    if (!body_ok) {
      // The response is complete (or failed) while the body is still coming: stop reading it.
      stop = true;
      ex.client_ok = false;
      ex.upstream_ok = false;
      std::error_code ignored;
      sock.cancel(ignored);
      stream.close();
    }
  };
  co_await (up() && down());
  if (!body_ok) {
    ex.client_ok = false;
    ex.upstream_ok = false;
  }
  co_return ex;
}

// Reads until `parser` holds a request head, from `pending` first; bytes after the head stay in
// `pending`. False when the connection must end: closed, timed out after `limit` (no reply), or
// a malformed head (answered with its status here).
awaitable<bool> read_head(asio::any_io_executor ex, tcp::socket& sock, http::RequestParser& parser,
                          Bytes& pending, std::chrono::milliseconds limit, const std::string& peer,
                          bool first_request) {
  net::Watchdog wd(ex, limit, [&sock] {
    std::error_code e;
    sock.close(e);
  });
  std::array<std::uint8_t, kBufferSize> buf;
  for (;;) {
    const auto step = parser.put(pending);
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(step.consumed));
    if (step.status == http::RequestParser::Status::Done) co_return true;
    if (step.status == http::RequestParser::Status::Error) {
      const std::string why = http::make_error_code(step.error).message();
      spdlog::debug("http {}: {}", peer, why);
      const std::string reply = proxy_reply(http::status_for(step.error), why);
      co_await write_to(sock, reply);
      co_return false;
    }
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), use_nothrow);
    if (ec || n == 0) {
      if (wd.expired()) {
        spdlog::debug("http {}: {}", peer, first_request ? "negotiation timeout" : "idle timeout");
      }
      co_return false;
    }
    pending.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

}  // namespace

awaitable<void> Socks5Front::serve_http(tcp::socket& sock, ByteView first, const std::string& peer,
                                        std::chrono::steady_clock::time_point head_deadline) {
  const auto alive = alive_;
  Bytes pending(first.begin(), first.end());
  std::optional<net::MuxStream> upstream;
  std::string upstream_key;
  const http::Credentials creds{opt_.auth.username, opt_.auth.password};
  for (bool first_request = true;; first_request = false) {
    http::RequestParser parser;
    // The first head within the negotiation timeout (from accept), later ones within the idle
    // timeout of a kept-alive connection.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        head_deadline - std::chrono::steady_clock::now());
    const auto limit = first_request ? std::max(left, std::chrono::milliseconds(1)) : kIdleTimeout;
    if (!co_await read_head(ex_, sock, parser, pending, limit, peer, first_request)) co_return;
    const http::RequestHead& req = parser.head();
    if (opt_.auth.requires_auth() && !http::proxy_authorized(req, creds)) {
      spdlog::debug("http {}: proxy authentication {}", peer,
                    http::find_header(req.headers, "Proxy-Authorization") ? "failed" : "missing");
      {
        const std::string reply = proxy_reply(407, "proxy authentication required");
        co_await write_to(sock, reply);
      }
      co_return;
    }
    const socks5::Address target = target_address(req);
    if (req.is_connect()) {
      upstream.reset();
      co_await http_connect(sock, target, pending);
      co_return;
    }
    for (int attempt = 0;; ++attempt) {
      const bool reused = upstream && upstream_key == req.authority;
      if (!reused) {
        upstream.reset();
        auto [code, stream] = co_await open_tunnel({socks5::Command::Connect, target});
        if (code != socks5::ReplyCode::Succeeded) {
          ++stats_.connect_failed;
          spdlog::info("HTTP {} {} failed: {}", req.method, target.to_string(), socks5::to_string(code));
          co_await write_to(sock, gateway_response(code, target.to_string()));
          co_return;
        }
        ++stats_.connect_ok;
        upstream.emplace(std::move(stream));
        upstream_key = req.authority;
      }
      spdlog::debug("http {}: {} {} via stream {}{}", peer, req.method, req.target, upstream->id(),
                    reused ? " (reused)" : "");
      // A kept stream whose origin went away before answering: once more on a new stream, when
      // nothing of the request body has to be sent again.
      const bool may_retry = reused && attempt == 0 && req.body.kind == http::BodyFraming::Kind::None;
      Exchange ex;
      {
        const ActiveCount relaying(stats_.active_relays, alive_);  // as a CONNECT relay
        ex = co_await exchange(sock, *upstream, req, pending, may_retry);
      }
      if (!*alive) co_return;  // this object was destroyed meanwhile (shutdown)
      if (!ex.upstream_ok) upstream.reset();
      if (may_retry && !ex.response_started) {
        spdlog::debug("http {}: kept stream to {} ended before a response; retrying on a new stream", peer,
                      req.authority);
        continue;
      }
      if (!ex.client_ok) co_return;
      break;
    }
  }
}

awaitable<void> Socks5Front::http_connect(tcp::socket& sock, const socks5::Address& target, ByteView early) {
  auto [code, stream] = co_await open_tunnel({socks5::Command::Connect, target});
  if (code != socks5::ReplyCode::Succeeded) {
    ++stats_.connect_failed;
    spdlog::info("HTTP CONNECT {} failed: {}", target.to_string(), socks5::to_string(code));
    co_await write_to(sock, gateway_response(code, target.to_string()));
    co_return;
  }
  ++stats_.connect_ok;
  spdlog::debug("HTTP CONNECT {} via stream {}", target.to_string(), stream.id());
  if (co_await write_to(sock, http::connect_established())) co_return;
  if (!early.empty() && co_await stream.write_all(early)) co_return;
  co_await relay_counted(sock, stream, {}, target);
}

}  // namespace paniq::app
