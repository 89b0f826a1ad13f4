"""GitHub App authentication end to end: closeloopd signs an RS256 JWT with the App's key,
exchanges it at the fake GitHub for an installation token, uses that token, and renews it
before it expires. The fake verifies the JWT with the App's public key (openssl)."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from fake_github import FakeGitHub  # noqa: E402
from harness import Service, until  # noqa: E402

SECRET = "app-hook-secret"



class GitHubAppTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        key = os.path.join(cls.tmp.name, "app.pem")
        subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True,
                       capture_output=True)
        pub = subprocess.run(["openssl", "rsa", "-in", key, "-pubout"], check=True,
                             capture_output=True, text=True).stdout
        cls.fake = FakeGitHub().start()
        # installation tokens live 310 s: closeloopd renews 300 s before expiry, so the
        # first token is replaced after about 10 s
        cls.fake.configure(app={"id": "4242", "installation_id": 77, "public_key_pem": pub,
                                "token_ttl": 310})
        cls.fake.create_repo("apps/web", collaborators=[])
        cls.svc = Service(name="GitHubAppTest", env={
            "CLOSELOOP_GITHUB_API_URL": cls.fake.url, "CLOSELOOP_GITHUB_APP_ID": "4242",
            "CLOSELOOP_GITHUB_APP_KEY_FILE": key, "CLOSELOOP_GITHUB_APP_INSTALLATION_ID": "77",
            "CLOSELOOP_GITHUB_WEBHOOK_SECRET": SECRET, "CLOSELOOP_GITHUB_WRITE_INTERVAL": "0",
            "CLOSELOOP_GITHUB_POLL_INTERVAL": "1"}).start()
        cls.svc.cli("incident", "add", "APP-1", "--title", "app auth")

    @classmethod
    def tearDownClass(cls):
        code = cls.svc.stop()
        cls.fake.stop()
        cls.tmp.cleanup()
        assert code == 0, "closeloopd exited %s" % code

    def token_requests(self):
        return [r for r in self.fake.requests()
                if r["method"] == "POST" and r["path"] == "/app/installations/77/access_tokens"]

    def test_creates_issues_with_an_installation_token_and_renews_it(self):
        out = self.svc.cli("action", "add", "--incident", "APP-1", "--kind", "corrective",
                           "--title", "via the app", "--github", "apps/web")
        self.assertEqual(out.returncode, 0, out.stderr)
        aid = int(out.stdout.strip())
        until(lambda: self.svc.sql("SELECT state FROM links WHERE action_id = :'p1'",
                                   aid)[0][0] == "linked")
        issue = self.fake.raw_issue("apps/web", 1)
        issue = issue.get("issue", issue)
        self.assertEqual(issue["title"], "via the app")
        first = self.token_requests()
        self.assertEqual(len(first), 1, first)
        self.assertEqual(first[0]["status"], 201)
        # the API calls carry the installation token, never the JWT
        api = [r for r in self.fake.requests() if r["path"].startswith("/repos/apps/web")]
        self.assertTrue(api)
        self.assertTrue(all(r["status"] < 400 for r in api), api)
        # renewal: a second token is fetched before the first expires, and work goes on
        until(lambda: len(self.token_requests()) >= 2, timeout=30)
        self.svc.cli("action", "edit", str(aid), "--title", "after renewal")
        until(lambda: (lambda i: i.get("issue", i))(self.fake.raw_issue("apps/web", 1))
              ["title"] == "after renewal")
        refused = [r for r in self.fake.requests() if r["status"] == 401]
        self.assertEqual(refused, [])

    def test_doctor_reports_the_app(self):
        out = self.svc.cli("github", "doctor", "apps/web")
        self.assertIn("GitHub App 4242", out.stdout)
        self.assertIn("labels", out.stdout)


if __name__ == "__main__":
    unittest.main()
