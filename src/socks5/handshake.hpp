// Server side of the SOCKS5 handshake (RFC 1928 3-4, RFC 1929) as an incremental parser
// (STYLE.md 6, Boost.Beast put semantics): feed whatever bytes arrived, send what it outputs,
// act on the status. It never blocks and never reads a clock: the shell applies the
// negotiation timeout and the connection limit around it.
//
// Behaviour (PROTOCOL.md 9, with the deviations the task chose, all interoperable):
// * Greeting `05 NMETHODS METHODS`: VER != 5 -> Close (no reply). Without credentials 00 must
//   be offered -> `05 00` (the reference answers 05 00 even when it is not); otherwise `05 FF`
//   and close. With credentials 02 must be offered -> `05 02`; otherwise `05 FF` and close.
// * RFC 1929 `01 ULEN UNAME PLEN PASSWD`: VER != 1 -> Close (no reply; the reference does not
//   check); ULEN or PLEN 0 -> `01 01` and close (the reference closes silently); credentials
//   compared in constant time; match -> `01 00`; mismatch -> `01 01` and close (the reference
//   sends 01 FF; RFC 1929 allows any non-zero status).
// * Request `05 CMD RSV ATYP DST.ADDR DST.PORT`, checked in the reference's order once the
//   first 4 bytes are in: VER != 5 -> Close (no reply); CMD not CONNECT/UDP ASSOCIATE (BIND
//   included) -> reply 07 and close; ATYP not 1/3/4, domain length 0 or a non-UTF-8 domain ->
//   reply 08 and close. RSV is not checked (lenient, as the reference).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "socks5/address.hpp"
#include "socks5/reply.hpp"

namespace paniq::socks5 {

struct HandshakeConfig {
  // RFC 1929 credentials (one user). Both empty = no authentication (method 00 only); set =
  // username/password required (method 02 only).
  std::string username;
  std::string password;

  static HandshakeConfig defaults() { return HandshakeConfig{}; }
  bool requires_auth() const { return !username.empty() || !password.empty(); }
  // Returns the first broken rule, naming the field ("socks5.password: empty while a username
  // is set"); error code Errc::invalid_config. Both must be 1..255 bytes when either is set.
  Result<void> validate() const;
};

struct Request {
  Command command = Command::Connect;  // Connect or UdpAssociate (others are refused)
  Address target;                      // DST as sent (domains unresolved)
  friend bool operator==(const Request&, const Request&) = default;
};

class ServerHandshake {
 public:
  enum class Status : std::uint8_t {
    NeedMore,       // all input taken; call put() again when more arrives
    Done,           // request() is valid; bytes of `in` past `consumed` are application data
    ReplyAndClose,  // send `output` (the failure reply), then close the connection
    Close,          // close without a reply to the failing message
  };
  enum class Phase : std::uint8_t { Methods, Auth, Request, Finished };

  // `output`: bytes the caller must send, in order, before acting on `status` (method
  // selection, auth status, failure reply). Views the parser's buffer: valid until the next
  // put(). `consumed` never exceeds the input size; after a terminal status put() consumes
  // nothing and outputs nothing.
  struct Step {
    Status status = Status::NeedMore;
    std::size_t consumed = 0;
    ByteView output;
  };

  // `config` must be valid (validate()) and outlive the parser.
  explicit ServerHandshake(const HandshakeConfig& config) : config_(&config) {}

  Step put(ByteView in);

  Status status() const { return status_; }
  Phase phase() const { return phase_; }
  // The parsed request; meaningful only once status() is Done.
  const Request& request() const { return request_; }
  // Why the handshake ended without Done ("" otherwise), for logs.
  const char* failure_reason() const { return reason_; }

 private:
  std::size_t message_size();
  std::size_t greeting_size();
  std::size_t auth_size();
  std::size_t request_size();
  void finish_message();
  void finish_greeting();
  void finish_auth();
  void finish_request();
  void emit(ByteView bytes);
  void fail(Status status, const char* reason);
  void fail_reply(ReplyCode code, const char* reason);

  const HandshakeConfig* config_;
  Status status_ = Status::NeedMore;
  Phase phase_ = Phase::Methods;
  // Longest message: the RFC 1929 request, 3 + 255 + 255 bytes.
  std::array<std::uint8_t, 3 + 255 + 255> buf_{};
  std::size_t have_ = 0;
  std::array<std::uint8_t, 16> out_{};  // at most 05 xx + 01 xx + a 10-byte failure reply
  std::size_t out_len_ = 0;
  Request request_;
  const char* reason_ = "";
};

}  // namespace paniq::socks5
