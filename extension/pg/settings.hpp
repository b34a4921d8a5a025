// pg_allot's settings (GUCs), defined in _PG_init. Documented in README.md.
#pragma once

#include "../core/time.hpp"

namespace allot::pg {

void define_settings();

// allot.log_denials: whether denials are written to allot.events.
bool log_denials();

// allot.fast_path: whether this session may put keys on the fast path.
bool fast_path_enabled();
// allot.max_keys: slots of the shared key table (server start only).
int max_shared_keys();
// allot.rollup_interval, in milliseconds.
int rollup_interval_ms();
// Path thresholds, in seconds of time-to-exhaustion (remaining / rate):
// below slow_below a fast key moves to the slow path; above fast_above a
// slow key moves back; path_hold is the least time between two automatic
// moves of one key. allot.idle_key_seconds: an idle fast key gives its
// shared slot back after this long.
double slow_below_seconds();
double fast_above_seconds();
double path_hold_seconds();
double idle_key_seconds();
// allot.worker_idle_exit: seconds without a fold before a rollup worker
// exits (0: never).
int worker_idle_exit_seconds();

// The decision time: the wall clock, unless a superuser has set
// allot.clock_override (for deterministic tests of window arithmetic).
Timestamp decision_time();

}  // namespace allot::pg
