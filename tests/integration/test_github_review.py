"""Regression tests for the sync review's findings: routing by the default connection's
owners, one issue linked to two actions, readiness scoped to configured connections,
404 keeping the link, and the token never following a Location to another origin."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from fake_github import FakeGitHub  # noqa: E402
from harness import Service, until  # noqa: E402

SECRET = "review-secret"



class GitHubReviewTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeGitHub().start()
        for repo in ("acme/web", "acme/two"):
            cls.fake.create_repo(repo, collaborators=["alice-gh"])
        # the default connection serves only acme: other owners have no connection
        cls.svc = Service(name="GitHubReviewTest", env={
            "CLOSELOOP_GITHUB_TOKEN": "ghp_test", "CLOSELOOP_GITHUB_API_URL": cls.fake.url,
            "CLOSELOOP_GITHUB_OWNERS": "acme", "CLOSELOOP_GITHUB_WEBHOOK_SECRET": SECRET,
            "CLOSELOOP_GITHUB_WRITE_INTERVAL": "0", "CLOSELOOP_GITHUB_POLL_INTERVAL": "1",
            "CLOSELOOP_SYNC_STALE_AFTER": "10"}).start()
        cls.fake.set_webhook(url=cls.svc.url + "/webhooks/github", secret=SECRET)
        cls.svc.cli("incident", "add", "REV-1", "--title", "review")

    @classmethod
    def tearDownClass(cls):
        code = cls.svc.stop()
        cls.fake.stop()
        assert code == 0, "closeloopd exited %s" % code

    def add(self, title, repo="acme/web"):
        out = self.svc.cli("action", "add", "--incident", "REV-1", "--kind", "corrective",
                           "--title", title, "--github", repo)
        return out

    def link_of(self, aid):
        rows = self.svc.sql("SELECT state, remote_key, coalesce(last_error, '') FROM links "
                            "WHERE action_id = :'p1'", aid)
        return rows[0] if rows else None

    def test_default_connection_owners_route_actions(self):
        out = self.add("routed by owners")
        self.assertEqual(out.returncode, 0, out.stderr)
        aid = int(out.stdout)
        until(lambda: self.link_of(aid)[0] == "linked")
        out = self.add("no connection for this owner", repo="other/place")
        self.assertEqual(out.returncode, 1)
        self.assertIn("no GitHub connection is configured for other/place", out.stderr)

    def test_an_issue_links_to_one_action_only(self):
        first = int(self.add("first").stdout)
        until(lambda: self.link_of(first)[0] == "linked")
        number = self.link_of(first)[1]
        out = self.svc.cli("action", "add", "--incident", "REV-1", "--kind", "corrective",
                           "--title", "second", "--no-github")
        second = int(out.stdout)
        out = self.svc.cli("action", "link", str(second), "acme/web#%s" % number)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("already linked to another action", out.stderr)
        self.assertEqual(self.svc.sql("SELECT count(*) FROM links WHERE action_id = :'p1'",
                                      second)[0][0], "0")

    def test_readyz_ignores_repositories_of_removed_connections(self):
        # a stale repository of a connection no longer configured, with a live link
        out = self.svc.cli("action", "add", "--incident", "REV-1", "--kind", "corrective",
                           "--title", "orphan", "--no-github")
        aid = int(out.stdout)
        self.svc.sql("INSERT INTO links (action_id, tracker, connection, scope, state, remote_id,"
                     " remote_key) VALUES (:'p1', 'github', 'gone', 'old/repo', 'linked',"
                     " '1', '1')", aid)
        self.svc.sql("INSERT INTO sync_scopes (tracker, connection, scope, created_at) VALUES"
                     " ('github', 'gone', 'old/repo', now() - interval '1 day')")
        st, _, js, _ = self.svc.request("GET", "/readyz", token=None)
        self.assertEqual(st, 200, js)
        # the same staleness on the configured connection is not ready
        self.svc.sql("UPDATE sync_scopes SET connection = 'github', next_poll_at ="
                     " now() + interval '1 hour', last_success_at = now() - interval '1 hour'"
                     " WHERE scope = 'old/repo'")
        self.svc.sql("UPDATE links SET connection = 'github' WHERE scope = 'old/repo'")
        st, _, js, _ = self.svc.request("GET", "/readyz", token=None)
        self.assertEqual(st, 503, js)
        self.assertEqual(js["status"], "sync_stale")
        self.svc.sql("DELETE FROM sync_scopes WHERE scope = 'old/repo'")
        self.svc.sql("UPDATE links SET state = 'broken' WHERE scope = 'old/repo'")

    def test_404_keeps_the_link_and_retries(self):
        aid = int(self.add("will 404").stdout)
        until(lambda: self.link_of(aid)[0] == "linked")
        number = self.link_of(aid)[1]
        self.fake.fault("GET", r"/repos/acme/web/issues/%s$" % number, status=404,
                        body={"message": "Not Found"}, count=3)
        self.svc.cli("action", "edit", str(aid), "--title", "after the 404s")
        until(lambda: "not visible" in self.link_of(aid)[2])
        self.assertEqual(self.link_of(aid)[0], "linked")
        # once GitHub answers again, the retry pushes the change
        until(lambda: (lambda i: i.get("issue", i))(self.fake.raw_issue("acme/web", number))
              ["title"] == "after the 404s", timeout=30)

    def test_a_location_on_another_origin_is_refused(self):
        aid = int(self.add("moved elsewhere").stdout)
        until(lambda: self.link_of(aid)[0] == "linked")
        number = self.link_of(aid)[1]
        self.fake.fault("GET", r"/repos/acme/web/issues/%s$" % number, status=301,
                        headers={"Location": "http://127.0.0.2:9/steal"}, count=1,
                        body={"message": "Moved Permanently", "url": "http://127.0.0.2:9/steal",
                              "documentation_url": "https://docs.github.com/rest"})
        before = len(self.fake.requests())
        self.svc.cli("action", "edit", str(aid), "--title", "must not leak")
        until(lambda: "is not on" in self.link_of(aid)[2])
        self.assertIn("127.0.0.2", self.link_of(aid)[2])
        self.assertEqual(self.svc.sql("SELECT count(*) FROM outbox WHERE action_id = :'p1' AND"
                                      " failed_at IS NOT NULL", aid)[0][0], "1")
        self.assertGreaterEqual(len(self.fake.requests()), before + 1)


if __name__ == "__main__":
    unittest.main()
