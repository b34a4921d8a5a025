#!/usr/bin/env bash
# Installs what pg_allot needs to build and test on Debian 12, when missing.
# Used by .ci/run and make demo. Needs root (or sudo) for apt-get.
set -euo pipefail
packages=(
  postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
  libtap-parser-sourcehandler-pgtap-perl
  libpqxx-dev libgtest-dev nlohmann-json3-dev libhiredis-dev cmake g++ make
  # tests/fuzz: clang++ and libclang_rt.fuzzer-x86_64.a (+ ASan/UBSan
  # runtimes), which libclang-common-14-dev only recommends.
  clang libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
log="$(mktemp /tmp/pg_allot_apt.XXXXXX.log)"
echo "installing: ${missing[*]} (log: $log)"
if ! { $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "install-deps: apt-get failed" >&2
  exit 1
fi
