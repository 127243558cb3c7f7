#!/usr/bin/env bash
# ci/gate.sh BASE_REF HEAD_REF [-o OUTDIR] [-r REPLICATES] [--scenarios FILE]... [--harness REF|DIR]
#            [--allocators LIST] [-- MATRIX_ARGS...]
#
# The pull-request memory gate, vendor-neutral: builds BASE_REF and HEAD_REF in git worktrees
# under a temp dir (ci/build_ref.sh), runs the gate's scenarios against both builds on this one
# runner, and writes OUTDIR/report.{md,html,json} plus OUTDIR/{base,head}/ results.
#
# A trusted gate: a pull request must not be able to loosen the check that judges it. The driver,
# the analysis, the scenarios and their thresholds come from the base ref's worktree (or, with
# --harness, from a pinned memgate: a commit of this repository or a memgate checkout directory);
# only what is measured (refserver and loadgen, or a command target's {bin}/ programs) is built
# from the head ref. Scenario files (default scenarios/ci-gate.toml) are paths in the base ref.
#
# Replicates alternate between the sides, A B B A A B ... (A base, B head): one replicate of every
# case per step, so drift on the runner (thermal, a noisy neighbour) falls on both sides alike
# instead of on whichever side ran last. `memgate merge --replicates` joins each side's steps into
# one result per case; report.md ends with the order that ran. REPLICATES defaults to 3; each
# step runs with --repeat 1, whatever the scenarios say.
#
# --allocators (e.g. glibc) builds only those refserver variants (MEMGATE_ALLOCATORS).
#
# Exit: 0 no regression, 1 regression, 2 bad arguments, bad refs, a failed build or a failed
# measurement.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: ci/gate.sh BASE_REF HEAD_REF [-o OUTDIR] [-r REPLICATES] [--scenarios FILE]... [--harness REF|DIR] [--allocators LIST] [-- MATRIX_ARGS...]"

die() { echo "ci/gate.sh: $*" >&2; exit 2; }

(($# >= 2)) || die "expected two refs; $usage"
base_ref=$1 head_ref=$2
shift 2
outdir=$root/results/gate
replicates=3
scenario_files=()
harness=
cmake_args=(-DMEMGATE_BUILD_TESTS=OFF)
matrix_args=()
while (($#)); do
  case $1 in
    -o) (($# >= 2)) || die "-o needs a directory; $usage"; outdir=$2; shift 2 ;;
    -r) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "-r needs a positive replicate count; $usage"; replicates=$2; shift 2 ;;
    --scenarios) (($# >= 2)) || die "--scenarios needs a file; $usage"; scenario_files+=("$2"); shift 2 ;;
    --harness) (($# >= 2)) || die "--harness needs a memgate commit or checkout directory; $usage"; harness=$2; shift 2 ;;
    --allocators) (($# >= 2)) || die "--allocators needs a list, e.g. glibc; $usage"; cmake_args+=("-DMEMGATE_ALLOCATORS=$2"); shift 2 ;;
    --) shift; matrix_args=("$@"); break ;;
    *) die "unknown argument '$1'; $usage" ;;
  esac
done
((${#scenario_files[@]})) || scenario_files=(scenarios/ci-gate.toml)

# Refuse a bad ref before building anything.
bash "$root/ci/build_ref.sh" --check BASE_REF "$base_ref" || exit 2
bash "$root/ci/build_ref.sh" --check HEAD_REF "$head_ref" || exit 2
if [[ -n $harness && ! -d $harness ]]; then
  bash "$root/ci/build_ref.sh" --check HARNESS "$harness" || exit 2
fi

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/memgate-gate.XXXXXX")
cleanup() {
  for tree in "$work/base/src" "$work/head/src" "$work/harness"; do
    git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
# A cancelled CI job (SIGTERM) or Ctrl-C still removes the worktrees and temp builds.
trap 'exit 143' TERM
trap 'exit 130' INT

echo "== memgate gate: base $base_ref vs head $head_ref"
declare -A sha
build_start=$SECONDS
for side in base head; do
  ref=$base_ref label=BASE_REF
  [[ $side == head ]] && ref=$head_ref label=HEAD_REF
  echo "== build $side ($ref)"
  start=$SECONDS
  sha[$side]=$(bash "$root/ci/build_ref.sh" "$label" "$ref" "$work/$side" "${cmake_args[@]}") || exit 2
  echo "   ${sha[$side]} built in $((SECONDS - start)) s"
done

if [[ -z $harness ]]; then
  harness_dir=$work/base/src
  harness_from="the base ref"
elif [[ -d $harness ]]; then
  harness_dir=$(cd "$harness" && pwd)
  harness_from=$harness_dir
else
  git -C "$root" worktree add --detach --quiet "$work/harness" "$harness"
  harness_dir=$work/harness
  harness_from="memgate $(git -C "$root" rev-parse "$harness^{commit}")"
fi
[[ -x $harness_dir/memgate ]] || die "the harness ($harness_from) has no memgate driver at $harness_dir/memgate"
# From the harness's own directory: `python3 -m` puts the working directory first on sys.path,
# and in CI that is the head's checkout, whose analysis/ would be the one imported.
memgate() { (cd "$harness_dir" && ./memgate "$@"); }
merge_help=$(memgate merge --help 2>/dev/null || true)
[[ $merge_help == *--replicates* ]] ||
  die "the harness ($harness_from) predates 'memgate merge --replicates', which the interleaved order needs; pass --harness with a newer memgate commit or checkout"
scenarios=()
for f in "${scenario_files[@]}"; do
  [[ $f == /* ]] || f=$work/base/src/$f
  [[ -f $f ]] || die "no scenario file $f in the base ref ${sha[base]}"
  scenarios+=("$f")
done
echo "== driver, analysis and thresholds from $harness_from; scenarios from the base ref: ${scenario_files[*]}"

build_s=$((SECONDS - build_start))
measure_start=$SECONDS
order=()
for ((r = 0; r < replicates; r++)); do
  pair=(base head)
  ((r % 2)) && pair=(head base)
  for side in "${pair[@]}"; do
    order+=("$([[ $side == base ]] && echo A || echo B)")
    echo "== step ${#order[@]}/$((2 * replicates)): replicate $((r + 1)) of $side"
    status=0
    MEMGATE_BUILD_DIR=$work/$side/build MEMGATE_SOURCE_DIR=$work/$side/src \
      memgate matrix "${scenarios[@]}" -o "$work/steps/$side-$r" "${matrix_args[@]}" --repeat 1 || status=$?
    if ((status != 0)); then
      cp -r "$work/steps/$side-$r" "$outdir/$side-replicate-$((r + 1))" 2>/dev/null || true
      die "replicate $((r + 1)) of $side failed (exit $status); its results are in $outdir/$side-replicate-$((r + 1))"
    fi
  done
done

measure_s=$((SECONDS - measure_start))
echo "== join the replicates of each side"
for side in base head; do
  rm -rf "${outdir:?}/$side"
  steps=()
  for ((r = 0; r < replicates; r++)); do steps+=("$work/steps/$side-$r"); done
  memgate merge --replicates "${steps[@]}" -o "$outdir/$side" || die "joining the $side replicates failed"
done

echo "== report"
set +e
memgate report "$outdir/base" "$outdir/head" -o "$outdir"
code=$?
set -e
order_line="Run order: ${order[*]} (A = base ${sha[base]:0:12}, B = head ${sha[head]:0:12}), one replicate of every case per step on this runner; driver, analysis and thresholds from $harness_from; building took $build_s s, measuring $measure_s s."
echo "$order_line"
if [[ -f $outdir/report.md ]]; then
  printf '\n%s\n' "$order_line" >>"$outdir/report.md"
fi
echo "report: $outdir/report.md, $outdir/report.html"
exit $code
