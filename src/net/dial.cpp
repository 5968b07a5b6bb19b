#include "net/dial.hpp"

#include <memory>
#include <string>
#include <vector>

#include "net/endpoint.hpp"
#include "net/watchdog.hpp"

namespace paniq::net {
namespace {

using Clock = std::chrono::steady_clock;

// Runs `resolver.async_resolve` bounded by `deadline`.
template <class Protocol>
awaitable<std::pair<std::error_code, std::vector<typename Protocol::endpoint>>> resolve_name(
    asio::any_io_executor ex, const socks5::Address& target, Clock::time_point deadline) {
  // Shared with the guard's handler, which may run after this frame is gone.
  auto resolver = std::make_shared<typename Protocol::resolver>(ex);
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer guard(ex, deadline);
  guard.async_wait([timed_out, resolver](std::error_code ec) {
    if (ec) return;
    *timed_out = true;
    resolver->cancel();
  });
  auto [ec, results] = co_await resolver->async_resolve(
      std::string(target.domain_name()), std::to_string(target.port()),
      Protocol::resolver::numeric_service, use_nothrow);
  guard.cancel();
  std::vector<typename Protocol::endpoint> eps;
  if (*timed_out) co_return std::pair{std::error_code(asio::error::timed_out), eps};
  if (ec) co_return std::pair{ec, eps};
  for (const auto& r : results) eps.push_back(r.endpoint());
  if (eps.empty()) co_return std::pair{std::error_code(asio::error::host_not_found), eps};
  co_return std::pair{std::error_code{}, eps};
}

// Alternates families, starting with the family of the first address.
std::vector<tcp::endpoint> interleave(const std::vector<tcp::endpoint>& in) {
  std::vector<tcp::endpoint> first, second, out;
  const bool v6_first = in.front().address().is_v6();
  for (const auto& e : in) (e.address().is_v6() == v6_first ? first : second).push_back(e);
  for (std::size_t i = 0; i < std::max(first.size(), second.size()); ++i) {
    if (i < first.size()) out.push_back(first[i]);
    if (i < second.size()) out.push_back(second[i]);
  }
  return out;
}

struct Race {
  explicit Race(asio::any_io_executor ex) : notify(std::move(ex)) {}
  asio::steady_timer notify;
  std::optional<tcp::socket> winner;
  std::error_code error;  // the latest failure
  std::size_t pending = 0;
  std::vector<std::shared_ptr<tcp::socket>> attempts;
};

awaitable<void> attempt(std::shared_ptr<Race> race, std::shared_ptr<tcp::socket> s,
                        tcp::endpoint ep) {
  auto [ec] = co_await s->async_connect(ep, use_nothrow);
  --race->pending;
  if (!ec && !race->winner) {
    race->winner.emplace(std::move(*s));
  } else if (!ec) {
    std::error_code ignored;
    s->close(ignored);  // lost the race
  } else if (ec != asio::error::operation_aborted) {
    race->error = ec;
  }
  race->notify.cancel();
}

void set_no_delay(tcp::socket& s) {
  std::error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
}

// One address (the common case: an IP target): no race, a coarse watchdog for the deadline.
awaitable<DialOutcome> dial_one(asio::any_io_executor ex, const tcp::endpoint& ep,
                                Clock::time_point deadline) {
  DialOutcome out;
  tcp::socket s(ex);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  Watchdog wd(ex, std::max(left, std::chrono::milliseconds(0)), [&s] {
    std::error_code ignored;
    s.close(ignored);
  });
  auto [ec] = co_await s.async_connect(ep, use_nothrow);
  wd.disarm();
  if (wd.expired()) ec = asio::error::timed_out;
  if (ec) {
    out.error = to_generic(ec);
    co_return out;
  }
  set_no_delay(s);
  out.socket.emplace(std::move(s));
  co_return out;
}

}  // namespace

awaitable<std::pair<std::error_code, std::vector<tcp::endpoint>>> resolve_tcp(
    asio::any_io_executor ex, const socks5::Address& target, DialClock::time_point deadline) {
  std::vector<tcp::endpoint> eps;
  if (auto ip = to_ip(target)) {
    eps.emplace_back(*ip, target.port());
    co_return std::pair{std::error_code{}, std::move(eps)};
  }
  auto [ec, found] = co_await resolve_name<tcp>(ex, target, deadline);
  if (ec) co_return std::pair{ec, std::move(eps)};
  co_return std::pair{std::error_code{}, interleave(found)};
}

awaitable<DialOutcome> dial(asio::any_io_executor ex, const socks5::Address& target,
                            std::chrono::milliseconds timeout, std::chrono::milliseconds stagger) {
  const auto deadline = Clock::now() + timeout;
  auto [ec, eps] = co_await resolve_tcp(ex, target, deadline);
  if (ec) {
    DialOutcome out;
    out.error = to_generic(ec);
    out.stage = DialOutcome::Stage::resolve;
    co_return out;
  }
  co_return co_await connect_any(ex, eps, deadline, stagger);
}

awaitable<DialOutcome> connect_any(asio::any_io_executor ex, const std::vector<tcp::endpoint>& eps,
                                   DialClock::time_point deadline, std::chrono::milliseconds stagger) {
  DialOutcome out;
  if (eps.empty()) {
    out.error = std::make_error_code(std::errc::host_unreachable);
    co_return out;
  }
  if (eps.size() == 1) co_return co_await dial_one(ex, eps.front(), deadline);
  auto race = std::make_shared<Race>(ex);
  std::size_t next = 0;
  auto next_launch = Clock::now();
  for (;;) {
    if (race->winner) break;
    const auto now = Clock::now();
    if (now >= deadline) {
      race->error = asio::error::timed_out;
      break;
    }
    if (next < eps.size() && (race->pending == 0 || now >= next_launch)) {
      auto s = std::make_shared<tcp::socket>(ex);
      race->attempts.push_back(s);
      ++race->pending;
      asio::co_spawn(ex, attempt(race, s, eps[next++]), asio::detached);
      next_launch = now + stagger;
      continue;
    }
    if (race->pending == 0) break;  // every address failed
    race->notify.expires_at(next < eps.size() ? std::min(deadline, next_launch) : deadline);
    co_await race->notify.async_wait(use_nothrow);
  }
  for (auto& s : race->attempts) {
    std::error_code ignored;
    if (s->is_open()) s->close(ignored);  // pending attempts complete with operation_aborted
  }
  if (race->winner) {
    set_no_delay(*race->winner);
    out.socket.emplace(std::move(*race->winner));
    race->winner.reset();
    co_return out;
  }
  out.error = to_generic(race->error ? race->error : std::error_code(asio::error::host_unreachable));
  co_return out;
}

awaitable<std::pair<std::error_code, std::vector<udp::endpoint>>> resolve_udp_all(
    asio::any_io_executor ex, const socks5::Address& target, std::chrono::milliseconds timeout) {
  if (auto ip = to_ip(target)) {
    co_return std::pair{std::error_code{}, std::vector<udp::endpoint>{udp::endpoint(*ip, target.port())}};
  }
  co_return co_await resolve_name<udp>(ex, target, Clock::now() + timeout);
}

awaitable<std::pair<std::error_code, udp::endpoint>> resolve_udp(asio::any_io_executor ex,
                                                                  const socks5::Address& target,
                                                                  std::chrono::milliseconds timeout) {
  if (auto ip = to_ip(target)) co_return std::pair{std::error_code{}, udp::endpoint(*ip, target.port())};
  auto [ec, eps] = co_await resolve_name<udp>(ex, target, Clock::now() + timeout);
  if (ec) co_return std::pair{ec, udp::endpoint{}};
  co_return std::pair{std::error_code{}, eps.front()};
}

}  // namespace paniq::net
