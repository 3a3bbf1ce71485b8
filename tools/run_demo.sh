#!/usr/bin/env bash
# make demo: loco_node on the bundled demo bag through real DDS, then a summary and figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source tools/env.sh
python tools/demo.py "$@"
