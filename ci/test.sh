#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs the
# GoogleTest suite through ctest, the sanitizer suite (ASan + UBSan build: unit
# tests, fuzz corpora, short end-to-end runs) and the pytest suite. Exits non-zero
# on any failure, and when pytest collected no tests at all (its exit code 5).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${MEMGATE_BUILD_DIR:-$root/build}
export MEMGATE_BUILD_DIR=$build_dir

bash "$root/ci/setup.sh"
bash "$root/ci/build.sh"

echo "== ctest"
ctest --test-dir "$build_dir" --output-on-failure --timeout 300

echo "== sanitizers"
bash "$root/ci/sanitizers/run.sh"

echo "== pytest"
cd "$root"
set +e
/usr/bin/python3 -m pytest -q
status=$?
set -e
if ((status == 5)); then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit $status
