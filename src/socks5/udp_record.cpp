#include "socks5/udp_record.hpp"

#include <algorithm>
#include <stdexcept>

namespace paniq::socks5 {

std::size_t encode_udp_record_prefix(MutByteView out, const Address& a, std::size_t data_len) {
  const std::size_t header = udp_header_size(a);
  if (out.size() < kRecordLengthSize + header || data_len > 65535 - header) return 0;
  put_u16_be(out.data(), static_cast<std::uint16_t>(header + data_len));
  encode_udp_header(out.subspan(kRecordLengthSize), a);
  return kRecordLengthSize + header;
}

bool encode_record_length(std::array<std::uint8_t, kRecordLengthSize>& out,
                          std::size_t datagram_len) {
  if (datagram_len > 65535) return false;
  put_u16_be(out.data(), static_cast<std::uint16_t>(datagram_len));
  return true;
}

Bytes encode_udp_record(ByteView datagram) {
  std::array<std::uint8_t, kRecordLengthSize> len{};
  if (!encode_record_length(len, datagram.size())) {
    throw std::length_error("UDP ASSOCIATE record over 65535 bytes");
  }
  Bytes out(kRecordLengthSize + datagram.size());
  std::copy(len.begin(), len.end(), out.begin());
  std::copy(datagram.begin(), datagram.end(), out.begin() + kRecordLengthSize);
  return out;
}

UdpRecordDecoder::Step UdpRecordDecoder::next(ByteView in) {
  Step s;
  if (failed_) {
    s.status = Status::Error;
    s.error = Errc::record_too_large;
    return s;
  }
  if (delivered_from_body_) {
    body_.clear();
    delivered_from_body_ = false;
  }
  std::size_t used = 0;
  if (len_have_ < kRecordLengthSize) {
    const std::size_t n = std::min(kRecordLengthSize - len_have_, in.size());
    std::copy_n(in.begin(), n, len_buf_.begin() + static_cast<std::ptrdiff_t>(len_have_));
    len_have_ += n;
    used = n;
    s.consumed = used;
    if (len_have_ < kRecordLengthSize) return s;
    length_ = get_u16_be(len_buf_.data());
    if (length_ > max_) {
      failed_ = true;
      s.status = Status::Error;
      s.error = Errc::record_too_large;
      return s;
    }
  }
  const ByteView rest = in.subspan(used);
  if (body_.empty() && rest.size() >= length_) {  // whole record in this input: no copy
    s.record = rest.first(length_);
    used += length_;
  } else {
    const std::size_t n = std::min(length_ - body_.size(), rest.size());
    body_.insert(body_.end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n));
    used += n;
    s.consumed = used;
    if (body_.size() < length_) return s;
    s.record = body_;
    delivered_from_body_ = true;
  }
  s.status = Status::Record;
  s.consumed = used;
  len_have_ = 0;
  return s;
}

}  // namespace paniq::socks5
