-- Shared by the Strongbox wrk scripts (loaded with dofile from each of them).
-- Environment:
--   SB_TOKEN  bearer token (required)
--   SB_HOST   Host header, e.g. default.vault.localhost:18443 (selects the vault)
--   SB_N      number of preloaded secrets s000000..s(N-1) (default 100000)
local token = os.getenv("SB_TOKEN")
if token == nil or token == "" then error("SB_TOKEN is not set") end
wrk.headers["Authorization"] = "Bearer " .. token
local host = os.getenv("SB_HOST")
if host ~= nil and host ~= "" then wrk.headers["Host"] = host end

SB_N = tonumber(os.getenv("SB_N") or "100000")

function secret_name(i)
  return string.format("s%06d", i)
end

-- 40-byte value, different per write
function secret_value(tag, i)
  return string.format("%-16s%024d", tag, i)
end

dofile((os.getenv("BENCH_DIR") or "bench") .. "/result.lua")
