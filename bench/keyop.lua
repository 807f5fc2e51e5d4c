-- POST a key operation (sign, decrypt, ...) for keys.sh.
-- Environment (besides common.lua's SB_TOKEN / SB_HOST):
--   SB_KEYOP_PATH    path and query, e.g. /keys/bench-rsa/<version>/sign?api-version=7.6
--   SB_KEYOP_BODIES  file with one JSON body per line (keys.sh writes them: distinct digests
--                    or ciphertexts made by the server's own encrypt)
-- All requests are formatted once, at start; request() only hands them out in turn, so the
-- per-request Lua cost on wrk's side is as small as for a fixed request.
dofile((os.getenv("BENCH_DIR") or "bench") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"

local path = os.getenv("SB_KEYOP_PATH")
if path == nil or path == "" then error("SB_KEYOP_PATH is not set") end
local file = os.getenv("SB_KEYOP_BODIES")
if file == nil or file == "" then error("SB_KEYOP_BODIES is not set") end

local reqs = {}
local f = assert(io.open(file, "r"))
for line in f:lines() do
  if line ~= "" then reqs[#reqs + 1] = wrk.format("POST", path, nil, line) end
end
f:close()
if #reqs == 0 then error("no request bodies in " .. file) end

local n = #reqs
local i = 0
function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end
