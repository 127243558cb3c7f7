# lib.sh: what the server/bench scripts share, sourced by them (and by test_bench.py for the
# parsers): tools, servers started once and stopped on exit, the clients' runs and the checks on
# their output, and the medians and formats of the report. A script sets BENCH (its name, for
# messages), RUN_TIMEOUT, SERVER_CPU and CLIENT_CPU before calling what needs them.

die() { echo "${BENCH:-bench}: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }

# ensure_tools COMMAND:PACKAGE...: apt-get installs the packages whose command is missing (idempotent).
ensure_tools() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || [[ -x "/usr/sbin/${pair%%:*}" ]] || missing+=("${pair#*:}")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { "${sudo[@]}" apt-get update -q >/dev/null 2>&1 && "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null; } ||
    die "apt-get install ${missing[*]} failed"
}

# ---- servers: started once, stopped on exit --------------------------------

# bench_workdir PREFIX: makes $work and stops every pid in $pids on exit.
bench_workdir() {
  work="$(mktemp -d "/tmp/$1.XXXXXX")"
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {  # wait_port PORT PID NAME
  local _
  for _ in $(seq 1 50); do
    kill -0 "$2" 2>/dev/null || die "$3 exited at start (see $work/$3.log): $(tail -3 "$work/$3.log" 2>/dev/null)"
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  die "$3 did not listen on 127.0.0.1:$1"
}

alive() {  # alive PID NAME: after each run, a dead server is a failed benchmark
  kill -0 "$1" 2>/dev/null ||
    die "$2 (pid $1) died during the benchmark (see $work/$2.log; another job's pkill can do this)"
}

write_pattern() {  # write_pattern SIZE FILE: what refserver's /bytes/SIZE sends (byte i is i % 251)
  python3 -c "import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(int(sys.argv[1]))))" "$1" >"$2"
}

# start_refserver NAME BINARY: `BINARY --threads 1 --copy=writev` on a free port, pinned to
# SERVER_CPU; sets NAME_pid and NAME_port. Arguments in the documented order, --port 0, the port
# from its first line.
start_refserver() {
  local name="$1" binary="$2" pid port
  taskset -c "$SERVER_CPU" "$binary" --threads 1 --copy=writev --host 127.0.0.1 --port 0 >"$work/$name.log" 2>&1 &
  pid=$!; pids+=("$pid")
  for _ in $(seq 1 50); do grep -qs '^listening on' "$work/$name.log" && break; sleep 0.1; done
  port="$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/$name.log" | head -1)"
  [[ -n "$port" ]] || die "$name did not start: $(cat "$work/$name.log")"
  wait_port "$port" "$pid" "$name"
  printf -v "${name}_pid" %s "$pid"
  printf -v "${name}_port" %s "$port"
}

check_body() {  # check_body NAME URL FILE [curl flags]: 200, and byte for byte the same as FILE
  local name="$1" url="$2" file="$3"; shift 3
  local out="$work/body.$name" code
  code="$(timeout 10 curl -s "$@" -o "$out" -w '%{http_code}' "$url")" || die "$name: curl $url failed"
  [[ "$code" == 200 ]] || die "$name: $url answered $code, not 200"
  cmp -s "$out" "$file" || die "$name: $url gave $(stat -c %s "$out") bytes, not the $(stat -c %s "$file") of $file"
}

# ---- clients ---------------------------------------------------------------

# Server CPU in ns (all threads of PID and of its direct children: nginx's worker),
# from /proc/*/task/*/schedstat. Throughput on a shared machine depends on who else
# runs; CPU per unit of work depends much less on that.
server_cpu_ns() {
  local pids=("$1") pid
  mapfile -t -O 1 pids < <(pgrep -P "$1" || true)
  for pid in "${pids[@]}"; do cat /proc/"$pid"/task/*/schedstat 2>/dev/null; done | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# h2load_parse OUT N BODY_BYTES MODE LABEL SERVER_CPU_NS CLIENT_CPU_S: h2load's report in OUT,
# as "VALUE SERVER_COST CLIENT_COST". MODE rps: req/s and CPU us/request; MODE goodput: body
# bytes/s and CPU ms/GiB. Exit 1 (naming what is wrong) unless all N requests succeeded with 2xx
# and DATA == N x BODY_BYTES.
h2load_parse() {
  awk -v n="$2" -v size="$3" -v mode="$4" -v label="$5" -v cpu="$6" -v client="$7" '
    /^finished in/ { rps = $4 + 0 }
    /^requests:/   { total = $2; ok = $8; failed = $10; errored = $12; tmo = $14 }
    /^status codes:/ { s2 = $3; s3 = $5; s4 = $7; s5 = $9 }
    /^traffic:/    { for (i = 1; i <= NF; i++) if ($i == "data") { d = $(i - 1); gsub(/[()]/, "", d) } }
    END {
      bad = ""
      if (ok != n || failed != 0 || errored != 0 || tmo != 0) bad = bad " requests: " total " total, " ok " succeeded, " failed " failed, " errored " errored, " tmo " timeout;"
      if (s2 != n || s3 + s4 + s5 != 0) bad = bad " status codes: " s2 " 2xx, " s3 " 3xx, " s4 " 4xx, " s5 " 5xx;"
      if (d + 0 != n * size) bad = bad " data bytes " d " != " n " x " size ";"
      if (rps <= 0) bad = bad " no req/s;"
      if (bad != "") { print label ":" bad > "/dev/stderr"; exit 1 }
      if (mode == "goodput") printf "%.0f %.1f %.1f\n", d * rps / ok, cpu / 1e6 / (d / 1073741824), client * 1e3 / (d / 1073741824)
      else printf "%.2f %.2f %.2f\n", rps, cpu / 1e3 / ok, client * 1e6 / ok
    }' "$1"
}

# wrk_parse OUT BODY_BYTES LABEL SERVER_CPU_NS CLIENT_CPU_S: wrk's report in OUT as "req/s SERVER
# us/request CLIENT us/request". Exit 1 unless some requests completed, none was answered
# outside 2xx/3xx, no socket error occurred, and at least BODY_BYTES were read per request
# (wrk counts headers too and rounds its byte count, so this is a floor, not an exact check).
wrk_parse() {
  awk -v size="$2" -v label="$3" -v cpu="$4" -v client="$5" '
    function bytes(s,   unit) {
      unit = s; gsub(/[0-9.]/, "", unit); s += 0
      return s * (unit == "KB" ? 1024 : unit == "MB" ? 1048576 : unit == "GB" ? 1073741824 : unit == "TB" ? 1099511627776 : 1)
    }
    / requests in / { n = $1 + 0; read = bytes($5) }
    /^ *Socket errors:/ { errors = $4 + $6 + $8 + $10 }
    /^ *Non-2xx or 3xx responses:/ { non2xx = $5 + 0 }
    /^Requests\/sec:/ { rps = $2 + 0 }
    END {
      bad = ""
      if (n <= 0) bad = bad " no requests completed;"
      if (errors + 0 != 0) bad = bad " " errors " socket errors;"
      if (non2xx + 0 != 0) bad = bad " " non2xx " responses outside 2xx/3xx;"
      if (n > 0 && read < 0.99 * n * size) bad = bad " read " read " bytes, under " n " x " size ";"
      if (rps <= 0) bad = bad " no req/s;"
      if (bad != "") { print label ":" bad > "/dev/stderr"; exit 1 }
      printf "%.2f %.2f %.2f\n", rps, cpu / 1e3 / n, client * 1e6 / n
    }' "$1"
}

# timed_client LABEL SERVER_PID SERVER_NAME OUT client-argv...: runs the client pinned to
# CLIENT_CPU under RUN_TIMEOUT; sets cpu_ns (the server's CPU during the run) and client_s
# (the client's user+sys seconds). Fails when the client fails or the server died.
timed_client() {
  local label="$1" pid="$2" server="$3" out="$4" cpu0 cpu1 TIMEFORMAT='%3U %3S'; shift 4
  cpu0="$(server_cpu_ns "$pid")"
  if ! { time timeout "$RUN_TIMEOUT" taskset -c "$CLIENT_CPU" "$@" >"$out" 2>&1; } 2>"$out.time"; then
    alive "$pid" "$server"
    die "$label: $1 failed or timed out after ${RUN_TIMEOUT}s: $(grep -E 'requests:|status codes:|requests in|errors' "$out" | tr '\n' ' ')"
  fi
  cpu1="$(server_cpu_ns "$pid")"
  alive "$pid" "$server"
  cpu_ns=$((cpu1 - cpu0))
  client_s="$(awk '{ print $1 + $2 }' "$out.time")"
}

# h2load_run LABEL SERVER_PID SERVER_NAME BODY_BYTES MODE h2load-args...: prints h2load_parse's line.
h2load_run() {
  local label="$1" pid="$2" server="$3" size="$4" mode="$5" n out cpu_ns client_s; shift 5
  out="$work/h2load.$label.txt"
  n="$(printf '%s\n' "$@" | awk '/^-n$/ { getline; print }' | head -1)"
  timed_client "$label" "$pid" "$server" "$out" h2load "$@"
  h2load_parse "$out" "$n" "$size" "$mode" "$label" "$cpu_ns" "$client_s" ||
    die "$label: h2load output failed the checks (kept in $out)"
}

# wrk_run LABEL SERVER_PID SERVER_NAME BODY_BYTES wrk-args...: prints wrk_parse's line.
wrk_run() {
  local label="$1" pid="$2" server="$3" size="$4" out cpu_ns client_s; shift 4
  out="$work/wrk.$label.txt"
  timed_client "$label" "$pid" "$server" "$out" wrk "$@"
  wrk_parse "$out" "$size" "$label" "$cpu_ns" "$client_s" || die "$label: wrk output failed the checks (kept in $out)"
}

# ---- perf: the counting code's share of a counted server's samples ----------

# The counting code in a perf report of the counted server: the interposed malloc family and
# C++ operators and the core's functions in the binary, the charge scopes, and libc's
# malloc_usable_size, which only the core calls.
counting_symbols='^(heapshim_.*|malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|operator new.*|operator delete.*|memgate::metrics::allocations_of.*|memgate::metrics::charged_protocol.*)$'

# perf_counting_share BINARY_NAME: reads `perf report -t ';'` lines (percent;dso;[.] symbol) and
# prints "SHARE% of N samples: symbol share, ..." for the counting code in BINARY_NAME and libc.
perf_counting_share() {
  awk -F';' -v exe="$1" -v pattern="$counting_symbols" '
    /^# Samples:/ { samples = $0; sub(/.*Samples: */, "", samples); sub(/ .*/, "", samples) }
    /^#/ || NF < 3 { next }
    {
      pct = $1; gsub(/[ %]/, "", pct); dso = $2; gsub(/ /, "", dso); sym = $3; sub(/^ *\[.\] */, "", sym); sub(/ +$/, "", sym)
      if ((dso == exe && sym ~ pattern) || (dso ~ /^libc\.so/ && sym ~ /malloc_usable_size/)) {
        share += pct; parts[sym] += pct
      }
    }
    END {
      printf "%.2f%% of %s samples:", share, samples
      n = 0
      for (sym in parts) order[++n] = sym
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (parts[order[j]] > parts[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
      for (i = 1; i <= n && i <= 5; i++) printf "%s %s %.2f%%", (i > 1 ? "," : ""), order[i], parts[order[i]]
      print ""
    }'
}

# ---- samples and the report --------------------------------------------------

declare -A samples costs client_costs
# sample KEY RUNNER [ARGS...]: one measured run, `RUNNER LABEL ARGS...`; the value, server and
# client CPU cost it prints are appended to KEY's.
sample() {
  local out fields
  out="$("$2" "r$round.$1" "${@:3}")" || exit 1
  read -r -a fields <<<"$out"
  samples[$1]="${samples[$1]:-} ${fields[0]}"
  costs[$1]="${costs[$1]:-} ${fields[1]}"
  client_costs[$1]="${client_costs[$1]:-} ${fields[2]}"
}

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
lo() { tr ' ' '\n' | awk 'NF' | sort -g | head -1; }
hi() { tr ' ' '\n' | awk 'NF' | sort -g | tail -1; }
fmt() {  # fmt VALUE UNIT
  awk -v v="$1" -v u="$2" 'BEGIN {
    if (u == "B/s") printf "%.0f MiB/s", v / 1048576
    else if (u == "req/s") printf "%.0f req/s", v
    else printf "%.1f %s", v, u }'
}
range() { echo "$(fmt "$(echo "$1" | lo)" "$2" | sed 's/ .*//')..$(fmt "$(echo "$1" | hi)" "$2")"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }  # ratio A B: A / B
# paired_ratio "A1 A2 ..." "B1 B2 ...": the median of A_i / B_i, runs of one round side by side,
# which a change in the machine's load between rounds moves less than the ratio of medians.
paired_ratio() {
  paste -d' ' <(echo "$1" | tr ' ' '\n' | awk 'NF') <(echo "$2" | tr ' ' '\n' | awk 'NF') |
    awk '{ printf "%s ", $1 / $2 }' | median | awk '{ printf "%.3f", $1 }'
}
