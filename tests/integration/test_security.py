"""Regression tests for the security review (issue 6): one test (or a few) per finding,
each failing on the code before its fix. Run against the real sanitizer-built closeloopd,
a real PostgreSQL and the GitHub fake.

  1 a read token crashed the service through the doctor; label answers without a name
  2 repository names reached GitHub URLs unvalidated
  3 a replayed delivery moved an action back; moves and deletes had no staleness check
  4 /metrics could be broken by a request method
  5 log lines could be forged through the path
  6 slow clients held every connection slot
  7 a large query string got no answer for 60 s
  8 an announced oversize body was not refused at once
  9 the inbox kept every delivery forever
 10 a NUL byte cut path parameters short
 11 PostgreSQL's error text leaked
 12 world-readable secret files were used silently
 13 webhook field types were not checked
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))

from fake_github import FakeGitHub  # noqa: E402
from harness import Service, ServiceTestCase, until  # noqa: E402
from test_github_sync import REPO, GitHubSyncCase, record_path, sign  # noqa: E402

API = "/api/v1"


def raw_http(port, data, timeout=5.0):
    """Sends bytes on a fresh connection; -> (bytes received until close or timeout, s)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and not out.startswith(b"HTTP/1.1 100"):
                break
    finally:
        s.close()
    return out, time.monotonic() - t0


def status_of(response):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", response)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------
# The GitHub side: doctor, repository names, replays, inbox, field types


class GitHubSecurityTest(GitHubSyncCase):
    poll_interval = "3600"

    # -- 1 -----------------------------------------------------------------------------------
    def test_01_doctor_needs_write_and_survives_labels_without_a_name(self):
        # a GitHub Enterprise server or a proxy answering labels without a "name"
        self.gh.fault("GET", r"/repos/acme/web/labels", status=200,
                      body=[{"id": 1, "color": "ededed"}, {"name": 7}, "postmortem"], count=1,
                      record=False)  # outside GitHub's description on purpose
        r = self.svc.request("POST", API + "/github/doctor", {"repo": REPO}, token="write")
        self.assertEqual(r.status, 200, r.body)
        labels = [c for c in r.json["checks"] if c["name"] == "labels"][0]
        self.assertFalse(labels["ok"])
        self.assertIn("postmortem", labels["detail"])
        self.assertTrue(self.svc.running())
        self.assertEqual(self.svc.request("GET", "/healthz", token=None).status, 200)
        r = self.svc.request("POST", API + "/github/doctor", {"repo": REPO}, token="read")
        self.assertEqual(r.status, 403, r.body)

    # -- 2 -----------------------------------------------------------------------------------
    def test_02_repository_names_are_validated_everywhere(self):
        seq = self.gh.last_seq()
        bad = ["a/b/issues?", "../..", "acme/..", "./web", "user/repos?x=", "acme/web#1",
               "acme", "a" * 40 + "/web", "acme/" + "w" * 101, "acme/we b"]
        for repo in bad:
            with self.subTest(repo=repo):
                r = self.svc.request("POST", API + "/actions", {
                    "incident": "INC-1", "kind": "corrective", "title": "x", "github": repo})
                self.assertEqual(r.status, 422, r.body)
                self.assertEqual(r.json["error"]["field"], "github")
                self.assertIn("owner at most 39", r.json["error"]["message"])
                for path, field, body in (
                        ("/teams", "github_repo", {"name": "t-" + uuid.uuid4().hex[:6]}),
                        ("/incidents", "github_repo", {"key": "BAD-%d" % (1 + len(repo)),
                                                       "title": "x"}),
                        ("/github/import", "repo", {"label": "postmortem",
                                                    "incident": "INC-1"}),
                        ("/github/doctor", "repo", {})):
                    r = self.svc.request("POST", API + path, dict(body, **{field: repo}))
                    self.assertEqual(r.status, 422, (path, r.body))
                    self.assertEqual(r.json["error"]["field"], field)
        aid = self.add_action("Linked by hand", repo=None)
        for ref in ("../..#7", "acme/..#7", "acme/web#0", "a/b/c#1", "acme/web#x"):
            with self.subTest(ref=ref):
                r = self.svc.request("POST", API + "/actions/%d/link" % aid, {"github": ref})
                self.assertEqual(r.status, 422, r.body)
        self.assertEqual(self.svc.sql("SELECT count(*) FROM links WHERE action_id = :'p1'",
                                      aid), [["0"]])
        # nothing of the above reached GitHub
        paths = [q["path"] for q in self.gh.requests(seq)]
        self.assertEqual(paths, [], paths)
        # and the schema refuses them too, whatever writes
        for sql in ("UPDATE teams SET sync_tracker = 'github', sync_scope = '../..'",
                    "UPDATE incidents SET sync_tracker = 'github', sync_scope = 'a/b/issues?'",
                    "INSERT INTO sync_scopes (tracker, connection, scope) "
                    "VALUES ('github', 'github', 'x/..')"):
            with self.subTest(sql=sql):
                with self.assertRaises(RuntimeError) as cm:
                    self.svc.sql(sql)
                self.assertIn("violates check constraint", str(cm.exception))

    def test_02b_a_repository_url_from_github_cannot_redirect_writes(self):
        aid, n = self.create_linked("Writes stay on the repository")
        body = self.payload_for(n, title="Renamed by the owner")
        body["issue"]["repository_url"] = self.gh.url + "/repos/../../user/repos?x="
        body["issue"]["updated_at"] = "2099-01-01T00:00:00Z"
        seq = self.gh.last_seq()
        r = self.post_hook(body)
        self.assertEqual(r.status, 202, r.body)
        self.wait_action(aid, lambda a: a["title"] == "Renamed by the owner", "the delivery")
        self.assertEqual(self.link(aid)["repo"], REPO)
        self.cli_ok("action", "edit", aid, "--due", "2027-02-02", "--reason", "test: the date moved")
        self.wait_issue(n, lambda i: "2027-02-02" in (i["body"] or ""), "the push")
        odd = [q["path"] for q in self.gh.requests(seq) if not q["path"].startswith(
            "/repos/acme/web/")]
        self.assertEqual(odd, [])

    # -- 3 -----------------------------------------------------------------------------------
    def post_hook(self, body, event="issues", delivery=None, signature="sign"):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": event,
                   "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                   "User-Agent": "GitHub-Hookshot/test"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign(raw)
        return self.svc.request("POST", "/webhooks/github", raw_body=raw, token=None,
                                headers=headers)

    def payload_for(self, n, action="edited", **issue_changes):
        iss = self.issue(n)["rendered"]
        iss.update(issue_changes)
        return {"action": action, "issue": iss,
                "repository": {"id": 1, "full_name": REPO, "name": "web",
                               "owner": {"login": "acme", "id": 2}},
                "sender": {"login": "alice-gh", "id": 99, "type": "User"}}

    def test_03_a_replayed_delivery_never_moves_an_action_back(self):
        aid, n = self.create_linked("Close the loop on retries")
        seq = self.gh.deliveries()[-1]["seq"] if self.gh.deliveries() else 0
        self.gh.act("alice-gh", REPO, n, "close")
        self.wait_action(aid, lambda a: a["status"] == "done", "the close")
        closed = [d for d in self.gh.deliveries(seq) if d["action"] == "closed"][-1]
        # reopened within the same second: GitHub's updated_at does not move
        self.gh.act("alice-gh", REPO, n, "reopen", same_second=True)
        reopened = [d for d in self.gh.deliveries(seq) if d["action"] == "reopened"][-1]
        self.assertEqual(reopened["payload"]["issue"]["updated_at"],
                         closed["payload"]["issue"]["updated_at"])
        self.wait_action(aid, lambda a: a["status"] == "open", "the reopen")
        self.settle(aid)
        # the captured "closed" delivery, replayed with a fresh delivery id
        r = self.post_hook(closed["payload"])
        self.assertEqual(r.status, 202, r.body)
        self.settle(aid)
        time.sleep(0.5)
        self.settle(aid)
        self.assertEqual(self.action(aid)["status"], "open")
        self.assertEqual(self.issue(n)["state"], "open")

    def test_03b_stale_deletes_and_transfers_are_ignored(self):
        aid, n = self.create_linked("Keep the runbook current")
        old = self.payload_for(n, action="deleted")  # updated_at: before the edit below
        moved = self.payload_for(n, action="transferred")
        self.gh.act("alice-gh", REPO, n, "edit", title="Keep the runbook current!")
        self.wait_action(aid, lambda a: a["title"].endswith("!"), "the edit")
        r = self.post_hook(old)
        self.assertEqual(r.status, 202, r.body)
        new_issue = dict(moved["issue"], id=moved["issue"]["id"] + 10 ** 6, number=999,
                         repository_url=self.gh.url + "/repos/acme/elsewhere")
        moved["changes"] = {"new_issue": new_issue,
                            "new_repository": {"id": 5, "full_name": "acme/elsewhere"}}
        r = self.post_hook(moved)
        self.assertEqual(r.status, 202, r.body)
        until(lambda: self.inbox_pending() == 0, what="the inbox to drain")
        link = self.link(aid)
        self.assertEqual(link["state"], "linked")
        self.assertEqual(link["number"], n)
        self.assertEqual(link["repo"], REPO)

    # -- 9 -----------------------------------------------------------------------------------
    def test_09_only_deliveries_that_can_matter_are_stored(self):
        aid, n = self.create_linked("Store what matters")
        before = self.inbox_count()
        ping = {"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {"id": 1}}
        r = self.post_hook(ping, event="ping")
        self.assertEqual(r.status, 202, r.body)
        r = self.post_hook(self.payload_for(n), event="star")
        self.assertEqual(r.status, 202, r.body)
        r = self.post_hook(self.payload_for(n, action="labeled"))
        self.assertEqual(r.status, 202, r.body)
        other = self.payload_for(n, id=424242, number=4242,
                                 repository_url=self.gh.url + "/repos/other/place")
        other["repository"]["full_name"] = "other/place"
        r = self.post_hook(other)
        self.assertEqual(r.status, 202, r.body)
        self.assertFalse(r.json["stored"])
        self.assertEqual(self.inbox_count(), before)
        r = self.post_hook(self.payload_for(n, title="This one counts",
                                            updated_at="2099-01-01T00:00:00Z"))
        self.assertTrue(r.json["stored"], r.body)
        self.assertEqual(self.inbox_count(), before + 1)

    def inbox_count(self):
        return int(self.svc.sql("SELECT count(*) FROM inbox")[0][0])

    # -- 13 ----------------------------------------------------------------------------------
    def test_13_a_malformed_delivery_is_a_dead_letter(self):
        aid, n = self.create_linked("Typed fields only")
        cases = {"title": 12345, "state": ["closed"], "assignees": "alice-gh",
                 "updated_at": 7, "body": {"x": 1}}
        for field, value in cases.items():
            with self.subTest(field=field):
                delivery = str(uuid.uuid4())
                r = self.post_hook(self.payload_for(n, **{field: value}), delivery=delivery)
                self.assertEqual(r.status, 202, r.body)
                row = self.svc.sql("SELECT processed_at IS NULL, attempts, last_error FROM inbox"
                                   " WHERE delivery_id = :'p1'", delivery)
                self.assertEqual(row[0][0], "t")
                self.assertGreaterEqual(int(row[0][1]), 5)
                self.assertIn(field, row[0][2])
        self.assertEqual(self.action(aid)["title"], "Typed fields only")
        status = self.svc.request("GET", API + "/sync/status").json
        self.assertGreaterEqual(status["inbox"]["dead"], len(cases))
        self.assertTrue(any("title is not a string" in (d["error"] or "")
                            for d in status["inbox"]["dead_letters"]))


class InboxRetentionTest(unittest.TestCase):
    """Processed deliveries older than inbox_retention are deleted by the service."""

    def test_processed_rows_are_pruned(self):
        fake = FakeGitHub(record=record_path("InboxRetentionTest")).start()
        svc = Service(name="InboxRetentionTest", env={
            "CLOSELOOP_GITHUB_TOKEN": "ghp_test", "CLOSELOOP_GITHUB_API_URL": fake.url,
            "CLOSELOOP_GITHUB_WEBHOOK_SECRET": "s", "CLOSELOOP_INBOX_RETENTION": "3600"})
        try:
            svc.start()
            # deliveries of the past: two processed long ago, one recently, one dead letter
            svc.sql("INSERT INTO inbox (tracker, connection, delivery_id, event, payload,"
                    " received_at, processed_at, attempts, last_error) VALUES"
                    " ('github', 'github', 'old-1', 'issues', '{}', now() - interval '3 days',"
                    "  now() - interval '3 days', 1, NULL),"
                    " ('github', 'github', 'old-2', 'issues', '{}', now() - interval '2 hours',"
                    "  now() - interval '2 hours', 1, NULL),"
                    " ('github', 'github', 'new-1', 'issues', '{}', now(), now(), 1, NULL),"
                    " ('github', 'github', 'dead-1', 'issues', '{}', now() - interval '2 days',"
                    "  NULL, 5, 'issue.title is not a string')")
            until(lambda: svc.sql("SELECT count(*) FROM inbox")[0][0] == "2", timeout=20,
                  what="the prune")
            left = sorted(r[0] for r in svc.sql("SELECT delivery_id FROM inbox"))
            self.assertEqual(left, ["dead-1", "new-1"])
        finally:
            code = svc.stop()
            fake.stop()
        self.assertEqual(code, 0)


# ---------------------------------------------------------------------------------------
# The HTTP side: metrics, logs, slow clients, large requests, paths, database text


class HttpSecurityTest(ServiceTestCase):

    def test_04_metrics_stay_valid_whatever_the_method(self):
        for method in ['A"}x', 'B\\', "C{le=\"1\"}"] + ["JUNK%d" % i for i in range(300)]:
            raw_http(self.svc.port, ("%s /healthz HTTP/1.1\r\nHost: x\r\n\r\n" % method)
                     .encode(), timeout=2)
        self.assertEqual(self.svc.request("GET", API + "/teams").status, 200)
        text = self.svc.request("GET", "/metrics", token=None).body.decode()
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="'
                            r'(\\.|[^"\\\n])*"(,|(?=\})))*\})? [-+0-9.eEinfNa]+$')
        for line in text.splitlines():
            if line and not line.startswith("#"):
                self.assertRegex(line, sample)
        self.assertIn('route="/api/v1/teams",method="GET",status="200"', text)
        self.assertNotIn("JUNK", text)
        self.assertIn('method="other"', text)

    def test_05_log_lines_cannot_be_forged(self):
        raw_http(self.svc.port, b"GET /api/v1/teams%0Alevel=error%20forged=1 HTTP/1.1\r\n"
                                b"Host: x\r\n\r\n", timeout=2)
        raw_http(self.svc.port, b"GET /api/v1/\xff\xfe\"x HTTP/1.1\r\nHost: x\r\n\r\n",
                 timeout=2)
        raw_http(self.svc.port, b"GET /api/v1/a%0D%0Ats=1 HTTP/1.1\r\nHost: x\r\n\r\n",
                 timeout=2)
        until(lambda: "\\xff" in self.svc.log_text(), what="the escaped request")
        with open(self.svc.log_path, "rb") as f:
            log = f.read()
        for line in log.splitlines():
            self.assertFalse(line.startswith(b"level=error"), line)
            self.assertFalse(line.startswith(b"ts=1"), line)
            self.assertNotIn(b"\xff", line)
        self.assertIn(b'path="/api/v1/\\xff\\xfe\\"x"', log)

    def test_10_a_nul_byte_in_the_path_is_refused(self):
        r = self.svc.request("POST", API + "/incidents", {"key": "NUL-1", "title": "x"})
        self.assertEqual(r.status, 201, r.body)
        r = self.svc.request("POST", API + "/actions", {"incident": "NUL-1", "kind":
                                                        "corrective", "title": "x"})
        aid = r.json["id"]
        for path in ("/actions/%d%%00/history" % aid, "/actions/%d%%00" % aid,
                     "/incidents/NUL-1%00", "/actions/%d/history%%00" % aid):
            with self.subTest(path=path):
                r = self.svc.request("GET", API + path)
                self.assertEqual(r.status, 400, r.body)
                self.assertEqual(r.json["error"]["code"], "bad_request")

    def test_11_no_database_text_in_answers(self):
        probes = [("GET", API + "/actions/%FF"), ("GET", API + "/people/%C3%28"),
                  ("GET", API + "/incidents/%ED%A0%80"), ("GET", API + "/actions?owner=%FF"),
                  ("GET", API + "/teams/a%01b"), ("PATCH", API + "/teams/%FF")]
        for method, path in probes:
            with self.subTest(path=path):
                r = self.svc.request(method, path, {"name": "x"} if method == "PATCH" else None)
                self.assertIn(r.status, (400, 404), r.body)
                text = r.body.decode("utf-8", "replace")
                for word in ("UTF8", "encoding", "byte sequence", "SQL", "relation", "syntax"):
                    self.assertNotIn(word, text)
        # a value only PostgreSQL can judge: its words stay in the log
        r = self.svc.request("POST", API + "/incidents", {"key": "DT-1", "title": "x",
                                                          "started_at": "9999-12-31T23:59:59Z",
                                                          "resolved_at": "1999-12-31T00:00:00Z"})
        self.assertEqual(r.status, 422, r.body)
        self.assertNotIn("violates", r.body.decode())

    def test_07_large_query_strings_are_answered_at_once(self):
        for q in ("&".join("p%d=%d" % (i, i) for i in range(1000)), "&".join(["a"] * 6000),
                  "x=" + "y" * 9000):
            with self.subTest(size=len(q)):
                resp, secs = raw_http(self.svc.port, ("GET /api/v1/actions?%s HTTP/1.1\r\n"
                                                      "Host: x\r\n\r\n" % q).encode(), 10)
                self.assertEqual(status_of(resp), 414, resp[:200])
                self.assertLess(secs, 2.0)
        self.assertEqual(self.svc.request("GET", API + "/actions?limit=1").status, 200)

    def test_08_an_announced_oversize_body_is_refused_before_it_is_sent(self):
        resp, secs = raw_http(self.svc.port, b"POST /api/v1/teams HTTP/1.1\r\nHost: x\r\n"
                                             b"Content-Type: application/json\r\n"
                                             b"Content-Length: 100000000000\r\n"
                                             b"Expect: 100-continue\r\n\r\n", 5)
        self.assertEqual(status_of(resp), 413, resp[:200])
        self.assertNotIn(b"100 Continue", resp)
        self.assertLess(secs, 2.0)


class SlowClientTest(unittest.TestCase):
    """More slow clients than connection slots: each is cut at read_timeout, so a normal
    request gets through within seconds instead of never."""

    def test_06_slow_clients_do_not_hold_every_slot(self):
        svc = Service(name="SlowClientTest", env={"CLOSELOOP_MAX_CONNECTIONS": "5",
                                                  "CLOSELOOP_READ_TIMEOUT": "1.5"})
        svc.start()
        socks = []
        try:
            for _ in range(6):
                s = socket.create_connection(("127.0.0.1", svc.port), timeout=1)
                s.sendall(b"GET /healthz HTTP/1.1\r\n")
                socks.append(s)
            t0 = time.monotonic()
            ok = None
            while time.monotonic() - t0 < 8 and ok is None:
                for s in socks:  # a byte now and then keeps an idle timeout from ever firing
                    try:
                        s.sendall(b"X")
                    except OSError:
                        pass
                try:
                    if svc.request("GET", "/healthz", token=None, timeout=1).status == 200:
                        ok = time.monotonic() - t0
                except OSError:
                    time.sleep(0.2)
            self.assertIsNotNone(ok, "no request got through in 8 s")
            self.assertLess(ok, 5.0)
            self.assertIn("event=read_timeout", svc.log_text())
        finally:
            for s in socks:
                s.close()
            self.assertEqual(svc.stop(), 0)


# ---------------------------------------------------------------------------------------
# 12: secret files others can read


class SecretFileTest(unittest.TestCase):

    def daemon(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith(("CLOSELOOP_", "PG"))}
        e.update(env or {})
        return subprocess.run([os.path.join(os.environ["CLOSELOOP_BIN_DIR"], "closeloopd"),
                               *args], env=e, capture_output=True, text=True, timeout=30)

    def test_12_daemon_refuses_a_world_readable_config_with_secrets(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "closeloopd.ini")
            with open(path, "w") as f:
                f.write("[closeloopd]\ndatabase_url = postgresql:///x\n"
                        "github_token = ghp_secret_in_file\ngithub_webhook_secret = s3cret\n")
            os.chmod(path, 0o644)
            r = self.daemon("--config", path, "check-config")
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("every user can read it (mode 0644)", r.stderr)
            self.assertIn("chmod 600", r.stderr)
            self.assertNotIn("ghp_secret_in_file", r.stdout + r.stderr)
            os.chmod(path, 0o640)
            r = self.daemon("--config", path, "check-config")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("event=config_group_readable", r.stderr)
            os.chmod(path, 0o600)
            r = self.daemon("--config", path, "check-config")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("readable", r.stderr)
            # a file without secrets may be world-readable
            with open(path, "w") as f:
                f.write("[closeloopd]\nmax_body = 2048\n")
            os.chmod(path, 0o644)
            r = self.daemon("--config", path, "check-config",
                            env={"CLOSELOOP_DATABASE_URL": "postgresql:///x"})
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_12b_cli_warns_about_a_readable_token_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "config")
            with open(path, "w") as f:
                f.write("url = http://127.0.0.1:9\ntoken = cl_tok_in_file\n")
            cli = os.path.join(os.environ["CLOSELOOP_BIN_DIR"], "closeloop")
            env = {"HOME": d, "CLOSELOOP_CONFIG": path, "PATH": os.environ.get("PATH", "")}
            for mode, warned in ((0o666, True), (0o640, True), (0o600, False)):
                os.chmod(path, mode)
                r = subprocess.run([cli, "team", "list"], env=env, capture_output=True,
                                   text=True, timeout=20)
                if warned:
                    self.assertIn("warning: %s holds a token" % path, r.stderr)
                    self.assertIn("mode %04o" % mode, r.stderr)
                else:
                    self.assertNotIn("warning", r.stderr)
                self.assertNotIn("cl_tok_in_file", r.stderr)


if __name__ == "__main__":
    unittest.main()
