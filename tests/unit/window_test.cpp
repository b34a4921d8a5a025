#include "window.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace allot {
namespace {

using test::fixed_limit;
using test::kHour;
using test::kMinute;
using test::show;
using test::sliding_limit;
using test::total_limit;
using test::ts;
using test::valid_from;
using test::with_valid;

Timestamp start_of(const LimitRule& rule, Timestamp now) { return place(rule, now).counted_start; }

// --- total limits -------------------------------------------------------------

TEST(TotalWindow, UnboundedValidCountsIntoTheMinusInfinityRow) {
  // window.cpp: a total's row is lower(valid), -infinity when open, so that
  // allot.usage shows the same window_start as the limit's range.
  const LimitRule rule = total_limit(1, "voucher:V1", 10);
  const Placement p = place(rule, ts(2024, 5, 17, 13, 45));
  EXPECT_EQ(p.counted_start, kMinusInfinity);
  EXPECT_TRUE(p.check_span.contains(kMinusInfinity));
  EXPECT_FALSE(p.check_span.contains(kMinusInfinity + 1));
  EXPECT_FALSE(p.check_span.contains(0));
}

TEST(TotalWindow, UnboundedValidAnchorsWindowsAtTheEpoch) {
  EXPECT_EQ(window_anchor(total_limit(1, "voucher:V1", 10)), 0);
}

TEST(TotalWindow, FiniteLowerBoundIsTheAnchor) {
  const Timestamp lower = ts(2024, 3, 1, 12);
  for (bool inclusive : {true, false}) {
    const LimitRule rule =
        with_valid(total_limit(1, "voucher:V1", 10), valid_from(lower, inclusive));
    const Placement p = place(rule, ts(2024, 5, 17));
    EXPECT_EQ(show(p.counted_start), "2024-03-01 12:00:00");
    EXPECT_TRUE(p.check_span.contains(lower));
    EXPECT_FALSE(p.check_span.contains(lower + 1));
    EXPECT_FALSE(p.check_span.contains(lower - 1));
  }
}

TEST(TotalWindow, SameRowWhateverTheTime) {
  const LimitRule rule = total_limit(1, "voucher:V1", 10);
  EXPECT_EQ(start_of(rule, ts(1990, 1, 1)), start_of(rule, ts(2090, 1, 1)));
}

// --- fixed windows with a fixed length ------------------------------------

TEST(FixedWindow, OneDayIsAlignedToMidnightUtc) {
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::days(1));
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 13, 45, 10))), "2024-05-17 00:00:00");
  EXPECT_EQ(show(next_fixed_window_start(rule, ts(2024, 5, 17, 13, 45, 10))),
            "2024-05-18 00:00:00");
}

TEST(FixedWindow, WindowStartBelongsToTheNewWindow) {
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::days(1));
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17))), "2024-05-17 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17) - 1)), "2024-05-16 00:00:00");
  EXPECT_EQ(show(next_fixed_window_start(rule, ts(2024, 5, 17))), "2024-05-18 00:00:00");
}

TEST(FixedWindow, CheckSpanIsExactlyTheWindowRow) {
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::days(1));
  const Placement p = place(rule, ts(2024, 5, 17, 13));
  EXPECT_TRUE(p.check_span.contains(ts(2024, 5, 17)));
  EXPECT_FALSE(p.check_span.contains(ts(2024, 5, 16)));
  EXPECT_FALSE(p.check_span.contains(ts(2024, 5, 18)));
}

TEST(FixedWindow, TwentyFourHoursBehavesLikeOneDay) {
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::hours(24));
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 13))), "2024-05-17 00:00:00");
}

TEST(FixedWindow, OneHourIsAlignedToTheHour) {
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::hours(1));
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 13, 45, 10))), "2024-05-17 13:00:00");
  EXPECT_EQ(show(next_fixed_window_start(rule, ts(2024, 5, 17, 23, 59, 59))),
            "2024-05-18 00:00:00");
}

TEST(FixedWindow, SevenDaysCountFromSaturday2000January1) {
  // 2000-01-01 was a Saturday, so unanchored weeks run Saturday to Friday.
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::days(7));
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 13))), "2024-05-11 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 18))), "2024-05-18 00:00:00");
}

TEST(FixedWindow, FiniteValidLowerBoundMovesTheAlignment) {
  const LimitRule rule =
      with_valid(fixed_limit(1, "user:U1", 5, test::days(1)), valid_from(ts(2024, 1, 1, 6)));
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 5))), "2024-05-16 06:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 7))), "2024-05-17 06:00:00");
}

TEST(FixedWindow, TimesBeforeTheAnchorHaveEarlierWindows) {
  const LimitRule anchored =
      with_valid(fixed_limit(1, "user:U1", 5, test::days(1)), valid_from(ts(2024, 1, 10, 6)));
  EXPECT_EQ(show(start_of(anchored, ts(2024, 1, 5, 13))), "2024-01-05 06:00:00");
  EXPECT_EQ(show(start_of(anchored, ts(2024, 1, 5, 5))), "2024-01-04 06:00:00");

  const LimitRule hourly = fixed_limit(1, "user:U1", 5, test::hours(1));
  EXPECT_EQ(show(start_of(hourly, ts(1999, 12, 31, 23, 30))), "1999-12-31 23:00:00");
  EXPECT_EQ(show(next_fixed_window_start(hourly, ts(1999, 12, 31, 23, 30))), "2000-01-01 00:00:00");
}

// --- fixed windows by calendar month --------------------------------------

TEST(MonthWindow, OneMonthIsAlignedToTheFirstOfTheMonth) {
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::months(1));
  EXPECT_EQ(show(start_of(rule, ts(2024, 2, 15))), "2024-02-01 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 2, 29, 23, 59, 59))), "2024-02-01 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 3, 1))), "2024-03-01 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 12, 31, 23, 59, 59))), "2024-12-01 00:00:00");
  EXPECT_EQ(show(next_fixed_window_start(rule, ts(2024, 12, 31))), "2025-01-01 00:00:00");
}

TEST(MonthWindow, MonthBoundariesHoldFarFromTheEpoch) {
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::months(1));
  EXPECT_EQ(show(start_of(rule, ts(2150, 7, 4, 12))), "2150-07-01 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2150, 7, 1) - 1)), "2150-06-01 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(1850, 3, 1))), "1850-03-01 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(1850, 3, 1) - 1)), "1850-02-01 00:00:00");
}

TEST(MonthWindow, ThreeMonthsAreCalendarQuarters) {
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::months(3));
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17))), "2024-04-01 00:00:00");
  EXPECT_EQ(show(next_fixed_window_start(rule, ts(2024, 5, 17))), "2024-07-01 00:00:00");
}

TEST(MonthWindow, AnchorOnThe31stClampsWithoutDrifting) {
  // Each window is anchor + k months: Jan 31 -> Feb 29 -> Mar 31 -> Apr 30.
  const LimitRule rule =
      with_valid(fixed_limit(1, "user:U1", 5, test::months(1)), valid_from(ts(2024, 1, 31)));
  EXPECT_EQ(show(start_of(rule, ts(2024, 2, 15))), "2024-01-31 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 2, 29))), "2024-02-29 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 3, 30, 23))), "2024-02-29 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 3, 31))), "2024-03-31 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 4, 30, 1))), "2024-04-30 00:00:00");
  EXPECT_EQ(show(next_fixed_window_start(rule, ts(2024, 2, 29, 12))), "2024-03-31 00:00:00");
  EXPECT_EQ(show(next_fixed_window_start(rule, ts(2024, 4, 30, 12))), "2024-05-31 00:00:00");
}

TEST(MonthWindow, AnchorTimeOfDayIsKept) {
  const LimitRule rule =
      with_valid(fixed_limit(1, "user:U1", 5, test::months(1)), valid_from(ts(2024, 1, 15, 9, 30)));
  EXPECT_EQ(show(start_of(rule, ts(2024, 3, 15, 9, 29))), "2024-02-15 09:30:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 3, 15, 9, 30))), "2024-03-15 09:30:00");
}

TEST(MonthWindow, TimesBeforeTheAnchorHaveEarlierMonths) {
  const LimitRule rule =
      with_valid(fixed_limit(1, "user:U1", 5, test::months(1)), valid_from(ts(2024, 3, 31)));
  EXPECT_EQ(show(start_of(rule, ts(2024, 3, 30))), "2024-02-29 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 2, 15))), "2024-01-31 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2023, 3, 1))), "2023-02-28 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(1999, 12, 31, 23))), "1999-12-31 00:00:00");
}

TEST(MonthWindow, MonthAndDayIntervalStepsByBoth) {
  // Windows: Jan 1, Feb 2, Mar 3, ... (anchor + k * '1 month 1 day').
  const LimitRule rule = fixed_limit(1, "user:U1", 5, Interval{1, 1, 0});
  EXPECT_EQ(show(start_of(rule, ts(2000, 2, 1))), "2000-01-01 00:00:00");
  EXPECT_EQ(show(start_of(rule, ts(2000, 2, 2))), "2000-02-02 00:00:00");
  EXPECT_EQ(show(next_fixed_window_start(rule, ts(2000, 2, 2))), "2000-03-03 00:00:00");
}

// --- sliding windows ---------------------------------------------------------

TEST(SlidingWindow, BucketIsOneSixtiethOfPer) {
  EXPECT_EQ(sliding_bucket_length(test::hours(1)), kMinute);
  EXPECT_EQ(sliding_bucket_length(test::days(1)), 24 * kMinute);
  EXPECT_EQ(sliding_bucket_length(Interval{0, 1, kHour}), 25 * kMinute);
  EXPECT_EQ(sliding_bucket_length(test::micros(120)), 2);
}

TEST(SlidingWindow, BucketIsAtLeastOneMicrosecond) {
  EXPECT_EQ(sliding_bucket_length(test::micros(60)), 1);
  EXPECT_EQ(sliding_bucket_length(test::micros(59)), 1);
  EXPECT_EQ(sliding_bucket_length(test::micros(1)), 1);
}

TEST(SlidingWindow, GrantIsCountedInTheBucketHoldingNow) {
  const LimitRule rule = sliding_limit(1, "user:U1", 5, test::hours(1));
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 13, 45, 30))), "2024-05-17 13:45:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 13, 45))), "2024-05-17 13:45:00");
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 13, 45) - 1)), "2024-05-17 13:44:00");
}

TEST(SlidingWindow, BucketsAreAlignedToAFiniteValidLowerBound) {
  const LimitRule rule = with_valid(sliding_limit(1, "user:U1", 5, test::hours(1)),
                                    valid_from(ts(2024, 1, 1, 0, 0, 20)));
  EXPECT_EQ(show(start_of(rule, ts(2024, 5, 17, 13, 45, 10))), "2024-05-17 13:44:20");
  // Before the anchor the buckets continue backwards on the same grid.
  EXPECT_EQ(show(start_of(rule, ts(2023, 12, 31, 23, 59, 10))), "2023-12-31 23:58:20");
}

TEST(SlidingWindow, TinyPerGivesOneMicrosecondBuckets) {
  const LimitRule rule = sliding_limit(1, "user:U1", 5, test::micros(30));
  const Timestamp now = ts(2024, 5, 17) + 7;
  EXPECT_EQ(start_of(rule, now), now);
  EXPECT_EQ(place(rule, now).check_span.from, now - 30);
}

TEST(SlidingWindow, CheckSpanHoldsExactlyTheBucketsOverlappingTheWindowAndLaterOnes) {
  // Bucket [s, s + bucket) overlaps (now - per, now] iff s + bucket > now - per.
  const LimitRule rule = sliding_limit(1, "user:U1", 5, test::hours(1));
  const Duration bucket = kMinute;
  for (const Timestamp now : {ts(2024, 5, 17, 13, 45, 30), ts(2024, 5, 17, 13, 45),
                              ts(2024, 5, 17, 13, 45) + 1, ts(2024, 5, 17, 13, 45) - 1}) {
    const StartSpan span = place(rule, now).check_span;
    const Timestamp first = ts(2024, 5, 17, 12, 40);
    for (Timestamp s = first; s <= ts(2024, 5, 17, 14, 0); s += bucket) {
      const bool overlaps = s + bucket > now - kHour;
      EXPECT_EQ(span.contains(s), overlaps) << "now " << show(now) << ", bucket " << show(s);
    }
  }
}

TEST(SlidingWindow, CheckSpanCountsBucketsAfterNow) {
  // Rows stamped later than now (another backend's clock ran ahead) still
  // count, so they can never be used to over-admit.
  const LimitRule rule = sliding_limit(1, "user:U1", 5, test::hours(1));
  const StartSpan span = place(rule, ts(2024, 5, 17, 13)).check_span;
  EXPECT_TRUE(span.contains(ts(2024, 5, 17, 13, 30)));
  EXPECT_TRUE(span.contains(ts(2030, 1, 1)));
  EXPECT_EQ(span.to, kPlusInfinity);
}

TEST(SlidingWindow, OldestCountedBucketStartsJustOverPerAgo) {
  const LimitRule rule = sliding_limit(1, "user:U1", 5, test::hours(1));
  const Placement p = place(rule, ts(2024, 5, 17, 13, 45, 30));
  EXPECT_EQ(show(p.check_span.from), "2024-05-17 12:44:30.000001");
  EXPECT_FALSE(p.check_span.contains(ts(2024, 5, 17, 12, 44)));
  EXPECT_TRUE(p.check_span.contains(ts(2024, 5, 17, 12, 45)));
}

// --- the ends of the timestamp range ------------------------------------------

// PostgreSQL's timestamptz range, 4714-11-24 BC up to 294277-01-01: two
// timestamps in it can be further apart than an int64 of µs holds. Found by
// tests/fuzz/fuzz_window.cpp (now - anchor overflowed, undefined behaviour).
constexpr Timestamp kPgMinTimestamp = -211813488000000000;
constexpr Timestamp kPgEndTimestamp = 9223371331200000000;

TEST(RangeEnds, NowTooFarFromTheAnchorIsOutOfRange) {
  const ValidRange since_4714_bc = valid_from(kPgMinTimestamp);
  const Timestamp now = kPgEndTimestamp - 1;
  for (const LimitRule& rule :
       {with_valid(fixed_limit(1, "user:U1", 5, test::days(1)), since_4714_bc),
        with_valid(sliding_limit(1, "user:U1", 5, test::hours(1)), since_4714_bc)})
    EXPECT_TRUE(test::ThrowsBadInput([&] { place(rule, now); }, ErrorCode::kOutOfRange,
                                     "timestamp out of range"));
}

TEST(RangeEnds, WindowsAreStillPlacedFarFromTheAnchor) {
  const ValidRange since_4714_bc = valid_from(kPgMinTimestamp);
  const Timestamp now = ts(2024, 5, 17, 13, 45, 30);
  const LimitRule fixed = with_valid(fixed_limit(1, "user:U1", 5, test::days(1)), since_4714_bc);
  EXPECT_EQ(show(start_of(fixed, now)), "2024-05-17 00:00:00");
  const LimitRule sliding =
      with_valid(sliding_limit(1, "user:U1", 5, test::hours(1)), since_4714_bc);
  EXPECT_EQ(show(start_of(sliding, now)), "2024-05-17 13:45:00");
  // Valid from the far future: windows before the anchor, 292,000 years back.
  const Timestamp anchor = kPgEndTimestamp - kHour + 7;
  const LimitRule early =
      with_valid(sliding_limit(1, "user:U1", 5, test::hours(1)), valid_from(anchor));
  const Timestamp start = start_of(early, now);
  EXPECT_LE(start, now);
  EXPECT_GT(start + kMinute, now);
  EXPECT_EQ((anchor - start) % kMinute, 0);
}

// --- current_window ------------------------------------------------------------

TEST(CurrentWindow, TotalShowsTheAnchor) {
  const LimitRule rule = with_valid(total_limit(1, "user:U1", 5), valid_from(ts(2024, 1, 1)));
  const CurrentWindow w = current_window(rule, ts(2024, 5, 17));
  EXPECT_EQ(show(w.window_start), "2024-01-01 00:00:00");
  EXPECT_TRUE(w.rows.contains(ts(2024, 1, 1)));
}

TEST(CurrentWindow, FixedShowsTheWindowStart) {
  const LimitRule rule = fixed_limit(1, "user:U1", 5, test::months(1));
  const CurrentWindow w = current_window(rule, ts(2024, 5, 17, 13));
  EXPECT_EQ(show(w.window_start), "2024-05-01 00:00:00");
  EXPECT_TRUE(w.rows.contains(ts(2024, 5, 1)));
  EXPECT_FALSE(w.rows.contains(ts(2024, 4, 1)));
}

TEST(CurrentWindow, SlidingShowsNowMinusPerAndTheCheckedRows) {
  const LimitRule rule = sliding_limit(1, "user:U1", 5, test::hours(1));
  const Timestamp now = ts(2024, 5, 17, 13, 45, 30);
  const CurrentWindow w = current_window(rule, now);
  EXPECT_EQ(show(w.window_start), "2024-05-17 12:45:30");
  EXPECT_EQ(w.rows.from, place(rule, now).check_span.from);
  EXPECT_EQ(w.rows.to, kPlusInfinity);
}

}  // namespace
}  // namespace allot
