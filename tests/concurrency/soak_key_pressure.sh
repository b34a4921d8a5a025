#!/usr/bin/env bash
# The short soak (soak_short.sh; tests/soak/soak.sh has the load, the faults
# and every check) with a shared key table far too small for its keys:
# allot.max_keys = 64 (8 buckets of 8 slots) for the ~850 keys of the load,
# and keys idle for a second give their slot back (allot.idle_key_seconds).
# Buckets are full all the time, so keys keep taking every way the table
# has: a key without a slot goes the slow path, idle keys are retired from
# full buckets (once folded) and loaded again on their next redemption,
# slow markers come and go -- under kill -9 of backends, the worker and the
# postmaster, and limit changes. The checks are the soak's: no window over
# its max, every grant counted in the window of its decision time, nothing
# lost or doubled, allot.verify() empty.
#
# It always starts a throwaway cluster of its own with the preload (the
# table exists only with the preload; max_keys is set at server start), so
# the cluster run_all.sh passes in (either mode) is not used. ~60 s.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
unset PGHOST PGPORT ALLOT_CLUSTER_DIR ALLOT_PRELOAD
export PGDATABASE=postgres
export SOAK_PRELOAD=1
export SOAK_SERVER_OPTS="-c allot.max_keys=64 -c allot.idle_key_seconds=1"
export SOAK_DIR="${SOAK_DIR:-$(mktemp -u "${TMPDIR:-/tmp}/soak_pressure.XXXXXX")}"
export SOAK_PORT="${SOAK_PORT:-$((57000 + RANDOM % 900))}"
export SOAK_SECONDS="${SOAK_SECONDS:-50}"
export SOAK_CLIENTS="${SOAK_CLIENTS:-16}"
export SOAK_KILL_EVERY="${SOAK_KILL_EVERY:-10}"
export SOAK_QUIET="${SOAK_QUIET:-10}"
export SOAK_LIMIT_EVERY="${SOAK_LIMIT_EVERY:-6}"
export SOAK_MIN_KILLS_EACH="${SOAK_MIN_KILLS_EACH:-1}"
export SOAK_DB="${SOAK_DB:-allot_soak_pressure}"
out="$(mktemp)"
samples="$(mktemp)"
trap 'rm -f "$out" "$samples"' EXIT
# Meanwhile, once a second: how many slots are in use (errors, during a
# kill or before the database exists, are ignored).
(
    while :; do
        psql -X -A -t -h "$SOAK_DIR" -p "$SOAK_PORT" -U postgres -d "$SOAK_DB" \
            -c "SELECT shared_keys_used FROM allot.stats" >>"$samples" 2>/dev/null || true
        sleep 1
    done
) &
sampler=$!
rc=0
bash "$HERE/../soak/soak.sh" 2>&1 | tee "$out" || rc=$?
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
[ "$rc" = 0 ] || { echo "FAIL: soak_key_pressure: the soak failed (exit $rc)"; exit 1; }
# The table really was the bottleneck: during the run it was (nearly) full.
max="$(sed -n 's/.*max_keys=\([0-9]*\).*/\1/p' "$out" | tail -1)"
most="$(grep -E '^[0-9]+$' "$samples" | sort -n | tail -1)"
echo "key table: max_keys $max; most slots in use at once (sampled every second): ${most:-none}"
if [ "${max:-0}" != 64 ] || [ "${most:-0}" -lt 48 ]; then
    echo "FAIL: soak_key_pressure: the key table was not under pressure (want max_keys 64 and >= 48 slots in use)"
    exit 1
fi
echo "PASS: soak_key_pressure"
