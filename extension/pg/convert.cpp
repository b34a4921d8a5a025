#include "convert.hpp"

#include <cinttypes>

// PostgreSQL's port.h turns snprintf into its own pg_snprintf (a macro),
// so it is called unqualified below.

#include "../core/error.hpp"
#include "guard.hpp"

namespace allot::pg {

std::string text_to_string(Datum value) {
  // Detoasting may allocate (and so may ereport).
  ::text* t = pg_call([&] { return DatumGetTextPP(value); });
  return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

Datum string_to_text(const std::string& s) {
  return pg_call([&] {
    return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size())));
  });
}

std::vector<std::string> text_array_to_strings(Datum array, const char* what) {
  ArrayType* arr = pg_call([&] { return DatumGetArrayTypeP(array); });
  if (ARR_NDIM(arr) > 1) throw BadInput(std::string(what) + " must be a one-dimensional array");
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  pg_call(
      [&] { deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count); });
  std::vector<std::string> out;
  out.reserve(count);
  for (int i = 0; i < count; ++i) {
    if (nulls[i])
      throw BadInput(std::string(what) + " must not contain NULL (element " +
                     std::to_string(i + 1) + ")");
    out.push_back(text_to_string(elems[i]));
  }
  return out;
}

Datum strings_to_text_array(const std::vector<std::string>& strings) {
  return make_array(strings, TEXTOID, -1, false, TYPALIGN_INT, string_to_text);
}

Uuid datum_to_uuid(Datum d) {
  const pg_uuid_t* u = DatumGetUUIDP(d);  // fixed-length by-reference: no detoasting
  Uuid out;
  std::memcpy(out.data(), u->data, out.size());
  return out;
}

Datum uuid_to_datum(const Uuid& uuid) {
  auto* u = static_cast<pg_uuid_t*>(pg_call([&] { return palloc(sizeof(pg_uuid_t)); }));
  std::memcpy(u->data, uuid.data(), uuid.size());
  return UUIDPGetDatum(u);
}

Interval datum_to_interval(Datum d) {
  const auto* iv = reinterpret_cast<const ::Interval*>(DatumGetPointer(d));
  allot::Interval out;
  out.months = iv->month;
  out.days = iv->day;
  out.micros = iv->time;
  return out;
}

Datum interval_to_datum(const allot::Interval& in) {
  auto* iv = static_cast<::Interval*>(pg_call([&] { return palloc(sizeof(::Interval)); }));
  iv->month = in.months;
  iv->day = in.days;
  iv->time = in.micros;
  return IntervalPGetDatum(iv);
}

Datum duration_to_interval_datum(Duration micros) {
  // Whole days go to the day field so psql shows "13 days 12:00:00", not
  // "324:00:00" (in UTC a day is 24 h, so the value is the same).
  allot::Interval iv;
  iv.days = static_cast<std::int32_t>(micros / kMicrosPerDay);
  iv.micros = micros % kMicrosPerDay;
  return interval_to_datum(iv);
}

ValidRange datum_to_valid_range(Datum range) {
  RangeBound lower, upper;
  bool empty = false;
  pg_call([&] {
    RangeType* r = DatumGetRangeTypeP(range);
    TypeCacheEntry* typcache = lookup_type_cache(RangeTypeGetOid(r), TYPECACHE_RANGE_INFO);
    range_deserialize(typcache, r, &lower, &upper, &empty);
  });
  if (empty) throw BadInput("valid must not be an empty range");
  ValidRange out;
  if (!lower.infinite && !TIMESTAMP_IS_NOBEGIN(DatumGetTimestampTz(lower.val))) {
    out.lower = DatumGetTimestampTz(lower.val);
    out.lower_inclusive = lower.inclusive;
  }
  if (!upper.infinite && !TIMESTAMP_IS_NOEND(DatumGetTimestampTz(upper.val))) {
    out.upper = DatumGetTimestampTz(upper.val);
    out.upper_inclusive = upper.inclusive;
  }
  return out;
}

std::string array_literal(const std::vector<std::string>& strings) {
  std::string out = "{";
  for (std::size_t i = 0; i < strings.size(); ++i) {
    if (i) out.push_back(',');
    out.push_back('"');
    for (char c : strings[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

Timestamp parse_timestamp(const char* text) {
  return pg_call([&] {
    return DatumGetTimestampTz(DirectFunctionCall3(
        timestamptz_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
  });
}

std::string format_timestamp(Timestamp ts) {
  if (ts == kMinusInfinity) return "-infinity";
  if (ts == kPlusInfinity) return "infinity";
  const std::int64_t day_number = floor_div(ts, kMicrosPerDay);
  std::int64_t rest = ts - day_number * kMicrosPerDay;
  const CivilDate d = civil_from_days(day_number);
  const int hour = static_cast<int>(rest / (3600 * kMicrosPerSecond));
  rest %= 3600 * kMicrosPerSecond;
  const int minute = static_cast<int>(rest / (60 * kMicrosPerSecond));
  rest %= 60 * kMicrosPerSecond;
  const int second = static_cast<int>(rest / kMicrosPerSecond);
  const int micros = static_cast<int>(rest % kMicrosPerSecond);
  char buf[64];
  if (d.year < 1) {  // PostgreSQL writes years before 1 AD with "BC"
    snprintf(buf, sizeof buf, "%04" PRId64 "-%02d-%02d %02d:%02d:%02d.%06d+00 BC", 1 - d.year,
             d.month, d.day, hour, minute, second, micros);
  } else {
    snprintf(buf, sizeof buf, "%04" PRId64 "-%02d-%02d %02d:%02d:%02d.%06d+00", d.year, d.month,
             d.day, hour, minute, second, micros);
  }
  return buf;
}

Datum uuid_array(const std::vector<Uuid>& uuids) {
  return make_array(uuids, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, uuid_to_datum);
}

Datum int64_array(const std::vector<std::int64_t>& values) {
  return make_array(values, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
                    [](std::int64_t v) { return Int64GetDatum(v); });
}

Datum float8_array(const std::vector<double>& values) {
  return make_array(values, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
                    [](double v) { return Float8GetDatum(v); });
}

Datum timestamp_array(const std::vector<Timestamp>& values) {
  return make_array(values, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
                    [](Timestamp v) { return TimestampTzGetDatum(v); });
}

Datum jsonb_array(const std::vector<Datum>& jsonb_values) {
  return make_array(jsonb_values, JSONBOID, -1, false, TYPALIGN_INT, [](Datum d) { return d; });
}

}  // namespace allot::pg
