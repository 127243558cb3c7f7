#!/usr/bin/env bash
# The action's summary step: report.md into the job summary, or why there is none.
set -euo pipefail
report=${MEMGATE_OUTPUT_DIR:-memgate-gate}/report.md
if [[ -f $report ]]; then
  cat "$report" >>"$GITHUB_STEP_SUMMARY"
else
  echo "memgate gate produced no report (ci/gate.sh exit ${MEMGATE_EXIT_CODE:-unknown}: a bad ref, a failed build or a failed run); see the gate step's log" >>"$GITHUB_STEP_SUMMARY"
fi
