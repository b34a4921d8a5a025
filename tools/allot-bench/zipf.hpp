// Zipf(s) over the ranks 0..n-1: P(rank k) is proportional to 1 / (k+1)^s.
// Rank 0 is the most popular item. The table is built once and shared by all
// worker threads (it is immutable); each thread samples with its own RNG, so
// runs are reproducible per --seed and threads never contend on the sampler.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace bench {

class ZipfTable {
 public:
  // n >= 1; s >= 0 (s = 0 is uniform). Building costs O(n) pow() calls:
  // ~20 ms for a million items, paid once per run.
  ZipfTable(std::uint64_t n, double s);

  std::uint64_t size() const { return cdf_.size(); }
  double exponent() const { return s_; }

  // The rank whose CDF interval holds u, for u in [0, 1).
  std::uint64_t rank_for(double u) const;

  // Exact probability of `rank` (for tests and for the report).
  double probability(std::uint64_t rank) const;

  template <class Rng>
  std::uint64_t sample(Rng& rng) const {
    // generate_canonical gives [0, 1) with the full 53 bits of a double, so
    // even the tail of a million-item table is reachable.
    return rank_for(std::generate_canonical<double, 53>(rng));
  }

 private:
  double s_;
  std::vector<double> cdf_;  // cdf_[k] = P(rank <= k); the last entry is 1
};

}  // namespace bench
