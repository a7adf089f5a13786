-- wrk script for Benchmarks/complete/run.sh: POST /api/v1/photos/{id}/complete, each photo once.
-- Environment: BENCH_TOKEN (HS256 JWT of the photos' user), BENCH_IDS_FILE (pending photo ids,
-- one a line), BENCH_WRK_THREADS (wrk's -t: thread k of n takes the ids k, k+n, k+2n, ...).
-- A thread that runs out of ids sends GET /exhausted (a 404), counted apart: the run then had
-- too few photos and its figures are refused. done() prints "non2xx N", "exhausted N" and the
-- latency percentiles in microseconds.
local token = os.getenv("BENCH_TOKEN")
local ids_file = os.getenv("BENCH_IDS_FILE")
local thread_count = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
local threads = {}
local ids = {}
local next_id = 0
non2xx = 0
exhausted = 0

function setup(thread)
    thread:set("thread_index", #threads)
    table.insert(threads, thread)
end

function init(args)
    local n = 0
    for line in io.lines(ids_file) do
        if line ~= "" then
            if n % thread_count == thread_index then table.insert(ids, line) end
            n = n + 1
        end
    end
    wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
    next_id = next_id + 1
    if next_id > #ids then
        exhausted = exhausted + 1
        return wrk.format("GET", "/exhausted")
    end
    return wrk.format("POST", "/api/v1/photos/" .. ids[next_id] .. "/complete")
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        if non2xx <= 3 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
    end
end

function done(summary, latency, requests)
    local failed, out_of_ids = 0, 0
    for _, t in ipairs(threads) do
        failed = failed + (t:get("non2xx") or 0)
        out_of_ids = out_of_ids + (t:get("exhausted") or 0)
    end
    io.write(string.format("non2xx %d\nexhausted %d\n", failed, out_of_ids))
    for _, p in ipairs({ { "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p999", 99.9 } }) do
        io.write(string.format("%s_us %d\n", p[1], latency:percentile(p[2])))
    end
end
