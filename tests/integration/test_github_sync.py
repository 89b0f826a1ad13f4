"""End-to-end tests of the GitHub two-way sync: closeloopd + the CLI against the GitHub fake
(tests/fakes/fake_github.py), PostgreSQL checked directly.

Every class runs its own fake and its own closeloopd (poll interval, webhooks and token differ
per class). The fake records every API exchange as JSONL: to $FAKE_GITHUB_RECORD when set
(tests/run.sh sets it under $CLOSELOOP_CONFORMANCE_DIR and validates it against GitHub's OpenAPI
description with tests/conformance/run.sh afterwards), else to a file per class under
$CLOSELOOP_CONFORMANCE_DIR, else under a temporary directory.

Waits are bounded polls on a condition (until()); the few plain sleeps are the windows in
which something must *not* happen (no retry, no echo, no request during a pause).
"""

import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))

from fake_github import FakeGitHub  # noqa: E402
from harness import Service, ServiceTestCase, until  # noqa: E402
from sync_case import SyncCase  # noqa: E402

SECRET = "whsec-closeloop-tests-7f3c"
TOKEN = "ghp_test"  # the fake's default token
REPO = "acme/web"
LABELS = ["postmortem", "corrective", "preventive"]
COLLABORATORS = ["alice-gh", "bob-gh", "carol-gh"]  # carol-gh maps to no person
_record_dir = None


def record_path(name):
    """Where the fake records its exchanges: $FAKE_GITHUB_RECORD when set (the file
    tests/run.sh validates, under $CLOSELOOP_CONFORMANCE_DIR), else a file of this class under
    $CLOSELOOP_CONFORMANCE_DIR, else under a temporary directory."""
    global _record_dir
    shared = os.environ.get("FAKE_GITHUB_RECORD")
    if shared:
        return shared
    d = os.environ.get("CLOSELOOP_CONFORMANCE_DIR")
    if not d:
        if _record_dir is None:
            _record_dir = tempfile.mkdtemp(prefix="closeloop-conformance.")
        d = _record_dir
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"github_sync-{name}-{os.getpid()}.jsonl")


def sign(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def later(ts, seconds=1):
    """An updated_at `seconds` after ts (an epoch number or GitHub's text)."""
    import datetime
    if isinstance(ts, (int, float)):
        t = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    else:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    return (t + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def metric(text, name, labels=""):
    """The value of one sample in Prometheus text, or None."""
    pat = "^" + re.escape(name + (("{" + labels + "}") if labels else "")) + r" (\S+)$"
    m = re.search(pat, text, re.M)
    return float(m.group(1)) if m else None


class GitHubSyncCase(SyncCase):
    """A fake GitHub with acme/web, a closeloopd pointed at it, people and an incident."""

    ref_key = "number"
    poll_interval = "1"
    webhooks = True
    token = TOKEN
    admin_dsn = None  # the test cluster ($CLOSELOOP_TEST_DSN)
    extra_env = {}  # more of closeloopd's environment, for a class

    @classmethod
    def setUpClass(cls):
        super(ServiceTestCase, cls).setUpClass()  # not ServiceTestCase's: it starts no fake
        cls.svc = None
        cls.gh = FakeGitHub(record=record_path(cls.__name__)).start()
        cls.fake = cls.gh
        try:
            env = {
                "CLOSELOOP_GITHUB_TOKEN": cls.token,
                "CLOSELOOP_GITHUB_API_URL": cls.gh.url,
                "CLOSELOOP_GITHUB_WEBHOOK_SECRET": SECRET,
                "CLOSELOOP_GITHUB_WRITE_INTERVAL": "0",
                "CLOSELOOP_GITHUB_POLL_INTERVAL": cls.poll_interval,
                "CLOSELOOP_GITHUB_TIMEOUT": "10",
            }
            env.update(cls.extra_env)
            cls.svc = Service(name=cls.__name__, env=env, admin_dsn=cls.admin_dsn).start()
            cls.point_webhooks()
            cls.gh.create_repo(REPO, collaborators=COLLABORATORS, labels=LABELS)
            cls.instance = cls.svc.sql("SELECT value FROM settings WHERE key = 'instance_id'")[0][0]
            cls.api_ok("POST", "/api/v1/teams", {"name": "sre"})
            for handle, login in (("alice", "alice-gh"), ("bob", "bob-gh"), ("dave", None)):
                person = {"handle": handle, "name": handle.title(), "team": "sre",
                          "email": f"{handle}@example.com"}
                if login:
                    person["github_login"] = login
                cls.api_ok("POST", "/api/v1/people", person)
            cls.api_ok("POST", "/api/v1/incidents", {"key": "INC-1", "title": "Checkout outage"})
        except BaseException:
            if cls.svc is not None:
                cls.svc.stop()
            cls.gh.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.gh.stop()

    @classmethod
    def point_webhooks(cls, enabled=None):
        cls.gh.configure(webhook={"url": cls.svc.url + "/webhooks/github", "secret": SECRET,
                                  "enabled": cls.webhooks if enabled is None else enabled})

    # -- helpers ------------------------------------------------------------------------------

    def add_action(self, title, owner="alice", due="2026-12-01", kind="corrective",
                   description=None, repo=REPO):
        args = ["action", "add", "--incident", "INC-1", "--kind", kind, "--title", title]
        if owner:
            args += ["--owner", owner]
        args += ["--due", due or "none"]  # none: not the due policy's date
        if description is not None:
            args += ["--description", description]
        args += ["--github", repo] if repo else ["--no-github"]
        return int(self.cli_ok(*args).split()[0])

    def link(self, aid):
        rows = self.svc.sql(
            "SELECT state, scope, remote_id, remote_key, url, last_error, warning, "
            "coalesce(base::text, '{}') FROM links WHERE action_id = :'p1'", aid)
        if not rows:
            return None
        keys = ("state", "repo", "remote_id", "number", "url", "last_error", "warning", "base")
        out = dict(zip(keys, rows[0]))
        out["number"] = int(out["number"]) if out["number"] else None
        out["base"] = json.loads(out["base"])
        return out

    def issue(self, number, repo=REPO):
        return self.gh.raw_issue(repo, number)

    def wait_issue(self, number, cond, what, repo=REPO, timeout=10):
        return until(lambda: (lambda i: i if cond(i) else None)(self.issue(number, repo)),
                     timeout, what=lambda: f"{what}; issue is {self._issue_brief(number, repo)}")

    def _issue_brief(self, number, repo=REPO):
        i = self.issue(number, repo)
        return {k: i[k] for k in ("title", "body", "state", "state_reason", "assignees",
                                  "labels", "updated_at")}

    def outbox_rows(self, aid):
        return int(self.svc.sql("SELECT count(*) FROM outbox WHERE action_id = :'p1'", aid)[0][0])

    def requests_to(self, method, path_re, since=0):
        rx = re.compile(path_re)
        return [r for r in self.gh.requests(since)
                if r["method"] == method and rx.search(r["path"])]

    def edit_body(self, actor, number, old, new, repo=REPO):
        body = self.issue(number, repo)["body"]
        self.assertIn(old, body)
        return self.gh.act(actor, repo, number, "edit", body=body.replace(old, new))

    @contextlib.contextmanager
    def webhooks_off(self):
        """The fake sends no webhook at all inside (nothing is queued for later either)."""
        self.gh.drain(5)
        self.point_webhooks(enabled=False)
        try:
            yield
        finally:
            self.point_webhooks()


# =============================================================================================
# Webhooks only: reconciliation runs once at start, then every hour.


class GitHubWebhookSyncTest(GitHubSyncCase):
    poll_interval = "3600"

    # -- 1. creation ------------------------------------------------------------------------
    def test_01_action_add_creates_the_issue(self):
        seq = self.gh.last_seq()
        aid = self.add_action("Cap the DB pool", description="Limit connections to 50.\n\n",
                              due="2026-12-01")
        link = self.wait_linked(aid)
        issue = self.issue(link["number"])
        self.assertEqual(issue["title"], "Cap the DB pool")
        body = issue["body"]
        self.assertTrue(body.startswith("Limit connections to 50.\n\n<!-- closeloop:begin -->"),
                        body)
        section = body[body.index("<!-- closeloop:begin -->"):]
        self.assertIn("**Due:** 2026-12-01", section)
        self.assertIn(f"<!-- closeloop:action={aid} instance={self.instance} -->", section)
        self.assertTrue(section.rstrip().endswith("<!-- closeloop:end -->"), section)
        self.assertEqual(sorted(issue["labels"]), ["corrective", "postmortem"])
        self.assertEqual(issue["assignees"], ["alice-gh"])
        self.assertEqual(issue["state"], "open")
        self.assertEqual(link["remote_id"], str(issue["id"]))
        self.assertEqual(link["repo"], REPO)
        posts = self.requests_to("POST", r"^/repos/acme/web/issues$", seq)
        self.assertEqual(len(posts), 1, posts)
        self.assertEqual(posts[0]["headers"].get("x-github-api-version"), "2022-11-28")
        self.assertTrue(posts[0]["headers"].get("user-agent"))
        out = self.cli_ok("action", "show", aid)
        self.assertIn(issue["rendered"]["html_url"], out)
        self.assertRegex(out, r"(?m)^sync:\s+linked")
        self.assertEqual(self.action(aid)["sync"]["state"], "linked")

    def test_01b_preventive_unowned_no_due(self):
        aid = self.add_action("Chaos test the pool", owner=None, due=None, kind="preventive")
        issue = self.issue(self.wait_linked(aid)["number"])
        self.assertEqual(sorted(issue["labels"]), ["postmortem", "preventive"])
        self.assertEqual(issue["assignees"], [])
        self.assertIn("**Due:** none", issue["body"])
        self.assertTrue(issue["body"].startswith("<!-- closeloop:begin -->"), issue["body"])

    # -- 2. owner works in GitHub -------------------------------------------------------------
    def test_02_owner_closes_and_reopens_in_github(self):
        aid, n = self.create_linked("Add a pool alarm")
        seq = self.gh.last_seq()
        mark = self.last_event_id()
        out = self.gh.act("alice-gh", REPO, n, "close", state_reason="completed")
        self.assertEqual(out["delivery"]["status"], 202, out)
        self.wait_action(aid, lambda a: a["status"] == "done", "status done")
        ev = self.events(aid, "status", mark)
        self.assertEqual([(e["source"], e["actor"], e["old"], e["new"]) for e in ev],
                         [("github", "alice-gh", "open", "done")])
        self.assertIsNotNone(self.action(aid)["closed_at"])

        self.gh.act("alice-gh", REPO, n, "reopen")
        self.wait_action(aid, lambda a: a["status"] == "open", "status open again")
        self.assertIsNone(self.action(aid)["closed_at"])

        self.gh.act("alice-gh", REPO, n, "close", state_reason="not_planned")
        self.wait_action(aid, lambda a: a["status"] == "wont_do", "status wont_do")
        ev = self.events(aid, "status", mark)
        self.assertEqual([(e["source"], e["actor"], e["old"], e["new"]) for e in ev],
                         [("github", "alice-gh", "open", "done"),
                          ("github", "alice-gh", "done", "open"),
                          ("github", "alice-gh", "open", "wont_do")])
        self.settle(aid)
        # changes that came from GitHub are not written back
        self.assertEqual(self.requests_to("PATCH", rf"/issues/{n}$", seq), [])
        self.assertEqual(self.issue(n)["state_reason"], "not_planned")

    # -- 3. facilitator works in the CLI ------------------------------------------------------
    def test_03_cli_changes_reach_the_issue(self):
        aid, n = self.create_linked("Rotate DB credentials", description="Old text")
        self.cli_ok("action", "assign", aid, "bob")
        self.wait_issue(n, lambda i: i["assignees"] == ["bob-gh"], "assignee bob-gh")
        self.cli_ok("action", "done", aid)
        self.wait_issue(n, lambda i: i["state"] == "closed" and i["state_reason"] == "completed",
                        "closed as completed")
        self.cli_ok("action", "reopen", aid)
        self.wait_issue(n, lambda i: i["state"] == "open", "reopened")
        self.cli_ok("action", "drop", aid, "--reason", "test: not planned")
        self.wait_issue(n, lambda i: i["state"] == "closed" and i["state_reason"] == "not_planned",
                        "closed as not planned")
        self.cli_ok("action", "reopen", aid)
        self.wait_issue(n, lambda i: i["state"] == "open", "reopened again")
        self.cli_ok("action", "edit", aid, "--title", "Rotate all DB credentials",
                    "--description", "New text, with *Markdown*.", "--due", "2027-01-15", "--reason", "test: the date moved",
                    "--kind", "preventive")
        issue = self.wait_issue(
            n, lambda i: i["title"] == "Rotate all DB credentials"
            and i["body"].startswith("New text, with *Markdown*.\n\n")
            and "**Due:** 2027-01-15" in i["body"], "title, description and due date")
        self.assertEqual(sorted(issue["labels"]), ["postmortem", "preventive"])
        self.assertIn(f"<!-- closeloop:action={aid} instance={self.instance} -->", issue["body"])
        self.cli_ok("action", "edit", aid, "--due", "none", "--reason", "test: the date moved")
        self.wait_issue(n, lambda i: "**Due:** none" in i["body"], "due date cleared")
        self.settle(aid)
        # the echoes of all these writes changed nothing back
        a = self.action(aid)
        self.assertEqual((a["title"], a["description"], a["due_on"], a["owner"], a["status"],
                          a["kind"]),
                         ("Rotate all DB credentials", "New text, with *Markdown*.", None, "bob",
                          "open", "preventive"))
        self.assertEqual([e for e in self.events(aid) if e["source"] == "github"], [])

    # -- 4. both sides edit the same field ----------------------------------------------------
    def test_04_conflict_title_github_wins(self):
        aid, n = self.create_linked("Original title")
        mark = self.last_event_id()
        with self.webhooks_off():
            self.gh.act("alice-gh", REPO, n, "edit", title="GitHub title")
            self.cli_ok("action", "edit", aid, "--title", "closeloop title")
            self.wait_action(aid, lambda a: a["title"] == "GitHub title", "GitHub's title")
            self.settle(aid)
        conflicts = self.events(aid, "conflict.title", mark)
        self.assertEqual(len(conflicts), 1, self.events(aid, since_id=mark))
        self.assertEqual((conflicts[0]["old"], conflicts[0]["new"]),
                         ("closeloop title", "GitHub title"))
        self.assertEqual(self.issue(n)["title"], "GitHub title")
        self.assertEqual(self.link(aid)["base"]["title"], "GitHub title")

    def test_04b_conflict_due_closeloop_wins(self):
        aid, n = self.create_linked("Add a canary", due="2026-12-01")
        mark = self.last_event_id()
        with self.webhooks_off():
            self.edit_body("alice-gh", n, "**Due:** 2026-12-01", "**Due:** 2027-02-02")
            self.cli_ok("action", "edit", aid, "--due", "2027-03-03", "--reason", "test: the date moved")
            self.wait_issue(n, lambda i: "**Due:** 2027-03-03" in i["body"],
                            "closeloop's due date pushed back")
            self.settle(aid)
        self.assertEqual(self.action(aid)["due_on"], "2027-03-03")
        conflicts = self.events(aid, "conflict.due_on", mark)
        self.assertEqual([(c["old"], c["new"]) for c in conflicts], [("2027-03-03", "2027-02-02")])
        self.assertEqual(self.link(aid)["base"].get("due_on"), "2027-03-03")

    def test_04c_different_fields_merge(self):
        aid, n = self.create_linked("Tune timeouts", description="First words", due="2026-12-01")
        mark = self.last_event_id()
        with self.webhooks_off():
            self.edit_body("alice-gh", n, "First words", "Words the owner wrote")
            self.cli_ok("action", "edit", aid, "--due", "2027-04-04", "--reason", "test: the date moved")
            issue = self.wait_issue(n, lambda i: "**Due:** 2027-04-04" in i["body"],
                                    "due date pushed")
            self.settle(aid)
        self.assertTrue(issue["body"].startswith("Words the owner wrote\n\n"), issue["body"])
        a = self.action(aid)
        self.assertEqual((a["description"], a["due_on"]), ("Words the owner wrote", "2027-04-04"))
        self.assertEqual([e for e in self.events(aid, since_id=mark)
                          if e["field"].startswith("conflict.")], [])

    def test_04d_edit_between_read_and_write_is_recovered(self):
        """GitHub has no conditional update: an owner's edit landing between closeloop's GET
        and its PATCH is overwritten. The fault runs the edit right after the GET is answered
        and loses its webhook, so only the echo of closeloop's own PATCH (changes.body.from)
        can tell. The description comes back (the owner's field); the due date stays
        closeloop's and the overwritten one is kept in a conflict event. The echo is usually
        merged before closeloop has recorded its PATCH (test_04e: after)."""
        self.lost_update(late_echo=False)

    def test_04e_lost_edit_recovered_from_a_late_echo(self):
        self.lost_update(late_echo=True)

    def lost_update(self, late_echo):
        aid, n = self.create_linked("Shed load early", description="First words",
                                    due="2026-12-01")
        mark = self.last_event_id()
        body = self.issue(n)["body"]
        owners = (body.replace("First words", "Owner's words")
                  .replace("**Due:** 2026-12-01", "**Due:** 2027-05-05"))
        self.assertNotEqual(owners, body)
        fault = self.gh.fault("GET", rf"/repos/{REPO}/issues/{n}$", count=1,
                              after={"act": {"actor": "alice-gh", "repo": REPO, "number": n,
                                             "action": "edit", "body": owners,
                                             "webhook": False}})
        if late_echo:     # the echo is refused until the PATCH is recorded, then redelivered
            self.gh.configure(webhook={"url": self.svc.url + "/webhooks/nowhere"})
        seen = max([d["seq"] for d in self.gh.deliveries()], default=0)
        self.cli_ok("action", "edit", aid, "--due", "2027-03-03", "--reason", "test: the date moved")   # closeloop PATCHes the body
        if late_echo:
            until(lambda: self.pending(aid) == 0 and self.gh.drain(5), 10, what="the PATCH")
            self.assertEqual(self.action(aid)["description"], "First words")
            self.point_webhooks()
            echoes = [d for d in self.gh.deliveries(since=seen) if d["sent"]]   # not the lost one
            self.assertEqual([(d["action"], d["status"]) for d in echoes], [("edited", 404)])
            self.assertEqual(self.gh.redeliver(echoes[0]["id"])["status"], 202)
        issue = self.wait_issue(n, lambda i: i["body"].startswith("Owner's words\n\n")
                                and "**Due:** 2027-03-03" in i["body"],
                                "the owner's description back beside closeloop's due date")
        self.settle(aid)
        runs = [f.get("after_runs") for f in self.gh.faults() if f["id"] == fault["id"]]
        self.assertEqual([[r["status"] for r in rs] for rs in runs], [[200]], runs)
        a = self.action(aid)
        self.assertEqual((a["description"], a["due_on"]), ("Owner's words", "2027-03-03"))
        conflicts = {e["field"]: (e["old"], e["new"]) for e in self.events(aid, since_id=mark)
                     if e["field"].startswith("conflict.")}
        self.assertEqual(conflicts, {"conflict.description": ("First words", "Owner's words"),
                                     "conflict.due_on": ("2027-03-03", "2027-05-05")})
        self.assertEqual(self.issue(n)["body"], issue["body"])

    # -- 6. no echo ---------------------------------------------------------------------------
    def test_06_no_echo_after_a_push(self):
        aid, n = self.create_linked("Document the runbook")
        seq = self.gh.last_seq()
        mark = self.last_event_id()
        delivered = len(self.gh.deliveries())
        self.cli_ok("action", "edit", aid, "--title", "Document the DB runbook")
        self.wait_issue(n, lambda i: i["title"] == "Document the DB runbook", "pushed title")
        self.settle(aid)
        echoes = [d for d in self.gh.deliveries()[delivered:]
                  if d["payload"]["issue"]["number"] == n]
        self.assertTrue(echoes, "the fake sent no echo webhook: the test proves nothing")
        self.assertTrue(all(d["status"] == 202 for d in echoes), echoes)
        self.assertTrue(all(d["payload"]["sender"]["login"] == "svc-bot" for d in echoes))
        time.sleep(1.5)  # a window in which nothing may happen
        self.settle(aid)
        self.assertEqual(len(self.requests_to("PATCH", rf"^/repos/acme/web/issues/{n}$", seq)), 1)
        self.assertEqual([(e["source"], e["field"]) for e in self.events(aid, since_id=mark)],
                         [("cli", "title")])
        self.assertEqual(self.pending(aid), 0)

    def test_06c_a_push_costs_one_fetch_and_one_patch(self):
        """A local change is one outbox job: GET the issue, merge, PATCH. The merge inside
        that job must not queue a second push of the same change (another job, another GET)."""
        aid, n = self.create_linked("Label the dashboards")
        seq = self.gh.last_seq()
        rows = self.outbox_rows(aid)
        self.cli_ok("action", "edit", aid, "--title", "Label the DB dashboards")
        self.wait_issue(n, lambda i: i["title"] == "Label the DB dashboards", "pushed title")
        self.settle(aid)
        time.sleep(0.5)
        self.settle(aid)
        calls = [(r["method"], r["status"]) for r in self.gh.requests(seq)
                 if r["path"] == f"/repos/acme/web/issues/{n}"]
        self.assertEqual(calls, [("GET", 200), ("PATCH", 200)])
        self.assertEqual(self.outbox_rows(aid), rows + 1)

    # -- 7. owner mapping ---------------------------------------------------------------------
    def test_07_two_assignees_or_unknown_login_keep_the_owner(self):
        aid, n = self.create_linked("Shard the sessions table")
        mark = self.last_event_id()
        self.gh.act("bob-gh", REPO, n, "assign", assignees=["carol-gh"])
        until(lambda: self.link(aid)["warning"], what="a warning for two assignees")
        self.assertIn("2 assignees", self.link(aid)["warning"])
        self.assertEqual(self.action(aid)["owner"], "alice")
        out = self.cli_ok("action", "show", aid)
        self.assertRegex(out, r"(?m)^warning:\s+.*2 assignees")

        self.gh.act("bob-gh", REPO, n, "unassign", assignees=["alice-gh"])
        until(lambda: "carol-gh" in (self.link(aid)["warning"] or "")
              and "no active person" in self.link(aid)["warning"],
              what=lambda: f"a warning for an unmapped login; link {self.link(aid)}")
        self.settle(aid)
        self.assertEqual(self.action(aid)["owner"], "alice")
        warnings = self.events(aid, "sync_warning", mark)
        self.assertEqual(len(warnings), 2, warnings)
        self.assertTrue(all(w["source"] == "github" for w in warnings), warnings)
        self.assertIn("carol-gh", warnings[1]["new"])
        self.assertIn("carol-gh", self.cli_ok("action", "show", aid))
        self.assertEqual(self.events(aid, "owner", mark), [])
        # the warning never turned into a write that rewrites GitHub's assignees
        self.assertEqual(self.issue(n)["assignees"], ["carol-gh"])
        # and the drift report shows the disagreement (issue 9)
        drift = self.api_ok("GET", "/api/v1/reports/drift")["items"]
        mine = [it for it in drift if it["id"] == aid]
        self.assertEqual(len(mine), 1, drift)
        self.assertIn("carol-gh", mine[0]["report"]["warning"])
        self.assertNotIn(aid, [it["id"] for it in
                               self.api_ok("GET", "/api/v1/reports/drift?owner=bob")["items"]])

    def test_07b_owner_without_login_leaves_assignees_alone(self):
        aid, n = self.create_linked("Review the failover plan", owner="dave")
        self.assertEqual(self.issue(n)["assignees"], [])
        self.gh.act("alice-gh", REPO, n, "assign", assignees=["alice-gh"])
        until(lambda: self.link(aid)["warning"], what="a warning about dave's missing login")
        self.assertIn("dave", self.link(aid)["warning"])
        self.assertEqual(self.action(aid)["owner"], "dave")
        seq = self.gh.last_seq()
        self.cli_ok("action", "edit", aid, "--title", "Review the failover plan twice")
        self.wait_issue(n, lambda i: i["title"] == "Review the failover plan twice", "title")
        self.settle(aid)
        patches = self.requests_to("PATCH", rf"/issues/{n}$", seq)
        self.assertTrue(patches)
        self.assertTrue(all("assignees" not in (p["body"] or {}) for p in patches), patches)
        self.assertEqual(self.issue(n)["assignees"], ["alice-gh"])
        self.assertEqual(self.action(aid)["owner"], "dave")

    # -- 8. the webhook endpoint --------------------------------------------------------------
    def post_hook(self, body, event="issues", delivery=None, signature="sign", path=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": event,
                   "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                   "User-Agent": "GitHub-Hookshot/test"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign(raw)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return self.svc.request("POST", path or "/webhooks/github", raw_body=raw, token=None,
                                headers=headers)

    def inbox_count(self):
        return int(self.svc.sql("SELECT count(*) FROM inbox")[0][0])

    def payload_for(self, n, **issue_changes):
        """A real 'edited' payload of issue n (from the fake's deliveries), changed."""
        iss = self.issue(n)["rendered"]
        iss.update(issue_changes)
        return {"action": "edited", "issue": iss, "changes": {"title": {"from": "x"}},
                "repository": {"id": 1, "full_name": REPO, "name": "web",
                               "owner": {"login": "acme", "id": 2}},
                "sender": {"login": "mallory", "id": 99, "type": "User"}}

    def test_08_signature_required(self):
        aid, n = self.create_linked("Alert on pool saturation")
        before = self.inbox_count()
        # a new state of the issue: a later updated_at (one with the same one is re-read)
        body = json.dumps(self.payload_for(n, title="Forged title",
                                           updated_at=later(self.issue(n)["updated_at"]))
                          ).encode()
        cases = {"missing": None, "wrong secret": sign(body, "not-the-secret"),
                 "other body": sign(body + b" "), "sha1": "sha1=" + hmac.new(
                     SECRET.encode(), body, hashlib.sha1).hexdigest(), "garbage": "sha256=zz"}
        for name, sig in cases.items():
            with self.subTest(name):
                r = self.post_hook(body, signature=sig)
                self.assertEqual(r.status, 401, r.body)
        self.assertEqual(self.inbox_count(), before)
        r = self.post_hook(body, path="/webhooks/github/nope")
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(self.inbox_count(), before)
        # the right signature on the same bytes is accepted (the cases above were only wrong),
        # on the default route and on the connection's own
        r = self.post_hook(body, path="/webhooks/github/github")
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(self.inbox_count(), before + 1)
        self.wait_action(aid, lambda a: a["title"] == "Forged title", "the signed delivery")

    def test_08b_redelivery_stored_and_applied_once(self):
        aid, n = self.create_linked("Load test the pool")
        mark = self.last_event_id()
        out = self.gh.act("alice-gh", REPO, n, "edit", title="Load test the pool at 2x")
        did = out["delivery"]["id"]
        self.assertEqual(out["delivery"]["status"], 202)
        self.wait_action(aid, lambda a: a["title"] == "Load test the pool at 2x", "title")
        self.settle(aid)
        before = self.svc.request("GET", "/metrics", token=None).body.decode()
        processed = metric(before, "closeloop_sync_inbox_processed_total")
        again = self.gh.redeliver(did)
        self.assertEqual(again["status"], 202, again)
        again = self.gh.redeliver(did)
        self.assertEqual(again["status"], 202, again)
        self.settle(aid)
        rows = self.svc.sql("SELECT attempts, processed_at IS NOT NULL FROM inbox "
                            "WHERE delivery_id = :'p1'", did)
        self.assertEqual(rows, [["0", "t"]])  # one row, applied, no failed try
        after = self.svc.request("GET", "/metrics", token=None).body.decode()
        self.assertEqual(metric(after, "closeloop_sync_inbox_processed_total"), processed)
        self.assertEqual(len(self.events(aid, "title", mark)), 1)

    def test_08c_ping_other_events_and_pull_requests(self):
        aid, n = self.create_linked("Stop the retry storm")
        mark = self.last_event_id()
        r = self.post_hook({"zen": "Keep it logically awesome.", "hook_id": 1,
                            "hook": {"type": "Repository", "id": 1, "events": ["issues"]}},
                           event="ping")
        self.assertEqual(r.status, 202, r.body)
        hooked = []
        for event, payload in (
                ("issue_comment", dict(self.payload_for(n, title="From a comment event"),
                                       action="created",
                                       comment={"id": 1, "body": "hi"})),
                ("star", {"action": "created", "starred_at": None,
                          "repository": {"id": 1, "full_name": REPO}}),
                ("issues", self.payload_for(
                    n, title="A pull request title",
                    pull_request={"url": "https://api.github.com/repos/acme/web/pulls/1",
                                  "html_url": "https://github.com/acme/web/pull/1",
                                  "diff_url": "x", "patch_url": "y", "merged_at": None}))):
            did = str(uuid.uuid4())
            r = self.post_hook(payload, event=event, delivery=did)
            self.assertEqual(r.status, 202, (event, r.body))
            hooked.append(did)
        # answered, none stored (nothing in them can change an action), none changed anything
        self.assertEqual(self.svc.sql(
            "SELECT count(*) FROM inbox WHERE delivery_id IN (:'p1', :'p2', :'p3')",
            *hooked), [["0"]])
        self.settle(aid)
        self.assertEqual(self.action(aid)["title"], "Stop the retry storm")
        self.assertEqual(self.events(aid, since_id=mark), [])
        # a missing event header is a client error, not a stored delivery
        before = self.inbox_count()
        body = json.dumps({"zen": "x"}).encode()
        r = self.svc.request("POST", "/webhooks/github", raw_body=body, token=None,
                             headers={"Content-Type": "application/json",
                                      "X-Hub-Signature-256": sign(body)})
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(self.inbox_count(), before)

    # -- 10. permanent rejections, deleted and transferred issues ------------------------------
    def test_10_title_github_refuses_fails_once(self):
        long_title = "Make the pool " + "much " * 55 + "bigger"
        self.assertGreater(len(long_title), 256)
        seq = self.gh.last_seq()
        aid = self.add_action(long_title)
        until(lambda: self.svc.sql("SELECT count(*) FROM outbox WHERE action_id = :'p1' "
                                   "AND failed_at IS NOT NULL", aid)[0][0] == "1",
              what=lambda: f"a failed outbox row; link {self.link(aid)}")
        link = self.link(aid)
        self.assertIn("title is too long", link["last_error"] or "")
        self.assertIn("422", link["last_error"])
        time.sleep(3)  # no retry may follow
        posts = self.requests_to("POST", r"^/repos/acme/web/issues$", seq)
        self.assertEqual(len(posts), 1, [p["status"] for p in posts])
        self.assertEqual(posts[0]["status"], 422)
        self.assertEqual(self.pending(aid), 0)
        out = self.cli_ok("action", "show", aid)
        self.assertIn("title is too long", out)
        self.assertEqual(self.action(aid)["sync"]["failed"], 1)
        # a title GitHub takes makes the next push create the issue
        self.cli_ok("action", "edit", aid, "--title", "Make the pool bigger")
        link = self.wait_linked(aid)
        self.assertEqual(self.issue(link["number"])["title"], "Make the pool bigger")
        self.assertIsNone(link["last_error"])

    def test_10b_deleted_issue_breaks_the_link(self):
        aid, n = self.create_linked("Remove the dead replica")
        with self.webhooks_off():
            self.gh.act("alice-gh", REPO, n, "delete")
            self.cli_ok("action", "edit", aid, "--title", "Remove the dead replica now")
            until(lambda: self.link(aid)["state"] == "broken",
                  what=lambda: f"a broken link; link {self.link(aid)}")
        a = self.action(aid)
        self.assertEqual((a["title"], a["status"]), ("Remove the dead replica now", "open"))
        self.assertEqual(a["sync"]["state"], "broken")
        self.assertIn("410", self.link(aid)["last_error"])
        self.assertEqual(len(self.events(aid, "sync_link")), 1)
        self.assertIn("broken", self.cli_ok("action", "show", aid))
        # a broken link takes no more work
        self.cli_ok("action", "edit", aid, "--title", "Remove the dead replica today")
        self.assertEqual(self.pending(aid), 0)

    def test_10c_deleted_webhook_breaks_the_link(self):
        aid, n = self.create_linked("Drop the legacy index")
        out = self.gh.act("alice-gh", REPO, n, "delete")
        self.assertEqual(out["delivery"]["status"], 202)
        until(lambda: self.link(aid)["state"] == "broken", what="a broken link")
        self.assertEqual(self.action(aid)["title"], "Drop the legacy index")

    def _ops_repo(self):
        try:
            self.gh.create_repo("acme/ops", collaborators=COLLABORATORS, labels=LABELS)
        except RuntimeError as e:
            if "409" not in str(e):
                raise

    def test_10d_transferred_issue_followed_on_push(self):
        self._ops_repo()
        aid, n = self.create_linked("Move DNS to the new zone")
        with self.webhooks_off():
            out = self.gh.act("alice-gh", REPO, n, "transfer", new_repo="acme/ops")
            new = out["new_issue"]
            seq = self.gh.last_seq()
            self.cli_ok("action", "edit", aid, "--title", "Move DNS to the new zone today")
            link = until(lambda: (lambda k: k if k["repo"] == "acme/ops" else None)(
                self.link(aid)), what=lambda: f"the link to follow; link {self.link(aid)}")
            self.wait_issue(new["number"], lambda i: i["title"] == "Move DNS to the new zone today",
                            "the title on the moved issue", repo="acme/ops")
            self.settle(aid)
        link = self.link(aid)
        self.assertEqual((link["repo"], link["number"], link["remote_id"], link["state"]),
                         ("acme/ops", new["number"], str(new["id"]), "linked"))
        self.assertEqual(self.action(aid)["sync"]["url"], new["html_url"])
        got = [r["status"] for r in self.requests_to("GET", r"/issues/\d+$", seq)]
        self.assertIn(301, got)

    def test_10e_transferred_issue_followed_by_webhook(self):
        self._ops_repo()
        aid, n = self.create_linked("Retire the old bastion")
        out = self.gh.act("alice-gh", REPO, n, "transfer", new_repo="acme/ops")
        new = out["new_issue"]
        until(lambda: self.link(aid)["repo"] == "acme/ops", what="the link to follow")
        link = self.link(aid)
        self.assertEqual((link["number"], link["remote_id"]), (new["number"], str(new["id"])))
        self.cli_ok("action", "edit", aid, "--title", "Retire the old bastion host")
        self.wait_issue(new["number"], lambda i: i["title"] == "Retire the old bastion host",
                        "the title on the moved issue", repo="acme/ops")

    # -- 12. link an existing issue, doctor ---------------------------------------------------
    def test_12_link_existing_issue(self):
        seeded = self.gh.seed_issue(REPO, title="Pool is too small (from GitHub)",
                                    body="Seen during INC-1.\n", assignees=["bob-gh"],
                                    user="bob-gh")
        n = seeded["number"]
        aid = self.add_action("Cap the pool (closeloop)", owner="alice", due="2026-12-24",
                              description="closeloop text", repo=None)
        self.assertIsNone(self.action(aid)["sync"])
        mark = self.last_event_id()
        out = self.svc.cli("action", "link", aid, f"{REPO}#{n}")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.wait_linked(aid)
        issue = self.wait_issue(n, lambda i: "closeloop:action=" in (i["body"] or ""),
                                "the managed section written")
        self.settle(aid)
        issue = self.issue(n)
        a = self.action(aid)
        # GitHub wins title and description, closeloop owner and due date
        self.assertEqual((a["title"], a["description"], a["owner"], a["due_on"]),
                         ("Pool is too small (from GitHub)", "Seen during INC-1.", "alice",
                          "2026-12-24"))
        self.assertEqual(issue["title"], "Pool is too small (from GitHub)")
        self.assertEqual(issue["assignees"], ["alice-gh"])
        self.assertTrue(issue["body"].startswith("Seen during INC-1.\n\n"), issue["body"])
        self.assertIn("**Due:** 2026-12-24", issue["body"])
        self.assertIn(f"<!-- closeloop:action={aid} instance={self.instance} -->", issue["body"])
        self.assertIn("postmortem", issue["labels"])
        self.assertIn("corrective", issue["labels"])
        conflicts = {e["field"]: (e["old"], e["new"]) for e in self.events(aid, since_id=mark)
                     if e["field"].startswith("conflict.")}
        self.assertEqual(conflicts.get("conflict.title"),
                         ("Cap the pool (closeloop)", "Pool is too small (from GitHub)"))
        self.assertEqual(conflicts.get("conflict.owner"), ("alice", "bob"))
        # a second link is refused
        again = self.svc.cli("action", "link", aid, f"{REPO}#{n}")
        self.assertEqual(again.returncode, 1, again.stdout + again.stderr)

    def test_12b_doctor(self):
        good = self.svc.cli("github", "doctor", REPO)
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        self.assertNotIn("FAIL", good.stdout)
        self.assertRegex(good.stdout, r"(?m)^ok\s+labels")
        self.gh.create_repo("acme/bare", collaborators=COLLABORATORS, labels=["corrective"])
        bad = self.svc.cli("github", "doctor", "acme/bare")
        self.assertEqual(bad.returncode, 1, bad.stdout + bad.stderr)
        line = [ln for ln in bad.stdout.splitlines() if "labels" in ln]
        self.assertTrue(line and line[0].startswith("FAIL"), bad.stdout)
        self.assertIn("postmortem", line[0])
        self.assertIn("preventive", line[0])
        missing = self.svc.cli("github", "doctor", "acme/nope")
        self.assertEqual(missing.returncode, 1, missing.stdout + missing.stderr)
        self.assertRegex(missing.stdout, r"(?m)^FAIL\s+repository")


# =============================================================================================
# Reconciliation only: the fake sends no webhook, closeloopd polls every second.


class GitHubReconcileTest(GitHubSyncCase):
    poll_interval = "1"
    webhooks = False

    def repo_row(self, repo=REPO):
        rows = self.svc.sql("SELECT requests, not_modified, last_success_at IS NOT NULL, "
                            "last_error FROM sync_scopes WHERE scope = :'p1'", repo)
        if not rows:
            return None
        r = rows[0]
        return {"requests": int(r[0]), "not_modified": int(r[1]), "ok": r[2] == "t",
                "last_error": r[3]}

    # -- 5. webhooks dropped: reconciliation catches up -----------------------------------------
    def test_05_reconciliation_catches_up(self):
        aid, n = self.create_linked("Fix the backup job")
        mark = self.last_event_id()
        self.gh.act("alice-gh", REPO, n, "edit", title="Fix the nightly backup job")
        self.gh.act("alice-gh", REPO, n, "unassign", assignees=["alice-gh"])
        self.gh.act("alice-gh", REPO, n, "assign", assignees=["bob-gh"])
        self.gh.act("bob-gh", REPO, n, "close", state_reason="completed")
        a = self.wait_action(aid, lambda a: a["status"] == "done" and a["owner"] == "bob"
                             and a["title"] == "Fix the nightly backup job",
                             "title, owner and status from the poll", timeout=8)
        self.assertIsNotNone(a["closed_at"])
        ev = self.events(aid, since_id=mark)
        self.assertTrue(ev)
        self.assertTrue(all(e["source"] == "github" for e in ev), ev)
        self.assertEqual({e["field"] for e in ev}, {"title", "owner", "status"})
        self.assertEqual(self.svc.sql("SELECT count(*) FROM inbox")[0][0], "0")

    def test_05b_reconciliation_sees_due_date_edit(self):
        aid, n = self.create_linked("Expire stale sessions", due="2026-12-01")
        self.edit_body("alice-gh", n, "**Due:** 2026-12-01", "**Due:** 2027-01-31")
        self.wait_action(aid, lambda a: a["due_on"] == "2027-01-31", "due date from the body")

    def test_06b_no_echo_from_reconciliation(self):
        aid, n = self.create_linked("Write the postmortem summary")
        seq = self.gh.last_seq()
        mark = self.last_event_id()
        self.cli_ok("action", "edit", aid, "--title", "Write and send the postmortem summary")
        self.wait_issue(n, lambda i: i["title"] == "Write and send the postmortem summary",
                        "pushed title")
        self.settle(aid)
        polls = self.repo_row()["requests"]
        until(lambda: self.repo_row()["requests"] >= polls + 2, what="two more polls")
        self.assertEqual(len(self.requests_to("PATCH", rf"^/repos/acme/web/issues/{n}$", seq)), 1)
        self.assertEqual([(e["source"], e["field"]) for e in self.events(aid, since_id=mark)],
                         [("cli", "title")])
        self.assertEqual(self.pending(aid), 0)

    def test_10f_transfer_followed_on_push_then_reconciled(self):
        """After a push followed a transfer (301), the new repository is reconciled too."""
        self.gh.create_repo("acme/infra", collaborators=COLLABORATORS, labels=LABELS)
        aid, n = self.create_linked("Renew the wildcard certificate")
        new = self.gh.act("alice-gh", REPO, n, "transfer", new_repo="acme/infra")["new_issue"]
        self.cli_ok("action", "edit", aid, "--title", "Renew the wildcard certificate now")
        until(lambda: self.link(aid)["repo"] == "acme/infra",
              what=lambda: f"the link to follow; link {self.link(aid)}")
        self.wait_issue(new["number"], lambda i: i["title"].endswith("now"), "pushed title",
                        repo="acme/infra")
        self.settle(aid)
        self.gh.act("alice-gh", "acme/infra", new["number"], "close", state_reason="completed")
        self.wait_action(aid, lambda a: a["status"] == "done",
                         "the close in acme/infra seen by reconciliation", timeout=8)

    # -- 12. import across pages -------------------------------------------------------------
    def test_12c_import_labelled_issues_across_pages(self):
        big = "acme/big"
        self.gh.create_repo(big, collaborators=COLLABORATORS, labels=LABELS + ["inc-7"])
        self.gh.bulk(big, 250, labels=["inc-7"], title_prefix="Follow-up")
        self.gh.seed_pr(big, title="A pull request", labels=["inc-7"])
        closed = self.gh.seed_issue(big, title="Already fixed", labels=["inc-7", "preventive"],
                                    assignees=["bob-gh"], state="closed",
                                    state_reason="completed")
        self.gh.seed_issue(big, title="Not labelled")
        self.api_ok("POST", "/api/v1/incidents", {"key": "INC-7", "title": "Queue backlog"})
        seq = self.gh.last_seq()
        out = self.svc.cli("github", "import", big, "--label", "inc-7", "--incident", "INC-7",
                           timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("imported 251 ", out.stdout)
        lists = [r for r in self.requests_to("GET", r"^/(repos/acme/big|repositories/\d+)/issues$",
                                             seq) if r["query"].get("labels") == "inc-7"]
        self.assertEqual(len(lists), 3, [(r["path"], r["query_string"]) for r in lists])
        self.assertEqual(self.svc.sql(
            "SELECT count(*), count(DISTINCT l.remote_id), bool_and(l.state = 'linked') "
            "FROM actions a JOIN incidents i ON i.id = a.incident_id "
            "JOIN links l ON l.action_id = a.id WHERE i.key = 'INC-7'"), [["251", "251", "t"]])
        row = self.svc.sql("SELECT a.status, a.kind, p.handle FROM actions a "
                           "JOIN links l ON l.action_id = a.id LEFT JOIN people p "
                           "ON p.id = a.owner_id WHERE l.remote_key = :'p1' "
                           "AND l.scope = 'acme/big'", closed["number"])
        self.assertEqual(row, [["done", "preventive", "bob"]])
        again = self.api_ok("POST", "/api/v1/github/import",
                            {"repo": big, "label": "inc-7", "incident": "INC-7"})
        self.assertEqual((again["imported"], again["skipped"], again["requests"]), (0, 251, 3))

    def test_12d_reconciliation_sees_a_change_beyond_the_first_page(self):
        """Many issues updated in the same second as the cursor: the poll listing spans pages.
        A change to an issue on a later page must still be seen (the first page's ETag does not
        vouch for the others)."""
        repo = "acme/wide"
        self.gh.create_repo(repo, collaborators=COLLABORATORS, labels=LABELS + ["inc-8"])
        first = self.gh.bulk(repo, 150, labels=["inc-8"], title_prefix="Wide")["first"]
        self.api_ok("POST", "/api/v1/incidents", {"key": "INC-8", "title": "Wide outage"})
        r = self.api_ok("POST", "/api/v1/github/import",
                        {"repo": repo, "label": "inc-8", "incident": "INC-8"})
        self.assertEqual(r["imported"], 150)
        # let the poller reach its steady state on this repository (304s)
        until(lambda: (self.repo_row(repo) or {}).get("not_modified", 0) >= 1, timeout=15,
              what=lambda: f"a 304 on {repo}: {self.repo_row(repo)}")
        last = first + 149
        aid = int(self.svc.sql("SELECT action_id FROM links WHERE scope = :'p1' "
                               "AND remote_key = :'p2'", repo, last)[0][0])
        self.gh.act("alice-gh", repo, last, "edit", title="Wide, edited on GitHub")
        self.wait_action(aid, lambda a: a["title"] == "Wide, edited on GitHub",
                         "the edit of an issue on page 2 of the listing", timeout=8)

    # -- 13. a quiet repository costs nothing -------------------------------------------------
    def test_13_quiet_repository_answers_304(self):
        self.create_linked("Keep the repository quiet")

        def used():
            return self.gh.stats()["rate_limit"][TOKEN]["used"]

        def quiet_window():
            rows = {r[0]: int(r[1]) for r in self.svc.sql("SELECT scope, not_modified "
                                                          "FROM sync_scopes")}
            u0 = used()
            until(lambda: all(int(r[1]) >= rows[r[0]] + 2 for r in self.svc.sql(
                "SELECT scope, not_modified FROM sync_scopes")), timeout=8,
                what="two more 304s per repository")
            return used() == u0

        until(quiet_window, timeout=30, interval=0, what="a window with only 304s")
        row = self.repo_row()
        self.assertGreaterEqual(row["not_modified"], 2)
        self.assertIsNone(row["last_error"])
        out = self.cli_ok("sync", "status")
        line = [ln for ln in out.splitlines() if ln.startswith(REPO + " ")]
        self.assertEqual(len(line), 1, out)
        m = re.search(r"\s(\d+)s ago\s", line[0])
        self.assertTrue(m, line[0])
        self.assertLessEqual(int(m.group(1)), 5, line[0])
        st = self.api_ok("GET", "/api/v1/sync/status")
        repo = [r for c in st["connections"] for r in c["repos"] if r["repo"] == REPO][0]
        self.assertGreaterEqual(repo["not_modified"], 2)
        self.assertIsNotNone(repo["last_success_at"])


# =============================================================================================
# Faults: server errors, rate limits.


class GitHubFaultTest(GitHubSyncCase):
    poll_interval = "1"

    def test_11a_server_errors_are_retried(self):
        aid_b, nb = self.create_linked("Raise the file descriptor limit")
        seq = self.gh.last_seq()
        self.gh.fault("POST", r"^/repos/acme/web/issues$", preset="server_error")
        self.gh.fault("PATCH", rf"^/repos/acme/web/issues/{nb}$", preset="bad_gateway")
        aid_a = self.add_action("Add a circuit breaker")
        self.cli_ok("action", "edit", aid_b, "--title", "Raise the fd limit")
        link = self.wait_linked(aid_a, timeout=15)
        self.wait_issue(nb, lambda i: i["title"] == "Raise the fd limit", "the retried PATCH",
                        timeout=15)
        posts = self.requests_to("POST", r"^/repos/acme/web/issues$", seq)
        self.assertEqual([p["status"] for p in posts], [500, 201])
        patches = self.requests_to("PATCH", rf"^/repos/acme/web/issues/{nb}$", seq)
        self.assertEqual([p["status"] for p in patches], [502, 200])
        marker = f"<!-- closeloop:action={aid_a} instance={self.instance} -->"
        _, _, listing = self.gh.request("GET", "/repos/acme/web/issues?state=all&per_page=100")
        self.assertEqual([i["number"] for i in listing if marker in (i["body"] or "")],
                         [link["number"]])
        self.assertIsNone(link["last_error"])

    def pause_window(self, fault_seq, seconds):
        """The faulted request and every request the fake saw in the pause after it."""
        reqs = self.gh.requests(fault_seq - 1)
        hit = [r for r in reqs if r["status"] in (403, 429)][0]
        inside = [r for r in reqs if hit["time"] + 0.05 < r["time"] < hit["time"] + seconds - 0.3]
        return hit, inside

    def connection(self):
        return self.api_ok("GET", "/api/v1/sync/status")["connections"][0]

    def limit_once(self, **fault):
        """Makes the next request answer a rate limit; waits until closeloop paused.
        Returns the sequence number to read the fake's log from."""
        seq = self.gh.last_seq() + 1
        self.gh.fault("*", ".*", **fault)
        until(lambda: any(r["status"] in (403, 429) for r in self.gh.requests(seq - 1)),
              what="the limited request")
        until(lambda: self.connection()["state"] == "paused",
              what=lambda: f"the connection to pause: {self.connection()}")
        return seq

    def test_11b_secondary_rate_limit_pauses(self):
        aid, n = self.create_linked("Cache the feature flags")
        seq = self.limit_once(preset="secondary_rate_limit", headers={"retry-after": "3"})
        conn = self.connection()
        self.assertIn("secondary rate limit", json.dumps(conn), conn)
        out = self.cli_ok("sync", "status")
        self.assertRegex(out, r"(?m)^github\s+github\s+token\s+paused\s")
        # a change made during the pause waits for its end
        self.cli_ok("action", "edit", aid, "--title", "Cache the feature flags locally")
        self.wait_issue(n, lambda i: i["title"] == "Cache the feature flags locally",
                        "the edit after the pause", timeout=10)
        hit, inside = self.pause_window(seq, 3)
        self.assertEqual(inside, [], "requests during the pause")
        until(lambda: any(r["method"] == "GET" and r["path"] == "/repos/acme/web/issues"
                          and r["time"] > hit["time"] + 2.9 for r in self.gh.requests(seq)),
              what="polling to resume")
        self.assertEqual(self.connection()["state"], "ok")

    def test_11c_primary_rate_limit_pauses_until_reset(self):
        self.create_linked("Trim the log volume")
        reset = int(time.time()) + 4
        seq = self.limit_once(preset="primary_rate_limit",
                              headers={"x-ratelimit-reset": str(reset)})
        conn = self.connection()
        self.assertEqual(conn["rate_limit"]["remaining"], 0, conn)
        row = self.cli_ok("sync", "status").splitlines()[1].split()
        self.assertEqual(row[3:5], ["paused", "0"], row)
        hit = [r for r in self.gh.requests(seq - 1) if r["status"] == 403][0]
        until(lambda: any(r["status"] in (200, 304) and r["time"] > hit["time"]
                          for r in self.gh.requests(seq)), timeout=10, what="polling to resume")
        # nothing between the limited answer and x-ratelimit-reset
        inside = [r for r in self.gh.requests(seq)
                  if hit["time"] + 0.05 < r["time"] < reset - 0.2]
        self.assertEqual(inside, [], "requests during the pause")
        until(lambda: self.connection()["rate_limit"]["remaining"] > 0, what="remaining > 0")
        self.assertEqual(self.connection()["state"], "ok")

    def test_11d_sync_status_documented_pause_fields(self):
        """README: connections carry "paused_until" and rate_limit {"remaining","reset_at"};
        the CLI's PAUSED UNTIL and RESET columns read them."""
        self.create_linked("Report the pause")
        self.limit_once(preset="secondary_rate_limit", headers={"retry-after": "3"})
        conn = self.connection()
        out = self.cli_ok("sync", "status")
        self.assertIn("reset_at", conn.get("rate_limit") or {}, conn)
        self.assertIsNotNone(conn.get("paused_until"), conn)
        row = out.splitlines()[1]
        self.assertRegex(row, r"paused\s+\d+\s+in \S+\s+in \S+", out)


# =============================================================================================
# Refused credentials.


class GitHubAuthFailureTest(GitHubSyncCase):
    token = "ghp_not_a_valid_token"

    def test_11e_bad_token(self):
        aid = self.add_action("Page the right team")
        until(lambda: self.gh.stats()["by_status"].get("401"), what="the refused request")
        r = until(lambda: (lambda r: r if r.status == 503 else None)(
            self.svc.request("GET", "/readyz", token=None)), what="/readyz 503")
        self.assertEqual(r.json["status"], "sync_auth_failed", r.json)
        m = self.svc.request("GET", "/metrics", token=None).body.decode()
        self.assertEqual(metric(m, "closeloop_sync_connection_up", 'connection="github"'), 0)
        conn = self.api_ok("GET", "/api/v1/sync/status")["connections"][0]
        self.assertEqual(conn["state"], "auth_failed", conn)
        n0 = self.gh.stats()["requests"]
        time.sleep(3)  # no retry storm
        self.assertEqual(self.gh.stats()["requests"], n0)
        self.assertLessEqual(n0, 2)
        until(lambda: self.link(aid)["last_error"], what="the error on the link")
        self.assertIn("Bad credentials", self.link(aid)["last_error"])
        self.assertIn("Bad credentials", self.cli_ok("action", "show", aid))


# =============================================================================================
# Crash between the create request and recording its answer.


class GitHubCrashTest(GitHubSyncCase):
    poll_interval = "1"

    def test_09_kill_during_create_no_duplicate(self):
        seq = self.gh.last_seq()
        self.gh.fault("POST", r"^/repos/acme/web/issues$", delay=2.5)
        aid = self.add_action("Survive a crash")
        until(lambda: self.link(aid)["state"] == "creating",
              what=lambda: f"the link in state creating; link {self.link(aid)}")
        until(lambda: self.requests_to("POST", r"^/repos/acme/web/issues$", seq) or
              any(f["hits"] for f in self.gh.control("GET", "faults")["faults"]),
              what="the create request to reach the fake")
        svc = self.svc
        svc.proc.send_signal(signal.SIGKILL)
        svc.proc.wait()
        self.assertEqual(svc.proc.returncode, -signal.SIGKILL)
        self.assertEqual(self.link(aid)["state"], "creating")
        # the delayed request still creates the issue on GitHub's side
        until(lambda: self.gh.stats()["issues"] == 1, what="the issue to exist")
        # nothing helps the restart along: the dead process's claim (its lease is 120 s)
        # is free because no session of that process is left
        svc._log.close()
        svc._log = None
        t0 = time.monotonic()
        svc._serve()  # the same database, a new process (and port)
        self.point_webhooks()
        link = self.wait_linked(aid, timeout=15)
        self.assertLess(time.monotonic() - t0, 8.0, "recovery waited out a lease")
        self.settle(aid)
        _, _, listing = self.gh.request("GET", "/repos/acme/web/issues?state=all&per_page=100")
        marker = f"<!-- closeloop:action={aid} instance={self.instance} -->"
        mine = [i for i in listing if marker in (i["body"] or "")]
        self.assertEqual(len(listing), 1, [i["number"] for i in listing])
        self.assertEqual([i["number"] for i in mine], [link["number"]])
        self.assertEqual(link["remote_id"], str(mine[0]["id"]))
        self.assertEqual(len(self.requests_to("POST", r"^/repos/acme/web/issues$", seq)), 1)
        self.assertIn("event=sync_marker_found", svc.log_text())


# =============================================================================================
# PostgreSQL restarted under a stream of deliveries (a private cluster: the shared one stays up).


class PostgresRestartTest(GitHubSyncCase):
    poll_interval = "3600"   # no help from reconciliation

    @classmethod
    def setUpClass(cls):
        cls.pgtop = tempfile.mkdtemp(prefix="clpg.", dir="/tmp")
        os.chmod(cls.pgtop, 0o755)   # the server may run as another user (pgctl.sh)
        cls.pgdir = os.path.join(cls.pgtop, "pg")
        cls.pgctl("start", "--fast")
        cls.admin_dsn = subprocess.run(
            ["sh", cls.pgctl_path(), "dsn", cls.pgdir], check=True, capture_output=True,
            text=True).stdout.strip()
        try:
            super().setUpClass()
        except BaseException:
            cls.pgctl("stop")
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.pgctl("stop")
            shutil.rmtree(cls.pgtop, ignore_errors=True)

    @staticmethod
    def pgctl_path():
        src = os.environ.get("CLOSELOOP_SRC_DIR") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..")
        return os.path.join(src, "contrib", "pgctl.sh")

    @classmethod
    def pgctl(cls, *args):
        subprocess.run(["sh", cls.pgctl_path(), args[0], cls.pgdir, *args[1:]], check=True,
                       capture_output=True, timeout=60)

    def test_14_restart_under_a_webhook_stream(self):
        """300 signed deliveries over 10 issues, PostgreSQL stopped for 3 s in the middle:
        closeloop answers 503 while it is down; what failed is redelivered; every issue
        matches GitHub within seconds, reconciliation being an hour away. The links are
        row-locked just before the stop, so the stop cuts an inbox batch that is claimed
        and half applied (the claims of a process that lives on, under their lease)."""
        linked = [self.create_linked(f"Stream {i}") for i in range(10)]
        statuses = {}
        sent = [0]

        def stream():
            for k in range(300):
                aid, n = linked[k % 10]
                out = self.gh.act("alice-gh", REPO, n, "edit", title=f"Stream {k % 10} edit {k}")
                statuses[out["delivery"]["id"]] = out["delivery"]["status"]
                sent[0] = k + 1
                time.sleep(0.02)

        def hold_links():
            try:
                self.svc.sql("BEGIN; SELECT id FROM links FOR UPDATE; "
                             "SELECT pg_sleep(30); COMMIT")
            except RuntimeError:
                pass   # cut by the stop, as intended

        t = threading.Thread(target=stream)
        t.start()
        try:
            until(lambda: sent[0] >= 90, 30, what="90 deliveries")
            locker = threading.Thread(target=hold_links)
            locker.start()
            until(lambda: self.svc.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND application_name LIKE 'closeloopd/%'")[0][0] != "0", 10,
                what="an inbox batch blocked on the locked links")
            self.pgctl("stop")
            locker.join(30)
            time.sleep(3)
            self.pgctl("start", "--fast")
        finally:
            t.join(120)
        self.assertEqual(len(statuses), 300)
        failed = [d for d, st in statuses.items() if st != 202]
        self.assertTrue(failed, "no delivery arrived while PostgreSQL was down")
        self.assertTrue(all(statuses[d] == 503 for d in failed),
                        sorted(set(statuses.values()), key=str))
        for d in failed:   # as an operator does from the webhook's "Recent Deliveries"
            again = self.gh.redeliver(d)
            self.assertEqual(again["status"], 202, again)
        for aid, n in linked:
            want = self.issue(n)["title"]
            self.wait_action(aid, lambda a: a["title"] == want, f"issue #{n} caught up")
        dead = self.svc.sql("SELECT count(*) FROM inbox WHERE processed_at IS NULL")
        self.assertEqual(dead, [["0"]])
        self.assertEqual(self.svc.request("GET", "/readyz", token=None).status, 200)

if __name__ == "__main__":
    unittest.main()
