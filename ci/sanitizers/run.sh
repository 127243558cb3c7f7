#!/usr/bin/env bash
# The sanitizer suite (ci/sanitizers/build.sh makes the builds):
#   ASan + UBSan: the unit tests with leak checking, every fuzz target over its seed corpus,
#                 the HTTP/1.1 and HTTP/2 conformance suites, one short end-to-end run per protocol;
#   TSan:         the unit tests (the server's worker pool, /mem's fan-out to every worker),
#                 one short end-to-end run per protocol on two server threads.
# An end-to-end run passes when its server exits 0 with no sanitizer report in its stderr and
# no leak but the deliberate --inject-leak site (lsan.supp, beside this script).
#
#   bash ci/sanitizers/run.sh [--no-end-to-end] [address|thread ...]   (default: both kinds)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
end_to_end=true
kinds=()
for arg in "$@"; do
  case $arg in
    --no-end-to-end) end_to_end=false ;;
    address|thread) kinds+=("$arg") ;;
    *) echo "sanitizers: unknown argument '$arg' (--no-end-to-end, address, thread)" >&2; exit 2 ;;
  esac
done
((${#kinds[@]})) || kinds=(address thread)

export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1
export LSAN_OPTIONS=suppressions=$root/ci/sanitizers/lsan.supp
export TSAN_OPTIONS=second_deadlock_stack=1

end_to_end_runs() {  # build_dir: one short run per protocol, the server must exit clean
  local build_dir=$1 out protocol
  out=$(mktemp -d)
  for protocol in h1 h2c h2-tls; do
    MEMGATE_BUILD_DIR=$build_dir "$root/memgate" run --set protocol=$protocol --set requests=3000 \
      --set warmup_requests=300 --set time_limit_s=120 --set server_threads=2 \
      -o "$out/$protocol.json" >/dev/null || true  # judged below, from the result file
    /usr/bin/python3 "$root/ci/sanitizers/check_run.py" "$out/$protocol.json" || { rm -rf "$out"; return 1; }
  done
  rm -rf "$out"
}

for kind in "${kinds[@]}"; do
  build_dir=$(bash "$root/ci/sanitizers/build.sh" "$kind")
  echo "== sanitizers ($kind): unit tests"
  ctest --test-dir "$build_dir" --output-on-failure --timeout 600
  if [[ $kind == address ]]; then
    echo "== sanitizers ($kind): fuzz targets over their corpora"
    MEMGATE_ASAN_BUILD_DIR=$build_dir bash "$root/ci/fuzz.sh"
    echo "== sanitizers ($kind): the conformance suites against the sanitized refserver"
    (cd "$root" && MEMGATE_BUILD_DIR=$build_dir /usr/bin/python3 -m pytest -q -p no:cacheprovider \
      server/http1/conformance server/http2/conformance)
  fi
  if $end_to_end; then
    echo "== sanitizers ($kind): end to end (the server must exit clean)"
    end_to_end_runs "$build_dir"
  fi
done
