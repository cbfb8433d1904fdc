#!/usr/bin/env bash
# http_bench.sh - how close sparselawd comes to what libmicrohttpd itself can
# serve. Starts sparselawd (on a fresh data dir) and bench/mhd_ceiling (the
# same daemon flags, options and thread count, answering a fixed 1425-byte
# JSON body, or a 304 to a request with If-None-Match) and drives both with
# wrk, in one run, through three loads:
#
#   fixed  one real planning query (SL_PATH), again and again
#   mix    MIX distinct random planning queries (bench/wrk_mix.lua: optimal
#          sparsity, loss, plan, equivalent-dense on both built-in laws)
#   304    SL_PATH with If-None-Match holding its ETag (the revalidation a
#          cache makes)
#
# and then sparselawd on each load paced at half the peak it reached there
# (bench/wrk_pace.lua), for the latency a server with headroom gives, with
# the ceiling at the same pace beside it (what the box itself allows).
#
#   bench/http_bench.sh [BUILD_DIR]        (default ./build)
#
# Prints, per load, both throughputs, sparselaw/ceiling, both p99 latencies,
# the non-2xx counts and each server's CPU time per request (the steadier
# number on a small or shared box, where wrk competes with the servers for
# the cores); then the paced p99s; then one JSON summary line. Exits 1 when
# sparselawd answered anything 400 or above (or a server would not start or
# answer first), 0 otherwise: the targets (>= 0.6 of the ceiling on the
# mix, >= 0.85 on 304s, p99 under 1 ms at half the peak) are reported, not
# enforced.
#
# Settings (environment):
#   THREADS=<cores>   --threads of both servers
#   WRK_THREADS=2 WRK_CONNS=32 WRK_DURATION=10s   the measured wrk runs
#   WARMUP=3s         an unmeasured wrk run against each server first
#   ROUNDS=1          measured rounds (sparselaw then ceiling, alternating);
#                     the medians are reported
#   LOADS="fixed mix 304"   which loads to run
#   MIX=10000 MIX_SEED=1    the random queries
#   PACE_MS=4         the paced runs: one request per PACE_MS per connection,
#                     with as many connections as half the peak needs
#   SL_PATH=/v1/laws/t5-c4/optimal-sparsity?nonzeros=1e9&data=2e11
#   SL_LOG=<tmp>/sparselawd.log   where sparselawd's stderr (one JSON line
#                     per request) goes; a regular file by default, as in
#                     production behind a log collector. SL_LOG=/dev/null
#                     measures without the cost of the write.
#   KEEP_TMP=1        keep the temporary dir (data dir, logs, wrk output)
#
# sparselawd runs with --max-connections-per-ip 0: every wrk connection
# comes from 127.0.0.1, and the paced runs need more than the default 64.
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
LOADS=${LOADS:-fixed mix 304}
MIX=${MIX:-10000}
MIX_SEED=${MIX_SEED:-1}
PACE_MS=${PACE_MS:-4}

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
start sparselawd "$SL_LOG" "$sl_want" "$sparselawd" --data-dir "$datadir" --threads "$THREADS" \
    --max-connections-per-ip 0
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

# The ETag of SL_PATH, for the 304 load; both must answer it 304.
etag=$(curl -s -D - -o /dev/null "$sl_url" | tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }')
[ -n "$etag" ] || die "GET $sl_url gave no ETag"
for u in "$sl_url" "$ceil_url"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$u") || code=000
    [ "$code" = 304 ] || die "GET $u with If-None-Match: $etag answered $code, not 304"
done
cat "$here/wrk_report.lua" >"$tmp/report.lua"
cat "$here/wrk_mix.lua" "$here/wrk_report.lua" >"$tmp/mix.lua"
cat "$here/wrk_pace.lua" "$here/wrk_report.lua" >"$tmp/pace.lua"
cat "$here/wrk_mix.lua" "$here/wrk_pace.lua" "$here/wrk_report.lua" >"$tmp/mix-pace.lua"

# -------------------------------------------------------------------- wrk
# run_wrk OUT DURATION CONNS LOAD BASE [PACE]: the WRK_JSON line of
# wrk_report.lua into OUT, for LOAD against the server at BASE (paced at
# PACE ms per request per connection when given). wrk runs in the
# background so that INT/TERM stop the script (and it) at once.
run_wrk() {
    local out=$1 dur=$2 conns=$3 load=$4 base=$5 pace=${6:-}
    local script=$tmp/report.lua url=$base$SL_PATH args=() hdr=()
    case $load in
    mix)
        url=$base/
        script=$tmp/mix.lua
        args=(-- "$MIX" "$MIX_SEED")
        if [ -n "$pace" ]; then script=$tmp/mix-pace.lua; args+=("$pace"); fi
        ;;
    304) hdr=(-H "If-None-Match: $etag") ;;
    esac
    if [ "$load" != mix ] && [ -n "$pace" ]; then script=$tmp/pace.lua; args=(-- "$pace"); fi
    local threads=$WRK_THREADS
    [ "$conns" -lt "$threads" ] && threads=$conns
    wrk -t"$threads" -c"$conns" -d"$dur" --latency "${hdr[@]}" -s "$script" "$url" "${args[@]}" \
        >"$out.txt" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || die "wrk failed: $(tail -n 5 "$out.txt")"
    wrk_pid=
    grep '^WRK_JSON ' "$out.txt" | sed 's/^WRK_JSON //' >"$out" || die "no summary from wrk: $out.txt"
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
# measure NAME PID BASE LOAD ROUND: one wrk run, plus the server's CPU per
# request (robust where the throughput is not: a small box shared with wrk
# and others).
measure() {
    local t0 t1 f=$tmp/$1-$4-$5.json
    t0=$(cpu_ticks "$2")
    run_wrk "$f" "$WRK_DURATION" "$WRK_CONNS" "$4" "$3"
    t1=$(cpu_ticks "$2")
    awk -v a="$t0" -v b="$t1" -v hz="$hz" -v n="$(jget "$f" requests)" \
        'BEGIN { printf "%.1f\n", (n > 0 ? (b - a) / hz * 1e6 / n : 0) }' >"${f%.json}.cpu"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { # med PREFIX LOAD KEY
    local f
    for f in "$tmp/$1-$2"-*.json; do jget "$f" "$3"; done | median
}
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }

sl_base="http://127.0.0.1:$sl_port"
ceil_base="http://127.0.0.1:$ceil_port"
echo "sparselawd  port $sl_port, --threads $THREADS, log -> $SL_LOG, body $sl_bytes B"
echo "mhd_ceiling port $ceil_port, --threads $THREADS, body $ceil_bytes B"
echo "wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION --latency (warm-up $WARMUP each), $ROUNDS round(s)"
echo "fixed: GET $SL_PATH; mix: $MIX distinct queries (seed $MIX_SEED); 304: fixed with If-None-Match: $etag"

if [ "$WARMUP" != 0 ] && [ "$WARMUP" != 0s ]; then
    for load in $LOADS; do
        run_wrk "$tmp/warm-sl-$load.json" "$WARMUP" "$WRK_CONNS" "$load" "$sl_base"
        run_wrk "$tmp/warm-ceil-$load.json" "$WARMUP" "$WRK_CONNS" "$load" "$ceil_base"
        [ "$(non2xx "$tmp/warm-sl-$load.json")" = 0 ] ||
            echo "warning: sparselawd answered 400 or above during the $load warm-up" >&2
    done
fi

sl_total_non2xx=0
ceil_total_non2xx=0
summary=
echo
printf '%-6s %-10s %11s %10s %10s %11s %8s %7s\n' load server "req/s" p50 p99 "cpu-us/req" \
    "4xx/5xx" "sockerr"
for load in $LOADS; do
    for r in $(seq "$ROUNDS"); do
        measure sl "$sl_pid" "$sl_base" "$load" "$r"
        measure ceil "$ceil_pid" "$ceil_base" "$load" "$r"
        sl_total_non2xx=$((sl_total_non2xx + $(non2xx "$tmp/sl-$load-$r.json")))
        ceil_total_non2xx=$((ceil_total_non2xx + $(non2xx "$tmp/ceil-$load-$r.json")))
    done
    for who in sl ceil; do
        bad=0 errs=0
        for f in "$tmp/$who-$load"-*.json; do
            bad=$((bad + $(non2xx "$f")))
            errs=$((errs + $(sockerr "$f")))
        done
        printf '%-6s %-10s %11.1f %10s %10s %11.1f %8d %7d\n' "$load" \
            "$([ $who = sl ] && echo sparselaw || echo ceiling)" "$(med $who "$load" requests_per_s)" \
            "$(ms "$(med $who "$load" p50)")" "$(ms "$(med $who "$load" p99)")" \
            "$(cat "$tmp/$who-$load"-*.cpu | median)" "$bad" "$errs"
    done
done

echo
printf '%-6s %10s %10s %12s %10s %10s %14s\n' load ratio "cpu ratio" "half peak" achieved "p99 there" \
    "ceiling there"
for load in $LOADS; do
    sl_rps=$(med sl "$load" requests_per_s)
    ceil_rps=$(med ceil "$load" requests_per_s)
    ratio=$(div "$sl_rps" "$ceil_rps")
    cpu_ratio=$(div "$(cat "$tmp/ceil-$load"-*.cpu | median)" "$(cat "$tmp/sl-$load"-*.cpu | median)")
    # half the peak: PACE_MS per request on each of conns connections
    half=$(awk -v r="$sl_rps" 'BEGIN { printf "%.0f", r / 2 }')
    conns=$(awk -v h="$half" -v p="$PACE_MS" 'BEGIN { c = int(h * p / 1000 + 0.5); print (c < 1 ? 1 : c > 4000 ? 4000 : c) }')
    run_wrk "$tmp/paced-$load.json" "$WRK_DURATION" "$conns" "$load" "$sl_base" "$PACE_MS"
    sl_total_non2xx=$((sl_total_non2xx + $(non2xx "$tmp/paced-$load.json")))
    achieved=$(jget "$tmp/paced-$load.json" requests_per_s)
    p99=$(jget "$tmp/paced-$load.json" p99)
    # the ceiling at the same pace: the latency the box itself allows
    run_wrk "$tmp/paced-ceil-$load.json" "$WRK_DURATION" "$conns" "$load" "$ceil_base" "$PACE_MS"
    ceil_paced_p99=$(jget "$tmp/paced-ceil-$load.json" p99)
    printf '%-6s %10s %10s %12s %10s %10s %14s\n' "$load" "$ratio" "$cpu_ratio" "$half/s" \
        "$(printf '%.0f' "$achieved")/s" "$(ms "$p99")" "$(ms "$ceil_paced_p99")"
    summary+=$(printf '"%s":{"sparselaw_rps":%s,"ceiling_rps":%s,"ratio":%s,"sparselaw_p99_us":%s,"ceiling_p99_us":%s,"sparselaw_cpu_us_per_req":%s,"ceiling_cpu_us_per_req":%s,"cpu_ratio":%s,"paced_target_rps":%s,"paced_rps":%s,"paced_conns":%s,"paced_p99_us":%s,"ceiling_paced_p99_us":%s},' \
        "$load" "$sl_rps" "$ceil_rps" "$ratio" "$(med sl "$load" p99)" "$(med ceil "$load" p99)" \
        "$(cat "$tmp/sl-$load"-*.cpu | median)" "$(cat "$tmp/ceil-$load"-*.cpu | median)" \
        "$cpu_ratio" "$half" "$achieved" "$conns" "$p99" "$ceil_paced_p99")
done
log_lines=$( [ -f "$SL_LOG" ] && wc -l <"$SL_LOG" || echo n/a)
echo "(ratio: sparselaw/ceiling throughput; cpu ratio: ceiling/sparselaw server CPU per request;"
echo " targets: mix >= 0.6, 304 >= 0.85, p99 < 1 ms at half the peak. sparselawd log: $SL_LOG,"
echo " $log_lines lines; medians of $ROUNDS round(s))"
printf '{%s"sparselaw_non2xx":%d,"ceiling_non2xx":%d,"threads":%s,"wrk":"-t%s -c%s -d%s","rounds":%s,"pace_ms":%s,"mix":%s,"log":"%s"}\n' \
    "$summary" "$sl_total_non2xx" "$ceil_total_non2xx" "$THREADS" "$WRK_THREADS" "$WRK_CONNS" \
    "$WRK_DURATION" "$ROUNDS" "$PACE_MS" "$MIX" "$SL_LOG"

if [ "$sl_total_non2xx" -ne 0 ]; then
    echo "http_bench: FAIL: sparselawd answered $sl_total_non2xx responses of 400 or above" >&2
    exit 1
fi
