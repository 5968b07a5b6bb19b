#include "tunnel/errors.hpp"

#include <string>

namespace paniq::tunnel {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tunnel"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::handshake_timeout: return "handshake timed out: no response from the server";
      case Errc::initiation_failed: return "cannot build the handshake initiation";
      case Errc::kcp_dead_link: return "KCP dead link: a segment was never acknowledged";
      case Errc::liveness_timeout: return "server silent: no answer to outstanding data";
      case Errc::mux_failed: return "smux session failed";
      case Errc::idle_timeout: return "session idle timeout";
      case Errc::half_open_timeout: return "no transport after the handshake";
      case Errc::closed: return "session closed";
      case Errc::revoked: return "user revoked";
      case Errc::port_unreachable: return "proxy port unreachable (ICMP)";
      case Errc::hop: return "replaced to hop to another port";
      case Errc::open_failed: return "stream open failed";
      case Errc::invalid_config: return "invalid tunnel configuration";
    }
    return "unknown tunnel error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace paniq::tunnel
