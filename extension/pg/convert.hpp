// Conversions between PostgreSQL Datums and core types. Every function that
// can ereport is wrapped in pg_call, so callers may hold C++ objects.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "../core/limit_rule.hpp"
#include "../core/request.hpp"
#include "../core/time.hpp"
#include "guard.hpp"
#include "postgres.hpp"

namespace allot::pg {

std::string text_to_string(Datum value);
Datum string_to_text(const std::string& s);

// text[] -> strings. Throws BadInput naming `what` for a NULL element or a
// multi-dimensional array.
std::vector<std::string> text_array_to_strings(Datum array, const char* what);

// A one-dimensional array Datum of `values`, each turned into a Datum by
// `to_datum`; elem_* describe the element type as construct_array wants.
template <typename T, typename ToDatum>
Datum make_array(const std::vector<T>& values, Oid elem_type, int elem_len, bool elem_byval,
                 char elem_align, ToDatum to_datum) {
  Datum* elems =
      static_cast<Datum*>(pg_call([&] { return palloc(sizeof(Datum) * (values.size() + 1)); }));
  for (std::size_t i = 0; i < values.size(); ++i) elems[i] = to_datum(values[i]);
  return pg_call([&] {
    return PointerGetDatum(construct_array(elems, static_cast<int>(values.size()), elem_type,
                                           elem_len, elem_byval, elem_align));
  });
}

Datum strings_to_text_array(const std::vector<std::string>& strings);
Datum uuid_array(const std::vector<Uuid>& uuids);
Datum int64_array(const std::vector<std::int64_t>& values);
Datum float8_array(const std::vector<double>& values);
Datum timestamp_array(const std::vector<Timestamp>& values);
Datum jsonb_array(const std::vector<Datum>& jsonb_values);

Uuid datum_to_uuid(Datum d);
Datum uuid_to_datum(const Uuid& uuid);

Interval datum_to_interval(Datum d);
Datum interval_to_datum(const Interval& iv);
Datum duration_to_interval_datum(Duration micros);

ValidRange datum_to_valid_range(Datum range);  // throws BadInput if empty

// A PostgreSQL array literal ("{...}") of the strings, quoted so that any
// printable key survives the round trip.
std::string array_literal(const std::vector<std::string>& strings);

// Parses timestamptz text as PostgreSQL's input function does (throws
// PgError on bad input).
Timestamp parse_timestamp(const char* text);

// ISO 8601 in UTC with microseconds, as stored in event details; it parses
// back to the same timestamptz.
std::string format_timestamp(Timestamp ts);

}  // namespace allot::pg
