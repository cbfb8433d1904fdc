-- wrk_report.lua - wrk's summary as one JSON line, for bench/http_bench.sh.
-- Defines only done(), so wrk keeps its fast path (no Lua per request).
-- Latencies are in microseconds. errors.status counts responses with a
-- status of 400 or more: what wrk prints as "Non-2xx or 3xx responses".
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_s":%.3f,"requests_per_s":%.1f,"bytes":%d,' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p99_9":%d,"max":%d},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\n',
    summary.requests, seconds, summary.requests / seconds, summary.bytes,
    latency.mean, latency.stdev, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
