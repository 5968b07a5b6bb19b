// Stream offsets (Config::stream_offsets, docs/protocol.md 7.8): data frames carry their stream
// offset, input_early() delivers a stream's next frame from a segment that arrived ahead of a gap,
// and input() skips exactly those bytes when the byte stream reaches them.
#include <gtest/gtest.h>

#include "mux/session.hpp"
#include "mux_test_util.hpp"

namespace paniq::mux {
namespace {

using test::has_event;
using test::read_available;
using test::take_events;
using test::text;

Config with_offsets(Config c) {
  c.stream_offsets = true;
  c.max_frame_size = 16;  // 12 data bytes per frame: several frames per write
  return c;
}

Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (const ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The sender's frames one by one, as a transport that keeps each in one segment takes them.
std::vector<Bytes> take_each_frame(Session& s) {
  std::vector<Bytes> frames;
  for (int i = 0; i < 10000; ++i) {
    const ByteView f = s.pending_frame();
    if (f.empty()) break;
    frames.emplace_back(f.begin(), f.end());
    s.consume_output(f.size());
  }
  EXPECT_TRUE(s.pending_output().empty());
  return frames;
}

struct Pair {
  Pair() : client(with_offsets(Config::defaults()), 0), server(with_offsets(Config::server_defaults()), 0) {}
  Session client;
  Session server;
};

TEST(StreamOffsets, DataFramesCarryTheirStreamOffset) {
  Pair p;
  const StreamId id = *p.client.open_stream(0);
  const Bytes data = text("0123456789abcdefghijklmnopqrstuvwxyz");  // 36 bytes: three frames
  ASSERT_EQ(*p.client.write(id, data, 0), data.size());
  const auto frames = take_each_frame(p.client);
  ASSERT_EQ(frames.size(), 4u);  // SYN and three PSH@
  for (std::size_t i = 1; i < frames.size(); ++i) {
    const auto h = decode_header(frames[i], true);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->cmd, Cmd::PshAt);
    EXPECT_EQ(h->length, 16);
    EXPECT_EQ(get_u32_le(frames[i].data() + kHeaderSize), 12 * (i - 1));
  }
  for (const Bytes& f : frames) ASSERT_EQ(p.server.input(f, 0), f.size());
  EXPECT_EQ(read_available(p.server, id), data);
  EXPECT_EQ(p.server.stats().early_frames, 0u);
}

TEST(StreamOffsets, AnEarlyFrameOfAnotherStreamIsDeliveredAndLaterSkipped) {
  Pair p;
  const StreamId a = *p.client.open_stream(0), b = *p.client.open_stream(0);
  ASSERT_EQ(*p.client.write(a, text("bulk-bytes"), 0), 10u);
  ASSERT_EQ(*p.client.write(b, text("reply"), 0), 5u);
  const auto f = take_each_frame(p.client);  // SYN a, SYN b, PSH@ b (young: first), ...
  ASSERT_EQ(f.size(), 4u);
  const Bytes syns = concat({f[0], f[1]});
  ASSERT_EQ(p.server.input(syns, 0), syns.size());
  take_events(p.server);
  // The data frame for `a` is "lost" for now; the one for `b` comes early.
  const Bytes& fb = decode_header(f[2], true)->stream_id == b ? f[2] : f[3];
  p.server.input_early(fb, 1);
  EXPECT_TRUE(has_event(take_events(p.server), EventKind::Readable, b));
  EXPECT_EQ(read_available(p.server, b), text("reply"));
  EXPECT_EQ(p.server.stats().early_frames, 1u);
  // The byte stream then reaches both frames: `a` gets its data, `b` nothing twice.
  const Bytes rest = concat({f[2], f[3]});
  ASSERT_EQ(p.server.input(rest, 2), rest.size());
  EXPECT_EQ(read_available(p.server, a), text("bulk-bytes"));
  EXPECT_EQ(read_available(p.server, b), Bytes{});
  EXPECT_EQ(p.server.stats().duplicate_bytes, 5u);
  EXPECT_EQ(p.server.stats().payload_in, 15u);
}

TEST(StreamOffsets, AnEarlyFrameAheadOfItsStreamWaitsForTheByteStream) {
  Pair p;
  const StreamId a = *p.client.open_stream(0);
  ASSERT_EQ(*p.client.write(a, text("first-part--second-part-"), 0), 24u);  // two frames
  const auto f = take_each_frame(p.client);
  ASSERT_EQ(f.size(), 3u);
  ASSERT_EQ(p.server.input(f[0], 0), f[0].size());
  p.server.input_early(f[2], 0);  // offset 12, the stream is at 0: not yet
  EXPECT_EQ(read_available(p.server, a), Bytes{});
  p.server.input_early(f[1], 0);  // offset 0: delivered
  EXPECT_EQ(read_available(p.server, a), text("first-part--"));
  p.server.input_early(f[2], 0);  // now offset 12 is next
  EXPECT_EQ(read_available(p.server, a), text("second-part-"));
  const Bytes rest = concat({f[1], f[2]});
  ASSERT_EQ(p.server.input(rest, 0), rest.size());
  EXPECT_EQ(read_available(p.server, a), Bytes{});
  EXPECT_EQ(p.server.stats().early_frames, 2u);
  EXPECT_EQ(p.server.stats().duplicate_bytes, 24u);
  EXPECT_FALSE(p.server.failed());
}

TEST(StreamOffsets, SegmentsThatAreNotWholeFramesOrNotForLiveStreamsAreLeftAlone) {
  Pair p;
  const StreamId a = *p.client.open_stream(0);
  ASSERT_EQ(*p.client.write(a, text("payload"), 0), 7u);
  const auto f = take_each_frame(p.client);
  ASSERT_EQ(f.size(), 2u);
  // The stream is not open at the server yet (its SYN is behind the gap): nothing delivered.
  p.server.input_early(f[1], 0);
  // A cut frame, garbage, and a plain PSH are not read early either.
  p.server.input_early(ByteView(f[1]).first(f[1].size() - 1), 0);
  p.server.input_early(text("not a frame at all"), 0);
  p.server.input_early(encode_frame(Cmd::Psh, a, text("plain")), 0);
  EXPECT_EQ(p.server.stats().early_frames, 0u);
  EXPECT_FALSE(p.server.failed());
  const Bytes all = concat({f[0], f[1]});
  ASSERT_EQ(p.server.input(all, 0), all.size());
  EXPECT_EQ(read_available(p.server, a), text("payload"));
}

TEST(StreamOffsets, AnEarlyFrameThatDoesNotFitTheStreamBufferWaits) {
  Config c = with_offsets(Config::server_defaults());
  c.stream_recv_buffer = 20;
  c.session_recv_budget = 20;
  Session server(c, 0);
  Session client(with_offsets(Config::defaults()), 0);
  const StreamId a = *client.open_stream(0);
  ASSERT_EQ(*client.write(a, text("0123456789ab0123456789ab"), 0), 24u);
  const auto f = take_each_frame(client);
  ASSERT_EQ(f.size(), 3u);
  ASSERT_EQ(server.input(concat({f[0], f[1]}), 0), f[0].size() + f[1].size());  // 12 buffered
  server.input_early(f[2], 0);  // 12 more would exceed 20: left for input()
  EXPECT_EQ(server.readable_bytes(a), 12u);
  EXPECT_EQ(server.stats().early_frames, 0u);
  EXPECT_EQ(read_available(server, a).size(), 12u);
  ASSERT_EQ(server.input(f[2], 0), f[2].size());
  EXPECT_EQ(read_available(server, a), text("0123456789ab"));
}

TEST(StreamOffsets, AFrameAheadOfItsStreamsDataInTheByteStreamFailsTheSession) {
  Session server(with_offsets(Config::server_defaults()), 0);
  const std::uint32_t ahead = 5;
  Bytes bad = encode_frame(Cmd::PshAt, 3, concat({ByteView(reinterpret_cast<const std::uint8_t*>(&ahead), 4),
                                                  text("data")}));
  const Bytes in = concat({encode_frame(Cmd::Syn, 3), bad});
  (void)server.input(in, 0);
  EXPECT_EQ(server.failure(), Errc::bad_offset);
}

TEST(StreamOffsets, PshAtIsAnUnknownCommandWhereOffsetsWereNotAgreed) {
  Session server(Config::server_defaults(), 0);
  const Bytes in = concat({encode_frame(Cmd::Syn, 3), encode_frame(Cmd::PshAt, 3, Bytes(8, 0))});
  (void)server.input(in, 0);
  EXPECT_EQ(server.failure(), Errc::bad_command);
  server.input_early(encode_frame(Cmd::PshAt, 3, Bytes(8, 0)), 0);  // ignored, no crash
}

TEST(StreamOffsets, ABulkTransferSplitAnyWayArrivesExactly) {
  // Every frame goes either in order or early (in a pseudo-random pattern) and then in order:
  // each stream gets its bytes exactly once, in order.
  Pair p;
  const StreamId a = *p.client.open_stream(0), b = *p.client.open_stream(0);
  Bytes da(3000), db(700);
  test::fill_pattern(1, 0, da);
  test::fill_pattern(2, 0, db);
  std::size_t wa = 0, wb = 0;
  Bytes got_a, got_b;
  std::uint32_t x = 12345;
  for (int round = 0; round < 1000 && (wa < da.size() || wb < db.size()); ++round) {
    wa += *p.client.write(a, ByteView(da).subspan(wa, std::min<std::size_t>(100, da.size() - wa)), 0);
    wb += *p.client.write(b, ByteView(db).subspan(wb, std::min<std::size_t>(30, db.size() - wb)), 0);
    const auto frames = take_each_frame(p.client);
    for (const Bytes& f : frames) {
      x = x * 1103515245u + 12345u;
      if ((x >> 16) % 3 == 0) p.server.input_early(f, 0);
    }
    for (const Bytes& f : frames) ASSERT_EQ(p.server.input(f, 0), f.size());
    const Bytes ra = read_available(p.server, a), rb = read_available(p.server, b);
    got_a.insert(got_a.end(), ra.begin(), ra.end());
    got_b.insert(got_b.end(), rb.begin(), rb.end());
  }
  EXPECT_EQ(got_a, da);
  EXPECT_EQ(got_b, db);
  EXPECT_GT(p.server.stats().early_frames, 0u);
  EXPECT_EQ(p.server.stats().early_bytes, p.server.stats().duplicate_bytes);
}

TEST(StreamOffsets, ConsecutiveWritesFillTheLastFrameWhileItWaits) {
  Pair p;
  const StreamId id = *p.client.open_stream(0);
  for (const Bytes& f : take_each_frame(p.client)) ASSERT_EQ(p.server.input(f, 0), f.size());  // SYN
  // 12 data bytes per frame: 20 + 20 bytes make 12, 12, 12, 4 (not 12, 8, 12, 8).
  ASSERT_EQ(*p.client.write(id, text("aaaaaaaaaaaaaaaaaaaa"), 0), 20u);
  ASSERT_EQ(*p.client.write(id, text("bbbbbbbbbbbbbbbbbbbb"), 0), 20u);
  auto frames = take_each_frame(p.client);
  std::vector<std::size_t> sizes;
  for (const Bytes& f : frames) sizes.push_back(f.size() - kHeaderSize - kOffsetSize);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{12, 12, 12, 4}));
  for (const Bytes& f : frames) ASSERT_EQ(p.server.input(f, 0), f.size());
  // A frame already taken by the transport is not touched: the next write starts a new one.
  ASSERT_EQ(*p.client.write(id, text("cc"), 0), 2u);
  frames = take_each_frame(p.client);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(get_u32_le(frames[0].data() + kHeaderSize), 40u);
  ASSERT_EQ(p.server.input(frames[0], 0), frames[0].size());
  (void)take_events(p.server);
  EXPECT_EQ(read_available(p.server, id), text("aaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbcc"));
}

// Segment fill (docs/protocol.md 7.9): each new data frame may take the stretch its source
// draws for it, and later writes top it up to that frame's own limit.
TEST(StreamOffsets, EachNewFrameTakesTheStretchDrawnForIt) {
  Config c = with_offsets(Config::defaults());
  c.frame_stretch_max = 6;
  Session client(c, 0);
  Session server(with_offsets(Config::server_defaults()), 0);
  const std::uint32_t draws[] = {0, 3, 9, 1};  // 9 is over the cap: 6
  std::size_t next = 0;
  client.set_frame_stretch([&] { return draws[next++ % 4]; });
  const StreamId id = *client.open_stream(0);
  for (const Bytes& f : take_each_frame(client)) ASSERT_EQ(server.input(f, 0), f.size());  // SYN
  // Frames of 12, 15, 18 and 13 data bytes, the last topped up by the second write.
  ASSERT_EQ(*client.write(id, text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 0), 49u);
  ASSERT_EQ(*client.write(id, text("bbbbbbbbb"), 0), 9u);
  const auto frames = take_each_frame(client);
  std::vector<std::size_t> sizes;
  for (const Bytes& f : frames) sizes.push_back(f.size() - kHeaderSize - kOffsetSize);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{12, 15, 18, 13}));
  EXPECT_EQ(next, 4u);
  for (const Bytes& f : frames) ASSERT_EQ(server.input(f, 0), f.size());
  (void)take_events(server);
  EXPECT_EQ(read_available(server, id),
            text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbb"));
}

}  // namespace
}  // namespace paniq::mux
