#include "socks5/stream_open.hpp"

#include "socks5/fill.hpp"

namespace paniq::socks5 {

std::size_t encode_open_request(MutByteView out, const OpenRequest& r) {
  const std::size_t n = 2 + r.target.wire_size();
  if (out.size() < n) return 0;
  out[0] = kOpenVersion;
  out[1] = static_cast<std::uint8_t>(r.command);
  r.target.encode(out.subspan(2));
  return n;
}

Bytes encode_open_request(const OpenRequest& r) {
  Bytes out(2 + r.target.wire_size());
  encode_open_request(out, r);
  return out;
}

ReplyCode reply_code_from_open_reply(std::uint8_t byte) {
  if (byte <= static_cast<std::uint8_t>(ReplyCode::AddressTypeNotSupported)) {
    return static_cast<ReplyCode>(byte);
  }
  return ReplyCode::GeneralFailure;
}

OpenRequestDecoder::Step OpenRequestDecoder::put(ByteView in) {
  std::size_t used = 0;
  while (status_ == Status::NeedMore) {
    const std::size_t target = message_size();
    if (status_ != Status::NeedMore) break;
    if (have_ >= target) {
      finish();
      break;
    }
    if (detail::fill_to(buf_.data(), have_, target, in, used) == 0) break;
  }
  return Step{status_, used, error_};
}

// Bytes the request needs as far as the buffered prefix tells; sets Error on a wrong prefix.
std::size_t OpenRequestDecoder::message_size() {
  if (have_ >= 1 && buf_[0] != kOpenVersion) {
    status_ = Status::Error;
    error_ = Errc::bad_version;
    return 0;
  }
  if (have_ < 1) return 1;  // each check runs on exactly the bytes it needs, whatever the split
  if (have_ < 3) return 3;
  const FieldSize fs = address_field_size(ByteView(buf_.data() + 2, have_ - 2));
  if (fs.error != Errc::ok) {
    status_ = Status::Error;
    error_ = fs.error;
    return 0;
  }
  if (fs.size == 0) return 4;  // the domain length byte
  return 2 + fs.size;
}

void OpenRequestDecoder::finish() {
  const AddressDecode d = decode_address(ByteView(buf_.data() + 2, have_ - 2), DomainCheck::Utf8);
  if (d.error != Errc::ok) {
    status_ = Status::Error;
    error_ = d.error;
    return;
  }
  request_.command = static_cast<Command>(buf_[1]);
  request_.target = d.address;
  status_ = Status::Done;
}

}  // namespace paniq::socks5
