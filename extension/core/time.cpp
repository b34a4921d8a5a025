#include "time.hpp"

#include "error.hpp"

namespace allot {
namespace {

// Days from 1970-01-01 to 2000-01-01.
constexpr std::int64_t kEpochShiftDays = 10957;

[[noreturn]] void out_of_range() {
  throw BadInput(ErrorCode::kOutOfRange, "timestamp out of range");
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) out_of_range();
  return r;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) out_of_range();
  return r;
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

bool is_positive(const Interval& iv) {
  if (iv.months < 0 || iv.days < 0 || iv.micros < 0) return false;
  return iv.months > 0 || iv.days > 0 || iv.micros > 0;
}

int days_in_month(std::int64_t year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// Howard Hinnant's days_from_civil / civil_from_days (public-domain
// algorithms), shifted to the 2000-01-01 epoch.
std::int64_t days_from_civil(const CivilDate& d) {
  const std::int64_t y = d.year - (d.month <= 2);
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = (d.month + 9) % 12;
  const std::int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468 - kEpochShiftDays;
}

CivilDate civil_from_days(std::int64_t days_since_2000) {
  const std::int64_t z = days_since_2000 + kEpochShiftDays + 719468;
  const std::int64_t era = floor_div(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2), month, day};
}

Timestamp add_scaled(Timestamp ts, const Interval& iv, std::int64_t k) {
  if (ts == kMinusInfinity || ts == kPlusInfinity) return ts;
  Timestamp out = ts;
  if (iv.months != 0) {
    const std::int64_t day_number = floor_div(ts, kMicrosPerDay);
    const Duration time_of_day = ts - day_number * kMicrosPerDay;
    CivilDate d = civil_from_days(day_number);
    const std::int64_t month_index =
        checked_add(checked_mul(d.year, 12) + (d.month - 1), checked_mul(iv.months, k));
    d.year = floor_div(month_index, 12);
    d.month = static_cast<int>(month_index - d.year * 12) + 1;
    if (d.year > 300000 || d.year < -300000) out_of_range();
    const int last = days_in_month(d.year, d.month);
    if (d.day > last) d.day = last;
    out = checked_add(checked_mul(days_from_civil(d), kMicrosPerDay), time_of_day);
  }
  out =
      checked_add(out, checked_mul(checked_add(checked_mul(iv.days, kMicrosPerDay), iv.micros), k));
  if (out == kMinusInfinity || out == kPlusInfinity) out_of_range();
  return out;
}

}  // namespace allot
