# shellcheck shell=bash
# Parsers that turn a suite's output into counts of individual tests.
# Source it. Each function takes the captured output file and the exit
# status of the command that produced it, and prints one line:
#
#     PASSED FAILED [note]
#
# Rules shared by all of them (so a broken suite is never "0 tests, fine"):
#   - a suite that printed no recognisable result counts as 1 failed;
#   - a suite that exited non-zero but whose parsed failures are 0 gets
#     1 failed added (it broke in a way the per-test lines do not show).

# ---- pg_regress / pg_isolation_regress ------------------------------------
# Counts one test per regression test (a .sql file or an isolation .spec).
# Reads both kinds of evidence pg_regress prints and merges them:
#   per-test lines   PG <= 15: "test foo   ... ok   12 ms"
#                              "     foo   ... FAILED   12 ms"   (parallel group)
#                              "test foo   ... failed (ignored)"
#                    PG >= 16: "ok 1   - foo   12 ms" / "not ok 2 - foo"
#   summary lines    " All 12 tests passed. "
#                    " 2 of 12 tests failed. "
#                    " 10 of 12 tests passed, 2 failed test(s) ignored. "
#                    " 2 of 12 tests failed, 1 of these failures ignored. "
# One `make installcheck` may run pg_regress and then pg_isolation_regress,
# so there may be several summaries; they are summed. Per-test lines and
# summaries are merged by taking the larger count of each kind, so a run
# that died before its summary still counts its finished tests, and a
# format the line parser misses is still counted by the summary. Failures
# marked "ignored" by the schedule count as passed (as pg_regress does).
# A run that exits non-zero without printing any summary counts 1 more
# failure (the tests it never reached).
parse_regress() {
    local file="$1" rc="${2:-0}"
    awk -v rc="$rc" '
        # PG <= 15 per-test lines
        /^(test +| +)[^ ]+ +\.\.\. +ok( |$)/            { lp++; next }
        /^(test +| +)[^ ]+ +\.\.\. +failed \(ignored\)/  { lp++; ign++; next }
        /^(test +| +)[^ ]+ +\.\.\. +FAILED/              { lf++; next }
        # PG >= 16 TAP lines
        /^ok [0-9]+ +[-+] /                              { lp++; next }
        /^not ok [0-9]+ +[-+] .*# *\(?ignored/           { lp++; ign++; next }
        /^not ok [0-9]+ +[-+] /                          { lf++; next }
        # summaries (optionally prefixed by "# " in PG >= 16)
        match($0, /All [0-9]+ tests passed\./) {
            split(substr($0, RSTART, RLENGTH), a, " "); sp += a[2]; nsum++; next
        }
        match($0, /[0-9]+ of [0-9]+ tests passed, [0-9]+ failed test\(s\) ignored\./) {
            split(substr($0, RSTART, RLENGTH), a, " ");
            sp += a[3]; nsum++; next          # a[1] passed + a[5] ignored = a[3]
        }
        match($0, /[0-9]+ of [0-9]+ tests failed, [0-9]+ of these failures ignored\./) {
            split(substr($0, RSTART, RLENGTH), a, " ");
            sf += a[1] - a[6]; sp += a[3] - a[1] + a[6]; nsum++; next
        }
        match($0, /[0-9]+ of [0-9]+ tests failed\./) {
            split(substr($0, RSTART, RLENGTH), a, " ");
            sf += a[1]; sp += a[3] - a[1]; nsum++; next
        }
        END {
            p = (lp > sp) ? lp : sp
            f = (lf > sf) ? lf : sf
            note = ""
            if (nsum > 0 && (lp != sp || lf != sf))
                note = note sprintf("per-test lines say %d/%d, summaries say %d/%d (passed/failed); ", lp, lf, sp, sf)
            if (p + f == 0) { f = 1; note = note "no test results found; " }
            else if (rc != 0 && f == 0) { f = 1; note = note "exited with status " rc " but no test failed; " }
            else if (rc != 0 && nsum == 0) { f++; note = note "run ended before its summary; " }
            if (ign > 0) note = note ign " failure(s) ignored by the schedule; "
            sub(/; $/, "", note)
            print p + 0, f + 0, note
        }
    ' "$file"
}

# ---- ctest ------------------------------------------------------------------
# Counts ctest's tests (one per registered test; with gtest_discover_tests
# that is one per TEST()). Uses ctest's summary line(s):
#   "100% tests passed, 0 tests failed out of 57"
parse_ctest() {
    local file="$1" rc="${2:-0}"
    awk -v rc="$rc" '
        match($0, /[0-9]+% tests? passed, [0-9]+ tests? failed out of [0-9]+/) {
            n = split(substr($0, RSTART, RLENGTH), a, " ");
            f += a[4]; p += a[n] - a[4]; nsum++; next
        }
        /No tests were found/ { none++ }
        END {
            note = ""
            if (nsum == 0) {
                f += 1
                note = (none ? "ctest found no tests" : "no ctest summary (build or configure failed?)")
            } else if (rc != 0 && f == 0) {
                f = 1; note = "exited with status " rc " but no test failed"
            }
            print p + 0, f + 0, note
        }
    ' "$file"
}

# ---- pg_prove (pgTAP) -------------------------------------------------------
# Counts pgTAP assertions (each ok()/is()/... is one test), not files:
#   passed = "Tests=N" from the final line minus the failed assertions;
#   failed = failed assertions + assertions planned but never run (a file
#            that died: "Bad plan. You planned 10 tests but ran 3.") and at
#            least 1 for every file listed in the Test Summary Report (e.g.
#            "No plan found", or a non-zero exit with no failed assertion).
parse_prove() {
    local file="$1" rc="${2:-0}"
    awk -v rc="$rc" '
        function close_entry() {
            if (in_entry) {
                ff = efail + eunrun
                if (ff == 0) ff = 1
                f += ff; bad_files++
            }
            in_entry = 0; efail = 0; eunrun = 0
        }
        /^Test Summary Report/ { in_report = 1; next }
        in_report && match($0, /Tests: [0-9]+ Failed: [0-9]+\)/) {
            close_entry(); in_entry = 1
            split(substr($0, RSTART, RLENGTH), a, /[ )]+/)
            efail = a[4]; afailed += a[4]; next
        }
        in_report && match($0, /You planned [0-9]+ tests? but ran [0-9]+/) {
            split(substr($0, RSTART, RLENGTH), a, " ")
            if (a[3] > a[7]) eunrun += a[3] - a[7]
            next
        }
        match($0, /^Files=[0-9]+, Tests=[0-9]+/) {
            close_entry(); in_report = 0
            split(substr($0, RSTART, RLENGTH), a, /[=, ]+/)
            files = a[2]; tests = a[4]; seen_total = 1; next
        }
        /^Result: / { result = $2 }
        END {
            close_entry()
            p = tests - afailed
            if (p < 0) p = 0
            note = ""
            if (!seen_total) { f += 1; note = "no pg_prove summary" }
            else if (result != "PASS" && f == 0) { f = 1; note = "Result: " result }
            else if (rc != 0 && f == 0) { f = 1; note = "exited with status " rc " but no test failed" }
            if (seen_total) note = (note == "" ? "" : note "; ") files " file(s)" (bad_files ? ", " bad_files " with problems" : "")
            print p + 0, f + 0, note
        }
    ' "$file"
}

# ---- tests/fuzz/run.sh (libFuzzer harnesses of the pure core) --------------
# Counts one test per fuzz target, from run.sh's per-target lines:
#   "fuzz key: ok (1234 runs, 20 s, ...)"    -> passed
#   "fuzz key: FAILED (property violated...)" -> failed
# and checks them against its last line "fuzz: N passed, N failed" (the
# larger count of each kind wins, as in parse_regress).
parse_fuzz() {
    local file="$1" rc="${2:-0}"
    awk -v rc="$rc" '
        /^fuzz [A-Za-z0-9_]+: ok( |$)/      { lp++; next }
        /^fuzz [A-Za-z0-9_]+: FAILED( |$)/  { lf++; next }
        match($0, /^fuzz: [0-9]+ passed, [0-9]+ failed$/) {
            split($0, a, /[ ,]+/); sp = a[2]; sf = a[4]; nsum++; next
        }
        END {
            p = (lp > sp) ? lp : sp
            f = (lf > sf) ? lf : sf
            note = ""
            if (p + f == 0) { f = 1; note = "no fuzz results found" }
            else if (rc != 0 && f == 0) { f = 1; note = "exited with status " rc " but no target failed" }
            else if (nsum == 0) { f++; note = "run ended before its summary" }
            print p + 0, f + 0, note
        }
    ' "$file"
}
