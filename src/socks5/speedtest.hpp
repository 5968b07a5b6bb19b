// Speedtest stream target (our extension, docs/protocol.md 5.3, docs/speedtest.md): a stream
// whose open request (stream_open.hpp) names the reserved host `speedtest.paniq.invalid` is
// served by proxy-server itself instead of being dialled. The port selects the mode:
//   1 download  the server sends the granted number of pattern bytes, then FIN
//   2 upload    the client sends at most that many pattern bytes in records, then an end
//               record; the server checks them, discards them and answers an UploadResult
//   3 echo      the server sends back every byte it reads, up to the granted number (RTT)
// After the reply byte 0x00 the client sends a Request (u64 BE bytes || 32-byte key) and the
// server answers u64 BE granted = min(bytes, its per-stream maximum) before the data.
// Upload records are `u16 BE length (1..65535) || data`, and `00 00` ends the upload: the client
// may stop early (a duration-limited test) and still read the result, which a FIN would not
// allow (without smux half_close a FIN ends both directions).
// `.invalid` (RFC 6761) never resolves, so a server without the extension (paniq-rs) answers
// 0x01 after its failed lookup and no real host is ever reached.
//
// Pattern bytes: the ChaCha20 keystream (RFC 8439) of the request's key, nonce 0, block counter
// from 0 (app/speedtest_target.hpp). Non-constant, so either end can check every byte, and cheap
// to generate at tunnel speeds. Nothing here reads a socket or a clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "socks5/address.hpp"

namespace paniq::socks5::speedtest {

inline constexpr std::string_view kHost = "speedtest.paniq.invalid";

enum class Mode : std::uint8_t { download = 1, upload = 2, echo = 3 };

inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kRequestSize = 8 + kKeySize;  // u64 BE bytes || key
inline constexpr std::size_t kGrantSize = 8;               // u64 BE granted
inline constexpr std::size_t kUploadResultSize = 17;       // u64 received, u64 us, u8 intact
inline constexpr std::size_t kMaxUploadRecord = 65535;

using Key = std::array<std::uint8_t, kKeySize>;

// True when `a` is the speedtest host (a domain, compared ignoring ASCII case), any port.
bool is_target(const Address& a);
// The mode a port selects; nullopt for any other port (the server answers 0x04).
std::optional<Mode> mode_for_port(std::uint16_t port);
// The open request's target for `m`.
Address target(Mode m);
const char* to_string(Mode m);

struct Request {
  std::uint64_t bytes = 0;  // wanted: sent (download), to be sent (upload), echoed (echo)
  Key key{};                // pattern key (download, upload); unused by echo
  friend bool operator==(const Request&, const Request&) = default;
};

struct UploadResult {
  std::uint64_t received = 0;    // data bytes the server read before FIN or the grant's end
  std::uint64_t elapsed_us = 0;  // from sending the grant to reading the last byte
  bool intact = false;           // every received byte equals the pattern
  friend bool operator==(const UploadResult&, const UploadResult&) = default;
};

std::array<std::uint8_t, kRequestSize> encode_request(const Request& r);
// Every byte string of kRequestSize bytes is a valid request.
Request decode_request(ByteView in);  // in.size() must be kRequestSize

std::array<std::uint8_t, kGrantSize> encode_grant(std::uint64_t granted);
std::uint64_t decode_grant(ByteView in);  // in.size() must be kGrantSize

std::array<std::uint8_t, kUploadResultSize> encode_upload_result(const UploadResult& r);
// in.size() must be kUploadResultSize. Error (errc::bad_message) when the intact byte is not
// 0 or 1, naming its value; the caller reports the server as broken.
Result<UploadResult> decode_upload_result(ByteView in);

// Collects a fixed-size message from whatever pieces arrive (STYLE.md 6). put() takes at most
// the bytes still missing and returns how many it took; what follows belongs to the next
// message or is stream data.
template <std::size_t N>
class FixedReader {
 public:
  std::size_t put(ByteView in) {
    const std::size_t n = in.size() < N - have_ ? in.size() : N - have_;
    for (std::size_t i = 0; i < n; ++i) buf_[have_ + i] = in[i];
    have_ += n;
    return n;
  }
  bool done() const { return have_ == N; }
  ByteView bytes() const { return {buf_.data(), have_}; }

 private:
  std::array<std::uint8_t, N> buf_{};
  std::size_t have_ = 0;
};

// Splits the upload's record stream (incremental: any piece sizes). put() consumes a prefix of
// `in` and returns one of
//   NeedMore  consumed everything (record header bytes only); call again with more
//   Data      `data` (not empty, a part of `in`) is upload data; consumed ends right after it
//   End       the end record was read; consumed ends right after it
//   Error     a record would take the upload past `granted` (error() says so); the caller
//             closes the stream without a result
// After End or Error put() consumes nothing and repeats the status.
class UploadDecoder {
 public:
  enum class Status : std::uint8_t { NeedMore, Data, End, Error };
  struct Step {
    Status status = Status::NeedMore;
    std::size_t consumed = 0;
    ByteView data;
  };
  explicit UploadDecoder(std::uint64_t granted) : granted_(granted) {}
  Step put(ByteView in);
  std::uint64_t received() const { return received_; }
  std::string error() const;

 private:
  std::uint64_t granted_, received_ = 0;
  std::uint32_t left_ = 0;  // data bytes still to come in the current record
  std::array<std::uint8_t, 2> head_{};
  std::size_t have_ = 0;
  std::uint32_t bad_record_ = 0;
  Status status_ = Status::NeedMore;
};

// Writes the record header for `n` (1..kMaxUploadRecord) data bytes, or the end record (n 0).
std::array<std::uint8_t, 2> upload_record_header(std::size_t n);

// A byte count as given on a command line: digits with an optional unit, B, k/KB (1000),
// KiB (1024), M/MB, MiB, G/GB, GiB ("20MiB", "100MB", "5000"; case-insensitive). Error
// (errc::invalid_argument) naming the text: empty, no digits, unknown unit, overflow.
Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace paniq::socks5::speedtest
