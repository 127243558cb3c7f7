#!/usr/bin/env bash
# malloc_pairs.sh: what the heap shim adds to one malloc + free pair, on glibc, jemalloc and
# mimalloc (preloaded after the shim). Runs build/bin/malloc_pairs plain and under the shim,
# alternating, ROUNDS times each, pinned to one core, and prints the medians in ns per pair and
# the difference. Environment (defaults in brackets): ROUNDS [5], SIZE [64], PAIRS [20000000], CPU [1].
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
bin="${MEMGATE_BUILD_DIR:-$repo/build}/bin"
ROUNDS="${ROUNDS:-5}" SIZE="${SIZE:-64}" PAIRS="${PAIRS:-20000000}" CPU="${CPU:-1}"
shim="$bin/libmemgate_heapshim.so"
[[ -x "$bin/malloc_pairs" && -f "$shim" ]] || { echo "malloc_pairs: build first (bash ci/build.sh)" >&2; exit 1; }
lib=/usr/lib/x86_64-linux-gnu

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
run() { env ${1:+LD_PRELOAD="$1"} taskset -c "$CPU" "$bin/malloc_pairs" "$SIZE" "$PAIRS"; }

echo "malloc($SIZE) + free, $PAIRS pairs per run, $ROUNDS runs each, core $CPU; load $(cut -d' ' -f1-3 /proc/loadavg)"
for allocator in glibc jemalloc mimalloc; do
  under=""; [[ $allocator != glibc ]] && under="$lib/lib$allocator.so.2"
  [[ -z "$under" || -f "$under" ]] || { echo "$allocator: $under missing, skipped"; continue; }
  plain=""; shimmed=""
  for _ in $(seq 1 "$ROUNDS"); do
    plain="$plain $(run "$under")"
    shimmed="$shimmed $(run "$shim${under:+ $under}")"
  done
  awk -v name="$allocator" -v a="$(echo "$plain" | median)" -v b="$(echo "$shimmed" | median)" \
    'BEGIN { printf "%-9s plain %6.2f ns, under the shim %6.2f ns: +%.2f ns per pair\n", name, a, b, b - a }'
done
