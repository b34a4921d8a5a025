#include "settings.hpp"

#include "convert.hpp"
#include "guard.hpp"
#include "postgres.hpp"

namespace allot::pg {
namespace {

bool g_log_denials = true;
bool g_fast_path = true;
int g_max_keys = 65536;
int g_rollup_interval_ms = 100;
double g_slow_below = 2.0;
double g_fast_above = 10.0;
double g_path_hold = 5.0;
double g_idle_key = 5.0;
int g_worker_idle_exit_s = 60;
char* g_clock_override = nullptr;

// Accept '' (real clock) or anything timestamptz input accepts; reject the
// rest when it is set, not later in the middle of a redemption.
bool check_clock_override(char** newval, void** extra, GucSource source) {
  (void)extra;
  (void)source;
  if (*newval == nullptr || (*newval)[0] == '\0') return true;
  // DirectInputFunctionCallSafe does not exist in PG 15; parse with the
  // datetime primitives, which report problems by return code.
  fsec_t fsec;
  struct pg_tm tt;
  int tz = 0;
  int dtype;
  int nf;
  char* field[MAXDATEFIELDS];
  int ftype[MAXDATEFIELDS];
  char workbuf[MAXDATELEN + MAXDATEFIELDS];
  int rc = ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf);
  if (rc == 0) rc = DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz);
  if (rc != 0 || dtype != DTK_DATE) {
    GUC_check_errdetail("allot.clock_override must be empty or a timestamp with time zone.");
    return false;
  }
  return true;
}

}  // namespace

void define_settings() {
  DefineCustomBoolVariable(
      "allot.log_denials", "Write denied redemptions to allot.events.",
      "Grants and reversals are always logged; denials are logged while this is on.",
      &g_log_denials, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "allot.clock_override", "Testing only: the time pg_allot decides at, instead of the clock.",
      "Empty (the default) means the real clock. Lets tests pin window boundaries.",
      &g_clock_override, "", PGC_SUSET, 0, check_clock_override, nullptr, nullptr);
  DefineCustomBoolVariable(
      "allot.fast_path", "Let this session put keys on the fast path (needs the preload).",
      "Off: keys without a shared-memory slot are decided on the slow path; keys that "
      "already have one keep using it until the rollup retires it.",
      &g_fast_path, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  // A PGC_POSTMASTER setting can only be defined while the server starts:
  // loaded later (CREATE EXTENSION without the preload) it would be FATAL.
  // Without the preload there is no shared key table for it to size anyway.
  if (process_shared_preload_libraries_in_progress)
    DefineCustomIntVariable(
      "allot.max_keys", "Keys the shared-memory table can hold (fast path); server start only.",
      "About 1.3 kB of shared memory per key. When it is full, new keys take the slow path.",
      &g_max_keys, 65536, 64, 16 * 1024 * 1024, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "allot.rollup_interval", "How often the background worker runs allot.rollup().",
      nullptr, &g_rollup_interval_ms, 100, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
      nullptr, nullptr);
  DefineCustomRealVariable(
      "allot.slow_below_seconds",
      "A fast key moves to the slow path when its remaining units would last less than this.",
      "Time to exhaustion = remaining / recent rate, over the key's tightest enforced limit.",
      &g_slow_below, 2.0, 0.0, 1e9, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable(
      "allot.fast_above_seconds",
      "A slow key moves back to the fast path when its remaining units would last longer than "
      "this.",
      "Keep it above allot.slow_below_seconds: the gap is the hysteresis.", &g_fast_above, 10.0,
      0.0, 1e9, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable(
      "allot.path_hold_seconds", "Least time a key stays on a path before the rollup moves it again.",
      nullptr, &g_path_hold, 5.0, 0.0, 1e9, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomRealVariable(
      "allot.idle_key_seconds",
      "A key unused for this long gives its shared-memory slot back.",
      "A fast key gives it back only when its bucket of the table is more than half full.",
      &g_idle_key,
      5.0, 0.0, 1e9, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "allot.worker_idle_exit",
      "A database's rollup worker exits after this long with nothing to fold; 0: never.",
      "The next grant in the database starts it again. An idle worker otherwise holds one of "
      "max_worker_processes, which parallel queries share.",
      &g_worker_idle_exit_s, 60, 0, 24 * 3600, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("allot");
}

bool log_denials() { return g_log_denials; }
bool fast_path_enabled() { return g_fast_path; }
int max_shared_keys() { return g_max_keys; }
int rollup_interval_ms() { return g_rollup_interval_ms; }
double slow_below_seconds() { return g_slow_below; }
double fast_above_seconds() { return g_fast_above; }
double path_hold_seconds() { return g_path_hold; }
double idle_key_seconds() { return g_idle_key; }
int worker_idle_exit_seconds() { return g_worker_idle_exit_s; }

Timestamp decision_time() {
  if (g_clock_override == nullptr || g_clock_override[0] == '\0') return GetCurrentTimestamp();
  return parse_timestamp(g_clock_override);
}

}  // namespace allot::pg
