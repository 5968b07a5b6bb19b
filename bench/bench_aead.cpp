// LINK: paniq_crypto
// The transport AEADs through crypto::AeadKey, in place, 16 bytes of associated data: seal and open
// of 64, 1200 and 1350-byte payloads for ChaCha20-Poly1305 and AES-256-GCM, and the 16-byte
// ChaCha20 header-protection mask. Bytes/s count the payload only. Results and the command line:
// bench/results/aead-2026-12-05.md.
#include <benchmark/benchmark.h>

#include <cstring>

#include "crypto/crypto.hpp"

using namespace paniq;
using namespace paniq::crypto;

namespace {

constexpr std::size_t kAd = 16;

Aead alg_of(const benchmark::State& state) { return static_cast<Aead>(state.range(0)); }

Key32 bench_key() {
  Key32 k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i * 13 + 1);
  return k;
}

// Each iteration seals a fresh nonce (a counter, as the transport does).
void BM_Seal(benchmark::State& state) {
  const Aead alg = alg_of(state);
  if (alg == Aead::aes256gcm && !aes256gcm_available()) {
    state.SkipWithError("aes-256-gcm not available on this CPU");
    return;
  }
  const auto len = static_cast<std::size_t>(state.range(1));
  const AeadKey key(alg, bench_key());
  Bytes buf(len + kAeadTagLen, 0x5a);
  const Bytes ad(kAd, 0x11);
  std::array<std::uint8_t, 12> nonce{};
  std::uint64_t counter = 0;
  for (auto _ : state) {
    std::memcpy(nonce.data() + 4, &counter, sizeof(counter));
    ++counter;
    key.seal(buf, len, ad, nonce);
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(to_string(alg));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(len));
}

// Opening in place overwrites the ciphertext, so each iteration first copies the sealed datagram
// into the work buffer; BM_CopyOnly measures that copy alone.
void BM_Open(benchmark::State& state) {
  const Aead alg = alg_of(state);
  if (alg == Aead::aes256gcm && !aes256gcm_available()) {
    state.SkipWithError("aes-256-gcm not available on this CPU");
    return;
  }
  const auto len = static_cast<std::size_t>(state.range(1));
  const AeadKey key(alg, bench_key());
  const Bytes ad(kAd, 0x11);
  const std::array<std::uint8_t, 12> nonce{7};
  Bytes sealed(len + kAeadTagLen, 0x5a);
  key.seal(sealed, len, ad, nonce);
  Bytes buf(sealed.size());
  for (auto _ : state) {
    std::memcpy(buf.data(), sealed.data(), sealed.size());
    const bool ok = key.open(buf, ad, nonce);
    if (!ok) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetLabel(to_string(alg));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(len));
}

void BM_CopyOnly(benchmark::State& state) {
  const auto len = static_cast<std::size_t>(state.range(0));
  Bytes sealed(len + kAeadTagLen, 0x5a), buf(sealed.size());
  for (auto _ : state) {
    std::memcpy(buf.data(), sealed.data(), sealed.size());
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(len));
}

// QUIC-style ChaCha20 header protection: a 16-byte mask from a 16-byte sample of the ciphertext.
void BM_HeaderMask(benchmark::State& state) {
  const Key32 hp = bench_key();
  std::array<std::uint8_t, 16> sample{0x5e, 0x5c, 0xd5, 0x5c, 0x41, 0xf6, 0x90, 0x80,
                                      0x57, 0x5d, 0x79, 0x99, 0xc2, 0x5a, 0x5b, 0xfb};
  std::array<std::uint8_t, 16> mask{};
  for (auto _ : state) {
    std::array<std::uint8_t, 12> nonce;
    std::memcpy(nonce.data(), sample.data() + 4, nonce.size());
    mask.fill(0);
    chacha20_xor(mask, hp, nonce, get_u32_le(sample.data()));
    benchmark::DoNotOptimize(mask.data());
    benchmark::ClobberMemory();
    ++sample[15];
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(mask.size()));
}

// The header-protection mask as the transport computes it (crypto::HeaderProtection): AES-256-ECB
// of the sample for AES-GCM sessions, a ChaCha20 block for ChaCha20-Poly1305 ones.
void BM_HeaderProtection(benchmark::State& state) {
  const auto alg = static_cast<Aead>(state.range(0));
  if (alg == Aead::aes256gcm && !aes256gcm_available()) {
    state.SkipWithError("aes-256-gcm not available");
    return;
  }
  const HeaderProtection hp(alg, bench_key());
  std::array<std::uint8_t, 16> sample{};
  for (auto _ : state) {
    auto m = hp.mask(sample);
    benchmark::DoNotOptimize(m.data());
    ++sample[15];
  }
  state.SetLabel(to_string(alg));
}

void aead_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"alg", "bytes"});
  for (auto alg : {Aead::chacha20poly1305, Aead::aes256gcm}) {
    for (std::int64_t len : {64, 1200, 1350}) b->Args({static_cast<std::int64_t>(alg), len});
  }
}

}  // namespace

BENCHMARK(BM_Seal)->Apply(aead_args);
BENCHMARK(BM_Open)->Apply(aead_args);
BENCHMARK(BM_CopyOnly)->Arg(64)->Arg(1200)->Arg(1350);
BENCHMARK(BM_HeaderMask);
BENCHMARK(BM_HeaderProtection)->Arg(0)->Arg(1);

BENCHMARK_MAIN();
