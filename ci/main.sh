#!/usr/bin/env bash
# The README's main job: installs what is missing, builds, runs the default
# scenario (100k requests) and prints its report. Extra arguments go to
# `memgate run` (e.g. --set requests=20000).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export MEMGATE_BUILD_DIR=${MEMGATE_BUILD_DIR:-$root/build}

bash "$root/ci/setup.sh"
bash "$root/ci/build.sh"
cd "$root"
exec ./memgate run scenarios/default.toml "$@"
