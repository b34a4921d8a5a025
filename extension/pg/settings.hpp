// pg_allot's settings (GUCs), defined in _PG_init. Documented in README.md.
#pragma once

#include "../core/time.hpp"

namespace allot::pg {

void define_settings();

// allot.log_denials: whether denials are written to allot.events.
bool log_denials();

// The decision time: the wall clock, unless a superuser has set
// allot.clock_override (for deterministic tests of window arithmetic).
Timestamp decision_time();

}  // namespace allot::pg
