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
