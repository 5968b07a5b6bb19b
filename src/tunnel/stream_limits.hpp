// The per-user stream cap of the server (proxy-server `max_streams_per_user`, docs/tunnel.md
// "Stream limits"): how many streams each user may have served at once across all of that
// user's sessions (a phone and a laptop of one user share one cap). Pure bookkeeping: the
// shell asks acquire() before serving a stream and calls release() when the stream ends (also
// when its session ended); what to answer and what to log stays in the shell.
//
// Sessions without a user ("": no users file, or plain mode) are not limited here; they are
// limited per session by the mux (kcp.max_streams) and server-wide by max_connections.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace paniq::tunnel {

class UserStreamLimits {
 public:
  struct Counts {
    std::uint64_t active = 0;   // streams held now
    std::uint64_t refused = 0;  // acquire() calls refused since start
  };

  // `default_cap`: the cap of a user without an override (0 is taken as 1).
  explicit UserStreamLimits(std::uint64_t default_cap = 256);

  // Replaces the per-user caps (users file `max_streams`; 0 values are taken as 1). Streams
  // already held stay held; a lowered cap refuses new ones until the user is under it.
  void set_overrides(std::map<std::string, std::uint64_t> caps);
  std::uint64_t default_cap() const { return default_cap_; }
  // The cap in force for `user` (its override, else the default). Not meaningful for "".
  std::uint64_t cap(const std::string& user) const;

  // Takes one stream slot of `user`. True: the stream may be served; the caller must call
  // release(user) exactly once when it ends. False: `user` already holds cap(user) streams;
  // counted in refused(user) and refused_total(), nothing to release. "" always succeeds and
  // is not counted (no release needed either, release("") does nothing).
  bool acquire(const std::string& user);
  // Gives back a slot taken by a successful acquire(user). A release without an acquire is
  // ignored (the count never goes below 0).
  void release(const std::string& user);

  // Counts of `user` (zeros when unknown).
  Counts counts(const std::string& user) const;
  std::uint64_t refused_total() const { return refused_total_; }
  // Every user that held a stream or was refused one since start, by name.
  const std::map<std::string, Counts>& users() const { return users_; }

 private:
  std::uint64_t default_cap_;
  std::map<std::string, std::uint64_t> caps_;
  std::map<std::string, Counts> users_;
  std::uint64_t refused_total_ = 0;
};

// The default of max_streams_per_user: a quarter of the server-wide cap, so that no single user
// can take the whole server, but at least 256 (a household's browsers and apps behind one key
// open a few hundred connections at their peaks).
inline std::uint64_t default_streams_per_user(std::uint64_t max_connections) {
  const std::uint64_t quarter = max_connections / 4;
  return quarter > 256 ? quarter : 256;
}

}  // namespace paniq::tunnel
