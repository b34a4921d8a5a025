# shellcheck shell=bash
# Shared helpers for the pg_allot test harness. Source it; do not execute it.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"
#
# Provides:
#   ALLOT_REPO        repository root
#   PG_CONFIG         pg_config of the PostgreSQL we build against
#   PG_BINDIR         its bindir (initdb, pg_ctl, psql, pgbench, ...)
#   as_server_user    run a command as the user that owns the server
#                     (postgres when we are root, ourselves otherwise)
#   die / note        messages on stderr
#   q                 psql -X -At -v ON_ERROR_STOP=1 "$@" (uses PG* env)
#   qv DB SQL         run one query and print its rows (space-separated);
#                     exits 1 with a clear message if the query fails
#   ensure_cluster    if PGHOST/PGPORT are not set, start a throwaway
#                     cluster (with --preload) and stop it on exit
#   add_cleanup CMD   run CMD (a string, eval'd) on exit; use instead of
#                     trap ... EXIT so cleanups do not replace each other
#   check NAME GOT WANT [OP]   record one check (OP: -eq (default), -le,
#                     -ge); prints it; failures are counted in CHECK_FAILS
#   pgbench_run DB CLIENTS TXNS SCRIPT_FILE [PGBENCH_ARGS...]
#                     pgbench -n -M prepared, min(CLIENTS, 8) threads
#                     (PGBENCH_THREADS=N overrides; PGBENCH_TIMEOUT=SECONDS
#                     kills a run that takes longer, e.g. stuck clients);
#                     returns 1 (after printing pgbench's output) on a
#                     non-zero exit, a timeout, unprocessed or failed
#                     transactions. NB: pgbench reads ":name" anywhere
#                     in a script, even inside quotes, as a variable, so
#                     keys like 'voucher:HOT' must come in through
#                     -D name=value variables (CAST(:name AS text)).

ALLOT_HARNESS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ALLOT_REPO="$(cd "$ALLOT_HARNESS_DIR/../.." && pwd)"
export ALLOT_REPO

if [ -z "${PG_CONFIG:-}" ]; then
    if [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
        PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
    else
        PG_CONFIG=pg_config
    fi
fi
export PG_CONFIG
PG_BINDIR="$("$PG_CONFIG" --bindir 2>/dev/null || true)"
if [ -z "$PG_BINDIR" ] || [ ! -x "$PG_BINDIR/initdb" ]; then
    for d in /usr/lib/postgresql/15/bin /usr/local/pgsql/bin; do
        if [ -x "$d/initdb" ]; then PG_BINDIR="$d"; break; fi
    done
fi
export PG_BINDIR

note() { printf '%s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# The OS user that runs the server: initdb refuses root.
server_user() {
    if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

# Run "$@" as the server user, from a directory that user can enter
# (initdb and pg_ctl fail when they cannot resolve the current directory).
as_server_user() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

q() {
    "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"
}

# qv DB SQL : one query whose output a test needs; exits the test with a
# clear message if it fails (psql's error is shown above it).
qv() {
    local out
    if ! out="$(q -d "$1" -F ' ' -c "$2")"; then
        echo "FAIL: query failed in database $1: $2" >&2
        exit 1
    fi
    printf '%s\n' "$out"
}

ALLOT_CLEANUP=()
_allot_run_cleanup() {
    local i
    for ((i = ${#ALLOT_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${ALLOT_CLEANUP[$i]}" || true
    done
}
add_cleanup() {
    ALLOT_CLEANUP+=("$1")
    trap _allot_run_cleanup EXIT
}

CHECK_FAILS=0
check() {
    local name="$1" got="$2" want="$3" op="${4:--eq}" ok=0
    if [[ "$got" =~ ^-?[0-9]+$ ]] && [[ "$want" =~ ^-?[0-9]+$ ]]; then
        case "$op" in
            -eq) ((got == want)) && ok=1 ;;
            -le) ((got <= want)) && ok=1 ;;
            -ge) ((got >= want)) && ok=1 ;;
        esac
    fi
    local rel
    case "$op" in -eq) rel="=" ;; -le) rel="<=" ;; -ge) rel=">=" ;; *) rel="$op" ;; esac
    if [ "$ok" = 1 ]; then
        printf '  ok        %-52s %s (want %s %s)
' "$name" "$got" "$rel" "$want"
    else
        printf '  MISMATCH  %-52s %s (want %s %s)
' "$name" "${got:-<nothing>}" "$rel" "$want"
        CHECK_FAILS=$((CHECK_FAILS + 1))
    fi
}

# show_failure_details DB USAGE_FILTER: what a failed test leaves for its log:
# the allot.usage rows matching USAGE_FILTER (an SQL condition), and the
# first rows of allot.verify() and allot.violations.
show_failure_details() {
    local db="$1" filter="$2"
    echo "details:"
    q -d "$db" -P tuples_only=off -P footer=off -F ' | ' -c "SELECT * FROM allot.usage WHERE $filter" | sed 's/^/  usage: /' || true
    q -d "$db" -P tuples_only=off -P footer=off -F ' | ' -c 'SELECT * FROM allot.verify() LIMIT 10' | sed 's/^/  verify: /' || true
    q -d "$db" -P tuples_only=off -P footer=off -F ' | ' -c 'SELECT * FROM allot.violations LIMIT 10' | sed 's/^/  violation: /' || true
}

pgbench_run() {
    local db="$1" clients="$2" txns="$3" script="$4" threads log rc
    shift 4
    threads="${PGBENCH_THREADS:-$(( clients < 8 ? clients : 8 ))}"
    log="$(mktemp)"
    add_cleanup "rm -f '$log'"
    echo "pgbench: $clients clients x $txns transactions ($((clients * txns)) attempts), $threads threads"
    local -a limit=()
    [ -n "${PGBENCH_TIMEOUT:-}" ] && limit=(timeout --kill-after=10 "$PGBENCH_TIMEOUT")
    ${limit[@]+"${limit[@]}"} "$PG_BINDIR/pgbench" -n -M prepared -f "$script" -c "$clients" -j "$threads" \
        -t "$txns" "$@" "$db" >"$log" 2>&1 && rc=0 || rc=$?
    grep -E '^(number of (transactions actually processed|failed transactions)|latency average|tps)' "$log" \
        | sed 's/^/  /' || true
    if [ "$rc" = 124 ] && [ -n "${PGBENCH_TIMEOUT:-}" ]; then
        echo "pgbench did not finish within $PGBENCH_TIMEOUT s and was killed; the last 30 lines of its output:"
        tail -n 30 "$log"
        return 1
    fi
    if [ "$rc" != 0 ]; then
        echo "pgbench exited with status $rc; its output:"
        cat "$log"
        return 1
    fi
    local processed
    processed="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")"
    if [ "$processed" != "$((clients * txns))" ]; then
        echo "pgbench processed ${processed:-?} of $((clients * txns)) transactions; its output:"
        cat "$log"
        return 1
    fi
    if grep -qE '^number of failed transactions: [1-9]' "$log"; then
        echo "pgbench reports failed transactions; its output:"
        cat "$log"
        return 1
    fi
    return 0
}

# Start a throwaway cluster unless the caller already gave us one.
# Sets ALLOT_OWN_CLUSTER_DIR when it started one.
ensure_cluster() {
    if [ -n "${PGHOST:-}" ] && [ -n "${PGPORT:-}" ]; then
        export PGUSER="${PGUSER:-postgres}"
        return 0
    fi
    ALLOT_OWN_CLUSTER_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pg_allot_cluster.XXXXXX")"
    add_cleanup "bash '$ALLOT_HARNESS_DIR/cluster.sh' stop '$ALLOT_OWN_CLUSTER_DIR' >/dev/null 2>&1; rm -rf '$ALLOT_OWN_CLUSTER_DIR'"
    local port=$((55432 + RANDOM % 2000))
    local exports
    exports="$(bash "$ALLOT_HARNESS_DIR/cluster.sh" start "$ALLOT_OWN_CLUSTER_DIR" "$port" --preload)" \
        || die "could not start a throwaway cluster"
    eval "$exports"
    export ALLOT_CLUSTER_DIR="$ALLOT_OWN_CLUSTER_DIR"
    note "started a throwaway cluster in $ALLOT_OWN_CLUSTER_DIR (port $port)"
}

# ---------------------------------------------------------------------------
# Kill -9 helpers for the crash and soak tests (tests/soak/soak.sh uses them;
# crash_fast_path.sh has older local copies of the same shapes).
#
#   server_preloaded DB     prints 1 if shared_preload_libraries holds
#                           pg_allot (fast path, rollup worker), else 0
#   wait_server_up DB [SECONDS]   until a query succeeds (default 30 s);
#                           returns 1 if it never does
#   wait_pid_gone PID [SECONDS]   until /proc/PID is gone (default 5 s), so
#                           the postmaster has seen a killed child die
#   pick_client_backend MAINT DB  prints "PID in-redeem" for a client backend
#                           of DB running allot.redeem* right now (looks for
#                           up to ~2 s), else "PID idle" for any client
#                           backend of DB, else nothing
#   rollup_worker_pid MAINT DB [SECONDS]  the pid of DB's "pg_allot rollup"
#                           worker, waiting up to SECONDS (default 0) for it
#                           to appear; nothing if there is none
#   kill_postmaster_and_restart DIR MAINT  kill -9 the postmaster of the
#                           cluster in DIR (made by cluster.sh), wait until it
#                           is gone, start it again with cluster.sh restart
#                           and wait until it answers; returns 1 if it does not
#   proc_mem_kb PID         prints "VmRSS RssAnon RssFile RssShmem" (kB) of a
#                           process from /proc/PID/status; nothing if gone
#   wait_logged_kill LOG OFFSET PID [SECONDS]  until the server log LOG, past
#                           byte OFFSET, says the postmaster saw PID die of
#                           signal 9 (default 5 s); returns 1 if it never
#                           does (the process had ended before the kill)
# ---------------------------------------------------------------------------
server_preloaded() {
    local libs
    libs="$(q -d "$1" -c 'SHOW shared_preload_libraries')" || return 1
    if [[ ",${libs// /}," == *,pg_allot,* ]]; then echo 1; else echo 0; fi
}

wait_server_up() {
    local db="$1" deadline=$((SECONDS + ${2:-30}))
    while :; do
        q -d "$db" -c 'SELECT 1' >/dev/null 2>&1 && return 0
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

wait_pid_gone() {
    local pid="$1" deadline=$((SECONDS + ${2:-5}))
    while [ -e "/proc/$pid" ]; do
        # a zombie nobody reaps counts as gone
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
    return 0
}

pick_client_backend() {
    local maint="$1" db="$2" pid i
    for i in $(seq 1 100); do
        pid="$(q -d "$maint" -c "SELECT pid FROM pg_stat_activity
                                   WHERE datname = '$db' AND backend_type = 'client backend'
                                     AND state = 'active' AND query LIKE '%allot.redeem%'
                                     AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1" 2>/dev/null || true)"
        [ -n "$pid" ] && { echo "$pid in-redeem"; return 0; }
        sleep 0.02
    done
    pid="$(q -d "$maint" -c "SELECT pid FROM pg_stat_activity
                               WHERE datname = '$db' AND backend_type = 'client backend'
                                 AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1" 2>/dev/null || true)"
    [ -n "$pid" ] && echo "$pid idle"
    return 0
}

# server_log: the server log of the cluster the test runs on (a cluster made
# by cluster.sh logs to ALLOT_CLUSTER_DIR/log); the test ends if there is none.
server_log() {
    local log="${ALLOT_CLUSTER_DIR:-}/log"
    [ -n "${ALLOT_CLUSTER_DIR:-}" ] && [ -r "$log" ] || die "needs ALLOT_CLUSTER_DIR with a readable server log ($log)"
    echo "$log"
}

rollup_worker_pid() {
    local maint="$1" db="$2" pid deadline=$((SECONDS + ${3:-0}))
    while :; do
        pid="$(q -d "$maint" -c "SELECT pid FROM pg_stat_activity
                                   WHERE backend_type = 'pg_allot rollup' AND datname = '$db' LIMIT 1" 2>/dev/null || true)"
        [ -n "$pid" ] && { echo "$pid"; return 0; }
        [ "$SECONDS" -lt "$deadline" ] || return 0
        sleep 0.1
    done
}

kill_postmaster_and_restart() {
    local dir="$1" maint="$2" pm
    pm="$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
    [ -n "$pm" ] || { note "no postmaster.pid in $dir/data"; return 1; }
    kill -9 "$pm" || return 1
    # The new postmaster refuses to start while the old pid still exists,
    # even as a zombie (its lock file names it); cluster.sh restart retries,
    # but waiting here is quieter.
    local i err
    for i in $(seq 1 100); do [ -e "/proc/$pm" ] || break; sleep 0.1; done
    err="$(mktemp)"
    if ! bash "$ALLOT_HARNESS_DIR/cluster.sh" restart "$dir" >/dev/null 2>"$err"; then
        cat "$err" >&2
        rm -f "$err"
        return 1
    fi
    rm -f "$err"
    wait_server_up "$maint" 60
}

proc_mem_kb() {
    awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ { v[$1] = $2 }
         END { if ("VmRSS:" in v) print v["VmRSS:"], v["RssAnon:"], v["RssFile:"], v["RssShmem:"] }' \
        "/proc/$1/status" 2>/dev/null || true
}

wait_logged_kill() {
    local log="$1" off="$2" pid="$3" deadline=$((SECONDS + ${4:-5}))
    while :; do
        tail -c +"$((off + 1))" "$log" 2>/dev/null | grep -q "(PID $pid) was terminated by signal 9" && return 0
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}
