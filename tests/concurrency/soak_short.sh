#!/usr/bin/env bash
# The short CI version of the soak test under faults (tests/soak/soak.sh:
# read its header for the load, the faults and every check).
#
#   ~70 s of mixed load from 16 clients over the fast and the slow path
#   (fixed windows, totals, sliding windows, keys pushed to the slow path
#   with allot.set_path), limits raised and lowered during the run,
#   reversals, redeem_many batches, rolled-back redemptions, and a kill -9
#   every 12 s from 12 s to 62 s, in turn: a client backend, the rollup
#   worker, the postmaster (then tests/harness/cluster.sh restart), ... --
#   at least one of each kind, checked. Then: no window over the max in
#   effect, every grant counted in the window of its decision time, every
#   grant seen committed present exactly once, in-doubt txns resolved,
#   allot.verify() and allot.violations empty, the worker's memory bounded.
#   About 75 s in all, plus ~10 s of checks.
#
# Mode: soak.sh asks the server (SHOW shared_preload_libraries), as
# crash_fast_path.sh does. Without the preload there is no rollup worker and
# no fast path: the worker kills and the memory sampling are skipped (it
# says so), the kills alternate backend / postmaster, and it checks that no
# grant took the fast path.
#
# Env: as the other scripts here (run_all.sh sets PGHOST/PGPORT/PGUSER,
# PGDATABASE and ALLOT_CLUSTER_DIR, the cluster it may kill and restart;
# without them soak.sh starts a throwaway cluster of its own). SOAK_* set by
# the caller win over the values below. Exit 0 = pass; on failure the test
# database allot_soak_short is kept.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

export SOAK_SECONDS="${SOAK_SECONDS:-70}"
export SOAK_CLIENTS="${SOAK_CLIENTS:-16}"
export SOAK_KILL_EVERY="${SOAK_KILL_EVERY:-12}"
export SOAK_QUIET="${SOAK_QUIET:-12}"
export SOAK_LIMIT_EVERY="${SOAK_LIMIT_EVERY:-6}"
export SOAK_MIN_KILLS_EACH="${SOAK_MIN_KILLS_EACH:-1}"
export SOAK_DB="${SOAK_DB:-allot_soak_short}"
exec bash "$HERE/../soak/soak.sh"
