// What a scenario means: which keys each redemption names (KeyGenerator)
// and which limits --setup creates (scenario_limits). Both pure, so the
// tests can check them without a server.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "options.hpp"
#include "zipf.hpp"

namespace bench {

// A distribution over ids 0..n-1: Zipf when a table is set, else uniform.
struct IdDistribution {
  std::uint64_t n = 1;
  std::shared_ptr<const ZipfTable> zipf;  // shared: a million-entry CDF is 8 MB

  template <class Rng>
  std::uint64_t sample(Rng& rng) const {
    if (zipf) return zipf->sample(rng);
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng);
  }
};

// Everything the worker threads share about the keys they draw. Immutable
// once built.
struct Workload {
  IdDistribution vouchers, users, shops;
  double hot_share = 0;  // probability of the hot voucher (1 for "hot")
  std::string hot_key;   // empty when the scenario has none
  int keys_per_redemption = 3;
};

Workload make_workload(const Options& options);

// Per-thread key source; seeded so that a run can be repeated.
class KeyGenerator {
 public:
  KeyGenerator(const Workload& workload, std::uint64_t seed);

  // voucher, [voucher/user], user, shop — in that order.
  std::vector<std::string> next();
  bool last_was_hot() const { return last_hot_; }

 private:
  const Workload& w_;
  std::mt19937_64 rng_;
  bool last_hot_ = false;
};

// The seed of worker `thread`: spread out so that neighbouring threads do
// not draw correlated streams.
std::uint64_t thread_seed(std::uint64_t run_seed, int thread);

// One set_limit call of --setup.
struct LimitSpec {
  std::string scope;
  std::int64_t max = 0;
  std::string per;  // interval text; empty: a total
  bool sliding = false;
};

std::vector<LimitSpec> scenario_limits(const Options& options);

}  // namespace bench
