// pnq:// share links (docs/protocol.md 8): a client profile in one line that fits a QR code.
//
//   pnq://<base64url of the compact CBOR profile, no padding>[#<percent-encoded name>]
//
// The payload is encode_compact_profile's bytes (PROTOCOL.md 11 plus our extension map), so a
// link carries everything a client needs, encryption settings included. A link never carries a
// server private key: encode_link refuses such a profile and decode_link refuses such a link.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "profile/profile.hpp"

namespace paniq::profile {

inline constexpr std::string_view kLinkScheme = "pnq://";
// Longest link decode_link reads (characters, whole link). A QR code holds at most 2953 bytes;
// links are far smaller (a generated client profile gives about 400 characters).
inline constexpr std::size_t kMaxLinkLength = 8192;
// Longest name after '#', in bytes once percent-decoded.
inline constexpr std::size_t kMaxLinkNameBytes = 256;

// The link of client profile `p`, with "#<name>" when `with_name` and p.name is not empty.
// `notes` as encode_compact_profile (what the compact form does not carry). Errors:
// Errc::link "obfuscation.server_private_key: ..." when the profile holds a server private key
// (the caller must pass client_view(p), or a per-user client profile); Errc::cbor when a key is
// not valid base64.
Result<std::string> encode_link(const Profile& p, bool with_name = true,
                                std::vector<std::string>* notes = nullptr);

// True when `text`, after surrounding ASCII whitespace, starts with "pnq://" (scheme compared
// without regard to case). Tells a link from a file name or JSON text.
bool looks_like_link(std::string_view text);
// True when `text` (trimmed) starts with any URL scheme and "://" ("https://", "vless://"):
// callers that take "a link or a file" decode such text as a link when no file has that name,
// so a link of another scheme gets decode_link's "wrong scheme" message.
bool has_url_scheme(std::string_view text);

// Decodes a link (surrounding ASCII whitespace ignored) and validates the profile
// (validate_profile; its warnings are appended to `warnings`). A non-empty "#name" replaces the
// profile's name. Every error is Errc::link with a message starting "pnq:// link: " that says
// what is wrong: wrong scheme, over-long input, a bad base64url character and its position
// (counting from 1), a truncated payload, truncated or invalid CBOR, trailing bytes after the
// CBOR item, unsupported version, a server private key inside, no server address, a bad
// percent-escape or invalid UTF-8 in the name, or a profile rule broken (the field's message).
Result<Profile> decode_link(std::string_view link, std::vector<std::string>& warnings);

// "#name" encoding: RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) as they are, every
// other byte as %XX (upper-case hex).
std::string percent_encode_name(std::string_view name);

// Base64url (RFC 4648 section 5) without padding, and its strict inverse; the decoder's error
// message names the first bad character and its position (from 1) plus `offset`.
std::string base64url_encode(ByteView data);
Result<Bytes> base64url_decode(std::string_view text, std::size_t offset = 0);

}  // namespace paniq::profile
