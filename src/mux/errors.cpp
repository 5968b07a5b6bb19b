#include "mux/errors.hpp"

#include <string>

namespace paniq::mux {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mux"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::would_block: return "no data available yet";
      case Errc::stream_closed: return "stream write side is closed";
      case Errc::unknown_stream: return "unknown stream id";
      case Errc::too_many_streams: return "too many open streams";
      case Errc::ids_exhausted: return "stream ids exhausted";
      case Errc::session_failed: return "mux session failed";
      case Errc::recv_overflow: return "stream reset: reader too slow, receive buffer full";
      case Errc::duplicate_syn: return "stream reset: peer opened a live stream id again";
      case Errc::bad_version: return "smux frame with version other than 1";
      case Errc::bad_command: return "smux frame with unknown command";
      case Errc::bad_offset: return "smux PSH@ frame ahead of its stream's data";
      case Errc::frame_too_large: return "smux frame length over the limit";
      case Errc::transport_closed: return "transport under the mux session closed";
      case Errc::invalid_config: return "invalid mux configuration";
    }
    return "unknown mux error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace paniq::mux
