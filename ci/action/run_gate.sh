#!/usr/bin/env bash
# The action's gate step: ci/gate.sh with the action's inputs (MEMGATE_* from action.yml's env),
# then its outcome as step outputs. It never fails itself, so the summary, the comment and the
# upload still run; enforce_verdict.sh fails the job last.
set -uo pipefail
gate=$(cd "$(dirname "$0")/.." && pwd)/gate.sh
outdir=${MEMGATE_OUTPUT_DIR:-memgate-gate}
server=${MEMGATE_SERVER:-refserver}
lines() { while read -r line; do [[ -n $line ]] && printf '%s\n' "$line"; done <<<"$1"; }
args=("${MEMGATE_BASE_REF:?base-ref is empty: not a pull_request event? give the base-ref input}"
      "${MEMGATE_HEAD_REF:?head-ref is empty: not a pull_request event? give the head-ref input}"
      -o "$outdir" -r "${MEMGATE_REPLICATES:-3}")
if [[ $server == refserver ]]; then
  while read -r file; do args+=(--scenarios "$file"); done < <(lines "${MEMGATE_SCENARIOS:-}")
else
  while read -r file; do args+=(--scenarios "$file"); done < <(lines "$server")  # command target scenarios
fi
problem=
if [[ -n ${MEMGATE_BUILD_COMMAND:-} ]]; then
  # This repository's own server: its commits are the refs, the workspace its checkout.
  [[ $server != refserver ]] || problem="with build-command, server names your scenario file(s), whose [target] starts {bin}/<server>"
  args+=(--repo "$PWD" --build "$MEMGATE_BUILD_COMMAND")
  while read -r file; do args+=(--server "$file"); done < <(lines "${MEMGATE_SERVER_PATH:-}")
  [[ -n ${MEMGATE_MEMGATE_BUILD:-} ]] && args+=(--memgate-build "$MEMGATE_MEMGATE_BUILD")
fi
[[ -n ${MEMGATE_MAX_REPLICATES:-} ]] && args+=(--max-replicates "$MEMGATE_MAX_REPLICATES")
# refserver's allocator builds; another repository's server needs none of them.
[[ -n ${MEMGATE_ALLOCATORS:-} && -z ${MEMGATE_BUILD_COMMAND:-} ]] && args+=(--allocators "$MEMGATE_ALLOCATORS")
[[ -n ${MEMGATE_HARNESS:-} ]] && args+=(--harness "$MEMGATE_HARNESS")
read -r -a matrix_args <<<"${MEMGATE_MATRIX_ARGS:-}"
((${#matrix_args[@]})) && args+=(-- "${matrix_args[@]}")

if [[ -n $problem ]]; then
  echo "::error::memgate gate: $problem" >&2
  code=2
else
  bash "$gate" "${args[@]}"
  code=$?
fi
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
