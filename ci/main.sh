#!/usr/bin/env bash
# The README's main job: installs what is missing, builds, runs the default
# scenario (100k requests), prints its summary, then compares it with the stored
# baseline (ci/baselines/default.json) as a table with a verdict per row.
# Extra arguments go to `memgate run` (e.g. --set requests=20000).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export MEMGATE_BUILD_DIR=${MEMGATE_BUILD_DIR:-$root/build}

bash "$root/ci/setup.sh"
bash "$root/ci/build.sh"
cd "$root"
result=results/default-$(date -u +%Y%m%dT%H%M%SZ).json
./memgate run scenarios/default.toml -o "$result" "$@"
baseline=ci/baselines/default.json
if [[ -f $baseline ]]; then
  echo
  echo "== against the stored baseline $baseline (recorded on another machine: read the deltas, not the verdict alone)"
  ./memgate compare "$baseline" "$result"
fi
