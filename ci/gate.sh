#!/usr/bin/env bash
# ci/gate.sh BASE_REF HEAD_REF [-o OUTDIR] [-- MATRIX_ARGS...]
#
# The pull-request memory gate, vendor-neutral: builds BASE_REF and HEAD_REF in git
# worktrees under a temp dir (ci/build.sh with MEMGATE_BUILD_DIR per ref), runs the
# ci-gate scenario set against both builds in this one job (machine noise hits both
# alike), and writes OUTDIR/report.{md,html,json} plus OUTDIR/{base,head}/ results.
#
# The driver and the scenarios come from this checkout (the one holding this script,
# i.e. the PR's head in CI), so both sides are measured the same way; only the server
# and loadgen binaries differ. MEMGATE_GATE_SCENARIOS overrides the scenario file(s).
#
# Exit: 0 no regression, 1 regression, 2 bad arguments, bad refs, a failed build or
# a failed measurement.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: ci/gate.sh BASE_REF HEAD_REF [-o OUTDIR] [-- MATRIX_ARGS...]"

die() { echo "ci/gate.sh: $*" >&2; exit 2; }

(($# >= 2)) || die "expected two refs; $usage"
base_ref=$1 head_ref=$2
shift 2
outdir=$root/results/gate
matrix_args=()
while (($#)); do
  case $1 in
    -o) (($# >= 2)) || die "-o needs a directory; $usage"; outdir=$2; shift 2 ;;
    --) shift; matrix_args=("$@"); break ;;
    *) die "unknown argument '$1'; $usage" ;;
  esac
done

resolve() {  # $1 = label, $2 = ref -> full commit id, or exit 2 naming the ref
  local sha
  if ! sha=$(git -C "$root" rev-parse --verify --quiet "$2^{commit}"); then
    die "$1 '$2' is not a commit in $root (try a branch, tag or sha that 'git rev-parse' knows; in GitHub Actions check out with fetch-depth: 0)"
  fi
  echo "$sha"
}
base_sha=$(resolve BASE_REF "$base_ref")
head_sha=$(resolve HEAD_REF "$head_ref")
scenarios=${MEMGATE_GATE_SCENARIOS:-$root/scenarios/ci-gate.toml}

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/memgate-gate.XXXXXX")
cleanup() {
  git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true
  git -C "$root" worktree remove --force "$work/head" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== memgate gate: base $base_ref ($base_sha) vs head $head_ref ($head_sha)"
for side in base head; do
  sha=$base_sha; [[ $side == head ]] && sha=$head_sha
  git -C "$root" worktree add --detach --quiet "$work/$side" "$sha"
  [[ -f $work/$side/ci/build.sh ]] || die "$side commit $sha has no ci/build.sh: it predates memgate's build script"
  echo "== build $side ($sha)"
  start=$SECONDS
  if ! MEMGATE_BUILD_DIR=$work/build-$side bash "$work/$side/ci/build.sh" >"$work/build-$side.log" 2>&1; then
    tail -n 40 "$work/build-$side.log" >&2
    die "building $side ($sha) failed; the log's tail is above"
  fi
  echo "   built in $((SECONDS - start)) s"
done

status=0
for side in base head; do
  echo "== run $side"
  rm -rf "${outdir:?}/$side"
  MEMGATE_BUILD_DIR=$work/build-$side MEMGATE_SOURCE_DIR=$work/$side "$root/memgate" matrix $scenarios -o "$outdir/$side" "${matrix_args[@]}" || status=$?
  ((status == 0)) || die "the $side measurement failed (exit $status); results in $outdir/$side"
done

echo "== report"
set +e
"$root/memgate" report "$outdir/base" "$outdir/head" -o "$outdir"
code=$?
set -e
echo "report: $outdir/report.md, $outdir/report.html"
exit $code
