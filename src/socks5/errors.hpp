// Errors of the socks5 layer (STYLE.md 5): one enum, one std::error_category. Value 0 (`ok`)
// is success, so a std::error_code made from Errc::ok tests false.
#pragma once

#include <system_error>

namespace paniq::socks5 {

enum class Errc {
  ok = 0,
  truncated,           // a complete message was expected but the bytes end early
  bad_version,         // version byte not 5 (SOCKS) / not 1 (stream-open, RFC 1929)
  bad_address_type,    // ATYP not 1, 3 or 4
  empty_domain,        // domain length 0
  domain_too_long,     // domain above 255 bytes (building an Address)
  invalid_domain,      // domain bytes are not UTF-8 where the reference requires UTF-8
  bad_reserved,        // SOCKS5 UDP header RSV not 0
  fragmented,          // SOCKS5 UDP header FRAG not 0 (fragmentation is not supported)
  record_too_large,    // UDP ASSOCIATE stream record length above the decoder's limit
  buffer_too_small,    // an encoder's output span cannot hold the message
  invalid_config,
};

const std::error_category& error_category();
std::error_code make_error_code(Errc e);

}  // namespace paniq::socks5

template <>
struct std::is_error_code_enum<paniq::socks5::Errc> : std::true_type {};
