#include "histogram.hpp"

#include <algorithm>
#include <cmath>

namespace bench {
namespace {

constexpr std::uint64_t kHalf = Histogram::kExactLimit / 2;
// Shifts 1..(64 - kExactBits) cover every uint64_t above the exact range.
constexpr std::size_t kBuckets = Histogram::kExactLimit + (64 - Histogram::kExactBits) * kHalf;

int bit_width(std::uint64_t v) { return v == 0 ? 0 : 64 - __builtin_clzll(v); }

}  // namespace

Histogram::Histogram() : buckets_(kBuckets, 0) {}

std::size_t Histogram::index_of(std::uint64_t v) {
  if (v < kExactLimit) return static_cast<std::size_t>(v);
  // Keep the top kExactBits bits: v = mantissa << shift, mantissa in
  // [kHalf, kExactLimit). Each shift owns kHalf buckets after the exact ones.
  const int shift = bit_width(v) - kExactBits;  // >= 1 here
  const std::uint64_t mantissa = v >> shift;
  return static_cast<std::size_t>(kExactLimit + (shift - 1) * kHalf + (mantissa - kHalf));
}

std::uint64_t Histogram::highest_in(std::size_t index) {
  if (index < kExactLimit) return index;
  const std::uint64_t k = index - kExactLimit;
  const int shift = static_cast<int>(k / kHalf) + 1;
  const std::uint64_t mantissa = k % kHalf + kHalf;
  // For the very last bucket this wraps to UINT64_MAX, which is right.
  return ((mantissa + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t v) {
  ++buckets_[index_of(v)];
  ++count_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void Histogram::merge(const Histogram& o) {
  if (o.count_ == 0) return;
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void Histogram::clear() { *this = Histogram(); }

std::uint64_t Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The epsilon keeps 0.99 * 100 from rounding up to rank 100.
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_) - 1e-9));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(highest_in(i), max_);
  }
  return max_;
}

}  // namespace bench
