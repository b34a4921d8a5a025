#include "path_policy.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace allot {
namespace {

TEST(SecondsLeft, HeadroomOverRate) {
  EXPECT_DOUBLE_EQ(seconds_left(100, 50.0), 2.0);
  EXPECT_DOUBLE_EQ(seconds_left(0, 50.0), 0.0);
  EXPECT_DOUBLE_EQ(seconds_left(-3, 50.0), 0.0);
  EXPECT_TRUE(std::isinf(seconds_left(5, 0.0)));
}

TEST(ShouldGoSlow, WhenTheLastUnitsWouldGoWithinSlowBelow) {
  EXPECT_TRUE(should_go_slow(100, 100.0, 2.0));    // 1 s left
  EXPECT_FALSE(should_go_slow(1000, 100.0, 2.0));  // 10 s left
  EXPECT_FALSE(should_go_slow(200, 100.0, 2.0));   // exactly 2 s: not below
  EXPECT_FALSE(should_go_slow(5, 0.0, 2.0));       // nobody is taking any
}

TEST(ShouldGoSlow, NeverForASpentKey) {
  // One coupon per user (max 1): spent by its first use. Moving it would
  // be a flip now and another when the rollup brings it back.
  EXPECT_FALSE(should_go_slow(0, 0.2, 2.0));
  EXPECT_FALSE(should_go_slow(0, 5000.0, 2.0));
  EXPECT_FALSE(should_go_slow(-1, 5000.0, 2.0));  // max lowered below usage
  EXPECT_TRUE(should_go_slow(1, 5000.0, 2.0));    // the very last unit: slow
}

TEST(RateCanGoSlow, FalseOnlyWhenNoHeadroomWouldGoSlow) {
  EXPECT_FALSE(rate_can_go_slow(0.0, 2.0));
  EXPECT_FALSE(rate_can_go_slow(0.5, 2.0));  // one unit lasts exactly 2 s
  EXPECT_TRUE(rate_can_go_slow(0.6, 2.0));
  // The rollup skips a key's meters when this is false: that must never
  // hide a key should_go_slow would move.
  for (double rate : {0.0, 1e-12, 0.1, 0.49, 0.5, 0.51, 3.0, 1e6})
    for (std::int64_t headroom : {-1, 0, 1, 2, 7, 1000, 1000000})
      if (should_go_slow(headroom, rate, 2.0))
        EXPECT_TRUE(rate_can_go_slow(rate, 2.0)) << headroom << " units at " << rate << "/s";
}

TEST(ShouldGoFast, OnlyWellAboveSlowBelow) {
  EXPECT_TRUE(should_go_fast(1000, 10.0, 10.0));   // 100 s left
  EXPECT_FALSE(should_go_fast(50, 10.0, 10.0));    // 5 s left
  EXPECT_FALSE(should_go_fast(100, 10.0, 10.0));   // exactly 10 s: not above
  EXPECT_TRUE(should_go_fast(3, 0.0, 10.0));       // idle key with room
  EXPECT_FALSE(should_go_fast(0, 0.0, 10.0));      // spent slow key stays
}

TEST(PathPolicy, HysteresisBandNeverFlipsBothWays) {
  // For any key, going slow and coming back fast cannot both hold at once.
  for (std::int64_t headroom : {0, 1, 5, 50, 500, 5000})
    for (double rate : {0.0, 0.5, 5.0, 50.0, 500.0})
      EXPECT_FALSE(should_go_slow(headroom, rate, 2.0) && should_go_fast(headroom, rate, 10.0))
          << headroom << " units at " << rate << "/s";
}

}  // namespace
}  // namespace allot
