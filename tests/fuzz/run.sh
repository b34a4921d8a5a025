#!/usr/bin/env bash
# Builds the libFuzzer harnesses of the pure core (tests/fuzz/fuzz_*.cpp,
# with ASan + UBSan) and runs each one for a bounded time, one at a time.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]     (default: 60 s, every target)
#   tests/fuzz/run.sh 300 key batch_json
#
# Each run starts from a scratch copy of tests/fuzz/corpus/<target>/ (new
# corpus files never land in the repository) and uses
# tests/fuzz/<target>.dict when there is one. Prints one line per target,
#
#   fuzz key: ok (1234567 runs, 20 s, cov 412, ft 1873, corpus 310)
#   fuzz key: FAILED (property violated; reproducer: /tmp/.../crash-...; log: ...)
#
# (a failed target's log excerpt follows its line, indented), then, last:
#
#   fuzz: N passed, N failed
#
# Exit status 0 iff every target built and ran without a crash, leak,
# timeout, sanitizer report or violated property. A harness that does not
# build counts as failed.
#
# Reproduce a failure:  <build dir>/fuzz_<target> <reproducer file>
#
# Environment:
#   CXX                      compiler (default clang++; needs libclang_rt.fuzzer,
#                            Debian package libclang-rt-14-dev)
#   ALLOT_FUZZ_BUILD         build directory (default: a per-user, per-checkout
#                            directory under ${TMPDIR:-/tmp}; reused between runs)
#   ALLOT_FUZZ_OUT           logs, scratch corpora and reproducers (default: a new
#                            directory under ${TMPDIR:-/tmp}, removed when all passed)
#   ALLOT_FUZZ_KEEP_CORPUS=1 keep each target's grown corpus in ALLOT_FUZZ_OUT
#   ALLOT_FUZZ_JOBS          parallel compile jobs (default 2); fuzzing itself
#                            always runs one target at a time
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CORE="$REPO/extension/core"

SECONDS_PER_TARGET="${1:-60}"
shift $(($# > 0 ? 1 : 0))
if ! [[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET [TARGET...]]   (seconds: a positive integer)" >&2
    exit 2
fi

TARGETS=()
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    for f in "$HERE"/fuzz_*.cpp; do
        [ -e "$f" ] || continue
        n="$(basename "$f" .cpp)"
        TARGETS+=("${n#fuzz_}")
    done
fi
if [ ${#TARGETS[@]} -eq 0 ]; then
    echo "no harnesses (tests/fuzz/fuzz_*.cpp) found"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi

CXX="${CXX:-clang++}"
JOBS="${ALLOT_FUZZ_JOBS:-2}"
checkout_id="$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)"
BUILD="${ALLOT_FUZZ_BUILD:-${TMPDIR:-/tmp}/pg_allot_fuzz_build-$(id -u)-$checkout_id}"
OUT="${ALLOT_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/pg_allot_fuzz.XXXXXX")}"
mkdir -p "$BUILD" "$OUT" || exit 1
OUT="$(cd "$OUT" && pwd)"

# -fno-sanitize-recover: a UBSan finding aborts, so libFuzzer keeps the input.
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all)
COMMON=(-std=c++17 -Wall -Wextra -g -O1 -fno-omit-frame-pointer "${SAN[@]}")
CORE_FLAGS=("${COMMON[@]}" -fsanitize=fuzzer-no-link)
HARNESS_FLAGS=("${COMMON[@]}" -Werror -fsanitize=fuzzer -I"$CORE" -I"$HERE")

# --------------------------------------------------------------- build ----
# Rebuilds what is older than its sources or any core / harness header, and
# everything when the compiler or the flags changed.
stamp="$BUILD/flags.stamp"
want_stamp="$("$CXX" --version 2>&1 | head -n 1) | ${CORE_FLAGS[*]} | ${HARNESS_FLAGS[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_stamp" ]; then
    rm -f "$BUILD"/*.o "$BUILD"/fuzz_*
fi
printf '%s\n' "$want_stamp" >"$stamp"

newest_header=""
for h in "$CORE"/*.hpp "$HERE"/*.hpp; do
    [ -e "$h" ] || continue
    if [ -z "$newest_header" ] || [ "$h" -nt "$newest_header" ]; then newest_header="$h"; fi
done

stale() { # stale OUTPUT INPUT... : true when OUTPUT is missing or older than an input
    local out="$1" f
    shift
    [ -e "$out" ] || return 0
    for f in "$@"; do
        [ -n "$f" ] && [ "$f" -nt "$out" ] && return 0
    done
    return 1
}

BUILD_LOG="$OUT/build.log"
: >"$BUILD_LOG"
core_ok=1
core_objs=()
for src in "$CORE"/*.cpp; do
    obj="$BUILD/$(basename "$src" .cpp).o"
    core_objs+=("$obj")
    stale "$obj" "$src" "$newest_header" || { : >"$obj.log"; continue; }
    rm -f "$obj"
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    "$CXX" "${CORE_FLAGS[@]}" -c "$src" -o "$obj.tmp" >"$obj.log" 2>&1 && mv "$obj.tmp" "$obj" &
done
wait
for obj in "${core_objs[@]}"; do
    if [ -s "$obj.log" ]; then
        echo "== $(basename "$obj" .o).cpp" >>"$BUILD_LOG"
        cat "$obj.log" >>"$BUILD_LOG"
    fi
    [ -e "$obj" ] || core_ok=0
done

# build_target NAME: (re)links $BUILD/fuzz_NAME when stale; its compiler
# output goes to $BUILD/fuzz_NAME.log.
build_target() {
    local name="$1" src="$HERE/fuzz_$1.cpp" bin="$BUILD/fuzz_$1"
    : >"$bin.log"
    [ -f "$src" ] || { echo "no such harness: $src" >"$bin.log"; return 1; }
    [ "$core_ok" = 1 ] || { echo "extension/core did not build" >"$bin.log"; return 1; }
    stale "$bin" "$src" "$newest_header" "${core_objs[@]}" || return 0
    rm -f "$bin"
    "$CXX" "${HARNESS_FLAGS[@]}" "$src" "${core_objs[@]}" -o "$bin.tmp" >"$bin.log" 2>&1 &&
        mv "$bin.tmp" "$bin"
}

for name in "${TARGETS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    build_target "$name" &
done
wait
declare -A BUILT
for name in "${TARGETS[@]}"; do
    bin="$BUILD/fuzz_$name"
    if [ -s "$bin.log" ]; then
        echo "== fuzz_$name.cpp" >>"$BUILD_LOG"
        cat "$bin.log" >>"$BUILD_LOG"
    fi
    if [ -x "$bin" ] && ! stale "$bin" "$HERE/fuzz_$name.cpp" "$newest_header" "${core_objs[@]}"; then
        BUILT[$name]=1
    else
        BUILT[$name]=0
    fi
done

# ----------------------------------------------------------------- run ----
# Why a libFuzzer log ended in failure, in a few words.
failure_reason() {
    local log="$1" rc="$2"
    if grep -q 'PROPERTY VIOLATED' "$log"; then echo "property violated"
    elif grep -q 'runtime error:' "$log"; then echo "undefined behaviour (UBSan)"
    elif grep -q 'ERROR: LeakSanitizer' "$log"; then echo "memory leak (LeakSanitizer)"
    elif grep -q 'ERROR: AddressSanitizer' "$log"; then
        echo "$(grep -m1 -o 'AddressSanitizer: [a-z-]*' "$log") (ASan)"
    elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then echo "an input took too long (-timeout)"
    elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then echo "out of memory (-rss_limit_mb)"
    elif grep -q 'uncaught exception\|terminate called' "$log"; then echo "uncaught exception"
    elif grep -q 'ERROR: libFuzzer: deadly signal' "$log"; then echo "crash (deadly signal)"
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "did not stop in time (killed)"
    else echo "exit status $rc"
    fi
}

passed=0
failed=0
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1"
for name in "${TARGETS[@]}"; do
    log="$OUT/fuzz-$name.log"
    if [ "${BUILT[$name]}" != 1 ]; then
        echo "fuzz $name: FAILED (build failed; log: $BUILD_LOG)"
        if [ "$core_ok" != 1 ]; then
            echo "extension/core did not build with $CXX:"
            grep -E 'error|warning' "$BUILD_LOG" | head -n 15
        else
            head -n 15 "$BUILD/fuzz_$name.log"
        fi | sed 's/^/    /'
        failed=$((failed + 1))
        continue
    fi
    corpus="$OUT/corpus-$name"
    artifacts="$OUT/artifacts-$name"
    rm -rf "$corpus"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$HERE/corpus/$name" ]; then
        cp -R "$HERE/corpus/$name/." "$corpus/"
    fi
    args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts/")
    [ -f "$HERE/$name.dict" ] && args+=(-dict="$HERE/$name.dict")
    t0=$SECONDS
    timeout --kill-after=10 "$((SECONDS_PER_TARGET + 120))" \
        "$BUILD/fuzz_$name" "${args[@]}" "$corpus" >"$log" 2>&1
    rc=$?
    elapsed=$((SECONDS - t0))
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    [ -n "$runs" ] || runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)"
    cov_line="$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -n 1)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$cov_line")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$cov_line")"
    corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$cov_line")"
    if [ "$rc" = 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
        echo "fuzz $name: ok (${runs:-?} runs, $elapsed s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?})"
        passed=$((passed + 1))
    else
        reason="$(failure_reason "$log" "$rc")"
        repro="$(find "$artifacts" -type f | head -n 1)"
        echo "fuzz $name: FAILED ($reason${repro:+; reproducer: $repro}; log: $log)"
        grep -m1 -A 14 -E 'PROPERTY VIOLATED|runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|terminate called' \
            "$log" | sed 's/^/    /'
        [ -n "$repro" ] && echo "    reproduce: $BUILD/fuzz_$name $repro"
        failed=$((failed + 1))
    fi
    [ "${ALLOT_FUZZ_KEEP_CORPUS:-0}" = 1 ] || rm -rf "$corpus"
done

# A directory of our own with nothing to look at is not left behind.
if [ "$failed" -eq 0 ] && [ -z "${ALLOT_FUZZ_OUT:-}" ] && [ "${ALLOT_FUZZ_KEEP_CORPUS:-0}" != 1 ]; then
    rm -rf -- "$OUT"
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
