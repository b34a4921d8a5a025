#!/usr/bin/env bash
# The launcher of the rollup workers and databases that go away.
#
#   1. DROP DATABASE of a database with pg_allot and a running rollup
#      worker: the worker gives way, and the launcher does not start a new
#      one for the database being dropped (that one would fail: "FATAL:
#      database NNN does not exist" in the server log).
#   2. A database left invalid by an interrupted DROP DATABASE (simulated:
#      pg_database.datconnlimit = -2, then its worker stopped): the
#      launcher does not start workers that cannot connect to it ("FATAL:
#      cannot connect to invalid database", once a second).
#
# Without the preload there is no launcher; the script then only checks that
# both drops work.
#
# Env: PGHOST/PGPORT/PGUSER and ALLOT_CLUSTER_DIR (a cluster made by
# tests/harness/cluster.sh: its log is ALLOT_CLUSTER_DIR/log). Exit 0 = pass.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../harness/lib.sh"
ensure_cluster

MAINT="${PGDATABASE:-postgres}"
LOG="$(server_log)"
preload="$(server_preloaded "$MAINT")"
echo "drop_database: server ${PGHOST}:${PGPORT}, preload=$preload"

make_db() {  # a database with pg_allot, a limit and a grant
    q -d "$MAINT" -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    q -d "$1" -c 'CREATE EXTENSION pg_allot' >/dev/null
    q -d "$1" -c "SELECT allot.set_limit('voucher:*', 10)" >/dev/null
    q -d "$1" -c "SELECT granted FROM allot.redeem(gen_random_uuid(), ARRAY['voucher:V1'])" >/dev/null
}
log_size() { stat -c %s "$LOG"; }
fatal_lines_since() {  # OFFSET PATTERN: server log lines after OFFSET matching PATTERN
    tail -c +"$(($1 + 1))" "$LOG" | grep -cE "$2" || true
}

# 1. DROP DATABASE while its worker runs.
DB1=allot_drop_me
make_db "$DB1"
if [ "$preload" = 1 ]; then
    check "rollup worker of $DB1 before the drop" "$( [ -n "$(rollup_worker_pid "$MAINT" "$DB1" 10)" ] && echo 1 || echo 0)" 1
fi
oid1="$(q -d "$MAINT" -c "SELECT oid FROM pg_database WHERE datname = '$DB1'")"
off="$(log_size)"
q -d "$MAINT" -c "DROP DATABASE $DB1"
sleep 3  # the launcher looks every second, and at once when a worker exits
check "database $DB1 is gone" "$(q -d "$MAINT" -c "SELECT count(*) FROM pg_database WHERE datname = '$DB1'")" 0
check "log: workers failing to connect to the dropped database" \
    "$(fatal_lines_since "$off" "FATAL: +database $oid1 does not exist")" 0

# 2. A database left invalid, its worker stopped.
DB2=allot_left_invalid
make_db "$DB2"
pid=""
[ "$preload" = 1 ] && pid="$(rollup_worker_pid "$MAINT" "$DB2" 10)"
[ "$preload" = 1 ] && check "rollup worker of $DB2 before it is made invalid" "$( [ -n "$pid" ] && echo 1 || echo 0)" 1
off="$(log_size)"
q -d "$MAINT" -c "UPDATE pg_database SET datconnlimit = -2 WHERE datname = '$DB2'" >/dev/null
[ -n "$pid" ] && q -d "$MAINT" -c "SELECT pg_terminate_backend($pid)" >/dev/null
sleep 3
check "log: workers failing to connect to the invalid database" \
    "$(fatal_lines_since "$off" "FATAL: +cannot connect to invalid database")" 0
check "rollup workers of $DB2 while it is invalid" \
    "$(q -d "$MAINT" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_allot rollup' AND datname = '$DB2'")" 0
q -d "$MAINT" -c "DROP DATABASE $DB2"
check "invalid database $DB2 dropped" "$(q -d "$MAINT" -c "SELECT count(*) FROM pg_database WHERE datname = '$DB2'")" 0

if [ "$CHECK_FAILS" -ne 0 ]; then
    echo "FAIL: drop_database ($CHECK_FAILS checks failed)"
    exit 1
fi
echo "PASS: drop_database"
