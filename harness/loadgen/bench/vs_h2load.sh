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

h2load_rps() {  # url -> req/s on stdout
  local out
  out=$(taskset -c 1 h2load -n "$REQUESTS" -c 4 -m 10 "$1")
  grep -q "succeeded, 0 failed, 0 errored" <<<"$out" || grep -q " $REQUESTS succeeded" <<<"$out" ||
    { echo "vs_h2load: h2load had failures:" >&2; echo "$out" >&2; exit 1; }
  sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out"
}

loadgen_rps() {  # url -> req/s on stdout
  local out
  out=$(taskset -c 1 "$LOADGEN" --url "$1" --protocol h2c --requests "$REQUESTS" --connections 4 --streams 10) ||
    { echo "vs_h2load: loadgen failed:" >&2; echo "$out" >&2; exit 1; }
  python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_per_s"])' <<<"$out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: numbers are noisy)"
echo "server: $server_name at $addr (core 0); clients on core 1; h2c, -c 4 -m 10, $REQUESTS requests, $ROUNDS rounds"
printf '%-16s %14s %14s %8s\n' path h2load_rps loadgen_rps ratio
for path in $PATHS; do
  url="http://$addr$path"
  h=() l=()
  for round in $(seq "$ROUNDS"); do
    if (( round % 2 )); then  # alternate who goes first, so neither always runs on a warmed-up server
      h+=("$(h2load_rps "$url")")
      l+=("$(loadgen_rps "$url")")
    else
      l+=("$(loadgen_rps "$url")")
      h+=("$(h2load_rps "$url")")
    fi
  done
  hm=$(median "${h[@]}")
  lm=$(median "${l[@]}")
  printf '%-16s %14.0f %14.0f %8.3f   (h2load: %s | loadgen: %s)\n' "$path" "$hm" "$lm" \
    "$(awk -v a="$lm" -v b="$hm" 'BEGIN {print a / b}')" "${h[*]}" "$(printf '%.0f ' "${l[@]}")"
done
