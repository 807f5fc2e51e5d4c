-- nginx ceiling: GET the 200-byte static file (request built once, like get_hot.lua).
dofile((os.getenv("BENCH_DIR") or "bench") .. "/result.lua")
wrk.method = "GET"
wrk.path = "/index.html"
