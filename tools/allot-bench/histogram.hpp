// Latency histogram in microseconds. Values below 2048 us each get their own
// bucket (exact); above that, buckets keep the top 11 significant bits, so a
// reported percentile is within 0.1% of the true value (and never below
// it). This bounds memory (~450 KB) whatever the run length, which sorted
// samples would not, and merging per-thread histograms is a plain sum.
#pragma once

#include <cstdint>
#include <vector>

namespace bench {

class Histogram {
 public:
  static constexpr int kExactBits = 11;  // exact below 2^11 us
  static constexpr std::uint64_t kExactLimit = 1ull << kExactBits;

  Histogram();

  void record(std::uint64_t micros);
  void merge(const Histogram& other);
  void clear();

  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }

  // Nearest-rank percentile, q in [0, 1]: the smallest recorded value v such
  // that at least ceil(q * count) values are <= v. Exact below kExactLimit;
  // above, the highest value of v's bucket (capped at max()). 0 when empty.
  std::uint64_t percentile(double q) const;

  // Bucket mapping, public for the tests.
  static std::size_t index_of(std::uint64_t micros);
  static std::uint64_t highest_in(std::size_t index);

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace bench
