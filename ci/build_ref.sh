#!/usr/bin/env bash
# ci/build_ref.sh LABEL REF DIR [CMAKE_ARGS...]
# ci/build_ref.sh --check LABEL REF     (only: is REF a commit? for refusing before any build)
#
# Builds one git ref of this checkout: a detached worktree at DIR/src, ci/build.sh from that
# worktree into DIR/build (log: DIR/build.log), with CMAKE_ARGS (e.g. -DMEMGATE_BUILD_TESTS=OFF).
# Prints the ref's full commit id. The caller removes the worktree (git worktree remove
# --force DIR/src) when done with the binaries.
# Used by ci/gate.sh (both sides) and `./memgate profile --against REF`.
#
# Exit: 0 built, 2 a ref that is not a commit, a commit without ci/build.sh, a failed build
# (the log's tail goes to stderr). LABEL names the ref in every message (BASE_REF, ...).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "ci/build_ref.sh: $*" >&2; exit 2; }
check_only=false
if [[ ${1:-} == --check ]]; then check_only=true; shift; set -- "$@" ""; fi
(($# >= 3)) || die "usage: ci/build_ref.sh LABEL REF DIR [CMAKE_ARGS...] | --check LABEL REF"
label=$1 ref=$2 dir=$3
shift 3

if ! sha=$(git -C "$root" rev-parse --verify --quiet "$ref^{commit}"); then
  die "$label '$ref' is not a commit in $root (try a branch, tag or sha that 'git rev-parse' knows; in GitHub Actions check out with fetch-depth: 0)"
fi
$check_only && exit 0
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
git -C "$root" worktree add --detach --quiet "$dir/src" "$sha"
[[ -f $dir/src/ci/build.sh ]] || die "$label commit $sha has no ci/build.sh: it predates memgate's build script"
# ccache keys on paths relative to DIR, the worktree's and the build tree's (generated headers)
# alike, and not on the build directory itself (hashed for -g1 builds unless told not to): the
# next DIR (the gate's temp dirs are new every run) then hits the cache. The binaries only get
# measured, so debug info naming the first DIR's build directory is harmless.
if ! CCACHE_BASEDIR=$dir CCACHE_NOHASHDIR=1 MEMGATE_BUILD_DIR=$dir/build \
     bash "$dir/src/ci/build.sh" "$@" >"$dir/build.log" 2>&1; then
  tail -n 40 "$dir/build.log" >&2
  die "building $label ($sha) failed; the log's tail is above"
fi
echo "$sha"
