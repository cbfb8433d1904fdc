-- wrk_pace.lua - one request per DELAY_MS on each connection, for the
-- latency-at-half-peak runs of bench/http_bench.sh. Appended to a script
-- with an init() that sets delay_ms (wrk_mix.lua), or alone with the URL's
-- own request:
--   wrk ... -s <this + wrk_report.lua> URL -- DELAY_MS
delay_ms = delay_ms or 0
if not init then
  init = function(args) delay_ms = tonumber(args[1]) or 0 end
end
delay = function() return delay_ms end
