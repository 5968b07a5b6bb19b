// LINK: paniq_tunnel
// ServerEndpoint fed by a script of datagrams from a few peers: raw bytes, valid Initiations,
// transport frames aimed at live sessions (so arbitrary bytes reach KCP and smux), and clock
// jumps. Checks: no crash, memory bounded by the caps, and silence unless an Initiation was
// accepted (nothing is ever sent in reply to garbage alone).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "obf/framer.hpp"
#include "tunnel/server.hpp"

using namespace paniq;
using namespace paniq::tunnel;

namespace {

obf::Config obf_config() {
  obf::Config c;  // tests/vectors/wire-example.json
  c.s = {3, 2, 0, 1};
  c.h = {{{100, 199}, {200, 200}, {300, 399}, {1000, 1999}}};
  return c;
}

ServerConfig server_config() {
  ServerConfig c;
  c.link.padding = envelope::PaddingPolicy::enabled_defaults();
  envelope::SizeInputs in;
  in.s4 = 1;
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
  return c;
}

const obf::Framer& framer() {
  static const obf::Framer f = *obf::Framer::create(obf_config());
  return f;
}

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  SeededRng rng(size);
  ServerEndpoint server(server_config(), framer(), rng);
  Reader in{data, size};
  TimeMs now = 0;
  std::uint64_t out_bytes = 0;
  std::vector<std::uint32_t> convs;  // from Responses seen, per peer index
  convs.assign(4, 0);
  Bytes buf;
  for (int op = 0; op < 256 && in.n > 0; ++op) {
    const std::uint8_t kind = in.byte();
    const std::uint8_t who = in.byte() % 4;
    const PeerAddr peer = who == 3 ? PeerAddr::v6({0x20, 0x01, 0x0d, 0xb8}, 443)
                                   : PeerAddr::v4({10, 0, 0, static_cast<std::uint8_t>(who)}, 7);
    const std::size_t len = in.byte() * 8u + (in.byte() & 7u);
    const ByteView body = in.take(len);
    switch (kind % 4) {
      case 0: server.handle_datagram(peer, body, now); break;
      case 1: server.handle_datagram(peer, framer().encode(obf::MessageType::Initiation, body, rng), now); break;
      case 2: {
        // A transport frame for this peer's last conv: u16 len || conv || fuzz bytes.
        buf.assign(2 + 4, 0);
        put_u32_le(buf.data() + 2, convs[who]);
        buf.insert(buf.end(), body.begin(), body.end());
        put_u16_be(buf.data(), static_cast<std::uint16_t>(buf.size() - 2));
        server.handle_datagram(peer, framer().encode(obf::MessageType::Transport, buf, rng), now);
        break;
      }
      default:
        now += body.empty() ? 1 : body[0] * 64u;
        server.handle_timeout(now);
        break;
    }
    server.flush(now);
    serve(server, now);
    server.flush(now);
    for (const ServerTransmit& t : server.transmit()) {
      out_bytes += t.data.size();
      const auto c = framer().classify(t.data);
      if (!c) std::abort();  // everything we send classifies
      if (c->type == obf::MessageType::Response && c->payload.size() == 4) {
        const std::size_t idx = t.peer.family == PeerAddr::Family::v6 ? 3 : t.peer.addr[3];
        if (idx < 4) convs[idx] = get_u32_le(c->payload.data());
      }
    }
    server.consume_transmit(SIZE_MAX);
    if (server.session_count() > 8) std::abort();
  }
  const ServerStats& s = server.stats();
  if (out_bytes > 0 && s.sessions_created == 0) std::abort();  // answered garbage
  return 0;
}
