// Conversions between PostgreSQL Datums and core types. Every function that
// can ereport is wrapped in pg_call, so callers may hold C++ objects.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "../core/limit_rule.hpp"
#include "../core/request.hpp"
#include "../core/time.hpp"
#include "postgres.hpp"

namespace allot::pg {

std::string text_to_string(Datum value);
Datum string_to_text(const std::string& s);

// text[] -> strings. Throws BadInput naming `what` for a NULL element or a
// multi-dimensional array.
std::vector<std::string> text_array_to_strings(Datum array, const char* what);
Datum strings_to_text_array(const std::vector<std::string>& strings);

Uuid datum_to_uuid(Datum d);
Datum uuid_to_datum(const Uuid& uuid);

Interval datum_to_interval(Datum d);
Datum interval_to_datum(const Interval& iv);
Datum duration_to_interval_datum(Duration micros);

ValidRange datum_to_valid_range(Datum range);  // throws BadInput if empty

// A PostgreSQL array literal ("{...}") of the strings, quoted so that any
// printable key survives the round trip.
std::string array_literal(const std::vector<std::string>& strings);

// ISO 8601 in UTC with microseconds, as stored in event details; it parses
// back to the same timestamptz.
std::string format_timestamp(Timestamp ts);

}  // namespace allot::pg
