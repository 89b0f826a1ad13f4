-- GET /api/v1/actions/{id} for ids spread over the seeded range.
local max_id = tonumber(os.getenv("BENCH_MAX_ID") or "100000")
local i = 0
request = function()
    i = i + 7919
    return wrk.format("GET", "/api/v1/actions/" .. (i % max_id + 1))
end
