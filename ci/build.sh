#!/usr/bin/env bash
# Configures and builds memgate into build/ (or $MEMGATE_BUILD_DIR).
# Extra arguments go to the CMake configure step, e.g. -DMEMGATE_ALLOCATORS=glibc.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${MEMGATE_BUILD_DIR:-$root/build}

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Relative paths in the cache key: another checkout of the same sources (a fresh
  # clone, ci/gate.sh's worktrees) hits the cache.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
fi
werror=OFF
[[ -n "${CI:-}" ]] && werror=ON

cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMEMGATE_WERROR=$werror "${launcher[@]}" "$@"
# Two cores: more parallel jobs only add memory pressure from Beast/Asio templates.
cmake --build "$build_dir" --parallel 2
