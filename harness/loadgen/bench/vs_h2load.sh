#!/usr/bin/env bash
# Throughput of loadgen vs h2load against the same h2c server, alternating runs.
# Server pinned to core 0 (one thread), clients pinned to core 1. Prints the median req/s of
# each tool per path and the ratio loadgen/h2load.
#
# usage: vs_h2load.sh [--nghttpd]
#   env: REFSERVER (default: <repo>/build/bin/refserver-glibc), LOADGEN (default:
#        <repo>/build/bin/loadgen), REQUESTS (100000), ROUNDS (3), PATHS ("/bytes/65536 /bytes/1024")
#   --nghttpd: serve static pattern files with nghttpd instead (when refserver is not built).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
REFSERVER=${REFSERVER:-$repo/build/bin/refserver-glibc}
LOADGEN=${LOADGEN:-$repo/build/bin/loadgen}
REQUESTS=${REQUESTS:-100000}
ROUNDS=${ROUNDS:-3}
PATHS=${PATHS:-/bytes/65536 /bytes/1024}
use_nghttpd=0
[[ ${1:-} == --nghttpd ]] && use_nghttpd=1

for tool in h2load taskset python3; do
  command -v "$tool" >/dev/null || { echo "vs_h2load: $tool not found" >&2; exit 1; }
done
[[ -x $LOADGEN ]] || { echo "vs_h2load: loadgen not found at $LOADGEN (set LOADGEN)" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if (( use_nghttpd )); then
  command -v nghttpd >/dev/null || { echo "vs_h2load: nghttpd not found" >&2; exit 1; }
  mkdir -p "$work/docroot/bytes"
  for p in $PATHS; do
    python3 -c "import sys; n=int(sys.argv[1].rsplit('/',1)[1]); open(sys.argv[2],'wb').write(bytes(i%251 for i in range(n)))" \
      "$p" "$work/docroot$p"
  done
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  taskset -c 0 nghttpd --no-tls -d "$work/docroot" "$port" >"$work/server.out" 2>&1 &
  server_pid=$!
  sleep 0.5
  addr=127.0.0.1:$port
  server_name="nghttpd (static files)"
else
  [[ -x $REFSERVER ]] || { echo "vs_h2load: refserver not found at $REFSERVER (set REFSERVER or use --nghttpd)" >&2; exit 1; }
  taskset -c 0 "$REFSERVER" --threads 1 --port 0 >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
    sleep 0.1
  done
  addr=$(sed -n '1s/^listening on //p' "$work/server.out")
  [[ -n $addr ]] || { echo "vs_h2load: refserver did not report its address" >&2; cat "$work/server.err" >&2; exit 1; }
  server_name="refserver-glibc --threads 1"
fi

server_cpu_s() {  # utime + stime of the server so far, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$server_pid/stat"
}

# Runs a client on core 1; prints "req/s client_busy server_busy": the share of the run's wall
# time each side spent on CPU. A tool at 1.00 is the bottleneck; one well below 1.00 while the
# server is at 1.00 waits for the server, so the server sets the figure.
measure() {  # tool url
  local tool=$1 url=$2 out before after rps
  before=$(server_cpu_s)
  if [[ $tool == h2load ]]; then
    out=$(/usr/bin/time -f '%e %U %S' -o "$work/time" taskset -c 1 h2load -n "$REQUESTS" -c 4 -m 10 "$url")
    grep -q "succeeded, 0 failed, 0 errored" <<<"$out" || grep -q " $REQUESTS succeeded" <<<"$out" ||
      { echo "vs_h2load: h2load had failures:" >&2; echo "$out" >&2; exit 1; }
    rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
  else
    out=$(/usr/bin/time -f '%e %U %S' -o "$work/time" taskset -c 1 "$LOADGEN" --url "$url" --protocol h2c \
            --requests "$REQUESTS" --connections 4 --streams 10) ||
      { echo "vs_h2load: loadgen failed:" >&2; echo "$out" >&2; exit 1; }
    rps=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_per_s"])' <<<"$out")
  fi
  after=$(server_cpu_s)
  read -r wall user sys <"$work/time"
  awk -v r="$rps" -v w="$wall" -v u="$user" -v s="$sys" -v b="$before" -v a="$after" \
    'BEGIN {printf "%.0f %.2f %.2f\n", r, (u + s) / w, (a - b) / w}'
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: numbers are noisy)"
echo "server: $server_name at $addr (core 0); clients on core 1; h2c, -c 4 -m 10, $REQUESTS requests, $ROUNDS rounds"
printf '%-16s %12s %12s %7s   %s\n' path h2load_rps loadgen_rps ratio "CPU busy, medians (client/server): h2load | loadgen"
for path in $PATHS; do
  url="http://$addr$path"
  declare -A runs=([h2load]="" [loadgen]="")
  for round in $(seq "$ROUNDS"); do
    order=(h2load loadgen)
    (( round % 2 )) || order=(loadgen h2load)  # alternate who goes first: neither always meets a warmed-up server
    for tool in "${order[@]}"; do runs[$tool]+="$(measure "$tool" "$url")"$'\n'; done
  done
  field() { awk -v c="$2" 'NF {print $c}' <<<"${runs[$1]}"; }
  hm=$(median $(field h2load 1)) lm=$(median $(field loadgen 1))
  printf '%-16s %12.0f %12.0f %7.3f   %s/%s | %s/%s   (h2load: %s| loadgen: %s)\n' "$path" "$hm" "$lm" \
    "$(awk -v a="$lm" -v b="$hm" 'BEGIN {print a / b}')" \
    "$(median $(field h2load 2))" "$(median $(field h2load 3))" \
    "$(median $(field loadgen 2))" "$(median $(field loadgen 3))" \
    "$(field h2load 1 | tr '\n' ' ')" "$(field loadgen 1 | tr '\n' ' ')"
done
