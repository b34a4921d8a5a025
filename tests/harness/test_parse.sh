#!/usr/bin/env bash
# Self-test of tests/harness/parse.sh on sample outputs (real pg_regress 15,
# pg_isolation_regress 15, ctest and pg_prove output, plus broken runs).
# Run: tests/harness/test_parse.sh   (exit 0 = all parsers agree)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/parse.sh"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0

expect() { # name parser rc expected_passed expected_failed  (sample on stdin)
    local name="$1" parser="$2" rc="$3" ep="$4" ef="$5" got p f
    cat >"$tmp/$name"
    got="$("$parser" "$tmp/$name" "$rc")"
    read -r p f _ <<<"$got"
    if [ "$p" = "$ep" ] && [ "$f" = "$ef" ]; then
        printf 'ok   %-28s %s\n' "$name" "$got"
    else
        printf 'FAIL %-28s got "%s", want "%s %s"\n' "$name" "$got" "$ep" "$ef"
        fails=$((fails + 1))
    fi
}

regress_ok='(using postmaster on /tmp/x, port 55504)
============== dropping database "contrib_regression" ==============
============== running regression test queries        ==============
test t_ok                         ... ok           17 ms
parallel group (3 tests):  t_bad2 t_p1 t_p2
     t_p1                         ... ok           20 ms
     t_bad2                       ... ok           16 ms
     t_p2                         ... ok           21 ms

=====================
 All 4 tests passed. 
====================='

regress_fail='============== running regression test queries        ==============
test t_ok                         ... ok           17 ms
parallel group (3 tests):  t_bad2 t_p1 t_p2
     t_p1                         ... ok           20 ms
     t_bad2                       ... FAILED       16 ms
     t_p2                         ... ok           21 ms
test t_ok2                        ... ok           15 ms
test t_bad                        ... FAILED (test process exited with exit code 2)       13 ms

======================
 2 of 6 tests failed. 
======================

The differences that caused some tests to fail can be viewed in the
file "/tmp/rgx/regression.diffs".  A copy of the test summary that you see
above is saved in the file "/tmp/rgx/regression.out".

make: *** [/usr/lib/postgresql/15/lib/pgxs/src/makefiles/pgxs.mk:433: installcheck] Error 1'

iso_ok='============== running regression test queries        ==============
test s1                           ... ok           32 ms
test s2                           ... ok          132 ms

=====================
 All 2 tests passed. 
====================='

expect regress_ok parse_regress 0 4 0 <<<"$regress_ok"
expect regress_fail parse_regress 2 4 2 <<<"$regress_fail"
expect regress_plus_iso parse_regress 0 6 0 <<<"$regress_ok
$iso_ok"
expect regress_fail_plus_iso parse_regress 2 6 2 <<<"$regress_fail
$iso_ok"
# died after two tests, before its summary
expect regress_aborted parse_regress 2 1 2 <<<'============== running regression test queries        ==============
test a                            ... ok           17 ms
test b                            ... FAILED       17 ms
pg_regress: could not start test c: out of memory'
# could not even connect
expect regress_noconnect parse_regress 2 0 1 <<<'pg_regress: could not connect to server'
# exit status says failure but every test passed (e.g. a later step failed)
expect regress_rc_only parse_regress 2 4 1 <<<"$regress_ok"
expect regress_ignored parse_regress 0 3 0 <<<'test a                            ... ok           1 ms
test b                            ... failed (ignored)       1 ms
test c                            ... ok           1 ms
========
 2 of 3 tests passed, 1 failed test(s) ignored. 
========'
# summary only (line format not recognised)
expect regress_summary_only parse_regress 2 10 2 <<<'
 2 of 12 tests failed. '
expect regress_pg16_tap parse_regress 2 2 1 <<<'# using postmaster on /tmp/x, port 5432
ok 1         - a                                          10 ms
# parallel group (2 tests):  b c
ok 2         + b                                          10 ms
not ok 3     + c                                          10 ms
1..3
# 1 of 3 tests failed.'
expect regress_empty parse_regress 0 0 1 </dev/null

ctest_ok='Test project /work/main/build-unit
      Start  1: Key.Parse
 1/57 Test  #1: Key.Parse ........................   Passed    0.01 sec

100% tests passed, 0 tests failed out of 57

Total Test time (real) =   0.50 sec'
expect ctest_ok parse_ctest 0 57 0 <<<"$ctest_ok"
expect ctest_fail parse_ctest 2 54 3 <<<'95% tests passed, 3 tests failed out of 57

The following tests FAILED:
	  4 - Key.Bad (Failed)
Errors while running CTest
make: *** [Makefile:40: unit] Error 8'
expect ctest_one parse_ctest 0 1 0 <<<'100% tests passed, 0 tests failed out of 1'
expect ctest_build_failed parse_ctest 2 0 1 <<<'/work/main/tests/unit/key_test.cpp:3:10: fatal error: gtest/gtest.h: No such file or directory
make: *** [Makefile:40: unit] Error 2'
expect ctest_no_tests parse_ctest 8 0 1 <<<'Test project /work/main/build-unit
No tests were found!!!'
expect ctest_rc_only parse_ctest 2 57 1 <<<"$ctest_ok"

prove_ok='a_ok.sql .. ok
b_ok.sql .. ok
All tests successful.
Files=2, Tests=40,  0 wallclock secs ( 0.02 usr  0.00 sys +  0.04 cusr  0.00 csys =  0.06 CPU)
Result: PASS'
expect prove_ok parse_prove 0 40 0 <<<"$prove_ok"
# real pg_prove 3.36 output: a passes 3; b fails 2 of 4; c dies after 1 of
# 5 planned; d has no plan.  passed = 8 - 2 = 6, failed = 2 + 4 + 1 = 7
expect prove_fail parse_prove 1 6 7 <<<'a_ok.sql ...... ok
b_fail.sql .... 
# Failed test 2: "b"
# Failed test 3: "c"
#         have: 1
#         want: 2
# Looks like you failed 2 tests of 4
Failed 2/4 subtests 
psql:c_die.sql:2: ERROR:  function nosuchfunc() does not exist
c_die.sql ..... 
Dubious, test returned 3 (wstat 768, 0x300)
Failed 4/5 subtests 
d_noplan.sql .. 
Dubious, test returned 3 (wstat 768, 0x300)
No subtests run 

Test Summary Report
-------------------
b_fail.sql  (Wstat: 0 Tests: 4 Failed: 2)
  Failed tests:  2-3
c_die.sql   (Wstat: 768 (exited 3) Tests: 1 Failed: 0)
  Non-zero exit status: 3
  Parse errors: Bad plan.  You planned 5 tests but ran 1.
d_noplan.sql (Wstat: 768 (exited 3) Tests: 0 Failed: 0)
  Non-zero exit status: 3
  Parse errors: No plan found in TAP output
Files=4, Tests=8,  1 wallclock secs ( 0.02 usr  0.02 sys +  0.10 cusr  0.05 csys =  0.19 CPU)
Result: FAIL'
expect prove_no_output parse_prove 1 0 1 </dev/null
expect prove_rc_only parse_prove 1 40 1 <<<"$prove_ok"

if [ "$fails" -gt 0 ]; then
    echo "$fails parser check(s) failed"
    exit 1
fi
echo "all parser checks passed"
