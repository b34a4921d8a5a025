// Encoding of call arguments into the text parameters of the prepared
// statements. Every function throws allot::BadRequest for input that cannot
// be sent intact (a NUL byte would silently truncate a libpq parameter).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "allot/types.hpp"

namespace allot::detail {

// A PostgreSQL array literal for text[]: every element double-quoted, with
// '"' and '\' backslash-escaped, so commas, braces, spaces and "NULL" stay
// plain text. {} for no elements.
std::string text_array_literal(const std::vector<std::string>& items);

// The JSON array allot.redeem_many expects:
// [{"txn": "...", "keys": ["..."], "amount": n}, ...]
std::string redeem_many_json(const std::vector<Request>& requests);

// "<n> microseconds", or nullopt for 0 (a total limit: per NULL).
std::optional<std::string> interval_text(std::chrono::microseconds per);

// Throws BadRequest if `value` contains a NUL byte.
void check_no_nul(const std::string& value, const char* what);

}  // namespace allot::detail
