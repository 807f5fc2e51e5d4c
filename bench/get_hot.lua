-- GET one hot secret (the request is built once; no per-request Lua).
dofile((os.getenv("BENCH_DIR") or "bench") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/secrets/" .. (os.getenv("SB_HOT") or "s000000") .. "?api-version=7.4"
