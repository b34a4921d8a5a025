#include "scenario.hpp"

namespace bench {
namespace {

IdDistribution uniform(std::uint64_t n) { return IdDistribution{n, nullptr}; }

IdDistribution zipf(std::uint64_t n, double s) {
  return IdDistribution{n, std::make_shared<const ZipfTable>(n, s)};
}

}  // namespace

Workload make_workload(const Options& o) {
  Workload w;
  w.keys_per_redemption = o.keys_per_redemption;
  switch (o.scenario) {
    case ScenarioKind::zipf:
      w.vouchers = zipf(o.vouchers, o.zipf_s);
      w.users = zipf(o.users, o.zipf_s);
      w.shops = zipf(o.shops, o.zipf_s);
      break;
    case ScenarioKind::flash:
      // A flash sale: many distinct buyers converge on one voucher while
      // the ordinary long tail of vouchers keeps selling.
      w.vouchers = zipf(o.vouchers, o.zipf_s);
      w.users = uniform(o.users);
      w.shops = zipf(o.shops, o.zipf_s);
      w.hot_share = o.hot_share;
      w.hot_key = o.hot_key();
      break;
    case ScenarioKind::hot:
      w.vouchers = uniform(1);  // never drawn
      w.users = uniform(o.users);
      w.shops = uniform(o.shops);
      w.hot_share = 1.0;
      w.hot_key = o.hot_key();
      break;
    case ScenarioKind::uniform:
      w.vouchers = uniform(o.vouchers);
      w.users = uniform(o.users);
      w.shops = uniform(o.shops);
      break;
  }
  return w;
}

KeyGenerator::KeyGenerator(const Workload& workload, std::uint64_t seed)
    : w_(workload), rng_(seed) {}

std::vector<std::string> KeyGenerator::next() {
  std::string voucher;
  last_hot_ = !w_.hot_key.empty() &&
              (w_.hot_share >= 1.0 || std::bernoulli_distribution(w_.hot_share)(rng_));
  if (last_hot_)
    voucher = w_.hot_key;
  else
    voucher = "voucher:V" + std::to_string(w_.vouchers.sample(rng_));
  std::string user = "user:U" + std::to_string(w_.users.sample(rng_));
  std::string shop = "shop:S" + std::to_string(w_.shops.sample(rng_));

  std::vector<std::string> keys;
  keys.reserve(4);
  keys.push_back(voucher);
  if (w_.keys_per_redemption >= 4) keys.push_back(voucher + "/" + user);
  keys.push_back(std::move(user));
  keys.push_back(std::move(shop));
  return keys;
}

std::uint64_t thread_seed(std::uint64_t run_seed, int thread) {
  // splitmix64 of (seed, thread): consecutive inputs give unrelated outputs.
  std::uint64_t z = run_seed + 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(thread + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<LimitSpec> scenario_limits(const Options& o) {
  std::vector<LimitSpec> specs = {
      {"voucher:*", o.limits.voucher_total, "", false},
      {"voucher:*/user:*", o.limits.per_user_per_voucher, "", false},
      {"user:*", o.limits.user_per_day, "1 day", false},
      {"shop:*", o.limits.shop_per_minute, "1 minute", o.limits.shop_sliding},
  };
  // An exact-key limit with the same (per, sliding) replaces the class's.
  if (o.uses_hot_voucher()) specs.push_back({o.hot_key(), o.limits.hot_total, "", false});
  return specs;
}

}  // namespace bench
