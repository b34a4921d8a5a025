#include "zipf.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace bench {

ZipfTable::ZipfTable(std::uint64_t n, double s) : s_(s) {
  if (n == 0) throw std::invalid_argument("Zipf needs at least one item");
  if (!(s >= 0) || !std::isfinite(s)) throw std::invalid_argument("Zipf exponent must be >= 0");
  cdf_.resize(n);
  // Summing from the most probable term keeps the partial sums exact enough
  // for sampling; normalising at the end avoids computing the harmonic
  // number H(n, s) separately.
  double sum = 0;
  for (std::uint64_t k = 0; k < n; ++k) {
    sum += std::pow(static_cast<double>(k + 1), -s);
    cdf_[k] = sum;
  }
  for (double& c : cdf_) c /= sum;
  cdf_.back() = 1.0;  // rounding must not leave a gap above the last rank
}

std::uint64_t ZipfTable::rank_for(double u) const {
  // First rank whose cumulative probability exceeds u.
  auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  if (it == cdf_.end()) --it;  // u >= 1 cannot come from sample(); be safe anyway
  return static_cast<std::uint64_t>(it - cdf_.begin());
}

double ZipfTable::probability(std::uint64_t rank) const {
  if (rank >= cdf_.size()) return 0;
  return rank == 0 ? cdf_[0] : cdf_[rank] - cdf_[rank - 1];
}

}  // namespace bench
