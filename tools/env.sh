# Source me: the environment of the tests, the demo and the benchmarks (after setup_env.sh).
# DDS stays on this machine: shared memory only, through tools/fastdds_local.xml.
_loco_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The colcon setup scripts read unset variables: relax `set -u` while sourcing them.
_loco_nounset=$([[ $- == *u* ]] && echo 1 || true)
set +u
# shellcheck disable=SC1091
source "$_loco_root/.venv/local_setup.bash"
# shellcheck disable=SC1091
source "$_loco_root/install/setup.bash"
export FASTDDS_DEFAULT_PROFILES_FILE="$_loco_root/tools/fastdds_local.xml"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# A run's own domain, so two runs on one machine never hear each other.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
export LOCO_ROOT="$_loco_root"
[ -n "$_loco_nounset" ] && set -u
unset _loco_root _loco_nounset
