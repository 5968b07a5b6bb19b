// wan_delay: one direction of an emulated WAN path on an NFQUEUE (for bench/wan/bench-wan.sh,
// on kernels without netem). Every packet the queue sees is dropped with probability --loss, or
// held for --delay-ms + U[-jitter, +jitter] ms and accepted then, but never before the packet
// queued ahead of it: jitter without reordering, like queueing delay on a real path.
//
// usage: wan_delay --queue N --delay-ms D [--jitter-ms J] [--loss P] [--seed S] [--maxlen N]
//
// Single thread: ppoll() on the netlink socket with a timeout at the next release (nanosecond
// CLOCK_MONOTONIC), no busy loop. Verdicts go out by packet id, drops at once, so not in id
// order. Fail-open is off (a full queue drops, as a router would). Only the IP header is copied
// from the kernel: the library's API has no packet length in meta-only mode, and the header has it.
// SIGUSR1 prints the counters as one JSON line; SIGTERM / SIGINT print them and exit 0.
// glibc's headers before the kernel's (linux/in.h defers to netinet/in.h only in this order).
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <string_view>

namespace {

constexpr int kHeaderCopy = 40;            // bytes of each packet copied: an IPv6 header
constexpr int kSocketBuffer = 16 << 20;    // netlink receive buffer, bytes

struct Options {
  int queue = -1;
  double delay_ms = -1;
  double jitter_ms = 0;
  double loss = 0;
  std::uint64_t seed = 1;
  std::uint32_t maxlen = 200000;
};

struct Counters {
  std::uint64_t seen_packets = 0, seen_bytes = 0;
  std::uint64_t dropped_packets = 0, dropped_bytes = 0;
  std::uint64_t passed_packets = 0, passed_bytes = 0;
  std::uint64_t max_held = 0, recv_errors = 0, verdict_errors = 0;
};

struct Held {
  std::uint32_t id;
  std::uint32_t bytes;
  std::int64_t due_ns;
};

struct State {
  Options opt;
  Counters n;
  std::deque<Held> held;  // due times never decrease along the deque
  std::int64_t last_due_ns = 0;
  std::mt19937_64 rng;
  nfq_q_handle* qh = nullptr;
};

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_dump = 0;

void on_signal(int sig) {
  if (sig == SIGUSR1) {
    g_dump = 1;
  } else {
    g_stop = 1;
  }
}

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "wan_delay: %s\nusage: wan_delay --queue N --delay-ms D [--jitter-ms J] "
                       "[--loss P] [--seed S] [--maxlen N]\n", msg.c_str());
  std::exit(2);
}

template <typename T>
T parse_number(std::string_view flag, std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    usage_error(std::string(flag) + ": \"" + std::string(text) + "\" is not a number");
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      usage_error(std::string(flag) + ": missing value");
    }
    std::string_view v = argv[++i];
    if (flag == "--queue") {
      o.queue = parse_number<int>(flag, v);
    } else if (flag == "--delay-ms") {
      o.delay_ms = parse_number<double>(flag, v);
    } else if (flag == "--jitter-ms") {
      o.jitter_ms = parse_number<double>(flag, v);
    } else if (flag == "--loss") {
      o.loss = parse_number<double>(flag, v);
    } else if (flag == "--seed") {
      o.seed = parse_number<std::uint64_t>(flag, v);
    } else if (flag == "--maxlen") {
      o.maxlen = parse_number<std::uint32_t>(flag, v);
    } else {
      usage_error("unknown flag " + std::string(flag));
    }
  }
  if (o.queue < 0 || o.queue > 65535) {
    usage_error("--queue: " + std::to_string(o.queue) + ": required, 0..65535");
  }
  if (!(o.delay_ms >= 0)) {
    usage_error("--delay-ms: required, >= 0");
  }
  if (!(o.jitter_ms >= 0) || o.jitter_ms > o.delay_ms) {
    usage_error("--jitter-ms: " + std::to_string(o.jitter_ms) + ": must be 0..delay");
  }
  if (!(o.loss >= 0 && o.loss <= 1)) {
    usage_error("--loss: " + std::to_string(o.loss) + ": must be a probability 0..1");
  }
  if (o.maxlen == 0) {
    usage_error("--maxlen: must be above 0");
  }
  return o;
}

// Length of the IP packet from its header (IPv4 total length, IPv6 payload length + 40);
// 0 when the copied bytes are not an IP header.
std::uint32_t ip_length(const unsigned char* p, int len) {
  if (len >= 20 && (p[0] >> 4) == 4) {
    return (std::uint32_t{p[2]} << 8) | p[3];
  }
  if (len >= 40 && (p[0] >> 4) == 6) {
    return ((std::uint32_t{p[4]} << 8) | p[5]) + 40;
  }
  return 0;
}

void verdict(State& s, std::uint32_t id, std::uint32_t what) {
  if (nfq_set_verdict(s.qh, id, what, 0, nullptr) < 0) {
    ++s.n.verdict_errors;
  }
}

int on_packet(nfq_q_handle*, nfgenmsg*, nfq_data* nfa, void* data) {
  auto& s = *static_cast<State*>(data);
  const nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == nullptr) {
    return 0;
  }
  const std::uint32_t id = ntohl(ph->packet_id);
  unsigned char* payload = nullptr;
  const int copied = nfq_get_payload(nfa, &payload);
  const std::uint32_t bytes = copied > 0 ? ip_length(payload, copied) : 0;
  ++s.n.seen_packets;
  s.n.seen_bytes += bytes;
  if (s.opt.loss > 0 && std::uniform_real_distribution<double>(0, 1)(s.rng) < s.opt.loss) {
    ++s.n.dropped_packets;
    s.n.dropped_bytes += bytes;
    verdict(s, id, NF_DROP);
    return 0;
  }
  double ms = s.opt.delay_ms;
  if (s.opt.jitter_ms > 0) {
    ms += std::uniform_real_distribution<double>(-s.opt.jitter_ms, s.opt.jitter_ms)(s.rng);
  }
  std::int64_t due = now_ns() + static_cast<std::int64_t>(ms * 1e6);
  if (due < s.last_due_ns) {
    due = s.last_due_ns;  // order-preserving: never ahead of the packet before
  }
  s.last_due_ns = due;
  s.held.push_back({id, bytes, due});
  if (s.held.size() > s.n.max_held) {
    s.n.max_held = s.held.size();
  }
  return 0;
}

void release_due(State& s, std::int64_t now) {
  while (!s.held.empty() && s.held.front().due_ns <= now) {
    ++s.n.passed_packets;
    s.n.passed_bytes += s.held.front().bytes;
    verdict(s, s.held.front().id, NF_ACCEPT);
    s.held.pop_front();
  }
}

void print_counters(const State& s) {
  const Counters& n = s.n;
  std::printf("{\"queue\":%d,\"delay_ms\":%g,\"jitter_ms\":%g,\"loss\":%g,\"seen_packets\":%llu,"
              "\"seen_bytes\":%llu,\"dropped_packets\":%llu,\"dropped_bytes\":%llu,"
              "\"passed_packets\":%llu,\"passed_bytes\":%llu,\"held\":%zu,\"max_held\":%llu,"
              "\"recv_errors\":%llu,\"verdict_errors\":%llu}\n",
              s.opt.queue, s.opt.delay_ms, s.opt.jitter_ms, s.opt.loss,
              static_cast<unsigned long long>(n.seen_packets),
              static_cast<unsigned long long>(n.seen_bytes),
              static_cast<unsigned long long>(n.dropped_packets),
              static_cast<unsigned long long>(n.dropped_bytes),
              static_cast<unsigned long long>(n.passed_packets),
              static_cast<unsigned long long>(n.passed_bytes), s.held.size(),
              static_cast<unsigned long long>(n.max_held),
              static_cast<unsigned long long>(n.recv_errors),
              static_cast<unsigned long long>(n.verdict_errors));
  std::fflush(stdout);
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "wan_delay: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// Blocks the stop / dump signals outside ppoll, so a signal can only land while waiting.
sigset_t install_signals() {
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigset_t block;
  sigemptyset(&block);
  for (int sig : {SIGTERM, SIGINT, SIGUSR1}) {
    sigaction(sig, &sa, nullptr);
    sigaddset(&block, sig);
  }
  sigset_t old;
  sigprocmask(SIG_BLOCK, &block, &old);
  return old;
}

}  // namespace

int main(int argc, char** argv) {
  State s;
  s.opt = parse_options(argc, argv);
  s.rng.seed(s.opt.seed);
  const sigset_t wait_mask = install_signals();

  nfq_handle* h = nfq_open();
  if (h == nullptr) {
    fail("nfq_open (root and the nfnetlink_queue module are needed)");
  }
  nfq_unbind_pf(h, AF_INET);  // old kernels want a bind per family; newer ignore both calls
  nfq_bind_pf(h, AF_INET);
  s.qh = nfq_create_queue(h, static_cast<std::uint16_t>(s.opt.queue), &on_packet, &s);
  if (s.qh == nullptr) {
    fail("--queue: nfq_create_queue (is another program bound to it?)");
  }
  if (nfq_set_mode(s.qh, NFQNL_COPY_PACKET, kHeaderCopy) < 0) {
    fail("nfq_set_mode");
  }
  if (nfq_set_queue_maxlen(s.qh, s.opt.maxlen) < 0) {
    fail("--maxlen: nfq_set_queue_maxlen");
  }
  if (nfq_set_queue_flags(s.qh, NFQA_CFG_F_FAIL_OPEN, 0) < 0) {
    fail("nfq_set_queue_flags (fail-open off)");
  }
  nfnl_rcvbufsiz(nfq_nfnlh(h), kSocketBuffer);
  const int fd = nfq_fd(h);

  alignas(8) static char buf[1 << 16];
  while (!g_stop) {
    if (g_dump) {
      g_dump = 0;
      print_counters(s);
    }
    timespec timeout{};
    timespec* tp = nullptr;
    if (!s.held.empty()) {
      const std::int64_t wait = s.held.front().due_ns - now_ns();
      if (wait > 0) {
        timeout.tv_sec = wait / 1'000'000'000;
        timeout.tv_nsec = wait % 1'000'000'000;
      }
      tp = &timeout;
    }
    pollfd pfd{fd, POLLIN, 0};
    const int ready = ppoll(&pfd, 1, tp, &wait_mask);
    if (ready < 0 && errno != EINTR) {
      fail("ppoll");
    }
    if (ready > 0) {
      // Drain what is queued without blocking, then release what is due.
      for (int i = 0; i < 256; ++i) {
        const ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got < 0) {
          if (errno == ENOBUFS) {
            ++s.n.recv_errors;  // the kernel dropped messages: those packets are lost
            continue;
          }
          break;
        }
        nfq_handle_packet(h, buf, static_cast<int>(got));
      }
    }
    release_due(s, now_ns());
  }
  print_counters(s);
  nfq_destroy_queue(s.qh);  // the kernel drops what is still held
  nfq_close(h);
  return 0;
}
