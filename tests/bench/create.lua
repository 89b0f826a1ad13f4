-- POST /api/v1/actions with a fresh title each time.
local n = 0
request = function()
    n = n + 1
    local body = string.format(
        '{"incident":"BENCH-1","kind":"corrective","title":"bench action %d","owner":"owner%d","due_on":"2027-01-%02d"}',
        n, n % 100, n % 28 + 1)
    return wrk.format("POST", "/api/v1/actions", nil, body)
end
