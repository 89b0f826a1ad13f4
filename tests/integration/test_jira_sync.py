"""End-to-end tests of the Jira two-way sync: closeloopd + the CLI against the Jira fake
(tests/fakes/fake_jira.py) in both flavours, Jira Cloud (REST v3, ADF, accountId) and Jira
Data Center (REST v2, wiki markup, user names), PostgreSQL checked directly.

Every class runs its own fake and its own closeloopd. The fake's exchanges are recorded to
$FAKE_JIRA_RECORD when set (tests/run.sh checks the Cloud v3 ones against Jira's OpenAPI
description afterwards). Waits are bounded polls (until()); the few plain sleeps are windows
in which something must not happen.
"""

import contextlib
import hashlib
import hmac
import json
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))

import fake_jira  # noqa: E402
from fake_jira import FakeJira  # noqa: E402
from harness import Service, ServiceTestCase, until  # noqa: E402
from sync_case import SyncCase  # noqa: E402

SECRET = "jira-whsec-closeloop-5d1e"
_record_dir = None


def record_path(name):
    """$FAKE_JIRA_RECORD when set, else a file of this class under a temporary directory."""
    global _record_dir
    shared = os.environ.get("FAKE_JIRA_RECORD")
    if shared:
        return shared
    if _record_dir is None:
        _record_dir = tempfile.mkdtemp(prefix="closeloop-jira.")
    return os.path.join(_record_dir, f"jira_sync-{name}-{os.getpid()}.jsonl")


def sign(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def adf_text(node):
    """Every text of an ADF node, concatenated."""
    if isinstance(node, dict):
        return (node.get("text") or "") + "".join(adf_text(c) for c in node.get("content") or [])
    return ""


class JiraSyncCase(SyncCase):
    """A fake Jira with projects OPS and SEC, a closeloopd pointed at it, people (alice and
    bob with Jira accounts, dave without) and an incident whose default is project OPS."""

    flavour = "cloud"
    ref_key = "key"
    poll_interval = "3600"
    webhooks = True
    extra_env = {}

    @classmethod
    def setUpClass(cls):
        super(ServiceTestCase, cls).setUpClass()  # not ServiceTestCase's: it starts no fake
        cls.svc = None
        cls.jira = FakeJira(flavour=cls.flavour, record=record_path(cls.__name__)).start()
        cls.fake = cls.jira
        try:
            cls.jira.create_project("OPS")
            cls.jira.create_project("SEC")
            cls.alice = cls.jira.add_account("alice")
            cls.bob = cls.jira.add_account("bob")
            cls.carol = cls.jira.add_account("carol")  # maps to no person
            cloud = cls.flavour == "cloud"
            env = {
                "CLOSELOOP_JIRA_SITE": cls.jira.url,
                "CLOSELOOP_JIRA_FLAVOUR": cls.flavour,
                "CLOSELOOP_JIRA_WEBHOOK_SECRET": SECRET,
                "CLOSELOOP_JIRA_WRITE_INTERVAL": "0",
                "CLOSELOOP_JIRA_POLL_INTERVAL": cls.poll_interval,
                "CLOSELOOP_JIRA_TIMEOUT": "10",
            }
            if cloud:
                env["CLOSELOOP_JIRA_EMAIL"] = fake_jira.DEFAULT_EMAIL
                env["CLOSELOOP_JIRA_API_TOKEN"] = fake_jira.DEFAULT_API_TOKEN
            else:
                env["CLOSELOOP_JIRA_PAT"] = fake_jira.DEFAULT_PAT
            env.update(cls.extra_env)
            cls.svc = Service(name=cls.__name__, env=env).start()
            cls.point_webhooks()
            cls.api_ok("POST", "/api/v1/teams", {"name": "sre"})
            for handle, acc in (("alice", cls.alice), ("bob", cls.bob), ("dave", None)):
                person = {"handle": handle, "name": handle.title(), "team": "sre",
                          "email": f"{handle}@example.com"}
                if acc is not None and cloud:
                    person["jira_account_id"] = acc["id"]
                elif acc is not None:
                    person["jira_name"] = acc["name"]
                cls.api_ok("POST", "/api/v1/people", person)
            cls.api_ok("POST", "/api/v1/incidents",
                       {"key": "INC-1", "title": "Checkout outage", "jira_project": "OPS",
                        "postmortem_url": "https://wiki.example/pm/1"})
        except BaseException:
            if cls.svc is not None:
                cls.svc.stop()
            cls.jira.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.jira.stop()

    @classmethod
    def point_webhooks(cls, enabled=None):
        cls.jira.set_webhook(url=cls.svc.url + "/webhooks/jira", secret=SECRET,
                             enabled=cls.webhooks if enabled is None else enabled,
                             retry_delays=[0.2, 0.5, 1])

    # -- helpers ------------------------------------------------------------------------------

    def link(self, aid):
        rows = self.svc.sql(
            "SELECT state, scope, remote_id, remote_key, url, last_error, warning, "
            "coalesce(base::text, '{}') FROM links WHERE action_id = :'p1'", aid)
        if not rows:
            return None
        r = rows[0]
        return {"state": r[0], "scope": r[1], "remote_id": r[2], "key": r[3], "url": r[4],
                "last_error": r[5], "warning": r[6], "base": json.loads(r[7])}

    def issue(self, ref):
        """The issue as Jira's API shows it (the fake's rendering)."""
        return self.jira.raw_issue(ref)["rendered"]

    def fields(self, ref):
        return self.issue(ref)["fields"]

    def wait_issue(self, ref, cond, what, timeout=10):
        return until(lambda: (lambda f: f if cond(f) else None)(self.fields(ref)), timeout,
                     what=lambda: f"{what}; issue is {self.brief(ref)}")

    def brief(self, ref):
        f = self.fields(ref)
        return {"summary": f.get("summary"), "status": (f.get("status") or {}).get("name"),
                "resolution": (f.get("resolution") or {}).get("name"),
                "assignee": f.get("assignee"), "duedate": f.get("duedate"),
                "labels": f.get("labels")}

    def add_action(self, title, **kw):
        args = ["action", "add", "--incident", kw.pop("incident", "INC-1"), "--kind",
                kw.pop("kind", "corrective"), "--title", title]
        for k, v in kw.items():
            args += ["--" + k.replace("_", "-"), v]
        return int(self.cli_ok(*args).strip())

    def account_of(self, who):
        acc = {"alice": self.alice, "bob": self.bob, "carol": self.carol}[who]
        return acc["id"] if self.flavour == "cloud" else acc["name"]

    def assignee_of(self, fields):
        a = fields.get("assignee")
        if a is None:
            return None
        return a.get("accountId") if self.flavour == "cloud" else a.get("name")

    @contextlib.contextmanager
    def webhooks_off(self):
        self.jira.drain(5)
        self.point_webhooks(enabled=False)
        try:
            yield
        finally:
            self.point_webhooks()


# =============================================================================================
# Jira Cloud, webhooks only (reconciliation an hour away).


class JiraCloudWebhookTest(JiraSyncCase):

    # -- creation ---------------------------------------------------------------------------
    def test_01_action_add_creates_the_issue(self):
        aid, key = self.create_linked("Rotate the TLS certificates", owner="alice",
                                      due="2027-03-01",
                                      description="Certs expire on **1 March**.")
        self.assertRegex(key, r"^OPS-\d+$")
        f = self.fields(key)
        self.assertEqual(f["summary"], "Rotate the TLS certificates")
        self.assertEqual(f["duedate"], "2027-03-01")
        self.assertEqual(self.assignee_of(f), self.account_of("alice"))
        self.assertEqual(f["issuetype"]["name"], "Task")
        inst = self.svc.sql("SELECT value FROM settings WHERE key = 'instance_id'")[0][0]
        self.assertEqual(sorted(f["labels"]),
                         sorted(["postmortem", "corrective", f"closeloop-{inst[:8]}-{aid}"]))
        desc = f["description"]
        self.assertEqual(desc["type"], "doc")
        text = adf_text(desc)
        self.assertIn("Certs expire on 1 March.", text)
        self.assertIn("INC-1", text)
        self.assertIn("kept in step by closeloop", text)
        strong = [m for c in desc["content"] for n in c.get("content") or []
                  for m in n.get("marks") or [] if m["type"] == "strong"]
        self.assertTrue(strong, desc)
        link = self.link(aid)
        self.assertEqual(link["url"], f"{self.jira.url}/browse/{key}")
        a = self.action(aid)
        self.assertEqual((a["sync"]["tracker"], a["sync"]["display"]), ("jira", key))
        self.assertEqual(a["description"], "Certs expire on **1 March**.")
        out = self.cli_ok("action", "show", str(aid))
        self.assertIn(key, out)

    def test_01b_summary_over_255_characters_is_a_visible_error(self):
        aid = self.add_action("x" * 256)
        until(lambda: self.link(aid)["last_error"], what="the refusal on the link")
        self.assertIn("255", self.link(aid)["last_error"])
        self.assertEqual(self.link(aid)["state"], "pending")
        failed = self.svc.sql("SELECT count(*) FROM outbox WHERE action_id = :'p1' "
                              "AND failed_at IS NOT NULL", aid)
        self.assertEqual(failed, [["1"]])
        self.assertIn("255", self.cli_ok("action", "show", str(aid)))
        posts = [r for r in self.jira.requests() if r["method"] == "POST"
                 and r["path"].endswith("/issue")]
        self.assertFalse([r for r in posts if "x" * 256 in json.dumps(r)], "nothing was sent")
        # shortened, it goes through at once (nothing was created: no marker to wait for)
        self.cli_ok("action", "edit", str(aid), "--title", "x" * 255)
        link = self.wait_linked(aid, timeout=8)
        self.assertEqual(self.fields(link["key"])["summary"], "x" * 255)

    # -- owners work in Jira ----------------------------------------------------------------
    def test_02_owner_edits_reach_closeloop(self):
        aid, key = self.create_linked("Add a canary", owner="alice", due="2027-01-10")
        mark = self.last_event_id()
        self.jira.act("alice", key, "edit", summary="Add a canary deploy",
                      duedate="2027-02-20")
        a = self.wait_action(aid, lambda a: a["title"] == "Add a canary deploy"
                             and a["due_on"] == "2027-02-20", "the owner's edits")
        evs = self.events(aid, since_id=mark)
        self.assertEqual({e["source"] for e in evs}, {"jira"}, evs)
        self.assertEqual(a["owner"], "alice")

    def test_03_owner_walks_the_workflow(self):
        aid, key = self.create_linked("Page the right team", owner="alice")
        self.jira.act("alice", key, "transition", transition="Start Progress")
        self.wait_action(aid, lambda a: a["status"] == "in_progress", "in progress")
        self.jira.act("alice", key, "transition", transition="Done", resolution="Done")
        self.wait_action(aid, lambda a: a["status"] == "done", "done")
        self.jira.act("alice", key, "transition", transition="Reopen")
        self.wait_action(aid, lambda a: a["status"] == "open", "reopened")
        self.jira.act("alice", key, "transition", transition="Won't Do",
                      resolution="Won't Do")
        self.wait_action(aid, lambda a: a["status"] == "wont_do", "won't do")
        self.settle(aid)
        self.assertEqual(self.fields(key)["status"]["name"], "Won't Do")

    def test_03b_unowned_work_started_in_jira_is_a_warning(self):
        """issue 9, defect 18: closeloop refuses to start unowned work, but a tracker may
        report it: the status is taken, nobody is invented as owner, a warning says so."""
        aid, key = self.create_linked("Nobody's yet")
        self.assertIsNone(self.action(aid)["owner"])
        self.jira.act("bob", key, "transition", transition="Start Progress")
        a = self.wait_action(aid, lambda a: a["status"] == "in_progress", "in progress")
        self.assertIsNone(a["owner"])
        self.settle(aid)
        self.assertIn("nobody owns it", self.link(aid)["warning"] or "")
        self.assertEqual(len(self.events(aid, "sync_warning")), 1)

    def test_04_cli_changes_reach_the_issue(self):
        aid, key = self.create_linked("Shed load", owner="alice", due="2027-01-01")
        self.cli_ok("action", "edit", str(aid), "--title", "Shed load early",
                    "--due", "2027-04-04", "--reason", "test: the date moved", "--description", "Use the *queue*.")
        f = self.wait_issue(key, lambda f: f["summary"] == "Shed load early"
                            and f["duedate"] == "2027-04-04", "title and due date")
        self.assertIn("Use the queue.", adf_text(f["description"]))
        self.cli_ok("action", "assign", str(aid), "bob")
        self.wait_issue(key, lambda f: self.assignee_of(f) == self.account_of("bob"), "bob")
        self.cli_ok("action", "unassign", str(aid))
        self.wait_issue(key, lambda f: f.get("assignee") is None, "unassigned")
        self.settle(aid)
        self.assertEqual(self.action(aid)["title"], "Shed load early")

    def test_05_closing_walks_the_workflow_with_a_resolution(self):
        aid, key = self.create_linked("Cap the pool")
        self.cli_ok("action", "done", str(aid))  # To Do -> In Progress -> Done
        f = self.wait_issue(key, lambda f: f["status"]["name"] == "Done", "done in Jira")
        self.assertEqual(f["resolution"]["name"], "Done")
        self.settle(aid)
        self.assertEqual(self.action(aid)["status"], "done")
        self.cli_ok("action", "reopen", str(aid))
        f = self.wait_issue(key, lambda f: f["status"]["statusCategory"]["key"] == "new",
                            "reopened in Jira")
        self.assertIsNone(f["resolution"])
        self.cli_ok("action", "drop", str(aid), "--reason", "test: won't do")
        f = self.wait_issue(key, lambda f: f["status"]["name"] == "Won't Do", "won't do")
        self.assertEqual(f["resolution"]["name"], "Won't Do")
        self.settle(aid)
        a = self.action(aid)
        self.assertEqual(a["status"], "wont_do")
        self.assertEqual(self.events(aid, "conflict.status"), [])

    def test_06_no_echo_after_a_push(self):
        aid, key = self.create_linked("Document the runbook")
        mark = self.last_event_id()
        self.cli_ok("action", "edit", str(aid), "--title", "Document the runbooks")
        self.wait_issue(key, lambda f: f["summary"] == "Document the runbooks", "pushed")
        self.settle(aid)
        time.sleep(1)
        self.settle(aid)
        self.assertEqual([e for e in self.events(aid, since_id=mark) if e["source"] == "jira"],
                         [])

    # -- owners -----------------------------------------------------------------------------
    def test_07_unknown_assignee_is_a_warning_not_an_owner(self):
        aid, key = self.create_linked("Tune the alerts", owner="alice")
        self.jira.act("alice", key, "assign", assignee="carol")
        until(lambda: self.link(aid)["warning"], what="the warning")
        self.assertIn("maps to no active person", self.link(aid)["warning"])
        self.assertEqual(self.action(aid)["owner"], "alice")

    # -- identity ---------------------------------------------------------------------------
    def test_08_moved_issue_keeps_its_link(self):
        aid, key = self.create_linked("Move me")
        rid = self.link(aid)["remote_id"]
        self.jira.act("alice", key, "move", project="SEC")
        l = until(lambda: (lambda l: l if l["key"].startswith("SEC-") else None)(self.link(aid)),
                  what=lambda: f"the new key; link {self.link(aid)}")
        self.assertEqual((l["remote_id"], l["scope"], l["state"]), (rid, "SEC", "linked"))
        self.cli_ok("action", "edit", str(aid), "--title", "Moved and edited")
        self.wait_issue(l["key"], lambda f: f["summary"] == "Moved and edited", "pushed")

    def test_09_deleted_issue_breaks_the_link(self):
        aid, key = self.create_linked("Delete me")
        self.jira.act("alice", key, "delete")
        l = until(lambda: (lambda l: l if l["state"] == "broken" else None)(self.link(aid)),
                  what=lambda: f"the link broken; link {self.link(aid)}")
        self.assertIn("delete", (l["last_error"] or "").lower())
        self.assertEqual(self.action(aid)["title"], "Delete me")
        self.assertIn("broken", self.cli_ok("action", "show", str(aid)))

    # -- webhooks ---------------------------------------------------------------------------
    def test_10_forged_and_replayed_deliveries(self):
        aid, key = self.create_linked("Verify signatures")
        body = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 1,
                           "issue": {"id": self.link(aid)["remote_id"], "key": key,
                                     "fields": {}}}).encode()
        before = self.inbox_count()
        r = self.svc.request("POST", "/webhooks/jira", raw_body=body, token=None,
                             headers={"Content-Type": "application/json",
                                      "X-Hub-Signature": sign(body, "wrong"),
                                      "X-Atlassian-Webhook-Identifier": "forged-1"})
        self.assertEqual(r.status, 401, r.body)
        self.assertEqual(self.inbox_count(), before)
        out = self.jira.act("alice", key, "edit", summary="Verify signatures twice")
        did = out["delivery"]["id"]
        self.wait_action(aid, lambda a: a["title"] == "Verify signatures twice", "applied")
        n = self.inbox_count()
        again = self.jira.redeliver(did)
        self.assertEqual(again["status"], 202, again)
        self.assertEqual(self.inbox_count(), n, "a replay is stored once")

    def inbox_count(self):
        return int(self.svc.sql("SELECT count(*) FROM inbox")[0][0])

    def test_11_link_an_existing_issue(self):
        seeded = self.jira.seed_issue("OPS", "Existing work", description="Already there")
        aid = int(self.cli_ok("action", "add", "--incident", "INC-1", "--kind", "preventive",
                              "--title", "To be linked", "--jira", "none").strip())
        self.assertIsNone(self.link(aid), "--jira none opts out of the incident's default")
        self.cli_ok("action", "link", str(aid), seeded["key"])
        l = self.wait_linked(aid)
        self.assertEqual(l["remote_id"], seeded["id"])
        self.settle(aid)
        a = self.action(aid)
        self.assertEqual(a["sync"]["display"], seeded["key"])
        self.assertEqual(a["description"], "Already there")  # Jira's side won: it was there

    # -- names are checked before they reach a URL, JQL or SQL --------------------------------
    def test_14_project_keys_and_issue_keys_are_validated_everywhere(self):
        seq = self.jira.last_seq()
        bad = ["ops", "OPS/", "OPS/a/b", "9OPS", "OPS-1", "OPS\"X", "OPS X", "../x", "O" * 256]
        for proj in bad:
            with self.subTest(project=proj):
                r = self.svc.request("POST", "/api/v1/actions", {
                    "incident": "INC-1", "kind": "corrective", "title": "x", "jira": proj})
                self.assertEqual(r.status, 422, r.body)
                self.assertEqual(r.json["error"]["field"], "jira")
                for path, field, body in (
                        ("/teams", "jira_project", {"name": "t-" + str(len(proj))}),
                        ("/incidents", "jira_project", {"key": "BAD-%d" % len(proj),
                                                        "title": "x"}),
                        ("/jira/import", "project", {"jql": "labels = x", "incident": "INC-1"}),
                        ("/jira/doctor", "project", {})):
                    r = self.svc.request("POST", "/api/v1" + path, dict(body, **{field: proj}))
                    self.assertEqual(r.status, 422, (path, r.body))
                    self.assertEqual(r.json["error"]["field"], field)
        aid = int(self.cli_ok("action", "add", "--incident", "INC-1", "--kind", "corrective",
                              "--title", "by hand", "--jira", "none").strip())
        for ref in ("OPS-0", "ops-1", "OPS-1x", "OPS--1", "../OPS-1", "OPS-12345678901"):
            with self.subTest(ref=ref):
                r = self.svc.request("POST", "/api/v1/actions/%d/link" % aid, {"jira": ref})
                self.assertEqual(r.status, 422, r.body)
                r = self.svc.request("POST", "/api/v1/actions/%d/link" % aid, {"issue": ref})
                self.assertEqual(r.status, 422, r.body)
        self.assertEqual(self.jira.requests(since=seq), [], "nothing reached Jira")
        for sql in ("UPDATE teams SET sync_tracker = 'jira', sync_scope = 'ops'",
                    "UPDATE incidents SET sync_tracker = 'jira', sync_scope = 'OPS/a/b'",
                    "INSERT INTO sync_scopes (tracker, connection, scope) "
                    "VALUES ('jira', 'jira', 'OPS/Bug')"):
            with self.subTest(sql=sql):
                with self.assertRaises(RuntimeError):
                    self.svc.sql(sql)

    def test_15_an_import_stays_in_its_project_whatever_the_jql_says(self):
        self.jira.seed_issue("SEC", "Secret work", labels=["leak"])
        self.jira.seed_issue("OPS", "Ops work", labels=["leak"])
        res = json.loads(self.cli_ok("jira", "import", "OPS", "--jql",
                                     "labels = leak) OR (project = SEC", "--incident", "INC-1",
                                     "--json"))
        self.assertEqual(res["imported"], 1, res)
        titles = [r[0] for r in self.svc.sql("SELECT title FROM actions WHERE title IN "
                                             "('Ops work', 'Secret work')")]
        self.assertEqual(titles, ["Ops work"])
        p = self.svc.cli("jira", "import", "OPS", "--jql", "labels = x ORDER BY key",
                         "--incident", "INC-1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ORDER BY", p.stderr)

    # -- doctor, import ---------------------------------------------------------------------
    def test_16_status_metrics_and_show(self):
        aid, key = self.create_linked("Observable")
        st = self.api_ok("GET", "/api/v1/sync/status")
        conn = [c for c in st["connections"] if c["tracker"] == "jira"][0]
        self.assertEqual((conn["name"], conn["flavour"], conn["state"]),
                         ("jira", "cloud", "ok"), conn)
        self.assertEqual(conn["time_zone"], fake_jira.DEFAULT_PROFILE_ZONE)
        self.assertIn("OPS", [s["scope"] for s in conn["scopes"]])
        out = self.cli_ok("sync", "status")
        self.assertIn("jira", out)
        m = self.svc.request("GET", "/metrics", token=None).body.decode()
        self.assertIn('closeloop_sync_connection_up{connection="jira"} 1', m)
        self.assertRegex(m, r'closeloop_sync_jobs_total\{connection="jira",outcome="ok"\} [1-9]')
        show = self.cli_ok("action", "show", str(aid))
        self.assertIn(key, show)
        self.assertIn("linked", show)

    def test_17_conflicts_follow_the_field_policy(self):
        """Both sides change while no delivery arrives: Jira wins the summary, closeloop the
        due date, each losing value kept in a conflict event; different fields merge."""
        aid, key = self.create_linked("Original summary", due="2027-01-01",
                                      description="First words")
        mark = self.last_event_id()
        with self.webhooks_off():
            self.jira.act("alice", key, "edit", summary="Jira summary", duedate="2027-02-02")
            self.cli_ok("action", "edit", str(aid), "--title", "closeloop title",
                        "--due", "2027-03-03", "--reason", "test: the date moved", "--description", "Words from closeloop")
            self.wait_issue(key, lambda f: f["duedate"] == "2027-03-03",
                            "closeloop's due date pushed back")
            self.settle(aid)
        a = self.action(aid)
        self.assertEqual((a["title"], a["due_on"], a["description"]),
                         ("Jira summary", "2027-03-03", "Words from closeloop"))
        f = self.fields(key)
        self.assertEqual((f["summary"], f["duedate"]), ("Jira summary", "2027-03-03"))
        self.assertIn("Words from closeloop", adf_text(f["description"]))
        got = sorted((e["field"], e["old"], e["new"]) for e in self.events(aid, since_id=mark)
                     if e["field"].startswith("conflict."))
        self.assertEqual(got, [("conflict.due_on", "2027-03-03", "2027-02-02"),
                               ("conflict.title", "closeloop title", "Jira summary")])
        self.assertEqual(self.link(aid)["base"].get("due_on"), "2027-03-03")

    def test_12_doctor(self):
        p = self.svc.cli("jira", "doctor", "OPS")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for word in ("credentials", "permissions", "issue type", "workflow", "won't do"):
            self.assertIn(word, p.stdout)
        p = self.svc.cli("jira", "doctor", "OPS/Epic")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("Epic is not an issue type", p.stdout)

    def test_13_import_by_jql(self):
        self.jira.bulk("SEC", count=120, summary_prefix="Imported", labels=["pm-import"])
        self.jira.seed_issue("SEC", "Not this one")
        out = self.cli_ok("jira", "import", "SEC", "--jql", "labels = pm-import",
                          "--incident", "INC-1", "--json")
        res = json.loads(out)
        self.assertEqual((res["imported"], res["skipped"]), (120, 0), res)
        self.assertEqual(res["requests"], 2, res)  # 100 issues a page
        n = self.svc.sql("SELECT count(*) FROM actions a JOIN links l ON l.action_id = a.id "
                         "WHERE a.title LIKE 'Imported%' AND l.scope = 'SEC'")
        self.assertEqual(n, [["120"]])
        again = json.loads(self.cli_ok("jira", "import", "SEC", "--jql", "labels = pm-import",
                                       "--incident", "INC-1", "--json"))
        self.assertEqual((again["imported"], again["skipped"]), (0, 120))


# =============================================================================================
# Reconciliation: no webhooks at all, a poll every second. The account's profile zone
# (America/New_York) differs from the offset Jira renders (+0530) and from UTC: a JQL
# cursor written in the wrong zone misses changes.


class JiraCloudReconcileTest(JiraSyncCase):
    poll_interval = "1"
    webhooks = False

    def test_20_reconciliation_catches_every_change(self):
        aid, key = self.create_linked("Reconcile me", owner="alice")
        self.jira.act("alice", key, "edit", summary="Reconciled", duedate="2027-06-06")
        self.wait_action(aid, lambda a: a["title"] == "Reconciled"
                         and a["due_on"] == "2027-06-06", "the poll to see the edit")
        self.jira.act("alice", key, "transition", transition="Start Progress")
        self.wait_action(aid, lambda a: a["status"] == "in_progress", "the poll to see it")
        jql = [r for r in self.jira.requests() if "search/jql" in r["path"]]
        self.assertTrue(jql)

    def test_21_the_cursor_is_written_in_the_accounts_zone(self):
        aid, key = self.create_linked("Zones")
        time.sleep(2.5)  # a few polls: the cursor now stands at this issue's update
        self.jira.act("alice", key, "edit", summary="Zones matter")
        self.wait_action(aid, lambda a: a["title"] == "Zones matter", "the poll to see it")
        bodies = [r.get("body") or {} for r in self.jira.requests()
                  if r["path"].endswith("/search/jql") and r["method"] == "POST"]
        since = [b["jql"] for b in bodies if isinstance(b, dict) and "updated >=" in
                 (b.get("jql") or "")]
        self.assertTrue(since, bodies[-3:])
        literal = since[-1].split('updated >= "')[1].split('"')[0]
        import datetime
        import zoneinfo
        t = datetime.datetime.strptime(literal, "%Y/%m/%d %H:%M").replace(
            tzinfo=zoneinfo.ZoneInfo(fake_jira.DEFAULT_PROFILE_ZONE))
        age = datetime.datetime.now(datetime.timezone.utc) - t
        self.assertTrue(datetime.timedelta(0) <= age <= datetime.timedelta(minutes=10),
                        f"the literal {literal} read in the account's zone is {age} ago")

    def test_23_search_lag_loses_nothing(self):
        aid, key = self.create_linked("Lagging")
        self.jira.configure(search_lag=3)
        try:
            self.jira.act("alice", key, "edit", summary="Lagging, found")
            self.wait_action(aid, lambda a: a["title"] == "Lagging, found",
                             "the edit once the search shows it", timeout=15)
        finally:
            self.jira.configure(search_lag=0)

    def test_22_a_quiet_project_costs_one_search_per_poll(self):
        self.create_linked("Quiet")
        self.settle()
        seq = self.jira.last_seq()
        time.sleep(3.2)
        reqs = [r for r in self.jira.requests(since=seq)]
        paths = {r["path"] for r in reqs}
        self.assertEqual(paths, {"/rest/api/3/search/jql"}, paths)
        polls = len(reqs)
        self.assertLessEqual(polls, 2 * 4, reqs)  # two projects polled, about once a second


# =============================================================================================
# Faults: rate limits, a crash between create and record.


class JiraCloudFaultTest(JiraSyncCase):
    poll_interval = "3600"

    def test_30_a_429_storm_is_waited_out(self):
        aid, key = self.create_linked("Survive a storm")
        self.jira.clear_throttle()
        self.jira.fault("*", r"/rest/api/3/", preset="rate_limited", count=3)
        self.cli_ok("action", "edit", str(aid), "--title", "Survived a storm")
        self.wait_issue(key, lambda f: f["summary"] == "Survived a storm", "pushed after",
                        timeout=30)
        th = self.jira.throttle(scope="connection")
        self.assertGreaterEqual(len(th["events"]), 1, th)
        self.assertEqual(th["violations"], [], "no request before Retry-After ran out")

    def test_31_a_permanent_400_is_shown_not_retried(self):
        aid, key = self.create_linked("Refused edit")
        self.jira.fault("PUT", rf"/issue/{self.link(aid)['remote_id']}$", status=400,
                        body={"errorMessages": [], "errors": {
                            "summary": "Field 'summary' cannot be set. It is not on the "
                                       "appropriate screen, or unknown."}}, count=1)
        self.cli_ok("action", "edit", str(aid), "--title", "Refused, really")
        until(lambda: self.link(aid)["last_error"], what="the refusal")
        self.assertIn("not on the appropriate screen", self.link(aid)["last_error"])
        n = len(self.jira.requests())
        time.sleep(2)
        self.assertEqual(len([r for r in self.jira.requests()[n:] if r["method"] == "PUT"]), 0)
        self.assertIn("appropriate screen", self.cli_ok("sync", "status"))

    def test_32_kill_during_create_no_duplicate(self):
        """The search lags 4 s behind the create: the restarted worker must not take "not
        found yet" for "never created"."""
        self.jira.configure(search_lag=4)
        self.addCleanup(self.jira.configure, search_lag=0)
        self.jira.fault("POST", r"/rest/api/3/issue$", delay=2.5)
        aid = self.add_action("Survive a crash")
        until(lambda: self.link(aid)["state"] == "creating",
              what=lambda: f"the link in state creating; link {self.link(aid)}")
        until(lambda: any(f["hits"] for f in self.jira.faults()),
              what="the create request to reach the fake")
        svc = self.svc
        svc.proc.send_signal(signal.SIGKILL)
        svc.proc.wait()
        until(lambda: [i for i in self.jira.requests() if i["method"] == "POST"
                       and i["path"].endswith("/issue") and i.get("status") == 201],
              what="the issue to be created anyway")
        svc._log.close()
        svc._log = None
        svc._serve()  # the same database, a new process
        self.point_webhooks()
        link = self.wait_linked(aid, timeout=60)
        self.settle(aid)
        created = [i for i in self.jira.requests() if i["method"] == "POST"
                   and i["path"].endswith("/issue")
                   and (i.get("body") or {}).get("fields", {}).get("summary") == "Survive a crash"]
        self.assertEqual(len(created), 1, created)
        self.assertIn("event=jira_marker_found", svc.log_text())
        self.assertEqual(self.fields(link["key"])["summary"], "Survive a crash")


# =============================================================================================
# Refused credentials: the connection pauses, /readyz says so, no retry storm.


class JiraCloudAuthFailureTest(JiraSyncCase):
    extra_env = {"CLOSELOOP_JIRA_API_TOKEN": "not-the-token"}

    def test_35_bad_token(self):
        aid = self.add_action("Page the right team")
        r = until(lambda: (lambda r: r if r.status == 503 else None)(
            self.svc.request("GET", "/readyz", token=None)), what="/readyz 503")
        self.assertEqual(r.json["status"], "sync_auth_failed", r.json)
        m = self.svc.request("GET", "/metrics", token=None).body.decode()
        self.assertIn('closeloop_sync_connection_up{connection="jira"} 0', m)
        n0 = self.jira.stats()["requests"]
        time.sleep(3)  # no retry storm
        self.assertEqual(self.jira.stats()["requests"], n0)
        self.assertLessEqual(n0, 2)
        until(lambda: self.link(aid)["last_error"], what="the error on the link")
        self.assertIn("credentials refused (401)", self.link(aid)["last_error"])
        self.assertIn("auth_failed", self.cli_ok("sync", "status"))


# =============================================================================================
# A project whose create screen requires a custom field, filled from the connection.


class JiraCloudRequiredFieldTest(JiraSyncCase):
    extra_env = {"CLOSELOOP_JIRA_CREATE_FIELDS":
                 '{"SEC": {"customfield_10050": {"value": "High"}}}'}

    def test_40_required_field_missing_then_filled(self):
        self.jira.create_project("REQ", custom_fields=[
            {"name": "Impact", "type": "select", "required": True, "options": ["High", "Low"]}])
        aid = self.add_action("Needs an impact", jira="REQ")
        until(lambda: self.link(aid)["last_error"], what="the refusal")
        err = self.link(aid)["last_error"]
        self.assertIn("customfield_", err)
        p = self.svc.cli("jira", "doctor", "REQ")
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("required without a default", p.stdout)
        self.assertIn("create_fields", p.stdout)


# =============================================================================================
# Jira Data Center: REST v2, wiki markup, user names, a PAT, search by startAt.


class JiraDataCenterTest(JiraSyncCase):
    flavour = "dc"
    poll_interval = "1"

    def test_50_create_edit_and_close_on_data_center(self):
        aid, key = self.create_linked("Rotate the keys", owner="alice", due="2027-05-05",
                                      description="Keys expire **soon**.\n\n- one\n- two")
        f = self.fields(key)
        self.assertIsInstance(f["description"], str)
        self.assertIn("*soon*", f["description"])
        self.assertIn("kept in step by closeloop", f["description"])
        self.assertEqual(self.assignee_of(f), self.account_of("alice"))
        self.assertEqual(self.action(aid)["description"], "Keys expire **soon**.\n\n- one\n- two")
        self.jira.act("alice", key, "edit", summary="Rotate all the keys")
        self.wait_action(aid, lambda a: a["title"] == "Rotate all the keys", "the edit")
        self.cli_ok("action", "done", str(aid))
        self.wait_issue(key, lambda f: f["status"]["name"] == "Done", "done on DC")
        self.settle(aid)
        self.assertEqual(self.action(aid)["status"], "done")

    def test_51_reconciliation_pages_by_start_at(self):
        self.jira.bulk("SEC", count=120, summary_prefix="DC", labels=["dc-import"])
        res = json.loads(self.cli_ok("jira", "import", "SEC", "--jql", "labels = dc-import",
                                     "--incident", "INC-1", "--json"))
        self.assertEqual(res["imported"], 120, res)
        searches = [r for r in self.jira.requests() if r["path"].endswith("/rest/api/2/search")]
        self.assertGreaterEqual(len(searches), 3, "50 at most a page on this server")

if __name__ == "__main__":
    unittest.main()
