// Small helpers shared by the unit tests: readable timestamps, intervals,
// limit rules, and a check that code throws the right BadInput.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "error.hpp"
#include "limit_rule.hpp"
#include "time.hpp"

namespace allot::test {

constexpr Duration kSecond = kMicrosPerSecond;
constexpr Duration kMinute = 60 * kSecond;
constexpr Duration kHour = 60 * kMinute;
constexpr Duration kDay = kMicrosPerDay;

// A UTC timestamp, as PostgreSQL would store '<y>-<m>-<d> <h>:<mi>:<s>+00'.
inline Timestamp ts(std::int64_t y, int m, int d, int h = 0, int mi = 0, int s = 0) {
  return days_from_civil({y, m, d}) * kMicrosPerDay + h * kHour + mi * kMinute + s * kSecond;
}

// "2024-02-29 00:00:00" (".000001" appended when there are micros), so that
// a failed comparison shows a date instead of a 19-digit number.
inline std::string show(Timestamp t) {
  if (t == kMinusInfinity) return "-infinity";
  if (t == kPlusInfinity) return "infinity";
  const std::int64_t day = floor_div(t, kMicrosPerDay);
  const std::int64_t tod = t - day * kMicrosPerDay;
  const CivilDate d = civil_from_days(day);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d %02lld:%02lld:%02lld",
                static_cast<long long>(d.year), d.month, d.day, static_cast<long long>(tod / kHour),
                static_cast<long long>(tod / kMinute % 60),
                static_cast<long long>(tod / kSecond % 60));
  std::string out = buf;
  if (tod % kSecond != 0) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(tod % kSecond));
    out += buf;
  }
  return out;
}

inline Interval months(std::int32_t n) { return {n, 0, 0}; }
inline Interval days(std::int32_t n) { return {0, n, 0}; }
inline Interval hours(std::int64_t n) { return {0, 0, n * kHour}; }
inline Interval micros(std::int64_t n) { return {0, 0, n}; }

inline ValidRange valid_from(Timestamp lower, bool inclusive = true) {
  ValidRange r;
  r.lower = lower;
  r.lower_inclusive = inclusive;
  return r;
}

inline ValidRange valid_between(Timestamp lower, Timestamp upper, bool lower_inclusive = true,
                                bool upper_inclusive = false) {
  ValidRange r;
  r.lower = lower;
  r.upper = upper;
  r.lower_inclusive = lower_inclusive;
  r.upper_inclusive = upper_inclusive;
  return r;
}

// A limit with everything but (id, scope, max) at its SQL default.
inline LimitRule total_limit(std::int64_t id, std::string scope, std::int64_t max) {
  LimitRule r;
  r.id = id;
  r.scope = std::move(scope);
  r.max = max;
  return r;
}

inline LimitRule fixed_limit(std::int64_t id, std::string scope, std::int64_t max, Interval per) {
  LimitRule r = total_limit(id, std::move(scope), max);
  r.per = per;
  return r;
}

inline LimitRule sliding_limit(std::int64_t id, std::string scope, std::int64_t max, Interval per) {
  LimitRule r = fixed_limit(id, std::move(scope), max, per);
  r.sliding = true;
  return r;
}

inline LimitRule with_valid(LimitRule r, ValidRange valid) {
  r.valid = valid;
  return r;
}

inline LimitRule shadow(LimitRule r) {
  r.mode = Mode::kShadow;
  return r;
}

// Passes when f() throws BadInput with `code` and a message containing
// `fragment`; otherwise says what happened instead.
template <typename F>
::testing::AssertionResult ThrowsBadInput(F&& f, ErrorCode code, std::string_view fragment) {
  try {
    std::forward<F>(f)();
  } catch (const BadInput& e) {
    const std::string message = e.what();
    if (e.code() != code)
      return ::testing::AssertionFailure()
             << "BadInput has code " << static_cast<int>(e.code()) << ", expected "
             << static_cast<int>(code) << " (message: \"" << message << "\")";
    if (message.find(fragment) == std::string::npos)
      return ::testing::AssertionFailure()
             << "message \"" << message << "\" does not contain \"" << fragment << "\"";
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-BadInput exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

template <typename F>
::testing::AssertionResult ThrowsBadInput(F&& f, std::string_view fragment) {
  return ThrowsBadInput(std::forward<F>(f), ErrorCode::kInvalidParameter, fragment);
}

}  // namespace allot::test
