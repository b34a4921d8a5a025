#include "applicable.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "key.hpp"
#include "test_support.hpp"

namespace allot {
namespace {

using test::fixed_limit;
using test::sliding_limit;
using test::total_limit;
using test::ts;
using test::valid_between;
using test::with_valid;

const Timestamp kNow = ts(2024, 5, 17, 12);

// Ids of the limits that apply to `key` at `now`, in the order returned.
std::vector<std::int64_t> applicable_ids(const std::string& key,
                                         const std::vector<LimitRule>& limits,
                                         Timestamp now = kNow) {
  std::vector<std::int64_t> ids;
  for (const LimitRule* r : applicable_rules(key, key_class(key), limits, now))
    ids.push_back(r->id);
  return ids;
}

using Ids = std::vector<std::int64_t>;

TEST(Applicable, KeyWithoutLimitsHasNone) {
  EXPECT_EQ(applicable_ids("voucher:V1", {}), Ids{});
  EXPECT_EQ(applicable_ids("voucher:V1", {total_limit(1, "voucher:V2", 5)}), Ids{});
}

TEST(Applicable, ExactKeyAndClassLimitsBothApply) {
  const std::vector<LimitRule> limits = {
      total_limit(1, "voucher:V1", 100),
      fixed_limit(2, "voucher:*", 5, test::days(1)),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), (Ids{1, 2}));
  EXPECT_EQ(applicable_ids("voucher:V2", limits), Ids{2});
}

TEST(Applicable, ReturnsPointersIntoTheCandidates) {
  const std::vector<LimitRule> limits = {total_limit(7, "voucher:V1", 100)};
  const auto rules = applicable_rules("voucher:V1", "voucher:*", limits, kNow);
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0], &limits[0]);
}

TEST(Applicable, ExactLimitOverridesClassLimitOfTheSameShape) {
  const std::vector<LimitRule> limits = {
      fixed_limit(1, "voucher:*", 5, test::days(1)),
      fixed_limit(2, "voucher:V1", 50, test::days(1)),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), Ids{2});
  EXPECT_EQ(applicable_ids("voucher:V2", limits), Ids{1});
}

TEST(Applicable, ExactTotalOverridesClassTotal) {
  const std::vector<LimitRule> limits = {
      total_limit(1, "voucher:*", 5),
      total_limit(2, "voucher:V1", 50),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), Ids{2});
}

TEST(Applicable, OneDayAndTwentyFourHoursAreTheSameShape) {
  const std::vector<LimitRule> limits = {
      fixed_limit(1, "voucher:*", 5, test::days(1)),
      fixed_limit(2, "voucher:V1", 50, test::hours(24)),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), Ids{2});
}

TEST(Applicable, OneMonthAndThirtyDaysAreDifferentShapes) {
  const std::vector<LimitRule> limits = {
      fixed_limit(1, "voucher:*", 5, test::months(1)),
      fixed_limit(2, "voucher:V1", 50, test::days(30)),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), (Ids{1, 2}));
}

TEST(Applicable, DifferentPerDoesNotOverride) {
  const std::vector<LimitRule> limits = {
      fixed_limit(1, "voucher:*", 5, test::days(1)),
      fixed_limit(2, "voucher:V1", 50, test::hours(1)),
      total_limit(3, "voucher:*", 500),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), (Ids{1, 2, 3}));
}

TEST(Applicable, SlidingAndFixedOfTheSamePerAreDifferentShapes) {
  const std::vector<LimitRule> limits = {
      fixed_limit(1, "voucher:*", 5, test::days(1)),
      sliding_limit(2, "voucher:V1", 50, test::days(1)),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), (Ids{1, 2}));
}

TEST(Applicable, ShadowExactLimitStillOverridesAnEnforcedClassLimit) {
  const std::vector<LimitRule> limits = {
      fixed_limit(1, "voucher:*", 5, test::days(1)),
      test::shadow(fixed_limit(2, "voucher:V1", 50, test::days(1))),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), Ids{2});
}

TEST(Applicable, LimitsOutsideTheirValidRangeDoNotApply) {
  const std::vector<LimitRule> limits = {
      with_valid(total_limit(1, "voucher:V1", 5), valid_between(ts(2024, 1, 1), ts(2024, 2, 1))),
      with_valid(total_limit(2, "voucher:V1", 5), valid_between(ts(2024, 5, 1), ts(2024, 6, 1))),
      with_valid(total_limit(3, "voucher:V1", 5), valid_between(ts(2025, 1, 1), ts(2025, 2, 1))),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), Ids{2});
}

TEST(Applicable, ValidBoundsHonourInclusiveAndExclusive) {
  const Timestamp lo = ts(2024, 5, 1);
  const Timestamp hi = ts(2024, 6, 1);
  const std::vector<LimitRule> limits = {
      with_valid(total_limit(1, "voucher:V1", 5), valid_between(lo, hi, true, false)),   // [lo,hi)
      with_valid(total_limit(2, "voucher:V1", 5), valid_between(lo, hi, false, true)),   // (lo,hi]
      with_valid(total_limit(3, "voucher:V1", 5), valid_between(lo, hi, true, true)),    // [lo,hi]
      with_valid(total_limit(4, "voucher:V1", 5), valid_between(lo, hi, false, false)),  // (lo,hi)
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits, lo - 1), Ids{});
  EXPECT_EQ(applicable_ids("voucher:V1", limits, lo), (Ids{1, 3}));
  EXPECT_EQ(applicable_ids("voucher:V1", limits, lo + 1), (Ids{1, 2, 3, 4}));
  EXPECT_EQ(applicable_ids("voucher:V1", limits, hi - 1), (Ids{1, 2, 3, 4}));
  EXPECT_EQ(applicable_ids("voucher:V1", limits, hi), (Ids{2, 3}));
  EXPECT_EQ(applicable_ids("voucher:V1", limits, hi + 1), Ids{});
}

TEST(Applicable, InfiniteBoundsAlwaysContainNow) {
  ValidRange from_start;
  from_start.upper = ts(2024, 6, 1);
  ValidRange until_end;
  until_end.lower = ts(2024, 1, 1);
  until_end.lower_inclusive = true;
  const std::vector<LimitRule> limits = {
      with_valid(total_limit(1, "voucher:V1", 5), from_start),
      with_valid(total_limit(2, "voucher:V1", 5), until_end),
      total_limit(3, "voucher:V1", 5),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), (Ids{1, 2, 3}));
  EXPECT_EQ(applicable_ids("voucher:V1", limits, ts(1900, 1, 1)), (Ids{1, 3}));
  EXPECT_EQ(applicable_ids("voucher:V1", limits, ts(2100, 1, 1)), (Ids{2, 3}));
}

TEST(Applicable, ExpiredExactLimitDoesNotHideTheClassLimit) {
  const std::vector<LimitRule> limits = {
      fixed_limit(1, "voucher:*", 5, test::days(1)),
      with_valid(fixed_limit(2, "voucher:V1", 50, test::days(1)),
                 valid_between(ts(2020, 1, 1), ts(2021, 1, 1))),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), Ids{1});
}

TEST(Applicable, ScopesOfOtherKeysAndClassesAreIgnored) {
  const std::vector<LimitRule> limits = {
      total_limit(1, "voucher:V2", 5),
      total_limit(2, "user:*", 5),
      total_limit(3, "voucher:*", 5),   // the class of a shorter key
      total_limit(4, "voucher:V1", 5),  // a prefix of the key
      fixed_limit(5, "voucher:*/user:*", 5, test::days(1)),
      total_limit(6, "voucher:V1/user:U2", 5),
      total_limit(7, "voucher:V1/user:U1", 5),
  };
  EXPECT_EQ(applicable_ids("voucher:V1/user:U1", limits), (Ids{5, 7}));
}

TEST(Applicable, ResultIsSortedById) {
  const std::vector<LimitRule> limits = {
      fixed_limit(9, "voucher:V1", 5, test::hours(1)),
      fixed_limit(3, "voucher:*", 5, test::days(1)),
      total_limit(5, "voucher:V1", 5),
      sliding_limit(1, "voucher:*", 5, test::hours(1)),
  };
  EXPECT_EQ(applicable_ids("voucher:V1", limits), (Ids{1, 3, 5, 9}));
}

}  // namespace
}  // namespace allot
