#!/usr/bin/env bash
# refserver_vs_peers.sh: hold the reference server to the best servers on this machine.
#
# memgate measures memory effects through the reference server, so that server must
# not be slow enough to hide or invent them. This script runs it beside strong peers,
# in one go, on the same two cores and with the same client, and prints medians and
# ratios:
#
#   case         refserver                              peer                           target
#   h1 1MiB      goodput of GET /bytes/1048576 (h1)     iperf3 loopback, 1 stream      >= 0.95x
#   h2c 1MiB     goodput of GET /bytes/1048576 (h2c)    iperf3 loopback, 1 stream      >= 0.95x
#   h1 1KiB      req/s of GET /bytes/1024 (h1)          nginx, 1 worker, static 1 KiB  >= 1.0x
#   h2c 1KiB     req/s of GET /bytes/1024 (h2c)         nghttpd -n 1, static 1 KiB     >= 1.2x
# and, as controls without a target, 1 MiB against nginx (h1) and nghttpd (h2c) serving
# a static 1 MiB file: iperf3 has no HTTP client to feed, h2load reads 8 KiB at a time,
# so these say how much of the iperf3 gap any HTTP server pays with this client.
# A second table gives each server's CPU per unit of work (from /proc schedstat),
# which depends less on what else runs on the machine than throughput does.
#
# refserver runs as `refserver-glibc --threads 1 --copy=writev`. Every server (and the
# iperf3 server, which sends: `-R`, the direction of an HTTP response) is pinned to
# core 0 with taskset, every client to core 1. The client is h2load (`--h1` for
# HTTP/1.1, prior-knowledge h2c otherwise) for all HTTP cases; h1 1KiB is run a second
# time with wrk (`-t 1`, for WRK_SECONDS), so that figure does not rest on h2load's h1 mode
# alone. Per round the runs alternate refserver, peer, refserver, peer; medians over ROUNDS
# rounds are compared.
# Every h2load run must report all requests succeeded, all 2xx, and exactly
# requests x body-size DATA bytes, and every wrk run no socket error and no non-2xx/3xx
# answer, or the script fails loudly (exit 1).
#
# Usage (root or sudo; from anywhere):
#   bash server/bench/refserver_vs_peers.sh
# Environment knobs (defaults in brackets):
#   ROUNDS [3]            A/B rounds per case (at least 3)
#   BIG_REQUESTS [2000]   1 MiB requests per goodput run (h2load -c 1 -m 1)
#   SMALL_REQUESTS [60000] 1 KiB requests per req/s run
#   H1_CONNS [8]          h2load -c and wrk -c for h1 1KiB (no pipelining)
#   WRK_SECONDS [5]       wrk -d for each h1 1KiB wrk run
#   H2_CONNS [8] H2_STREAMS [16]  h2load -c and -m for h2c 1KiB
#   IPERF_SECONDS [3]     iperf3 -t
#   RUN_TIMEOUT [60]      timeout (s) on every client run
#   CONTROLS [1]          also run the control rows (0: skip them): 1 MiB against nginx
#                         and nghttpd with the same client, which tells a slow server
#                         from a slow client when the iperf3 ratio is low
#   REFSERVER [<repo>/build/bin/refserver-glibc]
#   SERVER_CPU [0] CLIENT_CPU [1]
# Installs nginx-light, nghttp2-server, nghttp2-client, wrk and iperf3 with apt-get if
# missing (idempotent). Uses loopback only; every server it starts is stopped on exit.
# Exit status: 0 when it ran (targets met or not: it is a benchmark, not a test),
# 1 when a run failed (non-2xx, wrong sizes, a server died, a timeout).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
BENCH=refserver_vs_peers
source "$here/lib.sh"

ROUNDS="${ROUNDS:-3}"
BIG_REQUESTS="${BIG_REQUESTS:-2000}"
SMALL_REQUESTS="${SMALL_REQUESTS:-60000}"
H1_CONNS="${H1_CONNS:-8}"
WRK_SECONDS="${WRK_SECONDS:-5}"
H2_CONNS="${H2_CONNS:-8}"
H2_STREAMS="${H2_STREAMS:-16}"
IPERF_SECONDS="${IPERF_SECONDS:-3}"
RUN_TIMEOUT="${RUN_TIMEOUT:-60}"
CONTROLS="${CONTROLS:-1}"
REFSERVER="${REFSERVER:-$repo/build/bin/refserver-glibc}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
BIG=1048576
SMALL=1024

[[ "$ROUNDS" -ge 3 ]] || die "ROUNDS must be at least 3 (got $ROUNDS)"
[[ -x "$REFSERVER" ]] || die "no reference server at $REFSERVER (build it: bash ci/build.sh)"
[[ "$(nproc)" -ge 2 ]] || die "needs 2 cores (client and server pinned apart); this machine has $(nproc)"

# ---- tools -----------------------------------------------------------------

ensure_tools nginx:nginx-light nghttpd:nghttp2-server h2load:nghttp2-client wrk:wrk iperf3:iperf3 taskset:util-linux \
  curl:curl pgrep:procps python3:python3
export PATH="$PATH:/usr/sbin:/sbin"

# ---- servers: started once, stopped on exit --------------------------------

bench_workdir refserver-vs-peers

mkdir -p "$work/www"
# The static files hold exactly what refserver's /bytes/N sends (byte i is i % 251).
write_pattern "$SMALL" "$work/www/1k.bin"
write_pattern "$BIG" "$work/www/1m.bin"
chmod 755 "$work" "$work/www"; chmod 644 "$work/www/"*.bin  # nginx's worker runs as nobody

start_refserver ref "$REFSERVER"

nginx_port="$(free_port)"
mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  # The fastest of the usual settings for a 1 KiB static file on this kind of machine:
  # sendfile+tcp_nopush costs cork/uncork and sendfile syscalls per response, and the
  # open-file cache saves open/fstat/close per request.
  sendfile off;
  tcp_nodelay on;
  open_file_cache max=16 inactive=60s;
  keepalive_timeout 65;
  keepalive_requests 10000000;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
  }
}
EOF
taskset -c "$SERVER_CPU" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx.log" 2>&1 &
nginx_pid=$!; pids+=("$nginx_pid")
wait_port "$nginx_port" "$nginx_pid" nginx

nghttpd_port="$(free_port)"
taskset -c "$SERVER_CPU" nghttpd --no-tls -n 1 -a 127.0.0.1 -d "$work/www" "$nghttpd_port" >"$work/nghttpd.log" 2>&1 &
nghttpd_pid=$!; pids+=("$nghttpd_pid")
wait_port "$nghttpd_port" "$nghttpd_pid" nghttpd

iperf_port="$(free_port)"
taskset -c "$SERVER_CPU" iperf3 -s -B 127.0.0.1 -p "$iperf_port" >"$work/iperf3.log" 2>&1 &
iperf_pid=$!; pids+=("$iperf_pid")
wait_port "$iperf_port" "$iperf_pid" iperf3

# ---- what is compared is the same size, and 200 ----------------------------

for f in 1k 1m; do
  size=$SMALL; [[ $f == 1m ]] && size=$BIG
  check_body "ref-h1-$f" "http://127.0.0.1:$ref_port/bytes/$size" "$work/www/$f.bin"
  check_body "ref-h2c-$f" "http://127.0.0.1:$ref_port/bytes/$size" "$work/www/$f.bin" --http2-prior-knowledge
  check_body "nginx-$f" "http://127.0.0.1:$nginx_port/$f.bin" "$work/www/$f.bin"
  check_body "nghttpd-$f" "http://127.0.0.1:$nghttpd_port/$f.bin" "$work/www/$f.bin" --http2-prior-knowledge
done

# ---- clients ---------------------------------------------------------------

iperf_run() {  # prints "bytes/s received by the client, server and client CPU ms/GiB"; the pinned server sends (-R)
  local label="$1" out="$work/iperf3.$1.json" cpu0 cpu1 TIMEFORMAT='%3U %3S'
  cpu0="$(server_cpu_ns "$iperf_pid")"
  { time timeout "$RUN_TIMEOUT" taskset -c "$CLIENT_CPU" iperf3 -c 127.0.0.1 -p "$iperf_port" -R -P 1 -t "$IPERF_SECONDS" -J \
    >"$out" 2>&1; } 2>"$out.time" || { alive "$iperf_pid" iperf3; die "$label: iperf3 failed: $(head -c 300 "$out")"; }
  cpu1="$(server_cpu_ns "$iperf_pid")"
  alive "$iperf_pid" iperf3
  python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["end"]["sum_received"]
gib = r["bytes"] / 2**30
print("%.0f %.1f %.1f" % (r["bits_per_second"] / 8, int(sys.argv[2]) / 1e6 / gib, float(sys.argv[3]) * 1e3 / gib))' \
    "$out" "$((cpu1 - cpu0))" "$(awk '{ print $1 + $2 }' "$out.time")" ||
    die "$label: could not read iperf3's report ($out)"
}

ref_h1_big()  { h2load_run "$1" "$ref_pid" ref "$BIG" goodput --h1 -n "$BIG_REQUESTS" -c 1 "http://127.0.0.1:$ref_port/bytes/$BIG"; }
ref_h2_big()  { h2load_run "$1" "$ref_pid" ref "$BIG" goodput -n "$BIG_REQUESTS" -c 1 -m 1 "http://127.0.0.1:$ref_port/bytes/$BIG"; }
nginx_big()   { h2load_run "$1" "$nginx_pid" nginx "$BIG" goodput --h1 -n "$BIG_REQUESTS" -c 1 "http://127.0.0.1:$nginx_port/1m.bin"; }
nghttpd_big() { h2load_run "$1" "$nghttpd_pid" nghttpd "$BIG" goodput -n "$BIG_REQUESTS" -c 1 -m 1 "http://127.0.0.1:$nghttpd_port/1m.bin"; }
ref_h1_small() { h2load_run "$1" "$ref_pid" ref "$SMALL" rps --h1 -n "$SMALL_REQUESTS" -c "$H1_CONNS" "http://127.0.0.1:$ref_port/bytes/$SMALL"; }
nginx_small()  { h2load_run "$1" "$nginx_pid" nginx "$SMALL" rps --h1 -n "$SMALL_REQUESTS" -c "$H1_CONNS" "http://127.0.0.1:$nginx_port/1k.bin"; }
ref_h1_small_wrk() { wrk_run "$1" "$ref_pid" ref "$SMALL" -t 1 -c "$H1_CONNS" -d "${WRK_SECONDS}s" "http://127.0.0.1:$ref_port/bytes/$SMALL"; }
nginx_small_wrk()  { wrk_run "$1" "$nginx_pid" nginx "$SMALL" -t 1 -c "$H1_CONNS" -d "${WRK_SECONDS}s" "http://127.0.0.1:$nginx_port/1k.bin"; }
ref_h2_small() { h2load_run "$1" "$ref_pid" ref "$SMALL" rps -n "$SMALL_REQUESTS" -c "$H2_CONNS" -m "$H2_STREAMS" "http://127.0.0.1:$ref_port/bytes/$SMALL"; }
nghttpd_small() { h2load_run "$1" "$nghttpd_pid" nghttpd "$SMALL" rps -n "$SMALL_REQUESTS" -c "$H2_CONNS" -m "$H2_STREAMS" "http://127.0.0.1:$nghttpd_port/1k.bin"; }

# ---- the machine -----------------------------------------------------------

echo "machine:  $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores online, kernel $(uname -r)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; a shared machine makes every number noisier)"
echo "pinning:  servers (refserver incl. its acceptor thread, nginx master+worker, nghttpd, iperf3 -s) on core $SERVER_CPU;"
echo "          clients (h2load, wrk, iperf3 -c) on core $CLIENT_CPU; loopback 127.0.0.1 only"
echo "refserver: $REFSERVER --threads 1 --copy=writev ($(sed -n 2p "$work/ref.log"))"
echo "peers:    $(nginx -v 2>&1 | sed 's/^nginx version: //') (worker_processes 1, access_log off, sendfile off, open_file_cache, keepalive),"
echo "          $(nghttpd --version | head -1) (--no-tls -n 1), $(iperf3 --version | head -1 | cut -d' ' -f1-2) (-R, 1 stream, ${IPERF_SECONDS}s)"
echo "client:   $(h2load --version | head -1); 1MiB: -c 1 -m 1 x $BIG_REQUESTS; h1 1KiB: -c $H1_CONNS x $SMALL_REQUESTS;" \
  "h2c 1KiB: -c $H2_CONNS -m $H2_STREAMS x $SMALL_REQUESTS"
echo "          $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); h1 1KiB: -t 1 -c $H1_CONNS -d ${WRK_SECONDS}s"
echo

# ---- warm-up (not measured), then ROUNDS rounds of A B ----------------------

log "warm-up"
BIG_REQUESTS_SAVED="$BIG_REQUESTS" SMALL_REQUESTS_SAVED="$SMALL_REQUESTS"
BIG_REQUESTS=200 SMALL_REQUESTS=5000
ref_h1_big warm >/dev/null; ref_h2_big warm >/dev/null; ref_h1_small warm >/dev/null
nginx_big warm >/dev/null; nghttpd_big warm >/dev/null
nginx_small warm >/dev/null; ref_h2_small warm >/dev/null; nghttpd_small warm >/dev/null
BIG_REQUESTS="$BIG_REQUESTS_SAVED" SMALL_REQUESTS="$SMALL_REQUESTS_SAVED"
WRK_SECONDS_SAVED="$WRK_SECONDS" WRK_SECONDS=1
ref_h1_small_wrk warm >/dev/null; nginx_small_wrk warm >/dev/null
WRK_SECONDS="$WRK_SECONDS_SAVED"

for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS"
  sample ref_h1_big ref_h1_big;     sample iperf_h1 iperf_run
  sample ref_h2_big ref_h2_big;     sample iperf_h2 iperf_run
  if [[ "$CONTROLS" == 1 ]]; then
    sample ref_h1_big_c ref_h1_big; sample nginx_big nginx_big
    sample ref_h2_big_c ref_h2_big; sample nghttpd_big nghttpd_big
  fi
  sample ref_h1_small ref_h1_small; sample nginx_small nginx_small
  sample ref_h1_small_wrk ref_h1_small_wrk; sample nginx_small_wrk nginx_small_wrk
  sample ref_h2_small ref_h2_small; sample nghttpd_small nghttpd_small
done

# ---- report ----------------------------------------------------------------

line='------------+--------------+-----------------+--------------+--------+--------+------+-----------------------+----------------------'
echo "throughput: medians of $ROUNDS rounds (refserver and peer alternated within each round); 1MiB rows are body bytes/s"
printf '%-11s | %-12s | %-15s | %-12s | %-6s | %-6s | %-4s | %-21s | %s\n' \
  case refserver peer "peer value" ratio target met? "refserver min..max" "peer min..max"
echo "$line"
row() {  # row CASE REF_KEY PEER_KEY PEER_NAME UNIT TARGET
  local ma mb ratio met
  ma="$(echo "${samples[$2]}" | median)"; mb="$(echo "${samples[$3]}" | median)"
  ratio="$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')"
  met="$(awk -v a="$ma" -v b="$mb" -v t="$6" 'BEGIN { print (t == "-") ? "-" : (a / b >= t) ? "yes" : "NO" }')"
  printf '%-11s | %-12s | %-15s | %-12s | %-6s | %-6s | %-4s | %-21s | %s\n' "$1" "$(fmt "$ma" "$5")" "$4" \
    "$(fmt "$mb" "$5")" "${ratio}x" "$([[ $6 == - ]] && echo - || echo ">=$6")" "$met" "$(range "${samples[$2]}" "$5")" "$(range "${samples[$3]}" "$5")"
}
row "h1 1MiB" ref_h1_big iperf_h1 "iperf3 -R" "B/s" 0.95
row "h2c 1MiB" ref_h2_big iperf_h2 "iperf3 -R" "B/s" 0.95
if [[ "$CONTROLS" == 1 ]]; then
  row "h1 1MiB" ref_h1_big_c nginx_big "nginx (control)" "B/s" "-"
  row "h2c 1MiB" ref_h2_big_c nghttpd_big "nghttpd (ctrl)" "B/s" "-"
fi
row "h1 1KiB" ref_h1_small nginx_small "nginx 1 worker" "req/s" 1.0
row "h1 1KiB wrk" ref_h1_small_wrk nginx_small_wrk "nginx 1 worker" "req/s" 1.0
row "h2c 1KiB" ref_h2_small nghttpd_small "nghttpd -n 1" "req/s" 1.2

echo
echo "CPU per unit of work (medians; depends less on other load than throughput does)"
echo "server: schedstat of the server's threads; peer/ref > 1 means refserver is cheaper. client: user+sys of the client"
printf '%-11s | %-13s | %-15s | %-13s | %-8s | %-17s | %s\n' case "refserver" peer "peer" "peer/ref" "client with ref" "client with peer"
echo '------------+---------------+-----------------+---------------+----------+-------------------+-----------------'
cost_row() {  # cost_row CASE REF_KEY PEER_KEY PEER_NAME UNIT
  local ca cb
  ca="$(echo "${costs[$2]}" | median)"; cb="$(echo "${costs[$3]}" | median)"
  printf '%-11s | %-13s | %-15s | %-13s | %-8s | %-17s | %s\n' "$1" "$(fmt "$ca" "$5")" "$4" "$(fmt "$cb" "$5")" \
    "$(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%.2fx", b / a }')" \
    "$(fmt "$(echo "${client_costs[$2]}" | median)" "$5")" "$(fmt "$(echo "${client_costs[$3]}" | median)" "$5")"
}
cost_row "h1 1MiB" ref_h1_big iperf_h1 "iperf3 -R" "ms/GiB"
cost_row "h2c 1MiB" ref_h2_big iperf_h2 "iperf3 -R" "ms/GiB"
if [[ "$CONTROLS" == 1 ]]; then
  cost_row "h1 1MiB" ref_h1_big_c nginx_big "nginx (control)" "ms/GiB"
  cost_row "h2c 1MiB" ref_h2_big_c nghttpd_big "nghttpd (ctrl)" "ms/GiB"
fi
cost_row "h1 1KiB" ref_h1_small nginx_small "nginx 1 worker" "us/req"
cost_row "h1 1KiB wrk" ref_h1_small_wrk nginx_small_wrk "nginx 1 worker" "us/req"
cost_row "h2c 1KiB" ref_h2_small nghttpd_small "nghttpd -n 1" "us/req"

echo
echo "raw samples in run order (value | server CPU cost | client CPU cost):"
controls=""; [[ "$CONTROLS" == 1 ]] && controls="ref_h1_big_c nginx_big ref_h2_big_c nghttpd_big"
for key in ref_h1_big iperf_h1 ref_h2_big iperf_h2 $controls ref_h1_small nginx_small ref_h1_small_wrk nginx_small_wrk \
  ref_h2_small nghttpd_small; do
  printf '  %-17s%s  |%s  |%s\n' "$key" "${samples[$key]}" "${costs[$key]}" "${client_costs[$key]}"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
