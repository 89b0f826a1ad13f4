"""Tests of the GitHub fake itself (tests/fakes/fake_github.py).

Run alone:  python3 -m unittest tests/fakes/test_fake_github.py -v
tests/integration/test_fake_github.py runs these too, so `make test` covers them.
With FAKE_GITHUB_RECORD=FILE every exchange is recorded for tests/conformance/run.sh.
Requests that deliberately break the official description (missing title, bad JSON) carry
`X-Fake-No-Record: 1` so that they are left out of the recording.
"""

import base64
import hashlib
import hmac
import http.client
import http.server
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_github import FakeGitHub  # noqa: E402

TS = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
NO_RECORD = {"X-Fake-No-Record": "1"}


def parse_link(value):
    """'<url>; rel="next", <url>; rel="last"' -> {"next": url, "last": url}."""
    out = {}
    for part in re.finditer(r'<([^>]*)>\s*;\s*rel="([^"]+)"', value or ""):
        out[part.group(2)] = part.group(1)
    return out


class Receiver:
    """A webhook receiver: keeps every delivery (headers, raw body), answers `status`."""

    def __init__(self, status=202):
        self.status = status
        self.got = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                outer.got.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                  "body": body, "path": self.path})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/github"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait(self, n, timeout=10):
        deadline = time.time() + timeout
        while len(self.got) < n and time.time() < deadline:
            time.sleep(0.01)
        return self.got


class FakeTestCase(unittest.TestCase):
    """One fake per class, reset before each test, with acme/web (alice, bob)."""

    @classmethod
    def setUpClass(cls):
        cls.gh = FakeGitHub().start()

    @classmethod
    def tearDownClass(cls):
        cls.gh.stop()

    def setUp(self):
        self.gh.reset()
        self.gh.create_repo("acme/web", collaborators=["alice", "bob"])

    def api(self, method, path, body=None, **kw):
        return self.gh.request(method, path, body, **kw)

    def create(self, title="Cap the DB pool", **fields):
        st, h, b = self.api("POST", "/repos/acme/web/issues", dict(title=title, **fields))
        self.assertEqual(st, 201, b)
        return b

    def walk(self, url):
        """Follows rel="next" from url: -> [(page body, its links)]."""
        pages = []
        while url:
            st, h, b = self.api("GET", url)
            self.assertEqual(st, 200, url)
            links = parse_link(h.get("link"))
            pages.append((b, links))
            url = links.get("next")
        return pages


class AuthTest(FakeTestCase):
    def test_user_agent_is_required(self):
        st, h, b = self.api("GET", "/repos/acme/web/issues", user_agent=None)
        self.assertEqual(st, 403)
        self.assertIn(b"User-Agent", b)
        st, h, b = self.api("GET", "/repos/acme/web/issues", user_agent="")
        self.assertEqual(st, 403)

    def test_known_token_is_required(self):
        for token, scheme in ((None, "Bearer"), ("ghp_wrong", "Bearer"), ("ghp_test", "Basic")):
            st, h, b = self.api("GET", "/repos/acme/web", token=token, scheme=scheme)
            self.assertEqual(st, 401, (token, scheme))
            self.assertEqual(b["message"], "Bad credentials")
            self.assertIn("documentation_url", b)
        for scheme in ("Bearer", "token"):
            st, h, b = self.api("GET", "/repos/acme/web", scheme=scheme)
            self.assertEqual(st, 200, scheme)

    def test_configured_tokens_and_permissions(self):
        self.gh.configure(tokens={
            "ghp_reader": {"login": "reader", "permissions": {"issues": "read"}, "push": False},
            "ghp_other": {"login": "other", "repos": ["acme/api"]},
        })
        st, h, b = self.api("GET", "/repos/acme/web", token="ghp_reader")
        self.assertEqual(b["permissions"]["push"], False)
        self.assertEqual(self.api("GET", "/repos/acme/web/issues", token="ghp_reader")[0], 200)
        st, h, b = self.api("POST", "/repos/acme/web/issues", {"title": "x"}, token="ghp_reader")
        self.assertEqual(st, 403)
        self.assertEqual(b["message"], "Resource not accessible by personal access token")
        self.assertEqual(h["x-accepted-github-permissions"], "issues=write")
        # A repository the token cannot see is a 404, not a 403 (no existence leak).
        self.assertEqual(self.api("GET", "/repos/acme/web", token="ghp_other")[0], 404)
        self.gh.configure(tokens={"ghp_reader": None})
        self.assertEqual(self.api("GET", "/repos/acme/web", token="ghp_reader")[0], 401)

    def test_every_response_has_rate_limit_headers_and_request_id(self):
        responses = [self.api("GET", "/repos/acme/web"),
                     self.api("GET", "/nope", headers=NO_RECORD),  # no such route in the spec
                     self.api("GET", "/repos/acme/web", token="bad")]
        for st, h, b in responses:
            for k in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used",
                      "x-ratelimit-reset", "x-ratelimit-resource", "x-github-request-id"):
                self.assertIn(k, h, st)
        self.assertEqual(responses[0][1]["x-ratelimit-resource"], "core")
        self.assertEqual(responses[2][1]["x-ratelimit-limit"], "60")  # unauthenticated
        a = int(self.api("GET", "/repos/acme/web")[1]["x-ratelimit-remaining"])
        b = int(self.api("GET", "/repos/acme/web")[1]["x-ratelimit-remaining"])
        self.assertEqual(a - b, 1)
        self.assertGreater(int(responses[0][1]["x-ratelimit-reset"]), time.time())

    def test_primary_rate_limit_runs_out(self):
        self.gh.configure(tokens={"ghp_small": {"login": "small", "rate_limit": 3}})
        for _ in range(3):
            self.assertEqual(self.api("GET", "/repos/acme/web", token="ghp_small")[0], 200)
        st, h, b = self.api("GET", "/repos/acme/web", token="ghp_small")
        self.assertEqual(st, 403)
        self.assertEqual(h["x-ratelimit-remaining"], "0")
        self.assertIn("API rate limit exceeded", b["message"])
        st, h, b = self.api("GET", "/rate_limit", token="ghp_small")  # still answers
        self.assertEqual(st, 200)
        self.assertEqual(b["resources"]["core"]["remaining"], 0)
        self.assertEqual(self.gh.stats()["rate_limit"]["ghp_small"]["used"], 3)

    def test_rate_limit_endpoint_is_free(self):
        before = self.gh.stats()["rate_limit"]["ghp_test"]["used"]
        st, h, b = self.api("GET", "/rate_limit")
        self.assertEqual(st, 200)
        self.assertEqual(b["resources"]["core"]["limit"], 5000)
        self.assertEqual(b["rate"], b["resources"]["core"])
        self.assertEqual(self.gh.stats()["rate_limit"]["ghp_test"]["used"], before)

    def test_unsupported_api_version(self):
        st, h, b = self.api("GET", "/repos/acme/web",
                            headers={"X-GitHub-Api-Version": "2011-01-01"})
        self.assertEqual(st, 400)
        self.assertIn("2011-01-01", b["message"])


class RepoAndUserTest(FakeTestCase):
    def test_repo(self):
        st, h, b = self.api("GET", "/repos/ACME/Web")  # names are case-insensitive
        self.assertEqual(st, 200)
        self.assertEqual(b["full_name"], "acme/web")
        self.assertTrue(b["has_issues"])
        self.assertEqual(b["permissions"], {"admin": False, "maintain": False, "push": True,
                                            "triage": True, "pull": True})
        self.assertIn("etag", h)
        st, h, b = self.api("GET", "/repos/acme/nope")
        self.assertEqual(st, 404)
        self.assertEqual(b["message"], "Not Found")

    def test_user(self):
        st, h, b = self.api("GET", "/user")
        self.assertEqual(st, 200)
        self.assertEqual(b["login"], "svc-bot")
        self.assertEqual(b["type"], "User")
        self.assertIsInstance(b["id"], int)

    def test_issues_disabled_is_gone(self):
        self.gh.create_repo("acme/noissues", has_issues=False)
        st, h, b = self.api("GET", "/repos/acme/noissues/issues")
        self.assertEqual(st, 410)
        self.assertFalse(self.api("GET", "/repos/acme/noissues")[2]["has_issues"])


class IssueTest(FakeTestCase):
    def test_create_shape(self):
        st, h, b = self.api("POST", "/repos/acme/web/issues", {
            "title": "Rotate TLS certificates", "body": "text\n<!-- sync:v1 id=7f3c0e2a -->",
            "labels": ["sync", "ops"], "assignees": ["alice", "mallory"]})
        self.assertEqual(st, 201)
        self.assertEqual(h["location"], b["url"])
        self.assertGreaterEqual(b["id"], 2_000_000_000)
        self.assertIsInstance(b["node_id"], str)
        self.assertEqual(b["number"], 1)
        self.assertEqual(b["state"], "open")
        self.assertIsNone(b["state_reason"])
        self.assertIsNone(b["closed_at"])
        self.assertEqual([lab["name"] for lab in b["labels"]], ["sync", "ops"])
        for lab in b["labels"]:
            self.assertEqual(set(lab), {"id", "node_id", "url", "name", "color", "default",
                                        "description"})
        # mallory is no collaborator: silently dropped, as GitHub does.
        self.assertEqual([a["login"] for a in b["assignees"]], ["alice"])
        self.assertEqual(b["assignee"]["login"], "alice")
        self.assertEqual(b["user"]["login"], "svc-bot")
        for k in ("created_at", "updated_at"):
            self.assertRegex(b[k], TS)
        self.assertTrue(b["url"].startswith(self.gh.url + "/repos/acme/web/issues/1"))
        self.assertEqual(b["repository_url"], self.gh.url + "/repos/acme/web")
        self.assertTrue(b["html_url"].endswith("/acme/web/issues/1"))
        self.assertNotIn("pull_request", b)
        labels = self.api("GET", "/repos/acme/web/labels")[2]
        self.assertEqual(sorted(lab["name"] for lab in labels), ["ops", "sync"])
        self.assertIsNone(self.create("no body")["body"])
        st, h, got = self.api("GET", "/repos/acme/web/issues/1")
        self.assertEqual(st, 200)
        self.assertEqual(got, b)

    def test_validation_errors(self):
        st, h, b = self.api("POST", "/repos/acme/web/issues", {"title": ""})
        self.assertEqual(st, 422)
        self.assertEqual(b["message"], "Validation Failed")
        self.assertEqual(b["errors"], [{"resource": "Issue", "code": "missing_field",
                                        "field": "title"}])
        st, h, b = self.api("POST", "/repos/acme/web/issues", {"body": "no title"},
                            headers=NO_RECORD)
        self.assertEqual(st, 422)
        self.assertEqual(b["errors"][0]["code"], "missing_field")
        st, h, b = self.api("POST", "/repos/acme/web/issues", {"title": "t" * 257})
        self.assertEqual(st, 422)
        self.assertEqual(b["errors"][0]["code"], "custom")
        self.assertEqual(b["errors"][0]["field"], "title")
        self.assertEqual(self.api("POST", "/repos/acme/web/issues", {"title": "t" * 256})[0], 201)
        st, h, b = self.api("POST", "/repos/acme/web/issues", {"title": "x", "body": "b" * 65537})
        self.assertEqual(st, 422)
        self.assertEqual(b["errors"], [{"resource": "Issue", "code": "custom", "field": "body",
                                        "message": "body is too long (maximum is 65536 "
                                                   "characters)"}])
        self.assertIn("documentation_url", b)
        self.assertEqual(self.api("POST", "/repos/acme/web/issues",
                                  {"title": "x", "body": "b" * 65536})[0], 201)
        st, h, b = self.api("PATCH", "/repos/acme/web/issues/1", {"body": "b" * 65537})
        self.assertEqual(st, 422)
        st, h, b = self.api("POST", "/repos/acme/web/issues", b"{not json",
                            headers=NO_RECORD)
        self.assertEqual(st, 400)
        self.assertEqual(b["message"], "Problems parsing JSON")
        st, h, b = self.api("POST", "/repos/acme/web/issues", b"[1]", headers=NO_RECORD)
        self.assertEqual(st, 400)
        self.assertEqual(b["message"], "Body should be a JSON object")

    def test_without_push_labels_and_assignees_are_dropped(self):
        self.gh.configure(tokens={"ghp_triage": {"login": "helper", "push": False}})
        st, h, b = self.api("POST", "/repos/acme/web/issues",
                            {"title": "x", "labels": ["sync"], "assignees": ["alice"]},
                            token="ghp_triage")
        self.assertEqual(st, 201)
        self.assertEqual((b["labels"], b["assignees"]), ([], []))
        st, h, b = self.api("PATCH", f"/repos/acme/web/issues/{b['number']}",
                            {"labels": ["sync"], "title": "y"}, token="ghp_triage")
        self.assertEqual((st, b["labels"], b["title"]), (200, [], "y"))

    def test_patch(self):
        issue = self.create(labels=["a", "b"], assignees=["alice"])
        n = issue["number"]
        path = f"/repos/acme/web/issues/{n}"
        st, h, b = self.api("PATCH", path, {"title": "New", "body": "B", "labels": ["c"],
                                            "assignees": ["bob"]})
        self.assertEqual(st, 200)
        self.assertEqual((b["title"], b["body"]), ("New", "B"))
        self.assertEqual([x["name"] for x in b["labels"]], ["c"])  # replaced, not added
        self.assertEqual([x["login"] for x in b["assignees"]], ["bob"])
        self.assertGreater(b["updated_at"], issue["updated_at"])
        # state_reason alone is ignored: the state does not change.
        st, h, b2 = self.api("PATCH", path, {"state_reason": "not_planned"})
        self.assertEqual((b2["state"], b2["state_reason"]), ("open", None))
        self.assertEqual(b2["updated_at"], b["updated_at"])
        st, h, b = self.api("PATCH", path, {"state": "closed"})
        self.assertEqual((b["state"], b["state_reason"]), ("closed", "completed"))
        self.assertRegex(b["closed_at"], TS)
        self.assertEqual(b["closed_by"]["login"], "svc-bot")
        st, h, b = self.api("PATCH", path, {"state": "closed", "state_reason": "not_planned"})
        self.assertEqual(b["state_reason"], "completed")  # already closed: ignored
        st, h, b = self.api("PATCH", path, {"state": "open"})
        self.assertEqual((b["state"], b["state_reason"], b["closed_at"]),
                         ("open", "reopened", None))
        st, h, b = self.api("PATCH", path, {"state": "closed", "state_reason": "not_planned"})
        self.assertEqual(b["state_reason"], "not_planned")
        st, h, b = self.api("PATCH", path, {"labels": [], "assignees": []})
        self.assertEqual((b["labels"], b["assignees"], b["assignee"]), ([], [], None))
        st, h, b = self.api("PATCH", path, {"body": None})
        self.assertIsNone(b["body"])
        self.assertEqual(self.api("PATCH", "/repos/acme/web/issues/999", {"title": "x"})[0], 404)

    def test_add_and_remove_endpoints(self):
        n = self.create(labels=["a"])["number"]
        st, h, b = self.api("POST", f"/repos/acme/web/issues/{n}/assignees",
                            {"assignees": ["alice", "mallory"]})
        self.assertEqual((st, [a["login"] for a in b["assignees"]]), (201, ["alice"]))
        st, h, b = self.api("DELETE", f"/repos/acme/web/issues/{n}/assignees",
                            {"assignees": ["alice"]})
        self.assertEqual((st, b["assignees"]), (200, []))
        st, h, b = self.api("POST", f"/repos/acme/web/issues/{n}/labels", {"labels": ["b"]})
        self.assertEqual((st, [x["name"] for x in b]), (200, ["a", "b"]))
        st, h, b = self.api("DELETE", f"/repos/acme/web/issues/{n}/labels/a")
        self.assertEqual((st, [x["name"] for x in b]), (200, ["b"]))
        self.assertEqual(self.api("DELETE", f"/repos/acme/web/issues/{n}/labels/zz")[0], 404)

    def test_deleted_issue_is_gone(self):
        n = self.create()["number"]
        out = self.gh.act("alice", "acme/web", n, "delete")
        self.assertIsNone(out["delivery"])  # no webhook configured here
        for method, body in (("GET", None), ("PATCH", {"title": "x"})):
            st, h, b = self.api(method, f"/repos/acme/web/issues/{n}", body)
            self.assertEqual(st, 410, method)
            self.assertEqual(b["message"], "This issue was deleted")
        self.assertEqual(self.api("GET", "/repos/acme/web/issues?state=all")[2], [])

    def test_transferred_issue_redirects(self):
        self.gh.create_repo("acme/api", collaborators=["alice"])
        self.gh.seed_issue("acme/api", title="occupies number 1")
        old = self.create(assignees=["alice", "bob"])
        out = self.gh.act("alice", "acme/web", old["number"], "transfer", new_repo="acme/api")
        new = out["new_issue"]
        self.assertNotEqual(new["id"], old["id"])
        self.assertEqual(new["number"], 2)
        self.assertEqual([a["login"] for a in new["assignees"]], ["alice"])  # bob: no access
        for method, body in (("GET", None), ("PATCH", {"title": "x"})):
            st, h, b = self.api(method, f"/repos/acme/web/issues/{old['number']}", body)
            self.assertEqual(st, 301, method)
            self.assertEqual(h["location"], new["url"])
            self.assertEqual(b["url"], new["url"])
        st, h, b = self.api("GET", new["url"])
        self.assertEqual((st, b["id"], b["title"]), (200, new["id"], old["title"]))
        self.gh.create_repo("other/x")
        with self.assertRaisesRegex(RuntimeError, "same owner"):
            self.gh.act("alice", "acme/api", 2, "transfer", new_repo="other/x")

    def test_labels_and_assignees(self):
        st, h, b = self.api("POST", "/repos/acme/web/labels",
                            {"name": "sync", "color": "ededed", "description": "synced"})
        self.assertEqual(st, 201)
        self.assertEqual((b["name"], b["color"], b["description"], b["default"]),
                         ("sync", "ededed", "synced", False))
        self.assertEqual(h["location"], b["url"])
        st, h, b = self.api("POST", "/repos/acme/web/labels", {"name": "SYNC"})
        self.assertEqual(st, 422)
        self.assertEqual(b["errors"], [{"resource": "Label", "code": "already_exists",
                                        "field": "name"}])
        self.assertEqual(len(self.api("GET", "/repos/acme/web/labels")[2]), 1)
        st, h, b = self.api("GET", "/repos/acme/web/assignees/alice")
        self.assertEqual((st, b), (204, None))
        self.assertEqual(self.api("GET", "/repos/acme/web/assignees/mallory")[0], 404)
        st, h, b = self.api("GET", "/repos/acme/web/assignees")
        self.assertEqual([u["login"] for u in b], ["alice", "bob"])


class ListTest(FakeTestCase):
    def test_default_open_state_labels_and_prs(self):
        a = self.create("a", labels=["sync", "ops"])
        self.create("b", labels=["sync"])
        c = self.create("c")
        self.api("PATCH", f"/repos/acme/web/issues/{c['number']}", {"state": "closed"})
        pr = self.gh.seed_pr("acme/web", title="a PR", user="alice")
        st, h, b = self.api("GET", "/repos/acme/web/issues")
        self.assertEqual(st, 200)
        self.assertEqual([i["title"] for i in b], ["a PR", "b", "a"])  # open, created desc
        self.assertNotIn("link", h)
        prs = [i for i in b if "pull_request" in i]
        self.assertEqual([i["number"] for i in prs], [pr["number"]])
        self.assertIsInstance(prs[0]["pull_request"]["url"], str)
        self.assertEqual(len(self.api("GET", "/repos/acme/web/issues?state=all")[2]), 4)
        self.assertEqual([i["title"] for i in
                          self.api("GET", "/repos/acme/web/issues?state=closed")[2]], ["c"])
        got = self.api("GET", "/repos/acme/web/issues?labels=sync,ops&state=all")[2]
        self.assertEqual([i["id"] for i in got], [a["id"]])
        got = self.api("GET", "/repos/acme/web/issues?sort=created&direction=asc")[2]
        self.assertEqual([i["title"] for i in got], ["a", "b", "a PR"])
        self.assertEqual(self.api("GET", "/repos/acme/web/issues?state=bogus",
                                  headers=NO_RECORD)[0], 422)

    def test_since_sort_updated_asc(self):
        issues = [self.create(f"t{i}") for i in range(4)]
        # Human edits in quick succession: each one strictly later than the one before.
        stamps = []
        for i in (2, 0, 3):
            out = self.gh.act("alice", "acme/web", issues[i]["number"], "edit", body=f"v{i}")
            stamps.append(out["issue"]["updated_at"])
        self.assertEqual(stamps, sorted(set(stamps)))
        since = stamps[1]
        st, h, b = self.api("GET", "/repos/acme/web/issues?state=all&sort=updated"
                                   f"&direction=asc&since={since}&per_page=100")
        self.assertEqual(st, 200)
        self.assertEqual([i["title"] for i in b], ["t0", "t3"])  # updated_at >= since
        self.assertTrue(all(i["updated_at"] >= since for i in b))
        b = self.api("GET", "/repos/acme/web/issues?state=all&sort=updated&direction=desc")[2]
        self.assertEqual([i["title"] for i in b][:3], ["t3", "t0", "t2"])
        self.assertEqual(self.api("GET", "/repos/acme/web/issues?since=yesterday",
                                  headers=NO_RECORD)[0], 422)

    def test_link_pagination_walks_250_issues_in_3_pages(self):
        out = self.gh.bulk("acme/web", 250, labels=["sync"], title_prefix="Bulk")
        self.assertEqual((out["first"], out["last"]), (1, 250))
        pages = self.walk("/repos/acme/web/issues?state=all&sort=created&direction=asc"
                          "&per_page=100")
        self.assertEqual(len(pages), 3)
        links = pages[0][1]
        self.assertEqual(set(links), {"next", "last"})
        self.assertIn("page=3", links["last"])
        self.assertRegex(links["next"], r"^http://127\.0\.0\.1:\d+/repositories/\d+/"
                                        r"issues\?.*per_page=100.*&page=2$")
        self.assertEqual(set(pages[2][1]), {"prev", "first"})
        self.assertEqual([i["number"] for b, _ in pages for i in b], list(range(1, 251)))
        self.assertEqual(len(self.api("GET", "/repos/acme/web/issues?per_page=500")[2]), 100)
        self.assertEqual(len(self.api("GET", "/repos/acme/web/issues")[2]), 30)

    def test_etag_then_304_does_not_cost(self):
        self.create()
        url = "/repos/acme/web/issues?state=all&sort=updated&direction=asc"
        st, h, b = self.api("GET", url)
        etag, remaining = h["etag"], int(h["x-ratelimit-remaining"])
        st, h2, b2 = self.api("GET", url, headers={"If-None-Match": etag})
        self.assertEqual((st, b2), (304, None))
        self.assertEqual(int(h2["x-ratelimit-remaining"]), remaining)
        self.assertEqual(h2["etag"], etag)
        st, h3, b3 = self.api("GET", url, headers={"If-None-Match": etag})
        self.assertEqual(int(h3["x-ratelimit-remaining"]), remaining)
        # Another query string, another ETag; a change, another ETag.
        other = self.api("GET", url + "&per_page=50")[1]["etag"]
        self.assertNotEqual(other, etag)
        self.gh.act("alice", "acme/web", 1, "edit", title="changed")
        st, h4, b4 = self.api("GET", url, headers={"If-None-Match": etag})
        self.assertEqual(st, 200)
        self.assertEqual(int(h4["x-ratelimit-remaining"]), remaining - 2)
        lm = self.api("GET", "/repos/acme/web/issues/1")[1]["last-modified"]
        self.assertEqual(self.api("GET", "/repos/acme/web/issues/1",
                                  headers={"If-Modified-Since": lm})[0], 304)

    def test_repositories_route_is_the_same_listing(self):
        self.gh.bulk("acme/web", 5)
        rid = self.api("GET", "/repos/acme/web")[2]["id"]
        a = self.api("GET", "/repos/acme/web/issues?per_page=2&page=2")[2]
        b = self.api("GET", f"/repositories/{rid}/issues?per_page=2&page=2")[2]
        self.assertEqual(a, b)


class FaultTest(FakeTestCase):
    def test_status_faults_apply_n_times(self):
        self.create()
        self.gh.fault("GET", r"^/repos/acme/web/issues/1$", status=500,
                      body={"message": "Server Error"}, count=2)
        self.assertEqual(self.api("GET", "/repos/acme/web/issues/1")[0], 500)
        self.assertEqual(self.api("GET", "/repos/acme/web")[0], 200)  # other path
        self.assertEqual(self.api("PATCH", "/repos/acme/web/issues/1", {"title": "x"})[0], 200)
        self.assertEqual(self.api("GET", "/repos/acme/web/issues/1")[0], 500)
        self.assertEqual(self.api("GET", "/repos/acme/web/issues/1")[0], 200)

    def test_rate_limit_presets(self):
        self.gh.fault("PATCH", r"/issues/\d+$", preset="secondary_rate_limit")
        self.gh.fault("PATCH", r"/issues/\d+$", preset="too_many_requests")
        self.gh.fault("PATCH", r"/issues/\d+$", preset="primary_rate_limit")
        self.gh.fault("PATCH", r"/issues/\d+$", preset="bad_credentials")
        self.gh.fault("PATCH", r"/issues/\d+$", status=502, body="<html>bad gateway</html>",
                      headers={"Content-Type": "text/html"})
        n = self.create()["number"]
        st, h, b = self.api("PATCH", f"/repos/acme/web/issues/{n}", {"title": "x"})
        self.assertEqual((st, h["retry-after"]), (403, "60"))
        self.assertIn("secondary rate limit", b["message"])
        self.assertIn(h["x-github-request-id"], b["message"])
        st, h, b = self.api("PATCH", f"/repos/acme/web/issues/{n}", {"title": "x"})
        self.assertEqual((st, h["retry-after"]), (429, "30"))
        st, h, b = self.api("PATCH", f"/repos/acme/web/issues/{n}", {"title": "x"})
        self.assertEqual((st, h["x-ratelimit-remaining"]), (403, "0"))
        self.assertGreater(int(h["x-ratelimit-reset"]), time.time())
        self.assertIn("API rate limit exceeded", b["message"])
        self.assertEqual(self.api("PATCH", f"/repos/acme/web/issues/{n}", {"title": "x"})[0], 401)
        st, h, b = self.api("PATCH", f"/repos/acme/web/issues/{n}", {"title": "x"})
        self.assertEqual((st, h["content-type"], b), (502, "text/html",
                                                      b"<html>bad gateway</html>"))
        self.assertEqual(self.api("PATCH", f"/repos/acme/web/issues/{n}", {"title": "x"})[0], 200)
        self.assertEqual(self.gh.raw_issue("acme/web", n)["title"], "x")

    def test_delay_and_drop(self):
        self.gh.fault("GET", r"^/repos/acme/web$", delay=0.3)
        t0 = time.monotonic()
        self.assertEqual(self.api("GET", "/repos/acme/web")[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.gh.fault("GET", r"^/repos/acme/web$", drop=True)
        with self.assertRaises(ConnectionError):  # http.client.RemoteDisconnected
            self.api("GET", "/repos/acme/web")
        self.assertEqual(self.api("GET", "/repos/acme/web")[0], 200)
        self.gh.fault("GET", ".*", status=500, count=5)
        self.gh.clear_faults()
        self.assertEqual(self.api("GET", "/repos/acme/web")[0], 200)


class CommentTest(FakeTestCase):
    def comment(self, n, body="Reminder: due Friday", repo="acme/web", **kw):
        return self.api("POST", f"/repos/{repo}/issues/{n}/comments", {"body": body}, **kw)

    def test_create_shape_and_the_issue_moves(self):
        issue = self.create()
        n = issue["number"]
        st, h, c = self.comment(n)
        self.assertEqual(st, 201, c)
        self.assertEqual(h["location"], c["url"])
        self.assertIsInstance(c["id"], int)
        self.assertGreater(c["id"], 2 ** 31)  # int64: above any signed 32-bit id
        self.assertEqual(c["url"], f"{self.gh.url}/repos/acme/web/issues/comments/{c['id']}")
        self.assertEqual(c["html_url"],
                         f"https://github.com/acme/web/issues/{n}#issuecomment-{c['id']}")
        self.assertEqual(c["issue_url"], issue["url"])
        self.assertIsInstance(c["node_id"], str)
        self.assertEqual((c["body"], c["user"]["login"], c["author_association"]),
                         ("Reminder: due Friday", "svc-bot", "NONE"))
        self.assertRegex(c["created_at"], TS)
        self.assertEqual(c["updated_at"], c["created_at"])
        self.assertEqual(c["reactions"]["total_count"], 0)
        st, h, now = self.api("GET", f"/repos/acme/web/issues/{n}")
        self.assertEqual((now["comments"], now["updated_at"]), (1, c["created_at"]))
        self.assertGreater(now["updated_at"], issue["updated_at"])
        # one id sequence for every issue and repository
        self.gh.create_repo("acme/api", collaborators=["alice"])
        other = self.gh.seed_issue("acme/api")["number"]
        st, h, c2 = self.comment(other, "second", repo="acme/api")
        self.assertEqual(st, 201)
        self.assertGreater(c2["id"], c["id"])
        self.assertEqual(self.gh.comments("acme/web", n), [c])
        self.assertEqual([x["body"] for x in self.gh.comments("acme/api", other)], ["second"])
        self.assertEqual(self.gh.comments("acme/web", self.create("quiet")["number"]), [])
        with self.assertRaisesRegex(RuntimeError, "404"):
            self.gh.comments("acme/web", 999)

    def test_validation_like_github(self):
        issue = self.create()
        n = issue["number"]
        path = f"/repos/acme/web/issues/{n}/comments"
        for body, msg in (({}, "\"body\" wasn't supplied"),
                          ({"body": 12}, "For 'properties/body', 12 is not a string"),
                          ({"body": None}, "null is not a string")):
            st, h, b = self.api("POST", path, body, headers=NO_RECORD)
            self.assertEqual(st, 422, body)
            self.assertIn(msg, b["message"])
            self.assertTrue(b["message"].startswith("Invalid request."))
        st, h, b = self.comment(n, "  \n")
        self.assertEqual((st, b["message"]), (422, "Validation Failed"))
        self.assertEqual(b["errors"], [{"resource": "IssueComment", "code": "unprocessable",
                                        "field": "data", "message": "Body cannot be blank"}])
        st, h, b = self.comment(n, "x" * 65537)
        self.assertEqual(st, 422)
        self.assertEqual(b["errors"][0]["message"],
                         "Body is too long (maximum is 65536 characters)")
        self.assertEqual(b["documentation_url"],
                         "https://docs.github.com/rest/issues/comments#create-an-issue-comment")
        self.assertEqual(self.api("GET", f"/repos/acme/web/issues/{n}")[2], issue)  # untouched
        st, h, c = self.comment(n, "é" * 65536)  # characters, not bytes
        self.assertEqual(st, 201)
        self.assertEqual(len(self.gh.comments("acme/web", n)[0]["body"]), 65536)

    def test_missing_deleted_transferred_prs_and_permissions(self):
        self.assertEqual(self.comment(99)[0], 404)
        self.assertEqual(self.api("GET", "/repos/acme/web/issues/99/comments")[0], 404)
        self.assertEqual(self.comment(1, repo="acme/nope")[0], 404)
        gone = self.create("doomed")["number"]
        self.gh.act("alice", "acme/web", gone, "delete")
        for st, h, b in (self.comment(gone),
                         self.api("GET", f"/repos/acme/web/issues/{gone}/comments")):
            self.assertEqual((st, b["message"]), (410, "This issue was deleted"))
        self.gh.create_repo("acme/api", collaborators=["alice"])
        old = self.create("moving")["number"]
        self.assertEqual(self.comment(old, "before the move")[0], 201)
        new = self.gh.act("alice", "acme/web", old, "transfer", new_repo="acme/api")["new_issue"]
        st, h, b = self.comment(old)
        self.assertEqual((st, h["location"]), (301, new["url"]))
        self.assertEqual(self.api("GET", f"/repos/acme/web/issues/{old}/comments")[0], 301)
        self.assertEqual(new["comments"], 1)  # the comments went along
        st, h, got = self.api("GET", f"/repos/acme/api/issues/{new['number']}/comments")
        self.assertEqual([c["body"] for c in got], ["before the move"])
        self.assertEqual(got[0]["issue_url"], new["url"])
        pr = self.gh.seed_pr("acme/web", user="bob")["number"]
        st, h, c = self.comment(pr, "on a PR")
        self.assertEqual(st, 201)
        self.assertIn(f"/acme/web/pull/{pr}#issuecomment-", c["html_url"])
        self.gh.add_token("ghp_read", "reader", permissions={"issues": "read"})
        n = self.create()["number"]
        st, h, b = self.comment(n, token="ghp_read")
        self.assertEqual((st, h["x-accepted-github-permissions"]), (403, "issues=write"))
        self.assertEqual(self.api("GET", f"/repos/acme/web/issues/{n}/comments",
                                  token="ghp_read")[0], 200)
        self.gh.create_repo("acme/noissues", has_issues=False)
        self.assertEqual(self.comment(1, repo="acme/noissues")[0], 410)
        self.assertEqual(self.gh.comments("acme/web", n), [])

    def test_list_ascending_since_and_link_paging(self):
        n = self.create()["number"]
        made = [self.comment(n, f"c{i}")[2] for i in range(5)]
        self.assertEqual([c["id"] for c in made], sorted(c["id"] for c in made))
        self.assertEqual(len({c["created_at"] for c in made}), 5)  # one tick each
        path = f"/repos/acme/web/issues/{n}/comments"
        st, h, got = self.api("GET", path)
        self.assertEqual((st, got), (200, made))
        self.assertNotIn("link", h)
        self.assertIn("etag", h)
        st, h, got = self.api("GET", f"{path}?since={made[2]['updated_at']}")
        self.assertEqual([c["body"] for c in got], ["c2", "c3", "c4"])  # updated_at >= since
        pages = self.walk(f"{path}?per_page=2")
        self.assertEqual(len(pages), 3)
        links = pages[0][1]
        self.assertEqual(set(links), {"next", "last"})
        self.assertEqual(links["next"], f"{self.gh.url}{path}?per_page=2&page=2")
        self.assertTrue(links["last"].endswith("page=3"))
        self.assertEqual(set(pages[2][1]), {"prev", "first"})
        self.assertEqual([c["body"] for b, _ in pages for c in b], [f"c{i}" for i in range(5)])
        st, h, b = self.api("GET", f"{path}?since=yesterday", headers=NO_RECORD)
        self.assertEqual(st, 422)

    def test_rate_limit_and_faults_as_for_other_writes(self):
        n = self.create()["number"]
        self.gh.configure(tokens={"ghp_small": {"login": "small", "rate_limit": 2}})
        st, h, b = self.comment(n, token="ghp_small")
        self.assertEqual((st, h["x-ratelimit-used"], h["x-ratelimit-remaining"]),
                         (201, "1", "1"))
        self.assertEqual(self.comment(n, token="ghp_small")[0], 201)
        st, h, b = self.comment(n, token="ghp_small")
        self.assertEqual((st, h["x-ratelimit-remaining"]), (403, "0"))
        self.assertIn("API rate limit exceeded", b["message"])
        path = rf"^/repos/acme/web/issues/{n}/comments$"
        self.gh.fault("POST", path, preset="secondary_rate_limit")
        self.gh.fault("POST", path, preset="too_many_requests")
        self.gh.fault("POST", path, preset="server_error")
        st, h, b = self.comment(n)
        self.assertEqual((st, h["retry-after"]), (403, "60"))
        self.assertIn("secondary rate limit", b["message"])
        self.assertEqual(self.comment(n)[0], 429)
        self.assertEqual(self.comment(n)[0], 500)
        self.assertEqual(len(self.gh.comments("acme/web", n)), 2)  # none of those was stored
        self.assertEqual(self.comment(n, "third")[0], 201)
        self.assertEqual(self.api("GET", f"/repos/acme/web/issues/{n}")[2]["comments"], 3)
        self.gh.fault("GET", rf"^/repos/acme/web/issues/{n}/comments", drop=True)
        with self.assertRaises(ConnectionError):
            self.api("GET", f"/repos/acme/web/issues/{n}/comments")


class WebhookTest(FakeTestCase):
    SECRET = "It's a Secret to Everybody"

    def setUp(self):
        super().setUp()
        self.rx = Receiver()
        self.addCleanup(self.rx.close)
        self.gh.set_webhook(self.rx.url, self.SECRET, echo=False)

    def verify(self, delivery):
        mac = "sha256=" + hmac.new(self.SECRET.encode(), delivery["body"],
                                   hashlib.sha256).hexdigest()
        self.assertTrue(hmac.compare_digest(mac, delivery["headers"]["x-hub-signature-256"]))
        return json.loads(delivery["body"])

    def test_signed_delivery_and_strictly_increasing_updated_at(self):
        issue = self.create()
        n = issue["number"]
        out1 = self.gh.act("alice", "acme/web", n, "edit", title="T2", body="B2")
        out2 = self.gh.act("bob", "acme/web", n, "edit", title="T3")  # same second, surely
        self.assertEqual(out1["delivery"]["status"], 202)
        self.assertGreater(out1["issue"]["updated_at"], issue["updated_at"])
        self.assertGreater(out2["issue"]["updated_at"], out1["issue"]["updated_at"])
        got = self.rx.wait(2)
        self.assertEqual(len(got), 2)
        d = got[0]
        self.assertEqual(d["path"], "/hooks/github")
        self.assertEqual(d["headers"]["x-github-event"], "issues")
        self.assertEqual(d["headers"]["x-github-delivery"], out1["delivery"]["id"])
        self.assertRegex(d["headers"]["x-github-delivery"],
                         r"\A[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
        self.assertTrue(d["headers"]["user-agent"].startswith("GitHub-Hookshot/"))
        self.assertEqual(d["headers"]["content-type"], "application/json")
        p = self.verify(d)
        self.assertEqual(p["action"], "edited")
        self.assertEqual(p["changes"], {"title": {"from": "Cap the DB pool"},
                                        "body": {"from": None}})
        self.assertEqual((p["issue"]["title"], p["issue"]["body"]), ("T2", "B2"))
        self.assertEqual(p["issue"]["updated_at"], out1["issue"]["updated_at"])
        self.assertEqual(p["sender"]["login"], "alice")
        self.assertEqual(p["repository"]["full_name"], "acme/web")
        p2 = self.verify(got[1])
        self.assertEqual(p2["changes"], {"title": {"from": "T2"}})
        # The test vector from GitHub's docs, through the same code path as the check above.
        self.assertEqual(hmac.new(self.SECRET.encode(), b"Hello, World!",
                                  hashlib.sha256).hexdigest(),
                         "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")

    def test_actions_and_payload_keys(self):
        self.gh.create_repo("acme/api", collaborators=["alice"])
        n = self.create()["number"]
        steps = [
            ("close", {"state_reason": "not_planned"}, ["closed"]),
            ("reopen", {}, ["reopened"]),
            ("assign", {"assignees": ["alice", "bob"]}, ["assigned", "assigned"]),
            ("unassign", {"assignees": ["bob"]}, ["unassigned"]),
            ("label", {"label": "urgent"}, ["labeled"]),
            ("unlabel", {"label": "urgent"}, ["unlabeled"]),
            ("transfer", {"new_repo": "acme/api"}, ["transferred", "opened"]),
        ]
        count = 0
        for action, fields, expect in steps:
            out = self.gh.act("alice", "acme/web", n, action, **fields)
            self.assertEqual([d["action"] for d in out["deliveries"]], expect, action)
            count += len(expect)
            got = [self.verify(d) for d in self.rx.wait(count)[count - len(expect):]]
            self.assertEqual([p["action"] for p in got], expect)
            p = got[0]
            if action == "close":
                self.assertEqual((p["issue"]["state"], p["issue"]["state_reason"]),
                                 ("closed", "not_planned"))
            if action == "reopen":
                self.assertEqual(p["issue"]["state_reason"], "reopened")
            if action in ("assign", "unassign"):
                self.assertEqual([q["assignee"]["login"] for q in got],
                                 fields["assignees"])
            if action in ("label", "unlabel"):
                self.assertEqual(p["label"]["name"], "urgent")
            if action == "transfer":
                new = p["changes"]["new_issue"]
                self.assertEqual(p["changes"]["new_repository"]["full_name"], "acme/api")
                self.assertEqual(new["id"], out["new_issue"]["id"])
                self.assertEqual(got[1]["changes"]["old_issue"]["id"], p["issue"]["id"])
                self.assertEqual(got[1]["repository"]["full_name"], "acme/api")
        m = self.create("doomed")["number"]
        out = self.gh.act("bob", "acme/web", m, "delete")
        p = self.verify(self.rx.wait(count + 1)[-1])
        self.assertEqual((p["action"], p["issue"]["number"]), ("deleted", m))
        self.assertEqual(out["delivery"]["status"], 202)

    def test_receiver_status_and_redelivery(self):
        self.rx.status = 500
        n = self.create()["number"]
        out = self.gh.act("alice", "acme/web", n, "close")
        self.assertEqual(out["delivery"]["status"], 500)
        self.rx.status = 204
        again = self.gh.redeliver(out["delivery"]["id"])
        self.assertEqual((again["id"], again["status"]), (out["delivery"]["id"], 204))
        first, second = self.rx.wait(2)
        self.assertEqual(first["body"], second["body"])
        self.assertEqual(first["headers"]["x-github-delivery"],
                         second["headers"]["x-github-delivery"])
        listed = self.gh.deliveries()
        self.assertEqual(listed[-1]["attempts"], 2)
        self.assertEqual(listed[-1]["payload"]["action"], "closed")

    def test_drop_mode_changes_without_delivery(self):
        self.gh.set_webhook(self.rx.url, self.SECRET, enabled=False)
        n = self.create()["number"]
        out = self.gh.act("alice", "acme/web", n, "edit", title="quiet")
        self.assertIsNone(out["delivery"])
        self.assertEqual(out["issue"]["title"], "quiet")
        time.sleep(0.1)
        self.assertEqual(self.rx.got, [])

    def test_fault_after_puts_a_human_edit_between_read_and_write(self):
        issue = self.create()
        n = issue["number"]
        path = f"/repos/acme/web/issues/{n}"
        f = self.gh.fault("GET", f"^{path}$", after={"act": {
            "actor": "alice", "repo": "acme/web", "number": n, "action": "edit",
            "body": "owner's words"}})
        self.assertNotIn("status", f)
        st, h, read = self.api("GET", path)
        self.assertEqual((st, read), (200, issue))  # the normal answer, from before the edit
        self.assertIn("etag", h)
        p = self.verify(self.rx.wait(1)[0])  # then the edit, with its webhook
        self.assertEqual((p["action"], p["sender"]["login"]), ("edited", "alice"))
        self.assertEqual(p["changes"], {"body": {"from": None}})
        self.assertEqual(p["issue"]["body"], "owner's words")
        st, h, wrote = self.api("PATCH", path, {"title": "T2"})  # the service's write
        self.assertEqual((st, wrote["body"]), (200, "owner's words"))
        self.assertGreater(wrote["updated_at"], p["issue"]["updated_at"])
        self.assertGreater(p["issue"]["updated_at"], read["updated_at"])
        runs = self.gh.faults()[0]["after_runs"]
        self.assertEqual([(r["status"], r["result"]["delivery"]["status"]) for r in runs],
                         [(200, 202)])
        self.assertEqual(self.api("GET", path)[0], 200)  # count 1: this GET is left alone
        self.assertEqual(len(self.rx.got), 1)
        with self.assertRaisesRegex(RuntimeError, "400"):
            self.gh.fault("GET", ".*", after={"act": {"repo": "acme/web", "number": n}})

    def test_api_writes_echo_as_webhooks(self):
        self.gh.set_webhook(self.rx.url, self.SECRET, echo=True)
        issue = self.create(labels=["sync"])
        self.api("PATCH", f"/repos/acme/web/issues/{issue['number']}", {"state": "closed"})
        self.assertTrue(self.gh.drain())
        got = [self.verify(d) for d in self.rx.wait(3)]
        self.assertEqual([p["action"] for p in got], ["opened", "labeled", "closed"])
        self.assertEqual({p["sender"]["login"] for p in got}, {"svc-bot"})

    COMMENT_KEYS = {"url", "html_url", "issue_url", "id", "node_id", "user", "created_at",
                    "updated_at", "author_association", "performed_via_github_app", "body",
                    "reactions"}  # required by the issue_comment webhook's schema

    def test_issue_comment_webhooks(self):
        self.gh.set_webhook(self.rx.url, self.SECRET, echo=True)
        n = self.create()["number"]
        self.assertTrue(self.gh.drain())
        st, h, c = self.api("POST", f"/repos/acme/web/issues/{n}/comments", {"body": "ping"})
        self.assertEqual(st, 201)
        self.assertTrue(self.gh.drain())
        d = self.rx.wait(2)[1]
        self.assertEqual(d["headers"]["x-github-event"], "issue_comment")
        p = self.verify(d)
        self.assertEqual(p["action"], "created")
        self.assertEqual(p["comment"], c)
        self.assertLessEqual(self.COMMENT_KEYS, set(p["comment"]))
        self.assertEqual((p["issue"]["number"], p["issue"]["comments"]), (n, 1))
        self.assertEqual(p["issue"]["updated_at"], c["created_at"])
        self.assertEqual((p["sender"]["login"], p["repository"]["full_name"]),
                         ("svc-bot", "acme/web"))
        self.assertNotIn("pull_request", p["issue"])
        # a human comment: delivered before act() returns
        out = self.gh.act("alice", "acme/web", n, "comment", body="pong")
        self.assertEqual((out["delivery"]["status"], out["delivery"]["action"]),
                         (202, "created"))
        self.assertEqual(out["comment"]["user"]["login"], "alice")
        self.assertEqual(out["comment"]["author_association"], "COLLABORATOR")
        self.assertEqual(out["issue"]["comments"], 2)
        p = self.verify(self.rx.wait(3)[2])
        self.assertEqual((p["comment"]["body"], p["sender"]["login"]), ("pong", "alice"))
        self.assertEqual(self.gh.deliveries()[-1]["event"], "issue_comment")
        with self.assertRaisesRegex(RuntimeError, "422"):
            self.gh.act("alice", "acme/web", n, "comment", body=" ")
        # on a pull request too (receivers skip those by issue.pull_request)
        pr = self.gh.seed_pr("acme/web")["number"]
        self.gh.act("bob", "acme/web", pr, "comment", body="LGTM")
        p = self.verify(self.rx.wait(4)[3])
        self.assertIn("pull_request", p["issue"])
        self.gh.set_webhook(self.rx.url, self.SECRET, enabled=False)
        self.assertIsNone(self.gh.act("bob", "acme/web", n, "comment", body="quiet")["delivery"])
        self.assertEqual(len(self.gh.comments("acme/web", n)), 3)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@unittest.skipUnless(shutil.which("openssl"), "openssl not installed")
class AppTest(FakeTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="fake-github-test-")
        cls.key = os.path.join(cls.tmp, "app.pem")
        subprocess.run(["openssl", "genrsa", "-out", cls.key, "2048"], check=True,
                       capture_output=True)
        cls.pub = subprocess.run(["openssl", "rsa", "-in", cls.key, "-pubout"], check=True,
                                 capture_output=True).stdout.decode()
        other = os.path.join(cls.tmp, "other.pem")
        subprocess.run(["openssl", "genrsa", "-out", other, "2048"], check=True,
                       capture_output=True)
        cls.other_key = other

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.gh.configure(app={"id": "123", "installation_id": 456, "public_key_pem": self.pub,
                               "slug": "closeloop"})

    def jwt(self, iat_off=-60, exp_off=540, iss="123", key=None, alg="RS256"):
        now = int(time.time())
        head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        claims = b64url(json.dumps({"iat": now + iat_off, "exp": now + exp_off,
                                    "iss": iss}).encode())
        signing = f"{head}.{claims}".encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key or self.key],
                             input=signing, check=True, capture_output=True).stdout
        return f"{head}.{claims}.{b64url(sig)}"

    def exchange(self, jwt, inst=456):
        return self.api("POST", f"/app/installations/{inst}/access_tokens", token=jwt)

    def test_exchange_and_use(self):
        st, h, b = self.exchange(self.jwt())
        self.assertEqual(st, 201, b)
        self.assertTrue(b["token"].startswith("ghs_"))
        self.assertRegex(b["expires_at"], TS)
        left = time.mktime(time.strptime(b["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - \
            time.mktime(time.gmtime())
        self.assertAlmostEqual(left, 3600, delta=5)
        tok = b["token"]
        st, h, issue = self.api("POST", "/repos/acme/web/issues", {"title": "by the app"},
                                token=tok)
        self.assertEqual(st, 201)
        self.assertEqual((issue["user"]["login"], issue["user"]["type"]),
                         ("closeloop[bot]", "Bot"))
        st, h, b = self.api("GET", "/user", token=tok)
        self.assertEqual((st, b["message"]), (403, "Resource not accessible by integration"))
        st, h, b = self.api("GET", "/repos/acme/web/installation", token=self.jwt())
        self.assertEqual((st, b["id"]), (200, 456))

    def test_bad_jwts(self):
        bad = {
            "expired": self.jwt(iat_off=-700, exp_off=-10),
            "too long": self.jwt(iat_off=0, exp_off=1200),
            "wrong iss": self.jwt(iss="999"),
            "wrong key": self.jwt(key=self.other_key),
            "garbage": "not.a.jwt",
            "future iat": self.jwt(iat_off=300, exp_off=600),
        }
        for what, jwt in bad.items():
            st, h, b = self.exchange(jwt)
            self.assertEqual(st, 401, what)
            self.assertIn("message", b)
        self.assertEqual(self.exchange(self.jwt(), inst=999)[0], 404)
        # A JWT is no API token.
        self.assertEqual(self.api("GET", "/repos/acme/web", token=self.jwt())[0], 401)

    def test_installation_token_expires(self):
        self.gh.configure(app={"id": "123", "installation_id": 456,
                               "public_key_pem": self.pub, "token_ttl": 1})
        st, h, b = self.exchange(self.jwt())
        self.assertEqual(self.api("GET", "/repos/acme/web", token=b["token"])[0], 200)
        time.sleep(1.2)
        st, h, b = self.api("GET", "/repos/acme/web", token=b["token"])
        self.assertEqual((st, b["message"]), (401, "Bad credentials"))


class ControlTest(FakeTestCase):
    def test_request_log(self):
        start = self.gh.last_seq()
        self.api("GET", "/repos/acme/web/issues?state=all&labels=a,b")
        self.create("logged", body="x")
        got = self.gh.requests(since=start)
        self.assertEqual([(r["method"], r["path"], r["status"]) for r in got],
                         [("GET", "/repos/acme/web/issues", 200),
                          ("POST", "/repos/acme/web/issues", 201)])
        self.assertEqual(got[0]["query"], {"state": "all", "labels": "a,b"})
        self.assertNotIn("authorization", got[0]["headers"])
        self.assertEqual(got[0]["auth"], {"scheme": "Bearer", "login": "svc-bot"})
        self.assertEqual(got[1]["body"], {"title": "logged", "body": "x"})
        self.assertEqual(got[1]["headers"]["user-agent"], "closeloop-tests/1.0")
        stats = self.gh.stats()
        self.assertGreaterEqual(stats["by_status"]["201"], 1)

    def test_seed_raw_and_bounds(self):
        s = self.gh.seed_issue("acme/web", title="old", user="alice",
                               updated_at="2024-01-02T03:04:05Z", state="closed")
        self.assertEqual((s["updated_at"], s["state_reason"]), ("2024-01-02T03:04:05Z",
                                                                 "completed"))
        raw = self.gh.raw_issue("acme/web", s["number"])
        self.assertEqual(raw["user"], "alice")
        with self.assertRaisesRegex(RuntimeError, "count must be"):
            self.gh.bulk("acme/web", 200_001)
        with self.assertRaisesRegex(RuntimeError, "400"):
            self.gh.act("alice", "acme/web", s["number"], "explode")

    def test_body_limit(self):
        st, h, b = self.api("POST", "/repos/acme/web/issues", b"x" * (1024 * 1024 + 1),
                            headers=NO_RECORD)
        self.assertEqual(st, 413)


class CliTest(unittest.TestCase):
    def test_cli_serves_and_records(self):
        tmp = tempfile.mkdtemp(prefix="fake-github-cli-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rec = os.path.join(tmp, "x.jsonl")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_github.py")
        p = subprocess.Popen([sys.executable, script, "--port", "0", "--record", rec],
                             stdout=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            self.assertIsNotNone(m, line)
            conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=10)
            conn.request("POST", "/_fake/repos", json.dumps({"full_name": "acme/cli"}))
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 201)
            conn.request("GET", "/repos/acme/cli", headers={"User-Agent": "t",
                                                             "Authorization": "token ghp_test"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            conn.close()
        finally:
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)
            p.stdout.close()
        with open(rec, encoding="utf-8") as f:
            lines = [json.loads(x) for x in f]
        self.assertEqual(len(lines), 1)  # the control call is not recorded
        x = lines[0]
        self.assertEqual(set(x), {"method", "url", "reqHeaders", "reqBody", "status",
                                  "resHeaders", "resBody"})
        self.assertTrue(x["url"].startswith("http://127.0.0.1:"))
        self.assertEqual(x["reqHeaders"]["authorization"], "token ***")
        self.assertEqual(x["resBody"]["full_name"], "acme/cli")
        self.assertIsNone(x["reqBody"])


if __name__ == "__main__":
    unittest.main()
