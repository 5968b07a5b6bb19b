// net/dial: resolution and happy-eyeballs connects against local listeners. The fallback
// between families needs a name with an IPv4 and an IPv6 address; localhost may have only one
// (it has only 127.0.0.1 on the CI machine), so those tests give a forked child its own
// /etc/hosts (a private mount namespace; inside a user namespace when not root) in which
// dual.paniq.test is both ::1 and 127.0.0.1. Every connection stays on loopback.
#include "net/dial.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/endpoint.hpp"
#include "net_test_util.hpp"

namespace paniq::net {
namespace {

using namespace std::chrono_literals;

socks5::Address ip_target(const char* ip, std::uint16_t port) {
  return to_socks_address(asio::ip::make_address(ip), port);
}

// ------------------------------------------------------------------------------------------------
// A name with both families, through a private /etc/hosts

constexpr const char* kDualName = "dual.paniq.test";
constexpr const char* kDualHosts = "127.0.0.1 localhost\n::1 dual.paniq.test\n127.0.0.1 dual.paniq.test\n";

bool write_text(const char* path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  return static_cast<bool>(f.flush());
}

// Runs `body` in a forked child that sees `hosts` as /etc/hosts. Returns what the child
// reports: "" = passed, "SKIP: <why>" when the namespace cannot be made here, else the
// failures. The child is bounded (30 s, then SIGKILL); the hosts file is removed.
std::string with_hosts_file(const std::string& hosts, const std::function<std::string()>& body) {
  char path[] = "/tmp/paniq-dial-hosts-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return std::string("SKIP: mkstemp: ") + std::strerror(errno);
  const bool written = ::write(fd, hosts.data(), hosts.size()) == static_cast<ssize_t>(hosts.size());
  ::fchmod(fd, 0644);
  ::close(fd);
  int pipefd[2];
  if (!written || ::pipe(pipefd) != 0) {
    ::unlink(path);
    return "SKIP: cannot write the hosts file or make a pipe";
  }
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    const std::string out = [&]() -> std::string {
      if (::unshare(CLONE_NEWNS | (uid == 0 ? 0 : CLONE_NEWUSER)) != 0) {
        return std::string("SKIP: unshare (mount namespace): ") + std::strerror(errno);
      }
      if (uid != 0 && !(write_text("/proc/self/setgroups", "deny") &&
                        write_text("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
                        write_text("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))) {
        return "SKIP: cannot map the user namespace";
      }
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          ::mount(path, "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) {
        return std::string("SKIP: bind mount over /etc/hosts: ") + std::strerror(errno);
      }
      try {
        return body();
      } catch (const std::exception& e) {
        return std::string("exception: ") + e.what();
      }
    }();
    std::size_t off = 0;
    while (off < out.size()) {
      const ssize_t n = ::write(pipefd[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  bool timed_out = pid < 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (pid > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{pipefd[0], POLLIN, 0};
    if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
      timed_out = true;
      break;
    }
    char buf[4096];
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  if (pid > 0) {
    if (timed_out) ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ::unlink(path);
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (timed_out) return "the child did not finish within 30 s";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "the child died (status " + std::to_string(status) + ") " + out;
  }
  return out;
}

#define EXPECT_CHILD_PASSES(result)                                   \
  do {                                                                \
    const std::string r_ = (result);                                  \
    if (r_.rfind("SKIP: ", 0) == 0) GTEST_SKIP() << r_.substr(6);     \
    EXPECT_EQ(r_, "");                                                \
  } while (false)

// What a port of one family does in these tests.
enum class Role { listens, refuses, silent };

// A TCP port P on 127.0.0.1 and on [::1], each with its role: `listens` accepts (the kernel
// completes the handshake), `refuses` is bound without listening (a SYN gets a reset), `silent`
// is a listener whose accept queue is full (SYNs are dropped: the connect never completes).
class DualPort {
 public:
  DualPort(asio::io_context& io, Role v4, Role v6) : a4_(io), a6_(io) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      std::error_code ec;
      a6_.open(tcp::v6(), ec);
      if (!ec) a6_.bind(tcp::endpoint(asio::ip::make_address("::1"), 0), ec);
      if (ec) throw std::runtime_error("bind [::1]:0: " + ec.message());
      port_ = a6_.local_endpoint().port();
      a4_.open(tcp::v4(), ec);
      if (!ec) a4_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
      if (!ec) break;
      a4_.close(ec);
      a6_.close(ec);
      port_ = 0;
    }
    if (port_ == 0) throw std::runtime_error("no port free on both 127.0.0.1 and [::1]");
    set_up(a4_, v4, "127.0.0.1");
    set_up(a6_, v6, "::1");
  }
  ~DualPort() {
    for (const int fd : fillers_) ::close(fd);
  }
  std::uint16_t port() const { return port_; }

 private:
  void set_up(tcp::acceptor& a, Role role, const char* ip) {
    if (role == Role::refuses) return;
    a.listen(role == Role::silent ? 0 : 16);
    if (role == Role::silent) fill(ip);
  }
  // Connects until one connect does not complete within 300 ms: the queue is full.
  void fill(const char* ip) {
    const tcp::endpoint ep(asio::ip::make_address(ip), port_);
    for (int i = 0; i < 16; ++i) {
      const int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK, 0);
      fillers_.push_back(fd);
      ::connect(fd, ep.data(), static_cast<socklen_t>(ep.size()));
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 300) == 0) return;
    }
    throw std::runtime_error(std::string("could not fill the accept queue on ") + ip);
  }

  tcp::acceptor a4_, a6_;
  std::uint16_t port_ = 0;
  std::vector<int> fillers_;
};

struct DualDial {
  std::string failure;       // resolution did not give both families
  bool v6_first = false;     // the resolver's (and so the dial's) first family
  bool connected = false;    // the dial's outcome (its socket closed with the io_context)
  bool connected_v6 = false;
  std::string remote;
  std::error_code error;
  DialOutcome::Stage stage = DialOutcome::Stage::connect;
  std::chrono::milliseconds took{0};
};

// Resolves kDualName (must be [one family, the other]), sets up a DualPort with the roles of
// the first and the second family, dials the name and reports.
DualDial dial_dual(Role first, Role second, std::chrono::milliseconds stagger,
                   std::chrono::milliseconds timeout) {
  DualDial r;
  asio::io_context io;
  auto name = socks5::Address::domain(kDualName, 9);
  std::vector<tcp::endpoint> eps;
  test::run_coroutine(io, [&]() -> awaitable<void> {
    auto [ec, found] = co_await resolve_tcp(io.get_executor(), *name, DialClock::now() + 5s);
    if (ec) r.failure = "resolve " + std::string(kDualName) + ": " + ec.message();
    eps = std::move(found);
  });
  if (!r.failure.empty()) return r;
  if (eps.size() != 2 || eps[0].address().is_v6() == eps[1].address().is_v6()) {
    r.failure = std::string(kDualName) + " did not resolve to one address of each family:";
    for (const auto& e : eps) r.failure.append(" ").append(to_string(e));
    return r;
  }
  r.v6_first = eps[0].address().is_v6();
  DualPort port(io, r.v6_first ? second : first, r.v6_first ? first : second);
  auto target = socks5::Address::domain(kDualName, port.port());
  const auto t0 = std::chrono::steady_clock::now();
  DialOutcome d;
  test::run_coroutine(io, [&]() -> awaitable<void> {
    d = co_await dial(io.get_executor(), *target, timeout, stagger);
  });
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  r.error = d.error;
  r.stage = d.stage;
  if (d.socket) {
    std::error_code ec;
    const auto remote = d.socket->remote_endpoint(ec);
    if (ec) throw std::runtime_error("remote_endpoint: " + ec.message());
    r.connected = true;
    r.connected_v6 = unmap(remote.address()).is_v6();
    r.remote = to_string(remote);
  }
  return r;
}

// "" when `d` connected to the family asked for (`to_first`), else why not.
std::string connected_to(const DualDial& d, bool to_first) {
  if (!d.failure.empty()) return d.failure;
  if (!d.connected) return "dial failed: " + d.error.message();
  if (d.connected_v6 != (to_first ? d.v6_first : !d.v6_first)) {
    return std::string("connected to the ") + (to_first ? "second" : "first") + " family (" +
           d.remote + ")";
  }
  return "";
}

TEST(Dial, ConnectsToAnIPv4Listener) {
  asio::io_context io;
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  DialOutcome d;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    d = co_await dial(io.get_executor(), ip_target("127.0.0.1", acc.local_endpoint().port()), 2s);
  }));
  ASSERT_TRUE(d.socket) << d.error.message();
  EXPECT_EQ(d.socket->remote_endpoint().port(), acc.local_endpoint().port());
  EXPECT_TRUE(d.socket->is_open());
}

TEST(Dial, RefusedPortReportsConnectionRefused) {
  asio::io_context io;
  std::uint16_t port;
  {
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = acc.local_endpoint().port();
  }  // closed again: nothing listens there now
  DialOutcome d;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    d = co_await dial(io.get_executor(), ip_target("127.0.0.1", port), 2s);
  }));
  EXPECT_FALSE(d.socket);
  EXPECT_EQ(d.stage, DialOutcome::Stage::connect);
  EXPECT_EQ(d.error, std::errc::connection_refused) << d.error.message();
}

TEST(Dial, LocalhostNameConnects) {
  // A name through the system resolver (localhost: 127.0.0.1, and also ::1 where the hosts file
  // says so; the family fallback itself is tested with dual.paniq.test below).
  asio::io_context io;
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto target = socks5::Address::domain("localhost", acc.local_endpoint().port());
  ASSERT_TRUE(target);
  DialOutcome d;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    d = co_await dial(io.get_executor(), *target, 3s);
  }));
  ASSERT_TRUE(d.socket) << d.error.message();
  EXPECT_EQ(unmap(d.socket->remote_endpoint().address()), asio::ip::make_address("127.0.0.1"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(Dial, UnresolvableNameFailsAtResolve) {
  asio::io_context io;
  auto target = socks5::Address::domain("no-such-host.invalid", 80);
  ASSERT_TRUE(target);
  DialOutcome d;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    d = co_await dial(io.get_executor(), *target, 3s);
  }));
  EXPECT_FALSE(d.socket);
  EXPECT_EQ(d.stage, DialOutcome::Stage::resolve);
  EXPECT_TRUE(d.error);
}

TEST(Dial, ResolveUdpKeepsIpTargets) {
  asio::io_context io;
  std::pair<std::error_code, udp::endpoint> r;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    r = co_await resolve_udp(io.get_executor(), ip_target("::1", 53), 1s);
  }));
  EXPECT_FALSE(r.first);
  EXPECT_EQ(r.second, udp::endpoint(asio::ip::make_address("::1"), 53));
}

TEST(Dial, DualStackNameResolvesToBothFamiliesInterleaved) {
  EXPECT_CHILD_PASSES(with_hosts_file(kDualHosts, [] {
    asio::io_context io;
    auto name = socks5::Address::domain(kDualName, 443);
    std::pair<std::error_code, std::vector<tcp::endpoint>> r;
    test::run_coroutine(io, [&]() -> awaitable<void> {
      r = co_await resolve_tcp(io.get_executor(), *name, DialClock::now() + 5s);
    });
    if (r.first) return "resolve: " + r.first.message();
    std::string got;
    for (const auto& e : r.second) got.append(" ").append(to_string(e));
    if (r.second.size() != 2 || r.second[0].address().is_v6() == r.second[1].address().is_v6()) {
      return "want one address of each family, got" + got;
    }
    for (const auto& e : r.second) {
      if (!e.address().is_loopback() || e.port() != 443) return "unexpected address in" + got;
    }
    return std::string();
  }));
}

TEST(Dial, DualStackNameFallsBackAtOnceWhenTheFirstFamilyRefuses) {
  // The first family's port is closed (reset), the second's listens: the second family is
  // tried as soon as the first failed, not after the (here 5 s) stagger.
  EXPECT_CHILD_PASSES(with_hosts_file(kDualHosts, [] {
    const DualDial d = dial_dual(Role::refuses, Role::listens, 5s, 8s);
    if (auto why = connected_to(d, false); !why.empty()) return why;
    if (d.took >= 2500ms) return "took " + std::to_string(d.took.count()) + " ms: waited for the stagger";
    return std::string();
  }));
}

TEST(Dial, DualStackNameFallsBackAfterTheStaggerWhenTheFirstFamilyIsSilent) {
  // The first family's connect never completes (full accept queue): the second family starts
  // after the stagger (200 ms) and wins, well before the 6 s timeout.
  EXPECT_CHILD_PASSES(with_hosts_file(kDualHosts, [] {
    const DualDial d = dial_dual(Role::silent, Role::listens, 200ms, 6s);
    if (auto why = connected_to(d, false); !why.empty()) return why;
    if (d.took < 180ms) return "took " + std::to_string(d.took.count()) + " ms: did not wait for the stagger";
    if (d.took >= 4s) return "took " + std::to_string(d.took.count()) + " ms: ran into the timeout";
    return std::string();
  }));
}

TEST(Dial, DualStackNamePrefersTheFirstFamilyWhenItAnswers) {
  EXPECT_CHILD_PASSES(with_hosts_file(kDualHosts, [] {
    const DualDial d = dial_dual(Role::listens, Role::listens, 250ms, 5s);
    return connected_to(d, true);
  }));
}

TEST(Dial, DualStackNameWithBothFamiliesRefusedReportsConnectionRefused) {
  EXPECT_CHILD_PASSES(with_hosts_file(kDualHosts, [] {
    const DualDial d = dial_dual(Role::refuses, Role::refuses, 250ms, 5s);
    if (!d.failure.empty()) return d.failure;
    if (d.connected) return "connected to " + d.remote + " where nobody listens";
    if (d.stage != DialOutcome::Stage::connect || d.error != std::errc::connection_refused) {
      return "want connect / connection refused, got " + d.error.message();
    }
    return std::string();
  }));
}

}  // namespace
}  // namespace paniq::net
