#!/usr/bin/env bash
# The action's gate step: ci/gate.sh with the action's inputs (MEMGATE_* from action.yml's env),
# then its outcome as step outputs. It never fails itself, so the summary, the comment and the
# upload still run; enforce_verdict.sh fails the job last.
set -uo pipefail
gate=$(cd "$(dirname "$0")/.." && pwd)/gate.sh
outdir=${MEMGATE_OUTPUT_DIR:-memgate-gate}
args=("${MEMGATE_BASE_REF:?base-ref is empty: not a pull_request event? give the base-ref input}"
      "${MEMGATE_HEAD_REF:?head-ref is empty: not a pull_request event? give the head-ref input}"
      -o "$outdir" -r "${MEMGATE_REPLICATES:-3}")
if [[ ${MEMGATE_SERVER:-refserver} == refserver ]]; then
  while read -r file; do
    [[ -n $file ]] && args+=(--scenarios "$file")
  done <<<"${MEMGATE_SCENARIOS:-}"
else
  args+=(--scenarios "$MEMGATE_SERVER")  # a command target scenario
fi
[[ -n ${MEMGATE_ALLOCATORS:-} ]] && args+=(--allocators "$MEMGATE_ALLOCATORS")
[[ -n ${MEMGATE_HARNESS:-} ]] && args+=(--harness "$MEMGATE_HARNESS")
read -r -a matrix_args <<<"${MEMGATE_MATRIX_ARGS:-}"
((${#matrix_args[@]})) && args+=(-- "${matrix_args[@]}")

bash "$gate" "${args[@]}"
code=$?
verdict=ERROR
if [[ -f $outdir/report.json ]]; then
  verdict=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["summary"]["verdict"])' \
            "$outdir/report.json" 2>/dev/null) || verdict=ERROR
fi
{
  echo "exit-code=$code"
  echo "verdict=$verdict"
  echo "report=$outdir/report.md"
  echo "report-html=$outdir/report.html"
} >>"$GITHUB_OUTPUT"
echo "memgate gate: $verdict (ci/gate.sh exit $code)"
exit 0
