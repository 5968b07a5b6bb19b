// ServerEndpoint's per-session record, shared by server.cpp and server_plain.cpp (internal to
// the tunnel library).
#pragma once

#include <optional>
#include <string>

#include "tunnel/server.hpp"

namespace paniq::tunnel {

struct ServerEndpoint::Session {
  Session(ServerSessionId id_, const PeerAddr& peer_, std::uint32_t conv_,
          const LinkConfig& cfg, const obf::Framer& framer, Rng& rng, TimeMs now,
          const envelope::SecureKeys* keys)
      : id(id_), peer(peer_), conv(conv_), link(cfg, conv_, framer, rng, now, keys), created(now),
        last_rx(now) {}

  ServerSessionId id;
  PeerAddr peer;
  std::uint32_t conv;
  Link link;
  std::uint32_t rid = 0;                     // encrypted: our receiver id
  std::optional<crypto::Key32> client_key;   // encrypted IK: the client's static key
  std::string user;                          // its name in the users table
  PeerAddr roam_peer;                        // plain: candidate new address
  std::uint32_t roam_count = 0;              // consecutive plausible datagrams from it
  PeerAddr origin;                           // plain: the address its conv was issued to
  TimeMs conv_valid_until = 0;               // plain: until then the conv would verify again
  Bytes response;      // encrypted: re-sent for an identical Initiation while half-open
  Digest init_digest{};
  std::uint32_t repeats = 0;  // identical Initiations answered again
  std::uint64_t syn_over_limit_seen = 0;  // its mux's syn_over_limit already counted
  bool half_open = true;  // encrypted: no transport accepted yet (plain sessions never are)
  TimeMs created;
  TimeMs last_rx;
  TimerSet::iterator timer{};
  bool has_timer = false;
  bool dirty = false;  // in dirty_
  bool in_tx = false;  // in tx_order_
};

}  // namespace paniq::tunnel
