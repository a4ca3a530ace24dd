#!/usr/bin/env bash
# Run every test (what CI runs). pytest's exit code 5 ("no tests ran") is a failure here, not a pass.
#
# Two pytest-xdist workers: much of the suite waits on other processes, so a second worker uses the
# idle core; --dist loadgroup builds each expensive shared fixture once (tests/conftest.py).
# GANLAB_TEST_WORKERS=0 runs serially; extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
ruff check . || exit 1
workers=${GANLAB_TEST_WORKERS:-2}
parallel=()
if [ "$workers" != 0 ]; then
  # --no-loadscope-reorder: the groups in the order tests/conftest.py gives them (costliest first),
  # not by their number of tests.
  parallel=(-n "$workers" --dist loadgroup --no-loadscope-reorder)
  # One OpenMP thread per process: the two workers fill the two cores, and a torch process with two
  # threads on a busy core waits for a parked thread at every parallel region (the gpu_run.sh dry
  # run took 36 s alone and 177 s beside the other worker with two threads).
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi
# Root's kernels run as nobody in the machine's user namespace; anyone else's in a user namespace of
# bwrap's (autograder/sandbox.py). As root, with an ordinary user named (.ci/run makes one), the escape
# tests run a second time as that user, beside the main run (they mostly wait on their kernels), so
# that CI proves the containment both ways.
unprivileged=""
if [ $# -eq 0 ] && [ "$(id -u)" = 0 ] && [ -n "${GANLAB_TEST_USER:-}" ]; then
  home=$(mktemp -d)
  chown "$GANLAB_TEST_USER:" "$home"
  python=$(python3 -c 'import sys; print(sys.executable)')  # not a shim that looks in HOME (pyenv's)
  setpriv --reuid="$GANLAB_TEST_USER" --regid="$GANLAB_TEST_USER" --init-groups \
    env HOME="$home" PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -p no:cacheprovider -q tests/test_sandbox.py \
    -k "each_attempt or graded_to_the_end or process_limit" >"$home/log" 2>&1 &
  unprivileged=$!
fi
# --durations: the slowest tests at the end of the log, to keep CI well inside its time.
python3 -m pytest "${parallel[@]}" --durations=25 "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "run_tests: pytest collected no tests: that is a failure" >&2
  rc=1
fi
if [ -n "$unprivileged" ]; then
  wait "$unprivileged"
  urc=$?
  echo "run_tests: the escape tests as $GANLAB_TEST_USER (exit $urc):"
  cat "$home/log"
  rm -rf "$home"
  [ $rc -eq 0 ] && rc=$urc
fi
exit $rc
