#!/usr/bin/env bash
# The action's last step: the job fails unless the gate passed; an UNDECIDED verdict (too noisy to
# tell) fails it too, unless fail-on-undecided is false: then it passes with a warning.
set -euo pipefail
verdict=${MEMGATE_VERDICT:-ERROR}
code=${MEMGATE_EXIT_CODE:-unknown}
if [[ $verdict == PASS && $code == 0 ]]; then
  echo "memgate gate: PASS"
  exit 0
fi
if [[ $verdict == UNDECIDED && $code == 3 && ${MEMGATE_FAIL_ON_UNDECIDED:-true} == false ]]; then
  echo "::warning::memgate gate: UNDECIDED (too noisy to tell; passed because fail-on-undecided is false)"
  exit 0
fi
echo "memgate gate: $verdict (ci/gate.sh exit $code: 1 regression, 2 invalid input or a failed run, 3 undecided: too noisy to tell)" >&2
exit 1
