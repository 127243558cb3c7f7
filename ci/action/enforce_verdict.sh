#!/usr/bin/env bash
# The action's last step: the job fails unless the gate passed.
set -euo pipefail
verdict=${MEMGATE_VERDICT:-ERROR}
if [[ $verdict == PASS && ${MEMGATE_EXIT_CODE:-} == 0 ]]; then
  echo "memgate gate: PASS"
  exit 0
fi
echo "memgate gate: $verdict (ci/gate.sh exit ${MEMGATE_EXIT_CODE:-unknown}: 1 regression, 2 invalid input or a failed run)" >&2
exit 1
