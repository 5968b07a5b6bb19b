#include "app/speedtest_target.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <spdlog/spdlog.h>

#include "app/active_count.hpp"
#include "net/watchdog.hpp"
#include "socks5/reply.hpp"
#include "socks5/stream_open.hpp"

namespace paniq::app {
namespace {

using net::awaitable;
namespace st = socks5::speedtest;
using socks5::ReplyCode;

constexpr std::size_t kChunk = 64u << 10;

awaitable<std::error_code> send_reply(net::MuxStream& stream, ReplyCode code) {
  const std::uint8_t b = socks5::open_reply_byte(code);
  co_return co_await stream.write_all(ByteView(&b, 1));
}

}  // namespace

void SpeedtestPattern::fill(MutByteView out) {
  std::size_t done = 0;
  while (done < out.size() && tail_pos_ < tail_.size()) out[done++] = tail_[tail_pos_++];
  const std::size_t whole = (out.size() - done) / 64 * 64;
  if (whole > 0) {
    MutByteView blocks = out.subspan(done, whole);
    std::memset(blocks.data(), 0, blocks.size());
    crypto::chacha20_xor(blocks, key_, {}, block_);
    block_ += static_cast<std::uint32_t>(whole / 64);
    done += whole;
  }
  if (done < out.size()) {
    tail_.fill(0);
    crypto::chacha20_xor(tail_, key_, {}, block_++);
    tail_pos_ = 0;
    while (done < out.size()) out[done++] = tail_[tail_pos_++];
  }
}

bool SpeedtestPattern::check(ByteView data) {
  scratch_.resize(data.size());
  fill(scratch_);
  return std::memcmp(scratch_.data(), data.data(), data.size()) == 0;
}

awaitable<void> SpeedtestTarget::serve(net::MuxStream& stream, const socks5::Address& target,
                                       ByteView early) {
  if (!opt_.enabled) {
    ++stats_.refused_disabled;
    spdlog::info("stream {}: speedtest refused: disabled by the config (\"speedtest\": false)", stream.id());
    co_await send_reply(stream, ReplyCode::NotAllowed);
    co_return;
  }
  const auto mode = st::mode_for_port(target.port());
  if (!mode) {
    co_await send_reply(stream, ReplyCode::HostUnreachable);
    co_return;
  }
  if (stats_.active >= opt_.max_streams) {
    ++stats_.refused_busy;
    spdlog::info("stream {}: speedtest refused: {} speedtest streams already running", stream.id(),
                 opt_.max_streams);
    co_await send_reply(stream, ReplyCode::GeneralFailure);
    co_return;
  }
  const ActiveCount active(stats_.active, alive_);
  ++stats_.streams;
  if (co_await send_reply(stream, ReplyCode::Succeeded)) co_return;

  st::FixedReader<st::kRequestSize> reader;
  early = early.subspan(reader.put(early));
  std::array<std::uint8_t, st::kRequestSize> buf;
  {
    net::Watchdog wd(ex_, opt_.request_timeout, [&stream] { stream.close(); });
    while (!reader.done()) {
      const net::IoResult r = co_await stream.read_some(MutByteView(buf.data(), buf.size()));
      if (r.error || r.count == 0) co_return;
      const std::size_t used = reader.put(ByteView(buf.data(), r.count));
      // A whole request leaves the rest of this read (if any) as stream data; keep it in buf.
      if (reader.done()) early = ByteView(buf.data() + used, r.count - used);
    }
  }
  const st::Request req = st::decode_request(reader.bytes());
  const std::uint64_t cap = *mode == st::Mode::echo ? opt_.max_echo_bytes : opt_.max_bytes;
  const std::uint64_t granted = std::min(req.bytes, cap);
  spdlog::debug("stream {}: speedtest {} of {} bytes (asked {})", stream.id(), st::to_string(*mode),
                granted, req.bytes);
  if (co_await stream.write_all(st::encode_grant(granted))) co_return;

  net::Watchdog limit(ex_, opt_.max_duration, [&stream] { stream.close(); });
  switch (*mode) {
    case st::Mode::download:
      co_await download(stream, granted, req.key);
      break;
    case st::Mode::upload:
      co_await upload(stream, granted, req.key, early);
      break;
    case st::Mode::echo:
      co_await echo(stream, granted, early);
      break;
  }
  if (limit.expired()) {
    spdlog::info("stream {}: speedtest {} stopped after {} ms (the per-stream limit)", stream.id(),
                 st::to_string(*mode), opt_.max_duration.count());
  }
}

awaitable<void> SpeedtestTarget::download(net::MuxStream& stream, std::uint64_t granted,
                                          const st::Key& key) {
  SpeedtestPattern pattern(key);
  Bytes chunk(kChunk);
  std::uint64_t sent = 0;
  while (sent < granted) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, granted - sent));
    pattern.fill(MutByteView(chunk.data(), n));
    if (co_await stream.write_all(ByteView(chunk.data(), n))) co_return;
    sent += n;
    stats_.bytes_sent += n;
    // A client that stops early sends a byte (or FIN, which fails the write already unless
    // the session uses half_close); either way there is no one left to send to.
    if (stream.readable() > 0) co_return;
  }
  (void)stream.shutdown_write();
}

awaitable<void> SpeedtestTarget::upload(net::MuxStream& stream, std::uint64_t granted,
                                        const st::Key& key, ByteView early) {
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  SpeedtestPattern pattern(key);
  st::UploadDecoder decoder(granted);
  bool intact = true;
  // Feeds `in` to the decoder; false once the end record (or an error) was read.
  const auto take = [&](ByteView in) {
    while (!in.empty()) {
      const st::UploadDecoder::Step step = decoder.put(in);
      in = in.subspan(step.consumed);
      if (step.status == st::UploadDecoder::Status::Data) {
        if (!pattern.check(step.data)) intact = false;
        stats_.bytes_received += step.data.size();
        last = std::chrono::steady_clock::now();
      } else if (step.status != st::UploadDecoder::Status::NeedMore) {
        return false;
      }
    }
    return true;
  };
  bool more = take(early);
  Bytes buf(kChunk);
  while (more) {
    const net::IoResult r = co_await stream.read_some(MutByteView(buf.data(), buf.size()));
    if (r.error || r.count == 0) co_return;  // gone, or closed by the duration limit: no result
    more = take(ByteView(buf.data(), r.count));
  }
  if (const std::string e = decoder.error(); !e.empty()) {
    spdlog::info("stream {}: speedtest upload: {}", stream.id(), e);
    co_return;
  }
  st::UploadResult result;
  result.received = decoder.received();
  result.intact = intact;
  result.elapsed_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(last - start).count());
  if (co_await stream.write_all(st::encode_upload_result(result))) co_return;
  (void)stream.shutdown_write();
}

awaitable<void> SpeedtestTarget::echo(net::MuxStream& stream, std::uint64_t granted, ByteView early) {
  std::uint64_t echoed = 0;
  const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(early.size(), granted));
  if (first > 0) {
    if (co_await stream.write_all(early.first(first))) co_return;
    echoed += first;
  }
  std::array<std::uint8_t, 4096> buf;
  while (echoed < granted) {
    const net::IoResult r = co_await stream.read_some(MutByteView(buf.data(), buf.size()));
    if (r.error || r.count == 0) break;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(r.count, granted - echoed));
    if (co_await stream.write_all(ByteView(buf.data(), n))) co_return;
    echoed += n;
  }
  (void)stream.shutdown_write();
}

}  // namespace paniq::app
