#include "settings.hpp"

#include "convert.hpp"
#include "guard.hpp"
#include "postgres.hpp"

namespace allot::pg {
namespace {

bool g_log_denials = true;
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
  MarkGUCPrefixReserved("allot");
}

bool log_denials() { return g_log_denials; }

Timestamp decision_time() {
  if (g_clock_override == nullptr || g_clock_override[0] == '\0') return GetCurrentTimestamp();
  return parse_timestamp(g_clock_override);
}

}  // namespace allot::pg
