#!/usr/bin/env bash
# The sanitizer suite: an ASan + UBSan build (glibc allocator only: jemalloc and
# mimalloc replace malloc, which ASan must own), its unit tests with leak checking,
# then (unless --unit-only) one short end-to-end run per protocol whose server must
# shut down clean: no ASan or UBSan report and no leak but the deliberate
# --inject-leak site (lsan.supp, beside this script).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${MEMGATE_ASAN_BUILD_DIR:-$root/build-asan}
unit_only=false
[[ "${1:-}" == "--unit-only" ]] && unit_only=true

MEMGATE_BUILD_DIR=$build_dir bash "$root/ci/build.sh" -DMEMGATE_SANITIZE=ON -DMEMGATE_ALLOCATORS=glibc

export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1
export LSAN_OPTIONS=suppressions=$root/ci/sanitizers/lsan.supp

echo "== sanitizers: unit tests (ASan + UBSan, leak checking)"
ctest --test-dir "$build_dir" --output-on-failure --timeout 600

$unit_only && exit 0

echo "== sanitizers: end to end (server under ASan + UBSan must exit clean)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for protocol in h1 h2c h2-tls; do
  MEMGATE_BUILD_DIR=$build_dir "$root/memgate" run --set protocol=$protocol --set requests=3000 \
    --set warmup_requests=300 --set time_limit_s=120 -o "$out/$protocol.json" >/dev/null
  /usr/bin/python3 - "$out/$protocol.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rep = r["replicates"][0]
server = rep.get("server") or {}
tail = server.get("stderr_tail", "")
problems = [w for w in r["warnings"] if "exit" in w]
if server.get("exit_code") != 0:
    problems.append(f"server exit: {server.get('exit')}")
if "Sanitizer" in tail or "runtime error:" in tail:
    problems.append("sanitizer report in the server's stderr:\n" + tail)
if r["status"] != "ok":
    problems.append(f"run failed: {r['failure']}")
if problems:
    sys.exit(f"{r['config']['protocol']}: " + "\n".join(problems))
print(f"{r['config']['protocol']}: {r['metrics']['requests_completed']} requests, server exited 0, no sanitizer report")
PY
done
