// Text helpers that reproduce the Rust standard library's rules the reference relies on:
// integer parsing (`str::parse::<u32>()` / `<usize>()`) and Unicode whitespace (`str::trim`,
// `split_whitespace`). Internal to the obf layer.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace paniq::obf::text {

// Parses `s` as an unsigned decimal no larger than `max`, like Rust: optional single leading
// '+', digits only, no whitespace, no '-'. Returns nullptr and sets `out` on success; on
// failure returns Rust's ParseIntError text ("cannot parse integer from empty string",
// "invalid digit found in string", "number too large to fit in target type") and leaves `out`.
const char* parse_unsigned(std::string_view s, std::uint64_t max, std::uint64_t& out);

// Length in bytes of the Unicode White_Space character (UTF-8) starting at s[pos], 0 if none.
std::size_t whitespace_len(std::string_view s, std::size_t pos);
// `s` without leading and trailing Unicode whitespace.
std::string_view trim(std::string_view s);
// The pieces joined (one allocation; also avoids GCC 12's -Wrestrict false positive on
// chained std::string operator+).
std::string concat(std::initializer_list<std::string_view> parts);

// Non-empty pieces of `s` separated by Unicode whitespace (Rust `split_whitespace`).
std::vector<std::string_view> split_whitespace(std::string_view s);

}  // namespace paniq::obf::text
