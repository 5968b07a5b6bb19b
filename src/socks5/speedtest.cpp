#include "socks5/speedtest.hpp"

#include <algorithm>
#include <string>
#include <system_error>

namespace paniq::socks5::speedtest {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Error size_error(std::string_view text, const char* why) {
  std::string msg;
  msg.reserve(text.size() + 64);
  msg.append(1, '"').append(text).append("\": ").append(why).append(" (expected e.g. 20MiB, 100MB, 5000)");
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(msg)};
}

}  // namespace

bool is_target(const Address& a) {
  return a.type() == AddressType::Domain && equal_ignoring_case(a.domain_name(), kHost);
}

std::optional<Mode> mode_for_port(std::uint16_t port) {
  switch (port) {
    case 1: return Mode::download;
    case 2: return Mode::upload;
    case 3: return Mode::echo;
    default: return std::nullopt;
  }
}

Address target(Mode m) { return Address::domain(kHost, static_cast<std::uint16_t>(m)).value(); }

const char* to_string(Mode m) {
  switch (m) {
    case Mode::download: return "download";
    case Mode::upload: return "upload";
    case Mode::echo: return "echo";
  }
  return "?";
}

std::array<std::uint8_t, kRequestSize> encode_request(const Request& r) {
  std::array<std::uint8_t, kRequestSize> out{};
  put_u64_be(out.data(), r.bytes);
  for (std::size_t i = 0; i < kKeySize; ++i) out[8 + i] = r.key[i];
  return out;
}

Request decode_request(ByteView in) {
  Request r;
  r.bytes = get_u64_be(in.data());
  for (std::size_t i = 0; i < kKeySize; ++i) r.key[i] = in[8 + i];
  return r;
}

std::array<std::uint8_t, kGrantSize> encode_grant(std::uint64_t granted) {
  std::array<std::uint8_t, kGrantSize> out{};
  put_u64_be(out.data(), granted);
  return out;
}

std::uint64_t decode_grant(ByteView in) { return get_u64_be(in.data()); }

std::array<std::uint8_t, kUploadResultSize> encode_upload_result(const UploadResult& r) {
  std::array<std::uint8_t, kUploadResultSize> out{};
  put_u64_be(out.data(), r.received);
  put_u64_be(out.data() + 8, r.elapsed_us);
  out[16] = r.intact ? 1 : 0;
  return out;
}

Result<UploadResult> decode_upload_result(ByteView in) {
  if (in[16] > 1) {
    return Error{std::make_error_code(std::errc::bad_message),
                 "speedtest upload result: intact byte " + std::to_string(in[16]) + ": must be 0 or 1"};
  }
  return UploadResult{get_u64_be(in.data()), get_u64_be(in.data() + 8), in[16] == 1};
}

UploadDecoder::Step UploadDecoder::put(ByteView in) {
  if (status_ == Status::End || status_ == Status::Error) return {status_, 0, {}};
  std::size_t used = 0;
  while (left_ == 0) {
    if (used == in.size()) return {Status::NeedMore, used, {}};
    head_[have_++] = in[used++];
    if (have_ < head_.size()) continue;
    have_ = 0;
    left_ = static_cast<std::uint32_t>(head_[0]) << 8 | head_[1];
    if (left_ == 0) {
      status_ = Status::End;
      return {status_, used, {}};
    }
    if (left_ > granted_ - received_) {
      bad_record_ = left_;
      status_ = Status::Error;
      return {status_, used, {}};
    }
  }
  const std::size_t n = std::min<std::size_t>(left_, in.size() - used);
  if (n == 0) return {Status::NeedMore, used, {}};
  left_ -= static_cast<std::uint32_t>(n);
  received_ += n;
  return {Status::Data, used + n, in.subspan(used, n)};
}

std::string UploadDecoder::error() const {
  if (status_ != Status::Error) return {};
  return "upload record of " + std::to_string(bad_record_) + " bytes after " + std::to_string(received_) +
         " would pass the granted " + std::to_string(granted_);
}

std::array<std::uint8_t, 2> upload_record_header(std::size_t n) {
  return {static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
}

Result<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const auto d = static_cast<std::uint64_t>(text[i] - '0');
    if (n > (UINT64_MAX - d) / 10) return size_error(text, "too large");
    n = n * 10 + d;
  }
  if (i == 0) return size_error(text, "no number");
  std::string unit;
  for (; i < text.size(); ++i) unit += lower(text[i]);
  struct Unit {
    const char* name;
    std::uint64_t factor;
  };
  static constexpr Unit kUnits[] = {{"", 1},          {"b", 1},           {"k", 1000},
                                    {"kb", 1000},      {"kib", 1ull << 10}, {"m", 1000'000},
                                    {"mb", 1000'000},  {"mib", 1ull << 20}, {"g", 1000'000'000},
                                    {"gb", 1000'000'000}, {"gib", 1ull << 30}};
  for (const Unit& u : kUnits) {
    if (unit != u.name) continue;
    if (n > UINT64_MAX / u.factor) return size_error(text, "too large");
    return n * u.factor;
  }
  return size_error(text, "unknown unit");
}

}  // namespace paniq::socks5::speedtest
