// The compact CBOR profile and its base64 wrapping (PROTOCOL.md 11): byte-compatible with the
// reference encoder (11.1) and decoder (11.2), vectors in tests/vectors/cbor-profile-vectors.json.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "profile/profile.hpp"

namespace paniq::profile {

// Encodes `p` exactly as the reference does (ascending integer keys, defaults omitted,
// proxy_addr as address bytes when it is an IP socket address, headers as integer / [start, end]
// / text). The format cannot carry some fields; when `notes` is given, one line is appended for
// each thing the decoder will not get back (KCP windows and flush interval, default padding,
// classify_mode) and a warning when server_private_key is included (give clients
// client_view(p) instead). Our extension fields (encryption, client_private_key,
// rekey_interval, classify_mode, servers, server_select, hop_interval, the kcp extensions) go
// in the extension map under text key "x" (docs/protocol.md 8.2), written only when one of
// them is not its default: a profile without extensions gives the reference's bytes exactly.
// Error (Errc::cbor) only when a key is not valid base64; the message names the field.
Result<Bytes> encode_compact_profile(const Profile& p, std::vector<std::string>* notes = nullptr);

// Decodes a compact profile with the reference's rules: top level must be a map with key 0 = 1;
// unknown keys and values of unexpected types are ignored; integers that do not fit their field
// become 0; defaults as 11.2 (handshake_timeout 5 s, ...). The extension map "x" is read
// strictly (a value of the wrong type or an unknown choice is an error naming the field).
// Errors (Errc::cbor): malformed CBOR, "expected CBOR map", "missing version", "unsupported
// version N", bad extension values. Trailing bytes are ignored (as the reference does). The
// result is NOT validated: call validate_profile before using it.
Result<Profile> decode_compact_profile(ByteView data);

// Standard base64 (with '=' padding) of encode_compact_profile.
Result<std::string> encode_profile_base64(const Profile& p, std::vector<std::string>* notes = nullptr);
// Removes all ASCII whitespace, base64-decodes (standard alphabet, padded) and decodes.
Result<Profile> decode_profile_base64(std::string_view text);

}  // namespace paniq::profile
