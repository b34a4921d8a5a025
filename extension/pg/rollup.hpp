// allot.rollup(): folds committed fast-path grants and reversals from the
// log into the counters, keeps each key's recent rate, retires idle keys
// from shared memory and moves keys between the fast and the slow path.
#pragma once

#include <cstdint>

namespace allot::pg {

struct RollupResult {
  std::int64_t events = 0;    // events folded
  std::int64_t keys = 0;      // keys whose rate changed
  std::int32_t promoted = 0;  // keys moved to the slow path
  std::int32_t demoted = 0;   // keys moved back to the fast path
  std::int64_t folded_upto = 0;  // the log is folded up to this seq now
};

// How the rollup treats row locks that user transactions may hold.
//  kWait        allot.rollup() called from SQL: wait like any statement.
//  kSkipIfBusy  the background worker: never queue behind a user's lock.
//               A worker waiting on a row lock would sit in the middle of
//               a wait chain (sessions queue on the worker, the worker on
//               the user), hiding who really blocks whom from
//               pg_blocking_pids(). What is busy now is done next round.
enum class LockWaits { kWait, kSkipIfBusy };

RollupResult run_rollup(LockWaits waits = LockWaits::kWait);

// The fold alone (for the first redemption after a restart, see
// fast_path_ready, and for allot.set_path). Returns the seq the counters
// now hold every grant up to.
std::int64_t fold_now();

// Without the preload: once per session, fold fast-path grants a
// preloaded server may have left unfolded (it stopped or crashed before
// its rollup reached them).
void fold_leftovers_once();

}  // namespace allot::pg
