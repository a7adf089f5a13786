-- wrk script for Benchmarks/api/run.sh: POST /api/v1/photos/upload-url with a Bearer token.
-- Environment: BENCH_TOKEN (HS256 JWT), BENCH_PROJECT_ID (a project of the token's org_id);
-- BENCH_TOKENS_FILE, when set, holds one token a line (users of that organization), taken in turn
-- by each request. Each request has its own file_name; done() prints the non-2xx count as
-- "non2xx N".
local token = os.getenv("BENCH_TOKEN")
local project = os.getenv("BENCH_PROJECT_ID")
local tokens_file = os.getenv("BENCH_TOKENS_FILE")
local authorizations = {}
local counter = 0
local non2xx = 0
local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("id_offset", #threads * 7919)
end

function init(args)
    wrk.method = "POST"
    wrk.headers["Authorization"] = "Bearer " .. token
    wrk.headers["Content-Type"] = "application/json"
    if tokens_file and tokens_file ~= "" then
        for line in io.lines(tokens_file) do
            if line ~= "" then
                table.insert(authorizations, { ["Authorization"] = "Bearer " .. line, ["Content-Type"] = "application/json" })
            end
        end
    end
end

function request()
    counter = counter + 1
    local body = string.format(
        '{"project_id":"%s","file_name":"bench-%d.jpg","file_size":2048000,"mime_type":"image/jpeg"}',
        project, counter)
    if #authorizations > 1 then
        -- Each thread starts at its own offset, so the users are spread over both threads.
        return wrk.format(nil, nil, authorizations[(counter + (id_offset or 0)) % #authorizations + 1], body)
    end
    return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        if non2xx <= 3 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, t in ipairs(threads) do total = total + (t:get("non2xx") or 0) end
    io.write(string.format("non2xx %d\n", total))
    for _, p in ipairs({ { "p10", 10 }, { "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p999", 99.9 } }) do
        io.write(string.format("%s_us %d\n", p[1], latency:percentile(p[2])))
    end
end
