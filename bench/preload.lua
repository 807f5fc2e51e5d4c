-- Preload s000000..s(SB_N-1) with 40-byte values, as fast as 64 keep-alive connections go.
-- Run with ONE wrk thread (-t1) and a long -d: the thread stops itself once all SB_N PUTs
-- have been answered 200. Requests issued after the last PUT are GETs of a missing name
-- (404, cheap) so they cannot be confused with PUT answers; any other status is an error.
dofile((os.getenv("BENCH_DIR") or "bench") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

-- wrk calls request() once before the run (script_verify_request, to count pipelined
-- requests) and discards the result: start at -1 so that call consumes a filler, not s000000.
issued = -1
ok = 0
filler = 0
bad = 0
last_bad = ""

function request()
  local i = issued
  issued = issued + 1
  if i >= 0 and i < SB_N then
    local body = '{"value":"' .. secret_value("preload", i) .. '"}'
    return wrk.format("PUT", "/secrets/" .. secret_name(i) .. "?api-version=7.4", nil, body)
  end
  return wrk.format("GET", "/secrets/preload-filler-missing?api-version=7.4", nil, nil)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    if ok >= SB_N then wrk.thread:stop() end
  elseif status == 404 then
    filler = filler + 1
  else
    bad = bad + 1
    last_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
  end
end

function done(summary, latency, requests)
  local t_ok, t_bad, last = 0, 0, ""
  for _, t in ipairs(threads) do
    t_ok = t_ok + (t:get("ok") or 0)
    t_bad = t_bad + (t:get("bad") or 0)
    local lb = t:get("last_bad")
    if lb ~= nil and lb ~= "" then last = lb end
  end
  local e = summary.errors
  io.write(string.format(
    "PRELOAD ok=%d bad=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d timeout=%d\n",
    t_ok, t_bad, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout))
  if last ~= "" then io.write("PRELOAD last_bad=" .. last .. "\n") end
end
