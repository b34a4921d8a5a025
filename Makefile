# pg_allot — top-level targets. The extension itself is a plain PGXS build in
# extension/ (make && make install work here as they do there).
#
#   make / make install   build / install the extension (PGXS)
#   make installcheck     pg_regress + isolation suites against PGHOST/PGPORT
#   make unit             GoogleTest unit tests of the pure core (with ASan/UBSan)
#   make fuzz             libFuzzer on the core's parsers, FUZZ_SECONDS per target
#                         (default 300; make check runs them 20 s each)
#   make client-test      the C++ client's tests against PGHOST/PGPORT/PGUSER
#   make check            every test suite on a throwaway cluster (what CI runs)
#   make demo             the flash-sale demo on a throwaway cluster
#   make demo-stop        stop the demo's cluster
#   make bench            benchmark scenarios with their baselines (ratios)

PG_CONFIG ?= pg_config
EXT = $(MAKE) -C extension PG_CONFIG=$(PG_CONFIG)

.PHONY: all install installcheck unit fuzz client-test check demo demo-stop bench clean

all:
	$(EXT)

install:
	$(EXT) install

installcheck:
	$(EXT) installcheck

unit:
	cmake -S . -B build-unit -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-unit -j2
	ctest --test-dir build-unit -L unit --output-on-failure

# Needs clang and libclang-rt-14-dev (tools/install-deps.sh); builds outside
# the tree and never writes into tests/fuzz/corpus. E.g.
# make fuzz FUZZ_SECONDS=60 FUZZ_TARGETS="key batch_json"
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?=
fuzz:
	bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The client library's tests need a running server with the extension
# installed: PGHOST/PGPORT/PGUSER (e.g. from tests/harness/cluster.sh).
client-test:
	cmake -S . -B build-unit -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-unit -j2
	ctest --test-dir build-unit -L client --output-on-failure

check:
	bash tools/install-deps.sh
	bash tests/harness/run_all.sh

demo:
	bash tools/demo/run.sh

demo-stop:
	bash tools/demo/run.sh stop

bench:
	bash bench/run.sh

clean:
	$(EXT) clean
	rm -rf build-unit tests/regress/out tests/isolation/out
