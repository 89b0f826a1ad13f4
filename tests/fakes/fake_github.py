#!/usr/bin/env python3
"""A fake of GitHub's REST API (issues subset) and of its `issues` and `issue_comment` webhooks,
for closeloop's tests.

Behaviour follows shared/docs/trackers.md Part A (and the pitfalls of Part C) and the official
OpenAPI description: tests/conformance/run.sh checks recorded traffic against it.
Python 3.11 standard library only. Listens on 127.0.0.1 only.

From Python tests:

    from fake_github import FakeGitHub
    with FakeGitHub(webhook_url="http://127.0.0.1:9000/hooks/github", webhook_secret="s") as gh:
        gh.create_repo("acme/web", collaborators=["alice", "bob"])
        n = gh.seed_issue("acme/web", title="Cap the DB pool", user="alice")["number"]
        st, hdrs, body = gh.request("GET", f"/repos/acme/web/issues/{n}")
        out = gh.act("alice", "acme/web", n, "close", state_reason="not_planned")
        out["delivery"]["status"]           # what the webhook receiver answered
        gh.comments("acme/web", n)           # the issue's comments, as GET .../comments shows them
        gh.requests()                        # the API requests the service made
        gh.fault("PATCH", r"^/repos/acme/web/issues/\\d+$", preset="secondary_rate_limit")
        # the owner edits issue n right after the service has read it (/_fake/act):
        gh.fault("GET", rf"^/repos/acme/web/issues/{n}$", after={"act": {
            "actor": "alice", "repo": "acme/web", "number": n, "action": "edit", "body": "."}})

From anything else (C tests, shell):

    python3 tests/fakes/fake_github.py --port 0 --record FILE.jsonl \\
        [--webhook-url URL --webhook-secret S]
prints "fake-github listening on http://127.0.0.1:PORT" on stdout once it accepts requests,
then serves until SIGTERM/SIGINT. The control API lives under /_fake/ (see Control below;
its tracker-neutral part, the server, recording and faults are fake_base.py's).

Environment: FAKE_GITHUB_RECORD=FILE makes every FakeGitHub() without an explicit `record`
append its exchanges to FILE (tests/conformance/run.sh FILE validates it afterwards). A request
carrying `X-Fake-No-Record: 1` is served but not recorded: only for tests that deliberately
send what the official description forbids (a missing title, broken JSON).

Behaviour worth knowing (trackers.md Part A/C):
- Start state (and after POST /_fake/reset): no repository, one token "ghp_test" (login
  svc-bot, issues write, push), rate limit 5000/h per token, webhooks to the CLI's URL if any.
- Every change (API or /_fake/act) moves a logical clock by at least 1 s, so updated_at
  strictly increases even within one wall-clock second; it may run a little ahead of the
  wall clock. /_fake/act with "same_second": true keeps the issue's updated_at instead, as
  real GitHub (whole seconds) does for two changes in one second. Bulk seeding stamps all its issues with one time unless "spread": true.
- Writes made through the API are echoed as webhooks too (sender = the token's user, a Bot
  for installation tokens), asynchronously and in order, like GitHub does; turn that off with
  {"webhook": {"echo": false}}. Human changes (/_fake/act) are delivered synchronously.
- Issue/label/repo ids are large (issues from 2_000_000_000, comments from 4_000_000_000, one
  sequence for all repositories, labels from 5_000_000_000).
- Comments (trackers.md A6): POST /repos/O/R/issues/N/comments {"body"} (201, issues write
  like the other issue writes; pull requests too), GET /repos/O/R/issues/N/comments?since=&
  per_page=&page= (ascending by id, `since` on updated_at, Link headers on the
  /repos/O/R/issues/N/comments URL), both like the issue endpoints for a deleted (410),
  transferred (301) or unknown (404) issue. A new comment moves the issue's updated_at and its
  `comments` count and is delivered as an `issue_comment` webhook (action created); comments
  go along when an issue is transferred. Body errors: missing or not a string, GitHub's
  "Invalid request." 422; blank, or over 65536 characters, a 422 "Validation Failed"
  (resource IssueComment, code unprocessable, field data; the blank wording is unverified).
  /_fake/act {"action": "comment", "body"} is a human comment.
- Not modelled: comment get/edit/delete by id, the repository-wide comment listing, reactions
  (always 0), locked issues, milestones (always null; setting one is a 422), search, GraphQL,
  secondary limits unless injected as faults, Accept media-type variants (body_html/...).
"""

import base64
import collections
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timezone
from email.utils import formatdate, parsedate_to_datetime

import fake_base
from fake_base import (JSON_TYPE, MAX_BODY, ApiError, ControlError, control_route, dumps, iso,
                       route)

MAX_ISSUES = 200_000  # all repositories together
MAX_DELIVERIES = 10_000  # webhook deliveries kept
WEBHOOK_TIMEOUT = 10.0  # GitHub gives the receiver 10 s
FIRST_ISSUE_ID = 2_000_000_000  # ids above 2^31 catch int truncation
FIRST_REPO_ID = 700_000_000
FIRST_LABEL_ID = 5_000_000_000
FIRST_COMMENT_ID = 4_000_000_000
FIRST_USER_ID = 1_000_000
API_VERSIONS = ("2022-11-28", "2026-03-10")
TITLE_MAX = 256
BODY_MAX = 65536
DEFAULT_TOKEN = "ghp_test"
DEFAULT_LOGIN = "svc-bot"
HTML_BASE = "https://github.com"
DOCS = "https://docs.github.com/rest"
SECONDARY_MSG = ("You have exceeded a secondary rate limit. Please wait a few minutes before you "
                 "try again. If you reach out to GitHub Support for help, please include the "
                 "request ID {rid}.")
UA_MSG = ("Request forbidden by administrative rules. Please make sure your request has a "
          "User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
          "#user-agent-required). Check https://developer.github.com for other possible causes.\n")


def parse_time(s):
    """ISO 8601 (Z, offset, fraction or a bare date) -> epoch seconds, or None."""
    if not isinstance(s, str) or not s:
        return None
    try:
        d = datetime.fromisoformat(s.strip().replace(" ", "+"))  # '+' decoded as ' ' in a query
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp())


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def node_id(prefix, n):
    return prefix + base64.b64encode(str(n).encode()).decode().rstrip("=")


def err_body(message, doc, status, **extra):
    out = {"message": message, "documentation_url": doc, "status": str(status)}
    out.update(extra)
    return out


def not_found(doc=DOCS):
    return ApiError(404, err_body("Not Found", doc, 404))


def validation(doc, *errors):
    return ApiError(422, err_body("Validation Failed", doc, 422, errors=list(errors)))


DOC_CREATE = DOCS + "/issues/issues#create-an-issue"
DOC_GET = DOCS + "/issues/issues#get-an-issue"
DOC_UPDATE = DOCS + "/issues/issues#update-an-issue"
DOC_LIST = DOCS + "/issues/issues#list-repository-issues"
DOC_REPO = DOCS + "/repos/repos#get-a-repository"
DOC_LABELS = DOCS + "/issues/labels#create-a-label"
DOC_RATE = DOCS + "/overview/rate-limits-for-the-rest-api"
DOC_TOKEN = DOCS + "/apps/apps#create-an-installation-access-token-for-an-app"
DOC_COMMENT_CREATE = DOCS + "/issues/comments#create-an-issue-comment"
DOC_COMMENTS = DOCS + "/issues/comments#list-issue-comments"


# --------------------------------------------------------------------------------------------
# State


class State(fake_base.BaseState):
    """Everything the fake knows. All access goes through self.lock (an RLock). The base keeps
    the faults, the request log and the logical clock (tick())."""

    def __init__(self, server):
        self.defaults = {"webhook": {"url": None, "secret": None, "enabled": True}}
        super().__init__(server)

    # -- setup ---------------------------------------------------------------------------
    def reset(self):
        with self.lock:
            super().reset()
            self.users = {}  # login(lower) -> {"login","id","type"}
            self.repos = {}  # full_name(lower) -> repo dict
            self.repo_by_id = {}
            self.moved = {}  # (repo key, number) -> (repo key, number)
            self.next_issue_id = FIRST_ISSUE_ID
            self.next_repo_id = FIRST_REPO_ID
            self.next_label_id = FIRST_LABEL_ID
            self.next_comment_id = FIRST_COMMENT_ID
            self.next_user_id = FIRST_USER_ID
            self.issue_count = 0
            self.tokens = {}
            self.rate_limit = 5000
            self.app = None
            self.webhook = dict(self.defaults["webhook"], echo=True, hook_id=1)
            self.deliveries = collections.OrderedDict()
            self.delivery_seq = 0
            self.unauth_used = 0
            self.add_token(DEFAULT_TOKEN, {"login": DEFAULT_LOGIN})

    def user(self, login, kind=None):
        with self.lock:
            key = login.lower()
            u = self.users.get(key)
            if u is None:
                if kind is None:
                    kind = "Bot" if login.endswith("[bot]") else "User"
                u = {"login": login, "id": self.next_user_id, "type": kind}
                self.next_user_id += 1
                self.users[key] = u
            return u

    def add_token(self, token, cfg):
        if cfg is None:
            self.tokens.pop(token, None)
            return
        if not isinstance(cfg, dict) or not isinstance(cfg.get("login", DEFAULT_LOGIN), str):
            raise ControlError(400, f"token {token}: expected an object with a login")
        perms = cfg.get("permissions", {"issues": "write", "metadata": "read"})
        if not isinstance(perms, dict):
            raise ControlError(400, f"token {token}: permissions must be an object")
        repos = cfg.get("repos")
        self.tokens[token] = {
            "login": cfg.get("login", DEFAULT_LOGIN),
            "kind": cfg.get("kind", "pat"),
            "permissions": perms,
            "push": bool(cfg.get("push", True)),
            "admin": bool(cfg.get("admin", False)),
            "repos": None if repos is None else {r.lower() for r in repos},
            "expires_at": cfg.get("expires_at"),
            "scopes": cfg.get("scopes"),
            "used": 0,
            "reset": int(time.time()) + 3600,
            "limit": cfg.get("rate_limit"),
        }
        self.user(self.tokens[token]["login"],
                  "Bot" if self.tokens[token]["kind"] == "installation" else None)

    def configure(self, cfg):
        with self.lock:
            if "rate_limit" in cfg:
                self.rate_limit = int(cfg["rate_limit"])
                for t in self.tokens.values():
                    t["limit"] = None
            for token, tcfg in (cfg.get("tokens") or {}).items():
                self.add_token(token, tcfg)
            if "app" in cfg:
                self.set_app(cfg["app"])
            if "webhook" in cfg:
                wh = cfg["webhook"] or {}
                for k in ("url", "secret", "enabled", "echo", "hook_id"):
                    if k in wh:
                        self.webhook[k] = wh[k]
            return self.describe()

    def set_app(self, app):
        if app is None:
            self.app = None
            return
        pem = app.get("public_key_pem")
        if not isinstance(pem, str) or "PUBLIC KEY" not in pem:
            raise ControlError(400, "app.public_key_pem: expected a PEM public key")
        fd, path = tempfile.mkstemp(prefix="fake-github-app-", suffix=".pem")
        with os.fdopen(fd, "w") as f:
            f.write(pem)
        old = self.app
        self.app = {
            "id": str(app.get("id", "1")),
            "client_id": app.get("client_id"),
            "slug": app.get("slug", "closeloop"),
            "installation_id": int(app.get("installation_id", 1)),
            "key_path": path,
            "token_ttl": int(app.get("token_ttl", 3600)),
            "permissions": app.get("permissions", {"issues": "write", "metadata": "read"}),
        }
        if old:
            try:
                os.unlink(old["key_path"])
            except OSError:
                pass

    def describe(self):
        with self.lock:
            return {
                "tokens": {k: {"login": v["login"], "kind": v["kind"], "push": v["push"],
                               "permissions": v["permissions"], "expires_at": v["expires_at"]}
                           for k, v in self.tokens.items()},
                "rate_limit": self.rate_limit,
                "app": None if not self.app else {
                    k: self.app[k] for k in ("id", "client_id", "slug", "installation_id",
                                             "token_ttl", "permissions")},
                "webhook": {k: self.webhook[k] for k in ("url", "enabled", "echo", "hook_id")},
                "clock": iso(self.clock),
            }

    def create_repo(self, spec):
        with self.lock:
            full = spec.get("full_name")
            if not isinstance(full, str) or \
                    not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", full):
                raise ControlError(400, "full_name: expected owner/name")
            key = full.lower()
            if key in self.repos:
                raise ControlError(409, f"repository {full} exists")
            owner, name = full.split("/")
            rid = self.next_repo_id
            self.next_repo_id += 1
            now = max(int(time.time()), self.clock)  # not a change to any issue
            repo = {
                "id": rid, "owner": owner, "name": name, "full_name": full, "key": key,
                "owner_type": spec.get("owner_type", "Organization"),
                "private": bool(spec.get("private", True)),
                "has_issues": bool(spec.get("has_issues", True)),
                "collaborators": {c.lower(): c for c in spec.get("collaborators", [])},
                "labels": collections.OrderedDict(),  # lower name -> label
                "issues": {},  # number -> issue
                "next_number": 1,
                "created_at": now, "updated_at": now,
            }
            for c in repo["collaborators"].values():
                self.user(c)
            self.user(owner, repo["owner_type"])
            for lab in spec.get("labels", []):
                self.ensure_label(repo, lab if isinstance(lab, str) else lab["name"])
            self.repos[key] = repo
            self.repo_by_id[rid] = repo
            return repo

    def ensure_label(self, repo, name, color="ededed", description=None):
        lab = repo["labels"].get(name.lower())
        if lab is None:
            lab = {"id": self.next_label_id, "name": name, "color": color,
                   "description": description}
            self.next_label_id += 1
            repo["labels"][name.lower()] = lab
        return lab

    def new_issue(self, repo, title, body=None, user=DEFAULT_LOGIN, labels=(), assignees=(),
                  pull_request=False, state="open", state_reason=None, created=None,
                  updated=None):
        if self.issue_count >= MAX_ISSUES:
            raise ControlError(507, f"the fake holds at most {MAX_ISSUES} issues")
        now = created if created is not None else self.tick()
        n = repo["next_number"]
        repo["next_number"] += 1
        issue = {
            "id": self.next_issue_id, "number": n, "title": str(title), "body": body,
            "state": state, "state_reason": state_reason,
            "labels": [self.ensure_label(repo, name)["name"] for name in labels],
            "assignees": list(dict.fromkeys(assignees)),
            "user": self.user(user)["login"], "pull_request": bool(pull_request),
            "created_at": now, "updated_at": updated if updated is not None else now,
            "closed_at": now if state == "closed" else None,
            "closed_by": self.user(user)["login"] if state == "closed" else None,
            "deleted": False, "locked": False,
            "comments": [],  # {"id", "body", "user", "created_at", "updated_at"}, by id
        }
        if state == "closed" and state_reason is None:
            issue["state_reason"] = "completed"
        self.clock = max(self.clock, issue["updated_at"])
        self.next_issue_id += 1
        self.issue_count += 1
        repo["issues"][n] = issue
        return issue

    def add_comment(self, repo, issue, body, user, at=None):
        """A new comment on `issue` (caller holds the lock, body checked): it moves the issue's
        updated_at (at: that time instead of the next tick). -> the comment."""
        now = self.tick(at)
        c = {"id": self.next_comment_id, "body": body, "user": self.user(user)["login"],
             "created_at": now, "updated_at": now}
        self.next_comment_id += 1
        issue["comments"].append(c)
        issue["updated_at"] = now
        repo["updated_at"] = now
        return c

    # -- rendering ----------------------------------------------------------------------------
    def base(self):
        return self.server.base_url

    def render_user(self, login):
        u = self.user(login)
        b = self.base()
        lg = urllib.parse.quote(u["login"])
        return {
            "login": u["login"], "id": u["id"], "node_id": node_id("U_kgDO", u["id"]),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{u['id']}?v=4",
            "gravatar_id": "", "url": f"{b}/users/{lg}", "html_url": f"{HTML_BASE}/{lg}",
            "followers_url": f"{b}/users/{lg}/followers",
            "following_url": f"{b}/users/{lg}/following{{/other_user}}",
            "gists_url": f"{b}/users/{lg}/gists{{/gist_id}}",
            "starred_url": f"{b}/users/{lg}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{b}/users/{lg}/subscriptions",
            "organizations_url": f"{b}/users/{lg}/orgs", "repos_url": f"{b}/users/{lg}/repos",
            "events_url": f"{b}/users/{lg}/events{{/privacy}}",
            "received_events_url": f"{b}/users/{lg}/received_events",
            "type": u["type"], "user_view_type": "public", "site_admin": False,
        }

    def render_label(self, repo, lab):
        return {
            "id": lab["id"], "node_id": node_id("LA_kwDO", lab["id"]),
            "url": f"{self.repo_url(repo)}/labels/{urllib.parse.quote(lab['name'], safe='')}",
            "name": lab["name"], "color": lab["color"],
            "default": lab["name"] in ("bug", "documentation", "enhancement"),
            "description": lab["description"],
        }

    def repo_url(self, repo):
        return f"{self.base()}/repos/{repo['full_name']}"

    def render_repo(self, repo, token=None, webhook=False):
        b = self.repo_url(repo)
        h = f"{HTML_BASE}/{repo['full_name']}"
        open_count = sum(1 for i in repo["issues"].values()
                         if i["state"] == "open" and not i["deleted"])
        out = {
            "id": repo["id"], "node_id": node_id("R_kgDO", repo["id"]), "name": repo["name"],
            "full_name": repo["full_name"], "private": repo["private"],
            "owner": self.render_user(repo["owner"]), "html_url": h, "description": None,
            "fork": False, "url": b,
        }
        for k, suffix in (
                ("forks_url", "/forks"), ("keys_url", "/keys{/key_id}"),
                ("collaborators_url", "/collaborators{/collaborator}"), ("teams_url", "/teams"),
                ("hooks_url", "/hooks"), ("issue_events_url", "/issues/events{/number}"),
                ("events_url", "/events"), ("assignees_url", "/assignees{/user}"),
                ("branches_url", "/branches{/branch}"), ("tags_url", "/tags"),
                ("blobs_url", "/git/blobs{/sha}"), ("git_tags_url", "/git/tags{/sha}"),
                ("git_refs_url", "/git/refs{/sha}"), ("trees_url", "/git/trees{/sha}"),
                ("statuses_url", "/statuses/{sha}"), ("languages_url", "/languages"),
                ("stargazers_url", "/stargazers"), ("contributors_url", "/contributors"),
                ("subscribers_url", "/subscribers"), ("subscription_url", "/subscription"),
                ("commits_url", "/commits{/sha}"), ("git_commits_url", "/git/commits{/sha}"),
                ("comments_url", "/comments{/number}"),
                ("issue_comment_url", "/issues/comments{/number}"),
                ("contents_url", "/contents/{+path}"),
                ("compare_url", "/compare/{base}...{head}"), ("merges_url", "/merges"),
                ("archive_url", "/{archive_format}{/ref}"), ("downloads_url", "/downloads"),
                ("issues_url", "/issues{/number}"), ("pulls_url", "/pulls{/number}"),
                ("milestones_url", "/milestones{/number}"),
                ("notifications_url", "/notifications{?since,all,participating}"),
                ("labels_url", "/labels{/name}"), ("releases_url", "/releases{/id}"),
                ("deployments_url", "/deployments")):
            out[k] = b + suffix
        out.update({
            "created_at": iso(repo["created_at"]), "updated_at": iso(repo["updated_at"]),
            "pushed_at": iso(repo["updated_at"]),
            "git_url": f"git://github.com/{repo['full_name']}.git",
            "ssh_url": f"git@github.com:{repo['full_name']}.git", "clone_url": h + ".git",
            "svn_url": h, "homepage": None, "size": 0, "stargazers_count": 0,
            "watchers_count": 0, "language": None, "has_issues": repo["has_issues"],
            "has_projects": True, "has_downloads": True, "has_wiki": False, "has_pages": False,
            "has_discussions": False, "forks_count": 0, "mirror_url": None, "archived": False,
            "disabled": False, "open_issues_count": open_count, "license": None,
            "allow_forking": True, "is_template": False, "web_commit_signoff_required": False,
            "topics": [], "visibility": "private" if repo["private"] else "public",
            "forks": 0, "open_issues": open_count, "watchers": 0, "default_branch": "main",
        })
        if webhook:
            out["custom_properties"] = {}
            return out
        if token is not None:
            push = token["push"]
            out["permissions"] = {"admin": token["admin"], "maintain": token["admin"],
                                  "push": push, "triage": push, "pull": True}
        out.update({"network_count": 0, "subscribers_count": 0})
        if repo["owner_type"] == "Organization":
            out["organization"] = self.render_user(repo["owner"])
        return out

    @staticmethod
    def association(repo, login):
        return ("OWNER" if login.lower() == repo["owner"].lower() else
                "COLLABORATOR" if login.lower() in repo["collaborators"] else "NONE")

    def render_comment(self, repo, issue, c):
        """An issue comment as the API (and the issue_comment webhook) shows it."""
        url = f"{self.repo_url(repo)}/issues/comments/{c['id']}"
        kind = "pull" if issue["pull_request"] else "issues"
        return {
            "url": url,
            "html_url": f"{HTML_BASE}/{repo['full_name']}/{kind}/{issue['number']}"
                        f"#issuecomment-{c['id']}",
            "issue_url": f"{self.repo_url(repo)}/issues/{issue['number']}",
            "id": c["id"], "node_id": node_id("IC_kwDO", c["id"]),
            "user": self.render_user(c["user"]), "created_at": iso(c["created_at"]),
            "updated_at": iso(c["updated_at"]),
            "author_association": self.association(repo, c["user"]), "body": c["body"],
            "reactions": {"url": url + "/reactions", "total_count": 0, "+1": 0, "-1": 0,
                          "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0,
                          "eyes": 0},
            "performed_via_github_app": None, "pin": None, "minimized": None,
        }

    def render_issue(self, repo, issue):
        b = f"{self.repo_url(repo)}/issues/{issue['number']}"
        kind = "pull" if issue["pull_request"] else "issues"
        html = f"{HTML_BASE}/{repo['full_name']}/{kind}/{issue['number']}"
        assignees = [self.render_user(a) for a in issue["assignees"]]
        labels = [self.render_label(repo, repo["labels"][n.lower()]) for n in issue["labels"]
                  if n.lower() in repo["labels"]]
        author = issue["user"]
        out = {
            "url": b, "repository_url": self.repo_url(repo),
            "labels_url": b + "/labels{/name}", "comments_url": b + "/comments",
            "events_url": b + "/events", "html_url": html, "id": issue["id"],
            "node_id": node_id("PR_kwDO" if issue["pull_request"] else "I_kwDO", issue["id"]),
            "number": issue["number"], "title": issue["title"], "user": self.render_user(author),
            "labels": labels, "state": issue["state"], "locked": issue["locked"],
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "milestone": None, "comments": len(issue["comments"]),
            "created_at": iso(issue["created_at"]),
            "updated_at": iso(issue["updated_at"]), "closed_at": iso(issue["closed_at"]),
            "author_association": self.association(repo, author),
            "active_lock_reason": None, "body": issue["body"],
            "closed_by": self.render_user(issue["closed_by"]) if issue["closed_by"] else None,
            "timeline_url": b + "/timeline", "performed_via_github_app": None,
            "reactions": {"url": b + "/reactions", "total_count": 0, "+1": 0, "-1": 0,
                          "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0,
                          "eyes": 0},
            "state_reason": issue["state_reason"],
        }
        if issue["pull_request"]:
            pr = f"{self.repo_url(repo)}/pulls/{issue['number']}"
            out["draft"] = False
            out["pull_request"] = {"url": pr, "html_url": html, "diff_url": html + ".diff",
                                   "patch_url": html + ".patch", "merged_at": None}
        return out


# --------------------------------------------------------------------------------------------
# Requests


class GitHubRequest(fake_base.Request):
    """One parsed HTTP request, with what GitHub's auth finds out about it."""

    def __init__(self, method, raw_path, headers, body_bytes):
        super().__init__(method, raw_path, headers, body_bytes)
        self.token = None  # token config dict once authenticated
        self.token_key = None
        self.jwt = False
        self.request_id = "%04X:%04X:%06X:%07X:%08X" % (
            secrets.randbits(16), secrets.randbits(16), secrets.randbits(24),
            secrets.randbits(28), int(time.time()))

    @property
    def login(self):
        return self.token["login"] if self.token else None

    def json_body(self):
        """The body as JSON, for the API: errors answer like GitHub."""
        if not self.body_bytes:
            return {}
        try:
            data = json.loads(self.body_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, err_body("Problems parsing JSON", DOCS, 400))
        if not isinstance(data, dict):
            raise ApiError(400, err_body("Body should be a JSON object", DOCS, 400))
        return data


# --------------------------------------------------------------------------------------------
# The REST API


SEG = r"([A-Za-z0-9_.%-]+)"  # an owner or repo segment: a raw '/' never matches (404)


class Api(fake_base.BaseApi):
    """GitHub's endpoints (@route), auth and rate limits; the base serves faults, logs,
    records and sends."""

    # -- what the base calls ------------------------------------------------------------------
    def answer(self, req):
        st = self.state
        try:
            status, headers, body, charge = self._dispatch(req)
        except ApiError as e:
            status, headers, body = self.error_answer(e)
            charge = req.token is not None and status not in (401, 403, 304)
        if charge:
            with st.lock:
                req.token["used"] += 1
        return status, {**self._rate_headers(req), **headers}, body

    def fault_headers(self, req):
        """An injected answer carries the rate-limit headers of the caller's token."""
        self._authenticate(req, soft=True)
        return self._rate_headers(req)

    def placeholders(self, req):
        return {"{rid}": req.request_id}  # e.g. in the secondary rate limit's message

    def finish(self, req, status, headers):
        headers.setdefault("x-github-request-id", req.request_id)
        headers.setdefault("x-github-media-type", "github.v3; format=json")
        headers.setdefault("x-github-api-version-selected",
                           req.headers.get("x-github-api-version", API_VERSIONS[0]))
        headers.setdefault("vary", "Accept, Authorization, Cookie, X-GitHub-OTP")

    def _dispatch(self, req):
        """-> (status, headers, body bytes, charge rate limit)."""
        if not req.headers.get("user-agent", "").strip():
            return 403, {"content-type": "text/html; charset=utf-8"}, UA_MSG.encode(), False
        ver = req.headers.get("x-github-api-version")
        if ver is not None and ver not in API_VERSIONS:
            raise ApiError(400, err_body(f"API version '{ver}' is not supported.",
                                         DOCS + "/about-the-rest-api/api-versions", 400))
        method = "GET" if req.method == "HEAD" else req.method
        matched = self.match(method, req.path)
        if matched is None:
            self._authenticate(req)
            raise not_found()
        fn, args = matched
        if not getattr(fn, "jwt_ok", False):  # app endpoints check their JWT themselves
            self._authenticate(req)
            if fn.__name__ != "rate_limit_get":
                self._check_rate(req)
        status, headers, obj = fn(req, *args)
        headers = dict(headers or {})
        if obj is None:
            body = b""
        elif isinstance(obj, bytes):
            body = obj
        else:
            body = dumps(obj)
            headers.setdefault("content-type", JSON_TYPE)
        charge = req.token is not None and fn.__name__ != "rate_limit_get"
        if method == "GET" and status == 200:
            etag = 'W/"%s"' % hashlib.sha256(req.raw_path.encode() + b"\0" + body).hexdigest()[:40]
            headers["etag"] = etag
            inm = req.headers.get("if-none-match")
            if inm and self._etag_match(inm, etag):
                return 304, headers, b"", False
            ims = req.headers.get("if-modified-since")
            lm = headers.get("last-modified")
            if ims and lm and not inm:
                try:
                    if parsedate_to_datetime(lm) <= parsedate_to_datetime(ims):
                        return 304, headers, b"", False
                except (TypeError, ValueError):
                    pass
            headers.setdefault("cache-control", "private, max-age=60, s-maxage=60")
        return status, headers, body, charge

    @staticmethod
    def _etag_match(inm, etag):
        if inm.strip() == "*":
            return True
        want = etag[2:] if etag.startswith("W/") else etag
        for part in inm.split(","):
            p = part.strip()
            if p.startswith("W/"):
                p = p[2:]
            if p == want:
                return True
        return False

    def _authenticate(self, req, soft=False):
        st = self.state
        auth = req.headers.get("authorization", "")
        scheme, _, cred = auth.partition(" ")
        cred = cred.strip()
        with st.lock:
            tok = st.tokens.get(cred) if scheme.lower() in ("bearer", "token") else None
            if tok and tok["expires_at"] is not None and time.time() >= tok["expires_at"]:
                tok = None
            if tok:
                req.token, req.token_key = tok, cred
                return
        if soft:
            return
        st.unauth_used += 1
        raise ApiError(401, err_body("Bad credentials", DOCS, 401))

    def _check_rate(self, req):
        st = self.state
        with st.lock:
            t = req.token
            now = int(time.time())
            if now >= t["reset"]:
                t["used"], t["reset"] = 0, now + 3600
            if t["used"] >= self._limit(t):
                u = st.user(t["login"])
                raise ApiError(403, err_body(
                    f"API rate limit exceeded for user ID {u['id']}. If you reach out to GitHub "
                    f"Support for help, please include the request ID {req.request_id}.",
                    DOC_RATE, 403))

    def _limit(self, t):
        return t["limit"] if t["limit"] is not None else self.state.rate_limit

    def _rate_headers(self, req):
        st = self.state
        with st.lock:
            t = req.token
            if t is None:
                limit, used, reset = 60, min(st.unauth_used, 60), int(time.time()) + 3600
            else:
                limit, used, reset = self._limit(t), t["used"], t["reset"]
            h = {"x-ratelimit-limit": str(limit),
                 "x-ratelimit-remaining": str(max(limit - used, 0)),
                 "x-ratelimit-used": str(used), "x-ratelimit-reset": str(reset),
                 "x-ratelimit-resource": "core"}
            if t is not None and t["scopes"] is not None:
                h["x-oauth-scopes"] = ", ".join(t["scopes"])
            if t is not None and t["kind"] == "pat" and t["expires_at"] is not None:
                h["github-authentication-token-expiration"] = datetime.fromtimestamp(
                    t["expires_at"], timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            return h

    # -- helpers ------------------------------------------------------------------------------
    def _repo(self, req, owner, name, doc=DOC_REPO):
        st = self.state
        repo = st.repos.get(f"{owner}/{name}".lower())
        t = req.token
        if repo is None or (t and t["repos"] is not None and repo["key"] not in t["repos"]):
            raise not_found(doc)
        return repo

    def _need_issues(self, req, repo, write):
        t = req.token
        level = (t["permissions"] or {}).get("issues")
        ok = level == "write" or (level == "read" and not write)
        if not ok:
            who = "integration" if t["kind"] == "installation" else "personal access token"
            raise ApiError(403, err_body(f"Resource not accessible by {who}", DOCS, 403),
                           {"x-accepted-github-permissions":
                            "issues=write" if write else "issues=read"})
        if not repo["has_issues"]:
            raise ApiError(410, err_body("Issues are disabled for this repo", DOCS, 410))

    def _issue(self, req, repo, number, doc):
        st = self.state
        num = int(number)
        moved = st.moved.get((repo["key"], num))
        if moved:
            new_repo = st.repos[moved[0]]
            loc = f"{st.repo_url(new_repo)}/issues/{moved[1]}"
            raise ApiError(301, {"message": "Moved Permanently", "url": loc,
                                 "documentation_url": doc}, {"location": loc})
        issue = repo["issues"].get(num)
        if issue is None:
            raise not_found(doc)
        if issue["deleted"]:
            raise ApiError(410, err_body("This issue was deleted", doc, 410))
        return issue

    def _actor(self, req):
        return req.token["login"] if req.token else DEFAULT_LOGIN

    @staticmethod
    def _check_title(title, doc, required):
        if title is None or (isinstance(title, str) and not title.strip()):
            if required or title is not None:
                raise validation(doc, {"resource": "Issue", "code": "missing_field",
                                       "field": "title"})
            return None
        if isinstance(title, bool) or not isinstance(title, (str, int)):
            raise validation(doc, {"resource": "Issue", "code": "invalid", "field": "title"})
        title = str(title)
        if len(title) > TITLE_MAX:
            raise validation(doc, {"resource": "Issue", "code": "custom", "field": "title",
                                   "message": f"title is too long (maximum is {TITLE_MAX} "
                                              "characters)"})
        return title

    @staticmethod
    def _check_body(body, doc):
        if body is not None and not isinstance(body, str):
            raise validation(doc, {"resource": "Issue", "code": "invalid", "field": "body"})
        if body is not None and len(body) > BODY_MAX:
            raise validation(doc, {"resource": "Issue", "code": "custom", "field": "body",
                                   "message": f"body is too long (maximum is {BODY_MAX} "
                                              "characters)"})
        return body

    @staticmethod
    def _label_names(labels, doc):
        if not isinstance(labels, list):
            raise validation(doc, {"resource": "Issue", "code": "invalid", "field": "labels"})
        out = []
        for lab in labels:
            name = lab.get("name") if isinstance(lab, dict) else lab
            if not isinstance(name, str) or not name.strip():
                raise validation(doc, {"resource": "Label", "code": "invalid", "field": "name"})
            if name.lower() not in (n.lower() for n in out):
                out.append(name.strip())
        return out

    def _assignable(self, repo, logins):
        out = []
        for login in logins:
            c = repo["collaborators"].get(str(login).lower())
            if c and c not in out:
                out.append(c)
        return out

    def _assignee_list(self, body, doc):
        names = []
        if body.get("assignee") is not None:
            names.append(body["assignee"])
        a = body.get("assignees")
        if a is not None:
            if not isinstance(a, list) or not all(isinstance(x, str) for x in a):
                raise validation(doc, {"resource": "Issue", "code": "invalid",
                                       "field": "assignees"})
            names.extend(a)
        return names

    def _paginate(self, req, items, link_base):
        try:
            per_page = int(req.query.get("per_page", "30") or 30)
            page = int(req.query.get("page", "1") or 1)
        except ValueError:
            raise validation(DOC_LIST, {"resource": "Search", "code": "invalid",
                                        "field": "per_page"})
        per_page = max(1, min(per_page, 100))
        page = max(page, 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []
        keep = [(k, v) for k, v in req.query_pairs if k != "page"]

        def link(p, rel):
            q = urllib.parse.urlencode(keep + [("page", str(p))])
            links.append(f'<{link_base}?{q}>; rel="{rel}"')

        if page > 1:
            link(min(page - 1, last), "prev")
        if page < last:
            link(page + 1, "next")
            link(last, "last")
        if page > 1:
            link(1, "first")
        return chunk, ({"link": ", ".join(links)} if links else {})

    # -- endpoints ------------------------------------------------------------------------------
    @route("GET", r"/rate_limit")
    def rate_limit_get(self, req):
        h = self._rate_headers(req)
        core = {"limit": int(h["x-ratelimit-limit"]),
                "remaining": int(h["x-ratelimit-remaining"]),
                "reset": int(h["x-ratelimit-reset"]), "used": int(h["x-ratelimit-used"])}
        reset = int(time.time()) + 60
        search = {"limit": 30, "remaining": 30, "reset": reset, "used": 0}
        graphql = {"limit": 5000, "remaining": 5000, "reset": int(h["x-ratelimit-reset"]),
                   "used": 0}
        return 200, {}, {"resources": {"core": core, "search": search, "graphql": graphql},
                         "rate": core}

    @route("GET", r"/user")
    def user_get(self, req):
        st = self.state
        t = req.token
        if t["kind"] == "installation":
            raise ApiError(403, err_body("Resource not accessible by integration", DOCS, 403))
        with st.lock:
            u = st.render_user(t["login"])
            u["user_view_type"] = "private"
            created = iso(st.clock - 86400 * 365)
        u.update({"name": None, "company": None, "blog": "", "location": None, "email": None,
                  "hireable": None, "bio": None, "twitter_username": None,
                  "notification_email": None, "public_repos": 0, "public_gists": 0,
                  "followers": 0, "following": 0, "created_at": created, "updated_at": created,
                  "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
                  "disk_usage": 0, "collaborators": 0, "two_factor_authentication": True})
        return 200, {}, u

    @route("GET", r"/repos/" + SEG + "/" + SEG)
    def repo_get(self, req, owner, name):
        with self.state.lock:
            repo = self._repo(req, owner, name)
            return 200, {}, self.state.render_repo(repo, req.token)

    def _list_issues(self, req, repo):
        st = self.state
        q = req.query
        self._need_issues(req, repo, write=False)
        state = q.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise validation(DOC_LIST, {"resource": "Issue", "code": "invalid", "field": "state"})
        sort = q.get("sort", "created")
        if sort not in ("created", "updated", "comments"):
            raise validation(DOC_LIST, {"resource": "Issue", "code": "invalid", "field": "sort"})
        direction = q.get("direction", "desc")
        if direction not in ("asc", "desc"):
            raise validation(DOC_LIST, {"resource": "Issue", "code": "invalid",
                                        "field": "direction"})
        since = None
        if "since" in q:
            since = parse_time(q["since"])
            if since is None:
                raise validation(DOC_LIST, {"resource": "Issue", "code": "invalid",
                                            "field": "since"})
        labels = [x.strip().lower() for x in q.get("labels", "").split(",") if x.strip()]
        assignee = q.get("assignee")
        creator = q.get("creator", "").lower() or None
        milestone = q.get("milestone")
        items = []
        for issue in repo["issues"].values():  # number order == creation order
            if issue["deleted"]:
                continue
            if state != "all" and issue["state"] != state:
                continue
            if since is not None and issue["updated_at"] < since:
                continue
            if labels:
                have = {n.lower() for n in issue["labels"]}
                if not all(lab in have for lab in labels):
                    continue
            if assignee is not None:
                if assignee == "none" and issue["assignees"]:
                    continue
                if assignee == "*" and not issue["assignees"]:
                    continue
                if assignee not in ("none", "*") and assignee.lower() not in \
                        (a.lower() for a in issue["assignees"]):
                    continue
            if creator and issue["user"].lower() != creator:
                continue
            if milestone not in (None, "none"):
                continue  # the fake has no milestones
            items.append(issue)
        if sort == "updated":
            items.sort(key=lambda i: (i["updated_at"], i["number"]))
        if direction == "desc":
            items.reverse()
        chunk, link = self._paginate(req, items,
                                     f"{st.base()}/repositories/{repo['id']}/issues")
        return 200, link, [st.render_issue(repo, i) for i in chunk]

    @route("GET", r"/repos/" + SEG + "/" + SEG + "/issues")
    def issues_list(self, req, owner, name):
        with self.state.lock:
            return self._list_issues(req, self._repo(req, owner, name, doc=DOC_LIST))

    @route("GET", r"/repositories/(\d+)/issues")
    def issues_list_by_id(self, req, rid):
        st = self.state
        with st.lock:
            repo = st.repo_by_id.get(int(rid))
            if repo is None or repo["key"] not in st.repos:
                raise not_found(DOC_LIST)
            repo = self._repo(req, repo["owner"], repo["name"], doc=DOC_LIST)
            return self._list_issues(req, repo)

    @route("GET", r"/repositories/(\d+)/issues/(\d+)")
    def issue_get_by_id(self, req, rid, number):
        st = self.state
        with st.lock:
            repo = st.repo_by_id.get(int(rid))
            if repo is None:
                raise not_found(DOC_GET)
            return self.issue_get(req, repo["owner"], repo["name"], number)

    @route("POST", r"/repos/" + SEG + "/" + SEG + "/issues")
    def issue_create(self, req, owner, name):
        st = self.state
        body = req.json_body()
        events = []
        with st.lock:
            repo = self._repo(req, owner, name, doc=DOC_CREATE)
            self._need_issues(req, repo, write=True)
            title = self._check_title(body.get("title"), DOC_CREATE, required=True)
            text = self._check_body(body.get("body"), DOC_CREATE)
            labels = self._label_names(body.get("labels", []), DOC_CREATE)
            assignees = self._assignee_list(body, DOC_CREATE)
            if body.get("milestone") is not None and req.token["push"]:
                raise validation(DOC_CREATE, {"resource": "Issue", "code": "invalid",
                                              "field": "milestone", "value": body["milestone"]})
            if not req.token["push"]:  # silently dropped, like GitHub
                labels, assignees = [], []
            assignees = self._assignable(repo, assignees)[:10]
            try:
                issue = st.new_issue(repo, title, text, self._actor(req), labels, assignees)
            except ControlError as e:
                raise ApiError(422, err_body(f"fake: {e.message}", DOC_CREATE, 422))
            rendered = st.render_issue(repo, issue)
            events.append(("opened", repo, issue, {}))
            for a in issue["assignees"]:
                events.append(("assigned", repo, issue, {"assignee": st.render_user(a)}))
            for lab in issue["labels"]:
                events.append(("labeled", repo, issue, {
                    "label": st.render_label(repo, repo["labels"][lab.lower()])}))
            self.server.hooks.emit_api(events, self._actor(req))
        return 201, {"location": rendered["url"]}, rendered

    @route("GET", r"/repos/" + SEG + "/" + SEG + r"/issues/(\d+)")
    def issue_get(self, req, owner, name, number):
        st = self.state
        with st.lock:
            repo = self._repo(req, owner, name, doc=DOC_GET)
            self._need_issues(req, repo, write=False)
            issue = self._issue(req, repo, number, DOC_GET)
            return 200, {"last-modified": formatdate(issue["updated_at"], usegmt=True)}, \
                st.render_issue(repo, issue)

    @route("PATCH", r"/repositories/(\d+)/issues/(\d+)")
    def issue_update_by_id(self, req, rid, number):
        st = self.state
        with st.lock:
            repo = st.repo_by_id.get(int(rid))
            if repo is None:
                raise not_found(DOC_UPDATE)
            return self.issue_update(req, repo["owner"], repo["name"], number)

    @route("PATCH", r"/repos/" + SEG + "/" + SEG + r"/issues/(\d+)")
    def issue_update(self, req, owner, name, number):
        st = self.state
        body = req.json_body()
        with st.lock:
            repo = self._repo(req, owner, name, doc=DOC_UPDATE)
            self._need_issues(req, repo, write=True)
            issue = self._issue(req, repo, number, DOC_UPDATE)
            push = req.token["push"]
            new = {}
            if "title" in body:
                t = self._check_title(body["title"], DOC_UPDATE, required=False)
                if t is not None:
                    new["title"] = t
            if "body" in body:
                new["body"] = self._check_body(body["body"], DOC_UPDATE)
            if "state" in body:
                if body["state"] not in ("open", "closed"):
                    raise validation(DOC_UPDATE, {"resource": "Issue", "code": "invalid",
                                                  "field": "state"})
                new["state"] = body["state"]
            reason = body.get("state_reason")
            if reason is not None and reason not in ("completed", "not_planned", "duplicate",
                                                     "reopened"):
                raise validation(DOC_UPDATE, {"resource": "Issue", "code": "invalid",
                                              "field": "state_reason"})
            if "labels" in body and push:
                new["labels"] = self._label_names(body["labels"] or [], DOC_UPDATE)
            if ("assignees" in body or "assignee" in body) and push:
                names = self._assignee_list(
                    {k: body[k] for k in ("assignee", "assignees") if k in body}, DOC_UPDATE)
                new["assignees"] = self._assignable(repo, names)[:10]
            if body.get("milestone") is not None and push:
                raise validation(DOC_UPDATE, {"resource": "Issue", "code": "invalid",
                                              "field": "milestone", "value": body["milestone"]})
            events = self.server.hooks.apply(repo, issue, new, reason, self._actor(req))
            self.server.hooks.emit_api(events, self._actor(req))
            return 200, {}, st.render_issue(repo, issue)

    @route("POST", r"/repos/" + SEG + "/" + SEG + r"/issues/(\d+)/assignees")
    def assignees_add(self, req, owner, name, number):
        return self._assignees_change(req, owner, name, number, add=True)

    @route("DELETE", r"/repos/" + SEG + "/" + SEG + r"/issues/(\d+)/assignees")
    def assignees_remove(self, req, owner, name, number):
        return self._assignees_change(req, owner, name, number, add=False)

    def _assignees_change(self, req, owner, name, number, add):
        st = self.state
        body = req.json_body()
        doc = DOCS + "/issues/assignees"
        with st.lock:
            repo = self._repo(req, owner, name, doc=doc)
            self._need_issues(req, repo, write=True)
            issue = self._issue(req, repo, number, doc)
            names = self._assignee_list({"assignees": body.get("assignees", [])}, doc)
            cur = list(issue["assignees"])
            if req.token["push"]:
                if add:
                    cur += [a for a in self._assignable(repo, names) if a not in cur]
                else:
                    drop = {n.lower() for n in names}
                    cur = [a for a in cur if a.lower() not in drop]
            events = self.server.hooks.apply(repo, issue, {"assignees": cur[:10]}, None,
                                             self._actor(req))
            self.server.hooks.emit_api(events, self._actor(req))
            return (201 if add else 200), {}, st.render_issue(repo, issue)

    @route("POST", r"/repos/" + SEG + "/" + SEG + r"/issues/(\d+)/labels")
    def issue_labels_add(self, req, owner, name, number):
        st = self.state
        body = req.json_body()
        doc = DOCS + "/issues/labels#add-labels-to-an-issue"
        with st.lock:
            repo = self._repo(req, owner, name, doc=doc)
            self._need_issues(req, repo, write=True)
            issue = self._issue(req, repo, number, doc)
            names = self._label_names(body.get("labels", []), doc)
            cur = list(issue["labels"])
            if req.token["push"]:
                cur += [n for n in names if n.lower() not in {c.lower() for c in cur}]
            events = self.server.hooks.apply(repo, issue, {"labels": cur}, None,
                                             self._actor(req))
            self.server.hooks.emit_api(events, self._actor(req))
            return 200, {}, [st.render_label(repo, repo["labels"][n.lower()])
                             for n in issue["labels"]]

    @route("DELETE", r"/repos/" + SEG + "/" + SEG + r"/issues/(\d+)/labels/([^/]+)")
    def issue_label_remove(self, req, owner, name, number, label):
        st = self.state
        doc = DOCS + "/issues/labels#remove-a-label-from-an-issue"
        with st.lock:
            repo = self._repo(req, owner, name, doc=doc)
            self._need_issues(req, repo, write=True)
            issue = self._issue(req, repo, number, doc)
            if label.lower() not in {n.lower() for n in issue["labels"]}:
                raise ApiError(404, err_body("Label does not exist", doc, 404))
            cur = [n for n in issue["labels"] if n.lower() != label.lower()]
            if req.token["push"]:
                events = self.server.hooks.apply(repo, issue, {"labels": cur}, None,
                                                 self._actor(req))
                self.server.hooks.emit_api(events, self._actor(req))
            return 200, {}, [st.render_label(repo, repo["labels"][n.lower()])
                             for n in issue["labels"]]

    # -- comments -------------------------------------------------------------------------------
    @staticmethod
    def check_comment_body(body, doc=DOC_COMMENT_CREATE):
        """A comment body from a request object: -> the text, or GitHub's 422."""
        if "body" not in body:
            raise ApiError(422, err_body('Invalid request.\n\n"body" wasn\'t supplied.', doc,
                                         422))
        text = body["body"]
        if not isinstance(text, str):
            raise ApiError(422, err_body("Invalid request.\n\nFor 'properties/body', "
                                         f"{json.dumps(text)} is not a string.", doc, 422))
        if not text.strip():
            raise validation(doc, {"resource": "IssueComment", "code": "unprocessable",
                                   "field": "data", "message": "Body cannot be blank"})
        if len(text) > BODY_MAX:
            raise validation(doc, {"resource": "IssueComment", "code": "unprocessable",
                                   "field": "data", "message": "Body is too long (maximum is "
                                                               f"{BODY_MAX} characters)"})
        return text

    @route("POST", r"/repos/" + SEG + "/" + SEG + r"/issues/(\d+)/comments")
    def comment_create(self, req, owner, name, number):
        st = self.state
        body = req.json_body()
        doc = DOC_COMMENT_CREATE
        with st.lock:
            repo = self._repo(req, owner, name, doc=doc)
            self._need_issues(req, repo, write=True)
            issue = self._issue(req, repo, number, doc)
            text = self.check_comment_body(body, doc)
            actor = self._actor(req)
            c = st.add_comment(repo, issue, text, actor)
            out = st.render_comment(repo, issue, c)
            self.server.hooks.emit_api([("created", repo, issue, {"comment": out},
                                         "issue_comment")], actor)
        return 201, {"location": out["url"]}, out

    @route("GET", r"/repos/" + SEG + "/" + SEG + r"/issues/(\d+)/comments")
    def comments_list(self, req, owner, name, number):
        st = self.state
        doc = DOC_COMMENTS
        with st.lock:
            repo = self._repo(req, owner, name, doc=doc)
            self._need_issues(req, repo, write=False)
            issue = self._issue(req, repo, number, doc)
            since = None
            if "since" in req.query:
                since = parse_time(req.query["since"])
                if since is None:
                    raise validation(doc, {"resource": "IssueComment", "code": "invalid",
                                           "field": "since"})
            items = [c for c in issue["comments"] if since is None or c["updated_at"] >= since]
            chunk, link = self._paginate(
                req, items, f"{st.repo_url(repo)}/issues/{issue['number']}/comments")
            return 200, link, [st.render_comment(repo, issue, c) for c in chunk]

    @route("GET", r"/repos/" + SEG + "/" + SEG + "/labels")
    def labels_list(self, req, owner, name):
        st = self.state
        with st.lock:
            repo = self._repo(req, owner, name, doc=DOCS + "/issues/labels")
            labels = list(repo["labels"].values())
            chunk, link = self._paginate(req, labels, f"{st.repo_url(repo)}/labels")
            return 200, link, [st.render_label(repo, lab) for lab in chunk]

    @route("POST", r"/repos/" + SEG + "/" + SEG + "/labels")
    def label_create(self, req, owner, name):
        st = self.state
        body = req.json_body()
        with st.lock:
            repo = self._repo(req, owner, name, doc=DOC_LABELS)
            if not req.token["push"]:
                raise ApiError(403, err_body("Must have admin rights to Repository.",
                                             DOC_LABELS, 403))
            lname = body.get("name")
            if not isinstance(lname, str) or not lname.strip():
                raise validation(DOC_LABELS, {"resource": "Label", "code": "missing_field",
                                              "field": "name"})
            color = body.get("color", "ededed")
            if not isinstance(color, str) or not re.fullmatch(r"[0-9A-Fa-f]{6}", color):
                raise validation(DOC_LABELS, {"resource": "Label", "code": "invalid",
                                              "field": "color"})
            desc = body.get("description")
            if desc is not None and (not isinstance(desc, str) or len(desc) > 100):
                raise validation(DOC_LABELS, {"resource": "Label", "code": "invalid",
                                              "field": "description"})
            if lname.lower() in repo["labels"]:
                raise validation(DOC_LABELS, {"resource": "Label", "code": "already_exists",
                                              "field": "name"})
            lab = st.ensure_label(repo, lname, color.lower(), desc)
            out = st.render_label(repo, lab)
            return 201, {"location": out["url"]}, out

    @route("GET", r"/repos/" + SEG + "/" + SEG + "/assignees")
    def assignees_list(self, req, owner, name):
        st = self.state
        with st.lock:
            repo = self._repo(req, owner, name, doc=DOCS + "/issues/assignees")
            users = sorted(repo["collaborators"].values(), key=str.lower)
            chunk, link = self._paginate(req, users, f"{st.repo_url(repo)}/assignees")
            return 200, link, [st.render_user(u) for u in chunk]

    @route("GET", r"/repos/" + SEG + "/" + SEG + "/assignees/([^/]+)")
    def assignee_check(self, req, owner, name, login):
        doc = DOCS + "/issues/assignees#check-if-a-user-can-be-assigned"
        with self.state.lock:
            repo = self._repo(req, owner, name, doc=doc)
            if login.lower() in repo["collaborators"]:
                return 204, {}, None
            raise not_found(doc)

    # -- GitHub App ------------------------------------------------------------------------
    def _verify_jwt(self, req):
        """Checks 'Authorization: Bearer <JWT>' against the configured app; raises 401."""
        st = self.state

        def fail(msg):
            raise ApiError(401, err_body(msg, DOCS + "/apps/apps", 401))

        auth = req.headers.get("authorization", "")
        scheme, _, jwt = auth.partition(" ")
        if scheme.lower() != "bearer":
            fail("A JSON web token could not be decoded")
        with st.lock:
            app = dict(st.app) if st.app else None
        if app is None:
            fail("Integration not found")
        parts = jwt.strip().split(".")
        if len(parts) != 3:
            fail("A JSON web token could not be decoded")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            fail("A JSON web token could not be decoded")
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            fail("A JSON web token could not be decoded")
        if not isinstance(claims, dict):
            fail("A JSON web token could not be decoded")
        iat, exp, iss = claims.get("iat"), claims.get("exp"), claims.get("iss")
        now = time.time()
        if not isinstance(iat, int) or isinstance(iat, bool) or iat > now + 60:
            fail("'Issued at' claim ('iat') must be an Integer representing the time that the "
                 "assertion was issued")
        if not isinstance(exp, int) or isinstance(exp, bool) or exp <= now:
            fail("'Expiration time' claim ('exp') must be a numeric value representing the "
                 "future time at which the assertion expires")
        if exp - iat > 600 + 60:
            fail("'Expiration time' claim ('exp') is too far in the future")
        if str(iss) not in {app["id"], str(app["client_id"])}:
            fail("Integration not found")
        signed = (parts[0] + "." + parts[1]).encode()
        with tempfile.NamedTemporaryFile(prefix="fake-github-sig-") as sf:
            sf.write(sig)
            sf.flush()
            try:
                p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", app["key_path"],
                                    "-signature", sf.name], input=signed,
                                   capture_output=True, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                fail("A JSON web token could not be decoded")
        if p.returncode != 0 or b"Verified OK" not in p.stdout:
            fail("A JSON web token could not be decoded")
        req.jwt = True
        return app

    @route("POST", r"/app/installations/(\d+)/access_tokens")
    def installation_token(self, req, inst):
        st = self.state
        app = self._verify_jwt(req)
        body = req.json_body()
        if int(inst) != app["installation_id"]:
            raise not_found(DOC_TOKEN)
        perms = dict(app["permissions"])
        if isinstance(body.get("permissions"), dict):
            for k, v in body["permissions"].items():
                if k not in perms or (perms[k] == "read" and v == "write"):
                    raise validation(DOC_TOKEN, {"resource": "Installation", "code": "invalid",
                                                 "field": "permissions"})
                perms[k] = v
        repos = body.get("repositories")
        token = "ghs_" + secrets.token_urlsafe(27).replace("-", "A").replace("_", "b")[:36]
        expires = int(time.time()) + app["token_ttl"]
        with st.lock:
            st.add_token(token, {
                "login": f"{app['slug']}[bot]", "kind": "installation", "permissions": perms,
                "push": perms.get("issues") == "write" or perms.get("contents") == "write",
                "repos": [r["full_name"] for r in st.repos.values()
                          if r["name"].lower() in {str(x).lower() for x in repos}]
                if isinstance(repos, list) else None,
                "expires_at": expires,
            })
        out = {"token": token, "expires_at": iso(expires), "permissions": perms,
               "repository_selection": "selected" if isinstance(repos, list) else "all"}
        return 201, {}, out

    installation_token.jwt_ok = True

    @route("GET", r"/repos/" + SEG + "/" + SEG + "/installation")
    def repo_installation(self, req, owner, name):
        st = self.state
        app = self._verify_jwt(req)
        with st.lock:
            repo = st.repos.get(f"{owner}/{name}".lower())
            if repo is None:
                raise not_found(DOCS + "/apps/apps#get-a-repository-installation-for-the-"
                                       "authenticated-app")
            created = iso(repo["created_at"])
            b = st.base()
            return 200, {}, {
                "id": app["installation_id"], "account": st.render_user(repo["owner"]),
                "repository_selection": "all",
                "access_tokens_url": f"{b}/app/installations/{app['installation_id']}"
                                     "/access_tokens",
                "repositories_url": f"{b}/installation/repositories",
                "html_url": f"{HTML_BASE}/settings/installations/{app['installation_id']}",
                "app_id": int(app["id"]) if app["id"].isdigit() else 1,
                "app_slug": app["slug"], "target_id": st.user(repo["owner"])["id"],
                "target_type": repo["owner_type"], "permissions": app["permissions"],
                "events": ["issues", "issue_comment"], "created_at": created,
                "updated_at": created, "single_file_name": None, "suspended_by": None,
                "suspended_at": None,
            }

    repo_installation.jwt_ok = True


# --------------------------------------------------------------------------------------------
# Changes and webhooks


class Hooks:
    """Applies issue changes (API or human) and delivers the matching `issues` (and
    `issue_comment`) webhooks."""

    def __init__(self, server):
        self.server = server
        self.state = server.state
        self.queue = queue.Queue()
        self.worker = threading.Thread(target=self._work, name="fake-github-hooks", daemon=True)
        self.worker.start()

    def apply(self, repo, issue, new, reason, actor, at=None):
        """Changes `issue` (caller holds the lock); -> [(action, repo, issue, extra)]."""
        st = self.state
        events = []
        changes = {}
        for f in ("title", "body"):
            if f in new and new[f] != issue[f]:
                changes[f] = {"from": issue[f]}
        if "state" in new and new["state"] != issue["state"]:
            if new["state"] == "closed":
                if reason in (None, "reopened"):
                    reason = "completed"
        pending_state = new.get("state") if new.get("state") != issue["state"] else None
        old_assignees = list(issue["assignees"])
        old_labels = list(issue["labels"])
        new_assignees = new.get("assignees", old_assignees)
        new_labels = new.get("labels", old_labels)
        added_a = [a for a in new_assignees if a not in old_assignees]
        removed_a = [a for a in old_assignees if a not in new_assignees]
        lower_old = {n.lower() for n in old_labels}
        lower_new = {n.lower() for n in new_labels}
        added_l = [n for n in new_labels if n.lower() not in lower_old]
        removed_l = [n for n in old_labels if n.lower() not in lower_new]
        if not (changes or pending_state or added_a or removed_a or added_l or removed_l):
            return events
        now = st.tick(at)
        for f in changes:
            issue[f] = new[f]
        if changes:
            events.append(("edited", repo, issue, {"changes": changes}))
        if pending_state == "closed":
            issue.update(state="closed", state_reason=reason, closed_at=now, closed_by=actor)
            events.append(("closed", repo, issue, {}))
        elif pending_state == "open":
            issue.update(state="open", state_reason="reopened", closed_at=None, closed_by=None)
            events.append(("reopened", repo, issue, {}))
        issue["assignees"] = list(new_assignees)
        for a in added_a:
            events.append(("assigned", repo, issue, {"assignee": st.render_user(a)}))
        for a in removed_a:
            events.append(("unassigned", repo, issue, {"assignee": st.render_user(a)}))
        issue["labels"] = [st.ensure_label(repo, n)["name"] for n in new_labels]
        for n in added_l:
            events.append(("labeled", repo, issue, {
                "label": st.render_label(repo, repo["labels"][n.lower()])}))
        for n in removed_l:
            events.append(("unlabeled", repo, issue, {
                "label": st.render_label(repo, repo["labels"][n.lower()])}))
        issue["updated_at"] = now
        repo["updated_at"] = now
        return events

    def payloads(self, events, actor):
        """Renders events now (caller holds the lock): the issue as it is after all changes.
        An event is (action, repo, issue, extra[, event name]); the name is "issues" unless
        given (e.g. "issue_comment", extra {"comment": rendered comment})."""
        st = self.state
        out = []
        for ev in events:
            action, repo, issue, extra = ev[:4]
            event = ev[4] if len(ev) > 4 else "issues"
            p = {"action": action, "issue": st.render_issue(repo, issue)}
            p.update(extra)
            p["repository"] = st.render_repo(repo, webhook=True)
            if repo["owner_type"] == "Organization":
                o = st.render_user(repo["owner"])
                p["organization"] = {k: o[k] for k in ("login", "id", "node_id", "url",
                                                       "avatar_url")}
                p["organization"].update(description=None,
                                         repos_url=o["url"] + "/repos",
                                         events_url=o["url"] + "/events",
                                         hooks_url=o["url"] + "/hooks",
                                         issues_url=o["url"] + "/issues",
                                         members_url=o["url"] + "/members{/member}",
                                         public_members_url=o["url"] +
                                         "/public_members{/member}")
            p["sender"] = st.render_user(actor)
            if st.app:
                inst = st.app["installation_id"]
                p["installation"] = {"id": inst, "node_id": node_id("MDIzOkludGVncmF0aW9u", inst)}
            out.append((event, action, repo["id"], p))
        return out

    def _new_delivery(self, event, action, repo_id, payload):
        st = self.state
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        with st.lock:
            st.delivery_seq += 1
            d = {"id": str(uuid.uuid4()), "seq": st.delivery_seq, "event": event,
                 "action": action, "repository_id": repo_id, "body": body, "status": None,
                 "error": None, "delivered_at": None, "attempts": 0, "redelivery": False,
                 "sent": False}
            st.deliveries[d["id"]] = d
            while len(st.deliveries) > MAX_DELIVERIES:
                st.deliveries.popitem(last=False)
        return d

    def emit_api(self, events, actor):
        """Webhooks for the service's own writes (GitHub echoes them): async, in order."""
        st = self.state
        if not events or not st.webhook.get("echo", True):
            return
        if not st.webhook.get("enabled", True) or not st.webhook.get("url"):
            return
        for event, action, repo_id, p in self.payloads(events, actor):
            self.queue.put(self._new_delivery(event, action, repo_id, p))

    def prepare(self, events, actor):
        """Deliveries for a human change (caller holds the lock); send with send_all()."""
        st = self.state
        if not events or not st.webhook.get("enabled", True) or not st.webhook.get("url"):
            return []
        return [self._new_delivery(e, a, rid, p) for e, a, rid, p in self.payloads(events, actor)]

    def send_all(self, made):
        """Delivers now, in order, after any queued echo: -> list of delivery infos."""
        if made:
            self.drain()
        return [self.send(d) for d in made]

    def drain(self, timeout=30.0):
        deadline = time.time() + timeout
        while self.queue.unfinished_tasks and time.time() < deadline:
            time.sleep(0.01)
        return not self.queue.unfinished_tasks

    def _work(self):
        while True:
            d = self.queue.get()
            try:
                self.send(d)
            except Exception as e:  # keep the worker alive whatever happens
                d["error"] = f"{type(e).__name__}: {e}"
            finally:
                self.queue.task_done()

    def send(self, d, redelivery=False):
        st = self.state
        with st.lock:
            url, secret = st.webhook.get("url"), st.webhook.get("secret")
            hook_id = st.webhook.get("hook_id", 1)
        status, error = None, None
        if url:
            u = urllib.parse.urlsplit(url)
            headers = {
                "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/fake",
                "Accept": "*/*", "X-GitHub-Event": d["event"], "X-GitHub-Delivery": d["id"],
                "X-GitHub-Hook-ID": str(hook_id),
                "X-GitHub-Hook-Installation-Target-Type": "repository",
                "X-GitHub-Hook-Installation-Target-ID": str(d["repository_id"]),
            }
            if secret:
                key = secret.encode()
                headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(
                    key, d["body"], hashlib.sha256).hexdigest()
                headers["X-Hub-Signature"] = "sha1=" + hmac.new(
                    key, d["body"], hashlib.sha1).hexdigest()
            conn_cls = http.client.HTTPSConnection if u.scheme == "https" else \
                http.client.HTTPConnection
            try:
                conn = conn_cls(u.hostname, u.port, timeout=WEBHOOK_TIMEOUT)
                path = u.path or "/"
                if u.query:
                    path += "?" + u.query
                conn.request("POST", path, body=d["body"], headers=headers)
                resp = conn.getresponse()
                resp.read(MAX_BODY)
                status = resp.status
                conn.close()
            except (OSError, http.client.HTTPException) as e:
                error = f"{type(e).__name__}: {e}"
        else:
            error = "no webhook url configured"
        with st.lock:
            d.update(status=status, error=error, delivered_at=time.time(), sent=True,
                     redelivery=redelivery)
            d["attempts"] += 1
        return {"id": d["id"], "action": d["action"], "status": status, "error": error}


# --------------------------------------------------------------------------------------------
# Control API


class Control(fake_base.BaseControl):
    """/_fake/... : no auth, JSON in and out, never recorded. GitHub's routes, besides the
    base's (reset, faults, requests, stats, clock, record: see fake_base.BaseControl).

    POST /_fake/reset                         back to the start state (CLI defaults kept)
    POST /_fake/config  {tokens, app, rate_limit, webhook}   tokens merge (null removes one)
    GET  /_fake/config
    POST /_fake/repos   {full_name, collaborators[], labels[], has_issues, private, owner_type}
    POST /_fake/repos/O/R/issues  {title, body, user, labels, assignees, state, state_reason,
                                   pull_request, created_at, updated_at}  (no webhook)
    POST /_fake/repos/O/R/bulk    {count, title_prefix, body, labels, user, state, spread}
    POST /_fake/repos/O/R/labels  {name, color, description}
    GET  /_fake/repos/O/R/issues/N               raw state (also of deleted ones)
    GET  /_fake/repos/O/R/issues/N/comments      {"comments": [...]} every comment of the
                        issue, ascending by id, shaped like GET .../comments (also of deleted
                        and transferred issues, whatever the tokens)
    POST /_fake/act     {actor, repo, number, action, ..., same_second, webhook}   a human
                        change + its webhook(s); same_second keeps updated_at (GitHub has
                        1 s resolution); webhook: false loses the delivery on the way;
                        action comment {body}: a human comment (issue_comment created)
    POST /_fake/redeliver {delivery_id}
    GET  /_fake/deliveries?since=K     POST /_fake/webhooks/drain
    POST /_fake/faults  {method, path (regex), count, status, body, headers, delay, drop, preset,
                         record (false: keep the exchange out of the recording),
                         after: {"act": {...as /_fake/act}} once the request is answered}
    GET  /_fake/faults   DELETE /_fake/faults
    GET  /_fake/requests?since=K       GET /_fake/stats
    POST /_fake/clock   {advance: seconds >= 0}    GET /_fake/clock
    POST /_fake/record  {path}         switch (or with null stop) the exchange recording
    """

    PRESETS = {
        "server_error": {"status": 500, "body": {"message": "Server Error"}},
        "bad_gateway": {"status": 502, "body": {"message": "Server Error"}},
        "unavailable": {"status": 503, "body": {"message": "Service Unavailable"}},
        "secondary_rate_limit": {
            "status": 403, "headers": {"retry-after": "60"},
            "body": {"message": SECONDARY_MSG,
                     "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/"
                                          "overview/rate-limits-for-the-rest-api"
                                          "#about-secondary-rate-limits"}},
        "too_many_requests": {
            "status": 429, "headers": {"retry-after": "30"},
            "body": {"message": SECONDARY_MSG, "documentation_url": DOC_RATE}},
        "primary_rate_limit": {
            "status": 403, "headers": {"x-ratelimit-remaining": "0", "x-ratelimit-used": "5000"},
            "body": {"message": "API rate limit exceeded for user ID 1. If you reach out to "
                                "GitHub Support for help, please include the request ID {rid}.",
                     "documentation_url": DOC_RATE}},
        "bad_credentials": {"status": 401, "body": {"message": "Bad credentials",
                                                    "documentation_url": DOCS}},
    }

    # -- what the base calls ---------------------------------------------------------------
    def reset(self):
        self.server.hooks.drain(5)  # echoes of the previous test go out first
        super().reset()

    def stats_extra(self):
        st = self.state
        return {
            "rate_limit": {k: {"login": t["login"], "limit": self.server.api._limit(t),
                               "used": t["used"], "reset": t["reset"]}
                           for k, t in st.tokens.items()},
            "issues": st.issue_count,
            "deliveries": len(st.deliveries),
        }

    def preset(self, name):
        f = super().preset(name)
        if f and name == "primary_rate_limit":  # resets a minute after the fault is set
            f["headers"]["x-ratelimit-reset"] = str(int(time.time()) + 60)
        return f

    def check_after(self, spec):
        """`after` is {"act": {actor, repo, number, action, ...}}: a POST /_fake/act."""
        super().check_after(spec)
        act = spec.get("act")
        if set(spec) != {"act"} or not isinstance(act, dict):
            raise ControlError(400, 'after: expected {"act": {actor, repo, number, action}}')
        for k in ("actor", "repo", "action"):
            if not isinstance(act.get(k), str) or not act[k]:
                raise ControlError(400, f"after.act.{k}: expected a string")

    def run_after(self, spec):
        return self._act(spec["act"])

    # -- routes -----------------------------------------------------------------------------
    def _repo(self, full):
        repo = self.state.repos.get(full.lower())
        if repo is None:
            raise ControlError(404, f"no repository {full}")
        return repo

    @control_route("*", r"/_fake/config")
    def config_route(self, req, b):
        st = self.state
        return st.configure(b) if req.method == "POST" else st.describe()

    @control_route("POST", r"/_fake/repos")
    def repo_create_route(self, req, b):
        st = self.state
        with st.lock:
            repo = st.create_repo(b)
            return 201, st.render_repo(repo, webhook=True)

    @control_route("POST", r"/_fake/repos/([^/]+/[^/]+)/(issues|bulk|labels)")
    def seed_route(self, req, b, full, what):
        return self._seed(full, what, b)

    def _any_issue(self, full, number):
        """-> (repo, issue), deleted and transferred ones too (caller holds the lock)."""
        repo = self._repo(full)
        issue = repo["issues"].get(int(number))
        if issue is None:
            raise ControlError(404, "no such issue")
        return repo, issue

    @control_route("GET", r"/_fake/repos/([^/]+/[^/]+)/issues/(\d+)")
    def raw_issue_route(self, req, b, full, number):
        st = self.state
        with st.lock:
            repo, issue = self._any_issue(full, number)
            raw = dict(issue)
            raw["rendered"] = st.render_issue(repo, issue)
            moved = st.moved.get((repo["key"], issue["number"]))
            raw["moved_to"] = None if not moved else {
                "repo": st.repos[moved[0]]["full_name"], "number": moved[1]}
            return raw

    @control_route("GET", r"/_fake/repos/([^/]+/[^/]+)/issues/(\d+)/comments")
    def comments_route(self, req, b, full, number):
        st = self.state
        with st.lock:
            repo, issue = self._any_issue(full, number)
            return {"comments": [st.render_comment(repo, issue, c) for c in issue["comments"]]}

    @control_route("POST", r"/_fake/act")
    def act_route(self, req, b):
        return self._act(b)

    @control_route("POST", r"/_fake/redeliver")
    def redeliver_route(self, req, b):
        st = self.state
        with st.lock:
            d = st.deliveries.get(b.get("delivery_id"))
        if d is None:
            raise ControlError(404, "no such delivery")
        return {"delivery": self.server.hooks.send(d, redelivery=True)}

    @control_route("GET", r"/_fake/deliveries")
    def deliveries_route(self, req, b):
        st = self.state
        since = int(req.query.get("since", "0"))
        with st.lock:
            out = [{k: (json.loads(v) if k == "body" else v) for k, v in d.items()}
                   for d in st.deliveries.values() if d["seq"] > since]
        for d in out:
            d["payload"] = d.pop("body")
        return {"deliveries": out}

    @control_route("POST", r"/_fake/webhooks/drain")
    def drain_route(self, req, b):
        return {"drained": self.server.hooks.drain(float(b.get("timeout", 30)))}

    def _seed(self, full, what, b):
        st = self.state
        with st.lock:
            repo = self._repo(full)
            if what == "labels":
                if b.get("name", "").lower() in repo["labels"]:
                    raise ControlError(409, "label exists")
                lab = st.ensure_label(repo, b["name"], b.get("color", "ededed"),
                                      b.get("description"))
                return 201, st.render_label(repo, lab)
            if what == "issues":
                if not isinstance(b.get("title"), str):
                    raise ControlError(400, "title: expected a string")
                created = parse_time(b["created_at"]) if b.get("created_at") else None
                updated = parse_time(b["updated_at"]) if b.get("updated_at") else None
                if updated is not None and created is None:
                    created = updated
                issue = st.new_issue(repo, b["title"], b.get("body"),
                                     b.get("user", DEFAULT_LOGIN), b.get("labels", []),
                                     b.get("assignees", []), b.get("pull_request", False),
                                     b.get("state", "open"), b.get("state_reason"),
                                     created, updated)
                return 201, st.render_issue(repo, issue)
            count = int(b.get("count", 0))
            if count < 1 or st.issue_count + count > MAX_ISSUES:
                raise ControlError(400, f"count must be 1..{MAX_ISSUES - st.issue_count}")
            prefix = b.get("title_prefix", "Issue")
            labels = b.get("labels", [])
            user = b.get("user", DEFAULT_LOGIN)
            spread = bool(b.get("spread", False))
            t0 = st.tick()
            first = repo["next_number"]
            for i in range(count):
                ts = st.tick() if spread and i else t0
                n = repo["next_number"]
                st.new_issue(repo, f"{prefix} {n}", b.get("body"), user, labels, [], False,
                             b.get("state", "open"), None, ts, ts)
            return 201, {"first": first, "last": repo["next_number"] - 1, "count": count}

    def _act(self, b):
        st = self.state
        hooks = self.server.hooks
        actor = b.get("actor")
        if not isinstance(actor, str) or not actor:
            raise ControlError(400, "actor: expected a login")
        action = b.get("action")
        with st.lock:
            repo = self._repo(b.get("repo", ""))
            number = int(b.get("number", 0))
            issue = repo["issues"].get(number)
            if issue is None or st.moved.get((repo["key"], number)):
                raise ControlError(404, f"no issue {repo['full_name']}#{number}")
            if issue["deleted"]:
                raise ControlError(410, "issue was deleted")
            st.user(actor)
            events = []
            # real GitHub stamps updated_at in whole seconds: two changes can share one
            at = issue["updated_at"] if b.get("same_second") else None
            if action == "edit":
                new = {k: b[k] for k in ("title", "body") if k in b}
                if "title" in new and (not isinstance(new["title"], str) or not new["title"]
                                       or len(new["title"]) > TITLE_MAX):
                    raise ControlError(422, "title: 1..256 characters")
                if "body" in new and new["body"] is not None and len(new["body"]) > BODY_MAX:
                    raise ControlError(422, "body too long")
                events = hooks.apply(repo, issue, new, None, actor, at)
            elif action in ("close", "reopen"):
                want = "closed" if action == "close" else "open"
                if issue["state"] == want:
                    raise ControlError(409, f"issue is already {want}")
                reason = b.get("state_reason", "completed") if action == "close" else None
                if action == "close" and reason not in ("completed", "not_planned", "duplicate"):
                    raise ControlError(422, "state_reason: completed|not_planned|duplicate")
                events = hooks.apply(repo, issue, {"state": want}, reason, actor, at)
            elif action in ("assign", "unassign"):
                names = b.get("assignees") or ([b["assignee"]] if b.get("assignee") else [])
                if not names:
                    raise ControlError(400, "assignees: expected logins")
                if action == "assign":
                    bad = [n for n in names if n.lower() not in repo["collaborators"]]
                    if bad:
                        raise ControlError(422, f"not assignable: {', '.join(bad)}")
                    cur = issue["assignees"] + [repo["collaborators"][n.lower()] for n in names
                                                if repo["collaborators"][n.lower()]
                                                not in issue["assignees"]]
                else:
                    drop = {n.lower() for n in names}
                    cur = [a for a in issue["assignees"] if a.lower() not in drop]
                events = hooks.apply(repo, issue, {"assignees": cur}, None, actor, at)
            elif action in ("label", "unlabel"):
                name = b.get("label")
                if not isinstance(name, str) or not name:
                    raise ControlError(400, "label: expected a name")
                have = {n.lower() for n in issue["labels"]}
                if action == "label":
                    cur = issue["labels"] + ([] if name.lower() in have else [name])
                else:
                    cur = [n for n in issue["labels"] if n.lower() != name.lower()]
                events = hooks.apply(repo, issue, {"labels": cur}, None, actor)
            elif action == "delete":
                issue["deleted"] = True
                now = st.tick()
                issue["updated_at"] = now
                events = [("deleted", repo, issue, {})]
            elif action == "transfer":
                events = self._transfer(repo, issue, b.get("new_repo"), actor)
            elif action == "comment":
                try:
                    text = Api.check_comment_body(b)
                except ApiError as e:
                    raise ControlError(422, f"body: {e.body['message']} "
                                            f"{e.body.get('errors', '')}".strip())
                comment = st.render_comment(repo, issue, st.add_comment(repo, issue, text,
                                                                        actor, at))
                events = [("created", repo, issue, {"comment": comment}, "issue_comment")]
            else:
                raise ControlError(400, f"unknown action {action!r}")
            if not events:
                return {"issue": st.render_issue(repo, issue), "delivery": None,
                        "deliveries": []}
            rendered = st.render_issue(repo, issue)
            new_issue = events[0][3]["changes"]["new_issue"] if action == "transfer" else None
            made = hooks.prepare(events, actor)
        # "webhook": false: the change happens, its delivery is lost on the way (GitHub
        # does not retry failed deliveries): a test of what reconciliation must catch
        deliveries = hooks.send_all(made) if b.get("webhook", True) else []
        out = {"issue": rendered, "delivery": deliveries[0] if deliveries else None,
               "deliveries": deliveries}
        if action == "transfer":
            out["new_issue"] = new_issue
        if action == "comment":
            out["comment"] = comment
        return out

    def _transfer(self, repo, issue, target, actor):
        st = self.state
        if not isinstance(target, str):
            raise ControlError(400, "new_repo: expected owner/name")
        dest = self._repo(target)
        if dest is repo:
            raise ControlError(422, "cannot transfer an issue to its own repository")
        if dest["owner"].lower() != repo["owner"].lower():
            raise ControlError(422, "GitHub only transfers issues between repositories of "
                                    "the same owner")
        if issue["pull_request"]:
            raise ControlError(422, "pull requests cannot be transferred")
        labels = [n for n in issue["labels"] if n.lower() in dest["labels"]]
        assignees = [a for a in issue["assignees"] if a.lower() in dest["collaborators"]]
        now = st.tick()
        moved = st.new_issue(dest, issue["title"], issue["body"], issue["user"], labels,
                             assignees, False, issue["state"], issue["state_reason"],
                             issue["created_at"], now)
        moved["closed_at"], moved["closed_by"] = issue["closed_at"], issue["closed_by"]
        moved["comments"] = issue["comments"]  # the comments go along (same ids)
        st.issue_count -= 1  # the old one is gone: the count stays the same
        issue["deleted"] = True
        issue["updated_at"] = now
        st.moved[(repo["key"], issue["number"])] = (dest["key"], moved["number"])
        old_rendered = st.render_issue(repo, issue)
        new_rendered = st.render_issue(dest, moved)
        return [
            ("transferred", repo, issue, {"changes": {
                "new_issue": new_rendered,
                "new_repository": st.render_repo(dest, webhook=True)}}),
            ("opened", dest, moved, {"changes": {
                "old_issue": old_rendered,
                "old_repository": st.render_repo(repo, webhook=True)}}),
        ]


# --------------------------------------------------------------------------------------------
# Server


class Server(fake_base.BaseServer):
    NAME = "fake-github"
    SERVER_HEADER = "GitHub.com"
    request_class = GitHubRequest
    state_class = State
    api_class = Api
    control_class = Control

    def __init__(self, port, record=None, verbose=False):
        super().__init__(port, record=record, verbose=verbose)
        self.hooks = Hooks(self)

    def set_defaults(self, webhook_url=None, webhook_secret=None):
        self.state.defaults["webhook"] = {"url": webhook_url, "secret": webhook_secret,
                                          "enabled": True}
        self.state.reset()

    def framing_error(self, status, message):
        if status == 413:  # GitHub's wording, with its documentation link
            return {"content-type": JSON_TYPE}, json.dumps(
                {"message": message, "documentation_url": DOCS}).encode()
        return super().framing_error(status, message)

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--webhook-url")
        parser.add_argument("--webhook-secret")

    def configure_from_args(self, args):
        self.set_defaults(args.webhook_url, args.webhook_secret)

    def server_close(self):
        super().server_close()
        app = self.state.app
        if app:  # the app's public key, written for openssl
            try:
                os.unlink(app["key_path"])
            except OSError:
                pass


# --------------------------------------------------------------------------------------------
# Python test helper


class FakeGitHub(fake_base.BaseFake):
    """Runs the fake in this process (a background thread) and wraps its control API.

    fake = FakeGitHub(record=None, webhook_url=None, webhook_secret=None).start()
    fake.url                          http://127.0.0.1:PORT (the API base URL)
    fake.request(method, path, body=None, token="ghp_test", headers=None)
                                      -> (status, headers{lower: value}, json-or-bytes-or-None)
    fake.reset(), fake.configure(...), fake.create_repo(...), fake.seed_issue(...),
    fake.bulk(...), fake.act(...), fake.redeliver(...), fake.deliveries(), fake.requests(),
    fake.stats(), fake.fault(...), fake.clear_faults(), fake.raw_issue(...), fake.stop()
    fake.comments(repo, number)       -> [comment objects], ascending by id (as the API shows
                                      them: id, body, user.login, created_at, html_url, ...)
    fake.act(actor, repo, number, "comment", body="...")   a human comment
    fake.fault(..., after={"act": {actor, repo, number, action, ...}})   a human change right
                                      after the matched request has been answered
    """

    server_class = Server
    RECORD_ENV = "FAKE_GITHUB_RECORD"

    def __init__(self, record=None, webhook_url=None, webhook_secret=None, port=0,
                 verbose=False):
        super().__init__(record=record, port=port, verbose=verbose)
        self.server.set_defaults(webhook_url, webhook_secret)

    # -- raw HTTP ---------------------------------------------------------------------------
    def default_headers(self):
        return {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}

    def request(self, method, path, body=None, token=DEFAULT_TOKEN, headers=None,
                user_agent="closeloop-tests/1.0", scheme="Bearer"):
        """One API call; -> (status, headers with lower-case names, parsed JSON or bytes)."""
        h = self.default_headers()
        if user_agent is not None:
            h["User-Agent"] = user_agent
        if token is not None:
            h["Authorization"] = f"{scheme} {token}"
        return super().request(method, path, body, headers, defaults=h)

    # -- control helpers (the base has reset, requests, stats, faults, clock) ----------------
    def configure(self, **cfg):
        return self.control("POST", "config", cfg)

    def add_token(self, token, login="svc-bot", **kw):
        return self.configure(tokens={token: dict(login=login, **kw)})

    def set_webhook(self, url=None, secret=None, enabled=True, echo=True):
        return self.configure(webhook={"url": url, "secret": secret, "enabled": enabled,
                                       "echo": echo})

    def create_repo(self, full_name, collaborators=(), **kw):
        return self.control("POST", "repos", dict(full_name=full_name,
                                                  collaborators=list(collaborators), **kw))

    def seed_issue(self, repo, title="Seeded issue", **fields):
        return self.control("POST", f"repos/{repo}/issues", dict(title=title, **fields))

    def seed_pr(self, repo, title="Seeded PR", **fields):
        return self.seed_issue(repo, title, pull_request=True, **fields)

    def bulk(self, repo, count, **kw):
        return self.control("POST", f"repos/{repo}/bulk", dict(count=count, **kw))

    def raw_issue(self, repo, number):
        return self.control("GET", f"repos/{repo}/issues/{number}")

    def comments(self, repo, number):
        """Every comment of issue `number` of `repo` ("owner/name"), ascending by id, each as
        the API shows it (id, body, user.login, created_at, updated_at, html_url, ...); also
        of deleted or transferred issues. RuntimeError (404) when there is no such issue."""
        return self.control("GET", f"repos/{repo}/issues/{number}/comments")["comments"]

    def act(self, actor, repo, number, action, **fields):
        return self.control("POST", "act", dict(actor=actor, repo=repo, number=number,
                                                action=action, **fields))

    def redeliver(self, delivery_id):
        return self.control("POST", "redeliver", {"delivery_id": delivery_id})["delivery"]

    def deliveries(self, since=0):
        return self.control("GET", f"deliveries?since={since}")["deliveries"]

    def drain(self, timeout=30):
        return self.control("POST", "webhooks/drain", {"timeout": timeout})["drained"]


# --------------------------------------------------------------------------------------------
# CLI


def main(argv=None):
    return fake_base.main(Server, "Fake GitHub REST API + issues webhooks (127.0.0.1 only)",
                          argv)


if __name__ == "__main__":
    sys.exit(main())
