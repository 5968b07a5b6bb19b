// LINK: paniq_tunnel
// ServerEndpoint fed by a script of datagrams from a few peers: raw bytes, valid Initiations,
// transport frames aimed at live sessions (so arbitrary bytes reach KCP and smux), and clock
// jumps. Checks: no crash, memory bounded by the caps, and silence unless an Initiation was
// accepted (nothing is ever sent in reply to garbage alone). Plain sessions are created by the
// first transport on a Response's conv (the script learns convs from Responses).
// The first input byte selects the mode: even = the reference's relaxed server; odd = the
// authenticated policy of issue #6 (MAC1, encrypted timestamp, signatures, skew, replay, rate
// limit, transport replay window), fed also with preamble signatures, authenticated
// Initiations (fresh, replayed, bit-flipped) and transport with counters. Extra checks there:
// no session without a valid authenticated Initiation, at most two sessions per such
// Initiation (a late retransmission moves its answer to a conv of the current time bucket, and
// both convs verify for a while), and the policy's tables within their capacities.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "envelope/handshake.hpp"
#include "envelope/transport.hpp"
#include "obf/framer.hpp"
#include "tunnel/policy.hpp"
#include "tunnel/server.hpp"

using namespace paniq;
using namespace paniq::tunnel;

namespace {

constexpr std::int64_t kEpoch = 1'700'000'000;

obf::Config obf_config(bool auth) {
  obf::Config c;  // tests/vectors/wire-example.json
  c.s = {3, 2, 0, 1};
  c.h = {{{100, 199}, {200, 200}, {300, 399}, {1000, 1999}}};
  if (auth) {
    c.i[0] = "<b 0xf00d><t>";
    c.i[2] = "<rd 3>";
  }
  return c;
}

const crypto::Key32& server_key() {
  static const crypto::Key32 k = [] {
    crypto::Key32 x{};
    x.fill(0x5c);
    return x;
  }();
  return k;
}

AuthConfig auth_config() {
  AuthConfig a;
  a.server_private_key = server_key();
  a.signature_validate = true;
  a.require_timestamp = true;
  a.require_encrypted_timestamp = true;
  a.skew_soft_seconds = 15;
  a.skew_hard_seconds = 30;
  a.replay_window_seconds = 30;
  a.replay_cache_size = 32;
  a.rate_limit_pps = 20;
  a.rate_limit_burst = 10;
  a.preamble_table_size = 4;
  a.rate_table_size = 4;
  a.log_per_second = 2;
  return a;
}

ServerConfig server_config(bool auth) {
  ServerConfig c;
  c.link.padding = envelope::PaddingPolicy::enabled_defaults();
  envelope::SizeInputs in;
  in.s4 = 1;
  in.transport_replay = auth;
  in.padding = c.link.padding;
  c.link.sizes = envelope::derive_sizes(in);
  c.link.kcp = kcp::Config::reference(0, c.link.sizes.kcp_mtu, 10, 256, 256, 256);
  c.link.mux = mux::Config::server_defaults();
  c.link.mux.keepalive_interval_ms = 0;
  c.link.liveness.enabled = false;
  c.max_sessions = 8;
  c.max_sessions_per_host = 4;
  c.idle_timeout_ms = 5000;
  c.half_open_timeout_ms = 2000;
  c.max_response_repeats = 2;
  c.response_budget.source_slots = 64;  // small tables: one endpoint per input
  c.response_budget.prefix_slots = 16;
  if (auth) {
    c.link.transport_replay = true;
    c.link.transport_replay_window = 64;
    c.auth = auth_config();
  }
  return c;
}

const obf::Framer& framer(bool auth) {
  static const obf::Framer relaxed = *obf::Framer::create(obf_config(false));
  static const obf::Framer strict = *obf::Framer::create(obf_config(true));
  return auth ? strict : relaxed;
}

WallTime wall_at(TimeMs now) { return WallTime{kEpoch + static_cast<std::int64_t>(now / 1000), 0}; }

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  ByteView take(std::size_t want) {
    const std::size_t k = want < n ? want : n;
    ByteView v(p, k);
    p += k;
    n -= k;
    return v;
  }
};

// Serves the streams the fuzzer opens: reads everything, echoes a little back.
void serve(ServerEndpoint& server, TimeMs now) {
  std::uint8_t buf[2048];
  while (auto e = server.poll_event()) {
    if (e->kind != ServerEventKind::StreamOpened && e->kind != ServerEventKind::Readable) continue;
    mux::Session* m = server.mux(e->session);
    if (m == nullptr) continue;
    for (int i = 0; i < 64; ++i) {
      auto r = m->read(e->stream, buf);
      if (!r || *r == 0) break;
      (void)m->write(e->stream, ByteView(buf, *r > 16 ? 16 : *r), now);
    }
  }
}

// One run: the server, what the script built, and what came back.
struct Run {
  Run(bool auth_, std::size_t seed)
      : auth(auth_), rng(seed), fr(framer(auth_)), server(server_config(auth_), fr, rng) {
    client_auth.server_public = crypto::x25519_public(server_key());
  }

  bool auth;
  SeededRng rng;
  const obf::Framer& fr;
  ServerEndpoint server;
  envelope::InitiationAuth client_auth;
  TimeMs now = 0;
  std::uint64_t out_bytes = 0;
  std::vector<std::uint32_t> convs = std::vector<std::uint32_t>(4, 0);  // per peer index
  std::vector<std::uint64_t> counters = std::vector<std::uint64_t>(4, 0);
  std::vector<Bytes> valid;  // authenticated Initiations built so far
  Bytes buf;

  void send(const PeerAddr& peer, ByteView d) { server.handle_datagram(peer, d, now, wall_at(now)); }

  // A transport frame for this peer's last conv: [counter] u16 len || conv || fuzz bytes; the
  // counter mostly the next one, sometimes an old one the fuzzer picks.
  void transport(std::uint8_t who, const PeerAddr& peer, ByteView body) {
    const std::size_t hdr = envelope::header_len(auth);
    buf.assign(hdr + 4, 0);
    if (auth) {
      const std::uint64_t c = !body.empty() && body[0] < 64 ? body[0] : counters[who]++;
      put_u64_be(buf.data(), c);
    }
    put_u32_le(buf.data() + hdr, convs[who]);
    buf.insert(buf.end(), body.begin(), body.end());
    put_u16_be(buf.data() + hdr - 2, static_cast<std::uint16_t>(buf.size() - hdr));
    send(peer, fr.encode(obf::MessageType::Transport, buf, rng));
  }

  void op(std::uint8_t kind, std::uint8_t who, const PeerAddr& peer, std::size_t len, ByteView body) {
    const std::int64_t off = body.empty() ? 0 : static_cast<std::int8_t>(body[0]);
    const std::int64_t secs = wall_at(now).seconds;
    switch (kind % (auth ? 8 : 4)) {
      case 0: send(peer, body); break;
      case 1: send(peer, fr.encode(obf::MessageType::Initiation, body, rng)); break;
      case 2: transport(who, peer, body); break;
      case 3:
        now += body.empty() ? 1 : body[0] * 64u;
        server.handle_timeout(now);
        break;
      case 4:  // the signature datagrams, <t> at a fuzz-chosen offset from the server clock
        for (const Bytes& sig : fr.signatures(static_cast<std::uint32_t>(secs + off), rng)) send(peer, sig);
        break;
      case 5: {  // a fresh authenticated Initiation, dated at a fuzz-chosen offset
        auto init = envelope::build_initiation(fr, rng, client_auth, WallTime{secs + off, 0});
        if (!init) std::abort();
        valid.push_back(*init);
        send(peer, *init);
        break;
      }
      case 6:  // a replay of an earlier one
        if (!valid.empty()) send(peer, valid[len % valid.size()]);
        break;
      default:  // an earlier one with one bit changed
        if (!valid.empty()) {
          Bytes d = valid[len % valid.size()];
          d[(body.empty() ? 0 : body[0]) % d.size()] ^= static_cast<std::uint8_t>(1u << (len % 8));
          send(peer, d);
        }
        break;
    }
  }

  // Flush, serve streams, take what is sent (learning convs from Responses), check bounds.
  void settle() {
    server.flush(now);
    serve(server, now);
    server.flush(now);
    for (const ServerTransmit& t : server.transmit()) {
      out_bytes += t.data.size();
      const auto c = fr.classify(t.data);
      if (!c) std::abort();  // everything we send classifies
      if (c->type == obf::MessageType::Response && c->payload.size() == 4) {
        const std::size_t idx = t.peer.family == PeerAddr::Family::v6 ? 3 : t.peer.addr[3];
        if (idx < 4) {
          convs[idx] = get_u32_le(c->payload.data());
          counters[idx] = 0;
        }
      }
    }
    server.consume_transmit(SIZE_MAX);
    while (server.poll_policy_log()) {
    }
    if (server.session_count() > 8) std::abort();
    if (auth) {
      const auto& pol = dynamic_cast<const AuthPolicy&>(server.policy());
      if (pol.preamble().size() > 4 || pol.rate_limiter().size() > 4) std::abort();
      if (pol.replay_cache().size() > 32) std::abort();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Run run((data[0] & 1) != 0, size);
  Reader in{data + 1, size - 1};
  for (int op = 0; op < 256 && in.n > 0; ++op) {
    const std::uint8_t kind = in.byte();
    const std::uint8_t who = in.byte() % 4;
    const PeerAddr peer = who == 3 ? PeerAddr::v6({0x20, 0x01, 0x0d, 0xb8}, 443)
                                   : PeerAddr::v4({10, 0, 0, static_cast<std::uint8_t>(who)}, 7);
    const std::size_t len = in.byte() * 8u + (in.byte() & 7u);
    run.op(kind, who, peer, len, in.take(len));
    run.settle();
  }
  const ServerStats& s = run.server.stats();
  if (run.out_bytes > 0 && s.sessions_created == 0 && s.initiations_answered == 0) {
    std::abort();  // answered garbage
  }
  if (run.auth && s.sessions_created > 2 * run.valid.size()) std::abort();  // a session without auth
  return 0;
}
