// LINK: paniq_socks5
// Fuzzes the stream-open request decoder, the UDP ASSOCIATE record decoder and the SOCKS5 UDP
// datagram parser. Checks: never crash, consumed within the input, a decoded request or
// datagram re-encodes to exactly the bytes it was decoded from, and record streams decode the
// same whole and split.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "socks5/stream_open.hpp"
#include "socks5/udp_header.hpp"
#include "socks5/udp_record.hpp"

namespace {

using namespace paniq;
using namespace paniq::socks5;

void check(bool ok) {
  if (!ok) std::abort();
}

void fuzz_open_request(ByteView in, std::size_t piece) {
  OpenRequestDecoder whole;
  const auto w = whole.put(in);
  check(w.consumed <= in.size());
  OpenRequestDecoder split;
  std::size_t off = 0;
  OpenRequestDecoder::Step s;
  do {
    const ByteView chunk = in.subspan(off, std::min(piece, in.size() - off));
    s = split.put(chunk);
    check(s.consumed <= chunk.size());
    off += s.consumed;
  } while (s.status == OpenRequestDecoder::Status::NeedMore && off < in.size());
  check(s.status == w.status && off == w.consumed && s.error == w.error);
  if (w.status == OpenRequestDecoder::Status::Done) {
    check(whole.request() == split.request());
    const Bytes enc = encode_open_request(whole.request());
    check(enc.size() == w.consumed && std::equal(enc.begin(), enc.end(), in.begin()));
  }
}

std::vector<Bytes> decode_records(ByteView in, std::size_t piece, std::size_t max, bool& failed,
                                  std::size_t& consumed) {
  UdpRecordDecoder dec(max);
  std::vector<Bytes> out;
  failed = false;
  consumed = 0;
  for (std::size_t off = 0; off < in.size() && !failed;) {
    ByteView chunk = in.subspan(off, std::min(piece, in.size() - off));
    off += chunk.size();
    while (!chunk.empty()) {
      const auto s = dec.next(chunk);
      check(s.consumed <= chunk.size());
      consumed += s.consumed;
      chunk = chunk.subspan(s.consumed);
      if (s.status == UdpRecordDecoder::Status::Error) {
        failed = true;
        break;
      }
      if (s.status == UdpRecordDecoder::Status::Record) {
        check(s.record.size() <= max);
        out.emplace_back(s.record.begin(), s.record.end());
      } else {
        check(chunk.empty());
      }
    }
  }
  return out;
}

void fuzz_records(ByteView in, std::size_t piece, std::size_t max) {
  bool failed_whole = false, failed_split = false;
  std::size_t used_whole = 0, used_split = 0;
  const auto whole = decode_records(in, in.size() + 1, max, failed_whole, used_whole);
  const auto split = decode_records(in, piece, max, failed_split, used_split);
  check(whole == split && failed_whole == failed_split && used_whole == used_split);
  // Re-encoding the records gives back the consumed bytes that formed complete records.
  Bytes again;
  for (const Bytes& r : whole) {
    const Bytes enc = encode_udp_record(r);
    again.insert(again.end(), enc.begin(), enc.end());
  }
  check(again.size() <= used_whole && std::equal(again.begin(), again.end(), in.begin()));
  for (const Bytes& r : whole) {
    const UdpDatagram d = parse_udp_datagram(r);
    if (d.error != Errc::ok) continue;
    check(build_udp_datagram(d.address, d.data) == r);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = 1 + data[0] % 16;
  const std::size_t max = data[1] < 128 ? 64 + data[1] : kDefaultMaxRecord;
  const ByteView in(data + 2, size - 2);
  fuzz_open_request(in, piece);
  fuzz_records(in, piece, max);
  const UdpDatagram d = parse_udp_datagram(in);
  if (d.error == Errc::ok) check(build_udp_datagram(d.address, d.data) == Bytes(in.begin(), in.end()));
  return 0;
}
