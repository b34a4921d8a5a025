#include "options.hpp"

#include <gtest/gtest.h>

#include "report.hpp"
#include "scenario.hpp"

namespace bench {
namespace {

TEST(Options, Defaults) {
  const Options o = parse_options({});
  EXPECT_EQ(o.threads, 4);
  EXPECT_EQ(o.batch, 1);
  EXPECT_EQ(o.scenario, ScenarioKind::zipf);
  EXPECT_EQ(o.effective_duration(), 10.0);
  EXPECT_DOUBLE_EQ(o.zipf_s, 1.1);
  EXPECT_DOUBLE_EQ(o.hot_share, 0.5);
  EXPECT_EQ(o.keys_per_redemption, 3);
}

TEST(Options, BothSpellingsOfValues) {
  const Options o = parse_options({"--threads", "16", "--scenario=flash", "--batch=100",
                                   "--requests", "5000", "--setup", "--keys-per-redemption", "4"});
  EXPECT_EQ(o.threads, 16);
  EXPECT_EQ(o.scenario, ScenarioKind::flash);
  EXPECT_EQ(o.batch, 100);
  EXPECT_EQ(o.requests, 5000u);
  EXPECT_FALSE(o.effective_duration());  // --requests alone: no time limit
  EXPECT_TRUE(o.setup);
  EXPECT_EQ(o.keys_per_redemption, 4);
}

TEST(Options, BadInputIsAUsageError) {
  EXPECT_THROW(parse_options({"--threads", "0"}), UsageError);
  EXPECT_THROW(parse_options({"--threads", "-3"}), UsageError);
  EXPECT_THROW(parse_options({"--threads"}), UsageError);
  EXPECT_THROW(parse_options({"--scenario", "bogus"}), UsageError);
  EXPECT_THROW(parse_options({"--batch", "10001"}), UsageError);
  EXPECT_THROW(parse_options({"--hot-share", "1.5"}), UsageError);
  EXPECT_THROW(parse_options({"--keys-per-redemption", "5"}), UsageError);
  EXPECT_THROW(parse_options({"--duration", "0"}), UsageError);
  EXPECT_THROW(parse_options({"--frobnicate"}), UsageError);
  EXPECT_THROW(parse_options({"--reset"}), UsageError);
  EXPECT_THROW(parse_options({"--quiet=yes"}), UsageError);
  EXPECT_THROW(parse_options({"--hot-voucher", "a/b"}), UsageError);
}

TEST(Scenario, SetupLimitsFollowTheScenario) {
  Options o = parse_options({"--scenario", "zipf", "--limit-voucher", "7"});
  std::vector<LimitSpec> specs = scenario_limits(o);
  ASSERT_EQ(specs.size(), 4u);  // no hot voucher in zipf
  EXPECT_EQ(specs[0].scope, "voucher:*");
  EXPECT_EQ(specs[0].max, 7);
  EXPECT_EQ(specs[3].scope, "shop:*");
  EXPECT_TRUE(specs[3].sliding);
  EXPECT_EQ(specs[3].per, "1 minute");
  EXPECT_FALSE(scenario_limits(parse_options({"--shop-window", "fixed"}))[3].sliding);
  EXPECT_THROW(parse_options({"--shop-window", "hourly"}), UsageError);

  o = parse_options({"--scenario", "flash", "--hot-voucher", "SALE", "--limit-hot", "50"});
  specs = scenario_limits(o);
  ASSERT_EQ(specs.size(), 5u);
  EXPECT_EQ(specs.back().scope, "voucher:SALE");
  EXPECT_EQ(specs.back().max, 50);
  EXPECT_TRUE(specs.back().per.empty());
}

TEST(Scenario, KeysHaveTheRequestedShape) {
  Options o = parse_options({"--scenario", "flash", "--hot-share", "1", "--vouchers", "10",
                             "--users", "100", "--shops", "5", "--keys-per-redemption", "4"});
  const Workload w = make_workload(o);
  KeyGenerator g(w, 1);
  const std::vector<std::string> k = g.next();
  ASSERT_EQ(k.size(), 4u);
  EXPECT_EQ(k[0], "voucher:HOT");
  EXPECT_TRUE(g.last_was_hot());
  EXPECT_EQ(k[1], k[0] + "/" + k[2]);
  EXPECT_EQ(k[2].rfind("user:U", 0), 0u);
  EXPECT_EQ(k[3].rfind("shop:S", 0), 0u);

  o = parse_options({"--scenario", "uniform", "--vouchers", "3"});
  const Workload u = make_workload(o);
  KeyGenerator ug(u, 2);
  for (int i = 0; i < 100; ++i) {
    const std::vector<std::string> keys = ug.next();
    ASSERT_EQ(keys.size(), 3u);
    EXPECT_FALSE(ug.last_was_hot());
    EXPECT_TRUE(keys[0] == "voucher:V0" || keys[0] == "voucher:V1" || keys[0] == "voucher:V2");
  }
}

TEST(Scenario, FlashSendsTheHotShareToTheHotVoucher) {
  const Options o = parse_options({"--scenario", "flash", "--hot-share", "0.3", "--users", "1000"});
  const Workload w = make_workload(o);
  KeyGenerator g(w, 5);
  int hot = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    g.next();
    if (g.last_was_hot()) ++hot;
  }
  EXPECT_NEAR(static_cast<double>(hot) / n, 0.3, 0.02);
}

TEST(Scenario, ThreadSeedsDiffer) {
  EXPECT_NE(thread_seed(1, 0), thread_seed(1, 1));
  EXPECT_NE(thread_seed(1, 0), thread_seed(2, 0));
  EXPECT_EQ(thread_seed(9, 3), thread_seed(9, 3));
}

TEST(Report, ExitStatusReflectsSoundness) {
  RunResult r;
  r.checks.enforced_violations = 0;
  r.checks.verify_count = 0;
  EXPECT_EQ(exit_status(r), 0);
  r.counters.add_error("boom", 1);
  EXPECT_EQ(exit_status(r), 1);
  r.counters = Counters{};
  r.checks.verify_count = 2;
  EXPECT_EQ(exit_status(r), 1);
  r.checks.verify_count = 0;
  r.checks.enforced_violations = std::nullopt;  // could not check: not sound
  EXPECT_EQ(exit_status(r), 1);
  r.checks.enforced_violations = 0;
  r.hot_used = 11;
  r.hot_limit = 10;
  EXPECT_EQ(exit_status(r), 1);
}

TEST(Report, GroupsDigits) {
  EXPECT_EQ(group_digits(0), "0");
  EXPECT_EQ(group_digits(999), "999");
  EXPECT_EQ(group_digits(1000), "1,000");
  EXPECT_EQ(group_digits(28789), "28,789");
  EXPECT_EQ(group_digits(156466), "156,466");
  EXPECT_EQ(group_digits(1234567), "1,234,567");
  EXPECT_EQ(group_digits(18446744073709551615ull), "18,446,744,073,709,551,615");
}

}  // namespace
}  // namespace bench
