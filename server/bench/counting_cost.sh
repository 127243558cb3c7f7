#!/usr/bin/env bash
# counting_cost.sh: what memgate's allocation counting costs the reference server.
#
# refserver-glibc links the heap shim's counting core (every malloc, free and operator
# new/delete counted at its usable size, per-protocol charges); refserver-glibc-uncounted is the
# same server linked with the core's stand-in, which counts nothing (docs/ARCHITECTURE.md, "Live
# heap"). Both run side by side in one go, pinned to the same core, with the same client, and
# the script prints counted / uncounted throughput and server CPU per unit of work:
#
#   case       what is measured                                  target
#   h1 1KiB    req/s of GET /bytes/1024 (h1), h2load --h1 -c 8     counted >= 0.97x uncounted
#   h2c 1KiB   req/s of GET /bytes/1024 (h2c), h2load -c 8 -m 16   (both throughput and CPU:
#   h1 1MiB    goodput of GET /bytes/1048576 (h1), h2load -c 1     a cost of at most 3 %)
#   h2c 1MiB   goodput of GET /bytes/1048576 (h2c), h2load -c 1 -m 1
#
# Both servers run as `--threads 1 --copy=writev` on core SERVER_CPU, the client on
# CLIENT_CPU. Per round each case runs counted then uncounted, and the order flips every
# round (A B, B A, ...) so a drift in the machine's load favours neither; medians over
# ROUNDS rounds are compared. The event counters (requests, connections, writes) are in
# both binaries: the listener's connection limit and the drain on SIGTERM read them.
# Every h2load run must report all requests succeeded, all 2xx, and exactly requests x
# body-size DATA bytes, or the script fails loudly (exit 1).
#
# Usage (root or sudo for apt-get if h2load is missing; from anywhere):
#   bash server/bench/counting_cost.sh
# Environment knobs (defaults in brackets):
#   ROUNDS [3]             rounds per case
#   SMALL_REQUESTS [60000] 1 KiB requests per run    BIG_REQUESTS [1000] 1 MiB requests per run
#   H1_CONNS [8] H2_CONNS [8] H2_STREAMS [16]        h2load -c / -m for the 1 KiB cases
#   RUN_TIMEOUT [60]       timeout (s) on every client run
#   WARMUP [1]             a short unmeasured run of every case first (0: none)
#   PERF [1 when perf runs] also profile the counted server (perf record -F PERF_HZ [2999])
#                          during one more run of each 1 KiB case (3 x SMALL_REQUESTS), and print the share of its
#                          CPU samples in the counting code: a figure the machine's load moves
#                          much less than the ratios, which compare runs at different moments
#   COUNTED [<repo>/build/bin/refserver-glibc] UNCOUNTED [<repo>/build/bin/refserver-glibc-uncounted]
#   SERVER_CPU [0] CLIENT_CPU [1]
# Exit status: 0 when it ran (target met or not: it is a benchmark), 1 when a run failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
BENCH=counting_cost
source "$here/lib.sh"

ROUNDS="${ROUNDS:-3}"
SMALL_REQUESTS="${SMALL_REQUESTS:-60000}"
BIG_REQUESTS="${BIG_REQUESTS:-1000}"
H1_CONNS="${H1_CONNS:-8}"
H2_CONNS="${H2_CONNS:-8}"
H2_STREAMS="${H2_STREAMS:-16}"
RUN_TIMEOUT="${RUN_TIMEOUT:-60}"
WARMUP="${WARMUP:-1}"
PERF="${PERF:-$(perf record -q -o /dev/null -- true >/dev/null 2>&1 && echo 1 || echo 0)}"
PERF_HZ="${PERF_HZ:-2999}"
COUNTED="${COUNTED:-$repo/build/bin/refserver-glibc}"
UNCOUNTED="${UNCOUNTED:-$repo/build/bin/refserver-glibc-uncounted}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
BIG=1048576
SMALL=1024
TARGET=0.97  # counted / uncounted throughput, uncounted / counted CPU: a cost of at most 3 %

[[ "$ROUNDS" -ge 1 ]] || die "ROUNDS must be at least 1 (got $ROUNDS)"
for binary in "$COUNTED" "$UNCOUNTED"; do
  [[ -x "$binary" ]] || die "no reference server at $binary (build it: bash ci/build.sh)"
done
[[ "$(nproc)" -ge 2 ]] || die "needs 2 cores (client and server pinned apart); this machine has $(nproc)"
ensure_tools h2load:nghttp2-client taskset:util-linux curl:curl pgrep:procps python3:python3

bench_workdir counting-cost
write_pattern "$SMALL" "$work/1k.bin"
write_pattern "$BIG" "$work/1m.bin"
start_refserver counted "$COUNTED"
start_refserver uncounted "$UNCOUNTED"

# Each binary is what it is named: /mem says whether it counts (a stale build would not).
for side in counted uncounted; do
  port_var="${side}_port"
  mem="$(timeout 10 curl -s "http://127.0.0.1:${!port_var}/mem?trim=0")" || die "$side: GET /mem failed"
  want=counted; [[ $side == uncounted ]] && want=absent
  [[ "$mem" == *"\"allocation_counters\":\"$want\""* ]] ||
    die "$side: /mem does not say allocation_counters $want: ${mem:0:200}"
  for f in 1k 1m; do
    size=$SMALL; [[ $f == 1m ]] && size=$BIG
    check_body "$side-h1-$f" "http://127.0.0.1:${!port_var}/bytes/$size" "$work/$f.bin"
    check_body "$side-h2c-$f" "http://127.0.0.1:${!port_var}/bytes/$size" "$work/$f.bin" --http2-prior-knowledge
  done
done

# run LABEL SIDE CASE: one h2load run of CASE against SIDE's server.
run() {
  local pid_var="${2}_pid" port_var="${2}_port" url
  url="http://127.0.0.1:${!port_var}"
  case "$3" in
    h1_small) h2load_run "$1" "${!pid_var}" "$2" "$SMALL" rps --h1 -n "$SMALL_REQUESTS" -c "$H1_CONNS" "$url/bytes/$SMALL" ;;
    h2_small) h2load_run "$1" "${!pid_var}" "$2" "$SMALL" rps -n "$SMALL_REQUESTS" -c "$H2_CONNS" -m "$H2_STREAMS" "$url/bytes/$SMALL" ;;
    h1_big) h2load_run "$1" "${!pid_var}" "$2" "$BIG" goodput --h1 -n "$BIG_REQUESTS" -c 1 "$url/bytes/$BIG" ;;
    h2_big) h2load_run "$1" "${!pid_var}" "$2" "$BIG" goodput -n "$BIG_REQUESTS" -c 1 -m 1 "$url/bytes/$BIG" ;;
  esac
}
cases=(h1_small h2_small h1_big h2_big)

echo "machine:   $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores online, kernel $(uname -r)"
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; a shared machine makes every number noisier)"
echo "servers:   $COUNTED and $UNCOUNTED, --threads 1 --copy=writev, core $SERVER_CPU; client core $CLIENT_CPU"
echo "client:    $(h2load --version | head -1); 1KiB x $SMALL_REQUESTS (h1 -c $H1_CONNS, h2c -c $H2_CONNS -m $H2_STREAMS);" \
  "1MiB x $BIG_REQUESTS (-c 1 -m 1)"
echo

warm_up() {
  local SMALL_REQUESTS=5000 BIG_REQUESTS=100 case_
  for case_ in "${cases[@]}"; do run warm counted "$case_" >/dev/null; run warm uncounted "$case_" >/dev/null; done
}
if [[ "$WARMUP" == 1 ]]; then
  log "warm-up"
  warm_up
fi
for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS"
  order=(counted uncounted); ((round % 2)) || order=(uncounted counted)
  for case_ in "${cases[@]}"; do
    for side in "${order[@]}"; do sample "${side}_$case_" run "$side" "$case_"; done
  done
done

# ---- report ----------------------------------------------------------------

name() { case "$1" in h1_small) echo "h1 1KiB" ;; h2_small) echo "h2c 1KiB" ;; h1_big) echo "h1 1MiB" ;; h2_big) echo "h2c 1MiB" ;; esac; }
unit() { [[ $1 == *_small ]] && echo "$2" || echo "$3"; }
met() { awk -v r="$1" -v t="$TARGET" 'BEGIN { print (r >= t) ? "yes" : "NO" }'; }
cost() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", (a / b - 1) * 100 }'; }  # cost A B: A over B, in %

# table KIND: one row per case from the medians in the array KIND, samples (throughput: the ratio
# is counted / uncounted) or costs (server CPU per unit of work: uncounted / counted), so that in
# both a ratio below TARGET is a cost above 3 %; paired is the median of the rounds' own ratios.
table() {
  local -n values="$1"
  local case_ u a b r c p
  printf '%-9s | %-13s | %-13s | %-9s | %-8s | %-4s | %-9s | %-19s | %s\n' case counted uncounted ratio cost met? paired \
    "counted min..max" "uncounted min..max"
  echo '----------+---------------+---------------+-----------+----------+------+-----------+---------------------+--------------------'
  for case_ in "${cases[@]}"; do
    a="$(echo "${values[counted_$case_]}" | median)"; b="$(echo "${values[uncounted_$case_]}" | median)"
    if [[ $1 == samples ]]; then
      u="$(unit "$case_" req/s B/s)"; r="$(ratio "$a" "$b")"; c="$(cost "$b" "$a")"
      p="$(paired_ratio "${values[counted_$case_]}" "${values[uncounted_$case_]}")"
    else
      u="$(unit "$case_" us/req ms/GiB)"; r="$(ratio "$b" "$a")"; c="$(cost "$a" "$b")"
      p="$(paired_ratio "${values[uncounted_$case_]}" "${values[counted_$case_]}")"
    fi
    printf '%-9s | %-13s | %-13s | %-9s | %-8s | %-4s | %-9s | %-19s | %s\n' "$(name "$case_")" "$(fmt "$a" "$u")" "$(fmt "$b" "$u")" \
      "${r}x" "$c" "$(met "$r")" "${p}x" "$(range "${values[counted_$case_]}" "$u")" "$(range "${values[uncounted_$case_]}" "$u")"
  done
}

echo "medians of $ROUNDS rounds; counted and uncounted alternated (order flipped each round)"
echo "throughput: counted / uncounted >= $TARGET is a cost of at most 3 %"
table samples
echo
echo "server CPU per unit of work (schedstat of the server's threads; depends less on other load than throughput)"
echo "ratio is uncounted / counted CPU, so < $TARGET is a cost above 3 %, as in the table above"
table costs
# perf_share LABEL CASE: one more run of CASE against the counted server under perf record; prints
# the counting code's share of the server's samples, the sample count and the largest parts.
perf_share() {
  local data="$work/perf.$2.data" perf_pid SMALL_REQUESTS=$((SMALL_REQUESTS * 3))  # more samples
  perf record -q -F "$PERF_HZ" -p "$counted_pid" -o "$data" -- sleep "$RUN_TIMEOUT" >/dev/null 2>&1 &
  perf_pid=$!
  sleep 1  # perf attaches
  run "$1" counted "$2" >/dev/null
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" || true
  perf report -i "$data" --no-children --sort dso,sym -g none --stdio -t ';' 2>/dev/null | perf_counting_share "$(basename "$COUNTED")"
}

if [[ "$PERF" == 1 ]]; then
  echo
  echo "perf (the counted server's CPU samples, -F $PERF_HZ, one more run each): share in the counting code"
  for case_ in h1_small h2_small; do
    log "perf $(name "$case_")"
    printf '%-9s | %s\n' "$(name "$case_")" "$(perf_share perf "$case_")"
  done
fi

echo
echo "raw samples in run order (value | server CPU cost | client CPU cost):"
for case_ in "${cases[@]}"; do
  for side in counted uncounted; do
    key="${side}_$case_"
    printf '  %-20s%s  |%s  |%s\n' "$key" "${samples[$key]}" "${costs[$key]}" "${client_costs[$key]}"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
