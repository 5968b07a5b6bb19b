// proxy-server's built-in speedtest sink/source (socks5/speedtest.hpp, docs/speedtest.md): a
// CONNECT stream to `speedtest.paniq.invalid` is served here, before any lookup or egress
// check, so nothing is ever dialled for it. Only an authenticated tunnel peer gets a stream at
// all. Reply byte: 0x02 when the config says `"speedtest": false`; 0x01 when max_streams
// speedtest streams are already running; 0x04 for a port that selects no mode; else 0x00, then
// the mode's exchange. A stream ends (FIN) after max_duration whatever it is doing, and no
// stream moves more than max_bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "core/bytes.hpp"
#include "crypto/crypto.hpp"
#include "net/asio.hpp"
#include "net/mux_stream.hpp"
#include "socks5/address.hpp"
#include "socks5/speedtest.hpp"

namespace paniq::app {

// The pattern both ends compute: the ChaCha20 keystream of `key` (nonce 0, block counter from
// 0), handed out in pieces of any size. Valid for the first 256 GiB (the 32-bit counter).
class SpeedtestPattern {
 public:
  explicit SpeedtestPattern(const socks5::speedtest::Key& key) : key_(key) {}
  // Writes the next out.size() pattern bytes.
  void fill(MutByteView out);
  // True when `data` equals the next data.size() pattern bytes (which are consumed either way).
  bool check(ByteView data);

 private:
  crypto::Key32 key_;
  std::uint32_t block_ = 0;                // next keystream block to generate
  std::array<std::uint8_t, 64> tail_{};    // the rest of a block handed out in part
  std::size_t tail_pos_ = 64;              // 64: no rest
  Bytes scratch_;
};

struct SpeedtestOptions {
  bool enabled = true;                                   // the config's "speedtest"
  std::uint64_t max_bytes = 4ull << 30;                  // per stream, each direction
  std::uint64_t max_echo_bytes = 64u << 10;
  std::uint32_t max_streams = 16;                        // speedtest streams at once
  std::chrono::milliseconds max_duration{60'000};        // per stream, then FIN
  std::chrono::milliseconds request_timeout{10'000};     // for the 40-byte request
};

struct SpeedtestStats {
  std::uint64_t streams = 0;           // served (reply 0x00)
  std::uint64_t refused_disabled = 0;  // 0x02
  std::uint64_t refused_busy = 0;      // 0x01 (max_streams)
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::uint64_t active = 0;
};

class SpeedtestTarget {
 public:
  SpeedtestTarget(asio::any_io_executor ex, SpeedtestOptions opt) : ex_(std::move(ex)), opt_(opt) {}
  ~SpeedtestTarget() { *alive_ = false; }
  SpeedtestTarget(const SpeedtestTarget&) = delete;
  SpeedtestTarget& operator=(const SpeedtestTarget&) = delete;

  // Serves a stream whose open request named the speedtest host (socks5::speedtest::is_target)
  // with CONNECT; `early` holds the bytes that came right behind the request. Answers the
  // reply byte itself and returns when the stream is done.
  net::awaitable<void> serve(net::MuxStream& stream, const socks5::Address& target, ByteView early);
  const SpeedtestStats& stats() const { return stats_; }

 private:
  net::awaitable<void> download(net::MuxStream& stream, std::uint64_t granted,
                                const socks5::speedtest::Key& key);
  net::awaitable<void> upload(net::MuxStream& stream, std::uint64_t granted,
                              const socks5::speedtest::Key& key, ByteView early);
  net::awaitable<void> echo(net::MuxStream& stream, std::uint64_t granted, ByteView early);

  asio::any_io_executor ex_;
  SpeedtestOptions opt_;
  SpeedtestStats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace paniq::app
