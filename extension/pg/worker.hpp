// The background workers (only when preloaded): a launcher, started by the
// postmaster, that starts one rollup worker per database; each runs
// allot.rollup() every allot.rollup_interval in its database, when the
// extension is installed there.
#pragma once

namespace allot::pg {

void register_launcher();  // from _PG_init

}  // namespace allot::pg
