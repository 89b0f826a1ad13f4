-- POST a signed webhook delivery, with a fresh delivery identifier each time. What to send
-- comes from the environment (benchlib.py's wrk_webhook sets it):
--   BENCH_HOOK_PATH        the route, e.g. /webhooks/github
--   BENCH_HOOK_BODY        the body
--   BENCH_HOOK_SIG_HEADER  and BENCH_HOOK_SIG: the signature header and its value
--   BENCH_HOOK_ID_HEADER   the delivery identifier header
--   BENCH_HOOK_HEADERS     more headers, "Name: value" joined by newlines
local path = os.getenv("BENCH_HOOK_PATH")
local body = os.getenv("BENCH_HOOK_BODY")
local sig_header = os.getenv("BENCH_HOOK_SIG_HEADER")
local sig = os.getenv("BENCH_HOOK_SIG")
local id_header = os.getenv("BENCH_HOOK_ID_HEADER")
local fixed = {["Content-Type"] = "application/json"}
for line in (os.getenv("BENCH_HOOK_HEADERS") or ""):gmatch("[^\n]+") do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then
        fixed[name] = value
    end
end
local n = 0
local thread_tag = tostring(math.random(1, 1e9))
request = function()
    n = n + 1
    local headers = {}
    for k, v in pairs(fixed) do
        headers[k] = v
    end
    headers[sig_header] = sig
    headers[id_header] = thread_tag .. "-" .. n
    return wrk.format("POST", path, headers, body)
end
