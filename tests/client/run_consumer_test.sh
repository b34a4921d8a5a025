#!/usr/bin/env bash
# Proves that an outside CMake project can find_package(allot) and link
# allot::client from an installed copy of the client library:
#   1. build client/ on its own and `cmake --install` it into a temp prefix
#   2. check the installed layout (headers, library, package config)
#   3. configure and build tests/client/consumer against that prefix only
#   4. run it; if a server is reachable (PGHOST/PGPORT/PGUSER) it redeems in
#      a fresh database with pg_allot, which is dropped afterwards
# Exit 0 on success.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/allot_consumer.XXXXXX")"
DB="allot_consumer_$$"
have_db=0
cleanup() {
    if [ "$have_db" = 1 ]; then
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf -- "$WORK"
}
trap cleanup EXIT
step() { echo "== $*"; }

step "build and install the client library into $WORK/prefix"
cmake -S "$REPO/client" -B "$WORK/lib-build" -DCMAKE_BUILD_TYPE=Release -DALLOT_SANITIZE=OFF \
    >"$WORK/lib-configure.log" 2>&1 || { cat "$WORK/lib-configure.log"; exit 1; }
cmake --build "$WORK/lib-build" -j2 >"$WORK/lib-build.log" 2>&1 || { cat "$WORK/lib-build.log"; exit 1; }
cmake --install "$WORK/lib-build" --prefix "$WORK/prefix"

step "installed layout"
missing=0
for f in include/allot/client.hpp include/allot/types.hpp include/allot/errors.hpp \
         lib/liballot_client.a lib/cmake/allot/allotConfig.cmake \
         lib/cmake/allot/allotConfigVersion.cmake lib/cmake/allot/allotTargets.cmake; do
    if [ -e "$WORK/prefix/$f" ]; then echo "ok   $f"; else echo "MISSING $f"; missing=1; fi
done
[ "$missing" = 0 ] || exit 1

step "build the consumer against the installed package only"
cmake -S "$REPO/tests/client/consumer" -B "$WORK/consumer-build" \
    -DCMAKE_PREFIX_PATH="$WORK/prefix" -DCMAKE_BUILD_TYPE=Release \
    >"$WORK/consumer-configure.log" 2>&1 || { cat "$WORK/consumer-configure.log"; exit 1; }
cmake --build "$WORK/consumer-build" >"$WORK/consumer-build.log" 2>&1 \
    || { cat "$WORK/consumer-build.log"; exit 1; }

step "run it"
"$WORK/consumer-build/allot_consumer"
if psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB TEMPLATE template0" >/dev/null
    have_db=1
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c 'CREATE EXTENSION pg_allot' >/dev/null
    "$WORK/consumer-build/allot_consumer" "dbname=$DB"
else
    echo "(no server reachable: skipped the part that redeems)"
fi
echo "consumer test passed"
