-- POST /webhooks/github: a signed `issues` delivery, a fresh X-GitHub-Delivery each time.
-- The body and its signature come from the environment (sync_bench.py computes them).
local body = os.getenv("BENCH_HOOK_BODY")
local sig = os.getenv("BENCH_HOOK_SIG")
local n = 0
local thread_tag = tostring(math.random(1, 1e9))
request = function()
    n = n + 1
    local headers = {
        ["Content-Type"] = "application/json",
        ["X-GitHub-Event"] = "issues",
        ["X-GitHub-Delivery"] = thread_tag .. "-" .. n,
        ["X-Hub-Signature-256"] = sig,
        ["User-Agent"] = "GitHub-Hookshot/bench",
    }
    return wrk.format("POST", "/webhooks/github", headers, body)
end
