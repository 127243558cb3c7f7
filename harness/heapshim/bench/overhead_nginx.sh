#!/usr/bin/env bash
# overhead_nginx.sh: what the heap shim costs a real server. nginx (1 worker, 1 KiB static
# file, keep-alive) runs twice side by side, once plain and once with libmemgate_heapshim.so
# preloaded; h2load --h1 measures req/s against each in turn, alternating plain and shim within
# each round, and the script prints the medians and their ratio (shim / plain; 1.00 is free),
# and the same for the server's CPU per request (schedstat of master and worker), which depends
# less on whatever else runs on the machine than req/s does.
# The last lines are the shim's own sample of its nginx (master + worker summed), which shows
# it counted the server it slowed down.
#
# Usage (root or sudo, from anywhere):  bash harness/heapshim/bench/overhead_nginx.sh
# Environment (defaults in brackets): ROUNDS [5], REQUESTS [60000], CONNS [8],
#   SHIM [<repo>/build/bin/libmemgate_heapshim.so], SERVER_CPU [0], CLIENT_CPU [1]
# Installs nginx-light with apt-get if missing. Loopback only; both servers are stopped on exit.
# Exit status: 0 when it ran, 1 when a run failed (a non-2xx answer, a server gone).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
ROUNDS="${ROUNDS:-5}"
REQUESTS="${REQUESTS:-60000}"
CONNS="${CONNS:-8}"
SHIM="${SHIM:-$repo/build/bin/libmemgate_heapshim.so}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"

die() { echo "overhead_nginx: $*" >&2; exit 1; }
[[ -f "$SHIM" ]] || die "no shim at $SHIM (build it: bash ci/build.sh)"
command -v h2load >/dev/null || die "h2load is missing (nghttp2-client; bash ci/setup.sh installs it)"
export PATH="$PATH:/usr/sbin:/sbin"
if ! command -v nginx >/dev/null; then
  sudo=(); [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q nginx-light >/dev/null || die "apt-get install nginx-light failed"
fi

work="$(mktemp -d /tmp/heapshim-overhead.XXXXXX)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/www" "$work/shim"
head -c 1024 /dev/urandom >"$work/www/1k.bin"
chmod 755 "$work" "$work/www"; chmod 644 "$work/www/1k.bin"; chmod 1777 "$work/shim"  # the worker runs as nobody

start_nginx() {  # start_nginx NAME [env assignments...]: sets NAME_port and NAME_pid
  local name="$1" port; shift
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  mkdir -p "$work/$name/tmp"
  cat >"$work/$name/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/$name/nginx.pid;
error_log $work/$name/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile off;
  open_file_cache max=16;
  keepalive_requests 10000000;
  client_body_temp_path $work/$name/tmp;
  server { listen 127.0.0.1:$port; root $work/www; }
}
EOF
  env "$@" taskset -c "$SERVER_CPU" nginx -p "$work/$name" -c "$work/$name/nginx.conf" >"$work/$name.log" 2>&1 &
  pids+=("$!")
  printf -v "${name}_port" %s "$port"
  printf -v "${name}_pid" %s "$!"
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return; sleep 0.1; done
  die "$name nginx did not listen: $(cat "$work/$name.log" "$work/$name/error.log" 2>/dev/null | tail -3)"
}
start_nginx plain
start_nginx shim LD_PRELOAD="$SHIM" MEMGATE_SHIM_DIR="$work/shim"

server_cpu_ns() {  # server_cpu_ns PID: CPU time of nginx's master (PID) and its worker
  local pid
  for pid in "$1" $(pgrep -P "$1" || true); do cat /proc/"$pid"/task/*/schedstat 2>/dev/null; done | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

run() {  # run PORT PID: "req/s server-us/request" of one h2load run, after checking every request got a 2xx
  local out cpu0 cpu1
  cpu0="$(server_cpu_ns "$2")"
  out="$(timeout 120 taskset -c "$CLIENT_CPU" h2load --h1 -n "$REQUESTS" -c "$CONNS" "http://127.0.0.1:$1/1k.bin")" ||
    die "h2load against port $1 failed"
  cpu1="$(server_cpu_ns "$2")"
  awk -v n="$REQUESTS" -v cpu="$((cpu1 - cpu0))" '/^finished in/ { rps = $4 + 0 } /^status codes:/ { ok = $3 }
    END { if (ok != n) { print "only " ok " of " n " requests got a 2xx" > "/dev/stderr"; exit 1 } printf "%.0f %.2f\n", rps, cpu / 1e3 / n }' <<<"$out" ||
    die "a run against port $1 failed its check"
}
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

REQUESTS_MEASURED="$REQUESTS"; REQUESTS=5000
run "$plain_port" "$plain_pid" >/dev/null; run "$shim_port" "$shim_pid" >/dev/null  # warm-up
REQUESTS="$REQUESTS_MEASURED"
declare -A rps cost
for round in $(seq 1 "$ROUNDS"); do
  echo "# round $round/$ROUNDS" >&2
  for side in plain shim; do
    port="${side}_port"; pid="${side}_pid"
    read -r r c <<<"$(run "${!port}" "${!pid}")"
    rps[$side]="${rps[$side]:-} $r"; cost[$side]="${cost[$side]:-} $c"
  done
done

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), 1 worker on core $SERVER_CPU, h2load --h1 -c $CONNS -n $REQUESTS on core $CLIENT_CPU"
for side in plain shim; do
  printf '%-6s median %7.0f req/s, %6.2f us server CPU/request  (req/s:%s)\n' "$side" \
    "$(echo "${rps[$side]}" | median)" "$(echo "${cost[$side]}" | median)" "${rps[$side]}"
done
awk -v a="$(echo "${rps[shim]}" | median)" -v b="$(echo "${rps[plain]}" | median)" \
  -v ca="$(echo "${cost[shim]}" | median)" -v cb="$(echo "${cost[plain]}" | median)" \
  'BEGIN { printf "ratio shim/plain: req/s %.3f, server CPU per request %.3f\n", a / b, ca / cb }'
echo "the shim's sample of its nginx:"
cd "$repo" && /usr/bin/python3 -m harness.driver.heapshim "$work/shim" |
  /usr/bin/python3 -c 'import json, sys; r = json.load(sys.stdin)
for p in r["processes"]:
    print("  pid %d (%s): live %d bytes, %d allocations" % (p["pid"], "worker" if p["inherited_live_bytes"] else "master", p["live_bytes"], p["allocations"]))
print("  sum: live %d bytes, %d allocations, heap seen: %s" % (r["live_bytes"], r["allocations"], r["heap_seen"]))'
