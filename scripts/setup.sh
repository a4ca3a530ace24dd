#!/usr/bin/env bash
# Set up a fresh machine: system packages (when root and missing), then the Python package
# with the course and dev tools. Safe to re-run: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
# The website: npm fetches its browser libraries, Chromium runs its browser tests.
command -v npm >/dev/null || need_apt+=(nodejs npm)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The grading sandbox (autograder/sandbox.py): bubblewrap.
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need_apt[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install ${need_apt[*]} (Debian: sudo apt-get install ${need_apt[*]})" >&2
  fi
fi

# pip resolves nothing new when the environment is already complete.
# The student package (ganlab, no answers) and the instructor's reference package beside it.
python3 -m pip install -q --disable-pip-version-check -e ".[course,dev]" -e ./ganlab_solution
