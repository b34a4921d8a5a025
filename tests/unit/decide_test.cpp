#include "decide.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "window.hpp"

namespace allot {
namespace {

using test::fixed_limit;
using test::kHour;
using test::kMinute;
using test::shadow;
using test::sliding_limit;
using test::total_limit;
using test::ts;
using test::valid_between;
using test::with_valid;

using Keys = std::vector<std::string>;
using Wait = std::optional<Duration>;

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
const Timestamp kNow = ts(2024, 5, 17, 13);  // a Friday, 13:00 UTC

// Counts `units` where a grant at `at` would be counted for (key, rule).
void use(UsageLedger* ledger, const std::string& key, const LimitRule& rule, std::int64_t units,
         Timestamp at) {
  ledger->add(key, rule.id, place(rule, at).counted_start, units);
}

// --- granting -----------------------------------------------------------------

TEST(Decide, KeysWithoutLimitsAreGranted) {
  const UsageLedger ledger;
  const Outcome out = decide({{"voucher:V1", {}}, {"user:U1", {}}}, 1000, ledger, kNow);
  EXPECT_TRUE(out.granted);
  EXPECT_TRUE(out.denied_keys.empty());
  EXPECT_EQ(out.retry_after, std::nullopt);
  EXPECT_TRUE(out.checks.empty());
}

TEST(Decide, GrantedWhileUsedPlusAmountFitsInMax) {
  const LimitRule daily = fixed_limit(1, "voucher:V1", 5, test::days(1));
  UsageLedger ledger;
  use(&ledger, "voucher:V1", daily, 3, kNow - kHour);
  EXPECT_TRUE(decide({{"voucher:V1", {&daily}}}, 2, ledger, kNow).granted);
  EXPECT_FALSE(decide({{"voucher:V1", {&daily}}}, 3, ledger, kNow).granted);
}

TEST(Decide, AmountEqualToMaxFitsAnEmptyLimit) {
  const LimitRule total = total_limit(1, "voucher:V1", 5);
  const UsageLedger ledger;
  EXPECT_TRUE(decide({{"voucher:V1", {&total}}}, 5, ledger, kNow).granted);
}

TEST(Decide, UsageOfOtherWindowsDoesNotCount) {
  const LimitRule daily = fixed_limit(1, "voucher:V1", 5, test::days(1));
  UsageLedger ledger;
  use(&ledger, "voucher:V1", daily, 5, kNow - 24 * kHour);
  EXPECT_TRUE(decide({{"voucher:V1", {&daily}}}, 5, ledger, kNow).granted);
}

TEST(Decide, UsageOfOtherKeysDoesNotCount) {
  const LimitRule cls = fixed_limit(1, "voucher:*", 5, test::days(1));
  UsageLedger ledger;
  use(&ledger, "voucher:V2", cls, 5, kNow);
  EXPECT_TRUE(decide({{"voucher:V1", {&cls}}}, 5, ledger, kNow).granted);
}

TEST(Decide, CheckReportsUsedRoomAndCountedRow) {
  const LimitRule daily = fixed_limit(1, "voucher:V1", 5, test::days(1));
  UsageLedger ledger;
  use(&ledger, "voucher:V1", daily, 4, kNow);
  const LimitCheck c = check_limit("voucher:V1", daily, 1, ledger, kNow);
  EXPECT_EQ(c.key, "voucher:V1");
  EXPECT_EQ(c.rule, &daily);
  EXPECT_EQ(c.used, 4);
  EXPECT_TRUE(c.has_room);
  EXPECT_EQ(c.counted_start, ts(2024, 5, 17));
}

TEST(Decide, ChecksListEveryKeyAndLimitInRequestOrder) {
  const LimitRule a1 = total_limit(1, "a:1", 5);
  const LimitRule a2 = fixed_limit(2, "a:1", 5, test::days(1));
  const LimitRule b1 = total_limit(3, "b:1", 5);
  const UsageLedger ledger;
  const Outcome out = decide({{"b:1", {&b1}}, {"a:1", {&a1, &a2}}}, 1, ledger, kNow);
  ASSERT_EQ(out.checks.size(), 3u);
  EXPECT_EQ(out.checks[0].rule, &b1);
  EXPECT_EQ(out.checks[1].rule, &a1);
  EXPECT_EQ(out.checks[2].rule, &a2);
}

// --- all or nothing --------------------------------------------------------

TEST(Decide, OneFullKeyDeniesTheWholeRequest) {
  const LimitRule a = total_limit(1, "a:1", 5);
  const LimitRule b = total_limit(2, "b:1", 5);
  UsageLedger ledger;
  use(&ledger, "b:1", b, 5, kNow);
  const Outcome out = decide({{"a:1", {&a}}, {"b:1", {&b}}}, 1, ledger, kNow);
  EXPECT_FALSE(out.granted);
  EXPECT_EQ(out.denied_keys, Keys{"b:1"});
  EXPECT_TRUE(out.checks[0].has_room);
}

TEST(Decide, DenialListsEveryDeniedKeyOnce) {
  const LimitRule a = total_limit(1, "a:1", 5);
  const LimitRule a_daily = fixed_limit(2, "a:1", 5, test::days(1));
  const LimitRule b = total_limit(3, "b:1", 5);
  const LimitRule c = total_limit(4, "c:1", 5);
  UsageLedger ledger;
  use(&ledger, "a:1", a, 5, kNow);
  use(&ledger, "a:1", a_daily, 5, kNow);
  use(&ledger, "c:1", c, 5, kNow);
  const Outcome out =
      decide({{"a:1", {&a, &a_daily}}, {"b:1", {&b}}, {"c:1", {&c}}}, 1, ledger, kNow);
  EXPECT_FALSE(out.granted);
  EXPECT_EQ(out.denied_keys, (Keys{"a:1", "c:1"}));
}

// --- shadow limits --------------------------------------------------------------

TEST(Decide, ShadowLimitsNeverDeny) {
  const LimitRule s = shadow(total_limit(1, "a:1", 5));
  UsageLedger ledger;
  use(&ledger, "a:1", s, 5, kNow);
  const Outcome out = decide({{"a:1", {&s}}}, 10, ledger, kNow);
  EXPECT_TRUE(out.granted);
  EXPECT_TRUE(out.denied_keys.empty());
  EXPECT_EQ(out.retry_after, std::nullopt);
  // The check still says the shadow limit had no room: that is the violation
  // the caller records.
  ASSERT_EQ(out.checks.size(), 1u);
  EXPECT_FALSE(out.checks[0].has_room);
}

TEST(Decide, FullShadowLimitDoesNotMakeRetryAfterNull) {
  const LimitRule hourly = fixed_limit(1, "a:1", 5, test::hours(1));
  const LimitRule s = shadow(total_limit(2, "a:1", 5));
  UsageLedger ledger;
  use(&ledger, "a:1", hourly, 5, kNow);
  use(&ledger, "a:1", s, 5, kNow);
  const Outcome out = decide({{"a:1", {&hourly, &s}}}, 1, ledger, kNow);
  EXPECT_FALSE(out.granted);
  EXPECT_EQ(out.retry_after, Wait{kHour});
}

// --- retry_after ----------------------------------------------------------------

TEST(RetryAfter, NullWhenGranted) {
  const LimitRule daily = fixed_limit(1, "a:1", 5, test::days(1));
  const UsageLedger ledger;
  EXPECT_EQ(decide({{"a:1", {&daily}}}, 1, ledger, kNow).retry_after, std::nullopt);
}

TEST(RetryAfter, FixedWindowWaitsForTheNextWindow) {
  const LimitRule daily = fixed_limit(1, "a:1", 5, test::days(1));
  UsageLedger ledger;
  use(&ledger, "a:1", daily, 5, kNow);
  EXPECT_EQ(decide({{"a:1", {&daily}}}, 1, ledger, kNow).retry_after, Wait{11 * kHour});
}

TEST(RetryAfter, MonthWindowWaitsForTheFirstOfNextMonth) {
  const LimitRule monthly = fixed_limit(1, "a:1", 5, test::months(1));
  const Timestamp now = ts(2024, 2, 15, 12);
  UsageLedger ledger;
  use(&ledger, "a:1", monthly, 5, now);
  EXPECT_EQ(decide({{"a:1", {&monthly}}}, 1, ledger, now).retry_after, Wait{ts(2024, 3, 1) - now});
}

TEST(RetryAfter, SlidingWaitsUntilTheOldestBucketLeaves) {
  // Buckets are 1 minute; the bucket starting 12:10 stops counting one
  // bucket plus one per after its start, at 13:11.
  const LimitRule rule = sliding_limit(1, "a:1", 3, test::hours(1));
  UsageLedger ledger;
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 10));
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 20));
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 30));
  EXPECT_EQ(decide({{"a:1", {&rule}}}, 1, ledger, kNow).retry_after, Wait{11 * kMinute});
}

TEST(RetryAfter, SlidingWaitsForAsManyBucketsAsTheAmountNeeds) {
  const LimitRule rule = sliding_limit(1, "a:1", 3, test::hours(1));
  UsageLedger ledger;
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 10));
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 20));
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 30));
  EXPECT_EQ(decide({{"a:1", {&rule}}}, 2, ledger, kNow).retry_after, Wait{21 * kMinute});
  EXPECT_EQ(decide({{"a:1", {&rule}}}, 3, ledger, kNow).retry_after, Wait{31 * kMinute});
}

TEST(RetryAfter, SlidingRetryAfterIsTheShortestWaitThatGrants) {
  const LimitRule rule = sliding_limit(1, "a:1", 3, test::hours(1));
  UsageLedger ledger;
  use(&ledger, "a:1", rule, 2, ts(2024, 5, 17, 12, 10, 30));
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 40, 5));
  const Outcome out = decide({{"a:1", {&rule}}}, 2, ledger, kNow);
  ASSERT_FALSE(out.granted);
  ASSERT_TRUE(out.retry_after.has_value());
  const Timestamp retry_at = kNow + *out.retry_after;
  EXPECT_TRUE(decide({{"a:1", {&rule}}}, 2, ledger, retry_at).granted);
  EXPECT_FALSE(decide({{"a:1", {&rule}}}, 2, ledger, retry_at - 1).granted);
}

TEST(RetryAfter, NullWhenATotalLimitIsSpent) {
  const LimitRule total = total_limit(1, "a:1", 5);
  UsageLedger ledger;
  use(&ledger, "a:1", total, 5, kNow);
  const Outcome out = decide({{"a:1", {&total}}}, 1, ledger, kNow);
  EXPECT_FALSE(out.granted);
  EXPECT_EQ(out.retry_after, std::nullopt);
}

TEST(RetryAfter, NullWhenAmountExceedsMax) {
  const LimitRule daily = fixed_limit(1, "a:1", 5, test::days(1));
  const LimitRule rolling = sliding_limit(2, "b:1", 5, test::hours(1));
  const UsageLedger ledger;
  EXPECT_EQ(decide({{"a:1", {&daily}}}, 6, ledger, kNow).retry_after, std::nullopt);
  EXPECT_EQ(decide({{"b:1", {&rolling}}}, 6, ledger, kNow).retry_after, std::nullopt);
  EXPECT_FALSE(decide({{"a:1", {&daily}}}, 6, ledger, kNow).granted);
}

TEST(RetryAfter, LongestWaitAmongDeniedLimits) {
  // Waiting 30 minutes frees the hourly limit but not the daily one.
  const LimitRule hourly = fixed_limit(1, "a:1", 5, test::hours(1));
  const LimitRule daily = fixed_limit(2, "b:1", 5, test::days(1));
  const Timestamp now = ts(2024, 5, 17, 13, 30);
  UsageLedger ledger;
  use(&ledger, "a:1", hourly, 5, now);
  use(&ledger, "b:1", daily, 5, now);
  EXPECT_EQ(decide({{"a:1", {&hourly}}, {"b:1", {&daily}}}, 1, ledger, now).retry_after,
            Wait{10 * kHour + 30 * kMinute});
}

TEST(RetryAfter, NullWhenAnyDeniedLimitCannotBeWaitedOut) {
  const LimitRule hourly = fixed_limit(1, "a:1", 5, test::hours(1));
  const LimitRule total = total_limit(2, "b:1", 5);
  UsageLedger ledger;
  use(&ledger, "a:1", hourly, 5, kNow);
  use(&ledger, "b:1", total, 5, kNow);
  EXPECT_EQ(decide({{"a:1", {&hourly}}, {"b:1", {&total}}}, 1, ledger, kNow).retry_after,
            std::nullopt);
}

TEST(RetryAfter, CappedByTheEndOfTheValidRange) {
  // The daily limit stops applying at 15:00, long before the next window.
  const LimitRule daily = with_valid(fixed_limit(1, "a:1", 5, test::days(1)),
                                     valid_between(ts(2024, 5, 1), ts(2024, 5, 17, 15)));
  UsageLedger ledger;
  use(&ledger, "a:1", daily, 5, kNow);
  EXPECT_EQ(decide({{"a:1", {&daily}}}, 1, ledger, kNow).retry_after, Wait{2 * kHour});
}

TEST(RetryAfter, CapAppliesToSlidingLimitsToo) {
  const LimitRule rule = with_valid(sliding_limit(1, "a:1", 1, test::hours(1)),
                                    valid_between(ts(2024, 5, 1), kNow + 5 * kMinute));
  UsageLedger ledger;
  use(&ledger, "a:1", rule, 1, kNow - 10 * kMinute);
  EXPECT_EQ(decide({{"a:1", {&rule}}}, 1, ledger, kNow).retry_after, Wait{5 * kMinute});
}

// Core bug (decide.cpp:36): with an inclusive upper bound the limit still
// applies at `upper` itself, so the first instant with room is upper + 1µs;
// retry_after points 1µs too early.
TEST(RetryAfter, InclusiveUpperBoundEndsOneMicrosecondLater) {
  const LimitRule daily = with_valid(
      fixed_limit(1, "a:1", 5, test::days(1)),
      valid_between(ts(2024, 5, 1), ts(2024, 5, 17, 15), true, /*upper_inclusive=*/true));
  UsageLedger ledger;
  use(&ledger, "a:1", daily, 5, kNow);
  EXPECT_EQ(decide({{"a:1", {&daily}}}, 1, ledger, kNow).retry_after, Wait{2 * kHour + 1});
}

// --- count_grant ------------------------------------------------------------------

TEST(CountGrant, SecondDecisionSeesTheFirstGrant) {
  const LimitRule daily = fixed_limit(1, "a:1", 3, test::days(1));
  UsageLedger ledger;
  const Outcome first = decide({{"a:1", {&daily}}}, 2, ledger, kNow);
  ASSERT_TRUE(first.granted);
  count_grant(first, 2, &ledger);
  EXPECT_EQ(ledger.used("a:1", 1, ts(2024, 5, 17), ts(2024, 5, 17) + 1), 2);
  EXPECT_FALSE(decide({{"a:1", {&daily}}}, 2, ledger, kNow).granted);
  EXPECT_TRUE(decide({{"a:1", {&daily}}}, 1, ledger, kNow).granted);
}

TEST(CountGrant, CountsOnEveryLimitOfEveryKeyIncludingShadow) {
  const LimitRule total = total_limit(1, "a:1", 100);
  const LimitRule s = shadow(fixed_limit(2, "a:1", 1, test::hours(1)));
  const LimitRule rolling = sliding_limit(3, "b:1", 100, test::hours(1));
  UsageLedger ledger;
  const Outcome out = decide({{"a:1", {&total, &s}}, {"b:1", {&rolling}}}, 4, ledger, kNow);
  ASSERT_TRUE(out.granted);
  count_grant(out, 4, &ledger);
  EXPECT_EQ(ledger.rows("a:1", 1), (UsageLedger::Rows{{place(total, kNow).counted_start, 4}}));
  EXPECT_EQ(ledger.rows("a:1", 2), (UsageLedger::Rows{{ts(2024, 5, 17, 13), 4}}));
  EXPECT_EQ(ledger.rows("b:1", 3), (UsageLedger::Rows{{ts(2024, 5, 17, 13), 4}}));
}

TEST(CountGrant, ShadowOverflowKeepsBeingCounted) {
  const LimitRule s = shadow(total_limit(1, "a:1", 1));
  UsageLedger ledger;
  for (int i = 0; i < 3; ++i) {
    const Outcome out = decide({{"a:1", {&s}}}, 1, ledger, kNow);
    ASSERT_TRUE(out.granted);
    count_grant(out, 1, &ledger);
  }
  const StartSpan span = place(s, kNow).check_span;
  EXPECT_EQ(ledger.used("a:1", 1, span.from, span.to), 3);
}

TEST(CountGrant, BatchOfGrantsStopsExactlyAtMax) {
  const LimitRule rolling = sliding_limit(1, "a:1", 10, test::hours(1));
  UsageLedger ledger;
  int granted = 0;
  for (int i = 0; i < 25; ++i) {
    const Timestamp now = kNow + i * test::kSecond;
    const Outcome out = decide({{"a:1", {&rolling}}}, 1, ledger, now);
    if (!out.granted) continue;
    count_grant(out, 1, &ledger);
    ++granted;
  }
  EXPECT_EQ(granted, 10);
}

// --- arithmetic edges ---------------------------------------------------------------

TEST(Decide, AmountNearInt64MaxDoesNotOverflow) {
  const LimitRule huge = fixed_limit(1, "a:1", kInt64Max, test::days(1));
  const LimitRule small = fixed_limit(2, "b:1", 5, test::days(1));
  UsageLedger ledger;
  EXPECT_TRUE(decide({{"a:1", {&huge}}}, kInt64Max, ledger, kNow).granted);
  EXPECT_FALSE(decide({{"b:1", {&small}}}, kInt64Max, ledger, kNow).granted);
  use(&ledger, "a:1", huge, 1, kNow);
  const Outcome out = decide({{"a:1", {&huge}}}, kInt64Max, ledger, kNow);
  EXPECT_FALSE(out.granted);
  EXPECT_EQ(out.retry_after, Wait{11 * kHour});
  EXPECT_TRUE(decide({{"a:1", {&huge}}}, kInt64Max - 1, ledger, kNow).granted);
}

TEST(Decide, HugeUsageDoesNotOverflowTheRoomCheck) {
  const LimitRule total = total_limit(1, "a:1", kInt64Max);
  UsageLedger ledger;
  use(&ledger, "a:1", total, kInt64Max, kNow);
  const Outcome out = decide({{"a:1", {&total}}}, kInt64Max, ledger, kNow);
  EXPECT_FALSE(out.granted);
  EXPECT_EQ(out.retry_after, std::nullopt);
}

// Core bug (decide.cpp:19): sliding_wait tests `remaining + amount <= max`,
// which overflows when amount is near INT64_MAX and more than one bucket
// must leave (UB; UBSan aborts). check_limit avoids it by writing
// `used <= max - amount`; sliding_wait should do the same.
TEST(Decide, SlidingRetryWithAmountNearInt64MaxDoesNotOverflow) {
  const LimitRule rule = sliding_limit(1, "a:1", kInt64Max, test::hours(1));
  UsageLedger ledger;
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 10));
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 20));
  use(&ledger, "a:1", rule, 1, ts(2024, 5, 17, 12, 30));
  // Room for max - 1 once two of the three units have left the window.
  const Outcome out = decide({{"a:1", {&rule}}}, kInt64Max - 1, ledger, kNow);
  EXPECT_FALSE(out.granted);
  EXPECT_EQ(out.retry_after, Wait{21 * kMinute});
}

}  // namespace
}  // namespace allot

namespace allot {
namespace {

// A shadow limit counts past max; a grant that would overflow its 64-bit
// usage is refused with a clear out-of-range error instead of wrapping.
TEST(Decide, ShadowUsageThatWouldOverflowIsAnOutOfRangeError) {
  const LimitRule rule = test::shadow(test::total_limit(1, "voucher:V1", 10));
  UsageLedger ledger;
  ledger.add("voucher:V1", rule.id, place(rule, test::ts(2024, 5, 17)).counted_start, 5);
  EXPECT_THROW(
      {
        try {
          decide({{"voucher:V1", {&rule}}}, std::numeric_limits<std::int64_t>::max() - 1, ledger,
                 test::ts(2024, 5, 17));
        } catch (const BadInput& e) {
          EXPECT_EQ(e.code(), ErrorCode::kNumericOutOfRange);
          EXPECT_NE(std::string(e.what()).find("overflow"), std::string::npos);
          throw;
        }
      },
      BadInput);
}

}  // namespace
}  // namespace allot
