// Reading SQL arguments with clear errors for NULLs, for entry points that
// are not STRICT (a STRICT function would silently return NULL instead).
#pragma once

#include <string>

#include "../core/error.hpp"
#include "postgres.hpp"

namespace allot::pg {

inline Datum required_arg(FunctionCallInfo fcinfo, int n, const char* name) {
  if (PG_ARGISNULL(n)) throw BadInput(std::string(name) + " must not be NULL");
  return PG_GETARG_DATUM(n);
}

}  // namespace allot::pg
