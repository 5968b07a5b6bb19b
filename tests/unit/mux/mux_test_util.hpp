// Helpers shared by the mux unit tests: frame lists, draining events, moving bytes between two
// sessions, and a random-access byte pattern for verifying large transfers.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/bytes.hpp"
#include "mux/frame.hpp"
#include "mux/session.hpp"

namespace paniq::mux::test {

struct Frame {
  FrameHeader header;
  Bytes payload;
  friend bool operator==(const Frame&, const Frame&) = default;
};

// Decodes a whole byte string into frames (fails the test on a broken stream or a tail).
inline std::vector<Frame> decode_all(ByteView bytes) {
  std::vector<Frame> frames;
  FrameDecoder dec;
  while (!bytes.empty()) {
    auto st = dec.next(bytes);
    bytes = bytes.subspan(st.consumed);
    if (st.status == FrameDecoder::Status::Error) {
      ADD_FAILURE() << "broken frame stream";
      return frames;
    }
    if (st.status == FrameDecoder::Status::Header) frames.push_back({st.header, {}});
    if (st.status == FrameDecoder::Status::Payload) {
      frames.back().payload.insert(frames.back().payload.end(), st.payload.begin(),
                                   st.payload.end());
    }
  }
  EXPECT_FALSE(dec.in_payload()) << "truncated frame";
  return frames;
}

// Everything the session has queued for the transport, consumed (in the order a transport
// taking all of pending_output() each time would send it).
inline std::vector<Frame> take_frames(Session& s) {
  Bytes out;
  for (int i = 0; i < 1000000 && !s.pending_output().empty(); ++i) {
    const ByteView v = s.pending_output();
    out.insert(out.end(), v.begin(), v.end());
    s.consume_output(v.size());
  }
  return decode_all(out);
}

// The same, taken `chunk` bytes at a time (a transport whose queue fills mid-frame).
inline std::vector<Frame> take_frames_in_chunks(Session& s, std::size_t chunk) {
  Bytes out;
  for (int i = 0; i < 1000000 && !s.pending_output().empty(); ++i) {
    const ByteView v = s.pending_output().first(std::min(chunk, s.pending_output().size()));
    out.insert(out.end(), v.begin(), v.end());
    s.consume_output(v.size());
  }
  return decode_all(out);
}

inline std::vector<Event> take_events(Session& s) {
  std::vector<Event> v;
  while (auto e = s.poll_event()) v.push_back(*e);
  return v;
}

inline bool has_event(const std::vector<Event>& v, EventKind k, StreamId id) {
  for (const auto& e : v) {
    if (e.kind == k && e.id == id) return true;
  }
  return false;
}

inline Frame frame(Cmd c, StreamId id, ByteView payload = {}) {
  return Frame{{c, static_cast<std::uint16_t>(payload.size()), id},
               Bytes(payload.begin(), payload.end())};
}

// Moves all of `from`'s pending output into `to` (what `to` accepts); returns bytes moved.
inline std::size_t pump(Session& from, Session& to, TimeMs now) {
  const ByteView pending = from.pending_output();
  const std::size_t n = to.input(pending, now);
  from.consume_output(n);
  return n;
}

inline void pump_both(Session& a, Session& b, TimeMs now) {
  for (int i = 0; i < 64; ++i) {
    if (pump(a, b, now) + pump(b, a, now) == 0) return;
  }
}

// Reads what is buffered (until would_block or end-of-stream).
inline Bytes read_available(Session& s, StreamId id) {
  Bytes all;
  std::uint8_t buf[4096];
  for (;;) {
    auto r = s.read(id, buf);
    if (!r || *r == 0) return all;
    all.insert(all.end(), buf, buf + *r);
  }
}

inline Bytes text(const char* s) { return Bytes(s, s + std::strlen(s)); }

// Byte `offset` of the pattern keyed by `seed`: random-looking, computable at any offset, so
// writers and readers of big transfers need no stored copy.
inline std::uint64_t pattern_word(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed ^ (index * 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline void fill_pattern(std::uint64_t seed, std::uint64_t offset, MutByteView out) {
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t pos = offset + i;
    const std::uint64_t w = pattern_word(seed, pos / 8);
    std::uint8_t bytes[8];
    std::memcpy(bytes, &w, 8);
    const std::size_t from = pos % 8;
    const std::size_t n = std::min<std::size_t>(8 - from, out.size() - i);
    std::memcpy(out.data() + i, bytes + from, n);
    i += n;
  }
}

}  // namespace paniq::mux::test
