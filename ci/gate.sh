#!/usr/bin/env bash
# ci/gate.sh BASE_REF HEAD_REF [-o OUTDIR] [-r REPLICATES] [--max-replicates N] [--scenarios FILE]...
#            [--harness REF|DIR] [--allocators LIST]
#            [--repo DIR --build COMMAND --server FILE... [--memgate-build DIR]] [-- MATRIX_ARGS...]
#
# The pull-request memory gate, vendor-neutral: builds BASE_REF and HEAD_REF in git worktrees
# under a temp dir, runs the gate's scenarios against both builds on this one runner, and writes
# OUTDIR/report.{md,html,json} plus OUTDIR/{base,head}/ results.
#
# What is measured. By default refserver, or a command target ci/build.sh builds into {bin}: the
# refs are commits of this memgate checkout, each built by ci/build_ref.sh. With --repo DIR the
# server is another repository's: the refs are commits of DIR, COMMAND (--build, run by bash in
# each side's worktree) builds it, and every --server FILE it made (a path in the worktree) is
# {bin}/<file name> to the scenarios' command [target]s, beside the harness's loadgen and heap
# shim. Those come from the harness memgate, built once with its ci/build.sh (or taken from
# --memgate-build, a build of it already made); the scenarios' [target] argv starts them as
# {bin}/NAME.
#
# A trusted gate: a pull request must not be able to loosen the check that judges it. The driver,
# the analysis, the scenarios and their thresholds come from the base side: the driver and
# analysis from the harness (default: this repository's base ref worktree, or with --repo this
# memgate checkout; --harness pins a memgate commit of this checkout or a memgate checkout
# directory), the scenario files (default scenarios/ci-gate.toml) are paths in the base ref. Only
# what is measured is built from the head ref.
#
# Replicates alternate between the sides, A B B A A B ... (A base, B head): one replicate of every
# case per step, so drift on the runner (thermal, a noisy neighbour) falls on both sides alike
# instead of on whichever side ran last. `memgate merge --replicates` joins each side's steps into
# one result per case; report.md ends with the order that ran. REPLICATES defaults to 3; each
# step runs with --repeat 1, whatever the scenarios say. While `memgate gate` finds a case
# UNDECIDED (too noisy to tell) another pair of steps runs, up to --max-replicates per side
# (default 5, where the gate decides by majority); still undecided, report.md and report.json say
# UNDECIDED and the exit is 3.
#
# --allocators (e.g. glibc) builds only those refserver variants (MEMGATE_ALLOCATORS); with
# --repo the harness is built with glibc only unless it is given.
#
# Exit: 0 no regression, 1 regression, 2 bad arguments, bad refs, a failed build or a failed
# measurement, 3 undecided.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: ci/gate.sh BASE_REF HEAD_REF [-o OUTDIR] [-r REPLICATES] [--max-replicates N] [--scenarios FILE]... [--harness REF|DIR] [--allocators LIST] [--repo DIR --build COMMAND --server FILE... [--memgate-build DIR]] [-- MATRIX_ARGS...]"

die() { echo "ci/gate.sh: $*" >&2; exit 2; }

(($# >= 2)) || die "expected two refs; $usage"
base_ref=$1 head_ref=$2
shift 2
outdir=$root/results/gate
replicates=3
max_replicates=5
scenario_files=()
harness=
allocators=
repo=
build_command=
server_files=()
memgate_build=
matrix_args=()
while (($#)); do
  case $1 in
    -o) (($# >= 2)) || die "-o needs a directory; $usage"; outdir=$2; shift 2 ;;
    -r) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "-r needs a positive replicate count; $usage"; replicates=$2; shift 2 ;;
    --max-replicates) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--max-replicates needs a positive count; $usage"; max_replicates=$2; shift 2 ;;
    --scenarios) (($# >= 2)) || die "--scenarios needs a file; $usage"; scenario_files+=("$2"); shift 2 ;;
    --harness) (($# >= 2)) || die "--harness needs a memgate commit or checkout directory; $usage"; harness=$2; shift 2 ;;
    --allocators) (($# >= 2)) || die "--allocators needs a list, e.g. glibc; $usage"; allocators=$2; shift 2 ;;
    --repo) [[ -d ${2:-} ]] || die "--repo needs the server's repository directory; $usage"; repo=$(cd "$2" && pwd); shift 2 ;;
    --build) [[ -n ${2:-} ]] || die "--build needs the command that builds the server; $usage"; build_command=$2; shift 2 ;;
    --server) [[ -n ${2:-} ]] || die "--server needs the path of a file the build makes; $usage"; server_files+=("$2"); shift 2 ;;
    --memgate-build) [[ -d ${2:-} ]] || die "--memgate-build needs a memgate build directory; $usage"; memgate_build=$(cd "$2" && pwd); shift 2 ;;
    --) shift; matrix_args=("$@"); break ;;
    *) die "unknown argument '$1'; $usage" ;;
  esac
done
((${#scenario_files[@]})) || scenario_files=(scenarios/ci-gate.toml)
((max_replicates >= replicates)) || max_replicates=$replicates
if [[ -n $repo ]]; then
  [[ -n $build_command ]] && ((${#server_files[@]})) ||
    die "--repo needs --build (how to build the server) and --server (the file it makes); $usage"
  git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die "--repo $repo is not a git repository"
else
  [[ -z $build_command && ${#server_files[@]} == 0 && -z $memgate_build ]] ||
    die "--build, --server and --memgate-build go with --repo (another repository's server); $usage"
  repo=$root
fi
cmake_args=(-DMEMGATE_BUILD_TESTS=OFF)
[[ -z $allocators && $repo != "$root" ]] && allocators=glibc  # refserver is not measured
[[ -n $allocators ]] && cmake_args+=("-DMEMGATE_ALLOCATORS=$allocators")

# Refuse a bad ref before building anything.
check_ref() {  # LABEL REF GIT_DIR
  git -C "$3" rev-parse --verify --quiet "$2^{commit}" >/dev/null ||
    die "$1 '$2' is not a commit in $3 (try a branch, tag or sha that 'git rev-parse' knows; in GitHub Actions check out with fetch-depth: 0)"
}
check_ref BASE_REF "$base_ref" "$repo"
check_ref HEAD_REF "$head_ref" "$repo"
[[ -z $harness || -d $harness ]] || check_ref HARNESS "$harness" "$root"

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/memgate-gate.XXXXXX")
cleanup() {
  for tree in "$work/base/src" "$work/head/src"; do
    git -C "$repo" worktree remove --force "$tree" >/dev/null 2>&1 || true
  done
  git -C "$root" worktree remove --force "$work/harness" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# A cancelled CI job (SIGTERM) or Ctrl-C still removes the worktrees and temp builds.
trap 'exit 143' TERM
trap 'exit 130' INT

harness_at() {  # where the harness is, once a pinned commit has its worktree
  if [[ -z $harness && $repo == "$root" ]]; then
    harness_dir=$work/base/src harness_from="the base ref"
  elif [[ -z $harness ]]; then
    harness_dir=$root harness_from="memgate at $root"
  elif [[ -d $harness ]]; then
    harness_dir=$(cd "$harness" && pwd) harness_from=$harness_dir
  else
    git -C "$root" worktree add --detach --quiet "$work/harness" "$harness"
    harness_dir=$work/harness harness_from="memgate $(git -C "$root" rev-parse "$harness^{commit}")"
  fi
}

# Another repository's server: its build in the side's worktree, then a {bin} of the harness's
# programs and the files it made.
build_foreign() {  # SIDE LABEL REF -> the commit id
  local dir=$work/$1 sha file name
  sha=$(git -C "$repo" rev-parse "$3^{commit}")
  mkdir -p "$dir/build/bin"
  git -C "$repo" worktree add --detach --quiet "$dir/src" "$sha"
  # ccache, if the build uses it, keys on paths relative to the worktree: the next run's new
  # temp dir hits the cache (as ci/build_ref.sh arranges for memgate's own builds).
  if ! (cd "$dir/src" && CCACHE_BASEDIR=$dir/src CCACHE_NOHASHDIR=1 bash -c "$build_command") >"$dir/build.log" 2>&1; then
    tail -n 40 "$dir/build.log" >&2
    die "building $2 ($sha) with '$build_command' failed; the log's tail is above"
  fi
  ln -s "$memgate_bin"/* "$dir/build/bin/"
  for file in "${server_files[@]}"; do
    [[ -f $dir/src/$file && -x $dir/src/$file ]] || die "$2 ($sha): '$build_command' made no executable $file"
    name=$(basename "$file")
    [[ ! -e $dir/build/bin/$name ]] || die "--server $file: {bin}/$name is taken by memgate's own $name; rename the server"
    ln -s "$dir/src/$file" "$dir/build/bin/$name"
  done
  echo "$sha"
}

echo "== memgate gate: base $base_ref vs head $head_ref"
declare -A sha
build_start=$SECONDS
if [[ $repo != "$root" ]]; then
  harness_at
  if [[ -n $memgate_build ]]; then
    memgate_bin=$memgate_build/bin
    echo "== memgate's programs from $memgate_build"
  else
    echo "== build the harness memgate ($harness_from)"
    start=$SECONDS
    if ! MEMGATE_BUILD_DIR=$work/memgate bash "$harness_dir/ci/build.sh" "${cmake_args[@]}" >"$work/memgate.log" 2>&1; then
      tail -n 40 "$work/memgate.log" >&2
      die "building the harness memgate ($harness_from) failed; the log's tail is above"
    fi
    memgate_bin=$work/memgate/bin
    echo "   built in $((SECONDS - start)) s"
  fi
  [[ -x $memgate_bin/loadgen ]] || die "no loadgen in $memgate_bin: not a memgate build"
fi
for side in base head; do
  ref=$base_ref label=BASE_REF
  [[ $side == head ]] && ref=$head_ref label=HEAD_REF
  echo "== build $side ($ref)"
  start=$SECONDS
  if [[ $repo == "$root" ]]; then
    sha[$side]=$(bash "$root/ci/build_ref.sh" "$label" "$ref" "$work/$side" "${cmake_args[@]}") || exit 2
  else
    sha[$side]=$(build_foreign "$side" "$label" "$ref") || exit 2
  fi
  echo "   ${sha[$side]} built in $((SECONDS - start)) s"
done
if [[ $repo == "$root" ]]; then harness_at; fi

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

order=()
measure_s=0
step() {  # SIDE R: replicate R+1 of every case on SIDE
  local side=$1 r=$2 status=0 start=$SECONDS
  order+=("$([[ $side == base ]] && echo A || echo B)")
  echo "== step ${#order[@]}: replicate $((r + 1)) of $side"
  MEMGATE_BUILD_DIR=$work/$side/build MEMGATE_SOURCE_DIR=$work/$side/src \
    memgate matrix "${scenarios[@]}" -o "$work/steps/$side-$r" "${matrix_args[@]}" --repeat 1 || status=$?
  measure_s=$((measure_s + SECONDS - start))
  if ((status != 0)); then
    cp -r "$work/steps/$side-$r" "$outdir/$side-replicate-$((r + 1))" 2>/dev/null || true
    die "replicate $((r + 1)) of $side failed (exit $status); its results are in $outdir/$side-replicate-$((r + 1))"
  fi
}
pair() {  # R: the R-th pair of steps, base first on even R (A B B A ...)
  if (($1 % 2)); then step head "$1"; step base "$1"; else step base "$1"; step head "$1"; fi
}
join_sides() {
  local side r steps
  for side in base head; do
    rm -rf "${outdir:?}/$side"
    steps=()
    for ((r = 0; r < replicates; r++)); do steps+=("$work/steps/$side-$r"); done
    memgate merge --replicates "${steps[@]}" -o "$outdir/$side" >/dev/null || die "joining the $side replicates failed"
  done
}
undecided_cases() {  # `memgate gate`'s UNDECIDED lines, one "case: line" each, for the cases it cannot decide
  local file case status lines
  for file in "$outdir"/head/*.json; do
    case=$(basename "$file" .json)
    [[ $case == index || ! -f $outdir/base/$case.json ]] && continue
    status=0
    lines=$(memgate gate "$outdir/base/$case.json" "$file" 2>&1) || status=$?
    ((status == 3)) && awk -v name="$case" '/^ *UNDECIDED: / { sub(/^ +/, ""); print name ": " $0 }' <<<"$lines"
  done
  return 0
}

echo "== measure, $replicates replicate(s) per side"
asked=$replicates
for ((r = 0; r < replicates; r++)); do pair "$r"; done
join_sides
undecided=$(undecided_cases)
while [[ -n $undecided ]] && ((replicates < max_replicates)); do
  echo "== undecided, one more replicate per side:"
  echo "$undecided" | sed 's/^/   /'
  pair "$replicates"
  replicates=$((replicates + 1))
  join_sides
  undecided=$(undecided_cases)
done

echo "== report"
set +e
memgate report "$outdir/base" "$outdir/head" -o "$outdir"
code=$?
set -e
if ((code == 0)) && [[ -n $undecided ]]; then
  code=3
  /usr/bin/python3 "$root/ci/gate_undecided.py" "$outdir" "$replicates" <<<"$undecided"
fi
more=
((replicates > asked)) && more=" ($((replicates - asked)) more per side than asked, while a case was undecided)"
order_line="Run order: ${order[*]} (A = base ${sha[base]:0:12}, B = head ${sha[head]:0:12}), one replicate of every case per step on this runner$more; driver, analysis and thresholds from $harness_from; building took $build_s s, measuring $measure_s s."
echo "$order_line"
if [[ -f $outdir/report.md ]]; then
  printf '\n%s\n' "$order_line" >>"$outdir/report.md"
fi
echo "report: $outdir/report.md, $outdir/report.html"
exit $code
