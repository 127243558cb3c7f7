#!/usr/bin/env bash
# ci/gate.sh BASE_REF HEAD_REF [-o OUTDIR] [-- MATRIX_ARGS...]
#
# The pull-request memory gate, vendor-neutral: builds BASE_REF and HEAD_REF in git
# worktrees under a temp dir (ci/build_ref.sh), runs the
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

# Refuse a bad ref before building anything.
bash "$root/ci/build_ref.sh" --check BASE_REF "$base_ref" || exit 2
bash "$root/ci/build_ref.sh" --check HEAD_REF "$head_ref" || exit 2
scenarios=${MEMGATE_GATE_SCENARIOS:-$root/scenarios/ci-gate.toml}

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/memgate-gate.XXXXXX")
cleanup() {
  git -C "$root" worktree remove --force "$work/base/src" >/dev/null 2>&1 || true
  git -C "$root" worktree remove --force "$work/head/src" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== memgate gate: base $base_ref vs head $head_ref"
for side in base head; do
  ref=$base_ref label=BASE_REF
  [[ $side == head ]] && ref=$head_ref label=HEAD_REF
  echo "== build $side ($ref)"
  start=$SECONDS
  sha=$(bash "$root/ci/build_ref.sh" "$label" "$ref" "$work/$side" -DMEMGATE_BUILD_TESTS=OFF) || exit 2
  echo "   $sha built in $((SECONDS - start)) s"
done

status=0
for side in base head; do
  echo "== run $side"
  rm -rf "${outdir:?}/$side"
  MEMGATE_BUILD_DIR=$work/$side/build MEMGATE_SOURCE_DIR=$work/$side/src "$root/memgate" matrix $scenarios -o "$outdir/$side" "${matrix_args[@]}" || status=$?
  ((status == 0)) || die "the $side measurement failed (exit $status); results in $outdir/$side"
done

echo "== report"
set +e
"$root/memgate" report "$outdir/base" "$outdir/head" -o "$outdir"
code=$?
set -e
echo "report: $outdir/report.md, $outdir/report.html"
exit $code
