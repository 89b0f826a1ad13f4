"""make bench, Jira part: the figures of the Jira sync (issue 8) against the fake Jira Cloud
on loopback and the durable PostgreSQL tests/bench/run.sh starts (CLOSELOOP_TEST_DSN,
CLOSELOOP_BIN_DIR). Every loop is bounded."""
import hashlib
import hmac
import json
import os
import time

from benchlib import cli, one, pct, until, wrk_webhook  # sets the import path
import harness  # noqa: E402
import fake_jira  # noqa: E402
from fake_jira import FakeJira  # noqa: E402

SECRET = "bench-jira-secret"


def service(fake, poll="5"):
    env = {"CLOSELOOP_JIRA_SITE": fake.url, "CLOSELOOP_JIRA_FLAVOUR": "cloud",
           "CLOSELOOP_JIRA_EMAIL": fake_jira.DEFAULT_EMAIL,
           "CLOSELOOP_JIRA_API_TOKEN": fake_jira.DEFAULT_API_TOKEN,
           "CLOSELOOP_JIRA_WEBHOOK_SECRET": SECRET, "CLOSELOOP_JIRA_WRITE_INTERVAL": "0",
           "CLOSELOOP_JIRA_POLL_INTERVAL": poll, "CLOSELOOP_LOG_LEVEL": "warn",
           "CLOSELOOP_POOL_SIZE": "16"}
    svc = harness.Service(env=env)
    svc.start()
    fake.set_webhook(url=svc.url + "/webhooks/jira", secret=SECRET)
    return svc


def bench_import(fake, svc):
    fake.create_project("BIG")
    fake.bulk("BIG", 10000, summary_prefix="imported", labels=["postmortem"])
    cli(svc, "incident", "add", "IMP-1", "--title", "import bench")
    before = fake.last_seq()
    t0 = time.time()
    r = svc.request("POST", "/api/v1/jira/import",
                    {"project": "BIG", "jql": "labels = postmortem", "incident": "IMP-1"},
                    timeout=600)
    secs = time.time() - t0
    reqs = fake.requests(since=before)
    body = r[2] or {}
    print("jira_import_10000_issues: %s imported in %.2f s, %d search requests (%d issues "
          "per request), %d per-issue requests" % (
              body.get("imported"), secs, len(reqs),
              (body.get("imported") or 0) // max(1, len(reqs)),
              len([x for x in reqs if "/issue/" in x["path"]])))


def bench_idle(fake, svc):
    projects = ["ID%02d" % i for i in range(20)]
    cli(svc, "incident", "add", "IDLE-1", "--title", "idle bench")
    for p in projects:
        fake.create_project(p)
        cli(svc, "action", "add", "--incident", "IDLE-1", "--kind", "corrective",
            "--title", "idle " + p, "--jira", p)
    until(lambda: one(svc, "SELECT count(*) FROM links WHERE state = 'linked' AND scope "
                           "LIKE 'ID%'") == "20", timeout=120)
    time.sleep(6)  # every project polled once since
    seq = fake.last_seq()
    time.sleep(12)
    reqs = fake.requests(since=seq)
    searches = [r for r in reqs if r["path"].endswith("/search/jql")]

    def jql(r):
        return (r["body"] or {}).get("jql", "") if isinstance(r["body"], dict) else ""
    idle = [r for r in searches if jql(r).startswith('project = "ID')]
    print("jira_idle_reconciliation_20_projects: %d searches in 12 s (poll every 5 s), %.1f "
          "per project per poll" % (len(idle), len(idle) / 20.0 / (12 / 5.0)))
    print("jira_reconciliation_all_scopes: %d requests in the same 12 s, %d of them searches "
          "(scopes changed within the 2-minute JQL overlap are listed again: BIG's 10,000 "
          "imported issues, 100 pages per poll)" % (len(reqs), len(searches)))


def bench_latency(fake, svc):
    fake.create_project("LAT")
    acc = fake.add_account("alice")
    cli(svc, "person", "add", "alice", "--name", "Alice", "--email", "a@x.io",
        "--jira-account", acc["id"])
    cli(svc, "incident", "add", "LAT-1", "--title", "latency bench")
    aid = cli(svc, "action", "add", "--incident", "LAT-1", "--kind", "corrective",
              "--title", "latency", "--owner", "alice", "--jira", "LAT").stdout.strip()
    until(lambda: one(svc, "SELECT state FROM links WHERE action_id = %d" % int(aid)) == "linked")
    key = one(svc, "SELECT remote_key FROM links WHERE action_id = %d" % int(aid))
    for i in range(200):
        fake.act("alice", key, "edit", summary="remote title %d" % i)
    until(lambda: one(svc, "SELECT title FROM actions WHERE id = %d" % int(aid))
          == "remote title 199", timeout=60)
    rows = svc.sql("SELECT extract(epoch FROM e.at - i.received_at) * 1000 FROM events e "
                   "JOIN inbox i ON i.payload::jsonb->'issue'->'fields'->>'summary' = e.new "
                   "WHERE e.action_id = %d AND e.field = 'title' AND e.source = 'jira'"
                   % int(aid))
    lat = [float(r[0]) for r in rows]
    print("jira_webhook_to_postgres_ms (received -> committed, %d webhooks): p50 %.1f  "
          "p99 %.1f  max %.1f" % (len(lat), pct(lat, 50), pct(lat, 99), max(lat)))
    time.sleep(1.5)
    # a change -> Jira written: the commit to the last write request's arrival; a status
    # change walks the workflow (To Do -> In Progress -> Done: two transitions)
    lat, walk = [], []
    for i in range(60):
        seq = fake.last_seq()
        verb = ["edit", aid, "--title", "local title %d" % i]
        status_change = i % 3 == 2
        if status_change:
            verb = ["done", aid] if i % 6 == 2 else ["reopen", aid]
        cli(svc, "action", *verb)
        want = "POST" if status_change else "PUT"
        hits = until(lambda: [x for x in fake.requests(since=seq) if x["method"] == want],
                     timeout=10, step=0.005)
        if status_change and verb[0] == "done":
            hits = until(lambda: (lambda h: h if len(h) >= 2 else None)(
                [x for x in fake.requests(since=seq) if x["method"] == "POST"]),
                timeout=10, step=0.005)
        committed = float(one(svc, "SELECT extract(epoch FROM max(at)) FROM events WHERE "
                                   "action_id = %d" % int(aid)))
        (walk if status_change else lat).append((hits[-1]["time"] - committed) * 1000)
        until(lambda: int(one(svc, "SELECT count(*) FROM outbox WHERE done_at IS NULL AND "
                                   "failed_at IS NULL")) == 0, timeout=10)
    print("jira_change_to_write_ms (commit -> PUT received, %d edits): p50 %.1f  p99 %.1f  "
          "max %.1f" % (len(lat), pct(lat, 50), pct(lat, 99), max(lat)))
    print("jira_status_to_transition_ms (commit -> last transition POST, %d status changes, "
          "done walks 2 transitions): p50 %.1f  p99 %.1f  max %.1f" % (
              len(walk), pct(walk, 50), pct(walk, 99), max(walk)))


def bench_ingest(svc, seconds):
    """wrk posting one signed jira:issue_updated delivery about an issue of project BIG."""
    payload = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 1796580000000,
                          "user": {"accountId": "bench"},
                          "issue": {"id": "99999999", "key": "BIG-999999", "fields": {
                              "summary": "not ours", "description": None,
                              "status": {"statusCategory": {"key": "new"}},
                              "project": {"key": "BIG"}, "labels": [],
                              "updated": "2026-12-06T17:52:03.123+0000"}}},
                         separators=(",", ":"))
    sig = "sha256=" + hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    print("jira_webhook_ingest_signed: " +
          wrk_webhook(svc, seconds, "/webhooks/jira", payload, "X-Hub-Signature", sig,
                      "X-Atlassian-Webhook-Identifier",
                      ("User-Agent: Atlassian Webhook HTTP Client",)))


def main():
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    with FakeJira() as fake:
        svc = service(fake)
        try:
            print("== Jira sync bench (fake Jira Cloud on loopback; write_interval 0)")
            bench_import(fake, svc)
            bench_latency(fake, svc)
            bench_idle(fake, svc)
            bench_ingest(svc, seconds)
        finally:
            svc.stop()


if __name__ == "__main__":
    main()
