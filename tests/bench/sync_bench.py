"""make bench, GitHub part: figures for the sync (issue 3). Runs the release closeloopd
against the fake GitHub on loopback and a durable PostgreSQL (tests/bench/run.sh starts
it and sets CLOSELOOP_TEST_DSN / CLOSELOOP_BIN_DIR). Every loop is bounded."""
import hashlib
import hmac
import json
import os
import time

from benchlib import cli, pct, until, wrk_webhook  # sets the import path
import harness  # noqa: E402
from fake_github import FakeGitHub  # noqa: E402

SECRET = "bench-secret"


def service(fake, poll="5", extra=None):
    env = {"CLOSELOOP_GITHUB_TOKEN": "ghp_test", "CLOSELOOP_GITHUB_API_URL": fake.url,
           "CLOSELOOP_GITHUB_WEBHOOK_SECRET": SECRET, "CLOSELOOP_GITHUB_WRITE_INTERVAL": "0",
           "CLOSELOOP_GITHUB_POLL_INTERVAL": poll, "CLOSELOOP_LOG_LEVEL": "warn",
           "CLOSELOOP_POOL_SIZE": "16"}
    env.update(extra or {})
    svc = harness.Service(env=env)
    svc.start()
    fake.set_webhook(url=svc.url + "/webhooks/github", secret=SECRET, enabled=True)
    return svc


def bench_import(fake, svc):
    fake.create_repo("bench/big", collaborators=["alice-gh"])
    fake.bulk("bench/big", 10000, labels=["postmortem"], title_prefix="imported")
    cli(svc, "incident", "add", "IMP-1", "--title", "import bench")
    before = fake.last_seq()
    t0 = time.time()
    r = svc.request("POST", "/api/v1/github/import",
                    {"repo": "bench/big", "label": "postmortem", "incident": "IMP-1"},
                    timeout=300)  # the import's own budget (CLI_VERBS_SLOW_S), not a request's
    secs = time.time() - t0
    reqs = [x for x in fake.requests(since=before) if x["path"].startswith("/repos/bench/big")
            or "/repositories/" in x["path"]]
    body = r[2] or {}
    print("import_10000_issues: %s imported in %.2f s, %d list requests (%d issues per "
          "request), %d per-issue requests" % (
              body.get("imported"), secs, len(reqs),
              (body.get("imported") or 0) // max(1, len(reqs)),
              len([x for x in reqs if "/issues/" in x["path"]])))


def bench_idle(fake, svc):
    repos = ["idle/r%02d" % i for i in range(50)]
    cli(svc, "incident", "add", "IDLE-1", "--title", "idle bench")
    for repo in repos:
        fake.create_repo(repo, collaborators=["alice-gh"])
        cli(svc, "action", "add", "--incident", "IDLE-1", "--kind", "corrective",
            "--title", "idle " + repo, "--github", repo)
    until(lambda: svc.sql("SELECT count(*) FROM links WHERE state = 'linked' AND scope LIKE 'idle/%'")[0][0] == "50"
          and svc.sql("SELECT count(*) FROM sync_scopes WHERE scope LIKE 'idle/%' AND "
                      "not_modified > 0")[0][0] == "50", timeout=120)
    used0 = fake.stats()["rate_limit"]["ghp_test"]["used"]
    polls0 = int(svc.sql("SELECT sum(requests) FROM sync_scopes WHERE scope LIKE 'idle/%'")[0][0])
    time.sleep(12)
    used1 = fake.stats()["rate_limit"]["ghp_test"]["used"]
    polls1 = int(svc.sql("SELECT sum(requests) FROM sync_scopes WHERE scope LIKE 'idle/%'")[0][0])
    print("idle_reconciliation_50_repos: %d listing requests in 12 s (poll every 5 s), "
          "%d of them cost rate limit" % (polls1 - polls0, used1 - used0))


def bench_latency(fake, svc):
    fake.create_repo("lat/web", collaborators=["alice-gh"])
    cli(svc, "person", "add", "alice", "--name", "Alice", "--email", "a@x.io",
        "--github", "alice-gh")
    cli(svc, "incident", "add", "LAT-1", "--title", "latency bench")
    out = cli(svc, "action", "add", "--incident", "LAT-1", "--kind", "corrective",
              "--title", "latency", "--owner", "alice", "--github", "lat/web")
    aid = out.stdout.strip()
    until(lambda: svc.sql("SELECT state FROM links WHERE action_id = %s" % int(aid))[0][0]
          == "linked")
    number = int(svc.sql("SELECT remote_key FROM links WHERE action_id = %s" % int(aid))[0][0])
    # webhook received -> action updated: inbox.received_at to the event's commit time
    for i in range(200):
        fake.act("alice-gh", "lat/web", number, "edit", title="remote title %d" % i)
    until(lambda: svc.sql("SELECT title FROM actions WHERE id = %s" % int(aid))[0][0]
          == "remote title 199", timeout=60)
    rows = svc.sql("SELECT extract(epoch FROM e.at - i.received_at) * 1000 FROM events e "
                   "JOIN inbox i ON i.payload::jsonb->'issue'->>'title' = e.new "
                   "AND i.payload::jsonb->>'action' = 'edited' "
                   "WHERE e.action_id = %s AND e.field = 'title' AND e.source = 'github'"
                   % int(aid))
    lat = [float(r[0]) for r in rows]
    print("webhook_to_postgres_ms (received -> committed, %d webhooks): p50 %.1f  p99 %.1f  max %.1f"
          % (len(lat), pct(lat, 50), pct(lat, 99), max(lat)))
    time.sleep(1.5)
    # CLI change -> issue updated on the fake: the change's commit to the PATCH's arrival
    lat = []
    for i in range(100):
        seq = fake.last_seq()
        t0 = time.time()
        cli(svc, "action", "edit", aid, "--title", "local title %d" % i)
        t_cli = time.time() - t0
        hit = until(lambda: [x for x in fake.requests(since=seq)
                             if x["method"] == "PATCH"], timeout=10, step=0.005)
        committed = float(svc.sql("SELECT extract(epoch FROM max(at)) FROM events WHERE "
                                  "action_id = %s AND field = 'title'" % int(aid))[0][0])
        lat.append((hit[0]["time"] - committed) * 1000)
        del t_cli
    print("cli_change_to_github_ms (commit -> PATCH received by the fake, %d changes): "
          "p50 %.1f  p99 %.1f  max %.1f" % (len(lat), pct(lat, 50), pct(lat, 99), max(lat)))


def ingest(svc, seconds, repo, label):
    """wrk posting one signed `edited` delivery about an issue of `repo` (not linked)."""
    payload = json.dumps({"action": "edited", "issue": {
        "id": 999999999999, "number": 1, "title": "not ours", "body": "", "state": "open",
        "updated_at": "2026-01-01T00:00:00Z", "assignees": [], "labels": [],
        "repository_url": "http://x/repos/" + repo},
        "repository": {"full_name": repo}, "sender": {"login": "bench"}},
        separators=(",", ":"))
    sig = "sha256=" + hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    print("%s: %s" % (label, wrk_webhook(svc, seconds, "/webhooks/github", payload,
                                          "X-Hub-Signature-256", sig, "X-GitHub-Delivery",
                                          ("X-GitHub-Event: issues",
                                           "User-Agent: GitHub-Hookshot/bench"))))


def bench_ingest(svc, seconds):
    # about a reconciled repository: stored durably before the 202
    ingest(svc, seconds, "bench/big", "webhook_ingest_durable")
    # about a repository closeloop does not manage: answered, not stored
    ingest(svc, seconds, "nobody/none", "webhook_ingest_unmanaged")


def main():
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    with FakeGitHub() as fake:
        svc = service(fake)
        try:
            print("== GitHub sync bench (fake GitHub on loopback; write_interval 0)")
            bench_import(fake, svc)
            bench_latency(fake, svc)
            bench_idle(fake, svc)
            bench_ingest(svc, seconds)
        finally:
            svc.stop()


if __name__ == "__main__":
    main()
