// Profile validation (reference rules of PROTOCOL.md 2.1.4 plus the size checks the reference
// forgets, 17.25) and the conversions into the per-layer configs used by the daemons.
#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"
#include "envelope/config.hpp"
#include "obf/types.hpp"
#include "profile/addr.hpp"
#include "profile/profile.hpp"

namespace paniq::profile {

inline constexpr std::uint64_t kMinPacketSize = 64;
inline constexpr std::uint64_t kMaxPacketSize = 65507;  // largest UDP payload over IPv4
// Largest Initiation payload we may send (Go-style encrypted timestamp + MAC1, PROTOCOL.md 15).
inline constexpr std::uint64_t kMaxInitiationPayload = 101;
inline constexpr std::uint64_t kResponsePayload = 4;  // u32 LE conv
inline constexpr std::uint64_t kHeaderLen = 4;        // magic header
inline constexpr std::uint64_t kKcpHeaderLen = 24;
inline constexpr std::uint64_t kWindowLimit = 65535;  // KCP wnd field is 16 bits

// Checks every rule and returns the first one broken, its message naming the field path and the
// bad value (`obfuscation.h2: "9-3": start above end`, `kcp.max_packet_size: 50: must be between
// 64 and 65507`). Non-fatal findings (window above 65535, pad_burst_prob outside [0, 1]) are
// appended to `warnings`. The caller must not use a profile that failed.
Result<void> validate_profile(const Profile& p, std::vector<std::string>& warnings);

// The profile's `hop_interval` ("30s-60s", or one duration): nullopt when malformed, under
// 100 ms or backwards.
std::optional<std::pair<Millis, Millis>> parse_hop_interval(std::string_view text);

// Obfuscation config for the Framer: empty h specs become "1".."4", S values are the profile's.
// Precondition: validate_profile succeeded (an unparseable header falls back to its default,
// a negative S to 0).
obf::Config obf_config(const Profile& p);

// Transport padding policy: disabled when `transport_padding` is absent; pad_burst_prob clamped
// to [0, 1] (NaN -> 0); values above 2^32-1 saturate (validation keeps them <= max_packet_size).
envelope::PaddingPolicy padding_policy(const Profile& p);

// Inputs of the 5.4 size derivation (kcp defaults 1350 / 1200 when the section is absent).
envelope::SizeInputs size_inputs(const Profile& p);

// proxy_addr as a socket address, as socks5d needs it. Error (Errc::invalid_value):
// `proxy_addr: "host:1": invalid socket address (expected IP:port or [IPv6]:port)`.
Result<SocketAddr> client_proxy_addr(const Profile& p);

}  // namespace paniq::profile
