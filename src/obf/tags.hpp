// Constructors of the eight chain tags (PROTOCOL.md 3.2), one small file per tag group.
// Internal to the obf layer: Chain::parse is the public entry point.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "core/result.hpp"
#include "obf/chain.hpp"

namespace paniq::obf::tags {

using TagPtr = std::shared_ptr<const Tag>;

// Largest N accepted by <r>, <rc>, <rd>, <dz> (and the largest <b> byte string): a signature
// is one UDP datagram, so nothing bigger can be sent. The reference accepts any usize and
// would abort allocating; we refuse at parse time instead.
constexpr std::size_t kMaxTagLen = 65535;

// Parses a length argument like Rust `usize` (3.2). Errors: Rust's ParseIntError text, or
// "length above the 65535-byte datagram limit". Errc::bad_chain.
Result<std::size_t> parse_length(std::string_view arg);

Result<TagPtr> make_bytes(std::string_view arg);  // <b HEX>      tag_bytes.cpp
TagPtr make_time();                                // <t>          tag_time.cpp
enum class RandomKind { bytes, letters, digits };  // <r> <rc> <rd>
Result<TagPtr> make_random(RandomKind kind, std::string_view arg);  // tag_random.cpp
TagPtr make_data();                                // <d>          tag_data.cpp
TagPtr make_data_string();                         // <ds>         tag_data.cpp
Result<TagPtr> make_size(std::string_view arg);    // <dz N>       tag_size.cpp

}  // namespace paniq::obf::tags
