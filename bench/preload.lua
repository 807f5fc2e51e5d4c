-- Preload s000000..s(SB_N-1) with 40-byte values, as fast as 64 keep-alive connections go.
-- Run with ONE wrk thread (-t1) and a generous -d. Once all SB_N PUTs have been answered
-- 200 the script prints a PRELOAD line and exits the wrk process (wrk itself would sleep
-- until -d runs out). Requests issued after the last PUT are GETs of a missing name
-- (404, cheap) so they cannot be confused with PUT answers; any other status is counted
-- as bad and makes the script exit early with a non-zero code.
dofile((os.getenv("BENCH_DIR") or "bench") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } sb_timespec;
int clock_gettime(int clk_id, sb_timespec *tp);
]]
local ts = ffi.new("sb_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- wrk calls request() once before the run (script_verify_request, to count pipelined
-- requests) and discards the result: start at -1 so that call consumes a filler, not s000000.
local issued = -1
local ok, filler, bad = 0, 0, 0
local t0 = nil

function request()
  local i = issued
  issued = issued + 1
  if i >= 0 and i < SB_N then
    if t0 == nil then t0 = now() end
    local body = '{"value":"' .. secret_value("preload", i) .. '"}'
    return wrk.format("PUT", "/secrets/" .. secret_name(i) .. "?api-version=7.4", nil, body)
  end
  return wrk.format("GET", "/secrets/preload-filler-missing?api-version=7.4")
end

local function finish(code)
  local secs = now() - (t0 or now())
  io.write(string.format("PRELOAD ok=%d bad=%d filler=%d seconds=%.3f rate=%.0f\n",
    ok, bad, filler, secs, ok / math.max(secs, 1e-9)))
  io.flush()
  os.exit(code)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    if ok >= SB_N then finish(0) end
  elseif status == 404 then
    filler = filler + 1
  else
    bad = bad + 1
    io.write("PRELOAD bad response: " .. tostring(status) .. " " .. string.sub(body or "", 1, 300) .. "\n")
    if bad >= 10 then finish(3) end
  end
end

function done(summary, latency, requests)
  -- only reached if -d ran out before all PUTs were answered
  io.write(string.format("PRELOAD incomplete: duration ran out (connect=%d read=%d write=%d timeout=%d)\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
  finish(4)
end
