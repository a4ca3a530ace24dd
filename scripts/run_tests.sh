#!/usr/bin/env bash
# Run every test. pytest's exit code 5 ("no tests ran") is a failure here, not a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
ruff check . || exit 1
# --durations: the slowest tests at the end of the log, to keep CI well inside its time.
python3 -m pytest --durations=15 "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "run_tests: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit $rc
