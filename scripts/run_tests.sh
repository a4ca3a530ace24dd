#!/usr/bin/env bash
# Run every test. pytest's exit code 5 ("no tests ran") is a failure here, not a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
ruff check . || exit 1
python3 -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "run_tests: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit $rc
