-- GET a secret chosen uniformly at random among s000000..s(SB_N-1), per request.
dofile((os.getenv("BENCH_DIR") or "bench") .. "/common.lua")
math.randomseed(os.time())
function request()
  return wrk.format("GET", "/secrets/" .. secret_name(math.random(0, SB_N - 1)) .. "?api-version=7.4")
end
