#!/usr/bin/env bash
# pg_allot soak test under faults (DESIGN.md invariants 1-5, for minutes).
# Not in CI as such; tests/concurrency/soak_short.sh runs a short version.
#
#   tests/soak/soak.sh                       # 10 minutes, 64 clients, own cluster
#   SOAK_SECONDS=120 SOAK_CLIENTS=16 tests/soak/soak.sh
#
# LOAD. SOAK_CLIENTS psql clients run, for SOAK_SECONDS, batches of 40
# "units" in one psql session each (autocommit unless said otherwise):
#   65%  allot.redeem(txn, keys, amount)          amount 1 (85%), 2 or 3
#   10%  allot.redeem_many of 2-12 items
#   10%  allot.reverse of one of the client's own earlier grants (at random,
#        so some are reversed twice: the second call must say false)
#    7%  BEGIN; redeem; ROLLBACK                  (must leave nothing)
#    8%  BEGIN; SAVEPOINT; redeem x; ROLLBACK TO SAVEPOINT; redeem y; COMMIT
#        (x must leave nothing, y is a normal grant)
# over these keys and limits (one redemption names 1-4 of them):
#   class  limit                                 keys                      path
#   fix:*  60 per '10 seconds' (fixed)           fix:F0..F7                fast-eligible; F0 is
#                                                                          pushed to slow with
#                                                                          set_path, F1 flipped
#   fix:F7 100 per '10 seconds' (exact key: replaces the class limit for F7)
#   fix:F6 90/40/120/30 per '10 seconds' (exact key, CHANGED)
#   usr:*  15 per '1 minute' (fixed)             usr:U0..U799              fast-eligible
#   tot:*  100 in total                          tot:T<epoch/5>_<0..1>     fast-eligible
#   sld:*  50 per '10 seconds' sliding           sld:S0..S7                always slow (sliding)
#   cfx:*  40/80/25/60 per '10 seconds' fixed    cfx:C0..C5                fast-eligible, CHANGED
#   csl:*  30/60/20/45 per '10 seconds' sliding  csl:D0..D2                slow, CHANGED
#   ctt:*  100/200/60/150 in total               ctt:R<epoch/10>_<0..1>    fast-eligible, CHANGED
# Total-limit keys rotate (a new key every 5 or 10 s) so that totals keep
# being spent during the whole run. The load is not paced: the server is
# saturated and every limit is hit again and again.
#
# A controller, meanwhile: every SOAK_LIMIT_EVERY s changes the max of the
# next of cfx:*, csl:*, ctt:*, fix:F6 to the next value of its cycle
# (raising and lowering, below usage already counted too: 40 -> 80 -> 25 ->
# 60 -> 40 ...); every ~3 s set_path('fix:F0',
# 'slow') and flips fix:F1 between slow and fast (slow only without the
# preload: set_path(.., 'fast') needs it); every ~5 s runs allot.rollup() by
# hand (always safe, also next to the worker); and, after a quiet first
# SOAK_QUIET s (so that the rollup worker has one long life for the memory
# check), every SOAK_KILL_EVERY s kill -9 of, in turn:
#   backend     a client backend of the test database, preferably one inside
#               allot.redeem / redeem_many right now (PostgreSQL then resets
#               every backend, the rollup worker included, and recovers);
#   worker      the database's "pg_allot rollup" worker (with the preload only:
#               without it there is no worker, and those kills are skipped);
#   postmaster  the postmaster; then tests/harness/cluster.sh restart.
# A sampler reads the rollup worker's memory from /proc/PID/status every 2 s.
#
# CLIENT BOOKKEEPING. A client writes down every grant whose answer it saw
# (autocommit: the answer comes after the COMMIT; for the savepoint unit,
# after a later statement ran), every reverse() that said true, every txn it
# rolled back, and, when its session breaks, the unit that was in flight
# ("in doubt": it may or may not have committed).
#
# CHECKS (any failure exits 1; the database is kept for inspection):
#   1. No over-admission, recomputed from allot.events without trusting the
#      extension's bookkeeping: for every granted key, its applicable limits
#      are derived here (exact-key limit beats the class limit with the same
#      per and sliding); a grant's net units are its amount, or 0 if it was
#      reversed (reverse gives back in the very windows it counted in). Then
#        totals:  sum of net units per key               <= allowed
#        fixed:   per key and window date_bin(per, at, 2000-01-01 UTC)
#                                                         <= allowed
#        sliding: for every grant g, the net units of the key's grants with
#                 at in (g.at - per, g.at]                <= allowed
#      (`at` is the decision time.) The sliding check needs no knowledge of
#      the sub-buckets: whichever of those grants was decided last counted
#      all the others (its check spans every sub-bucket that overlaps its
#      last `per`, and every later one), so the extension guarantees it.
#      ALLOWED, the rule under limit changes: a decision uses the max in
#      effect when it is made, and the last grant decided in a window saw
#      all the others (net units after it <= its max; later reversals only
#      lower that). So a window can hold at most the largest max that was
#      in effect at some moment while its grants were being decided. We log
#      every set_limit call with the wall-clock times just before it was
#      sent and just after it returned (or failed: then it may or may not
#      have committed, and counts as if it had). A value "may be in effect"
#      from its call's start until the end of the next successful call. A
#      fixed window or total is checked against the largest value that may
#      have been in effect at any time within [its first grant's at - 2 s,
#      its last grant's at + 2 s]; a sliding span against the largest within
#      [g.at - per - 2 s, g.at + 2 s]. (2 s covers the moment between `at`
#      and the limits being read, and cached limits following a change.)
#      Where only one value is possible the check is exact: always for the
#      never-changed limits (fix:*, fix:F7, usr:*, tot:*, sld:*: one of each
#      shape), and for most windows of the changed ones (each changes only
#      every 4 x SOAK_LIMIT_EVERY s); the report counts the exact ones.
#      At the end every changed limit is set back to its largest value, so
#      that allot.violations (which compares with the current max) must be
#      empty as well.
#   2. The extension counted every grant in the windows we expect: each
#      grant's detail.counted names exactly its keys' applicable limits, in
#      the fixed window holding `at`, or the sliding sub-bucket holding it.
#      (A grant decided at `at` but counted in a later window escapes the
#      max of its own window: e.g. a fast-path meter that other sessions
#      have already moved on to the next window must not take it.)
#   3. Every grant a client saw committed is in allot.txns exactly once and
#      has exactly one grant event, on the path its decision named; every
#      reverse() that said true has exactly one reverse event; no txn that
#      was rolled back (ROLLBACK, ROLLBACK TO SAVEPOINT) was granted; no
#      fresh txn was answered "replayed"; no txn has two grant events.
#   4. In-doubt txns are redeemed again with the same keys and amount: each
#      is a replay (it had committed) or decided afresh (it had not), and
#      still has at most one grant event.
#   5. SELECT * FROM allot.rollup(); then allot.verify() is empty; so is
#      allot.violations.
#   6. Every scheduled kill happened and the server came back each time; the
#      server log shows no crash we did not cause (signal other than 9,
#      PANIC, TRAP) and no failed rollup; clients saw no errors but the ones
#      a kill causes (lost connection, recovery), nor did the controller
#      (where set_path may also say "try again", SQLSTATE 55P03); the load
#      never stalled (STALL_LIMIT s without an answer).
#   7. With the preload: grants on the fast path, also after the last
#      postmaster restart (shared memory rebuilt); the worker runs at the
#      end. Without: no grant on the fast path.
#   8. Worker memory: of every life (pid) of the rollup worker we keep the
#      first and the last sample; in the longest life, RssAnon (its private
#      memory: palloc'd contexts, caches, the C++ heap) must not grow beyond
#      2 x first + 8 MB. The bound: a fresh worker's first rollups legitimately
#      warm its catalog and relation caches, SPI plans and the limits cache
#      (a few MB, and less than doubling what it has after connecting), so
#      2x + 8 MB tolerates warm-up while a leak per rollup (10 per second) or
#      per event folded would exceed it within a few minutes. VmRSS is
#      printed too but not bounded: it includes the shared buffers and the
#      shared key table the worker touches (RssShmem), which grows towards
#      their size without any leak.
#
# Environment:
#   SOAK_SECONDS      load duration (default 600)
#   SOAK_CLIENTS      concurrent clients (default 64)
#   SOAK_KILL_EVERY   seconds between kills (default 30; 0 = no kills)
#   SOAK_QUIET        seconds before the first kill (default SOAK_SECONDS / 4)
#   SOAK_LIMIT_EVERY  seconds between limit changes (default 10)
#   SOAK_MIN_KILLS_EACH  fail unless at least this many kills of each kind
#                     the server has (no worker without the preload) were
#                     survived (default 0; soak_short.sh sets 1)
#   SOAK_DB           test database (default allot_soak; dropped on success)
#   Cluster: with PGHOST, PGPORT and ALLOT_CLUSTER_DIR set (as run_all.sh
#   does) that cluster is used (and killed and restarted). Otherwise a new
#   one is made with tests/harness/cluster.sh in SOAK_DIR (default
#   /tmp/soak.<pid>) on SOAK_PORT (default 56310), with the preload unless
#   SOAK_PRELOAD=0; it is removed on success unless SOAK_KEEP=1, kept
#   (stopped) on failure. SOAK_SERVER_OPTS adds server settings to a
#   cluster of its own, as cluster.sh takes them ("-c name=value ...").
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../harness/lib.sh"

SOAK_SECONDS="${SOAK_SECONDS:-600}"
SOAK_CLIENTS="${SOAK_CLIENTS:-64}"
SOAK_KILL_EVERY="${SOAK_KILL_EVERY:-30}"
SOAK_QUIET="${SOAK_QUIET:-$((SOAK_SECONDS / 4))}"
SOAK_LIMIT_EVERY="${SOAK_LIMIT_EVERY:-10}"
SOAK_MIN_KILLS_EACH="${SOAK_MIN_KILLS_EACH:-0}"
DB="${SOAK_DB:-allot_soak}"
MAINT="${PGDATABASE:-postgres}"
UNITS=40                 # units per psql session of a client
USERS=800
SLIDING_PER='10 seconds' # every sliding limit here has this per (checked)
EPS=2                    # seconds of slack around a window (see ALLOWED)
STALL_LIMIT=90           # seconds without a single answered unit: a hang
for v in SOAK_SECONDS SOAK_CLIENTS SOAK_KILL_EVERY SOAK_QUIET SOAK_LIMIT_EVERY SOAK_MIN_KILLS_EACH; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done

# ------------------------------------------------------------- cluster ----
OWN_CLUSTER=0
if [ -n "${PGHOST:-}" ] && [ -n "${PGPORT:-}" ] && [ -n "${ALLOT_CLUSTER_DIR:-}" ]; then
    CLUSTER_DIR="$ALLOT_CLUSTER_DIR"
    export PGUSER="${PGUSER:-postgres}"
else
    CLUSTER_DIR="${SOAK_DIR:-/tmp/soak.$$}"
    port="${SOAK_PORT:-56310}"
    [ -e "$CLUSTER_DIR/data" ] && die "$CLUSTER_DIR/data exists; remove it or set SOAK_DIR to a new directory"
    preload_arg=(--preload)
    [ "${SOAK_PRELOAD:-1}" = 0 ] && preload_arg=()
    read -r -a server_opts <<<"${SOAK_SERVER_OPTS:-}"
    exports="$(bash "$ALLOT_HARNESS_DIR/cluster.sh" start "$CLUSTER_DIR" "$port" ${preload_arg[@]+"${preload_arg[@]}"} \
                 ${server_opts[@]+"${server_opts[@]}"})" \
        || die "could not start a cluster in $CLUSTER_DIR on port $port"
    eval "$exports"
    OWN_CLUSTER=1
    MAINT=postgres
fi
CLUSTER_DIR="$(cd "$CLUSTER_DIR" && pwd)"
PASSED=0
cleanup_cluster() {
    [ "$OWN_CLUSTER" = 1 ] || return 0
    bash "$ALLOT_HARNESS_DIR/cluster.sh" stop "$CLUSTER_DIR" >/dev/null 2>&1 || true
    if [ "$PASSED" = 1 ] && [ "${SOAK_KEEP:-0}" != 1 ]; then
        rm -rf -- "$CLUSTER_DIR"
    else
        echo "(cluster kept, stopped, in $CLUSTER_DIR; start it with tests/harness/cluster.sh restart $CLUSTER_DIR)"
    fi
}
add_cleanup cleanup_cluster

work="$(mktemp -d "${TMPDIR:-/tmp}/soak_work.XXXXXX")"
chmod 755 "$work"
add_cleanup "[ \"\$PASSED\" = 1 ] && rm -rf '$work' || echo '(client files kept in $work)'"

PRELOAD="$(server_preloaded "$MAINT")" || die "cannot reach the server at $PGHOST:$PGPORT"
max_conn="$(q -d "$MAINT" -c 'SHOW max_connections')"
[ "$max_conn" -ge $((SOAK_CLIENTS + 10)) ] \
    || die "max_connections is $max_conn; $SOAK_CLIENTS clients need at least $((SOAK_CLIENTS + 10)) (clients, controller, sampler, worker)"
if [ -n "${ALLOT_PRELOAD:-}" ] && [ "$ALLOT_PRELOAD" != "$PRELOAD" ]; then
    note "note: ALLOT_PRELOAD=$ALLOT_PRELOAD but the server says preload=$PRELOAD; going by the server"
fi
KINDS=(backend worker postmaster)
[ "$PRELOAD" = 1 ] || KINDS=(backend postmaster)
LOG_OFFSET="$(stat -c %s "$CLUSTER_DIR/log" 2>/dev/null || echo 0)"

echo "soak: ${SOAK_SECONDS}s, $SOAK_CLIENTS clients, cluster $CLUSTER_DIR ($PGHOST:$PGPORT)," \
     "preload=$PRELOAD ($([ "$PRELOAD" = 1 ] && echo 'fast path and rollup worker' || echo 'slow path only; no worker: worker kills and memory sampling skipped'))"
echo "      kills every ${SOAK_KILL_EVERY}s after ${SOAK_QUIET}s (${KINDS[*]} in turn), limit change every ${SOAK_LIMIT_EVERY}s"

# -------------------------------------------------------------- limits ----
# Every limit: scope -> per, sliding, and its values (one value: never
# changed; more: the cycle the controller walks through).
LIMITS=('fix:*' 'fix:F7' 'usr:*' 'tot:*' 'sld:*' 'cfx:*' 'csl:*' 'ctt:*' 'fix:F6')
declare -A LPER=([fix:*]="'10 seconds'" [fix:F7]="'10 seconds'" [usr:*]="'1 minute'" [tot:*]=NULL
                 [sld:*]="'$SLIDING_PER'" [cfx:*]="'10 seconds'" [csl:*]="'$SLIDING_PER'" [ctt:*]=NULL
                 [fix:F6]="'10 seconds'")
declare -A LSLIDING=([fix:*]=false [fix:F7]=false [usr:*]=false [tot:*]=false [sld:*]=true
                     [cfx:*]=false [csl:*]=true [ctt:*]=false [fix:F6]=false)
declare -A LVALUES=([fix:*]="60" [fix:F7]="100" [usr:*]="15" [tot:*]="100" [sld:*]="50"
                    [cfx:*]="40 80 25 60" [csl:*]="30 60 20 45" [ctt:*]="100 200 60 150"
                    [fix:F6]="90 40 120 30")
CHANGED=('cfx:*' 'csl:*' 'ctt:*' 'fix:F6')
declare -A LNEXT=([cfx:*]=1 [csl:*]=1 [ctt:*]=1 [fix:F6]=1)

q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
q -d "$DB" -c 'CREATE EXTENSION pg_allot' -c 'CREATE SCHEMA soak' >/dev/null
# The log of every value each limit was given (read by the checks, see
# ALLOWED): "scope max t_req t_done ok"; the initial values have t_req 0.
: >"$work/limit_log"
for s in "${LIMITS[@]}"; do
    read -r first _ <<<"${LVALUES[$s]}"
    q -d "$DB" -c "SELECT allot.set_limit('$s', $first, ${LPER[$s]}, ${LSLIDING[$s]})" >/dev/null
    echo "$s $first 0 0 1" >>"$work/limit_log"
done

# set_limit_logged SCOPE MAX: one logged change (see ALLOWED in the header).
set_limit_logged() {
    local s="$1" max="$2" t0 t1 ok=1
    t0="$(date +%s.%N)"
    PGOPTIONS="-c statement_timeout=20s" q -d "$DB" \
        -c "SELECT allot.set_limit('$s', $max, ${LPER[$s]}, ${LSLIDING[$s]})" >/dev/null 2>>"$work/controller.err" || ok=0
    t1="$(date +%s.%N)"
    echo "$s $max $t0 $t1 $ok" >>"$work/limit_log"
    [ "$ok" = 1 ]
}

# -------------------------------------------------------------- client ----
# gen_keys: sets KEYS_SQL ('{a,b}') and KEYS_JSON (["a","b"]) for one request.
gen_keys() {
    local p=$((RANDOM % 100)) u="usr:U$((RANDOM % USERS))"
    local t5="tot:T$((EPOCHSECONDS / 5))_$((RANDOM % 2))" t10="ctt:R$((EPOCHSECONDS / 10))_$((RANDOM % 2))"
    local -a k
    if ((p < 22)); then k=("fix:F$((RANDOM % 8))" "$u")
    elif ((p < 36)); then k=("$t5" "$u")
    elif ((p < 50)); then k=("sld:S$((RANDOM % 8))" "$u")
    elif ((p < 62)); then k=("cfx:C$((RANDOM % 6))" "$u")
    elif ((p < 72)); then k=("csl:D$((RANDOM % 3))" "fix:F$((RANDOM % 8))")
    elif ((p < 82)); then k=("$t10" "$u")
    elif ((p < 92)); then k=("fix:F$((RANDOM % 8))" "$t5" "cfx:C$((RANDOM % 6))")
    else k=("sld:S$((RANDOM % 8))" "cfx:C$((RANDOM % 6))" "$t10" "$u")
    fi
    local IFS=,
    KEYS_SQL="{${k[*]}}"
    printf -v KEYS_JSON '"%s",' "${k[@]}"
    KEYS_JSON="[${KEYS_JSON%,}]"
}
gen_amount() {
    local a=$((RANDOM % 100))
    if ((a < 85)); then AMOUNT=1; elif ((a < 95)); then AMOUNT=2; else AMOUNT=3; fi
}

# Parses one session's output ($out) against what was sent ($meta, lines
# "unit type txn amount keys"). Output lines:
#   R u txn granted replayed path        redeem
#   M u txn granted replayed path error  one redeem_many item
#   V u txn reversed                     reverse
#   B u txn granted | X u txn granted    redeemed, then rolled back
#   S u txn granted replayed path        the savepoint unit's kept redeem
#   D u                                  end marker of B and S units
# Appends to granted.ID ("txn path type"), reversed.ID, rolledback.ID,
# doubt.ID ("type txn amount keys"), doubt_rev.ID, and one line of counts to
# stats.ID: answered granted denied replayed_fresh rev_true rev_false
# item_errors in_doubt_items.
PARSE_AWK='
FNR == NR { u = $1; n = ++cnt[u]; mt[u, n] = $2; mtxn[u, n] = $3; mamt[u, n] = $4; mkeys[u, n] = $5
            if (u > maxu) maxu = u; next }
$1 == "connected" { connected = 1; next }
$1 == "R" || $1 == "M" {
    done[$2] = 1; att++
    if ($1 == "M" && $7 != "-") ierr++
    if ($4 == "t") { gr++; print $3, $6, $1 >> granted; if ($5 == "t") rep++ } else den++
    next }
$1 == "V" { done[$2] = 1; if ($4 == "t") { rt++; print $3 >> reversed } else rf++; next }
$1 == "S" { sg[$2] = $4; sr[$2] = $5; sp[$2] = $6; st[$2] = $3; next }
$1 == "D" { done[$2] = 1
            if ($2 in st) { att++
                if (sg[$2] == "t") { gr++; print st[$2], sp[$2], "S" >> granted; if (sr[$2] == "t") rep++ } else den++ }
            next }
END {
    first = 0
    for (u = 1; u <= maxu; u++) if (!(u in done)) { first = u; break }
    last = first ? first : maxu
    for (u = 1; u <= last; u++) for (n = 1; n <= cnt[u]; n++)
        if (mt[u, n] == "B" || mt[u, n] == "X") print mtxn[u, n] >> rolledback
    if (rc != 0 && connected && first) {
        for (n = 1; n <= cnt[first]; n++) {
            t = mt[first, n]
            if (t == "R" || t == "M" || t == "S") { print t, mtxn[first, n], mamt[first, n], mkeys[first, n] >> doubt; dbt++ }
            else if (t == "V") print mtxn[first, n] >> doubtrev
        }
    }
    print att + 0, gr + 0, den + 0, rep + 0, rt + 0, rf + 0, ierr + 0, dbt + 0 >> stats
}'

client() {
    local id="$1" sql="$work/c$1.sql" meta="$work/c$1.meta" out="$work/c$1.out" err="$work/c$1.err"
    local u r n i rc txn txn2 items json
    local -a mine=()
    RANDOM=$(((BASHPID * 31 + id) % 32768))
    : >"$work/granted.$id"
    while [ ! -e "$work/stop" ]; do
        {
            echo "SELECT 'connected';"
            for ((u = 1; u <= UNITS; u++)); do
                r=$((RANDOM % 100))
                if ((r >= 75 && r < 85)) && [ ${#mine[@]} -gt 0 ]; then
                    txn="${mine[RANDOM % ${#mine[@]}]}"
                    echo "$u V $txn 0 -" >&4
                    echo "SELECT 'V', $u, '$txn', allot.reverse('$txn', 'soak');"
                elif ((r >= 65 && r < 75)); then
                    items=$((2 + RANDOM % 11))
                    json=""
                    for ((i = 0; i < items; i++)); do
                        read -r txn </proc/sys/kernel/random/uuid
                        gen_keys; gen_amount
                        echo "$u M $txn $AMOUNT $KEYS_SQL" >&4
                        json+="{\"txn\": \"$txn\", \"keys\": $KEYS_JSON, \"amount\": $AMOUNT},"
                    done
                    echo "WITH j(j) AS (SELECT '[${json%,}]'::jsonb)
                          SELECT 'M', $u, j.j->r.idx->>'txn', r.granted, r.replayed, coalesce(r.path, '-'), coalesce(r.error, '-')
                            FROM j, allot.redeem_many(j.j) r ORDER BY r.idx;"
                elif ((r >= 85 && r < 92)); then
                    read -r txn </proc/sys/kernel/random/uuid
                    gen_keys; gen_amount
                    echo "$u B $txn $AMOUNT $KEYS_SQL" >&4
                    echo "BEGIN;"
                    echo "SELECT 'B', $u, '$txn', d.granted FROM allot.redeem('$txn', '$KEYS_SQL', $AMOUNT) d;"
                    echo "ROLLBACK;"
                    echo "SELECT 'D', $u;"
                elif ((r >= 92)); then
                    read -r txn </proc/sys/kernel/random/uuid
                    read -r txn2 </proc/sys/kernel/random/uuid
                    gen_keys; gen_amount
                    echo "$u X $txn $AMOUNT $KEYS_SQL" >&4
                    echo "BEGIN;"
                    echo "SAVEPOINT a;"
                    echo "SELECT 'X', $u, '$txn', d.granted FROM allot.redeem('$txn', '$KEYS_SQL', $AMOUNT) d;"
                    echo "ROLLBACK TO SAVEPOINT a;"
                    gen_keys; gen_amount
                    echo "$u S $txn2 $AMOUNT $KEYS_SQL" >&4
                    echo "SELECT 'S', $u, '$txn2', d.granted, d.replayed, coalesce(d.path, '-') FROM allot.redeem('$txn2', '$KEYS_SQL', $AMOUNT) d;"
                    echo "COMMIT;"
                    echo "SELECT 'D', $u;"
                else
                    read -r txn </proc/sys/kernel/random/uuid
                    gen_keys; gen_amount
                    echo "$u R $txn $AMOUNT $KEYS_SQL" >&4
                    echo "SELECT 'R', $u, '$txn', d.granted, d.replayed, coalesce(d.path, '-') FROM allot.redeem('$txn', '$KEYS_SQL', $AMOUNT) d;"
                fi
            done
        } >"$sql" 4>"$meta"
        "$PG_BINDIR/psql" -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$DB" -f "$sql" >"$out" 2>"$err" && rc=0 || rc=$?
        awk -v rc="$rc" -v granted="$work/granted.$id" -v reversed="$work/reversed.$id" \
            -v rolledback="$work/rolledback.$id" -v doubt="$work/doubt.$id" -v doubtrev="$work/doubt_rev.$id" \
            -v stats="$work/stats.$id" "$PARSE_AWK" "$meta" "$out" || echo "client $id: awk failed" >>"$work/client_failures"
        if [ "$rc" != 0 ]; then
            grep -E '(ERROR|FATAL|PANIC|error|fatal):' "$err" >>"$work/errors.$id" || true
            sleep 0.$((2 + RANDOM % 5))
        fi
        mapfile -t mine < <(tail -n 50 "$work/granted.$id" | cut -d' ' -f1)
    done
}

# answered units so far (for progress and stall detection)
answered() {
    { cat "$work"/stats.* 2>/dev/null || true; } | awk '{ a += $1 } END { print a + 0 }'
}

# ------------------------------------------------------------- sampler ----
sampler() {
    local pid m
    while [ ! -e "$work/stop_sampler" ]; do
        pid="$(rollup_worker_pid "$MAINT" "$DB" 0)"
        if [ -n "$pid" ]; then
            m="$(proc_mem_kb "$pid")"
            [ -n "$m" ] && echo "$EPOCHSECONDS $pid $m" >>"$work/rss"
        fi
        sleep 2
    done
}

# ---------------------------------------------------------------- kills ----
declare -A KILLS_PLANNED=([backend]=0 [worker]=0 [postmaster]=0)
declare -A KILLS_DONE=([backend]=0 [worker]=0 [postmaster]=0)
SERVER_LOST=0
MISSED_KILLS=0
LAST_PM_RESTART=""

do_kill() {
    local kind="$1" t="$2" pid how off try
    KILLS_PLANNED[$kind]=$((KILLS_PLANNED[$kind] + 1))
    case "$kind" in
        backend | worker)
            # A client's session may end between our look and the kill (they
            # are short on the fast path): try again until the postmaster logs
            # a death by signal 9.
            for try in $(seq 1 30); do
                if [ "$kind" = backend ]; then
                    read -r pid how < <(pick_client_backend "$MAINT" "$DB"; echo) || true
                else
                    pid="$(rollup_worker_pid "$MAINT" "$DB" 20)"
                    how="rollup worker"
                fi
                if [ -z "$pid" ]; then
                    echo "${t}s: kill $kind: none found$([ "$kind" = worker ] && echo ' within 20 s')"
                    [ "$kind" = worker ] && break
                    continue
                fi
                off="$(stat -c %s "$CLUSTER_DIR/log")"
                if kill -9 "$pid" 2>/dev/null && wait_logged_kill "$CLUSTER_DIR/log" "$off" "$pid" 5; then
                    echo "${t}s: kill -9 $kind $pid ($how)"
                    break
                fi
                MISSED_KILLS=$((MISSED_KILLS + 1))
                pid=""
            done
            [ -n "$pid" ] || return 0
            ;;
        postmaster)
            echo "${t}s: kill -9 postmaster $(head -n 1 "$CLUSTER_DIR/data/postmaster.pid" 2>/dev/null), then cluster.sh restart"
            if ! kill_postmaster_and_restart "$CLUSTER_DIR" "$MAINT"; then
                echo "${t}s: the server did not come back after the postmaster was killed"
                SERVER_LOST=1
                return 0
            fi
            KILLS_DONE[$kind]=$((KILLS_DONE[$kind] + 1))
            LAST_PM_RESTART="$(q -d "$MAINT" -c 'SELECT pg_postmaster_start_time()' 2>/dev/null || true)"
            echo "$(($(date +%s) - T0_EPOCH))s: server up again"
            return 0
            ;;
    esac
    if wait_server_up "$MAINT" 60; then
        KILLS_DONE[$kind]=$((KILLS_DONE[$kind] + 1))
    else
        echo "${t}s: the server did not come back within 60 s after the $kind kill"
        SERVER_LOST=1
    fi
}

# ----------------------------------------------------------------- run ----
export PGOPTIONS="-c statement_timeout=60s"
T0_EPOCH="$(date +%s)"
pids=()
for i in $(seq 1 "$SOAK_CLIENTS"); do client "$i" & pids+=($!); done
sampler_pid=""
if [ "$PRELOAD" = 1 ]; then sampler & sampler_pid=$!; fi
add_cleanup "touch '$work/stop' '$work/stop_sampler'; wait ${pids[*]} $sampler_pid 2>/dev/null"

LIMIT_CHANGES=0
LIMIT_FAILS=0
FLIPS_OK=0
FLIPS_FAILED=0
MANUAL_ROLLUPS=0
STALLED=0
next_kill=$SOAK_QUIET
next_limit=$SOAK_LIMIT_EVERY
next_flip=3
next_rollup=5
next_progress=10
kill_idx=0
changed_idx=0
flip_target=slow
last_answered=0
last_answer_t=0
while :; do
    t=$(($(date +%s) - T0_EPOCH))
    [ "$t" -lt "$SOAK_SECONDS" ] || break
    if [ "$SOAK_KILL_EVERY" -gt 0 ] && [ "$t" -ge "$next_kill" ] && [ "$t" -le $((SOAK_SECONDS - 8)) ]; then
        do_kill "${KINDS[kill_idx % ${#KINDS[@]}]}" "$t"
        kill_idx=$((kill_idx + 1))
        next_kill=$((next_kill + SOAK_KILL_EVERY))
        # a slow kill (restart) must not bring the next one right after it
        now_t=$(($(date +%s) - T0_EPOCH))
        [ "$next_kill" -ge $((now_t + SOAK_KILL_EVERY / 2)) ] || next_kill=$((now_t + SOAK_KILL_EVERY / 2))
        [ "$SERVER_LOST" = 0 ] || break
        last_answer_t=$(($(date +%s) - T0_EPOCH))
    fi
    if [ "$t" -ge "$next_limit" ]; then
        s="${CHANGED[changed_idx % ${#CHANGED[@]}]}"
        read -r -a vals <<<"${LVALUES[$s]}"
        v="${vals[LNEXT[$s] % ${#vals[@]}]}"
        LNEXT[$s]=$((LNEXT[$s] + 1))
        if set_limit_logged "$s" "$v"; then LIMIT_CHANGES=$((LIMIT_CHANGES + 1)); else LIMIT_FAILS=$((LIMIT_FAILS + 1)); fi
        changed_idx=$((changed_idx + 1))
        next_limit=$((t + SOAK_LIMIT_EVERY))
    fi
    if [ "$t" -ge "$next_flip" ]; then
        for call in "fix:F0 slow" "fix:F1 $flip_target"; do
            read -r key path <<<"$call"
            if PGOPTIONS="-c statement_timeout=15s" q -d "$DB" -c "SELECT allot.set_path('$key', '$path')" \
                >/dev/null 2>>"$work/controller.err"; then
                FLIPS_OK=$((FLIPS_OK + 1))
            else
                FLIPS_FAILED=$((FLIPS_FAILED + 1))
            fi
        done
        if [ "$PRELOAD" = 1 ]; then
            if [ "$flip_target" = slow ]; then flip_target=fast; else flip_target=slow; fi
        fi
        next_flip=$((t + 3))
    fi
    if [ "$t" -ge "$next_rollup" ]; then
        if PGOPTIONS="-c statement_timeout=30s" q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null 2>>"$work/controller.err"; then
            MANUAL_ROLLUPS=$((MANUAL_ROLLUPS + 1))
        fi
        next_rollup=$((t + 5))
    fi
    if [ "$t" -ge "$next_progress" ]; then
        a="$(answered)"
        if [ "$a" -gt "$last_answered" ]; then
            last_answered=$a
            last_answer_t=$t
        elif [ $((t - last_answer_t)) -ge "$STALL_LIMIT" ]; then
            echo "${t}s: no unit answered for $((t - last_answer_t)) s: the load is stuck; sessions:"
            q -d "$MAINT" -P tuples_only=off -F ' | ' -c "SELECT pid, backend_type, state, wait_event_type, wait_event,
                   now() - query_start AS running, left(query, 80) FROM pg_stat_activity
                   WHERE datname = '$DB' ORDER BY query_start LIMIT 20" | sed 's/^/  /' || true
            STALLED=1
            break
        fi
        echo "${t}s: answered units $a; kills: backend ${KILLS_DONE[backend]} worker ${KILLS_DONE[worker]}" \
             "postmaster ${KILLS_DONE[postmaster]}; limit changes $LIMIT_CHANGES"
        next_progress=$((t + 10))
    fi
    sleep 0.5
done
echo "$(($(date +%s) - T0_EPOCH))s: stopping the load"
touch "$work/stop"
wait "${pids[@]}" || true
touch "$work/stop_sampler"
[ -z "$sampler_pid" ] || wait "$sampler_pid" || true
wait_server_up "$MAINT" 60 || die "the server is not answering after the load"

# ------------------------------------------------------------- in doubt ----
cat "$work"/doubt.* 2>/dev/null | sort -u >"$work/doubt" || true
doubt="$(wc -l <"$work/doubt")"
replayed=0
fresh_granted=0
fresh_denied=0
doubt_failed=0
if [ "$doubt" -gt 0 ]; then
    awk -v q="'" '{ printf "SELECT %s%s%s, d.replayed, d.granted FROM allot.redeem(%s%s%s, %s%s%s, %s) d;\n",
                    q, $2, q, q, $2, q, q, $4, q, $3 }' "$work/doubt" >"$work/doubt.sql"
    "$PG_BINDIR/psql" -X -q -At -F ' ' -d "$DB" -f "$work/doubt.sql" >"$work/doubt.out" 2>"$work/doubt.err" || true
    replayed="$(awk '$2 == "t"' "$work/doubt.out" | wc -l)"
    fresh_granted="$(awk '$2 == "f" && $3 == "t"' "$work/doubt.out" | wc -l)"
    fresh_denied="$(awk '$2 == "f" && $3 == "f"' "$work/doubt.out" | wc -l)"
    doubt_failed=$((doubt - replayed - fresh_granted - fresh_denied))
    [ "$doubt_failed" = 0 ] || { echo "redeeming in-doubt txns again failed for $doubt_failed:"; head -n 5 "$work/doubt.err"; }
fi

# Every changed limit back to its largest value (allot.violations compares
# with the current max); logged like every other change.
for s in "${CHANGED[@]}"; do
    read -r -a vals <<<"${LVALUES[$s]}"
    top="$(printf '%s\n' "${vals[@]}" | sort -n | tail -n 1)"
    set_limit_logged "$s" "$top" || die "could not set $s back to $top"
done

# ------------------------------------------------------------- checks ----
cat "$work"/granted.* 2>/dev/null | sort -u >"$work/granted" || true
cat "$work"/reversed.* 2>/dev/null | sort -u >"$work/reversed" || true
cat "$work"/rolledback.* 2>/dev/null | sort -u >"$work/rolledback" || true
read -r att gr den rep rt rf ierr dbt <<<"$({ cat "$work"/stats.* 2>/dev/null || true; } \
    | awk '{ for (i = 1; i <= 8; i++) s[i] += $i } END { print s[1]+0, s[2]+0, s[3]+0, s[4]+0, s[5]+0, s[6]+0, s[7]+0, s[8]+0 }')"

q -d "$DB" -c 'SELECT * FROM allot.rollup()' >/dev/null
q -d "$DB" \
  -c 'CREATE TABLE soak.seen (txn uuid, path text, unit text)' \
  -c "\\copy soak.seen FROM '$work/granted' WITH (DELIMITER ' ')" \
  -c 'CREATE TABLE soak.rev_seen (txn uuid)' \
  -c "\\copy soak.rev_seen FROM '$work/reversed'" \
  -c 'CREATE TABLE soak.rolledback (txn uuid)' \
  -c "\\copy soak.rolledback FROM '$work/rolledback'" \
  -c 'CREATE TABLE soak.doubt (unit text, txn uuid, amount bigint, keys text)' \
  -c "\\copy soak.doubt FROM '$work/doubt' WITH (DELIMITER ' ')" \
  -c 'CREATE TABLE soak.limit_log (scope text, max bigint, t_req float8, t_done float8, ok int)' \
  -c "\\copy soak.limit_log FROM '$work/limit_log' WITH (DELIMITER ' ')" >/dev/null

sliding_pers="$(qv "$DB" "SELECT string_agg(DISTINCT per::text, ',') FROM allot.limits WHERE sliding")"
[ "$(qv "$DB" "SELECT count(DISTINCT per) FROM allot.limits WHERE sliding")" = 1 ] \
    && [ "$(qv "$DB" "SELECT count(*) FROM allot.limits WHERE sliding AND per <> interval '$SLIDING_PER'")" = 0 ] \
    || die "every sliding limit must have per = $SLIDING_PER (the sliding check assumes it), got $sliding_pers"

# Values each limit may have had, and when (see ALLOWED in the header).
q -d "$DB" -c "
CREATE TABLE soak.limit_values AS
SELECT l.id AS limit_id, g.max,
       CASE WHEN g.t_req = 0 THEN '-infinity'::timestamptz ELSE to_timestamp(g.t_req) END AS t_from,
       coalesce((SELECT min(to_timestamp(n.t_done)) FROM soak.limit_log n
                  WHERE n.scope = g.scope AND n.ok = 1 AND n.t_req > g.t_req), 'infinity') AS t_to
  FROM soak.limit_log g JOIN allot.limits l ON l.scope = g.scope;
-- applicable limits of every granted key, derived here (exact key beats class)
CREATE TABLE soak.appl AS
WITH ks AS (SELECT DISTINCT k AS key FROM allot.events e, unnest(e.keys) k WHERE e.kind = 'grant')
SELECT ks.key, l.id AS limit_id, l.per, l.sliding, l.max AS cur_max
  FROM ks JOIN allot.limits l
    ON l.valid = '(,)' AND l.mode = 'enforce'
   AND (l.scope = ks.key
        OR (l.scope = regexp_replace(ks.key, ':[^/]*', ':*', 'g')
            AND NOT EXISTS (SELECT 1 FROM allot.limits x
                             WHERE x.scope = ks.key AND x.per IS NOT DISTINCT FROM l.per
                               AND x.sliding = l.sliding)));
CREATE INDEX ON soak.appl (key);
-- one row per (grant, applicable limit of one of its keys)
CREATE TABLE soak.units AS
SELECT e.seq, e.txn, a.key, a.limit_id, a.per, a.sliding, e.at, e.amount,
       CASE WHEN EXISTS (SELECT 1 FROM allot.events r WHERE r.txn = e.txn AND r.kind = 'reverse')
            THEN 0 ELSE e.amount END AS net
  FROM allot.events e CROSS JOIN LATERAL unnest(e.keys) k JOIN soak.appl a ON a.key = k
 WHERE e.kind = 'grant';
-- fixed windows and totals: allowed = the largest max that may have been
-- in effect between the window's first and last decision (+- EPS);
-- lowest = the smallest such max (allowed = lowest: the check is exact)
CREATE TABLE soak.windows AS
SELECT w.*, a.allowed, a.lowest
  FROM (SELECT key, limit_id, (per IS NULL) AS total, ws, sum(net)::bigint AS used, count(*) AS grants,
               min(at) AS first_at, max(at) AS last_at
          FROM (SELECT u.*,
                       CASE WHEN per IS NULL THEN '-infinity'::timestamptz
                            ELSE date_bin(per, at, timestamptz '2000-01-01 00:00:00+00') END AS ws
                  FROM soak.units u WHERE NOT sliding) x
         GROUP BY 1, 2, 3, 4) w,
       LATERAL (SELECT max(v.max) AS allowed, min(v.max) AS lowest
                  FROM soak.limit_values v
                 WHERE v.limit_id = w.limit_id
                   AND v.t_from <= w.last_at + interval '$EPS seconds'
                   AND v.t_to >= w.first_at - interval '$EPS seconds') a;
-- sliding: the span (g.at - per, g.at] ending at every grant g
CREATE TABLE soak.spans AS
SELECT s.*, a.allowed, a.lowest
  FROM (SELECT DISTINCT key, limit_id, at AS span_end,
               sum(net) OVER (PARTITION BY key, limit_id ORDER BY at
                              RANGE BETWEEN interval '$SLIDING_PER' - interval '1 microsecond' PRECEDING
                                        AND CURRENT ROW)::bigint AS used
          FROM soak.units WHERE sliding) s,
       LATERAL (SELECT max(v.max) AS allowed, min(v.max) AS lowest
                  FROM soak.limit_values v
                 WHERE v.limit_id = s.limit_id
                   AND v.t_from <= s.span_end + interval '$EPS seconds'
                   AND v.t_to >= s.span_end - interval '$SLIDING_PER' - interval '$EPS seconds') a;
" >/dev/null

read -r win_fixed win_fixed_full win_fixed_over win_fixed_exact tot_n tot_full tot_over tot_exact <<<"$(qv "$DB" "
    SELECT count(*) FILTER (WHERE NOT total), count(*) FILTER (WHERE NOT total AND used = allowed),
           count(*) FILTER (WHERE NOT total AND used > allowed),
           count(*) FILTER (WHERE NOT total AND allowed = lowest),
           count(*) FILTER (WHERE total), count(*) FILTER (WHERE total AND used = allowed),
           count(*) FILTER (WHERE total AND used > allowed), count(*) FILTER (WHERE total AND allowed = lowest)
      FROM soak.windows")"
read -r spans spans_full spans_over spans_exact <<<"$(qv "$DB" "
    SELECT count(*), count(*) FILTER (WHERE used = allowed), count(*) FILTER (WHERE used > allowed),
           count(*) FILTER (WHERE allowed = lowest)
      FROM soak.spans")"

# every window has a logged max; every limit has the max the log says last
read -r unlogged_windows limits_unlike_log <<<"$(qv "$DB" "
    SELECT (SELECT count(*) FROM soak.windows WHERE allowed IS NULL)
           + (SELECT count(*) FROM soak.spans WHERE allowed IS NULL),
           (SELECT count(*) FROM allot.limits l
             WHERE l.max IS DISTINCT FROM (SELECT g.max FROM soak.limit_log g
                                            WHERE g.scope = l.scope AND g.ok = 1
                                            ORDER BY g.t_req DESC LIMIT 1))")"

# detail.counted against the windows we expect (kept in soak.misplaced)
q -d "$DB" -c "
    CREATE TABLE soak.counted AS
      SELECT e.seq, e.txn, e.at, e.path, c->>0 AS key, (c->>1)::bigint AS limit_id,
             (c->>2)::timestamptz AS ws, c AS entry
        FROM allot.events e, jsonb_array_elements(e.detail->'counted') c WHERE e.kind = 'grant';
    CREATE INDEX ON soak.counted (txn);
    CREATE TABLE soak.misplaced AS
    WITH expected AS (
      SELECT txn, key, limit_id, at, per, sliding,
             CASE WHEN per IS NULL THEN '-infinity'::timestamptz
                  WHEN NOT sliding THEN date_bin(per, at, timestamptz '2000-01-01 00:00:00+00') END AS ws
        FROM soak.units)
    SELECT 'missing' AS what, x.txn, x.key, x.limit_id, x.at, x.ws AS expected_ws, NULL::jsonb AS entry
      FROM expected x WHERE NOT EXISTS (
              SELECT 1 FROM soak.counted c WHERE c.txn = x.txn AND c.key = x.key AND c.limit_id = x.limit_id
                 AND CASE WHEN x.sliding THEN c.ws <= x.at AND x.at < c.ws + x.per / 60 ELSE c.ws = x.ws END)
    UNION ALL
    SELECT 'unexpected', c.txn, c.key, c.limit_id, c.at, NULL, c.entry
      FROM soak.counted c WHERE NOT EXISTS (
              SELECT 1 FROM expected x WHERE c.txn = x.txn AND c.key = x.key AND c.limit_id = x.limit_id
                 AND CASE WHEN x.sliding THEN c.ws <= x.at AND x.at < c.ws + x.per / 60 ELSE c.ws = x.ws END)" >/dev/null
read -r counted_missing counted_extra <<<"$(qv "$DB" "
    SELECT count(*) FILTER (WHERE what = 'missing'), count(*) FILTER (WHERE what = 'unexpected') FROM soak.misplaced")"

# grants the clients saw
read -r lost not_once path_differs <<<"$(qv "$DB" "
    SELECT count(*) FILTER (WHERE g.n = 0 OR t.n = 0),
           count(*) FILTER (WHERE g.n <> 1 OR t.n <> 1),
           count(*) FILTER (WHERE g.n = 1 AND g.path <> s.path)
      FROM soak.seen s,
           LATERAL (SELECT count(*) AS n, min(e.path) AS path FROM allot.events e
                     WHERE e.txn = s.txn AND e.kind = 'grant') g,
           LATERAL (SELECT count(*) AS n FROM allot.txns x WHERE x.txn = s.txn) t")"
read -r rev_lost rev_not_once <<<"$(qv "$DB" "
    SELECT count(*) FILTER (WHERE r.n = 0 OR g.n = 0), count(*) FILTER (WHERE r.n <> 1)
      FROM soak.rev_seen s,
           LATERAL (SELECT count(*) AS n FROM allot.events e WHERE e.txn = s.txn AND e.kind = 'reverse') r,
           LATERAL (SELECT count(*) AS n FROM allot.events e WHERE e.txn = s.txn AND e.kind = 'grant') g")"
rolledback_granted="$(qv "$DB" "SELECT count(*) FROM soak.rolledback b
                                 WHERE EXISTS (SELECT 1 FROM allot.events e WHERE e.txn = b.txn AND e.kind = 'grant')")"
doubt_multi="$(qv "$DB" "
    SELECT count(*) FILTER (WHERE g.n > 1)
      FROM soak.doubt d, LATERAL (SELECT count(*) AS n FROM allot.events e
                                   WHERE e.txn = d.txn AND e.kind = 'grant') g")"
read -r ev_grants ev_distinct ev_fast ev_slow ev_denies ev_reverses ev_fast_after <<<"$(qv "$DB" "
    SELECT count(*) FILTER (WHERE kind = 'grant'), count(DISTINCT txn) FILTER (WHERE kind = 'grant'),
           count(*) FILTER (WHERE kind = 'grant' AND path = 'fast'),
           count(*) FILTER (WHERE kind = 'grant' AND path = 'slow'),
           count(*) FILTER (WHERE kind = 'deny'), count(*) FILTER (WHERE kind = 'reverse'),
           count(*) FILTER (WHERE kind = 'grant' AND path = 'fast'
                              AND at > coalesce(nullif('$LAST_PM_RESTART', '')::timestamptz, 'infinity'))
      FROM allot.events")"
verify_rows="$(qv "$DB" 'SELECT count(*) FROM allot.verify()')"
violations="$(qv "$DB" 'SELECT count(*) FROM allot.violations')"

# server log since the start: crashes we did not cause, failed rollups
tail -c +"$((LOG_OFFSET + 1))" "$CLUSTER_DIR/log" >"$work/server.log" 2>/dev/null || true
sig9="$(grep -c 'terminated by signal 9' "$work/server.log" || true)"
# A worker the launcher started for a database dropped a moment before
# (e.g. this test's database of an earlier failed run, dropped at our start)
# fails with "database N does not exist" and exit code 1: not ours, counted
# apart.
awk 'FNR == NR { if (match($0, /\[[0-9]+\] FATAL:  database [0-9]+ does not exist/)) {
                     s = substr($0, RSTART + 1); gone[substr(s, 1, index(s, "]") - 1)] = 1 }
                 next }
     /terminated by signal [0-8]:|terminated by signal [1-9][0-9]|PANIC|TRAP:|pg_allot rollup in database .* failed/ { print; next }
     /pg_allot.*exited with exit code [1-9]/ {
         if (match($0, /\(PID [0-9]+\)/) && (substr($0, RSTART + 5, RLENGTH - 6) in gone)) { print > dropped; next }
         print }' dropped="$work/server_dropped_db.log" "$work/server.log" "$work/server.log" >"$work/server_bad.log" || true
touch "$work/server_dropped_db.log"
server_bad="$(wc -l <"$work/server_bad.log")"
server_dropped_db="$(wc -l <"$work/server_dropped_db.log")"

# client errors: only those a kill explains are expected
cat "$work"/errors.* 2>/dev/null >"$work/errors" || true
EXPECTED_ERR='server closed the connection unexpectedly|terminating connection because of crash of another server process|connection to server was lost|the database system is (in recovery mode|starting up|shutting down|not yet accepting connections)|Connection refused|No such file or directory|could not send data to server|could not receive data from server|terminating connection due to (unexpected postmaster exit|administrator command)|no connection to the server'
grep -vE "$EXPECTED_ERR" "$work/errors" >"$work/errors_unexpected" || true
errors_all="$(wc -l <"$work/errors")"
errors_unexpected="$(wc -l <"$work/errors_unexpected")"
# controller errors (set_limit, set_path, rollup): besides a kill's, only
# set_path's documented "try again" (55P03: a key busy or changing path)
touch "$work/controller.err"
grep -E '(ERROR|FATAL|error):' "$work/controller.err" >"$work/controller_errors" || true
grep -vE "$EXPECTED_ERR|is held by transactions that do not finish|cannot fold yet; try again|is changing path; try again" \
    "$work/controller_errors" >"$work/controller_unexpected" || true
controller_errors="$(wc -l <"$work/controller_errors")"
controller_unexpected="$(wc -l <"$work/controller_unexpected")"
client_failures=0
[ -f "$work/client_failures" ] && client_failures="$(wc -l <"$work/client_failures")"

worker_at_end=0
[ "$PRELOAD" = 1 ] && [ -n "$(rollup_worker_pid "$MAINT" "$DB" 10)" ] && worker_at_end=1

# worker memory: per pid first/last sample; the longest life decides
rss_lives=0
rss_line=""
rss_ok=1
if [ "$PRELOAD" = 1 ] && [ -s "$work/rss" ]; then
    read -r rss_lives life_pid life_secs life_n vm_first vm_last anon_first anon_last anon_peak <<<"$(awk '
        { if (!($2 in t0)) { t0[$2] = $1; vf[$2] = $3; af[$2] = $4 }
          t1[$2] = $1; vl[$2] = $3; al[$2] = $4; n[$2]++; if ($4 > pk[$2]) pk[$2] = $4 }
        END { best = ""; for (p in t0) { lives++; if (best == "" || t1[p] - t0[p] > t1[best] - t0[best]) best = p }
              print lives, best, t1[best] - t0[best], n[best], vf[best], vl[best], af[best], al[best], pk[best] }' "$work/rss")"
    rss_bound=$((2 * anon_first + 8192))
    rss_line="worker lives sampled $rss_lives; longest: pid $life_pid, ${life_secs}s, $life_n samples;"
    rss_line+=" RssAnon first $anon_first kB, last $anon_last kB (peak $anon_peak, bound $rss_bound);"
    rss_line+=" VmRSS first $vm_first kB, last $vm_last kB"
    [ "$anon_last" -le "$rss_bound" ] || rss_ok=0
fi

# -------------------------------------------------------------- report ----
kills_total=$((KILLS_DONE[backend] + KILLS_DONE[worker] + KILLS_DONE[postmaster]))
attempted=$((att + dbt))
echo
echo "== soak figures ($SOAK_SECONDS s, $SOAK_CLIENTS clients, preload=$PRELOAD)"
echo "redemptions attempted $attempted: answered $att (granted $gr, denied $den), in doubt $dbt" \
     "(redeemed again: replayed $replayed, granted afresh $fresh_granted, denied afresh $fresh_denied, failed $doubt_failed)"
echo "log: grant events $ev_grants (fast $ev_fast, slow $ev_slow; fast after the last postmaster restart $ev_fast_after)," \
     "deny events $ev_denies, reverse events $ev_reverses"
echo "reversals: said true $rt, said false $rf; rolled-back txns $(wc -l <"$work/rolledback"); redeem_many item errors $ierr"
echo "limit changes $LIMIT_CHANGES (failed $LIMIT_FAILS) + ${#CHANGED[@]} restores; set_path calls ok $FLIPS_OK failed $FLIPS_FAILED;" \
     "manual rollups $MANUAL_ROLLUPS"
echo "kill attempts that missed (the process had ended before the signal; tried again): $MISSED_KILLS"
echo "kills survived: backend ${KILLS_DONE[backend]}/${KILLS_PLANNED[backend]}, worker ${KILLS_DONE[worker]}/${KILLS_PLANNED[worker]}," \
     "postmaster ${KILLS_DONE[postmaster]}/${KILLS_PLANNED[postmaster]}$([ "$PRELOAD" = 1 ] || echo ' (no preload: no worker, worker kills skipped)')"
echo "windows checked (exact: only one max possible; full: used = allowed): fixed $win_fixed (exact $win_fixed_exact," \
     "full $win_fixed_full, over $win_fixed_over), totals $tot_n (exact $tot_exact, full $tot_full, over $tot_over)," \
     "sliding spans $spans (exact $spans_exact, full $spans_full, over $spans_over)"
echo "per limit: scope, shape, windows or spans checked, exact, full, over, largest used, largest allowed"
q -d "$DB" -F ' ' -c "
    SELECT '  ' || rpad(l.scope, 7), rpad(CASE WHEN l.per IS NULL THEN 'total' WHEN l.sliding THEN 'sliding ' || l.per
                              ELSE 'fixed ' || l.per END, 20),
           count(*), count(*) FILTER (WHERE allowed = lowest), count(*) FILTER (WHERE used = allowed),
           count(*) FILTER (WHERE used > allowed), max(used), max(allowed)
      FROM (SELECT limit_id, used, allowed, lowest FROM soak.windows
            UNION ALL SELECT limit_id, used, allowed, lowest FROM soak.spans) x
      JOIN allot.limits l ON l.id = x.limit_id
     GROUP BY l.scope, l.per, l.sliding ORDER BY l.scope" || true
echo "counted windows vs expected: missing $counted_missing, unexpected $counted_extra"
echo "violations = $violations, lost = $lost, not exactly once = $not_once, path differs = $path_differs," \
     "verify rows = $verify_rows, double grants = $((ev_grants - ev_distinct))"
echo "controller errors: $controller_errors (unexpected $controller_unexpected)"
echo "client errors: $errors_all (unexpected $errors_unexpected); server log: killed by signal 9: $sig9, bad lines: $server_bad" \
     "(workers started for a dropped database: $server_dropped_db)"
if [ "$PRELOAD" = 1 ]; then
    echo "worker RSS: ${rss_line:-no samples}"
    echo "allot.stats: $(q -d "$DB" -F ' ' -c "SELECT 'grants_fast=' || grants_fast, 'grants_slow=' || grants_slow,
        'promotions=' || promotions, 'demotions=' || demotions, 'rollups=' || rollups,
        'shared_keys_used=' || shared_keys_used, 'max_keys=' || max_keys FROM allot.stats" 2>/dev/null || echo '?') (since the last restart)"
else
    echo "worker RSS: no preload, no worker"
fi
echo "per class (grant events / keys):"
q -d "$DB" -F ' ' -c "SELECT '  ' || split_part(k, ':', 1), count(*), count(DISTINCT k)
                        FROM allot.events e, unnest(e.keys) k WHERE e.kind = 'grant' GROUP BY 1 ORDER BY 1" | paste -sd' ' | sed 's/^/ /'
if [ "$errors_unexpected" -gt 0 ]; then
    echo "unexpected client errors (most frequent):"
    sed -E 's/^psql:[^:]*:[0-9]+: //' "$work/errors_unexpected" | sort | uniq -c | sort -rn | head -n 5 | sed 's/^/  /'
fi
if [ "$controller_unexpected" -gt 0 ]; then
    echo "unexpected controller errors:"
    sed -E 's/^psql:[^:]*:[0-9]+: //' "$work/controller_unexpected" | sort | uniq -c | sort -rn | head -n 5 | sed 's/^/  /'
fi
if [ "$server_bad" -gt 0 ]; then
    echo "server log lines:"
    head -n 10 "$work/server_bad.log" | sed 's/^/  /'
fi

echo
echo "== checks"
for k in "${KINDS[@]}"; do
    check "kills of a $k survived (as scheduled)" "${KILLS_DONE[$k]}" "${KILLS_PLANNED[$k]}"
done
[ "$PRELOAD" = 1 ] || echo "  skipped   kills of the rollup worker (no preload: there is no worker)"
if [ "$SOAK_MIN_KILLS_EACH" -gt 0 ]; then
    for k in "${KINDS[@]}"; do
        check "kills of a $k survived (at least)" "${KILLS_DONE[$k]}" "$SOAK_MIN_KILLS_EACH" -ge
    done
fi
check "server came back after every kill" "$SERVER_LOST" 0
check "load never stalled" "$STALLED" 0
check "redemptions granted (the test did run)" "$gr" 1 -ge
check "redemptions denied (limits were hit)" "$den" 1 -ge
check "fixed windows over their allowed max" "$win_fixed_over" 0
check "totals over their allowed max" "$tot_over" 0
check "sliding spans over their allowed max" "$spans_over" 0
check "fixed windows filled to their max (the load bit)" "$win_fixed_full" 1 -ge
check "windows and spans without a logged max" "$unlogged_windows" 0
check "limits whose max is not the last one logged" "$limits_unlike_log" 0
check "counted windows missing (expected, not in detail.counted)" "$counted_missing" 0
check "counted windows unexpected (in detail.counted, not expected)" "$counted_extra" 0
check "rows of allot.violations" "$violations" 0
check "grants seen committed but lost" "$lost" 0
check "grants seen committed, not exactly once in txns/events" "$not_once" 0
check "grants seen committed, event path <> decision path" "$path_differs" 0
check "reversals seen (true) without exactly one reverse event" "$((rev_lost + rev_not_once))" 0
check "rolled-back txns with a grant event" "$rolledback_granted" 0
check "fresh txns answered replayed" "$rep" 0
check "in-doubt txns resolved (replayed + afresh)" "$((replayed + fresh_granted + fresh_denied))" "$doubt"
check "in-doubt txns with more than one grant event" "$doubt_multi" 0
check "txns with two grant events" "$((ev_grants - ev_distinct))" 0
check "rows of allot.verify() after rollup" "$verify_rows" 0
check "server log: deaths by signal 9 = our backend and worker kills" "$sig9" "$((KILLS_DONE[backend] + KILLS_DONE[worker]))"
check "server log: crashes not caused by us, failed rollups" "$server_bad" 0
check "client errors a kill does not explain" "$errors_unexpected" 0
check "client processes that failed" "$client_failures" 0
check "controller errors a kill or a busy key does not explain" "$controller_unexpected" 0
if [ "$PRELOAD" = 1 ]; then
    check "grants on the fast path" "$ev_fast" 1 -ge
    if [ "${KILLS_DONE[postmaster]}" -gt 0 ]; then
        check "fast grants after the last postmaster restart" "$ev_fast_after" 1 -ge
    fi
    check "rollup worker of $DB running at the end" "$worker_at_end" 1
    check "worker lives sampled" "$rss_lives" 1 -ge
    check "worker RssAnon last <= 2 x first + 8 MB (longest life)" "${anon_last:-0}" "${rss_bound:-0}" -le
else
    check "grants on the fast path (no preload: none)" "$ev_fast" 0
fi

if [ "$CHECK_FAILS" -gt 0 ]; then
    echo
    echo "details (database $DB kept; soak.* tables hold what the checks computed):"
    q -d "$DB" -P tuples_only=off -P footer=off -F ' | ' -c "SELECT * FROM soak.windows WHERE used > allowed ORDER BY ws LIMIT 10" | sed 's/^/  window: /' || true
    q -d "$DB" -P tuples_only=off -P footer=off -F ' | ' -c "SELECT * FROM soak.spans WHERE used > allowed ORDER BY span_end LIMIT 10" | sed 's/^/  span: /' || true
    q -d "$DB" -P tuples_only=off -P footer=off -F ' | ' -c "SELECT m.what, m.key, m.limit_id, m.at, m.expected_ws,
            e.seq, e.txn, e.path, e.detail->'counted' AS counted
       FROM soak.misplaced m JOIN allot.events e ON e.txn = m.txn AND e.kind = 'grant'
      ORDER BY e.seq LIMIT 10" | sed 's/^/  misplaced: /' || true
    show_failure_details "$DB" "used > max"
    # Again here, last, so that a CI log that keeps only the end shows them.
    if [ "$errors_unexpected" -gt 0 ]; then
        echo "unexpected client errors (all lines, up to 10):"
        head -n 10 "$work/errors_unexpected" | sed 's/^/  /'
    fi
    if [ "$controller_unexpected" -gt 0 ]; then
        echo "unexpected controller errors (up to 10):"
        head -n 10 "$work/controller_unexpected" | sed 's/^/  /'
    fi
    echo "FAIL: soak: $CHECK_FAILS check(s) failed"
    exit 1
fi
q -d "$MAINT" -c "DROP DATABASE $DB WITH (FORCE)"
PASSED=1
echo "PASS: soak"
