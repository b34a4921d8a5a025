#!/usr/bin/env bash
# Run every pg_allot test suite; `make check` calls this, and so does CI.
#
#   tests/harness/run_all.sh
#
# Assumes the build dependencies are installed (.ci/run installs them on a
# fresh Debian 12). Steps, each under a "==== ... ====" header:
#   1. build      make && make install                  (the extension)
#   2. unit       make unit                             (cmake + ctest)
#   2b. fuzz      tests/fuzz/run.sh $ALLOT_FUZZ_SECONDS  (libFuzzer + ASan/UBSan on the
#                 core's parsers: keys, request/UUID, redeem_many JSON, limit windows;
#                 needs clang and libclang-rt-14-dev; no server)
#   3. a throwaway cluster with shared_preload_libraries = 'pg_allot'
#   4. regress    make installcheck                     (pg_regress + pg_isolation_regress)
#   5. pgtap      pg_prove tests/pgtap/*.sql            (if any exist)
#   5b. client    make client-test (ctest -L client: the C++ client's tests)
#                 and tests/client/run_consumer_test.sh (find_package(allot))
#   6. concurrency  every executable tests/concurrency/*.sh, on that cluster
#   7. regress, pgtap and concurrency again on a cluster without the preload
#      (slow path only; the contract says both must be correct)
# and prints, as its very last line, alone on it:
#
#   N passed, N failed
#
# How individual tests are counted (see parse.sh for the exact parsing):
#   build        not a test; a failed build counts 1 failed, and every suite
#                that needs the extension then counts 1 failed ("not run")
#   unit         ctest's own count ("... tests failed out of N")
#   fuzz         one per fuzz target (tests/fuzz/fuzz_*.cpp): passed when it
#                built and ran its time without a crash, leak, sanitizer report
#                or violated property (reproducers go to $LOGDIR/fuzz/)
#   regress      one per pg_regress test and per isolation spec, from the
#                per-test "ok"/"FAILED" lines and the summaries
#   pgtap        one per pgTAP assertion (ok(), is(), ...), not per file;
#                assertions planned but never run count as failed
#   concurrency  one per script per cluster (exit 0 = pass)
#   client       ctest's own count, plus 1 for the consumer script (exit 0 = pass);
#                on the preload cluster only
# A suite that cannot run, or exits non-zero without a parsed failure,
# counts at least 1 failed: a broken suite is never "0 tests, all fine".
# Exit status: 0 iff nothing failed.
#
# Environment knobs:
#   ALLOT_CHECK_LOGDIR        where suite logs go (default: a new /tmp dir)
#   ALLOT_CHECK_NO_PRELOAD=0  skip step 7
#   ALLOT_CHECK_SKIP_UNIT=1   skip step 2 (e.g. while iterating on SQL)
#   ALLOT_CHECK_SKIP_FUZZ=1   skip step 2b
#   ALLOT_FUZZ_SECONDS        seconds per fuzz target (default 20; `make fuzz` runs longer)
#   ALLOT_KEEP_CLUSTER=1      leave the clusters' directories behind
#   ALLOT_CONCURRENCY_TIMEOUT seconds per concurrency script (default 900)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
. "$HERE/parse.sh"
REPO="$ALLOT_REPO"
CLUSTER_SH=(bash "$HERE/cluster.sh")
MAKE=(make --no-print-directory -C "$REPO")

LOGDIR="${ALLOT_CHECK_LOGDIR:-$(mktemp -d "${TMPDIR:-/tmp}/pg_allot_check_logs.XXXXXX")}"
mkdir -p "$LOGDIR"

TOTAL_P=0
TOTAL_F=0
SUMMARY=()
CLUSTERS=()
START_TS=$SECONDS

header() {
    echo
    echo "==== $* ===="
}

# show_ctest_output LOG RC WHAT: what the console shows of a make target
# that ran ctest (its full output stays in LOG). All passed: ctest's summary.
# Some failed: ctest's output without the lines of passing tests. ctest never
# ran (a build error): the end of the log.
show_ctest_output() {
    local log="$1" rc="$2" what="$3"
    if [ "$rc" = 0 ]; then
        grep -E 'tests? passed, .* failed out of|Total Test time|No tests were found' "$log" || true
        echo "(full output: $log)"
    elif grep -q '^Test project' "$log"; then
        sed -n '/^Test project/,$p' "$log" \
            | grep -vE '^ +Start +[0-9]+: |Test +#[0-9]+: .* Passed ' || true
        echo "($what exited with status $rc; full output: $log)"
    else
        echo "$what exited with status $rc before ctest ran; last 120 lines of $log:"
        tail -n 120 "$log"
    fi
}

# record SUITE PASSED FAILED [NOTE]
record() {
    local suite="$1" p="$2" f="$3" note="${4:-}"
    TOTAL_P=$((TOTAL_P + p))
    TOTAL_F=$((TOTAL_F + f))
    local line
    line="$(printf '%-48s %5d passed, %3d failed' "$suite" "$p" "$f")"
    [ -n "$note" ] && line="$line  ($note)"
    [ "$f" -gt 0 ] && line="$line  <-- FAILED"
    SUMMARY+=("$line")
    echo "---- $suite: $p passed, $f failed${note:+ ($note)}"
}

stop_clusters() {
    local d
    for d in ${CLUSTERS[@]+"${CLUSTERS[@]}"}; do
        "${CLUSTER_SH[@]}" stop "$d" >/dev/null 2>&1
        if [ "${ALLOT_KEEP_CLUSTER:-0}" != 1 ]; then
            rm -rf -- "$d"
        fi
    done
    CLUSTERS=()
}

on_exit() {
    stop_clusters
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# start_cluster VAR [--preload] : starts a cluster, sets VAR to its dir and
# exports PGHOST/PGPORT/PGUSER. Returns non-zero if it could not start.
start_cluster() {
    local var="$1"
    shift
    local try dir port exports
    for try in 1 2 3; do
        dir="$(mktemp -d "${TMPDIR:-/tmp}/pg_allot_check.XXXXXX")"
        CLUSTERS+=("$dir")
        port=$((55432 + RANDOM % 5000))
        if exports="$("${CLUSTER_SH[@]}" start "$dir" "$port" "$@" 2>"$LOGDIR/cluster-start.log")"; then
            eval "$exports"
            printf -v "$var" '%s' "$dir"
            echo "cluster: $dir port $port $*"
            return 0
        fi
        echo "cluster start failed (try $try):"
        cat "$LOGDIR/cluster-start.log"
    done
    return 1
}

# Make sure the server is up before a suite (a crash test may have taken
# it down); restart it if not.
ensure_running() {
    local dir="$1"
    if ! "${CLUSTER_SH[@]}" status "$dir"; then
        echo "(server in $dir is not running; restarting it)"
        "${CLUSTER_SH[@]}" restart "$dir" >/dev/null || return 1
    fi
}

show_diffs_since() { # marker file
    local f
    while IFS= read -r f; do
        echo
        echo "---- $f ----"
        head -n 1500 "$f"
        [ "$(wc -l <"$f")" -gt 1500 ] && echo "... (truncated; full file: $f)"
    done < <(find "$REPO" -name regression.diffs -newer "$1" -not -path '*/.git/*' 2>/dev/null | sort)
}

# log_offset DIR : current size of the server log (to show only what a
# suite added to it)
log_offset() {
    stat -c %s "$1/log" 2>/dev/null || echo 0
}

# server_log_since DIR OFFSET : the server log written since OFFSET (its
# last 80 lines), e.g. to show a crash or an ERROR behind a failed suite
server_log_since() {
    local dir="$1" off="$2"
    [ -f "$dir/log" ] || return 0
    local size
    size="$(log_offset "$dir")"
    [ "$size" -gt "$off" ] || return 0
    echo
    echo "---- server log written during this suite (last 80 lines; full log: $dir/log) ----"
    tail -c +"$((off + 1))" "$dir/log" | tail -n 80
}

# ---------------------------------------------------------------- build ----
header "build: make && make install"
t0=$SECONDS
BUILD_OK=0
install_cmd=("${MAKE[@]}" install)
if [ "$(id -u)" != 0 ] && [ ! -w "$("$PG_CONFIG" --pkglibdir)" ] && command -v sudo >/dev/null; then
    install_cmd=(sudo -n "${MAKE[@]}" install)
fi
if "${MAKE[@]}" >"$LOGDIR/build.log" 2>&1 && "${install_cmd[@]}" >>"$LOGDIR/build.log" 2>&1; then
    BUILD_OK=1
    echo "built and installed ($((SECONDS - t0)) s; log: $LOGDIR/build.log)"
else
    echo "BUILD FAILED; last 150 lines of $LOGDIR/build.log:"
    tail -n 150 "$LOGDIR/build.log"
    record "build" 0 1 "make or make install failed"
fi

# ----------------------------------------------------------------- unit ----
if [ "${ALLOT_CHECK_SKIP_UNIT:-0}" = 1 ]; then
    header "unit: skipped (ALLOT_CHECK_SKIP_UNIT=1)"
else
    header "unit: make unit"
    t0=$SECONDS
    "${MAKE[@]}" unit >"$LOGDIR/unit.log" 2>&1
    rc=$?
    show_ctest_output "$LOGDIR/unit.log" "$rc" "make unit"
    read -r p f note < <(parse_ctest "$LOGDIR/unit.log" "$rc")
    echo "($((SECONDS - t0)) s)"
    record "unit (ctest)" "$p" "$f" "$note"
fi

# ----------------------------------------------------------------- fuzz ----
if [ "${ALLOT_CHECK_SKIP_FUZZ:-0}" = 1 ]; then
    header "fuzz: skipped (ALLOT_CHECK_SKIP_FUZZ=1)"
else
    fuzz_seconds="${ALLOT_FUZZ_SECONDS:-20}"
    header "fuzz: tests/fuzz/run.sh $fuzz_seconds (libFuzzer, $fuzz_seconds s per target)"
    t0=$SECONDS
    ALLOT_FUZZ_OUT="$LOGDIR/fuzz" bash "$REPO/tests/fuzz/run.sh" "$fuzz_seconds" 2>&1 \
        | tee "$LOGDIR/fuzz.log"
    rc=${PIPESTATUS[0]}
    read -r p f note < <(parse_fuzz "$LOGDIR/fuzz.log" "$rc")
    echo "($((SECONDS - t0)) s; full output: $LOGDIR/fuzz.log)"
    record "fuzz (libFuzzer targets)" "$p" "$f" "$note"
fi

# ------------------------------------------------------- cluster suites ----
CONC_SCRIPTS=()
while IFS= read -r s; do
    if [ -x "$s" ]; then
        CONC_SCRIPTS+=("$s")
    else
        echo "WARNING: ${s#"$REPO"/} is not executable; not run (chmod +x it to include it)"
    fi
done < <(find "$REPO/tests/concurrency" -maxdepth 1 -name '*.sh' -type f 2>/dev/null | sort)
PGTAP_FILES=()
while IFS= read -r s; do
    PGTAP_FILES+=("$s")
done < <(find "$REPO/tests/pgtap" -maxdepth 1 -name '*.sql' -type f 2>/dev/null | sort)

# fail_not_run REASON : count every cluster suite as failed
fail_not_run() {
    local reason="$1" s
    record "regress (make installcheck) [preload]" 0 1 "not run: $reason"
    [ ${#PGTAP_FILES[@]} -eq 0 ] || record "pgtap (assertions) [preload]" 0 1 "not run: $reason"
    record "client (ctest -L client)" 0 1 "not run: $reason"
    record "client/run_consumer_test.sh" 0 1 "not run: $reason"
    for s in ${CONC_SCRIPTS[@]+"${CONC_SCRIPTS[@]}"}; do
        record "concurrency/$(basename "$s") [preload]" 0 1 "not run: $reason"
    done
}

# the no-preload pass, when it cannot run
fail_not_run_no_preload() {
    local reason="$1" s
    [ "${ALLOT_CHECK_NO_PRELOAD:-1}" != 0 ] || return 0
    record "regress (make installcheck) [no-preload]" 0 1 "not run: $reason"
    [ ${#PGTAP_FILES[@]} -eq 0 ] || record "pgtap (assertions) [no-preload]" 0 1 "not run: $reason"
    for s in ${CONC_SCRIPTS[@]+"${CONC_SCRIPTS[@]}"}; do
        record "concurrency/$(basename "$s") [no-preload]" 0 1 "not run: $reason"
    done
}

# run_concurrency DIR LABEL PRELOAD
run_concurrency() {
    local dir="$1" label="$2" preload="$3" s name rc off
    for s in ${CONC_SCRIPTS[@]+"${CONC_SCRIPTS[@]}"}; do
        name="concurrency/$(basename "$s") [$label]"
        header "$name"
        if ! ensure_running "$dir"; then
            record "$name" 0 1 "server could not be restarted"
            continue
        fi
        t0=$SECONDS
        off="$(log_offset "$dir")"
        (
            cd "$REPO" || exit 1
            export PGDATABASE=postgres ALLOT_CLUSTER_DIR="$dir" ALLOT_PRELOAD="$preload"
            exec timeout --kill-after=30 "${ALLOT_CONCURRENCY_TIMEOUT:-900}" "$s"
        ) 2>&1 | tee "$LOGDIR/$(basename "$s" .sh)-$label.log"
        rc=${PIPESTATUS[0]}
        echo "($((SECONDS - t0)) s, exit status $rc)"
        if [ "$rc" = 0 ]; then
            record "$name" 1 0
        else
            [ "$rc" = 124 ] && echo "(timed out)"
            server_log_since "$dir" "$off"
            record "$name" 0 1 "exit status $rc"
        fi
    done
}

# make installcheck (pg_regress + isolation) against cluster $1; $2 labels it.
run_regress() {
    local cl="$1" label="$2" t0 off marker rc p f note
    header "regress [$label]: make installcheck (pg_regress + pg_isolation_regress)"
    t0=$SECONDS
    off="$(log_offset "$cl")"
    marker="$LOGDIR/.installcheck-start"
    touch "$marker"
    sleep 1 # so -newer sees diffs written within this second
    "${MAKE[@]}" installcheck 2>&1 | tee "$LOGDIR/installcheck-$label.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" != 0 ] && show_diffs_since "$marker"
    # PGXS runs pg_isolation_regress only if pg_regress passed. When the
    # regress part failed, run the isolation part on its own (REGRESS=
    # empties the regress list) so its tests are counted too.
    if [ "$rc" != 0 ] && ! grep -q 'isolation_regression' "$LOGDIR/installcheck-$label.log"; then
        echo
        echo "(regress part failed; running the isolation part on its own: make installcheck REGRESS=)"
        touch "$marker"
        sleep 1
        "${MAKE[@]}" installcheck REGRESS= 2>&1 | tee -a "$LOGDIR/installcheck-$label.log"
        [ "${PIPESTATUS[0]}" != 0 ] && show_diffs_since "$marker"
    fi
    read -r p f note < <(parse_regress "$LOGDIR/installcheck-$label.log" "$rc")
    [ "$f" != 0 ] && server_log_since "$cl" "$off"
    echo "($((SECONDS - t0)) s)"
    record "regress (make installcheck) [$label]" "$p" "$f" "$note"
}

# pg_prove on every tests/pgtap/*.sql against cluster $1; $2 labels it.
run_pgtap() {
    local cl="$1" label="$2" t0 off rc p f note
    if [ ${#PGTAP_FILES[@]} -eq 0 ]; then
        header "pgtap [$label]: no tests/pgtap/*.sql; skipped"
    else
        header "pgtap [$label]: pg_prove tests/pgtap/*.sql (${#PGTAP_FILES[@]} files)"
        t0=$SECONDS
        ensure_running "$cl"
        off="$(log_offset "$cl")"
        q -d postgres -c 'DROP DATABASE IF EXISTS allot_pgtap' -c 'CREATE DATABASE allot_pgtap' \
            >"$LOGDIR/pgtap-$label.log" 2>&1
        (cd "$REPO" && pg_prove --nocolor -b "$PG_BINDIR/psql" -d allot_pgtap \
            "${PGTAP_FILES[@]#"$REPO"/}") 2>&1 | tee -a "$LOGDIR/pgtap-$label.log"
        rc=${PIPESTATUS[0]}
        read -r p f note < <(parse_prove "$LOGDIR/pgtap-$label.log" "$rc")
        [ "$f" != 0 ] && server_log_since "$cl" "$off"
        echo "($((SECONDS - t0)) s)"
        record "pgtap (assertions) [$label]" "$p" "$f" "$note"
    fi
}

# The C++ client (client/, tests/client/) against cluster $1: its GoogleTest
# suite through `make client-test` (configures and builds build-unit, then
# ctest -L client; every test makes and drops its own database), then the
# install + find_package(allot) consumer script as one more test.
run_client() {
    local cl="$1" t0 off rc p f note log
    header "client (ctest -L client): make client-test"
    t0=$SECONDS
    ensure_running "$cl"
    off="$(log_offset "$cl")"
    log="$LOGDIR/client.log"
    "${MAKE[@]}" client-test >"$log" 2>&1
    rc=$?
    show_ctest_output "$log" "$rc" "make client-test"
    read -r p f note < <(parse_ctest "$log" "$rc")
    [ "$f" != 0 ] && server_log_since "$cl" "$off"
    echo "($((SECONDS - t0)) s)"
    record "client (ctest -L client)" "$p" "$f" "$note"

    header "client/run_consumer_test.sh (install + find_package(allot) + link)"
    t0=$SECONDS
    (cd "$REPO" && PGDATABASE=postgres bash tests/client/run_consumer_test.sh) 2>&1 \
        | tee "$LOGDIR/client-consumer.log"
    rc=${PIPESTATUS[0]}
    echo "($((SECONDS - t0)) s, exit status $rc)"
    if [ "$rc" = 0 ]; then
        record "client/run_consumer_test.sh" 1 0
    else
        record "client/run_consumer_test.sh" 0 1 "exit status $rc"
    fi
}

CL1=""
if [ "$BUILD_OK" != 1 ]; then
    fail_not_run "build failed"
    fail_not_run_no_preload "build failed"
else
    header "cluster: start (shared_preload_libraries = 'pg_allot')"
    if ! start_cluster CL1 --preload; then
        fail_not_run "cluster with the preload did not start"
    else
        run_regress "$CL1" preload
        run_pgtap "$CL1" preload
        run_client "$CL1"

        # ---------------------------------------------- concurrency ----
        run_concurrency "$CL1" preload 1
    fi
    stop_clusters

    # ------------------------- every SQL-level suite without preload ----
    # API.md: without shared_preload_libraries everything still works.
    if [ "${ALLOT_CHECK_NO_PRELOAD:-1}" != 0 ]; then
        header "cluster: start (no shared_preload_libraries: slow path only)"
        CL2=""
        if start_cluster CL2; then
            run_regress "$CL2" no-preload
            run_pgtap "$CL2" no-preload
            run_concurrency "$CL2" no-preload 0
        else
            fail_not_run_no_preload "cluster without the preload did not start"
        fi
        stop_clusters
    fi
fi

# -------------------------------------------------------------- summary ----
header "summary ($((SECONDS - START_TS)) s; logs in $LOGDIR)"
for line in ${SUMMARY[@]+"${SUMMARY[@]}"}; do
    echo "$line"
done
echo "$TOTAL_P passed, $TOTAL_F failed"
trap - EXIT
[ "$TOTAL_F" -eq 0 ]
