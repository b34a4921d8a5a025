#include "histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace bench {
namespace {

TEST(Histogram, EmptyIsAllZero) {
  const Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.5), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
}

TEST(Histogram, NearestRankOnOneToHundred) {
  Histogram h;
  for (std::uint64_t v = 100; v >= 1; --v) h.record(v);  // order must not matter
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.percentile(0.50), 50u);
  EXPECT_EQ(h.percentile(0.90), 90u);
  EXPECT_EQ(h.percentile(0.99), 99u);
  EXPECT_EQ(h.percentile(1.0), 100u);
  EXPECT_EQ(h.percentile(0.0), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, ExactBelowTheLimitMatchesSortedSamples) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<std::uint64_t> d(0, Histogram::kExactLimit - 1);
  std::vector<std::uint64_t> v(9973);
  Histogram h;
  for (auto& x : v) {
    x = d(rng);
    h.record(x);
  }
  std::sort(v.begin(), v.end());
  for (double q : {0.01, 0.25, 0.5, 0.9, 0.99, 0.999}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * v.size()));
    EXPECT_EQ(h.percentile(q), v[rank - 1]) << "q=" << q;
  }
}

TEST(Histogram, SkewedDataSinglesOutTheTail) {
  // 990 fast calls and 10 slow ones: p99 is still fast, p99.1 is slow.
  Histogram h;
  for (int i = 0; i < 990; ++i) h.record(500);
  for (int i = 0; i < 10; ++i) h.record(1900);
  EXPECT_EQ(h.percentile(0.99), 500u);
  EXPECT_EQ(h.percentile(0.991), 1900u);
}

TEST(Histogram, LargeValuesWithinOnePerMille) {
  Histogram h;
  const std::uint64_t big = 123456789;  // ~2 minutes in microseconds
  h.record(big);
  h.record(5000);
  h.record(5001);
  EXPECT_EQ(h.percentile(1.0), big);  // capped at the exact max
  const std::uint64_t p50 = h.percentile(0.5);
  EXPECT_GE(p50, 5001u);  // never reported below the true value
  EXPECT_LE(p50, 5001u + 5001u / 1000);
}

TEST(Histogram, BucketMappingIsMonotoneAndTight) {
  std::size_t prev = 0;
  for (std::uint64_t v = 0; v < 1u << 20; v += 7) {
    const std::size_t i = Histogram::index_of(v);
    ASSERT_GE(i, prev);
    ASSERT_GE(Histogram::highest_in(i), v);
    ASSERT_EQ(Histogram::index_of(Histogram::highest_in(i)), i);
    prev = i;
  }
  EXPECT_EQ(Histogram::highest_in(Histogram::index_of(UINT64_MAX)), UINT64_MAX);
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  Histogram a, b, all;
  for (std::uint64_t v = 1; v <= 50; ++v) {
    a.record(v);
    all.record(v);
  }
  for (std::uint64_t v = 51; v <= 100; ++v) {
    b.record(v * 100);
    all.record(v * 100);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  for (double q : {0.1, 0.5, 0.9, 0.99}) EXPECT_EQ(a.percentile(q), all.percentile(q));
}

}  // namespace
}  // namespace bench
