"""Reminders where the owner works: with `where = tracker` in [remind], closeloopd's own
reminder pass turns each due item whose action is linked to an issue into a comment on that
issue (an outbox row, op 'comment'), posted by the sync worker through the tracker fakes,
with the person mentioned and a marker so that it is never posted twice; items without a
live link go by email; a comment the tracker refuses for good is mailed instead.

closeloopd passes every half second at the real time, with quiet hours off and every day a
working day, so that the tests do not depend on the hour they run at. The mail queue is read
in PostgreSQL (no SMTP server: the SMTP path is test_reminders.py's and test_mail.py's).
"""
import datetime
import json
import os
import re
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))

from harness import until  # noqa: E402
from test_github_sync import REPO, GitHubSyncCase  # noqa: E402
from test_jira_sync import JiraSyncCase  # noqa: E402

POLICY = """[remind]
before = 3d
overdue_every = 7d
escalate_after = 30d
budget = 50
quiet = off
working_days = mon-sun
where = tracker

[remind.night]
working_days = %s
"""
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def config_file():
    """The policy; the team "night" works only on the day after tomorrow (UTC), so that
    nothing reaches its people until they move to another team."""
    off = (datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=2))
    fd, path = tempfile.mkstemp(prefix="closeloop-remind.", suffix=".ini")
    with os.fdopen(fd, "w") as f:
        f.write(POLICY % DAYS[off.weekday()])
    return path


def days_ago(n):
    return (datetime.date.today() - datetime.timedelta(days=n)).isoformat()


class CommentCase:
    """What the GitHub and Jira classes share (mixed in before their sync case)."""

    conf = config_file()
    extra_env = {"CLOSELOOP_CONFIG": conf, "CLOSELOOP_REMIND_INTERVAL": "0.5"}

    def comment_rows(self, aid):
        rows = self.svc.sql("SELECT op, attempts, done_at IS NOT NULL, failed_at IS NOT NULL, "
                            "payload::text, coalesce(last_error, '') FROM outbox "
                            "WHERE action_id = :'p1' AND op = 'comment' ORDER BY id", aid)
        keys = ("op", "attempts", "done", "failed", "payload", "error")
        out = [dict(zip(keys, r)) for r in rows]
        for r in out:
            r["payload"] = json.loads(r["payload"])
            r["attempts"] = int(r["attempts"])
            r["done"] = r["done"] == "t"
            r["failed"] = r["failed"] == "t"
        return out

    def wait_comment_row(self, aid, cond, what, timeout=20):
        return until(lambda: (lambda rows: rows if rows and cond(rows) else None)(
            self.comment_rows(aid)), timeout, what=lambda: f"{what}; rows {self.comment_rows(aid)}")

    def reminder_mails(self, email):
        rows = self.svc.sql("SELECT subject, payload::text, dedup_key FROM mail_queue "
                            "WHERE kind = 'reminder' AND to_addr = :'p1' ORDER BY id", email)
        return [(r[0], json.loads(r[1]), r[2]) for r in rows]

    def reminders_of(self, handle):
        rows = self.svc.sql("SELECT r.channel, r.items::text, r.mail_id IS NOT NULL "
                            "FROM reminders r JOIN people p ON p.id = r.person_id "
                            "WHERE p.handle = :'p1' ORDER BY r.id", handle)
        return [(r[0], json.loads(r[1]), r[2] == "t") for r in rows]

    def history(self, aid, field):
        return [e["new"] for e in self.events(aid, field)]

    def kill_and_restart(self, posted):
        """kill -9 closeloopd, wait until the tracker shows the comment (`posted()`), and
        start a new process on the same database; nothing helps it along."""
        svc = self.svc
        svc.proc.send_signal(signal.SIGKILL)
        svc.proc.wait()
        self.assertEqual(svc.proc.returncode, -signal.SIGKILL)
        until(posted, what="the delayed comment to exist")
        svc._log.close()
        svc._log = None
        svc._serve()
        self.point_webhooks()

    def wait_fault_hit(self, fake, path):
        until(lambda: any(f["hits"] and path in f.get("path", "") for f in fake.faults()),
              what=f"the request to {path} to reach the fake")

    def linked_due(self, title, owner, days):
        """An action linked to its issue, due far away (no reminder yet), then made `days`
        overdue through the API: (action id, issue reference)."""
        far = (datetime.date.today() + datetime.timedelta(days=60)).isoformat()
        aid, ref = self.create_linked(title, owner=owner, due=far)
        self.api_ok("PATCH", f"/api/v1/actions/{aid}", {"due_on": days_ago(days),
                                                         "reason": "the date was wrong"})
        return aid, ref


class GitHubReminderCommentTest(CommentCase, GitHubSyncCase):
    poll_interval = "3600"

    def comments(self, number):
        return self.gh.comments(REPO, number)

    def mine(self, number, marker):
        return [c for c in self.comments(number)
                if f"<!-- closeloop:{marker} -->" in c["body"]]

    def test_01_overdue_owner_gets_one_comment_with_a_mention_and_a_marker(self):
        aid, number = self.linked_due("Rotate the leaked key", "alice", 2)
        rows = self.wait_comment_row(aid, lambda r: r[0]["done"], "the comment posted")
        self.assertEqual(len(rows), 1, rows)
        marker = rows[0]["payload"]["marker"]
        self.assertRegex(marker, r"^clr-[0-9a-f]{8}-\d+-%d$" % aid)
        got = self.comments(number)
        self.assertEqual(len(got), 1, got)
        body = got[0]["body"]
        self.assertTrue(body.startswith("@alice-gh **Reminder:** this action was due on %s and "
                                        "is 2 days overdue." % days_ago(2)), body)
        self.assertIn("closeloop action snooze %d" % aid, body)
        self.assertTrue(body.endswith("<!-- closeloop:%s -->" % marker), body)
        # what the history says: queued as a comment, then where it is
        self.assertEqual(len(self.history(aid, "reminder")), 1)
        self.assertIn("overdue: alice by a comment on the issue", self.history(aid, "reminder")[0])
        posted = self.history(aid, "comment")
        self.assertEqual(posted, ["posted: %s" % got[0]["html_url"]])
        self.assertEqual(self.reminders_of("alice")[-1][0], "tracker")
        self.assertEqual(self.reminder_mails("alice@example.com"), [])
        # the comment's echo (issue_comment) changes nothing; the next passes add nothing
        self.settle()
        time.sleep(1.5)
        self.assertEqual(len(self.comments(number)), 1)
        self.assertEqual(self.action(aid)["title"], "Rotate the leaked key")
        self.assertEqual(len(self.comment_rows(aid)), 1)
        self.svc.assert_clean_log()

    def test_02_items_without_a_link_go_by_email_in_the_same_reminder(self):
        # bob's team works on another day: nothing reaches him until he moves back
        self.svc.request("POST", "/api/v1/teams", {"name": "night"})
        self.api_ok("PATCH", "/api/v1/people/bob", {"team": "night"})
        aid, number = self.create_linked("Add the missing alert", owner="bob", due=days_ago(1))
        local = self.add_action("Write the runbook", owner="bob", due=days_ago(1), repo=None)
        time.sleep(1.5)
        self.assertEqual(self.reminders_of("bob"), [])
        self.api_ok("PATCH", "/api/v1/people/bob", {"team": "sre"})
        self.wait_comment_row(aid, lambda r: r[0]["done"], "the comment posted")
        mails = until(lambda: self.reminder_mails("bob@example.com"), 10, what="bob's mail")
        self.assertEqual(len(mails), 1, mails)
        subject, payload, _ = mails[0]
        self.assertEqual([it["id"] for it in payload["items"]], [local])
        self.assertEqual(subject, "Reminder: Write the runbook")
        reminders = self.reminders_of("bob")
        self.assertEqual(len(reminders), 1, reminders)
        channel, items, has_mail = reminders[0]
        self.assertEqual(channel, "both")
        self.assertTrue(has_mail)
        self.assertEqual(sorted((i["action"], i["via"]) for i in items),
                         sorted([(aid, "tracker"), (local, "email")]))
        self.assertEqual(len(self.comments(number)), 1)
        self.assertTrue(self.comments(number)[0]["body"].startswith("@bob-gh "))
        self.assertIn("by email", self.history(local, "reminder")[0])

    def test_03_a_refused_comment_is_mailed_instead(self):
        far = (datetime.date.today() + datetime.timedelta(days=60)).isoformat()
        aid, number = self.create_linked("Pin the base image", owner="alice", due=far)
        seq = self.gh.last_seq()
        self.gh.fault("POST", r"^/repos/acme/web/issues/%d/comments$" % number, status=422,
                      body={"message": "Validation Failed",
                            "documentation_url": "https://docs.github.com/rest/issues/comments"
                                                 "#create-an-issue-comment",
                            "errors": [
                          {"resource": "IssueComment", "code": "unprocessable",
                           "field": "data", "message": "Body is too long"}]})
        self.api_ok("PATCH", f"/api/v1/actions/{aid}", {"due_on": days_ago(3), "reason": "x"})
        rows = self.wait_comment_row(aid, lambda r: r[0]["failed"], "the comment failed")
        self.assertIn("Body is too long", rows[0]["error"])
        self.assertEqual(self.comments(number), [])
        self.assertEqual(len(self.requests_to("POST", r"/issues/%d/comments$" % number, seq)), 1)
        mails = [m for m in self.reminder_mails("alice@example.com")
                 if any(it["id"] == aid for it in m[1]["items"])]
        self.assertEqual(len(mails), 1, mails)
        rid = rows[0]["payload"]["reminder"]
        self.assertEqual(mails[0][2], "reminder:%s:%d" % (rid, aid))
        self.assertEqual(mails[0][0], "Reminder: Pin the base image")
        self.assertRegex(self.history(aid, "comment")[0],
                         r"^not posted: .*Body is too long.*; sent by email instead$")

    def test_04_rate_limited_then_posted_once(self):
        far = (datetime.date.today() + datetime.timedelta(days=60)).isoformat()
        aid, number = self.create_linked("Shard the queue", owner="bob", due=far)
        seq = self.gh.last_seq()
        self.gh.fault("POST", r"^/repos/acme/web/issues/%d/comments$" % number, status=429,
                      headers={"Retry-After": "1"}, count=1)
        self.api_ok("PATCH", f"/api/v1/actions/{aid}", {"due_on": days_ago(4), "reason": "x"})
        rows = self.wait_comment_row(aid, lambda r: r[0]["done"], "the comment posted")
        self.assertGreaterEqual(rows[0]["attempts"], 2)
        self.assertEqual(len(self.mine(number, rows[0]["payload"]["marker"])), 1)
        # the retry looked for the marker before posting again, then posted
        gets = self.requests_to("GET", r"/issues/%d/comments$" % number, seq)
        posts = self.requests_to("POST", r"/issues/%d/comments$" % number, seq)
        self.assertGreaterEqual(len(gets), 1)
        self.assertEqual(len(posts), 2)  # the 429, then the one that posted
        self.assertEqual(self.history(aid, "comment"),
                         ["posted: %s" % self.comments(number)[0]["html_url"]])

    def test_09_kill_while_posting_posts_once(self):
        """kill -9 while GitHub holds the comment request: GitHub posts it anyway; the new
        process finds it by its marker and posts nothing more."""
        far = (datetime.date.today() + datetime.timedelta(days=60)).isoformat()
        aid, number = self.create_linked("Survive the crash", owner="alice", due=far)
        seq = self.gh.last_seq()
        self.gh.fault("POST", r"^/repos/acme/web/issues/%d/comments$" % number, delay=2.5)
        self.api_ok("PATCH", f"/api/v1/actions/{aid}", {"due_on": days_ago(5), "reason": "x"})
        self.wait_fault_hit(self.gh, "/repos/acme/web/issues/%d/comments" % number)
        self.assertFalse(self.comment_rows(aid)[0]["done"])
        self.kill_and_restart(lambda: self.comments(number))
        rows = self.wait_comment_row(aid, lambda r: r[0]["done"], "the comment recorded")
        self.assertEqual(rows[0]["attempts"], 2)
        self.assertEqual(len(self.comments(number)), 1)
        self.assertEqual(len(self.requests_to("POST", r"/issues/%d/comments$" % number, seq)), 1)
        self.assertEqual(self.history(aid, "comment"),
                         ["found posted: %s" % self.comments(number)[0]["html_url"]])


class JiraCommentCase(CommentCase, JiraSyncCase):
    poll_interval = "3600"

    def comments(self, key):
        return self.jira.comments(key)


class JiraCloudReminderCommentTest(JiraCommentCase):
    flavour = "cloud"

    def test_01_overdue_owner_gets_one_comment_with_a_mention_and_a_marker(self):
        aid, key = self.linked_due("Rotate the leaked key", "alice", 2)
        rows = self.wait_comment_row(aid, lambda r: r[0]["done"], "the comment posted")
        marker = rows[0]["payload"]["marker"]
        got = self.comments(key)
        self.assertEqual(len(got), 1, got)
        body = got[0]["adf"]
        self.assertEqual(body["type"], "doc")
        first = body["content"][0]["content"]
        self.assertEqual(first[0]["type"], "mention")
        self.assertEqual(first[0]["attrs"]["id"], self.account_of("alice"))
        text = json.dumps(body)
        self.assertIn("is 2 days overdue", text)
        last = body["content"][-1]["content"][0]
        self.assertEqual(last["text"], "closeloop ref %s" % marker)
        self.assertEqual(self.history(aid, "comment"),
                         ["posted: %s/browse/%s?focusedCommentId=%s"
                          % (self.jira.url, key, got[0]["id"])])
        self.settle()
        time.sleep(1.5)
        self.assertEqual(len(self.comments(key)), 1)

    def test_02_a_server_error_is_retried_and_posted_once(self):
        far = (datetime.date.today() + datetime.timedelta(days=60)).isoformat()
        aid, key = self.create_linked("Tune the pool", owner="bob", due=far)
        self.jira.fault("POST", r"/rest/api/3/issue/[^/]+/comment$", status=500, count=1)
        self.api_ok("PATCH", f"/api/v1/actions/{aid}", {"due_on": days_ago(1), "reason": "x"})
        rows = self.wait_comment_row(aid, lambda r: r[0]["done"], "the comment posted")
        self.assertGreaterEqual(rows[0]["attempts"], 2)
        marker = rows[0]["payload"]["marker"]
        got = [c for c in self.comments(key) if marker in json.dumps(c["adf"])]
        self.assertEqual(len(got), 1, self.comments(key))

    def test_09_kill_while_posting_posts_once(self):
        far = (datetime.date.today() + datetime.timedelta(days=60)).isoformat()
        aid, key = self.create_linked("Survive the crash", owner="alice", due=far)
        seq = self.jira.last_seq()
        rid = self.link(aid)["remote_id"]
        path = "/rest/api/3/issue/%s/comment" % rid
        self.jira.fault("POST", "^" + re.escape(path) + "$", delay=2.5)
        self.api_ok("PATCH", f"/api/v1/actions/{aid}", {"due_on": days_ago(5), "reason": "x"})
        self.wait_fault_hit(self.jira, path)
        self.assertFalse(self.comment_rows(aid)[0]["done"])
        self.kill_and_restart(lambda: self.comments(key))
        rows = self.wait_comment_row(aid, lambda r: r[0]["done"], "the comment recorded")
        self.assertEqual(rows[0]["attempts"], 2)
        self.assertEqual(len(self.comments(key)), 1)
        posts = [r for r in self.jira.requests(seq)
                 if r["method"] == "POST" and r["path"].endswith("/comment")]
        self.assertEqual(len(posts), 1, posts)
        self.assertTrue(self.history(aid, "comment")[0].startswith("found posted: "),
                        self.history(aid, "comment"))


class JiraDataCenterReminderCommentTest(JiraCommentCase):
    flavour = "dc"

    def test_01_wiki_comment_with_the_user_mentioned(self):
        aid, key = self.linked_due("Rotate the leaked key", "alice", 2)
        rows = self.wait_comment_row(aid, lambda r: r[0]["done"], "the comment posted")
        marker = rows[0]["payload"]["marker"]
        got = self.comments(key)
        self.assertEqual(len(got), 1, got)
        body = got[0]["wiki"]
        self.assertIsInstance(body, str)
        self.assertTrue(body.startswith("[~%s] *Reminder:*" % self.account_of("alice")), body)
        self.assertTrue(body.rstrip().endswith("_closeloop ref %s_" % marker), body)
        self.assertTrue(re.search(r"is 2 days overdue", body), body)
