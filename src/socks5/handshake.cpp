#include "socks5/handshake.hpp"

#include <algorithm>

#include "socks5/fill.hpp"

namespace paniq::socks5 {
namespace {

// Compares a received credential with the configured one in time that depends on neither's
// contents nor the configured length (always 255 rounds; both are at most 255 bytes).
bool ct_equal_credential(ByteView received, ByteView expected) {
  unsigned diff = received.size() == expected.size() ? 0u : 1u;
  for (std::size_t i = 0; i < 255; ++i) {
    const std::uint8_t a = i < received.size() ? received[i] : 0;
    const std::uint8_t b = i < expected.size() ? expected[i] : 0;
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0;
}

}  // namespace

Result<void> HandshakeConfig::validate() const {
  if (!requires_auth()) return {};
  if (username.empty()) {
    return make_error(Errc::invalid_config, "socks5.username: empty while a password is set");
  }
  if (password.empty()) {
    return make_error(Errc::invalid_config, "socks5.password: empty while a username is set");
  }
  if (username.size() > 255) {
    return make_error(Errc::invalid_config, "socks5.username: " + std::to_string(username.size()) +
                                                " bytes: must be at most 255 (RFC 1929)");
  }
  if (password.size() > 255) {
    return make_error(Errc::invalid_config, "socks5.password: " + std::to_string(password.size()) +
                                                " bytes: must be at most 255 (RFC 1929)");
  }
  return {};
}

ServerHandshake::Step ServerHandshake::put(ByteView in) {
  out_len_ = 0;
  std::size_t used = 0;
  while (status_ == Status::NeedMore) {
    const std::size_t target = message_size();
    if (status_ != Status::NeedMore) break;
    if (have_ >= target) {
      finish_message();
      continue;
    }
    if (detail::fill_to(buf_.data(), have_, target, in, used) == 0) break;
  }
  return Step{status_, used, ByteView(out_.data(), out_len_)};
}

// Bytes the current message needs, as far as the buffered prefix tells; may end the handshake
// (status_) on a prefix that is already wrong.
std::size_t ServerHandshake::message_size() {
  switch (phase_) {
    case Phase::Methods: return greeting_size();
    case Phase::Auth: return auth_size();
    case Phase::Request: return request_size();
    case Phase::Finished: break;
  }
  return have_;
}

std::size_t ServerHandshake::greeting_size() {
  if (have_ >= 1 && buf_[0] != kSocksVersion) {
    fail(Status::Close, "greeting version not 5");
    return 0;
  }
  if (have_ < 1) return 1;  // each check runs on exactly the bytes it needs, whatever the split
  if (have_ < 2) return 2;
  return std::size_t{2} + buf_[1];
}

std::size_t ServerHandshake::auth_size() {
  if (have_ >= 1 && buf_[0] != kAuthVersion) {
    fail(Status::Close, "username/password version not 1");
    return 0;
  }
  if (have_ < 1) return 1;
  if (have_ < 2) return 2;
  const std::size_t ulen = buf_[1];
  if (ulen == 0) {
    emit(auth_status(kAuthFailure));
    fail(Status::ReplyAndClose, "empty username");
    return 0;
  }
  if (have_ < 3 + ulen) return 3 + ulen;
  const std::size_t plen = buf_[2 + ulen];
  if (plen == 0) {
    emit(auth_status(kAuthFailure));
    fail(Status::ReplyAndClose, "empty password");
    return 0;
  }
  return 3 + ulen + plen;
}

std::size_t ServerHandshake::request_size() {
  if (have_ >= 1 && buf_[0] != kSocksVersion) {
    fail(Status::Close, "request version not 5");
    return 0;
  }
  if (have_ < 1) return 1;
  if (have_ < 4) return 4;
  const auto cmd = static_cast<Command>(buf_[1]);
  if (cmd != Command::Connect && cmd != Command::UdpAssociate) {
    fail_reply(ReplyCode::CommandNotSupported, "command not supported");
    return 0;
  }
  const FieldSize fs = address_field_size(ByteView(buf_.data() + 3, have_ - 3));
  if (fs.error != Errc::ok) {
    fail_reply(ReplyCode::AddressTypeNotSupported,
               fs.error == Errc::empty_domain ? "empty domain" : "address type not supported");
    return 0;
  }
  if (fs.size == 0) return 5;  // the domain length byte
  return 3 + fs.size;
}

void ServerHandshake::finish_message() {
  switch (phase_) {
    case Phase::Methods: finish_greeting(); break;
    case Phase::Auth: finish_auth(); break;
    case Phase::Request: finish_request(); break;
    case Phase::Finished: break;
  }
  have_ = 0;
}

void ServerHandshake::finish_greeting() {
  const ByteView methods(buf_.data() + 2, buf_[1]);
  const auto offered = [&](std::uint8_t m) {
    return std::find(methods.begin(), methods.end(), m) != methods.end();
  };
  const std::uint8_t wanted = config_->requires_auth() ? kMethodUserPass : kMethodNoAuth;
  if (!offered(wanted)) {
    emit(method_selection(kMethodNoAcceptable));
    fail(Status::ReplyAndClose, "no acceptable authentication method offered");
    return;
  }
  emit(method_selection(wanted));
  phase_ = wanted == kMethodUserPass ? Phase::Auth : Phase::Request;
}

void ServerHandshake::finish_auth() {
  const std::size_t ulen = buf_[1];
  const ByteView user(buf_.data() + 2, ulen);
  const ByteView pass(buf_.data() + 3 + ulen, buf_[2 + ulen]);
  const bool user_ok = ct_equal_credential(user, as_bytes(config_->username));
  const bool pass_ok = ct_equal_credential(pass, as_bytes(config_->password));
  if (!(user_ok & pass_ok)) {
    emit(auth_status(kAuthFailure));
    fail(Status::ReplyAndClose, "wrong username or password");
    return;
  }
  emit(auth_status(kAuthSuccess));
  phase_ = Phase::Request;
}

void ServerHandshake::finish_request() {
  const AddressDecode d =
      decode_address(ByteView(buf_.data() + 3, have_ - 3), DomainCheck::Utf8);
  if (d.error != Errc::ok) {
    fail_reply(ReplyCode::AddressTypeNotSupported, "domain not UTF-8");
    return;
  }
  request_.command = static_cast<Command>(buf_[1]);
  request_.target = d.address;
  status_ = Status::Done;
  phase_ = Phase::Finished;
}

void ServerHandshake::emit(ByteView bytes) {
  std::copy(bytes.begin(), bytes.end(), out_.begin() + static_cast<std::ptrdiff_t>(out_len_));
  out_len_ += bytes.size();
}

void ServerHandshake::fail(Status status, const char* reason) {
  status_ = status;
  phase_ = Phase::Finished;
  reason_ = reason;
}

void ServerHandshake::fail_reply(ReplyCode code, const char* reason) {
  emit(error_reply(code).bytes());
  fail(Status::ReplyAndClose, reason);
}

}  // namespace paniq::socks5
