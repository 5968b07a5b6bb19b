// LINK: paniq_kcp
// libFuzzer target for the KCP engine: arbitrary datagrams into input(), crafted segments with
// the right conv (to get past the conv check), and arbitrary interleavings of send, recv,
// update, flush, check and output draining on two engines that may also exchange their real
// output. Checks engine invariants; memory stays bounded by small windows and queues.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "kcp/engine.hpp"

namespace {

using paniq::ByteView;
using paniq::Bytes;
using paniq::kcp::Engine;

class Reader {
 public:
  Reader(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
  bool empty() const { return n_ == 0; }
  std::uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint32_t u32() { return u16() | (static_cast<std::uint32_t>(u16()) << 16); }
  ByteView bytes(std::size_t n) {
    n = n < n_ ? n : n_;
    ByteView v(p_, n);
    p_ += n;
    n_ -= n;
    return v;
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

void require(bool ok) {
  if (!ok) std::abort();
}

// The segments the last input stored ahead of a gap: each view must be readable (ASan) and no
// longer than a segment the engine accepts.
void check_early(const Engine& e) {
  static std::vector<ByteView> early;
  e.early_segments(early);
  std::uint64_t sum = 0;
  for (const ByteView v : early) {
    for (const std::uint8_t b : v) sum += b;
    require(v.size() < 70000);
  }
  (void)sum;
}

void check_invariants(Engine& e, std::uint32_t now) {
  const auto& c = e.config();
  require(e.nsnd_buf() <= e.snd_nxt() - e.snd_una());
  require(e.snd_nxt() - e.snd_una() <= c.snd_wnd);
  require(e.nsnd_que() <= c.max_snd_queue);
  require(e.nrcv_que() <= c.rcv_wnd);
  require(e.rx_rto() >= 30 && e.rx_rto() <= 60000);
  const std::int32_t ahead = paniq::time_diff(e.check(now), now);
  require(ahead >= 0 && static_cast<std::uint32_t>(ahead) <= c.interval);
  for (ByteView d : e.output()) {
    require(d.size() >= paniq::kcp::kOverhead);
    if (c.output == paniq::kcp::OutputMode::batched) {
      require(d.size() <= c.mtu);
    } else {
      require(d.size() == paniq::kcp::kOverhead + paniq::get_u32_le(d.data() + 20));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  const std::uint8_t flags = in.u8();
  paniq::kcp::Config c = paniq::kcp::Config::defaults();
  c.conv = 0xC0DE;
  c.stream = (flags & 1) == 0;
  c.output = (flags & 2) ? paniq::kcp::OutputMode::batched
                         : paniq::kcp::OutputMode::one_segment_per_datagram;
  c.congestion = (flags & 64) ? paniq::kcp::Congestion::bbr
                 : (flags & 4) ? paniq::kcp::Congestion::ikcp
                               : paniq::kcp::Congestion::none;
  c.loss_recovery = (flags & 128) ? paniq::kcp::LossRecovery::rack : paniq::kcp::LossRecovery::ikcp;
  c.rto_mode = (flags & 8) ? paniq::kcp::RtoMode::reference : paniq::kcp::RtoMode::ikcp;
  c.nodelay = (flags >> 4) % 3;
  c.mtu = 50 + in.u8() * 4u;
  c.interval = 1 + in.u8() % 100;
  c.snd_wnd = 1 + in.u8();
  c.rcv_wnd = 128 + in.u8();
  c.max_snd_queue = 1 + in.u8();
  c.dead_link = 1 + in.u8() % 30;
  c.resend = in.u8() % 4;
  c.initial_sn = in.u32();
  require(c.validate().ok());
  Engine engines[2] = {Engine(c), Engine(c)};
  std::uint32_t now = in.u32();
  Bytes scratch;
  std::vector<std::uint8_t> buf(70000);

  for (int ops = 0; !in.empty() && ops < 4000; ++ops) {
    const std::uint8_t op = in.u8();
    Engine& e = engines[op >> 7];
    Engine& peer = engines[1 - (op >> 7)];
    switch (op & 15) {
      case 0:  // raw bytes
        (void)e.input(in.bytes(in.u16() % 2048), now);
        break;
      case 1:
      case 2: {  // crafted segments with the right conv
        scratch.clear();
        const int n = 1 + in.u8() % 4;
        for (int i = 0; i < n; ++i) {
          paniq::kcp::SegmentHeader h;
          h.conv = c.conv;
          h.cmd = static_cast<std::uint8_t>(81 + in.u8() % 4);
          h.frg = in.u8() % 4;
          h.wnd = in.u16();
          h.ts = now - in.u8();
          h.sn = e.rcv_nxt() + in.u16() % 300 - 20;  // around the window edges
          h.una = e.snd_una() + in.u16() % 300 - 20;
          if ((op & 15) == 2) h.sn = in.u32();
          paniq::kcp::append_segment(scratch, h, in.bytes(in.u16() % 1500));
        }
        require(e.input(scratch, now) == paniq::kcp::Errc::ok);
        check_early(e);
        break;
      }
      case 3: {  // send
        const std::size_t n = in.u16() % 20000;
        scratch.assign(n, static_cast<std::uint8_t>(op));
        (void)e.send(scratch);
        break;
      }
      case 4: {  // recv
        const std::size_t n = in.u16() % buf.size();
        (void)e.recv(std::span<std::uint8_t>(buf.data(), n));
        (void)e.peek_size();
        break;
      }
      case 5:
        now += in.u8();
        e.update(now);
        break;
      case 6:
        now += in.u16();
        e.update(now);
        break;
      case 7:
        e.flush(now);
        break;
      case 8:  // deliver e's output to its peer, dropping some
        for (ByteView d : e.output()) {
          if (in.u8() % 8 != 0) require(peer.input(d, now) == paniq::kcp::Errc::ok);
        }
        e.clear_output();
        break;
      case 9:
        e.consume_output(in.u8() % 4);
        break;
      case 10:
        e.trim();
        break;
      case 11: {  // records that stay within one segment (stream offsets)
        const std::size_t n = in.u16() % (e.mss() + 8);
        scratch.assign(n, static_cast<std::uint8_t>(op));
        auto r = e.send_record(scratch);
        if (e.config().stream) require(n <= e.mss() ? r.ok() : !r.ok());
        break;
      }
      default:
        (void)e.writable();
        break;
    }
    check_invariants(e, now);
    if (e.output_count() > 4096) e.clear_output();  // a caller that never drains
  }
  return 0;
}
