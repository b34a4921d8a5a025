// Keeps the shared-memory state of a database in step with the life of
// pg_allot in it (only when preloaded: there is no shared state otherwise).
//
// - DROP EXTENSION pg_allot takes the log, its sequence and the counters
//   with it, but shared memory would keep the database's fold position and
//   its key slots. A later CREATE EXTENSION would start from the old state:
//   a fold horizon beyond the new log's sequence (its first grants never
//   folded) and meters counting the old incarnation's usage. So at the
//   commit of the drop, the database's entry and slots are reset.
// - The transaction that runs CREATE EXTENSION pg_allot uses no shared
//   state at all (every key goes the slow path): if it rolled back, state it
//   left in shared memory would describe a log that never existed. Nobody
//   else can redeem in the database before it commits.
// - DROP DATABASE: at commit, the database's entry (there are
//   max_databases() of them) and key slots are given back.
#pragma once

namespace allot::pg {

void install_lifecycle_hooks();  // from _PG_init, when preloading

// True while this transaction has created pg_allot (see above).
bool extension_created_in_this_transaction();

}  // namespace allot::pg
