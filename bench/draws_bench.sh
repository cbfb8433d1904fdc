#!/usr/bin/env bash
# draws_bench.sh - the server time of a query that carries intervals from a
# fitted law's bootstrap draws: GET optimal-sparsity under cost_model=gmp on
# t5-c4's sweep (data/t5-c4-sweep.csv) fitted with BOOTSTRAP draws, where
# every draw is a numeric optimum of its own.
#
#   bench/draws_bench.sh [BUILD_DIR]        (default ./build)
#   BEFORE=OLD_BUILD_DIR bench/draws_bench.sh [BUILD_DIR]
#
# Starts sparselawd on a fresh data dir, uploads the sweep, fits it (?wait),
# then sends REQUESTS queries one after another and reports the median and
# p90 of the server's own time per request ("us" of its log lines), for the
# gmp query and, beside it, the same query under the dense cost model; then
# the same for GET compute-optimal (free, and with max_nonzeros=1e8) and the
# inference-aware plan (N free: each draw a search of its own; and N at most
# 1e8).
# With BEFORE, the same first with OLD_BUILD_DIR's sparselawd (a build of an
# older commit), so one run prints before and after; a build from before the
# inference-aware plan used every draw says "capped" where its answer used
# only some of them.
# Settings: BOOTSTRAP=1000 REQUESTS=200 PORT=<free>.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=$(cd "${1:-./build}" && pwd)
before=${BEFORE:+$(cd "$BEFORE" && pwd)}
BOOTSTRAP=${BOOTSTRAP:-1000}
REQUESTS=${REQUESTS:-200}
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sl-draws.XXXXXX")
pid=
stop() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    pid=
}
cleanup() {
    stop
    rm -rf "$tmp"
}
trap cleanup EXIT
token=draws-bench-token-0123456789
echo "$token" >"$tmp/token"
base=http://127.0.0.1:$PORT
auth="Authorization: Bearer $token"
# one_query NAME PATH: REQUESTS requests, then the median and p90 of their "us"
# (or the status, where the build does not answer the query: an older one
# that lacks a parameter).
one_query() {
    local before after note status
    status=$(curl -s -o /dev/null -w '%{http_code}' "$base$2")
    if [ "$status" != 200 ]; then
        printf '%-6s not answered by this build (status %s)\n' "$1" "$status"
        return
    fi
    before=$(wc -l <"$tmp/log")
    for _ in $(seq "$REQUESTS"); do curl -s -o /dev/null "$base$2"; done
    after=$(wc -l <"$tmp/log")
    note=$(curl -s "$base$2" | grep -o '"intervals_note":"intervals from the first [0-9]*' |
        grep -o '[0-9]*$' || true)
    note=${note:+   capped: intervals from $note draws}
    sed -n "$((before + 1)),${after}p" "$tmp/log" | grep -o '"us":[0-9]*' | cut -d: -f2 | sort -n |
        awk -v name="$1" -v note="$note" '{ v[NR] = $1 } END { printf "%-6s median %6.0f us   p90 %6.0f us   (%d requests)%s\n", name, v[int((NR + 1) / 2)], v[int(NR * 0.9)], NR, note }'
}
# run_all BUILD LABEL: a fresh server from BUILD, the sweep fitted, every query.
run_all() {
    rm -rf "$tmp/data"
    "$1/sparselawd" --port "$PORT" --data-dir "$tmp/data" --token-file "$tmp/token" 2>"$tmp/log" &
    pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "$base/healthz" && break; sleep 0.1; done
    curl -sf -H "$auth" -H 'Content-Type: text/csv' --data-binary @"$root/data/t5-c4-sweep.csv" \
        "$base/v1/datasets?name=t5&base_params=169869312&tokens_per_step=65536" >/dev/null
    curl -sf -H "$auth" -H 'Content-Type: application/json' \
        -d "{\"dataset\":1,\"law\":\"t5-fit\",\"bootstrap\":$BOOTSTRAP,\"seed\":1}" \
        "$base/v1/fits?wait=true" >/dev/null
    echo "== $2: $1/sparselawd"
    local q="/v1/laws/t5-fit/optimal-sparsity?nonzeros=1e9&data=2e11"
    echo "t5-c4 sweep fitted with bootstrap=$BOOTSTRAP; GET $q&cost_model=..."
    curl -s "$base$q&cost_model=gmp" | grep -o '"interval":\[[^]]*\]' || true
    one_query gmp "$q&cost_model=gmp"
    one_query dense "$q"
    local co="/v1/laws/t5-fit/compute-optimal?compute=1e21"
    echo "GET $co&cost_model=..."
    one_query co-gmp "$co&cost_model=gmp"
    one_query co-dns "$co"
    one_query co-gcp "$co&cost_model=gmp&max_nonzeros=1e8"
    one_query co-dcp "$co&max_nonzeros=1e8"
    local inf="/v1/laws/t5-fit/plan?target_loss=2.4&inference_tokens=1e13"
    echo "GET $inf&..."
    one_query in-nz "$inf"
    one_query in-tot "$inf&inference_cost=total"
    one_query in-gmp "$inf&cost_model=gmp"
    one_query in-g+t "$inf&cost_model=gmp&inference_cost=total"
    one_query in-cap "$inf&max_nonzeros=1e8"
    stop
}
if [ -n "$before" ]; then
    run_all "$before" before
    run_all "$build" after
else
    run_all "$build" "this build"
fi
