// Helpers for containers that a burst grows and that must give the memory back afterwards.
#pragma once

#include <cstddef>

namespace paniq {

// A hash map keeps the bucket array of its largest size: after a burst of 1000 streams, 1109
// slots (8.7 KB) for a handful of entries. Once it holds fewer than one entry per 8 buckets,
// rebuild it at the size it needs (rehash(0)). Amortised O(1) per erase: the map must shrink to
// an eighth of its bucket count between two rebuilds, and each rebuild costs its size.
template <class Map>
void shrink_if_sparse(Map& m) {
  constexpr std::size_t kKeepBuckets = 64;
  if (m.bucket_count() > kKeepBuckets && m.size() * 8 < m.bucket_count()) m.rehash(0);
}

}  // namespace paniq
