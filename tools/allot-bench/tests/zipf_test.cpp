#include "zipf.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace bench {
namespace {

// Empirical frequencies of `draws` samples.
std::vector<double> frequencies(const ZipfTable& z, int draws, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> f(z.size(), 0);
  for (int i = 0; i < draws; ++i) f[z.sample(rng)] += 1;
  for (double& x : f) x /= draws;
  return f;
}

TEST(Zipf, ProbabilitiesFollowThePowerLaw) {
  const ZipfTable z(1000, 1.1);
  double sum = 0;
  for (std::uint64_t k = 0; k < z.size(); ++k) sum += z.probability(k);
  EXPECT_NEAR(sum, 1.0, 1e-9);
  // P(k) / P(0) = (k+1)^-s
  EXPECT_NEAR(z.probability(1) / z.probability(0), std::pow(2.0, -1.1), 1e-9);
  EXPECT_NEAR(z.probability(9) / z.probability(0), std::pow(10.0, -1.1), 1e-9);
  EXPECT_EQ(z.probability(1000), 0.0);
}

TEST(Zipf, SamplesMatchTheDistribution) {
  const ZipfTable z(20, 1.1);
  const int draws = 400000;
  const std::vector<double> f = frequencies(z, draws, 42);
  // Chi-square over 20 cells (19 degrees of freedom): the 99.9% quantile is
  // about 43.8, so a correct sampler fails this one time in a thousand seeds
  // (and this seed is fixed).
  double chi2 = 0;
  for (std::uint64_t k = 0; k < z.size(); ++k) {
    const double expected = z.probability(k) * draws;
    const double observed = f[k] * draws;
    chi2 += (observed - expected) * (observed - expected) / expected;
  }
  EXPECT_LT(chi2, 43.8);
  // And the shape, in plain words: rank 0 about 2^1.1 times as often as rank 1.
  EXPECT_NEAR(f[0] / f[1], std::pow(2.0, 1.1), 0.05);
}

TEST(Zipf, ExponentZeroIsUniform) {
  const ZipfTable z(10, 0.0);
  for (std::uint64_t k = 0; k < 10; ++k) EXPECT_NEAR(z.probability(k), 0.1, 1e-12);
  const std::vector<double> f = frequencies(z, 200000, 7);
  for (double x : f) EXPECT_NEAR(x, 0.1, 0.005);
}

TEST(Zipf, LargeTableReachesTheTailAndStaysInRange) {
  // The size of --users: a million ranks, as in the benchmark.
  const ZipfTable z(1000000, 1.1);
  std::mt19937_64 rng(1);
  std::uint64_t max_seen = 0;
  int in_top_ten = 0;
  const int draws = 200000;
  for (int i = 0; i < draws; ++i) {
    const std::uint64_t r = z.sample(rng);
    ASSERT_LT(r, z.size());
    max_seen = std::max(max_seen, r);
    if (r < 10) ++in_top_ten;
  }
  double top_ten = 0;
  for (std::uint64_t k = 0; k < 10; ++k) top_ten += z.probability(k);
  EXPECT_NEAR(static_cast<double>(in_top_ten) / draws, top_ten, 0.01);
  EXPECT_GT(max_seen, 100000u);  // the long tail is drawn, not just the head
}

TEST(Zipf, RankForCoversTheUnitInterval) {
  const ZipfTable z(4, 1.0);
  EXPECT_EQ(z.rank_for(0.0), 0u);
  EXPECT_EQ(z.rank_for(0.999999999), 3u);
  EXPECT_EQ(z.rank_for(1.0), 3u);  // out of contract, but in range
}

TEST(Zipf, SameSeedSameSequence) {
  const ZipfTable z(1000, 1.1);
  std::mt19937_64 a(99), b(99);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(z.sample(a), z.sample(b));
}

TEST(Zipf, RejectsBadParameters) {
  EXPECT_THROW(ZipfTable(0, 1.0), std::invalid_argument);
  EXPECT_THROW(ZipfTable(10, -0.5), std::invalid_argument);
}

}  // namespace
}  // namespace bench
