// pg_allot's shared memory for the fast path (only when preloaded):
//
//  * the key table (core/key_table): keys on the fast path and their meters;
//  * per database: whether its log has been folded since the server started
//    (shared memory is empty after a crash-restart: nothing may be decided
//    until the counters hold every committed grant), the highest event seq
//    handed out, and the rollup worker's pid;
//  * one fold registration per backend: the rollup may only fold events up
//    to a seq no transaction still in flight can be writing below (sequence
//    order is not commit order);
//  * slow-path stripes: how many transactions are deciding keys of a stripe
//    on the slow path, so that no fast slot is created for a key while a
//    slow-path transaction on it is in flight.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "../core/key_table.hpp"

namespace allot::pg {

struct DatabaseState {
  std::atomic<std::uint32_t> db{0};          // 0: free entry
  std::atomic<std::uint32_t> folded{0};      // 1 once folded since server start
  std::atomic<std::int64_t> max_seq_seen{0};  // highest seq any insert returned
  std::atomic<std::int32_t> worker_pid{0};
  std::atomic<std::int64_t> idle_until{0};  // launcher: no worker needed before
  // 1 while the launcher could not start a worker here (no free slot of
  // max_worker_processes): a first redemption then folds at once rather
  // than wait for a worker that is not coming.
  std::atomic<std::int32_t> no_worker_slot{0};
  // Set by a fast-path grant, cleared by the rollup's scan of the key
  // table: while it is clear and the last scan is recent, the rollup
  // skips the scan (an idle server then reads the table once a second,
  // not ten times).
  std::atomic<std::uint32_t> keys_granted{0};
  std::atomic<std::int64_t> last_key_scan{0};  // µs, decision clock; 0: never
};

void request_shared_state();  // from _PG_init, only when preloading
bool shared_state_available();
KeyTable& key_table();

// This backend's database entry (created on first use); nullptr when the
// table of databases is full (then the database runs slow-path only), and
// in the transaction that creates pg_allot (lifecycle_hooks.hpp).
DatabaseState* my_database();
DatabaseState* database_state(std::uint32_t db);  // nullptr if unknown
// pg_allot was dropped from `db`: its fold state starts over and its key
// slots are emptied (see lifecycle_hooks.hpp).
void forget_database(std::uint32_t db);
// `db` was dropped: as forget_database, and its entry is free again.
void release_database(std::uint32_t db);

// The launcher records itself at start; want_worker() asks it for a rollup
// worker in a database whose last worker found nothing to do (idle_until).
void note_launcher();
void want_worker(DatabaseState& d);
void wake_launcher();  // to look at the databases now

// Fold registrations (see rollup.cpp for the proof that they make the fold
// sound). register_fold_writer() before inserting events that need folding,
// once per transaction; clear_fold_writer() at its end.
void register_fold_writer();
void clear_fold_writer();
void note_seq(std::int64_t seq);  // after an insert: raise max_seq_seen
// The highest seq that may be folded now: no registered writer of this
// database can still commit an event at or below it.
std::int64_t fold_horizon(DatabaseState& state);
// Whether a transaction of this database registered as a writer and has
// not ended yet.
bool fold_writers_in_flight(DatabaseState& state);

// Slow-path stripes.
std::atomic<std::uint32_t>& stripe_of(std::string_view key);

std::uint32_t max_databases();

// Bumped whenever a transaction that changed allot.limits commits (any
// database): backends' cached limits are stale then. nullptr when not
// preloaded.
std::atomic<std::uint64_t>* limits_generation();

}  // namespace allot::pg
