-- POST /score with one seed-model row in the Azure ML / Confluent ML_PREDICT format.
-- Body file: BODY env var (default /tmp/fraudstream-bench/single.json, see make_bodies.py); API key: KEY env var.
local path = os.getenv("BODY") or "/tmp/fraudstream-bench/single.json"
local f = assert(io.open(path, "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("KEY")
if key then wrk.headers["Authorization"] = "Bearer " .. key end
wrk.path = os.getenv("WRK_PATH") or "/score"

-- wrk itself reports "Non-2xx or 3xx responses" when any request fails.
