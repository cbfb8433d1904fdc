-- wrk_mix.lua - 10,000 distinct random planning queries, for
-- bench/http_bench.sh: optimal-sparsity (budget as data or compute), loss,
-- plan (a target the law can reach) and equivalent-dense, on both built-in
-- laws, drawn from a fixed seed so every run and both servers see the same
-- list. Each wrk thread walks the list from its own offset.
--   wrk ... -s <this + wrk_report.lua> URL -- [COUNT] [SEED] [DELAY_MS]
-- DELAY_MS: the pace when wrk_pace.lua is appended (one request per DELAY_MS
-- on each connection).
local laws = {
  ["t5-c4"] = {a_s = 16.7870501071, c_s = 45.0184473511, b_n = 0.24513173, c = 0.65074219},
  ["vit-jft"] = {a_s = 294.389596179, c_s = 468.157382899, b_n = 0.39222675, c = 4.51669257},
}
local names = {"t5-c4", "vit-jft"}
local paths = {}
local i = 0
delay_ms = 0 -- read by wrk_pace.lua's delay(), when it is appended
local thread_count = 0

local function u(lo, hi) return lo + (hi - lo) * math.random() end
local function g(x) return string.format("%.6g", x) end

local function query()
  local law = names[math.random(2)]
  local n = 10 ^ u(7, 11)
  local kind = math.random(4)
  if kind == 1 then
    if law == "t5-c4" and math.random(2) == 1 then
      return "/v1/laws/" .. law .. "/optimal-sparsity?nonzeros=" .. g(n) .. "&compute=" .. g(6 * n * 10 ^ u(9, 13))
    end
    return "/v1/laws/" .. law .. "/optimal-sparsity?nonzeros=" .. g(n) .. "&data=" .. g(10 ^ u(9, 13))
  elseif kind == 2 then
    return "/v1/laws/" .. law .. "/loss?sparsity=" .. g(u(0, 0.95)) .. "&nonzeros=" .. g(n) .. "&data=" .. g(10 ^ u(9, 13))
  elseif kind == 3 then
    local k = laws[law]
    -- above the dense floor c + (a_s + c_s) N^-b_n: reachable with data alone
    local floor = k.c + (k.a_s + k.c_s) * n ^ (-k.b_n)
    return "/v1/laws/" .. law .. "/plan?target_loss=" .. g(floor + u(0.05, 1)) .. "&nonzeros=" .. g(n)
  end
  return "/v1/laws/" .. law .. "/equivalent-dense?sparsity=" .. g(u(0, 0.95)) .. "&nonzeros=" .. g(n)
end

setup = function(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
end

init = function(args)
  local count = tonumber(args[1]) or 10000
  math.randomseed(tonumber(args[2]) or 1)
  delay_ms = tonumber(args[3]) or 0
  local seen = {}
  while #paths < count do
    local p = query()
    if not seen[p] then
      seen[p] = true
      paths[#paths + 1] = p
    end
  end
  i = ((id or 0) * 7919) % count
end

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
