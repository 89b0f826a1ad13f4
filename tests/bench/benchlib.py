"""What the sync benches share: the import path of the test harness and fakes, percentiles,
bounded waits, the CLI as admin, and wrk posting signed webhook deliveries."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
import harness  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def until(cond, timeout=60.0, step=0.02):
    return harness.until(cond, timeout=timeout, interval=step)


def cli(svc, *args):
    return svc.cli(*args, token="admin")


def one(svc, query):
    return svc.sql(query)[0][0]


def wrk_webhook(svc, seconds, path, body, sig_header, sig, id_header, headers=()):
    """wrk -c32 posting body to path for `seconds`; returns a line of figures: deliveries/s,
    p99, non-2xx answers and how many rows the inbox gained."""
    n0 = int(one(svc, "SELECT count(*) FROM inbox"))
    env = dict(os.environ, BENCH_HOOK_PATH=path, BENCH_HOOK_BODY=body,
               BENCH_HOOK_SIG_HEADER=sig_header, BENCH_HOOK_SIG=sig,
               BENCH_HOOK_ID_HEADER=id_header, BENCH_HOOK_HEADERS="\n".join(headers))
    out = subprocess.run(["wrk", "-t1", "-c32", "-d%ds" % seconds, "--latency", "-s",
                          os.path.join(ROOT, "tests", "bench", "webhook.lua"), svc.url],
                         env=env, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = [ln.split()[1] for ln in out.splitlines() if ln.startswith("Requests/sec")]
    p99 = [ln.split()[1] for ln in out.splitlines() if ln.strip().startswith("99%")]
    non2xx = [ln.split()[-1] for ln in out.splitlines() if "Non-2xx" in ln]
    n1 = int(one(svc, "SELECT count(*) FROM inbox"))
    return "%s deliveries/s (p99 %s, non-2xx %s), %d stored in PostgreSQL" % (
        rps[0] if rps else "?", p99[0] if p99 else "?", non2xx[0] if non2xx else "0", n1 - n0)
