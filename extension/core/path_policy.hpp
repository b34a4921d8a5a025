// When the rollup moves a key between the fast and the slow path
// (README, "Fast path and slow path"). Pure arithmetic on what the rollup
// knows of a key: its headroom (units left under its tightest enforced
// limit) and its recent rate (units/s).
//
// A key goes slow when its remaining units would last less than
// slow_below seconds, so that the last units are decided under row locks
// (a waiter there gets a unit that an in-flight transaction gives back).
// It comes back to the fast path when they would last more than
// fast_above seconds; fast_above > slow_below is the hysteresis.
#pragma once

#include <cstdint>

namespace allot {

// Seconds until `headroom` units are gone at `rate` units/s: 0 when none
// are left, infinity when nothing is being taken.
double seconds_left(std::int64_t headroom, double rate);

// A fast key with this headroom and rate should move to the slow path.
// A key with nothing left stays: it has no last units to hand out, a fast
// denial is as exact as a slow one, and moving it would cost two flips
// (keys with a max of 1, such as one coupon per user, are spent by their
// first use).
bool should_go_slow(std::int64_t headroom, double rate, double slow_below_seconds);

// Whether some headroom would make should_go_slow true at this rate. The
// smallest positive headroom (one unit) is the likeliest to: a key whose
// rate spends less than one unit within slow_below_seconds never goes
// slow, whatever its meters say, so the rollup need not read them.
bool rate_can_go_slow(double rate, double slow_below_seconds);

// A slow key with this headroom and rate should move back to the fast path.
bool should_go_fast(std::int64_t headroom, double rate, double fast_above_seconds);

}  // namespace allot
