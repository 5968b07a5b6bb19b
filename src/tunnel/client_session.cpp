// ClientSession: the handshake state machine (PROTOCOL.md 4.1, 4.3) and the Link after it.
#include <algorithm>
#include <stdexcept>

#include "tunnel/client.hpp"

namespace paniq::tunnel {
namespace {

const ClientConfig& checked(const ClientConfig& cfg) {
  if (auto ok = cfg.validate(); !ok) throw std::invalid_argument(ok.error().message);
  return cfg;
}

}  // namespace

const char* to_string(ClientState s) {
  switch (s) {
    case ClientState::Idle: return "Idle";
    case ClientState::Handshaking: return "Handshaking";
    case ClientState::Established: return "Established";
    case ClientState::Closed: return "Closed";
  }
  return "?";
}

ClientSession::ClientSession(const ClientConfig& cfg, const obf::Framer& framer, Rng& rng,
                             envelope::Tai64nStamper* stamper)
    : cfg_(checked(cfg)), framer_(framer), rng_(rng), stamper_(stamper) {}

void ClientSession::build_preamble(WallTime wall) {
  preamble_ = framer_.junk(rng_);
  auto sigs = framer_.signatures(static_cast<std::uint32_t>(wall.seconds), rng_);
  for (auto& s : sigs) preamble_.push_back(std::move(s));
  next_ = 0;
}

WallTime ClientSession::wall_at(TimeMs now) const {
  const TimeMs ms = now > start_now_ ? now - start_now_ : 0;
  WallTime w = start_wall_;
  const std::uint64_t nanos = w.nanos + (ms % 1000) * 1'000'000;
  w.seconds += static_cast<std::int64_t>(ms / 1000 + nanos / 1'000'000'000);
  w.nanos = static_cast<std::uint32_t>(nanos % 1'000'000'000);
  return w;
}

Result<void> ClientSession::start(TimeMs now, WallTime wall) {
  if (state_ != ClientState::Idle) throw std::logic_error("ClientSession::start called twice");
  start_now_ = now;
  start_wall_ = wall;
  // Random draws in the reference's order: junk, signatures, then the Initiation.
  build_preamble(wall);
  const envelope::Tai64n stamp = stamper_ ? stamper_->stamp(wall) : envelope::tai64n_encode(wall);
  ByteView noise;
  if (cfg_.encryption != Encryption::off && cfg_.auth.server_public && cfg_.auth.capability_key) {
    envelope::SecureClientParams sp;
    sp.server_public = *cfg_.auth.server_public;
    sp.client_private = cfg_.client_private;
    sp.capability_key = *cfg_.auth.capability_key;
    sp.aes_fast = crypto::preferred_aead() == crypto::Aead::aes256gcm;
    sp.stream_offsets = cfg_.link.stream_offsets;
    auto hs = envelope::SecureClientHandshake::start(sp, rng_);
    if (!hs) {
      state_ = ClientState::Handshaking;
      fail(make_error_code(Errc::initiation_failed));
      return make_error(Errc::initiation_failed,
                        "cannot build the encrypted handshake: " + hs.error().message);
    }
    secure_ = std::move(*hs);
    noise = secure_->message1();
  }
  auto init = envelope::build_initiation(framer_, rng_, cfg_.auth, stamp, noise);
  if (!init) {
    state_ = ClientState::Handshaking;  // so fail() reports it
    fail(make_error_code(Errc::initiation_failed));
    return make_error(Errc::initiation_failed,
                      "cannot build the handshake initiation: " + init.error().message);
  }
  initiation_ = std::move(*init);
  state_ = ClientState::Handshaking;
  next_send_ = now;
  release_due(now);
  return {};
}

TimeMs ClientSession::retransmit_delay() {
  const std::uint32_t t = cfg_.handshake_timeout_ms;
  const std::uint32_t jitter = t / 8;
  return t + (jitter > 0 ? rng_.uniform(0, jitter) : 0);
}

// Releases every handshake datagram whose time has come: preamble datagrams paced by
// preamble_delay_ms + jitter, then the Initiation; after each handshake timeout a fresh
// preamble and the same Initiation again; the handshake fails one timeout after the last
// attempt.
void ClientSession::release_due(TimeMs now) {
  while (state_ == ClientState::Handshaking && now >= next_send_) {
    ByteView d;
    TimeMs gap = 0;
    if (preamble_due_ && attempts_ < cfg_.handshake_attempts) {
      preamble_due_ = false;
      build_preamble(wall_at(now));  // fresh junk and <t>, as the Go client
    }
    if (next_ < preamble_.size()) {
      d = preamble_[next_++];
      ++stats_.preamble_datagrams;
      gap = cfg_.preamble_delay_ms +
            (cfg_.preamble_jitter_ms > 0 ? rng_.uniform(0, cfg_.preamble_jitter_ms) : 0);
    } else if (attempts_ < cfg_.handshake_attempts) {
      d = initiation_;
      ++attempts_;
      ++stats_.initiations_sent;
      gap = retransmit_delay();
      preamble_due_ = true;
    } else {
      fail(make_error_code(Errc::handshake_timeout));
      return;
    }
    std::uint8_t* p = hs_tx_.reserve(d.size());
    std::copy(d.begin(), d.end(), p);
    hs_tx_.commit(d.size());
    next_send_ = now + gap;
  }
}

void ClientSession::handle_datagram(ByteView datagram, TimeMs now) {
  ++stats_.datagrams_in;
  stats_.bytes_in += datagram.size();
  const auto c = framer_.classify(datagram);
  if (!c) {
    ++stats_.ignored_unclassified;
    return;
  }
  if (state_ == ClientState::Handshaking && c->type == obf::MessageType::Response) {
    on_response(c->payload, now);
    return;
  }
  if (state_ == ClientState::Established && c->type == obf::MessageType::Transport) {
    link_->handle_transport(c->payload, now);
    return;
  }
  ++stats_.ignored_unexpected;
}

// An encrypted Response (our server took the offer) is exactly 4 + msg2 bytes and must open;
// anything else is a plain Response (a Rust server, or ours with encryption off), taken only
// when the profile does not require encryption. A Response that looks encrypted but does not
// open is ignored, so a forged one cannot push the client into plain mode.
void ClientSession::on_response(ByteView payload, TimeMs now) {
  if (secure_ && payload.size() == envelope::kSecureResponsePayloadLen) {
    if (auto est = secure_->finish(payload)) {
      secure_.reset();
      establish(est->conv, now, &est->keys);
      est->keys.erase();
      return;
    }
    ++stats_.ignored_bad_secure_response;
    return;
  }
  if (secure_ && cfg_.encryption == Encryption::required) {
    ++stats_.ignored_plain_response;
    return;
  }
  auto conv = envelope::parse_response_conv(payload);
  if (!conv) {
    ++stats_.ignored_short_response;  // the reference fails here; a forged one must not
    return;
  }
  secure_.reset();
  establish(*conv, now);
}

void ClientSession::establish(std::uint32_t conv, TimeMs now, const envelope::SecureKeys* keys) {
  conv_ = conv;
  link_ = std::make_unique<Link>(cfg_.link, conv, framer_, rng_, now, keys);
  established_at_ = now;
  state_ = ClientState::Established;
  hs_tx_.clear();  // an Initiation retransmission not yet sent is moot
  preamble_.clear();
}

void ClientSession::fail(std::error_code reason) {
  if (state_ == ClientState::Closed) return;
  failure_ = reason;
  state_ = ClientState::Closed;
  hs_tx_.clear();
}

void ClientSession::flush(TimeMs now) {
  if (state_ != ClientState::Established) return;
  link_->flush(now);
  if (link_->dead()) fail(link_->dead_reason());
}

std::span<const ByteView> ClientSession::transmit() {
  if (link_ && state_ == ClientState::Established) return link_->transmit();
  return hs_tx_.views();
}

void ClientSession::consume_transmit(std::size_t n) {
  if (link_ && state_ == ClientState::Established) {
    link_->consume_transmit(n);
  } else {
    hs_tx_.consume(n);
  }
}

std::optional<TimeMs> ClientSession::next_timeout() const {
  switch (state_) {
    case ClientState::Handshaking: return next_send_;
    case ClientState::Established: return link_->next_timeout();
    default: return std::nullopt;
  }
}

void ClientSession::handle_timeout(TimeMs now) {
  if (state_ == ClientState::Handshaking) {
    release_due(now);
  } else if (state_ == ClientState::Established) {
    link_->handle_timeout(now);
    if (link_->dead()) fail(link_->dead_reason());
  }
}

std::optional<Event> ClientSession::poll_event() {
  if (link_ && !established_reported_) {
    established_reported_ = true;
    return Event{EventKind::Established, 0, {}};
  }
  if (link_) {
    if (auto e = link_->poll_event()) {
      if (e->kind == EventKind::SessionClosed) {
        fail(e->error);
        closed_reported_ = true;
      }
      return e;
    }
  }
  if (state_ == ClientState::Closed && !closed_reported_) {
    closed_reported_ = true;
    return Event{EventKind::SessionClosed, 0, failure_};
  }
  return std::nullopt;
}

void ClientSession::close(std::error_code reason) {
  if (!reason) reason = make_error_code(Errc::closed);
  if (link_) link_->close(reason);
  if (state_ == ClientState::Idle) state_ = ClientState::Handshaking;
  fail(reason);
}

}  // namespace paniq::tunnel
