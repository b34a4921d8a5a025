// Time as PostgreSQL stores it, without PostgreSQL: microseconds since
// 2000-01-01 00:00:00 UTC in a signed 64-bit integer (TimestampTz), with the
// extreme values standing for -infinity / +infinity. Intervals keep months,
// days and microseconds apart, as PostgreSQL's interval does, so that
// '1 month' steps by calendar month. All calendar arithmetic is in UTC.
#pragma once

#include <cstdint>
#include <limits>

namespace allot {

using Timestamp = std::int64_t;  // µs since 2000-01-01 UTC
using Duration = std::int64_t;   // µs

constexpr Timestamp kMinusInfinity = std::numeric_limits<std::int64_t>::min();
constexpr Timestamp kPlusInfinity = std::numeric_limits<std::int64_t>::max();
constexpr Duration kMicrosPerSecond = 1000000;
constexpr Duration kMicrosPerDay = 86400 * kMicrosPerSecond;

struct Interval {
  std::int32_t months = 0;
  std::int32_t days = 0;
  std::int64_t micros = 0;

  bool has_months() const { return months != 0; }
  // Days are exactly 24 h here: windows are computed in UTC, which has no DST.
  // Saturates at the int64 range for absurd intervals (validated limits
  // never come near it), so comparing any two intervals is defined.
  Duration fixed_micros() const {
    Duration day_part, sum;
    if (__builtin_mul_overflow(static_cast<Duration>(days), kMicrosPerDay, &day_part) ||
        __builtin_add_overflow(day_part, micros, &sum))
      return (days < 0) ? std::numeric_limits<Duration>::min()
                        : std::numeric_limits<Duration>::max();
    return sum;
  }
  bool operator==(const Interval& o) const {
    return months == o.months && fixed_micros() == o.fixed_micros();
  }
  bool operator!=(const Interval& o) const { return !(*this == o); }
};

// True when every component is >= 0 and at least one is > 0.
bool is_positive(const Interval& iv);

// ts + k * iv, month part first (the day of month is clamped to the length of
// the target month, as PostgreSQL does), then days and microseconds. Throws
// BadInput(kOutOfRange) when the result leaves the representable range.
Timestamp add_scaled(Timestamp ts, const Interval& iv, std::int64_t k);

// Civil date helpers (proleptic Gregorian), exposed for tests.
struct CivilDate {
  std::int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};
CivilDate civil_from_days(std::int64_t days_since_2000);
std::int64_t days_from_civil(const CivilDate& d);
int days_in_month(std::int64_t year, int month);

// Floor division for signed integers (C++ '/' truncates toward zero).
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace allot
