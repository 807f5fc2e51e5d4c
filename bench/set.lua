-- SET: PUT a new version of s(counter mod SB_N) per request; every write is acknowledged
-- only once durable (the server's contract), so this measures durable writes/s.
dofile((os.getenv("BENCH_DIR") or "bench") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
local i = tonumber(os.getenv("SB_SET_START") or "0")
function request()
  local name = secret_name(i % SB_N)
  local body = '{"value":"' .. secret_value("set", i) .. '"}'
  i = i + 1
  return wrk.format("PUT", "/secrets/" .. name .. "?api-version=7.4", nil, body)
end
