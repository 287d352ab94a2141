#!/usr/bin/env bash
# README's test command, several times in a row, while stress-ng keeps both cores busy (issue 13:
# "python -m pytest passes 3 times in a row on a fresh clone while stress-ng --cpu 2 runs").
#
#   bash bench/suite_under_load.sh [runs] [pytest arguments...]    # runs: 3 by default
#
# Run it in a fresh clone, with the environment CI gives the suite (.ci/run: PostgreSQL started and
# TESTBED_TEST_POSTGRES_URL set, the TESTBED_REQUIRE_* variables) if those tests are to count. Each
# run's output goes to suite-under-load-N.log; one line per run is printed, with its time and
# pytest's last line. Exits 1 if any run failed. Needs Debian's stress-ng.
set -uo pipefail
runs=${1:-3}
shift || true
command -v stress-ng >/dev/null || { echo "suite_under_load: stress-ng is not installed (apt-get install stress-ng)"; exit 2; }
stress-ng --cpu 2 >/dev/null 2>&1 &
stress=$!
trap 'kill $stress 2>/dev/null' EXIT
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  python3 -m pytest "$@" > "suite-under-load-$i.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || failed=1
  echo "run $i of $runs: exit $rc in $(( $(date +%s) - start )) s, load average $(cut -d' ' -f1-3 /proc/loadavg): $(tail -n 1 "suite-under-load-$i.log")"
done
exit $failed
