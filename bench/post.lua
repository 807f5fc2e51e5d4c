-- POST one fixed body to one path, or to a path with a per-request counter (issuance.sh).
-- Environment:
--   SB_POST_PATH   path and query; "%d" in it is replaced by a counter (distinct object names)
--   SB_POST_BODY   the body
--   SB_POST_CTYPE  Content-Type (default application/json)
--   SB_TOKEN       bearer token (optional: the token endpoint takes none)
--   SB_HOST        Host header (optional)
dofile((os.getenv("BENCH_DIR") or "bench") .. "/result.lua")
local path = os.getenv("SB_POST_PATH") or error("SB_POST_PATH is not set")
local body = os.getenv("SB_POST_BODY") or error("SB_POST_BODY is not set")
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = os.getenv("SB_POST_CTYPE") or "application/json"
local token = os.getenv("SB_TOKEN")
if token ~= nil and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
local host = os.getenv("SB_HOST")
if host ~= nil and host ~= "" then wrk.headers["Host"] = host end

if string.find(path, "%%d") then
  local i = 0
  function request()
    i = i + 1
    return wrk.format(nil, string.format(path, i))
  end
else
  local req = wrk.format(nil, path)
  function request() return req end
end
