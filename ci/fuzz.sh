#!/usr/bin/env bash
# Builds the libFuzzer targets in the sanitizer build (ci/sanitizers/build.sh: clang, ASan+UBSan,
# build-asan/ or $MEMGATE_ASAN_BUILD_DIR) and runs each over its seed corpus.
#
#   bash ci/fuzz.sh          # smoke: every corpus input once (-runs=0), seconds
#   bash ci/fuzz.sh 600      # fuzz each target for 600 s; new inputs go to a scratch dir
#   bash ci/fuzz.sh 600 fuzz_h1_request   # only the targets named
#
# Prints each target's executions and rate (ci/fuzz_stats.py reads libFuzzer's final stats), and
# when fuzzing, the executions per CPU second and the load average it started at.
# Exits non-zero on any crash, leak, timeout or sanitizer report, printing the input's path
# ("crash input: PATH"). Crash inputs are written to $MEMGATE_FUZZ_OUT (default:
# build-asan/fuzz-out/<target>/); add them to the target's corpus as regression inputs once fixed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-0}
only=("${@:2}")

# target  corpus directory (in the repository, read only here)  dictionary (- for none)
# longest input when fuzzing (- for libFuzzer's default, the longest seed): h1's limits are
# lowered to be within reach of it (h1_request_fuzzer.cpp).
targets=(
  "fuzz_h2_session server/fuzz/corpus/h2_session server/fuzz/dict/h2.dict -"
  "fuzz_h1_request server/fuzz/corpus/h1_request server/fuzz/dict/h1.dict 4096"
  "fuzz_loadgen_response harness/loadgen/fuzz/corpus - -"
)
for want in "${only[@]}"; do
  [[ " ${targets[*]} " == *" $want "* ]] || { echo "fuzz: unknown target $want" >&2; exit 2; }
done
build_dir=$(bash "$root/ci/sanitizers/build.sh" address)
out_root=${MEMGATE_FUZZ_OUT:-$build_dir/fuzz-out}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/ci/sanitizers/lsan.supp}

status=0
for entry in "${targets[@]}"; do
  read -r name corpus dict max_len <<<"$entry"
  if ((${#only[@]})) && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
  out="$out_root/$name"
  mkdir -p "$out/new"
  args=(-timeout=25 -rss_limit_mb=2048 -artifact_prefix="$out/" -print_final_stats=1)
  [[ "$dict" == - ]] || args+=(-dict="$root/$dict")
  failed=0
  if [[ "$seconds" == 0 ]]; then
    echo "== $name: every input of $corpus once"
    "$build_dir/bin/$name" "${args[@]}" -runs=0 "$root/$corpus" >"$out/log" 2>&1 || failed=1
    cpu=()
  else
    echo "== $name: ${seconds}s (new inputs in $out/new)"
    # Not in the smoke run: libFuzzer truncates longer corpus inputs to it.
    [[ "$max_len" == - ]] || args+=(-max_len="$max_len")
    load=$(cut -d' ' -f1 /proc/loadavg)
    # The scratch dir comes first: libFuzzer writes new inputs to the first corpus directory only.
    # `time` (the bash keyword) writes the fuzzer's user + system CPU seconds to $out/cpu.
    { TIMEFORMAT='%U %S'; time "$build_dir/bin/$name" "${args[@]}" -max_total_time="$seconds" "$out/new" \
        "$root/$corpus" >"$out/log" 2>&1; } 2>"$out/cpu" || failed=1
    read -r user system <"$out/cpu"
    cpu=("$(/usr/bin/python3 -c "print($user + $system)")" "$load")
  fi
  report=$(/usr/bin/python3 "$root/ci/fuzz_stats.py" "$name" "$out/log" "${cpu[@]}")
  if ((failed)); then
    status=1
    tail -n 60 "$out/log"
    grep -q '^crash input: ' <<<"$report" || report+=$'\n'"crash input: none written (see $out/log)"
  fi
  echo "$report"
done
if [[ $status -ne 0 ]]; then echo "fuzz: FAILED (artifacts in $out_root)"; else echo "fuzz: ok"; fi
exit $status
