// Forgets a database's shared-memory state when pg_allot is dropped from it.
//
// DROP EXTENSION takes the log, its sequence and the counters with it, but
// shared memory would keep the database's fold position and its key slots.
// A later CREATE EXTENSION would then start from the old state: a fold
// horizon far beyond the new log's sequence (its first grants would never
// be folded) and meters counting the old incarnation's usage. So at the
// commit of a DROP EXTENSION pg_allot, the database's entry and slots are
// reset. (Only when preloaded: there is no shared state otherwise.)
#pragma once

namespace allot::pg {

void install_drop_hook();  // from _PG_init, when preloading

}  // namespace allot::pg
