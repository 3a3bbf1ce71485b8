#!/usr/bin/env bash
# The whole suite: ruff, then pytest against the colcon-built package and a real ROS 2 graph.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source tools/env.sh
echo "ruff: $(ruff --version)"
ruff check .
# `pytest` (not `python -m pytest`) so that the repo root is not put on sys.path: the tests
# import loco_ros from the colcon install, where the generated messages live.
status=0
pytest -ra "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "run_tests: pytest collected no tests, which counts as a failure" >&2
  exit 1
fi
exit "$status"
