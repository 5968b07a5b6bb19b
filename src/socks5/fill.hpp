// Internal helper of the incremental parsers: copies bytes from the input into a message
// buffer, never past the size the message is known to need (so bytes of the next message, or
// pipelined application data, stay with the caller).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"

namespace paniq::socks5::detail {

// Copies up to `target - have` bytes of in[used..] to buf[have..]; advances `have`, `used`.
// Returns the number of bytes copied (0 = the input is exhausted or the target reached).
inline std::size_t fill_to(std::uint8_t* buf, std::size_t& have, std::size_t target, ByteView in,
                           std::size_t& used) {
  if (have >= target || used >= in.size()) return 0;
  const std::size_t n = std::min(target - have, in.size() - used);
  std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(used), n, buf + have);
  have += n;
  used += n;
  return n;
}

}  // namespace paniq::socks5::detail
