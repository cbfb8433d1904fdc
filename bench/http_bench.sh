#!/usr/bin/env bash
# http_bench.sh - how close sparselawd comes to what libmicrohttpd itself can
# serve. Starts sparselawd (on a fresh data dir) and bench/mhd_ceiling (the
# same daemon flags, options and thread count, answering a fixed 1425-byte
# JSON body) and drives both with wrk against one real planning query.
#
#   bench/http_bench.sh [BUILD_DIR]        (default ./build)
#
# Prints both throughputs, sparselaw/ceiling, both p99 latencies, the non-2xx
# counts and each server's CPU time per request (the steadier number on a
# small or shared box, where wrk competes with the servers for the cores),
# then one JSON summary line. Exits 1 when sparselawd answered anything but
# 2xx (or a server would not start or answer 200 first), 0 otherwise.
#
# Settings (environment):
#   THREADS=<cores>   --threads of both servers
#   WRK_THREADS=2 WRK_CONNS=32 WRK_DURATION=10s   the measured wrk runs
#   WARMUP=3s         an unmeasured wrk run against each server first
#   ROUNDS=1          measured rounds (sparselaw then ceiling, alternating);
#                     the medians are reported
#   SL_PATH=/v1/laws/t5-c4/optimal-sparsity?nonzeros=1e9&data=2e11
#   SL_LOG=<tmp>/sparselawd.log   where sparselawd's stderr (one JSON line
#                     per request) goes; a regular file by default, as in
#                     production behind a log collector. SL_LOG=/dev/null
#                     measures without the cost of the write.
#   KEEP_TMP=1        keep the temporary dir (data dir, logs, wrk output)
#
# wrk is the one thing it installs, through scripts/deps.sh, and only when
# wrk is missing (deps.sh then installs any other missing build package too).
# mhd_ceiling is taken from BUILD_DIR when built there, else compiled into
# the temporary dir with cc and pkg-config.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=$(cd "${1:-./build}" && pwd)

cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
THREADS=${THREADS:-$cores}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-32}
WRK_DURATION=${WRK_DURATION:-10s}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-1}
SL_PATH=${SL_PATH:-/v1/laws/t5-c4/optimal-sparsity?nonzeros=1e9&data=2e11}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sl-bench.XXXXXX")
SL_LOG=${SL_LOG:-$tmp/sparselawd.log}
pids=()
wrk_pid=
cleanup() {
    local pid
    if [ -n "$wrk_pid" ]; then kill -TERM "$wrk_pid" 2>/dev/null || true; wait "$wrk_pid" 2>/dev/null || true; fi
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "http_bench: $*" >&2; exit 1; }

# ------------------------------------------------------------------ tools
if ! command -v wrk >/dev/null 2>&1; then
    echo "http_bench: wrk is missing; installing it with scripts/deps.sh" >&2
    "$root/scripts/deps.sh" build
    command -v wrk >/dev/null 2>&1 || die "wrk is still missing after scripts/deps.sh"
fi
command -v curl >/dev/null 2>&1 || die "curl is needed (scripts/deps.sh installs it)"

sparselawd=$build/sparselawd
[ -x "$sparselawd" ] || die "$sparselawd is not built (cd build && cmake .. && make)"
ceiling=$build/mhd_ceiling
if [ ! -x "$ceiling" ]; then
    ceiling=$tmp/mhd_ceiling
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(pkg-config --cflags libmicrohttpd) \
        "$here/mhd_ceiling.c" -o "$ceiling" $(pkg-config --libs libmicrohttpd) -lpthread ||
        die "cannot compile bench/mhd_ceiling.c"
fi

# ---------------------------------------------------------------- servers
# start NAME LOG PORT CMD...: starts a server with --port PORT and its stderr
# to LOG, and sets $port. With PORT 0 the port is read from the server's
# {"event":"listening","port":N} line in LOG; when LOG is /dev/null (nothing
# to read back) the caller picks a free port first and it is probed instead.
free_port() {
    # bind to port 0, read the port back, close: good enough on a quiet box.
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}
start() {
    local name=$1 log=$2 want=$3
    shift 3
    "$@" --port "$want" 2>"$log" &
    pids+=($!)
    local pid=$! _
    port=
    spid=$pid
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || die "$name exited at start: $(tail -n 3 "$log" 2>/dev/null)"
        if [ "$want" != 0 ]; then
            curl -s -o /dev/null "http://127.0.0.1:$want/" && { port=$want; return; }
        else
            port=$(grep -o '"event":"listening"[^}]*"port":[0-9]*' "$log" 2>/dev/null |
                grep -o '"port":[0-9]*' | head -n 1 | cut -d: -f2) || true
            [ -n "$port" ] && return
        fi
        sleep 0.1
    done
    die "$name did not start listening within 10 s"
}

datadir=$tmp/data
mkdir -p "$datadir"
if [ "$SL_LOG" = /dev/null ]; then sl_want=$(free_port); else sl_want=0; fi
start sparselawd "$SL_LOG" "$sl_want" "$sparselawd" --data-dir "$datadir" --threads "$THREADS"
sl_port=$port
sl_pid=$spid
start mhd_ceiling "$tmp/mhd_ceiling.log" 0 "$ceiling" --threads "$THREADS"
ceil_port=$port
ceil_pid=$spid
sl_url="http://127.0.0.1:$sl_port$SL_PATH"
ceil_url="http://127.0.0.1:$ceil_port$SL_PATH"

# Both must answer 200 before anything is measured.
for u in "$sl_url" "$ceil_url"; do
    code=$(curl -s -o "$tmp/preflight.json" -w '%{http_code}' "$u") || code=000
    [ "$code" = 200 ] || die "GET $u answered $code: $(head -c 300 "$tmp/preflight.json" 2>/dev/null)"
done
sl_bytes=$(curl -s "$sl_url" | wc -c)
ceil_bytes=$(curl -s "$ceil_url" | wc -c)

# -------------------------------------------------------------------- wrk
# run_wrk URL DURATION OUT: the WRK_JSON line of wrk_report.lua into OUT.
# wrk runs in the background so that INT/TERM stop the script (and it) at once.
run_wrk() {
    wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$2" --latency -s "$here/wrk_report.lua" "$1" \
        >"$3.txt" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || die "wrk failed: $(tail -n 5 "$3.txt")"
    wrk_pid=
    grep '^WRK_JSON ' "$3.txt" | sed 's/^WRK_JSON //' >"$3" || die "no summary from wrk: $3.txt"
}
# jget FILE KEY: the number after "KEY": in FILE (keys are unique there).
jget() { grep -o "\"$2\":[0-9.eE+-]*" "$1" | head -n 1 | cut -d: -f2; }
# non2xx FILE: responses of 400 and up (wrk's "Non-2xx or 3xx responses").
non2xx() { jget "$1" status; }
sockerr() { awk -v a="$(jget "$1" connect)" -v b="$(jget "$1" read)" -v c="$(jget "$1" write)" \
    -v d="$(jget "$1" timeout)" 'BEGIN { print a + b + c + d }'; }
# cpu_ticks PID: user + system clock ticks the process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
# measure NAME PID URL ROUND: one wrk run, plus the server's CPU per request
# (robust where the throughput is not: a small box shared with wrk and others).
measure() {
    local t0 t1
    t0=$(cpu_ticks "$2")
    run_wrk "$3" "$WRK_DURATION" "$tmp/$1-$4.json"
    t1=$(cpu_ticks "$2")
    awk -v a="$t0" -v b="$t1" -v hz="$hz" -v n="$(jget "$tmp/$1-$4.json" requests)" \
        'BEGIN { printf "%.1f\n", (n > 0 ? (b - a) / hz * 1e6 / n : 0) }' >"$tmp/$1-$4.cpu"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "sparselawd  port $sl_port, --threads $THREADS, log -> $SL_LOG, body $sl_bytes B"
echo "mhd_ceiling port $ceil_port, --threads $THREADS, body $ceil_bytes B"
echo "wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION --latency (warm-up $WARMUP each), $ROUNDS round(s)"
echo "GET $SL_PATH"

if [ "$WARMUP" != 0 ] && [ "$WARMUP" != 0s ]; then
    run_wrk "$sl_url" "$WARMUP" "$tmp/warm-sl.json"
    run_wrk "$ceil_url" "$WARMUP" "$tmp/warm-ceil.json"
    [ "$(non2xx "$tmp/warm-sl.json")" = 0 ] || echo "warning: sparselawd answered non-2xx during warm-up" >&2
fi

sl_total_non2xx=0
ceil_total_non2xx=0
sl_total_sockerr=0
ceil_total_sockerr=0
for r in $(seq "$ROUNDS"); do
    measure sl "$sl_pid" "$sl_url" "$r"
    measure ceil "$ceil_pid" "$ceil_url" "$r"
    printf 'round %d: sparselaw %s req/s p99 %s us %s cpu-us/req | ceiling %s req/s p99 %s us %s cpu-us/req\n' \
        "$r" "$(jget "$tmp/sl-$r.json" requests_per_s)" "$(jget "$tmp/sl-$r.json" p99)" \
        "$(cat "$tmp/sl-$r.cpu")" "$(jget "$tmp/ceil-$r.json" requests_per_s)" \
        "$(jget "$tmp/ceil-$r.json" p99)" "$(cat "$tmp/ceil-$r.cpu")"
    sl_total_non2xx=$((sl_total_non2xx + $(non2xx "$tmp/sl-$r.json")))
    ceil_total_non2xx=$((ceil_total_non2xx + $(non2xx "$tmp/ceil-$r.json")))
    sl_total_sockerr=$((sl_total_sockerr + $(sockerr "$tmp/sl-$r.json")))
    ceil_total_sockerr=$((ceil_total_sockerr + $(sockerr "$tmp/ceil-$r.json")))
done

med() { # med PREFIX KEY
    local f
    for f in "$tmp/$1"-*.json; do jget "$f" "$2"; done | median
}
sl_rps=$(med sl requests_per_s)
ceil_rps=$(med ceil requests_per_s)
sl_p50=$(med sl p50)
ceil_p50=$(med ceil p50)
sl_p99=$(med sl p99)
ceil_p99=$(med ceil p99)
sl_cpu=$(cat "$tmp"/sl-*.cpu | median)
ceil_cpu=$(cat "$tmp"/ceil-*.cpu | median)
cpu_ratio=$(awk -v a="$sl_cpu" -v b="$ceil_cpu" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
ratio=$(awk -v a="$sl_rps" -v b="$ceil_rps" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
log_lines=$( [ -f "$SL_LOG" ] && wc -l <"$SL_LOG" || echo n/a)

echo
printf '%-12s %12s %10s %10s %13s %9s %13s\n' "" "req/s" "p50" "p99" "cpu-us/req" "non-2xx" \
    "socket errs"
printf '%-12s %12.1f %10s %10s %13.1f %9d %13d\n' sparselaw "$sl_rps" "$(ms "$sl_p50")" \
    "$(ms "$sl_p99")" "$sl_cpu" "$sl_total_non2xx" "$sl_total_sockerr"
printf '%-12s %12.1f %10s %10s %13.1f %9d %13d\n' ceiling "$ceil_rps" "$(ms "$ceil_p50")" \
    "$(ms "$ceil_p99")" "$ceil_cpu" "$ceil_total_non2xx" "$ceil_total_sockerr"
echo "sparselaw/ceiling throughput: $ratio   server CPU per request, ceiling/sparselaw: $cpu_ratio"
echo "(sparselawd log: $SL_LOG, $log_lines lines; medians of $ROUNDS round(s))"
printf '{"sparselaw_rps":%s,"ceiling_rps":%s,"ratio":%s,"sparselaw_p99_us":%s,"ceiling_p99_us":%s,' \
    "$sl_rps" "$ceil_rps" "$ratio" "$sl_p99" "$ceil_p99"
printf '"sparselaw_cpu_us_per_req":%s,"ceiling_cpu_us_per_req":%s,"cpu_ratio":%s,' \
    "$sl_cpu" "$ceil_cpu" "$cpu_ratio"
printf '"sparselaw_non2xx":%d,"ceiling_non2xx":%d,"threads":%s,"wrk":"-t%s -c%s -d%s","rounds":%s,"log":"%s"}\n' \
    "$sl_total_non2xx" "$ceil_total_non2xx" "$THREADS" "$WRK_THREADS" "$WRK_CONNS" "$WRK_DURATION" \
    "$ROUNDS" "$SL_LOG"

if [ "$sl_total_non2xx" -ne 0 ]; then
    echo "http_bench: FAIL: sparselawd answered $sl_total_non2xx non-2xx responses" >&2
    exit 1
fi
