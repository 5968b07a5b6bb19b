// LINK: paniq_socks5
// Fuzzes the SOCKS5 server handshake parser with and without credentials. The first input
// byte picks the configuration and the split pattern; the rest is the client's byte stream,
// fed once whole and once in pieces. Checks: never crash, consumed within the input, NeedMore
// takes everything, every split gives the same outcome, terminal states stay put, a Done
// request ends exactly at `consumed` and re-encodes to the bytes it came from.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "socks5/handshake.hpp"

namespace {

using namespace paniq;
using namespace paniq::socks5;
using Status = ServerHandshake::Status;

void check(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  Status status = Status::NeedMore;
  std::size_t consumed = 0;
  Bytes output;
  Request request;
};

// Chunk sizes cycle through 1..(split_mod) driven by `seed`; 0 = one piece.
Outcome run(const HandshakeConfig& cfg, ByteView in, std::uint8_t seed) {
  ServerHandshake hs(cfg);
  Outcome o;
  std::size_t off = 0;
  std::uint32_t state = seed;
  while (off < in.size()) {
    std::size_t n = in.size() - off;
    if (seed != 0) {
      state = state * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (state >> 16) % 9);
    }
    const ByteView chunk = in.subspan(off, n);
    const auto step = hs.put(chunk);
    check(step.consumed <= chunk.size());
    check(step.output.size() <= 16);
    o.output.insert(o.output.end(), step.output.begin(), step.output.end());
    if (step.status != Status::NeedMore) {
      o.status = step.status;
      o.consumed = off + step.consumed;
      if (step.status == Status::Done) o.request = hs.request();
      const auto again = hs.put(chunk.subspan(step.consumed));
      check(again.status == step.status && again.consumed == 0 && again.output.empty());
      return o;
    }
    check(step.consumed == chunk.size());
    off += n;
  }
  o.consumed = off;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const HandshakeConfig no_auth = HandshakeConfig::defaults();
  static const HandshakeConfig auth = [] {
    HandshakeConfig c;
    c.username = "user";
    c.password = "secret";
    return c;
  }();
  const HandshakeConfig& cfg = (data[0] & 1) ? auth : no_auth;
  const ByteView in(data + 1, size - 1);

  const Outcome whole = run(cfg, in, 0);
  const Outcome split = run(cfg, in, static_cast<std::uint8_t>(data[0] | 1));
  check(whole.status == split.status && whole.consumed == split.consumed);
  check(whole.output == split.output);
  check(whole.consumed <= in.size());
  if (whole.status == Status::Done) {
    check(whole.request == split.request);
    const Request& r = whole.request;
    check(r.command == Command::Connect || r.command == Command::UdpAssociate);
    const std::size_t n = r.target.wire_size();
    check(whole.consumed >= n + 3);
    Bytes enc;
    r.target.append_to(enc);
    check(std::equal(enc.begin(), enc.end(), in.begin() + static_cast<std::ptrdiff_t>(whole.consumed - n)));
  }
  return 0;
}
