#!/usr/bin/env python3
"""A fake of Jira's REST API (Cloud v3 + v2, or Data Center v2; issues subset) and of its issue
webhooks, for closeloop's tests.

Behaviour follows shared/docs/trackers.md Part B (and the pitfalls of Part C) and Jira Cloud's
official OpenAPI description (shared/specs/jira-platform-v3.json): tests/conformance/run.sh
--spec jira checks recorded Cloud v3 traffic against it. Python 3.11 standard library only.
Listens on 127.0.0.1 only. Built on fake_base.py like fake_github.py (same control conventions,
faults, `after` actions, recording format, logical clock).

From Python tests:

    from fake_jira import FakeJira
    with FakeJira(flavour="cloud", webhook_url="http://127.0.0.1:9000/hooks/jira",
                  webhook_secret="s") as jira:
        jira.add_account("alice", time_zone="Europe/Berlin")
        jira.create_project("OPS")                      # classic workflow, Task/Bug
        st, h, b = jira.request("POST", "/rest/api/3/issue", {"fields": {...}})
        out = jira.act("alice", "OPS-1", "transition", to="In Progress")
        out["delivery"]["status"]                        # what the receiver answered
        jira.fault("PUT", r"/issue/", preset="rate_limited")
        jira.throttle()["violations"]                   # requests sent before Retry-After
        jira.comments("OPS-1")[0]["wiki"]                # an issue's comments (control API)

From anything else (C tests, shell):

    python3 tests/fakes/fake_jira.py --flavour cloud|dc --port 0 --record FILE.jsonl \\
        [--webhook-url URL --webhook-secret S] [--project KEY ...]
prints "fake-jira listening on http://127.0.0.1:PORT" once it accepts requests, then serves
until SIGTERM/SIGINT. The control API lives under /_fake/ (see Control below).

Environment: FAKE_JIRA_RECORD=FILE makes every FakeJira() without an explicit `record` append
its exchanges to FILE. Requests carrying `X-Fake-No-Record: 1` are served but not recorded (for
tests that deliberately send what the description forbids).

Flavours (per instance, POST /_fake/config {"flavour"} switches and resets):
- "cloud": /rest/api/3 (ADF rich text) and /rest/api/2 (wiki strings) and /rest/api/latest (=2);
  Basic auth base64(email:api_token); users by accountId; search = /search/jql (GET, POST)
  with nextPageToken; the old /search answers 410.
- "dc": /rest/api/2 and /rest/api/latest only (no v3: 404; no /search/jql: 404);
  Authorization: Bearer <PAT>; users by name/key; search = /search with startAt/maxResults,
  maxResults capped (50 by default) and reported.

Endpoints (under /rest/api/3 and /rest/api/2 on Cloud, /rest/api/2 on DC; "latest" = 2):
    GET  myself, serverInfo, mypermissions?projectKey|projectId|issueKey|issueId&permissions=
    GET  user?accountId= (DC: username=|key=), user/search, user/assignable/search?project=
    GET  project/{idOrKey}, project/{idOrKey}/statuses, status, statuscategory, priority,
         resolution, resolution/{id}, resolution/search (Cloud)
    GET  issue/createmeta/{projectIdOrKey}/issuetypes[/{issueTypeId}]  (startAt, maxResults;
         Cloud pages {issueTypes|fields, startAt, maxResults, total}, DC {values, isLast, ...})
    POST issue   GET|PUT|DELETE issue/{idOrKey}   PUT issue/{idOrKey}/assignee
    GET|POST issue/{idOrKey}/transitions   GET issue/{idOrKey}/editmeta, .../changelog
    GET|POST issue/{idOrKey}/comment
    GET issue/{idOrKey}/properties   GET|PUT|DELETE issue/{idOrKey}/properties/{key}
    Cloud: GET|POST search/jql, POST search/approximate-count, POST issue/bulkfetch;
           GET|POST search, POST search/id, POST expression/eval -> 410
    DC:    GET|POST search (startAt, maxResults capped and reported, total)

Behaviour worth knowing:
- Start state (and after POST /_fake/reset): one service account (DEFAULT_* below, profile time
  zone America/New_York), no project, timestamps rendered in Asia/Kolkata (+0530: neither UTC
  nor the profile zone), no search lag, webhooks to the CLI's URL if any.
- Every change moves a logical millisecond clock forward (strictly increasing `updated`, at
  least 1 ms apart, wall clock otherwise); POST /_fake/clock {advance} moves it on.
- JQL date literals are read at minute precision in the querying account's profile zone (DST
  included); epoch milliseconds and relative periods (-15m, -2h, -1d, -1w) work too.
- Search lag: with {"search_lag": S} a created/edited/deleted issue stays missing/stale/present
  in search for S seconds (wall clock); GET by id is always fresh; reconcileIssues (Cloud
  /search/jql) reads those ids fresh.
- Webhooks: API writes are echoed asynchronously and in order (user = the API account), human
  changes (/_fake/act) synchronously; receiver answers 408/409/425/429/5xx or a failed
  connection are retried (Cloud: `attempts` in all, after `retry_delays`) with the same
  X-Atlassian-Webhook-Identifier and X-Atlassian-Webhook-Retry: N.
- Seeded issues (/_fake/projects/KEY/issues, /bulk) exist already: no webhook, no search lag.
- JQL `key = X` / `issue in (...)` naming an issue that does not exist (or is deleted) is a 400
  "An issue with key 'X' does not exist for field 'key'." like Jira ({"jql_strict_keys":
  false} turns that off); a moved issue's old key still resolves. `labels` compare without
  case. Unbounded JQL is a 400 on /search/jql, allowed on DC /search.
- 401s: Cloud {"errorMessages":["Client must be authenticated to access this resource."],
  "errors":{}}, DC {"errorMessages":["You are not authenticated. Authentication required to
  perform this operation."],"errors":{}}; X-Seraph-LoginReason: AUTHENTICATED_FAILED when
  credentials were sent.
- DC webhooks carry X-Hub-Signature (with a secret) but no X-Atlassian-Webhook-* headers and
  are not retried unless {"webhook": {"attempts": N}} says so (trackers.md: best effort).
- Switching the flavour resets the fake, and the new flavour stays for later resets.
- Changelog items in API responses leave out null from/to/fromString and render a null
  toString as "" (the official description types them as non-nullable strings, and its
  validator mistakes a missing toString for Object.prototype.toString); webhook payloads carry
  the nulls like Jira.
- Comments (trackers.md B5): POST issue/{idOrKey}/comment {"body": ADF doc (v3) or wiki text
  (v2/DC), "visibility", "properties"} -> 201 Comment (expand=renderedBody,properties);
  GET issue/{idOrKey}/comment?startAt=&maxResults= (default 100)&orderBy=created|+created|
  -created&expand= -> PageOfComments {startAt, maxResults, total, comments}, oldest first
  unless -created. A missing/null/empty body (no ADF content, blank wiki text) is a 400
  errors.comment "Comment body can not be empty!", a body of the wrong kind or an ADF that is
  not a doc the same 400s as a description; an unknown or invisible issue 404; without the
  ADD_COMMENTS permission 403. A comment moves the issue's `updated` (not its changelog) and
  fires jira:issue_updated (issue_event_type_name issue_commented, with `comment`), then
  comment_created (timestamp, webhookEvent, comment, issue with summary/status/issuetype/
  project/assignee/priority only); /_fake/act comment does the same for a human.
  Visibility is stored and shown, not enforced (no groups or roles here).
- Not modelled: comment get/update/delete by id and POST comment/list, comment_updated/
  comment_deleted, per-issue comment limits (413), comment_created for a transition's
  update.comment (stored and carried by its jira:issue_updated only), attachments, links,
  sub-tasks, boards, OAuth/3LO, dynamic webhooks registration, GraphQL.
"""

import base64
import collections
import copy
import hashlib
import heapq
import hmac
import html
import http.client
import json
import queue
import re
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import fake_base
from fake_base import ApiError, ControlError, control_route, dumps, route

JIRA_JSON = "application/json;charset=UTF-8"
MAX_ISSUES = 200_000
MAX_DELIVERIES = 10_000
MAX_HISTORY = 500  # changelog entries kept per issue
MAX_LAG_VIEWS = 1  # the index keeps one stale view per issue (the state before the change)
FIRST_ISSUE_ID = 10000
FIRST_PROJECT_ID = 10000
FIRST_ISSUETYPE_ID = 10001
FIRST_STATUS_ID = 10000
FIRST_CUSTOMFIELD = 10050
SUMMARY_MAX = 255
TEXT_MAX = 32767
LABEL_MAX = 255
PROPERTY_MAX = 32768
DEFAULT_EMAIL = "closeloop-bot@example.com"
DEFAULT_API_TOKEN = "jira-api-token-0123456789"
DEFAULT_PAT = "jira-pat-0123456789"
DEFAULT_NAME = "closeloop-bot"
DEFAULT_ACCOUNT_ID = "712020:5f1b1b2c-3d4e-4f50-9a6b-7c8d9e0f1a2b"
DEFAULT_PROFILE_ZONE = "America/New_York"
DEFAULT_RENDER_ZONE = "Asia/Kolkata"
SITE = "https://closeloop-test.atlassian.net"
NOT_FOUND_ISSUE = "Issue does not exist or you do not have permission to see it."
NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
GONE_SEARCH = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
               "API. A full migration guideline is available at "
               "https://developer.atlassian.com/changelog/#CHANGE-2046")
UNBOUNDED = ("Unbounded JQL queries are not allowed here. Please add a search restriction to "
             "your query.")
CLOUD_401 = "Client must be authenticated to access this resource."
DC_401 = "You are not authenticated. Authentication required to perform this operation."
DATE_FORMATS_MSG = ("Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', "
                    "'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")
RETRY_STATUSES = {408, 409, 425, 429}

CATEGORIES = {  # key -> (id, name, colorName)
    "undefined": (1, "No Category", "medium-gray"),
    "new": (2, "To Do", "blue-gray"),
    "done": (3, "Done", "green"),
    "indeterminate": (4, "In Progress", "yellow"),
}
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]
DEFAULT_RESOLUTIONS = [
    ("10000", "Done", "Work has been completed on this issue."),
    ("10001", "Won't Do", "This issue won't be actioned."),
    ("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
    ("10003", "Cannot Reproduce", "This issue couldn't be reproduced."),
]
PERMISSIONS = {  # key -> (id, name, type)
    "BROWSE_PROJECTS": ("10", "Browse Projects", "PROJECT"),
    "CREATE_ISSUES": ("11", "Create Issues", "PROJECT"),
    "EDIT_ISSUES": ("12", "Edit Issues", "PROJECT"),
    "ASSIGN_ISSUES": ("13", "Assign Issues", "PROJECT"),
    "RESOLVE_ISSUES": ("14", "Resolve Issues", "PROJECT"),
    "ADD_COMMENTS": ("15", "Add Comments", "PROJECT"),
    "DELETE_ISSUES": ("16", "Delete Issues", "PROJECT"),
    "ASSIGNABLE_USER": ("17", "Assignable User", "PROJECT"),
    "CLOSE_ISSUES": ("18", "Close Issues", "PROJECT"),
    "ADMINISTER_PROJECTS": ("23", "Administer Projects", "PROJECT"),
    "SCHEDULE_ISSUES": ("28", "Schedule Issues", "PROJECT"),
    "MODIFY_REPORTER": ("30", "Modify Reporter", "PROJECT"),
    "TRANSITION_ISSUES": ("46", "Transition Issues", "PROJECT"),
    "ADMINISTER": ("0", "Administer Jira", "GLOBAL"),
}
DEFAULT_PERMISSIONS = ["BROWSE_PROJECTS", "CREATE_ISSUES", "EDIT_ISSUES", "ASSIGN_ISSUES",
                       "RESOLVE_ISSUES", "ADD_COMMENTS", "DELETE_ISSUES", "ASSIGNABLE_USER",
                       "CLOSE_ISSUES", "SCHEDULE_ISSUES", "TRANSITION_ISSUES"]
SYSTEM_FIELDS = {  # id -> (name, schema, navigable)
    "summary": ("Summary", {"type": "string", "system": "summary"}, True),
    "description": ("Description", {"type": "string", "system": "description"}, True),
    "status": ("Status", {"type": "status", "system": "status"}, True),
    "resolution": ("Resolution", {"type": "resolution", "system": "resolution"}, True),
    "resolutiondate": ("Resolved", {"type": "datetime", "system": "resolutiondate"}, True),
    "issuetype": ("Issue Type", {"type": "issuetype", "system": "issuetype"}, True),
    "project": ("Project", {"type": "project", "system": "project"}, True),
    "assignee": ("Assignee", {"type": "user", "system": "assignee"}, True),
    "reporter": ("Reporter", {"type": "user", "system": "reporter"}, True),
    "creator": ("Creator", {"type": "user", "system": "creator"}, True),
    "labels": ("Labels", {"type": "array", "items": "string", "system": "labels"}, True),
    "duedate": ("Due date", {"type": "date", "system": "duedate"}, True),
    "priority": ("Priority", {"type": "priority", "system": "priority"}, True),
    "created": ("Created", {"type": "datetime", "system": "created"}, True),
    "updated": ("Updated", {"type": "datetime", "system": "updated"}, True),
    "statuscategorychangedate": ("Status Category Changed",
                                 {"type": "datetime", "system": "statuscategorychangedate"},
                                 True),
    "comment": ("Comment", {"type": "comments-page", "system": "comment"}, False),
}
CUSTOM_TYPES = {  # type -> (schema type, custom key, items)
    "string": ("string", "com.atlassian.jira.plugin.system.customfieldtypes:textfield", None),
    "textarea": ("string", "com.atlassian.jira.plugin.system.customfieldtypes:textarea", None),
    "number": ("number", "com.atlassian.jira.plugin.system.customfieldtypes:float", None),
    "select": ("option", "com.atlassian.jira.plugin.system.customfieldtypes:select", None),
    "date": ("date", "com.atlassian.jira.plugin.system.customfieldtypes:datepicker", None),
    "labels": ("array", "com.atlassian.jira.plugin.system.customfieldtypes:labels", "string"),
}
SCREEN_FIELDS = ["summary", "description", "assignee", "duedate", "labels", "priority"]
OPERATIONS = {"summary": ["set"], "description": ["set"], "assignee": ["set"],
              "duedate": ["set"], "labels": ["add", "set", "remove"], "priority": ["set"],
              "reporter": ["set"], "project": ["set"], "issuetype": [],
              "resolution": ["set"]}


# --------------------------------------------------------------------------------------------
# Helpers


def jira_error(status, messages=(), errors=None, headers=None):
    """ApiError with Jira's ErrorCollection body."""
    return ApiError(status, {"errorMessages": list(messages), "errors": dict(errors or {})},
                    headers)


def field_errors(errors):
    return jira_error(400, [], errors)


_zones = {}


def zone(name):
    z = _zones.get(name)
    if z is None:
        try:
            z = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ControlError(400, f"unknown time zone {name!r} (IANA names, e.g. "
                                    "America/New_York)")
        _zones[name] = z
    return z


def render_ts(ms, zone_name):
    """Epoch ms -> Jira's '2024-01-31T12:34:56.789+0530' in the given zone (None -> None)."""
    if ms is None:
        return None
    d = datetime.fromtimestamp(ms // 1000, zone(zone_name))
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + d.strftime("%z")


def parse_ts(s):
    """ISO 8601 / Jira timestamp or epoch ms -> epoch ms (None when unreadable)."""
    if isinstance(s, bool) or s is None:
        return None
    if isinstance(s, (int, float)):
        return int(s)
    if not isinstance(s, str):
        return None
    t = s.strip()
    m = re.fullmatch(r"(.*[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([+-]\d\d)(\d\d)", t)
    if m:
        t = f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    try:
        d = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp() * 1000)


def valid_date(s):
    """'YYYY-MM-DD' (a calendar date) -> True."""
    if not isinstance(s, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d", s):
        return False
    try:
        datetime.strptime(s, "%Y-%m-%d")
        return True
    except ValueError:
        return False


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def split_list(values):
    """Query values (repeated and/or comma separated) -> a flat list of non-empty items."""
    out = []
    for v in values:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


# --------------------------------------------------------------------------------------------
# Rich text: ADF (v3) and wiki markup (v2)

ADF_MARKS = {"strong", "em", "code", "strike", "underline", "link", "textColor", "subsup",
             "backgroundColor", "alignment", "indentation", "border", "annotation"}
ADF_INLINE = {"text", "hardBreak", "mention", "emoji", "date", "inlineCard", "status",
              "placeholder", "mediaInline", "inlineExtension"}
ADF_BLOCKS = {"paragraph", "heading", "bulletList", "orderedList", "codeBlock", "blockquote",
              "rule", "panel", "table", "mediaSingle", "mediaGroup", "blockCard", "expand",
              "taskList", "decisionList", "extension", "bodiedExtension", "embedCard"}
ADF_OTHER = {"listItem", "tableRow", "tableHeader", "tableCell", "media", "nestedExpand",
             "taskItem", "decisionItem", "caption"}


class AdfError(ValueError):
    pass


def check_adf(doc):
    """Raises AdfError unless `doc` is an ADF document (the rules of trackers.md B12)."""
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        raise AdfError("not a doc")
    if doc.get("version") != 1:
        raise AdfError("doc.version must be 1")
    content = doc.get("content")
    if not isinstance(content, list):
        raise AdfError("doc.content must be an array")
    for n in content:
        _check_node(n, block=True, depth=1)


def _check_node(n, block, depth):
    if depth > 40:
        raise AdfError("too deep")
    if not isinstance(n, dict) or not isinstance(n.get("type"), str):
        raise AdfError("node without type")
    t = n["type"]
    content = n.get("content")
    if content is not None and not isinstance(content, list):
        raise AdfError(f"{t}.content must be an array")
    attrs = n.get("attrs")
    if attrs is not None and not isinstance(attrs, dict):
        raise AdfError(f"{t}.attrs must be an object")
    if t == "text":
        if block:
            raise AdfError("text node at block level")
        if not isinstance(n.get("text"), str) or not n["text"]:
            raise AdfError("text nodes need a non-empty text")
        marks = n.get("marks", [])
        if not isinstance(marks, list):
            raise AdfError("marks must be an array")
        for m in marks:
            if not isinstance(m, dict) or m.get("type") not in ADF_MARKS:
                raise AdfError("unknown mark")
            if m["type"] == "link" and not isinstance((m.get("attrs") or {}).get("href"), str):
                raise AdfError("link mark needs attrs.href")
        return
    if t in ADF_INLINE:
        if block:
            raise AdfError(f"{t} at block level")
        if t == "mention" and not isinstance((attrs or {}).get("id"), str):
            raise AdfError("mention needs attrs.id")
        return
    if t not in ADF_BLOCKS and t not in ADF_OTHER:
        raise AdfError(f"unknown node type {t}")
    if t == "paragraph":
        for c in content or []:
            _check_node(c, block=False, depth=depth + 1)
        return
    if t == "heading":
        level = (attrs or {}).get("level")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 6:
            raise AdfError("heading needs attrs.level 1..6")
        for c in content or []:
            _check_node(c, block=False, depth=depth + 1)
        return
    if t == "codeBlock":
        for c in content or []:
            if not isinstance(c, dict) or c.get("type") != "text" or c.get("marks"):
                raise AdfError("codeBlock holds text nodes without marks")
            _check_node(c, block=False, depth=depth + 1)
        return
    if t in ("bulletList", "orderedList"):
        if not content:
            raise AdfError(f"{t} needs at least one listItem")
        for c in content:
            if not isinstance(c, dict) or c.get("type") != "listItem":
                raise AdfError(f"{t} holds listItems")
            _check_node(c, block=True, depth=depth + 1)
        return
    if t in ("listItem", "blockquote"):
        if not content:
            raise AdfError(f"{t} needs content")
        for c in content:
            _check_node(c, block=True, depth=depth + 1)
        return
    if t == "rule":
        return
    for c in content or []:  # the other containers: checked loosely
        if isinstance(c, dict) and c.get("type") in ADF_INLINE | {"text"}:
            _check_node(c, block=False, depth=depth + 1)
        else:
            _check_node(c, block=True, depth=depth + 1)


def text_to_adf(text):
    """Plain/wiki text -> ADF (paragraphs on blank lines, hardBreaks inside; h1. headings, '* '
    bullets and {code} blocks recognised; inline *strong* _em_ {{code}} [t|url] marks)."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    blocks = []
    lines = text.split("\n")
    i = 0
    para = []

    def flush():
        if para:
            content = []
            for j, line in enumerate(para):
                if j:
                    content.append({"type": "hardBreak"})
                content.extend(_wiki_inline(line))
            blocks.append({"type": "paragraph", "content": content} if content
                          else {"type": "paragraph"})
            para.clear()

    while i < len(lines):
        line = lines[i]
        m = re.match(r"\{code(?::([A-Za-z0-9_+-]+))?\}\s*$", line)
        if m:
            flush()
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("{code}"):
                body.append(lines[i])
                i += 1
            node = {"type": "codeBlock"}
            if m.group(1):
                node["attrs"] = {"language": m.group(1)}
            if "\n".join(body):
                node["content"] = [{"type": "text", "text": "\n".join(body)}]
            blocks.append(node)
            i += 1
            continue
        m = re.match(r"h([1-6])\.\s+(.*)$", line)
        if m:
            flush()
            node = {"type": "heading", "attrs": {"level": int(m.group(1))}}
            inl = _wiki_inline(m.group(2))
            if inl:
                node["content"] = inl
            blocks.append(node)
            i += 1
            continue
        if re.match(r"[*#] ", line):
            flush()
            kind = "bulletList" if line[0] == "*" else "orderedList"
            items = []
            while i < len(lines) and re.match(r"[*#] ", lines[i]) and lines[i][0] == line[0]:
                inl = _wiki_inline(lines[i][2:])
                p = {"type": "paragraph", "content": inl} if inl else {"type": "paragraph"}
                items.append({"type": "listItem", "content": [p]})
                i += 1
            blocks.append({"type": kind, "content": items})
            continue
        if line.strip() == "----":
            flush()
            blocks.append({"type": "rule"})
            i += 1
            continue
        if not line.strip():
            flush()
        else:
            para.append(line)
        i += 1
    flush()
    return {"type": "doc", "version": 1, "content": blocks}


_INLINE_RX = re.compile(r"\{\{(.+?)\}\}|\[([^|\]]+)\|([^\]]+)\]|(?<![\w*])\*(\S(?:.*?\S)?)\*"
                        r"(?![\w*])|(?<![\w_])_(\S(?:.*?\S)?)_(?![\w_])")


def _wiki_inline(s):
    out = []
    pos = 0
    for m in _INLINE_RX.finditer(s):
        if m.start() > pos:
            out.append({"type": "text", "text": s[pos:m.start()]})
        if m.group(1) is not None:
            out.append({"type": "text", "text": m.group(1), "marks": [{"type": "code"}]})
        elif m.group(2) is not None:
            out.append({"type": "text", "text": m.group(2),
                        "marks": [{"type": "link", "attrs": {"href": m.group(3)}}]})
        elif m.group(4) is not None:
            out.append({"type": "text", "text": m.group(4), "marks": [{"type": "strong"}]})
        else:
            out.append({"type": "text", "text": m.group(5), "marks": [{"type": "em"}]})
        pos = m.end()
    if pos < len(s):
        out.append({"type": "text", "text": s[pos:]})
    return out


def adf_to_wiki(doc):
    """ADF -> wiki markup (what Jira's v2 API shows for a v3-written description)."""
    if not isinstance(doc, dict):
        return ""
    return "\n\n".join(x for x in (_wiki_block(n, 1) for n in doc.get("content") or []) if x)


def _wiki_block(n, depth):
    t = n.get("type")
    content = n.get("content") or []
    if t == "paragraph":
        return "".join(_wiki_inl(c) for c in content)
    if t == "heading":
        return f"h{(n.get('attrs') or {}).get('level', 1)}. " + \
            "".join(_wiki_inl(c) for c in content)
    if t in ("bulletList", "orderedList"):
        mark = ("*" if t == "bulletList" else "#") * depth
        lines = []
        for item in content:
            parts = []
            for c in item.get("content") or []:
                if c.get("type") in ("bulletList", "orderedList"):
                    parts.append(_wiki_block(c, depth + 1))
                else:
                    parts.append(f"{mark} " + _wiki_block(c, depth))
            lines.append("\n".join(parts))
        return "\n".join(lines)
    if t == "codeBlock":
        lang = (n.get("attrs") or {}).get("language")
        body = "".join(c.get("text", "") for c in content)
        return (f"{{code:{lang}}}" if lang else "{code}") + "\n" + body + "\n{code}"
    if t == "blockquote":
        return "{quote}" + "\n\n".join(_wiki_block(c, depth) for c in content) + "{quote}"
    if t == "rule":
        return "----"
    if t in ADF_INLINE or t == "text":
        return _wiki_inl(n)
    return "\n\n".join(x for x in (_wiki_block(c, depth) for c in content) if x)


def _wiki_inl(n):
    t = n.get("type")
    if t == "text":
        s = n.get("text", "")
        for m in n.get("marks") or []:
            mt = m.get("type")
            if mt == "strong":
                s = f"*{s}*"
            elif mt == "em":
                s = f"_{s}_"
            elif mt == "code":
                s = "{{" + s + "}}"
            elif mt == "strike":
                s = f"-{s}-"
            elif mt == "underline":
                s = f"+{s}+"
            elif mt == "link":
                s = f"[{s}|{(m.get('attrs') or {}).get('href', '')}]"
        return s
    if t == "hardBreak":
        return "\n"
    if t == "mention":
        return f"[~accountid:{(n.get('attrs') or {}).get('id', '')}]"
    if t == "emoji":
        return (n.get("attrs") or {}).get("shortName", "")
    if t == "inlineCard":
        return (n.get("attrs") or {}).get("url", "")
    return "".join(_wiki_inl(c) for c in n.get("content") or [])


def rich(value, want):
    """A stored rich-text value ({"adf": doc} | {"wiki": str} | None) as "adf" or "wiki"."""
    if value is None:
        return None
    if want == "adf":
        return value["adf"] if "adf" in value else text_to_adf(value["wiki"])
    return value["wiki"] if "wiki" in value else adf_to_wiki(value["adf"])


# --------------------------------------------------------------------------------------------
# JQL: a subset, parsed properly; anything else is a 400 that says what it did not understand

class JqlError(Exception):
    """A JQL problem: answered 400 with the message in errorMessages."""


_JQL_TOKEN = re.compile(
    r"""\s+|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|!~|>=|<=|=|>|<|~)"""
    r"""|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|(?P<word>[^\s()=!<>~,"']+)""")
JQL_KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}
JQL_OPS_TEXT = ("The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', "
                "'NOT IN', 'IS' and 'IS NOT'.")
MAX_ORDER_FIELDS = 7


def _syntax(msg, pos):
    return JqlError(f"Error in the JQL Query: {msg} (line 1, character {pos + 1})")


def jql_lex(s):
    toks = []
    pos = 0
    while pos < len(s):
        m = _JQL_TOKEN.match(s, pos)
        if not m or m.end() == pos:
            ch = s[pos]
            if ch in "\"'":
                raise _syntax(f"The quoted string starting at {ch} has not been completed.",
                              pos)
            raise _syntax(f"The character '{ch}' is a reserved JQL character. You must "
                          "enclose it in a string or use the escape '\\u%04x' instead."
                          % ord(ch), pos)
        kind = m.lastgroup
        if kind:
            text = m.group(kind)
            if kind == "str":
                text = re.sub(r"\\(.)", r"\1", text[1:-1])
            toks.append((kind, text, pos))
        pos = m.end()
    toks.append(("eof", None, len(s)))
    return toks


class JqlParser:
    """query := [or] [ORDER BY field [ASC|DESC] {, ...}];  or := and {OR and};
    and := not {AND not};  not := NOT not | ( or ) | clause;  clause := field op value."""

    def __init__(self, text):
        self.text = text
        self.toks = jql_lex(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def take(self):
        t = self.toks[self.i]
        if t[0] != "eof":  # never past the end
            self.i += 1
        return t

    def is_word(self, *words):
        k, v, _ = self.peek()
        return k == "word" and v.lower() in words

    @staticmethod
    def show(tok):
        return "end of query" if tok[0] == "eof" else f"'{tok[1]}'"

    def parse(self):
        where = None
        if self.peek()[0] != "eof" and not self.is_word("order"):
            where = self.parse_or()
        order = []
        if self.is_word("order"):
            self.take()
            if not self.is_word("by"):
                t = self.peek()
                raise _syntax(f"Expecting 'BY' but got {self.show(t)}.", t[2])
            self.take()
            while True:
                k, v, pos = self.take()
                if k not in ("word", "str") or (k == "word" and v.lower() in JQL_KEYWORDS):
                    raise _syntax(f"Expecting a field name but got {self.show((k, v, pos))}.",
                                  pos)
                direction = None
                if self.is_word("asc", "desc"):
                    direction = self.take()[1].lower()
                order.append((v, direction, pos))
                if self.peek()[0] != "comma":
                    break
                self.take()
        t = self.peek()
        if t[0] != "eof":
            raise _syntax(f"Expecting either 'OR' or 'AND' but got {self.show(t)}.", t[2])
        if len(order) > MAX_ORDER_FIELDS:
            raise JqlError(f"The ORDER BY clause may contain at most {MAX_ORDER_FIELDS} "
                           "fields.")
        return where, order

    def parse_or(self):
        parts = [self.parse_and()]
        while self.is_word("or"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def parse_and(self):
        parts = [self.parse_not()]
        while self.is_word("and"):
            self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def parse_not(self):
        if self.is_word("not"):
            self.take()
            return ("not", self.parse_not())
        if self.peek()[0] == "lp":
            self.take()
            e = self.parse_or()
            t = self.take()
            if t[0] != "rp":
                raise _syntax(f"Expecting ')' but got {self.show(t)}.", t[2])
            return e
        return self.parse_clause()

    def parse_clause(self):
        k, field, pos = self.take()
        if k not in ("word", "str") or (k == "word" and field.lower() in JQL_KEYWORDS):
            raise _syntax(f"Expecting a field name but got {self.show((k, field, pos))}.", pos)
        t = self.peek()
        if t[0] == "op":
            op = self.take()[1]
        elif self.is_word("in"):
            self.take()
            op = "in"
        elif self.is_word("not"):
            self.take()
            if not self.is_word("in"):
                t = self.peek()
                raise _syntax(f"Expecting 'IN' but got {self.show(t)}.", t[2])
            self.take()
            op = "not in"
        elif self.is_word("is"):
            self.take()
            op = "is"
            if self.is_word("not"):
                self.take()
                op = "is not"
        else:
            raise _syntax(f"Expecting operator but got {self.show(t)}. {JQL_OPS_TEXT}", t[2])
        if op in ("in", "not in"):
            t = self.take()
            if t[0] != "lp":
                raise _syntax(f"Expecting '(' but got {self.show(t)}.", t[2])
            values = [self.parse_value()]
            while self.peek()[0] == "comma":
                self.take()
                values.append(self.parse_value())
            t = self.take()
            if t[0] != "rp":
                raise _syntax(f"Expecting ')' but got {self.show(t)}.", t[2])
            return ("clause", field, op, ("list", values), pos)
        if op in ("is", "is not"):
            if not self.is_word("empty", "null"):
                t = self.peek()
                raise _syntax(f"Expecting 'EMPTY' or 'NULL' but got {self.show(t)}.", t[2])
            self.take()
            return ("clause", field, op, ("empty",), pos)
        return ("clause", field, op, self.parse_value(), pos)

    def parse_value(self):
        k, v, pos = self.take()
        if k == "str":
            return ("str", v, pos)
        if k == "word":
            lw = v.lower()
            if lw in ("empty", "null"):
                return ("empty",)
            if lw in JQL_KEYWORDS:
                raise _syntax(f"Expecting either a value, list or function but got '{v}'.",
                              pos)
            if self.peek()[0] == "lp":
                self.take()
                args = []
                while self.peek()[0] != "rp":
                    a = self.take()
                    if a[0] not in ("str", "word"):
                        raise _syntax(f"Expecting a function argument but got "
                                      f"{self.show(a)}.", a[2])
                    args.append(a[1])
                    if self.peek()[0] == "comma":
                        self.take()
                self.take()
                return ("func", v, args, pos)
            return ("str", v, pos)
        raise _syntax(f"Expecting either a value, list or function but got "
                      f"{self.show((k, v, pos))}.", pos)


_REL = re.compile(r"([-+])?\s*((?:\d+\s*[wdhm]\s*)+)\Z")
_ABS = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?\Z")


class JqlCompiler:
    """Turns a parsed query into a predicate and a sort key, against the state (under its lock)
    and for one account (its profile zone and identity)."""

    DATE_FIELDS = {"updated": "updated", "updateddate": "updated", "created": "created",
                   "createddate": "created", "resolved": "resolutiondate",
                   "resolutiondate": "resolutiondate"}
    SORTS = {"updated", "updateddate", "created", "createddate", "key", "issuekey", "id",
             "duedate", "summary", "status", "priority", "project", "resolved",
             "resolutiondate"}
    DEFAULT_DESC = {"updated", "updateddate", "created", "createddate", "resolved",
                    "resolutiondate"}

    def __init__(self, state, account, now_ms):
        self.st = state
        self.account = account
        self.now_ms = now_ms
        self.zone = zone(account["timeZone"])
        self.time_dependent = False  # relative dates / now(): results move with the clock

    def compile(self, text):
        where, order = JqlParser(text or "").parse()
        pred = self.node(where) if where is not None else None
        return pred, self.sorter(order), where is not None

    # -- boolean structure --------------------------------------------------------------------
    def node(self, n):
        kind = n[0]
        if kind == "and":
            ps = [self.node(x) for x in n[1]]
            return lambda v: all(p(v) for p in ps)
        if kind == "or":
            ps = [self.node(x) for x in n[1]]
            return lambda v: any(p(v) for p in ps)
        if kind == "not":
            p = self.node(n[1])
            return lambda v: not p(v)
        return self.clause(*n[1:])

    # -- clauses ------------------------------------------------------------------------------
    def clause(self, field, op, value, pos):
        f = field.lower()
        if f == "project":
            return self.set_clause(field, op, value, self.project_ids, lambda v: v["project_id"])
        if f in ("key", "issuekey", "issue", "id"):
            return self.set_clause(field, op, value, lambda vals: self.issue_ids(field, vals),
                                   lambda v: v["id"])
        if f == "labels":
            return self.labels_clause(field, op, value)
        if f in self.DATE_FIELDS:
            return self.date_clause(field, op, value, self.DATE_FIELDS[f])
        if f in ("duedate", "due"):
            return self.due_clause(field, op, value)
        if f == "status":
            return self.set_clause(field, op, value, lambda vals: self.status_ids(field, vals),
                                   lambda v: v["status"])
        if f == "statuscategory":
            return self.set_clause(field, op, value, lambda vals: self.categories(field, vals),
                                   lambda v: self.st.statuses[v["status"]]["category"])
        if f == "resolution":
            return self.set_clause(field, op, value, lambda vals: self.resolutions(field, vals),
                                   lambda v: v["resolution"])
        if f in ("assignee", "reporter", "creator"):
            return self.set_clause(field, op, value, lambda vals: self.users(field, vals),
                                   lambda v, f=f: v[f])
        if f in ("issuetype", "type"):
            return self.set_clause(field, op, value, lambda vals: self.types(field, vals),
                                   lambda v: v["issuetype"])
        if f in ("summary", "text", "description"):
            return self.text_clause(field, op, value, f)
        if f in {c["name"].lower() for c in self.st.custom_fields.values()} or \
                re.fullmatch(r"cf\[\d+\]|customfield_\d+", f):
            raise JqlError(f"fake-jira: searching custom field '{field}' is not supported by "
                           "this fake (project, key, id, issue, labels, updated, created, "
                           "resolved, duedate, status, statusCategory, resolution, assignee, "
                           "reporter, creator, issuetype, summary, text are).")
        if f.startswith("issue.property") or f in ("comment", "priority", "component",
                                                     "fixversion", "sprint", "parent",
                                                     "watcher", "worklogdate", "environment"):
            raise JqlError(f"fake-jira: the field '{field}' is not supported by this fake's "
                           "JQL subset.")
        raise JqlError(f"Field '{field}' does not exist or you do not have permission to "
                       "view it.")

    @staticmethod
    def unsupported(field, op):
        return JqlError(f"The operator '{op.upper()}' is not supported by the '{field}' field.")

    def values(self, field, value):
        """Literal values of a clause (functions resolved) -> list of str (None for EMPTY)."""
        items = value[1] if value[0] == "list" else [value]
        out = []
        for it in items:
            if it[0] == "empty":
                out.append(None)
            elif it[0] == "func":
                name = it[1].lower()
                if name == "currentuser" and field.lower() in ("assignee", "reporter",
                                                                "creator"):
                    out.append(("user", self.account["id"]))
                else:
                    raise JqlError(f"fake-jira: the JQL function '{it[1]}()' is not supported "
                                   f"for the field '{field}' by this fake.")
            else:
                out.append(it[1])
        return out

    def set_clause(self, field, op, value, resolve, get):
        if op not in ("=", "!=", "in", "not in", "is", "is not"):
            raise self.unsupported(field, op)
        if op in ("is", "is not"):
            if op == "is":
                return lambda v: get(v) is None
            return lambda v: get(v) is not None
        vals = self.values(field, value)
        want_empty = None in vals  # = EMPTY: only fields that can be empty match
        ids = resolve([x for x in vals if x is not None])
        if op in ("=", "in"):
            return lambda v: (get(v) in ids) or (want_empty and get(v) is None)
        # != and NOT IN never match an empty value (JQL semantics)
        return lambda v: get(v) is not None and get(v) not in ids and \
            not (want_empty and get(v) is None)

    def project_ids(self, vals):
        out = set()
        for x in vals:
            p = self.st.project_ref(x, names=True)
            if p is None or not self.st.can(self.account, p, "BROWSE_PROJECTS"):
                raise JqlError(f"The value '{x}' does not exist for the field 'project'.")
            out.add(p["id"])
        return out

    def issue_ids(self, field, vals):
        out = set()
        for x in vals:
            issue = self.st.find_issue(str(x))
            if issue is None or issue["deleted"] or not self.st.can(
                    self.account, self.st.projects_by_id[issue["project_id"]],
                    "BROWSE_PROJECTS"):
                if self.st.config["jql_strict_keys"]:
                    raise JqlError(f"An issue with key '{x}' does not exist for field "
                                   f"'{field}'.")
                continue
            out.add(issue["id"])
        return out

    def status_ids(self, field, vals):
        out = set()
        for x in vals:
            s = self.st.status_ref(x)
            if s is None:
                raise JqlError(f"The value '{x}' does not exist for the field '{field}'.")
            out.add(s["id"])
        return out

    def categories(self, field, vals):
        out = set()
        for x in vals:
            found = None
            for key, (cid, name, _) in CATEGORIES.items():
                if str(x).lower() in (key, name.lower(), str(cid)):
                    found = key
            if found is None:
                raise JqlError(f"The value '{x}' does not exist for the field '{field}'.")
            out.add(found)
        return out

    def resolutions(self, field, vals):
        out = set()
        for x in vals:
            if str(x).lower() == "unresolved":
                out.add(None)
                continue
            r = self.st.resolution_ref(x)
            if r is None:
                raise JqlError(f"The value '{x}' does not exist for the field '{field}'.")
            out.add(r["id"])
        return out

    def users(self, field, vals):
        out = set()
        for x in vals:
            if isinstance(x, tuple):
                out.add(x[1])
                continue
            acc = self.st.account_ref(x, jql=True)
            if acc is None:
                if self.st.config["flavour"] == "dc":
                    raise JqlError(f"The value '{x}' does not exist for the field '{field}'.")
                continue  # Cloud: an unknown accountId just matches nothing
            out.add(acc["id"])
        return out

    def types(self, field, vals):
        out = set()
        for x in vals:
            hit = [t["id"] for p in self.st.projects.values() for t in p["issuetypes"]
                   if str(x).lower() in (t["name"].lower(), t["id"])]
            if not hit:
                raise JqlError(f"The value '{x}' does not exist for the field '{field}'.")
            out.update(hit)
        return out

    def labels_clause(self, field, op, value):
        if op not in ("=", "!=", "in", "not in", "is", "is not"):
            raise self.unsupported(field, op)
        if op == "is":
            return lambda v: not v["labels"]
        if op == "is not":
            return lambda v: bool(v["labels"])
        vals = self.values(field, value)
        want_empty = None in vals
        wanted = {x.lower() for x in vals if x is not None}
        if op in ("=", "in"):
            return lambda v: any(lab.lower() in wanted for lab in v["labels"]) or \
                (want_empty and not v["labels"])
        return lambda v: bool(v["labels"]) and not any(lab.lower() in wanted
                                                       for lab in v["labels"])

    def text_clause(self, field, op, value, f):
        if op not in ("~", "!~"):
            raise self.unsupported(field, op)
        vals = self.values(field, value)
        if len(vals) != 1 or vals[0] is None:
            raise JqlError(f"The field '{field}' needs a text value.")
        needle = vals[0].lower().strip("*")

        def text(v):
            parts = []
            if f in ("summary", "text"):
                parts.append(v["summary"])
            if f in ("description", "text"):
                parts.append(rich(v["description"], "wiki") or "")
            return "\n".join(parts).lower()
        if op == "~":
            return lambda v: needle in text(v)
        return lambda v: needle not in text(v)

    def instant(self, field, it):
        """A date-time value -> epoch ms (minute precision, the account's profile zone)."""
        if it[0] == "func":
            self.time_dependent = True
            name = it[1].lower()
            now = datetime.fromtimestamp(self.now_ms / 1000, self.zone)
            if name == "now":
                return self.now_ms
            if name in ("startofday", "endofday"):
                d = now.replace(hour=0, minute=0, second=0, microsecond=0)
                if name == "endofday":
                    d = d + timedelta(days=1)
                    return int(d.timestamp() * 1000) - 1
                return int(d.timestamp() * 1000)
            raise JqlError(f"fake-jira: the JQL function '{it[1]}()' is not supported for the "
                           f"field '{field}' by this fake (now, startOfDay and endOfDay are).")
        if it[0] != "str":
            raise JqlError(f"The field '{field}' does not support EMPTY here.")
        s = it[1].strip()
        if re.fullmatch(r"\d{5,}", s):
            return int(s)  # epoch milliseconds
        m = _REL.fullmatch(s)
        if m:
            self.time_dependent = True
            total = 0
            for n, unit in re.findall(r"(\d+)\s*([wdhm])", m.group(2)):
                total += int(n) * {"w": 604800, "d": 86400, "h": 3600, "m": 60}[unit]
            sign = -1 if m.group(1) == "-" else 1
            return self.now_ms + sign * total * 1000
        m = _ABS.fullmatch(s)
        if m:
            y, mo, d, hh, mm = m.groups()
            try:
                local = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0),
                                 tzinfo=self.zone)
                if hh is not None and not (0 <= int(hh) <= 23):
                    raise ValueError
            except ValueError:
                local = None
            if local is not None:
                return int(local.timestamp() * 1000)
        raise JqlError(f"Date value '{s}' for field '{field}' is invalid. {DATE_FORMATS_MSG}")

    def date_clause(self, field, op, value, attr):
        if op in ("is", "is not"):
            if op == "is":
                return lambda v: v[attr] is None
            return lambda v: v[attr] is not None
        if op in ("in", "not in"):
            ts = {self.instant(field, it) for it in value[1]}
            if op == "in":
                return lambda v: v[attr] in ts
            return lambda v: v[attr] is not None and v[attr] not in ts
        if op not in ("=", "!=", ">", ">=", "<", "<="):
            raise self.unsupported(field, op)
        if value[0] == "empty":
            return (lambda v: v[attr] is None) if op == "=" else (lambda v: v[attr] is not None)
        t = self.instant(field, value)
        cmp = {"=": lambda a: a == t, "!=": lambda a: a != t, ">": lambda a: a > t,
               ">=": lambda a: a >= t, "<": lambda a: a < t, "<=": lambda a: a <= t}[op]
        return lambda v: v[attr] is not None and cmp(v[attr])

    def due_clause(self, field, op, value):
        def day(it):
            ms = self.instant(field, it)
            return datetime.fromtimestamp(ms / 1000, self.zone).strftime("%Y-%m-%d")
        if op in ("is", "is not"):
            return (lambda v: v["duedate"] is None) if op == "is" else \
                (lambda v: v["duedate"] is not None)
        if op not in ("=", "!=", ">", ">=", "<", "<="):
            raise self.unsupported(field, op)
        if value[0] == "empty":
            return (lambda v: v["duedate"] is None) if op == "=" else \
                (lambda v: v["duedate"] is not None)
        t = day(value)
        cmp = {"=": lambda a: a == t, "!=": lambda a: a != t, ">": lambda a: a > t,
               ">=": lambda a: a >= t, "<": lambda a: a < t, "<=": lambda a: a <= t}[op]
        return lambda v: v["duedate"] is not None and cmp(v["duedate"])

    # -- ORDER BY -----------------------------------------------------------------------------
    def sorter(self, order):
        st = self.st
        keys = []
        for field, direction, pos in order:
            f = field.lower()
            if f not in self.SORTS:
                raise JqlError(f"Not able to sort using field '{field}'.")
            desc = (direction == "desc") if direction else f in self.DEFAULT_DESC
            keys.append((f, desc))
        if not keys:
            keys = [("id", True)]

        def value(v, f):
            if f in ("updated", "updateddate"):
                return v["updated"]
            if f in ("created", "createddate"):
                return v["created"]
            if f in ("resolved", "resolutiondate"):
                return v["resolutiondate"]
            if f in ("key", "issuekey"):
                p = st.projects_by_id[v["project_id"]]
                return (p["key"], v["number"])
            if f == "id":
                return v["id"]
            if f == "duedate":
                return v["duedate"]
            if f == "summary":
                return v["summary"].lower()
            if f == "status":
                return st.statuses[v["status"]]["name"].lower()
            if f == "priority":
                return v["priority"]
            return st.projects_by_id[v["project_id"]]["key"]

        def sort(views):
            out = sorted(views, key=lambda v: v["id"])  # stable tie-break
            for f, desc in reversed(keys):
                present = [v for v in out if value(v, f) is not None]
                missing = [v for v in out if value(v, f) is None]
                present.sort(key=lambda v: value(v, f), reverse=desc)
                out = present + missing  # empty values last, either way
            return out
        return sort


# --------------------------------------------------------------------------------------------
# State


def default_config():
    return {
        "flavour": "cloud",
        "render_zone": DEFAULT_RENDER_ZONE,  # zone of created/updated in issue JSON
        "search_lag": 0.0,  # seconds a change stays invisible/stale in search
        "search_max": 100,  # Cloud /search/jql page cap when fields are asked for
        "search_max_ids": 5000,  # ... when only id/key are asked for
        "dc_max_results": 50,  # DC /search cap, reported in maxResults
        "jql_strict_keys": True,  # key = X / issue in (...) with an unknown key: 400
        "near_limit": False,  # X-RateLimit-NearLimit: true on every answer (Cloud)
        "default_resolution": "Done",
        "webhook": {"url": None, "secret": None, "enabled": True, "echo": True,
                    "description": "adf", "jql": None, "attempts": None,
                    "retry_delays": [0.2, 0.5, 1.0, 2.0], "timeout": 10.0},
    }


class State(fake_base.BaseState):
    """Everything the fake knows. All access goes through self.lock (an RLock). The base keeps
    the faults, the request log and the (seconds) clock; this one keeps a millisecond clock."""

    def __init__(self, server):
        self.defaults = {"flavour": "cloud", "webhook_url": None, "webhook_secret": None,
                         "projects": []}
        self.clock_ms = int(time.time() * 1000) - 1000
        super().__init__(server)

    # -- clock ----------------------------------------------------------------------------
    def tick_ms(self, at=None):
        """Next change time (epoch ms): wall clock, but at least 1 ms after the last change.
        With `at` that time is used as is (the clock does not go back)."""
        with self.lock:
            t = max(int(time.time() * 1000), self.clock_ms + 1)
            if at is not None:
                t = int(at)
            self.clock_ms = max(self.clock_ms, t)
            self.clock = max(self.clock, self.clock_ms // 1000)
            return t

    def tick(self, at=None):
        return self.tick_ms(None if at is None else at * 1000) // 1000

    def advance(self, seconds):
        with self.lock:
            out = super().advance(seconds)
            self.clock_ms += int(seconds) * 1000
            return out

    def now_ms(self):
        with self.lock:
            return max(int(time.time() * 1000), self.clock_ms)

    # -- setup ----------------------------------------------------------------------------
    def reset(self):
        with self.lock:
            super().reset()
            self.config = default_config()
            self.config["flavour"] = self.defaults["flavour"]
            self.config["webhook"]["url"] = self.defaults["webhook_url"]
            self.config["webhook"]["secret"] = self.defaults["webhook_secret"]
            self.accounts = {}  # accountId -> account
            self.next_user_key = 10000
            self.statuses = {}  # id -> {id, name, category, description}
            self.next_status_id = FIRST_STATUS_ID
            for name, cat in (("To Do", "new"), ("In Progress", "indeterminate"),
                              ("Done", "done"), ("Won't Do", "done"),
                              ("In Review", "indeterminate")):
                self.add_status(name, cat)
            self.resolutions = collections.OrderedDict(
                (rid, {"id": rid, "name": n, "description": d})
                for rid, n, d in DEFAULT_RESOLUTIONS)
            self.projects = {}  # KEY -> project
            self.projects_by_id = {}
            self.next_project_id = FIRST_PROJECT_ID
            self.next_issuetype_id = FIRST_ISSUETYPE_ID
            self.custom_fields = {}  # customfield_N -> definition
            self.next_customfield = FIRST_CUSTOMFIELD
            self.next_option_id = 10100
            self.issues = {}  # id -> issue
            self.issue_by_key = {}  # KEY (also old keys of moved issues) -> id
            self.next_issue_id = FIRST_ISSUE_ID
            self.issue_count = 0
            self.next_history_id = 10100
            self.next_comment_id = 10000
            self.version = 0  # bumped on every change (search cache)
            self.lag_until = 0.0
            self.search_cache = {}
            self.webhook_filter = None
            self.deliveries = collections.OrderedDict()
            self.delivery_seq = 0
            self.throttle_events = collections.deque(maxlen=1000)
            self.service = self.add_account({
                "name": DEFAULT_NAME, "displayName": "closeloop bot", "email": DEFAULT_EMAIL,
                "accountId": DEFAULT_ACCOUNT_ID, "api_token": DEFAULT_API_TOKEN,
                "pat": DEFAULT_PAT, "key": "JIRAUSER10000", "timeZone": DEFAULT_PROFILE_ZONE,
                "accountType": "atlassian"})
            for key in self.defaults["projects"]:
                self.create_project({"key": key})

    def add_status(self, name, category, description=""):
        if category not in CATEGORIES:
            raise ControlError(400, f"status {name}: category must be one of "
                                    f"{', '.join(CATEGORIES)}")
        for s in self.statuses.values():
            if s["name"].lower() == name.lower():
                if s["category"] != category:
                    raise ControlError(409, f"status {name} exists in category "
                                            f"{s['category']}")
                return s
        sid = str(self.next_status_id)
        self.next_status_id += 1
        s = {"id": sid, "name": name, "category": category, "description": description}
        self.statuses[sid] = s
        return s

    def configure(self, cfg):
        with self.lock:
            self.version += 1
            c = self.config
            if "flavour" in cfg:
                if cfg["flavour"] not in ("cloud", "dc"):
                    raise ControlError(400, "flavour: cloud or dc")
                if cfg["flavour"] != c["flavour"]:
                    self.defaults["flavour"] = cfg["flavour"]
                    self.reset()
                    c = self.config
            for k in ("render_zone",):
                if k in cfg:
                    zone(cfg[k])
                    c[k] = cfg[k]
            for k in ("search_lag",):
                if k in cfg:
                    c[k] = max(0.0, float(cfg[k]))
            for k in ("search_max", "search_max_ids", "dc_max_results"):
                if k in cfg:
                    if int(cfg[k]) < 1:
                        raise ControlError(400, f"{k}: at least 1")
                    c[k] = int(cfg[k])
            for k in ("jql_strict_keys", "near_limit"):
                if k in cfg:
                    c[k] = bool(cfg[k])
            if "profile_zone" in cfg:  # the service account's profile zone
                zone(cfg["profile_zone"])
                self.service["timeZone"] = cfg["profile_zone"]
            if "resolutions" in cfg:
                self.set_resolutions(cfg["resolutions"])
            if "default_resolution" in cfg:
                d = cfg["default_resolution"]
                if d is not None and self.resolution_ref(d) is None:
                    raise ControlError(400, f"default_resolution: no resolution {d!r}")
                c["default_resolution"] = d
            if "webhook" in cfg:
                wh = cfg["webhook"] or {}
                for k in ("url", "secret", "enabled", "echo", "description", "jql", "attempts",
                          "retry_delays", "timeout"):
                    if k in wh:
                        c["webhook"][k] = wh[k]
                if c["webhook"]["description"] not in ("adf", "wiki"):
                    raise ControlError(400, "webhook.description: adf or wiki")
                delays = c["webhook"]["retry_delays"]
                if not isinstance(delays, list) or not all(
                        isinstance(x, (int, float)) and 0 <= x <= 60 for x in delays):
                    raise ControlError(400, "webhook.retry_delays: seconds, 0..60 each")
                att = c["webhook"]["attempts"]
                if att is not None and not (isinstance(att, int) and 1 <= att <= 10):
                    raise ControlError(400, "webhook.attempts: 1..10")
                self.webhook_filter = None
                if c["webhook"]["jql"]:
                    try:
                        JqlParser(c["webhook"]["jql"]).parse()
                    except JqlError as e:
                        raise ControlError(400, f"webhook.jql: {e}")
            for acc in cfg.get("accounts") or []:
                self.add_account(acc)
            return self.describe()

    def set_resolutions(self, spec):
        if not isinstance(spec, list):
            raise ControlError(400, "resolutions: a list of names or {id, name, description}")
        out = collections.OrderedDict()
        n = 10000
        for r in spec:
            r = {"name": r} if isinstance(r, str) else dict(r)
            rid = str(r.get("id", n))
            n = max(n, int(rid) if rid.isdigit() else n) + 1
            out[rid] = {"id": rid, "name": r["name"], "description": r.get("description", "")}
        self.resolutions = out
        d = self.config["default_resolution"]
        if d is not None and self.resolution_ref(d) is None:
            self.config["default_resolution"] = None

    def describe(self):
        with self.lock:
            c = copy.deepcopy(self.config)
            c["webhook"].pop("secret", None)
            c["webhook"]["attempts"] = self.webhook_attempts()
            c["profile_zone"] = self.service["timeZone"]
            c["api_root"] = self.api_root()
            c["service_account"] = self.account_info(self.service)
            c["resolutions"] = list(self.resolutions.values())
            c["statuses"] = list(self.statuses.values())
            c["clock_ms"] = self.clock_ms
            return c

    def webhook_attempts(self):
        att = self.config["webhook"]["attempts"]
        if att is None:
            return 5 if self.config["flavour"] == "cloud" else 1
        return att

    def api_root(self):
        return "/rest/api/3" if self.config["flavour"] == "cloud" else "/rest/api/2"

    # -- accounts -------------------------------------------------------------------------
    def add_account(self, spec):
        if not isinstance(spec, dict):
            raise ControlError(400, "account: expected an object")
        name = spec.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.@+-]+", name):
            raise ControlError(400, "account.name: letters, digits and _.@+- only")
        with self.lock:
            self.version += 1
            acc = self.account_ref(name)
            if acc is None:
                acc = {"name": name, "id": spec.get("accountId") or hashlib.md5(
                    name.encode()).hexdigest()[:24]}
                if "key" not in spec:
                    self.next_user_key += 1
                acc["key"] = spec.get("key") or f"JIRAUSER{self.next_user_key}"
                acc.update(displayName=name.replace(".", " ").title(),
                           email=f"{name}@example.com", api_token=f"token-{name}",
                           pat=f"pat-{name}", password=None, timeZone=DEFAULT_PROFILE_ZONE,
                           active=True, permissions=set(DEFAULT_PERMISSIONS), projects=None,
                           email_visible=False, token_expires=None, accountType="atlassian",
                           locale="en_US")
            for k_in, k in (("displayName", "displayName"), ("display_name", "displayName"),
                            ("email", "email"), ("api_token", "api_token"), ("pat", "pat"),
                            ("password", "password"), ("timeZone", "timeZone"),
                            ("time_zone", "timeZone"), ("active", "active"),
                            ("email_visible", "email_visible"),
                            ("token_expires", "token_expires"), ("accountType", "accountType"),
                            ("locale", "locale")):
                if k_in in spec:
                    acc[k] = spec[k_in]
            zone(acc["timeZone"])
            if "permissions" in spec:
                perms = set(spec["permissions"])
                bad = perms - set(PERMISSIONS)
                if bad:
                    raise ControlError(400, f"unknown permissions: {', '.join(sorted(bad))}")
                acc["permissions"] = perms
            if "projects" in spec:
                acc["projects"] = None if spec["projects"] is None else \
                    {p.upper() for p in spec["projects"]}
            self.accounts[acc["id"]] = acc
            return acc

    def account_ref(self, handle, jql=False):
        """An account by accountId, name, email or key (JQL: accountId/email on Cloud,
        name/key on DC)."""
        if handle is None:
            return None
        h = str(handle)
        acc = self.accounts.get(h)
        if acc is not None:
            return acc
        low = h.lower()
        dc = self.config["flavour"] == "dc"
        for a in self.accounts.values():
            if jql and not dc:
                if a["email"].lower() == low:
                    return a
                continue
            if a["name"].lower() == low or a["key"].lower() == low or \
                    (not jql and a["email"].lower() == low):
                return a
        return None

    def account_info(self, acc):
        return {k: (sorted(v) if isinstance(v, set) else v) for k, v in acc.items()}

    def can(self, acc, project, perm):
        if acc is None or not acc["active"]:
            return False
        if "BROWSE_PROJECTS" not in acc["permissions"] or perm not in acc["permissions"]:
            return False
        return acc["projects"] is None or project["key"] in acc["projects"]

    # -- projects -------------------------------------------------------------------------
    def create_project(self, spec):
        with self.lock:
            key = spec.get("key")
            if not isinstance(key, str) or not re.fullmatch(r"[A-Z][A-Z0-9_]{0,9}", key):
                raise ControlError(400, "key: 1-10 capitals/digits, starting with a letter")
            if key in self.projects:
                raise ControlError(409, f"project {key} exists")
            pid = str(spec.get("id") or self.next_project_id)
            if pid in self.projects_by_id:
                raise ControlError(409, f"project id {pid} exists")
            self.next_project_id = max(self.next_project_id, int(pid)) + 1
            index = len(self.projects)
            lead = self.account_ref(spec["lead"]) if spec.get("lead") else self.service
            if lead is None:
                raise ControlError(400, f"lead: no account {spec['lead']!r}")
            p = {"id": pid, "key": key, "name": spec.get("name") or f"{key.title()} project",
                 "lead": lead["id"], "style": spec.get("style", "classic"),
                 "description": spec.get("description", ""), "next_number": 1,
                 "issuetypes": [], "screen": list(spec.get("fields", SCREEN_FIELDS)),
                 "custom": [], "default_assignee": spec.get("default_assignee")}
            if p["style"] not in ("classic", "next-gen"):
                raise ControlError(400, "style: classic or next-gen")
            bad = set(p["screen"]) - set(SCREEN_FIELDS)
            if bad:
                raise ControlError(400, f"fields: unknown screen fields {sorted(bad)} (of "
                                        f"{SCREEN_FIELDS})")
            for t in spec.get("issue_types", ["Task", "Bug"]):
                t = {"name": t} if isinstance(t, str) else dict(t)
                tid = str(t.get("id") or self.next_issuetype_id)
                self.next_issuetype_id = max(self.next_issuetype_id, int(tid)) + 1
                p["issuetypes"].append({
                    "id": tid, "name": t["name"],
                    "description": t.get("description", f"A {t['name'].lower()}."),
                    "hierarchyLevel": 0})
            if not p["issuetypes"]:
                raise ControlError(400, "issue_types: at least one")
            res = spec.get("resolutions")
            if res is None:
                p["resolutions"] = list(self.resolutions)
            else:
                p["resolutions"] = []
                for r in res:
                    ref = self.resolution_ref(r)
                    if ref is None:
                        raise ControlError(400, f"resolutions: no resolution {r!r}")
                    p["resolutions"].append(ref["id"])
            p["workflow"] = self.make_workflow(spec.get("workflow", "classic"), index)
            for cf in spec.get("custom_fields", []):
                p["custom"].append(self.add_custom_field(cf, p)["id"])
            self.projects[key] = p
            self.projects_by_id[pid] = p
            self.version += 1
            return p

    def add_custom_field(self, spec, project):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ControlError(400, "custom_fields: objects with a name")
        ftype = spec.get("type", "string")
        if ftype not in CUSTOM_TYPES:
            raise ControlError(400, f"custom field type: one of {', '.join(CUSTOM_TYPES)}")
        fid = spec.get("id") or f"customfield_{self.next_customfield}"
        if not re.fullmatch(r"customfield_\d+", fid):
            raise ControlError(400, "custom field id: customfield_N")
        self.next_customfield = max(self.next_customfield, int(fid.split("_")[1])) + 1
        options = []
        for o in spec.get("options", []):
            options.append({"id": str(self.next_option_id), "value": str(o)})
            self.next_option_id += 1
        if ftype == "select" and not options:
            raise ControlError(400, f"custom field {spec['name']}: a select needs options")
        cf = {"id": fid, "name": spec["name"], "type": ftype, "options": options,
              "required": bool(spec.get("required", False)), "default": None,
              "issue_types": [t.lower() for t in spec.get("issue_types") or []] or None}
        if spec.get("default") is not None:
            try:
                cf["default"] = self.custom_value(cf, spec["default"], "2")
            except ApiError:
                raise ControlError(400, f"custom field {spec['name']}: bad default")
        self.custom_fields[fid] = cf
        return cf

    def make_workflow(self, spec, index):
        base = 11 + 100 * index
        if spec == "classic":
            spec = {"initial": "To Do", "statuses": ["To Do", "In Progress", "Done", "Won't Do"],
                    "transitions": [
                        {"id": base, "name": "Start Progress", "from": ["To Do"],
                         "to": "In Progress"},
                        {"id": base + 10, "name": "Stop Progress", "from": ["In Progress"],
                         "to": "To Do"},
                        {"id": base + 20, "name": "Done", "from": ["In Progress"], "to": "Done",
                         "resolution": "required", "event": "issue_resolved"},
                        {"id": base + 30, "name": "Won't Do", "from": ["To Do", "In Progress"],
                         "to": "Won't Do", "resolution": "required",
                         "event": "issue_resolved"},
                        {"id": base + 40, "name": "Reopen", "from": ["Done", "Won't Do"],
                         "to": "To Do", "event": "issue_reopened"}]}
        elif spec == "simple":
            spec = {"initial": "To Do", "statuses": ["To Do", "In Progress", "Done"],
                    "transitions": [
                        {"id": base, "name": "To Do", "from": None, "to": "To Do"},
                        {"id": base + 10, "name": "In Progress", "from": None,
                         "to": "In Progress"},
                        {"id": base + 20, "name": "Done", "from": None, "to": "Done",
                         "set_resolution": "Done"}]}
        if not isinstance(spec, dict):
            raise ControlError(400, "workflow: classic, simple or {statuses, initial, "
                                    "transitions}")
        ids = []
        for s in spec.get("statuses", []):
            s = {"name": s} if isinstance(s, str) else dict(s)
            known = self.status_ref(s["name"])
            if known is not None and "category" not in s:
                ids.append(known["id"])
            else:
                ids.append(self.add_status(s["name"], s.get("category", "indeterminate"))["id"])
        if not ids:
            raise ControlError(400, "workflow.statuses: at least one")

        def sid(name):
            s = self.status_ref(name)
            if s is None or s["id"] not in ids:
                raise ControlError(400, f"workflow: status {name!r} is not in its statuses")
            return s["id"]
        wf = {"statuses": ids, "initial": sid(spec.get("initial") or
                                              self.statuses[ids[0]]["name"]),
              "transitions": []}
        seen = set()
        for n, t in enumerate(spec.get("transitions", [])):
            tid = str(t.get("id", base + 10 * n))
            if tid in seen:
                raise ControlError(400, f"workflow: transition id {tid} twice")
            seen.add(tid)
            frm = t.get("from")
            mode = t.get("resolution")
            if mode not in (None, "required", "optional"):
                raise ControlError(400, "transition.resolution: required, optional or null")
            setres = t.get("set_resolution")
            if setres is not None and self.resolution_ref(setres) is None:
                raise ControlError(400, f"set_resolution: no resolution {setres!r}")
            wf["transitions"].append({
                "id": tid, "name": t.get("name") or self.statuses[sid(t["to"])]["name"],
                "from": None if frm in (None, "*") else [sid(x) for x in frm],
                "to": sid(t["to"]), "resolution": mode,
                "set_resolution": self.resolution_ref(setres)["id"] if setres else None,
                "event": t.get("event", "issue_generic")})
        return wf

    def project_ref(self, ref, names=False):
        """A project by key (any case) or id; by name too with names (JQL does that)."""
        if ref is None:
            return None
        r = str(ref)
        p = self.projects.get(r.upper()) or self.projects_by_id.get(r)
        if p is None and names:
            for q in self.projects.values():
                if q["name"].lower() == r.lower():
                    return q
        return p

    def status_ref(self, ref):
        r = str(ref)
        if r in self.statuses:
            return self.statuses[r]
        for s in self.statuses.values():
            if s["name"].lower() == r.lower():
                return s
        return None

    def resolution_ref(self, ref):
        r = str(ref)
        if r in self.resolutions:
            return self.resolutions[r]
        for x in self.resolutions.values():
            if x["name"].lower() == r.lower():
                return x
        return None

    def default_resolution(self, project):
        d = self.config["default_resolution"]
        r = self.resolution_ref(d) if d is not None else None
        if r is not None and r["id"] in project["resolutions"]:
            return r["id"]
        return project["resolutions"][0] if project["resolutions"] else None

    def screen(self, project, issuetype_id, acc=None, create=True):
        """The fields on the create (or edit) screen: id -> definition."""
        out = collections.OrderedDict()
        if create:
            out["project"] = None
            out["issuetype"] = None
        for f in ["summary"] + [x for x in project["screen"] if x != "summary"]:
            if f == "duedate" and acc is not None and "SCHEDULE_ISSUES" not in acc["permissions"]:
                continue
            out[f] = None
        if create and acc is not None and "MODIFY_REPORTER" in acc["permissions"]:
            out["reporter"] = None
        t = next((t for t in project["issuetypes"] if t["id"] == issuetype_id), None)
        for cid in project["custom"]:
            cf = self.custom_fields[cid]
            if cf["issue_types"] and (t is None or t["name"].lower() not in cf["issue_types"]):
                continue
            out[cid] = cf
        return out

    def transitions_from(self, project, status_id):
        out = []
        for t in project["workflow"]["transitions"]:
            if t["from"] is None:
                if t["to"] != status_id:
                    out.append(t)
            elif status_id in t["from"]:
                out.append(t)
        return out

    # -- issues ---------------------------------------------------------------------------
    def find_issue(self, ref):
        """By id or key (case-insensitive; old keys of moved issues too); deleted included."""
        r = str(ref).strip()
        if r.isdigit():
            return self.issues.get(int(r))
        iid = self.issue_by_key.get(r.upper())
        return self.issues.get(iid) if iid is not None else None

    def key_of(self, issue):
        return f"{self.projects_by_id[issue['project_id']]['key']}-{issue['number']}"

    def new_issue(self, project, values, actor, created=None, updated=None, status=None,
                  resolution=None, at=None, lag=False):
        """Adds an issue (caller holds the lock) from internal values; no webhook here. With
        lag, search finds it only search_lag seconds later (API creates; seeds are there)."""
        if self.issue_count >= MAX_ISSUES:
            raise ControlError(507, f"the fake holds at most {MAX_ISSUES} issues")
        now = self.tick_ms(at) if created is None else int(created)
        if created is not None:
            self.clock_ms = max(self.clock_ms, now)
        upd = now if updated is None else int(updated)
        self.clock_ms = max(self.clock_ms, upd)
        iid = self.next_issue_id
        self.next_issue_id += 1
        n = project["next_number"]
        project["next_number"] += 1
        st_id = status or project["workflow"]["initial"]
        issue = {
            "id": iid, "project_id": project["id"], "number": n,
            "issuetype": values.get("issuetype") or project["issuetypes"][0]["id"],
            "summary": values["summary"], "description": values.get("description"),
            "status": st_id, "resolution": resolution,
            "resolutiondate": upd if resolution else None,
            "assignee": values.get("assignee"), "reporter": values.get("reporter", actor),
            "creator": actor, "labels": list(values.get("labels") or []),
            "duedate": values.get("duedate"), "priority": values.get("priority", "3"),
            "created": now, "updated": upd, "statuscategorychangedate": now,
            "custom": dict(values.get("custom") or {}), "properties": {},
            "deleted": False, "deleted_at": None, "history": [], "comments": [],
            "old_keys": [], "indexed_at": 0.0, "stale": None,
        }
        if lag and self.config["search_lag"] > 0:
            issue["indexed_at"] = time.time() + self.config["search_lag"]
            self.lag_until = max(self.lag_until, issue["indexed_at"])
        self.issues[iid] = issue
        self.issue_by_key[f"{project['key']}-{n}"] = iid
        self.issue_count += 1
        self.version += 1
        return issue

    def snapshot(self, issue):
        v = dict(issue)
        v["labels"] = list(issue["labels"])
        v["custom"] = dict(issue["custom"])
        v["history"] = []
        v["comments"] = []
        v["stale"] = None
        return v

    def before_change(self, issue):
        """The search index keeps the state before a change for search_lag seconds."""
        self.version += 1
        lag = self.config["search_lag"]
        if lag <= 0:
            issue["indexed_at"], issue["stale"] = 0.0, None
            return
        now = time.time()
        if issue["indexed_at"] <= now:  # nothing pending: the index shows the current state
            issue["stale"] = self.snapshot(issue)
        issue["indexed_at"] = now + lag
        self.lag_until = max(self.lag_until, issue["indexed_at"])

    def search_view(self, issue, now):
        """What search sees of an issue now (None: not found by search)."""
        if issue["indexed_at"] <= now:
            return None if issue["deleted"] else issue
        v = issue["stale"]
        return v if v is not None and not v["deleted"] else None

    # -- changes --------------------------------------------------------------------------
    def display(self, field, value):
        """(raw id, display string) of an internal value, for changelog items."""
        if value is None:
            return None, None
        if field == "assignee" or field in ("reporter", "creator"):
            acc = self.accounts.get(value)
            raw = value if self.config["flavour"] == "cloud" else (acc or {}).get("name")
            return raw, (acc or {}).get("displayName")
        if field == "status":
            return value, self.statuses[value]["name"]
        if field == "resolution":
            return value, self.resolutions.get(value, {"name": value})["name"]
        if field == "priority":
            return value, dict(PRIORITIES).get(value, value)
        if field == "issuetype":
            for p in self.projects.values():
                for t in p["issuetypes"]:
                    if t["id"] == value:
                        return value, t["name"]
            return value, value
        if field == "duedate":
            return value, f"{value} 00:00:00.0"
        if field == "labels":
            return None, " ".join(value)
        if field == "description":
            return None, rich(value, "wiki")
        return None, str(value)

    @staticmethod
    def item(field, fieldtype, field_id, frm, frm_s, to, to_s):
        return {"field": field, "fieldtype": fieldtype, "fieldId": field_id, "from": frm,
                "fromString": frm_s, "to": to, "toString": to_s}

    def apply(self, issue, new, actor, at=None, extra_items=()):
        """Sets internal values on an issue (caller holds the lock); -> changelog items, the
        history entry appended (nothing when nothing changed)."""
        items = []
        changed = {}
        for f, v in new.items():
            if f == "custom":
                for cid, cv in v.items():
                    old = issue["custom"].get(cid)
                    if old != cv:
                        changed.setdefault("custom", {})[cid] = cv
                        cf = self.custom_fields[cid]
                        items.append(self.item(cf["name"], "custom", cid,
                                               *self.custom_display(cf, old),
                                               *self.custom_display(cf, cv)))
                continue
            old = issue[f]
            if f == "labels":
                if sorted(old) == sorted(v):
                    continue
            elif old == v:
                continue
            changed[f] = v
            frm, frm_s = self.display(f, old)
            to, to_s = self.display(f, v)
            items.append(self.item(f, "jira", f, frm, frm_s, to, to_s))
        items.extend(extra_items)
        if not items:
            return []
        self.before_change(issue)
        now = self.tick_ms(at)
        old_cat = self.statuses[issue["status"]]["category"]
        for f, v in changed.items():
            if f == "custom":
                issue["custom"].update(v)
            else:
                issue[f] = list(v) if f == "labels" else v
        if "resolution" in changed:
            issue["resolutiondate"] = now if issue["resolution"] else None
        if self.statuses[issue["status"]]["category"] != old_cat:
            issue["statuscategorychangedate"] = now
        issue["updated"] = now
        self.next_history_id += 1
        issue["history"].append({"id": str(self.next_history_id), "author": actor,
                                 "created": now, "items": items})
        del issue["history"][:-MAX_HISTORY]
        return items

    def custom_display(self, cf, value):
        if value is None:
            return None, None
        if cf["type"] == "select":
            opt = next((o for o in cf["options"] if o["id"] == value), None)
            return value, opt["value"] if opt else value
        if cf["type"] == "textarea":
            return None, rich(value, "wiki")
        if cf["type"] == "labels":
            return None, " ".join(value)
        return None, str(value)

    def custom_value(self, cf, value, ver):
        """An API value of a custom field -> internal (ApiError 400 when it does not fit)."""
        fid = cf["id"]
        if value is None:
            return None
        t = cf["type"]
        if t == "string":
            if not isinstance(value, str):
                raise field_errors({fid: "Operation value must be a string"})
            if len(value) > 255:
                raise field_errors({fid: f"{cf['name']} must be less than 255 characters."})
            return value
        if t == "textarea":
            return self.rich_input(fid, value, ver)
        if t == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise field_errors({fid: "Operation value must be a number"})
            return value
        if t == "date":
            if not valid_date(value):
                raise field_errors({fid: f"Error parsing date string: {value}"})
            return value
        if t == "labels":
            return self.labels_value(fid, value)
        # select: {"value": ...} or {"id": ...}
        if not isinstance(value, dict) or not ({"id", "value"} & set(value)):
            raise field_errors({fid: "Could not find valid 'id' or 'value' in the Parent "
                                     "Option object."})
        for o in cf["options"]:
            if str(value.get("id")) == o["id"] or value.get("value") == o["value"]:
                return o["id"]
        shown = value.get("value", value.get("id"))
        raise field_errors({fid: f"Option value '{shown}' is not valid"})

    def rich_input(self, fid, value, ver):
        if ver == "3":
            if not isinstance(value, dict):
                raise field_errors({fid: "Operation value must be an Atlassian Document (see "
                                         "the Atlassian Document Format)"})
            try:
                check_adf(value)
            except AdfError:
                raise field_errors({fid: "INVALID_INPUT"})
            if len(json.dumps(value)) > TEXT_MAX * 4:
                raise field_errors({fid: "The entered text is too long. It exceeds the allowed "
                                         f"limit of {TEXT_MAX} characters."})
            return {"adf": copy.deepcopy(value)}
        if not isinstance(value, str):
            raise field_errors({fid: "Operation value must be a string"})
        if len(value) > TEXT_MAX:
            raise field_errors({fid: "The entered text is too long. It exceeds the allowed "
                                     f"limit of {TEXT_MAX} characters."})
        return {"wiki": value}

    @staticmethod
    def labels_value(fid, value):
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise field_errors({fid: "Operation value must be an array of strings"})
        out = []
        for lab in value:
            if not lab or re.search(r"\s", lab):
                raise field_errors({fid: f"The label '{lab}' contains spaces which is "
                                         "invalid."})
            if len(lab) > LABEL_MAX:
                raise field_errors({fid: f"The label '{lab}' exceeds the maximum length for a "
                                         f"single label of {LABEL_MAX} characters."})
            if lab not in out:
                out.append(lab)
        return out

    # -- rendering ------------------------------------------------------------------------
    def base(self):
        return self.server.base_url

    @staticmethod
    def avatars(seed):
        h = hashlib.md5(str(seed).encode()).hexdigest()[:8]
        return {f"{n}x{n}": f"https://avatar-management.example.com/initials/{h}.png?size={n}"
                for n in (48, 24, 16, 32)}

    def render_user(self, acc_id, ver):
        acc = self.accounts.get(acc_id)
        if acc is None:
            return None
        b = self.base()
        if self.config["flavour"] == "cloud":
            out = {"self": f"{b}/rest/api/{ver}/user?accountId="
                           f"{urllib.parse.quote(acc['id'], safe='')}",
                   "accountId": acc["id"], "avatarUrls": self.avatars(acc["id"]),
                   "displayName": acc["displayName"], "active": acc["active"],
                   "timeZone": acc["timeZone"], "accountType": acc["accountType"]}
            if acc["email_visible"]:
                out["emailAddress"] = acc["email"]
            return out
        return {"self": f"{b}/rest/api/2/user?username={urllib.parse.quote(acc['name'])}",
                "name": acc["name"], "key": acc["key"], "emailAddress": acc["email"],
                "avatarUrls": self.avatars(acc["key"]), "displayName": acc["displayName"],
                "active": acc["active"], "timeZone": acc["timeZone"]}

    def render_category(self, key, ver):
        cid, name, color = CATEGORIES[key]
        return {"self": f"{self.base()}/rest/api/{ver}/statuscategory/{cid}", "id": cid,
                "key": key, "colorName": color, "name": name}

    def render_status(self, sid, ver):
        s = self.statuses[sid]
        return {"self": f"{self.base()}/rest/api/{ver}/status/{sid}",
                "description": s["description"],
                "iconUrl": f"{self.base()}/images/icons/statuses/generic.png",
                "name": s["name"], "id": sid,
                "statusCategory": self.render_category(s["category"], ver)}

    def render_issuetype(self, t, ver):
        return {"self": f"{self.base()}/rest/api/{ver}/issuetype/{t['id']}", "id": t["id"],
                "description": t["description"],
                "iconUrl": f"{self.base()}/rest/api/2/universal_avatar/view/type/issuetype/"
                           "avatar/10318?size=medium",
                "name": t["name"], "subtask": False, "avatarId": 10318,
                "hierarchyLevel": t["hierarchyLevel"]}

    def issuetype(self, tid):
        for p in self.projects.values():
            for t in p["issuetypes"]:
                if t["id"] == tid:
                    return t
        return {"id": tid, "name": tid, "description": "", "hierarchyLevel": 0}

    def render_project_ref(self, p, ver):
        return {"self": f"{self.base()}/rest/api/{ver}/project/{p['id']}", "id": p["id"],
                "key": p["key"], "name": p["name"], "projectTypeKey": "software",
                "simplified": p["style"] == "next-gen", "avatarUrls": self.avatars(p["key"])}

    def render_priority(self, pid, ver):
        if pid is None:
            return None
        name = dict(PRIORITIES).get(pid, pid)
        return {"self": f"{self.base()}/rest/api/{ver}/priority/{pid}",
                "iconUrl": f"{self.base()}/images/icons/priorities/{name.lower()}.svg",
                "name": name, "id": pid}

    def render_resolution(self, rid, ver):
        if rid is None:
            return None
        r = self.resolutions.get(rid, {"id": rid, "name": rid, "description": ""})
        return {"self": f"{self.base()}/rest/api/{ver}/resolution/{rid}", "id": rid,
                "description": r["description"], "name": r["name"]}

    def render_custom(self, cf, value, ver, rich_fmt):
        if value is None:
            return None
        if cf["type"] == "select":
            opt = next((o for o in cf["options"] if o["id"] == value), None)
            if opt is None:
                return None
            return {"self": f"{self.base()}/rest/api/{ver}/customFieldOption/{opt['id']}",
                    "value": opt["value"], "id": opt["id"]}
        if cf["type"] == "textarea":
            return rich(value, rich_fmt)
        if cf["type"] == "labels":
            return list(value)
        return value

    def render_fields(self, v, ver, want=None, rich_fmt=None):
        """An issue's (or search view's) fields; want(field_id, navigable) picks them."""
        rich_fmt = rich_fmt or ("adf" if ver == "3" else "wiki")
        p = self.projects_by_id[v["project_id"]]
        z = self.config["render_zone"]
        out = {}

        def add(fid, fn):
            nav = SYSTEM_FIELDS[fid][2] if fid in SYSTEM_FIELDS else True
            if want is None or want(fid, nav):
                out[fid] = fn()
        add("statuscategorychangedate", lambda: render_ts(v["statuscategorychangedate"], z))
        add("issuetype", lambda: self.render_issuetype(self.issuetype(v["issuetype"]), ver))
        add("project", lambda: self.render_project_ref(p, ver))
        add("resolution", lambda: self.render_resolution(v["resolution"], ver))
        add("resolutiondate", lambda: render_ts(v["resolutiondate"], z))
        add("created", lambda: render_ts(v["created"], z))
        add("priority", lambda: self.render_priority(v["priority"], ver))
        add("labels", lambda: list(v["labels"]))
        add("assignee", lambda: self.render_user(v["assignee"], ver))
        add("updated", lambda: render_ts(v["updated"], z))
        add("status", lambda: self.render_status(v["status"], ver))
        add("description", lambda: rich(v["description"], rich_fmt))
        add("summary", lambda: v["summary"])
        add("creator", lambda: self.render_user(v["creator"], ver))
        add("reporter", lambda: self.render_user(v["reporter"], ver))
        add("duedate", lambda: v["duedate"])
        for cid in p["custom"]:
            cf = self.custom_fields[cid]
            add(cid, lambda cf=cf: self.render_custom(cf, v["custom"].get(cf["id"]), ver,
                                                      rich_fmt))
        add("comment", lambda: self.render_comments(v, ver, rich_fmt))
        return out

    def render_comment(self, issue_id, c, ver, rich_fmt, expand=()):
        """A Comment (id string, self, author, body as ADF or wiki text, created, updated...);
        expand: renderedBody (HTML), properties."""
        z = self.config["render_zone"]
        rich_fmt = rich_fmt or ("adf" if ver == "3" else "wiki")
        out = {"self": f"{self.base()}/rest/api/{ver}/issue/{issue_id}/comment/{c['id']}",
               "id": c["id"], "author": self.render_user(c["author"], ver),
               "body": rich(c["body"], rich_fmt),
               "updateAuthor": self.render_user(c.get("update_author", c["author"]), ver),
               "created": render_ts(c["created"], z),
               "updated": render_ts(c.get("updated", c["created"]), z), "jsdPublic": True}
        if c.get("visibility"):
            out["visibility"] = dict(c["visibility"])
        if "renderedBody" in expand:
            out["renderedBody"] = "".join(
                f"<p>{html.escape(par).replace(chr(10), '<br/>')}</p>"
                for par in re.split(r"\n{2,}", rich(c["body"], "wiki")) if par)
        if "properties" in expand:
            out["properties"] = [{"key": k, "value": copy.deepcopy(x)}
                                 for k, x in (c.get("properties") or {}).items()]
        return out

    def render_comments(self, v, ver, rich_fmt):
        b = self.base()
        comments = [self.render_comment(v["id"], c, ver, rich_fmt) for c in v["comments"]]
        return {"comments": comments, "self": f"{b}/rest/api/{ver}/issue/{v['id']}/comment",
                "maxResults": len(comments), "total": len(comments), "startAt": 0}

    def field_names(self, v):
        p = self.projects_by_id[v["project_id"]]
        out = {k: d[0] for k, d in SYSTEM_FIELDS.items()}
        for cid in p["custom"]:
            out[cid] = self.custom_fields[cid]["name"]
        return out

    def field_schemas(self, v):
        p = self.projects_by_id[v["project_id"]]
        out = {k: dict(d[1]) for k, d in SYSTEM_FIELDS.items()}
        for cid in p["custom"]:
            out[cid] = self.custom_schema(self.custom_fields[cid])
        return out

    @staticmethod
    def custom_schema(cf):
        typ, custom, items = CUSTOM_TYPES[cf["type"]]
        out = {"type": typ, "custom": custom, "customId": int(cf["id"].split("_")[1])}
        if items:
            out["items"] = items
        return out

    def render_history(self, h, ver, nulls=False):
        """A changelog entry. API answers (nulls False) leave null members out, but always
        carry toString ("" for null): validators see Object.prototype.toString otherwise."""
        items = [it if nulls else dict({k: x for k, x in it.items() if x is not None},
                                       toString=it["toString"] or "")
                 for it in h["items"]]
        return {"id": h["id"], "author": self.render_user(h["author"], ver),
                "created": render_ts(h["created"], self.config["render_zone"]),
                "items": items}

    def render_issue(self, v, ver, want=None, expand=(), properties=(), rich_fmt=None,
                     only_id=False, history_limit=None):
        if only_id:
            return {"id": str(v["id"])}
        p = self.projects_by_id[v["project_id"]]
        out = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,"
                         "versionedRepresentations",
               "id": str(v["id"]), "self": f"{self.base()}/rest/api/{ver}/issue/{v['id']}",
               "key": f"{p['key']}-{v['number']}",
               "fields": self.render_fields(v, ver, want, rich_fmt)}
        if properties:
            props = v["properties"] if "*all" in properties else \
                {k: x for k, x in v["properties"].items() if k in properties}
            out["properties"] = copy.deepcopy(props)
        if "names" in expand:
            names = self.field_names(v)
            out["names"] = {k: names[k] for k in out["fields"] if k in names}
        if "schema" in expand:
            schemas = self.field_schemas(v)
            out["schema"] = {k: schemas[k] for k in out["fields"] if k in schemas}
        if "changelog" in expand:
            total = len(v["history"])
            hist = [self.render_history(h, ver) for h in reversed(v["history"])]
            if history_limit is not None:
                hist = hist[:history_limit]
            out["changelog"] = {"startAt": 0, "maxResults": len(hist), "total": total,
                                "histories": hist}
        return out


# --------------------------------------------------------------------------------------------
# Requests


class JiraRequest(fake_base.Request):
    """One parsed HTTP request, with what Jira's auth finds out about it."""

    def __init__(self, method, raw_path, headers, body_bytes):
        super().__init__(method, raw_path, headers, body_bytes)
        self.account = None
        self.auth_given = False
        self.ver = None
        self.client = None
        self.arrived = time.time()
        self.request_id = "%dx%dx%d" % (int(time.time()) % 100000,
                                        int.from_bytes(uuid.uuid4().bytes[:3], "big"), 1)

    @property
    def login(self):
        return self.account["name"] if self.account else None

    def qlist(self, name):
        """A query parameter given repeatedly and/or comma separated -> list."""
        return split_list([v for k, v in self.query_pairs if k == name])

    def json_body(self, required=True):
        """The body as JSON; Jira's 400s (Jackson's wording) when it is missing or broken."""
        if not self.body_bytes:
            if required:
                raise jira_error(400, ["No content to map to Object due to end of input"])
            return None
        try:
            return json.loads(self.body_bytes.decode("utf-8"))
        except UnicodeDecodeError:
            raise jira_error(400, ["Invalid UTF-8 start byte"])
        except ValueError as e:
            raise jira_error(400, [f"Unexpected character: {e.msg} at [Source: "
                                   f"(org.eclipse.jetty.server.HttpInputOverHTTP); line: "
                                   f"{e.lineno}, column: {e.colno}]"])

    def json_object(self, required=True):
        data = self.json_body(required)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise jira_error(400, ["Can not deserialize instance of object out of "
                                   f"{'START_ARRAY' if isinstance(data, list) else 'VALUE'} "
                                   "token"])
        return data


def unknown_keys(body, allowed, bean):
    """Jira's beans refuse members they do not know (Jackson FAIL_ON_UNKNOWN_PROPERTIES)."""
    for k in body:
        if k not in allowed:
            raise jira_error(400, [f'Unrecognized field "{k}" (Class {bean}), not marked as '
                                   "ignorable"])


def query_int(req, name, default, low=0):
    v = req.query.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise jira_error(400, [f"The '{name}' parameter must be an integer: '{v}'."])
    if n < low:
        raise jira_error(400, [f"The '{name}' parameter must be at least {low}."])
    return n


class FieldSelector:
    """A `fields` list: *all, *navigable, -x exclusions, explicit ids; id/key are no fields."""

    def __init__(self, tokens, default):
        toks = list(tokens) if tokens else list(default)
        self.all = self.nav = False
        self.incl, self.excl = set(), set()
        for t in toks:
            if t == "*all":
                self.all = True
            elif t == "*navigable":
                self.nav = True
            elif t.startswith("-"):
                self.excl.add(t[1:])
            else:
                self.incl.add(t)
        self.only_id = not (self.all or self.nav) and self.incl <= {"id"}
        self.ids_only = not (self.all or self.nav) and self.incl <= {"id", "key"}

    def __call__(self, fid, navigable):
        if fid in self.excl:
            return False
        if self.all or (self.nav and navigable):
            return True
        return fid in self.incl


# --------------------------------------------------------------------------------------------
# The REST API

ISSUE = r"/issue/([^/]+)"
PREFIX = re.compile(r"/rest/api/(2|3|latest)(/.*)?\Z")


class Api(fake_base.BaseApi):
    """Jira's endpoints (@route on the path after /rest/api/N), auth, errors; the base serves
    faults, logs, records and sends."""

    # -- what the base calls ------------------------------------------------------------------
    def serve(self, h, req):
        req.client = "%s:%s" % tuple(h.client_address[:2])
        req.arrived = time.time()
        self._authenticate(req)
        self.server.throttle.arrival(req)
        super().serve(h, req)

    def answer(self, req):
        try:
            return self._dispatch(req)
        except ApiError as e:
            return self.error_answer(e)

    def finish(self, req, status, headers):
        st = self.state
        if headers.get("content-type") == fake_base.JSON_TYPE:
            headers["content-type"] = JIRA_JSON
        headers.setdefault("x-arequestid", req.request_id)
        if st.config["flavour"] == "cloud":
            headers.setdefault("atl-traceid", hashlib.md5(req.request_id.encode()).hexdigest())
            if req.account:
                headers.setdefault("x-aaccountid", req.account["id"])
            if st.config["near_limit"]:
                headers.setdefault("x-ratelimit-nearlimit", "true")
        elif req.account:
            headers.setdefault("x-ausername", req.account["name"])
        self.server.throttle.answered(req, status, headers)

    def _dispatch(self, req):
        st = self.state
        m = PREFIX.match(req.path)
        flavour = st.config["flavour"]
        if not m or (flavour == "dc" and m.group(1) == "3"):
            raise ApiError(404, {"message": f"null for uri: {self.server.base_url}{req.path}",
                                 "status-code": 404})
        req.ver = "2" if m.group(1) == "latest" else m.group(1)
        rest = (m.group(2) or "/").rstrip("/") or "/"
        if req.account is None:
            raise self._unauthorized(req)
        method = "GET" if req.method == "HEAD" else req.method
        matched = self.match(method, rest)
        if matched is None:
            if any(rx.match(rest) for _, rx, _ in self.routes):
                raise ApiError(405, b"", {"allow": ", ".join(
                    sorted({m for m, rx, _ in self.routes if rx.match(rest)}))})
            raise ApiError(404, {"message": f"null for uri: {self.server.base_url}{req.path}",
                                 "status-code": 404})
        fn, args = matched
        if getattr(fn, "cloud_only", False) and flavour != "cloud":
            raise ApiError(404, {"message": f"null for uri: {self.server.base_url}{req.path}",
                                 "status-code": 404})
        if req.body_bytes and method in ("POST", "PUT"):
            ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype in ("text/plain", "application/x-www-form-urlencoded",
                         "multipart/form-data") and \
                    req.headers.get("x-atlassian-token", "").lower() != "no-check":
                raise ApiError(403, b"XSRF check failed", {"content-type": "text/plain"})
            if ctype != "application/json":
                raise ApiError(415, b"", {"content-type": "text/plain"})
        status, headers, obj = fn(req, *args)
        headers = dict(headers or {})
        if obj is None:
            body = b""
        else:
            body = dumps(obj)
            headers.setdefault("content-type", JIRA_JSON)
        return status, headers, body

    def _authenticate(self, req):
        st = self.state
        auth = req.headers.get("authorization", "")
        scheme, _, cred = auth.partition(" ")
        cred = cred.strip()
        req.auth_given = bool(auth)
        acc = None
        with st.lock:
            cloud = st.config["flavour"] == "cloud"
            if scheme.lower() == "basic":
                try:
                    user, _, secret = base64.b64decode(cred, validate=True).decode(
                        "utf-8").partition(":")
                except (ValueError, UnicodeDecodeError):
                    user, secret = "", ""
                for a in st.accounts.values():
                    if cloud and a["email"].lower() == user.lower() and secret and \
                            hmac.compare_digest(a["api_token"] or "", secret):
                        acc = a
                    elif not cloud and a["name"].lower() == user.lower() and a["password"] \
                            and hmac.compare_digest(a["password"], secret):
                        acc = a
            elif scheme.lower() == "bearer" and not cloud:
                for a in st.accounts.values():
                    if a["pat"] and hmac.compare_digest(a["pat"], cred):
                        acc = a
            if acc is not None and (not acc["active"] or (
                    acc["token_expires"] is not None and time.time() >= acc["token_expires"])):
                acc = None
            req.account = acc

    def _unauthorized(self, req):
        cloud = self.state.config["flavour"] == "cloud"
        h = {"www-authenticate": 'Basic realm="protected-area"' if cloud else
             f'OAuth realm="{urllib.parse.quote(self.server.base_url, safe="")}"'}
        if req.auth_given:
            h["x-seraph-loginreason"] = "AUTHENTICATED_FAILED"
        return jira_error(401, [CLOUD_401 if cloud else DC_401], None, h)

    def fault_headers(self, req):
        return {}

    # -- helpers ------------------------------------------------------------------------------
    def _issue(self, req, ref):
        st = self.state
        issue = st.find_issue(ref)
        if issue is None or issue["deleted"] or not st.can(
                req.account, st.projects_by_id[issue["project_id"]], "BROWSE_PROJECTS"):
            raise jira_error(404, [NOT_FOUND_ISSUE])
        return issue

    def _project(self, req, ref, status=404):
        st = self.state
        p = st.project_ref(ref)
        if p is None or not st.can(req.account, p, "BROWSE_PROJECTS"):
            raise jira_error(status, [f"No project could be found with key '{ref}'."])
        return p

    def _emit(self, events):
        self.server.hooks.emit_api(events)

    def _event(self, kind, type_name, issue, actor, items=None, at=None, extra=None):
        """A webhook event, its payload rendered now (caller holds the lock)."""
        return self.server.hooks.event(kind, type_name, issue, actor, items, at, extra)

    def _user_value(self, req, fid, value, project, errors, assignee=True):
        """An API user object -> account id (None: nobody); errors[fid] when it does not fit."""
        st = self.state
        if value is None:
            return None
        cloud = st.config["flavour"] == "cloud"
        if not isinstance(value, dict):
            errors[fid] = "expected Object containing a 'accountId' property" if cloud else \
                "expected Object containing a 'name' property"
            return None
        if cloud:
            if "accountId" not in value:
                errors[fid] = "Specify the user by accountId: name and key are not supported " \
                              "(GDPR)." if ("name" in value or "key" in value) else \
                    "expected Object containing a 'accountId' property"
                return None
            ref = value["accountId"]
        else:
            if "accountId" in value:
                errors[fid] = "expected Object containing a 'name' property"
                return None
            ref = value.get("name", value.get("key"))
        if ref is None:
            return None
        if ref == "-1" and assignee:
            acc = st.account_ref(project.get("default_assignee")) \
                if project.get("default_assignee") else None
            return acc["id"] if acc else None
        acc = st.accounts.get(ref) if cloud else \
            next((a for a in st.accounts.values() if ref in (a["name"], a["key"])), None)
        if acc is None or not acc["active"]:
            errors[fid] = f"User '{ref}' does not exist."
            return None
        if assignee and not st.can(acc, project, "ASSIGNABLE_USER"):
            errors[fid] = f"User '{ref}' cannot be assigned issues."
            return None
        return acc["id"]

    def _field_values(self, req, project, fields, update, screen, errors, create, current):
        """Validates `fields` and `update` against the screen (current: the issue being
        edited, {} on create): -> internal values dict."""
        st = self.state
        values = {}
        ops = {}
        for f, v in (update or {}).items():
            if f in fields:
                errors[f] = f"Field '{f}' cannot be set in both 'fields' and 'update'"
                continue
            if f not in screen or f in ("project", "issuetype"):
                errors[f] = NOT_ON_SCREEN.format(f)
                continue
            if not isinstance(v, list) or not all(isinstance(o, dict) and len(o) == 1
                                                  for o in v):
                errors[f] = "Operations must be an array of objects with one operation each"
                continue
            allowed = OPERATIONS.get(f) or (["add", "set", "remove"] if screen[f]["type"] ==
                                            "labels" else ["set"])
            for o in v:
                op = next(iter(o))
                if op not in allowed:
                    errors[f] = f"Operation '{op}' is not supported for field '{f}'."
            ops[f] = v
        for f in fields:
            if f not in screen:
                errors[f] = NOT_ON_SCREEN.format(f)
        given = {f: fields[f] for f in fields if f in screen}
        for f, v in ops.items():  # single-valued fields: the last set
            if f in errors or not v:
                continue
            if f == "labels" or (screen[f] is not None and screen[f]["type"] == "labels"):
                continue
            given[f] = v[-1]["set"]

        def check(fid, fn):
            try:
                return fn()
            except ApiError as e:
                errors.update(e.body.get("errors") or {fid: "; ".join(e.body["errorMessages"])})
                return None
        if "summary" in given or create:
            s = given.get("summary")
            if s is None or (isinstance(s, str) and not s.strip()):
                errors["summary"] = "You must specify a summary of the issue."
            elif not isinstance(s, str):
                errors["summary"] = "Operation value must be a string"
            elif len(s) > SUMMARY_MAX:
                errors["summary"] = f"Summary must be less than {SUMMARY_MAX} characters."
            elif "\n" in s or "\r" in s:
                errors["summary"] = "The summary is invalid because it contains newline " \
                                    "characters."
            else:
                values["summary"] = s
        if "description" in given:
            values["description"] = check("description", lambda: st.rich_input(
                "description", given["description"], req.ver))
        if "assignee" in given:
            values["assignee"] = self._user_value(req, "assignee", given["assignee"], project,
                                                  errors)
        if "reporter" in given:
            r = self._user_value(req, "reporter", given["reporter"], project, errors,
                                 assignee=False)
            if r is None and "reporter" not in errors:
                errors["reporter"] = "Reporter is required."
            values["reporter"] = r
        if "duedate" in given:
            d = given["duedate"]
            if d is not None and not valid_date(d):
                errors["duedate"] = f"Error parsing date string: {d}"
            values["duedate"] = d
        if "priority" in given:
            pv = given["priority"]
            pid = None
            if isinstance(pv, dict):
                for i, n in PRIORITIES:
                    if str(pv.get("id")) == i or pv.get("name") == n:
                        pid = i
            if pv is not None and pid is None:
                errors["priority"] = "Specify a valid 'id' or 'name' for Priority"
            values["priority"] = pid
        if "labels" in given or "labels" in ops:
            labels = []
            if "labels" in given:
                labels = check("labels", lambda: st.labels_value("labels", given["labels"])) \
                    or []
            elif not create:
                labels = list(current.get("labels", []))
            for o in ops.get("labels", []):
                labels = self._label_op(labels, o, "labels", errors)
            values["labels"] = labels
        custom = {}
        for cid, cf in screen.items():
            if cf is None:
                continue
            if cid in given:
                custom[cid] = check(cid, lambda cf=cf, v=given[cid]: st.custom_value(
                    cf, v, req.ver))
            elif cid in ops and cf["type"] == "labels":
                cur = list((current.get("custom") or {}).get(cid) or [])
                for o in ops[cid]:
                    cur = self._label_op(cur, o, cid, errors)
                custom[cid] = cur
            elif create and cf["default"] is not None:
                custom[cid] = copy.deepcopy(cf["default"])
            if cf["required"] and custom.get(cid) in (None, [], "") and cid not in errors and \
                    (create or cid in given):
                errors[cid] = f"{cf['name']} is required."
        if custom:
            values["custom"] = custom
        return values

    def _label_op(self, labels, o, fid, errors):
        op, v = next(iter(o.items()))
        if op == "set":
            try:
                return self.state.labels_value(fid, v)
            except ApiError as e:
                errors.update(e.body["errors"])
                return labels
        try:
            (lab,) = self.state.labels_value(fid, [v])
        except (ApiError, ValueError) as e:
            errors.update(e.body["errors"] if isinstance(e, ApiError) else
                          {fid: "Operation value must be a string"})
            return labels
        if op == "add":
            return labels + ([] if lab in labels else [lab])
        return [x for x in labels if x != lab]

    def _properties(self, props):
        if props is None:
            return {}
        if not isinstance(props, list):
            raise jira_error(400, ["properties: expected an array of {key, value}"])
        out = {}
        for p in props:
            if not isinstance(p, dict) or not isinstance(p.get("key"), str) or not p["key"]:
                raise jira_error(400, ["The property key can not be empty."])
            self._check_property(p["key"], p.get("value"))
            out[p["key"]] = copy.deepcopy(p["value"])
        return out

    @staticmethod
    def _check_property(key, value):
        if len(key) > 255:
            raise jira_error(400, ["The property key is too long. It can't be longer than 255 "
                                   "characters."])
        if value is None:
            raise jira_error(400, ["The property value can not be empty."])
        if len(json.dumps(value).encode()) > PROPERTY_MAX:
            raise jira_error(400, [f"The property value is too long. It can't be longer than "
                                   f"{PROPERTY_MAX} bytes."])

    def _render(self, req, issue, default_fields=("*all",)):
        fields = FieldSelector(req.qlist("fields"), default_fields)
        expand = set(req.qlist("expand"))
        out = self.state.render_issue(issue, req.ver, fields, expand, req.qlist("properties"))
        if "transitions" in expand:
            p = self.state.projects_by_id[issue["project_id"]]
            out["transitions"] = [self._render_transition(req, p, t, False)
                                  for t in self.state.transitions_from(p, issue["status"])
                                  if self.state.can(req.account, p, "TRANSITION_ISSUES")]
        return out

    # -- endpoints: who am I, what may I --------------------------------------------------------
    @route("GET", r"/myself")
    def myself(self, req):
        st = self.state
        with st.lock:
            u = st.render_user(req.account["id"], req.ver)
            acc = req.account
        u.update({"emailAddress": acc["email"], "locale": acc["locale"],
                  "groups": {"size": 1, "items": []},
                  "applicationRoles": {"size": 1, "items": []},
                  "expand": "groups,applicationRoles"})
        if st.config["flavour"] == "dc":
            u["deleted"] = False
        return 200, {}, u

    @route("GET", r"/serverInfo")
    def server_info(self, req):
        st = self.state
        z = st.config["render_zone"]
        now = st.now_ms()
        if st.config["flavour"] == "cloud":
            return 200, {}, {"baseUrl": self.server.base_url, "version": "1001.0.0-SNAPSHOT",
                             "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud",
                             "buildNumber": 100281, "buildDate": render_ts(now - 86400000, z),
                             "serverTime": render_ts(now, z), "scmInfo": "fake",
                             "serverTitle": "Jira", "serverTimeZone": z}
        return 200, {}, {"baseUrl": self.server.base_url, "version": "9.12.4",
                         "versionNumbers": [9, 12, 4], "deploymentType": "Server",
                         "buildNumber": 9120004, "buildDate": render_ts(now - 86400000, z),
                         "serverTime": render_ts(now, z), "scmInfo": "fake",
                         "serverTitle": "Jira"}

    @route("GET", r"/mypermissions")
    def my_permissions(self, req):
        st = self.state
        keys = req.qlist("permissions")
        cloud = st.config["flavour"] == "cloud"
        if not keys and cloud:
            raise jira_error(400, ["The permissions query parameter is required."])
        if not keys:
            keys = list(PERMISSIONS)
        bad = {k: "Unrecognized permission" for k in keys if k not in PERMISSIONS}
        if bad:
            raise jira_error(400, [], bad)
        with st.lock:
            project = None
            q = req.query
            if q.get("projectKey") or q.get("projectId"):
                project = self._project(req, q.get("projectKey") or q.get("projectId"))
            elif q.get("issueKey") or q.get("issueId"):
                issue = self._issue(req, q.get("issueKey") or q.get("issueId"))
                project = st.projects_by_id[issue["project_id"]]
            out = {}
            for k in keys:
                pid, name, kind = PERMISSIONS[k]
                if project is not None:
                    have = st.can(req.account, project, k)
                else:
                    have = k in req.account["permissions"] and req.account["active"]
                out[k] = {"id": pid, "key": k, "name": name, "type": kind,
                          "description": f"Ability to {name.lower()}.", "havePermission": have}
        return 200, {}, {"permissions": out}

    @route("GET", r"/user")
    def user_get(self, req):
        st = self.state
        with st.lock:
            if st.config["flavour"] == "cloud":
                acc = st.accounts.get(req.query.get("accountId", ""))
            else:
                ref = req.query.get("username") or req.query.get("key") or ""
                acc = next((a for a in st.accounts.values()
                            if ref and ref in (a["name"], a["key"])), None)
            if acc is None:
                raise jira_error(404, ["Specified user does not exist or you do not have "
                                       "required permissions"])
            return 200, {}, st.render_user(acc["id"], req.ver)

    def _user_search(self, req, project=None):
        st = self.state
        cloud = st.config["flavour"] == "cloud"
        q = (req.query.get("query") if cloud else req.query.get("username")) or ""
        q = q.lower()
        out = []
        for a in st.accounts.values():
            if not a["active"]:
                continue
            if project is not None and not st.can(a, project, "ASSIGNABLE_USER"):
                continue
            hay = [a["displayName"].lower(), a["email"].lower(), a["name"].lower()]
            if not q or any(h.startswith(q) or f" {q}" in h for h in hay):
                out.append(st.render_user(a["id"], req.ver))
        start = query_int(req, "startAt", 0)
        limit = min(query_int(req, "maxResults", 50), 1000)
        return out[start:start + limit]

    @route("GET", r"/user/search")
    def user_search(self, req):
        with self.state.lock:
            return 200, {}, self._user_search(req)

    @route("GET", r"/user/assignable/search")
    def user_assignable(self, req):
        st = self.state
        with st.lock:
            ref = req.query.get("project")
            if ref:
                project = self._project(req, ref)
            elif req.query.get("issueKey") or req.query.get("issueId"):
                issue = self._issue(req, req.query.get("issueKey") or req.query.get("issueId"))
                project = st.projects_by_id[issue["project_id"]]
            else:
                raise jira_error(400, ["One of 'issueKey', 'issueId' or 'project' must be "
                                       "provided."])
            return 200, {}, self._user_search(req, project)

    # -- endpoints: projects, workflow metadata -------------------------------------------------
    @route("GET", r"/project/([^/]+)")
    def project_get(self, req, ref):
        st = self.state
        with st.lock:
            p = self._project(req, ref)
            ver = req.ver
            out = {"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                   "self": f"{st.base()}/rest/api/{ver}/project/{p['id']}", "id": p["id"],
                   "key": p["key"], "description": p["description"],
                   "lead": st.render_user(p["lead"], ver), "components": [],
                   "issueTypes": [st.render_issuetype(t, ver) for t in p["issuetypes"]],
                   "assigneeType": "UNASSIGNED", "versions": [], "name": p["name"],
                   "roles": {}, "avatarUrls": st.avatars(p["key"]),
                   "projectTypeKey": "software", "archived": False}
            if st.config["flavour"] == "cloud":
                out.update(simplified=p["style"] == "next-gen", style=p["style"],
                           isPrivate=False, properties={})
            return 200, {}, out

    @route("GET", r"/project/([^/]+)/statuses")
    def project_statuses(self, req, ref):
        st = self.state
        with st.lock:
            p = self._project(req, ref)
            statuses = [st.render_status(s, req.ver) for s in p["workflow"]["statuses"]]
            return 200, {}, [{"self": f"{st.base()}/rest/api/{req.ver}/issuetype/{t['id']}",
                              "id": t["id"], "name": t["name"], "subtask": False,
                              "statuses": statuses} for t in p["issuetypes"]]

    def _page(self, req, items, cloud_key):
        st = self.state
        start = query_int(req, "startAt", 0)
        limit = query_int(req, "maxResults", 50)
        if limit > 200:
            raise jira_error(400, ["Parameter 'maxResults' must not exceed the limit '200'"])
        chunk = items[start:start + limit]
        if st.config["flavour"] == "cloud":
            return {cloud_key: chunk, "maxResults": limit, "startAt": start,
                    "total": len(items)}
        return {"maxResults": limit, "startAt": start, "total": len(items),
                "isLast": start + len(chunk) >= len(items), "values": chunk}

    @route("GET", r"/issue/createmeta/([^/]+)/issuetypes")
    def createmeta_types(self, req, ref):
        st = self.state
        with st.lock:
            p = self._project(req, ref, status=400)
            if not st.can(req.account, p, "CREATE_ISSUES"):
                types = []
            else:
                types = [st.render_issuetype(t, req.ver) for t in p["issuetypes"]]
            return 200, {}, self._page(req, types, "issueTypes")

    @route("GET", r"/issue/createmeta/([^/]+)/issuetypes/([^/]+)")
    def createmeta_fields(self, req, ref, type_id):
        st = self.state
        with st.lock:
            p = self._project(req, ref, status=400)
            t = next((t for t in p["issuetypes"] if t["id"] == type_id), None)
            if t is None or not st.can(req.account, p, "CREATE_ISSUES"):
                raise jira_error(400, [f"The issue type with id '{type_id}' does not exist or "
                                       "is not available in the project."])
            screen = st.screen(p, t["id"], req.account, create=True)
            fields = [self._field_meta(req, p, t, fid, cf, with_id=True)
                      for fid, cf in screen.items()]
            return 200, {}, self._page(req, fields, "fields")

    def _field_meta(self, req, p, t, fid, cf, with_id):
        st = self.state
        ver = req.ver
        b = st.base()
        if cf is not None:
            ops = ["add", "set", "remove"] if cf["type"] == "labels" else ["set"]
            out = {"required": cf["required"], "schema": st.custom_schema(cf),
                   "name": cf["name"], "key": fid, "hasDefaultValue": cf["default"] is not None,
                   "operations": ops}
            if cf["type"] == "select":
                out["allowedValues"] = [st.render_custom(cf, o["id"], ver, "wiki")
                                        for o in cf["options"]]
            if cf["default"] is not None:
                out["defaultValue"] = st.render_custom(cf, cf["default"], ver,
                                                       "adf" if ver == "3" else "wiki")
        else:
            name, schema, _ = SYSTEM_FIELDS.get(fid, (fid, {"type": "any", "system": fid}, 1))
            out = {"required": fid in ("summary", "issuetype", "project", "reporter"),
                   "schema": dict(schema), "name": name, "key": fid,
                   "hasDefaultValue": fid in ("priority", "reporter"),
                   "operations": OPERATIONS.get(fid, ["set"])}
            if fid == "project":
                out["allowedValues"] = [st.render_project_ref(p, ver)]
            elif fid == "issuetype":
                out["allowedValues"] = [st.render_issuetype(t, ver)]
            elif fid == "priority":
                out["allowedValues"] = [st.render_priority(i, ver) for i, _ in PRIORITIES]
                out["defaultValue"] = st.render_priority("3", ver)
            elif fid in ("assignee", "reporter"):
                out["autoCompleteUrl"] = f"{b}/rest/api/{ver}/user/assignable/search?project=" \
                                         f"{p['key']}&query="
            elif fid == "labels":
                out["autoCompleteUrl"] = f"{b}/rest/api/1.0/labels/suggest?query="
        if with_id:
            out["fieldId"] = fid
        return out

    @route("GET", ISSUE + r"/editmeta")
    def editmeta(self, req, ref):
        st = self.state
        with st.lock:
            issue = self._issue(req, ref)
            p = st.projects_by_id[issue["project_id"]]
            t = st.issuetype(issue["issuetype"])
            if not st.can(req.account, p, "EDIT_ISSUES"):
                return 200, {}, {"fields": {}}
            screen = st.screen(p, t["id"], req.account, create=False)
            return 200, {}, {"fields": {fid: self._field_meta(req, p, t, fid, cf, False)
                                        for fid, cf in screen.items()}}

    @route("GET", r"/resolution")
    def resolutions(self, req):
        st = self.state
        with st.lock:
            return 200, {}, [st.render_resolution(r, req.ver) for r in st.resolutions]

    @route("GET", r"/resolution/search")
    def resolution_search(self, req):
        st = self.state
        with st.lock:
            d = st.config["default_resolution"]
            default = st.resolution_ref(d)["id"] if d and st.resolution_ref(d) else None
            vals = [dict(st.render_resolution(r, req.ver), default=r == default)
                    for r in st.resolutions]
            ids = req.qlist("id")
            if ids:
                vals = [v for v in vals if v["id"] in ids]
            if req.query.get("onlyDefault") == "true":
                vals = [v for v in vals if v["default"]]
            start = query_int(req, "startAt", 0)
            limit = query_int(req, "maxResults", 50)
            chunk = vals[start:start + limit]
            return 200, {}, {"self": f"{st.base()}/rest/api/{req.ver}/resolution/search",
                             "maxResults": limit, "startAt": start, "total": len(vals),
                             "isLast": start + len(chunk) >= len(vals), "values": chunk}

    resolution_search.cloud_only = True

    @route("GET", r"/resolution/(?!search\Z)([^/]+)")
    def resolution_get(self, req, rid):
        st = self.state
        with st.lock:
            if rid not in st.resolutions:
                raise jira_error(404, [f"Resolution with ID {rid} not found."])
            return 200, {}, st.render_resolution(rid, req.ver)

    @route("GET", r"/statuscategory")
    def status_categories(self, req):
        return 200, {}, [self.state.render_category(k, req.ver) for k in CATEGORIES]

    @route("GET", r"/status")
    def statuses_list(self, req):
        st = self.state
        with st.lock:
            return 200, {}, [st.render_status(s, req.ver) for s in st.statuses]

    @route("GET", r"/priority")
    def priorities(self, req):
        st = self.state
        return 200, {}, [dict(st.render_priority(i, req.ver), statusColor="#cfcfcf",
                              description=n) for i, n in PRIORITIES]

    # -- endpoints: issues ----------------------------------------------------------------------
    @route("POST", r"/issue")
    def issue_create(self, req):
        st = self.state
        body = req.json_object()
        fields = body.get("fields", {})
        update = body.get("update", {})
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise jira_error(400, ["Can not deserialize instance of object out of START_ARRAY "
                                   "token"])
        props = self._properties(body.get("properties"))
        errors = {}
        with st.lock:
            pv = fields.get("project")
            ref = pv.get("id", pv.get("key")) if isinstance(pv, dict) else None
            if ref is None:
                raise field_errors({"project": "Specify a valid project ID or key"})
            p = st.projects_by_id.get(str(ref)) if "id" in pv else \
                st.projects.get(str(ref).upper())
            if p is None or not st.can(req.account, p, "BROWSE_PROJECTS"):
                raise field_errors({"project": "valid project is required"})
            if not st.can(req.account, p, "CREATE_ISSUES"):
                raise field_errors({"project": "You do not have permission to create issues "
                                               "in this project."})
            tv = fields.get("issuetype")
            t = None
            if not isinstance(tv, dict) or not ({"id", "name"} & set(tv)):
                errors["issuetype"] = "Specify an issue type"
            else:
                t = next((t for t in p["issuetypes"] if t["id"] == str(tv.get("id")) or
                          ("id" not in tv and t["name"] == tv.get("name"))), None)
                if t is None:
                    errors["issuetype"] = "valid issue type is required"
            screen = st.screen(p, t["id"] if t else None, req.account, create=True)
            values = self._field_values(req, p, {k: v for k, v in fields.items()
                                                 if k not in ("project", "issuetype")},
                                        update, screen, errors, True, {})
            if errors:
                raise field_errors(errors)
            values["issuetype"] = t["id"]
            values.setdefault("reporter", req.account["id"])
            if "priority" not in screen:
                values["priority"] = None
            actor = req.account["id"]
            try:
                issue = st.new_issue(p, values, actor, lag=True)
            except ControlError as e:
                raise jira_error(422, [f"fake-jira: {e.message}"])
            issue["properties"].update(props)
            key = st.key_of(issue)
            out = {"id": str(issue["id"]), "key": key,
                   "self": f"{st.base()}/rest/api/{req.ver}/issue/{issue['id']}"}
            events = [self._event("jira:issue_created", "issue_created", issue, actor)]
            tr = body.get("transition")
            if tr is not None:
                try:
                    events += self._do_transition(req, issue, {"transition": tr})
                    out["transition"] = {"status": 204, "errorCollection": {
                        "errorMessages": [], "errors": {}}}
                except ApiError as e:
                    out["transition"] = {"status": e.status, "errorCollection": e.body}
            self._emit(events)
        return 201, {}, out

    @route("GET", ISSUE)
    def issue_get(self, req, ref):
        st = self.state
        with st.lock:
            return 200, {}, self._render(req, self._issue(req, ref))

    @route("PUT", ISSUE)
    def issue_edit(self, req, ref):
        st = self.state
        body = req.json_object()
        cloud = st.config["flavour"] == "cloud"
        for flag in ("overrideScreenSecurity", "overrideEditableFlag"):
            if req.query.get(flag) == "true":
                raise jira_error(403, ["Connect and Forge app users with Administer Jira "
                                       "global permission can override screen security."])
        fields = body.get("fields", {})
        update = body.get("update", {})
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise jira_error(400, ["Can not deserialize instance of object out of START_ARRAY "
                                   "token"])
        with st.lock:
            issue = self._issue(req, ref)
            p = st.projects_by_id[issue["project_id"]]
            if not st.can(req.account, p, "EDIT_ISSUES"):
                raise jira_error(400, ["You do not have permission to edit issues in this "
                                       "project."])
            screen = st.screen(p, issue["issuetype"], req.account, create=False)
            errors = {}
            values = self._field_values(req, p, fields, update, screen, errors, False, issue)
            if errors:
                raise field_errors(errors)
            self._props_update(issue, body.get("properties"))
            actor = req.account["id"]
            items = st.apply(issue, values, actor)
            if items:
                kind = "issue_assigned" if [i["field"] for i in items] == ["assignee"] else \
                    "issue_updated"
                self._emit([self._event("jira:issue_updated", kind, issue, actor, items)])
            if cloud and req.query.get("returnIssue") == "true":
                return 200, {}, self._render(req, issue)
        return 204, {}, None

    def _props_update(self, issue, props):
        if props is not None:
            issue["properties"].update(self._properties(props))

    @route("DELETE", ISSUE)
    def issue_delete(self, req, ref):
        st = self.state
        with st.lock:
            issue = self._issue(req, ref)
            p = st.projects_by_id[issue["project_id"]]
            if not st.can(req.account, p, "DELETE_ISSUES"):
                raise jira_error(403, ["You do not have permission to delete issues in this "
                                       "project."])
            self._emit([self.delete_issue(issue, req.account["id"])])
        return 204, {}, None

    def delete_issue(self, issue, actor, at=None):
        st = self.state
        st.before_change(issue)
        now = st.tick_ms(at)
        event = self._event("jira:issue_deleted", "issue_deleted", issue, actor, at=now)
        issue["deleted"] = True
        issue["deleted_at"] = now
        return event

    @route("PUT", ISSUE + r"/assignee")
    def issue_assign(self, req, ref):
        st = self.state
        body = req.json_object()
        cloud = st.config["flavour"] == "cloud"
        with st.lock:
            issue = self._issue(req, ref)
            p = st.projects_by_id[issue["project_id"]]
            idk = [k for k in ("accountId", "name", "key") if k in body]
            if len(idk) != 1 or (cloud and idk != ["accountId"]) or \
                    (not cloud and idk == ["accountId"]):
                raise jira_error(400, [], {"assignee": "Specify the user by " +
                                           ("accountId" if cloud else "name") +
                                           " (exactly one of accountId, name, key)."})
            if not st.can(req.account, p, "ASSIGN_ISSUES"):
                raise jira_error(403, ["You do not have permission to assign issues."])
            errors = {}
            acc = self._user_value(req, "assignee", body, p, errors)
            if errors:
                raise field_errors(errors)
            actor = req.account["id"]
            items = st.apply(issue, {"assignee": acc}, actor)
            if items:
                self._emit([self._event("jira:issue_updated", "issue_assigned", issue, actor,
                                        items)])
        return 204, {}, None

    # -- transitions ------------------------------------------------------------------------
    def _render_transition(self, req, p, t, with_fields):
        st = self.state
        out = {"id": t["id"], "name": t["name"], "to": st.render_status(t["to"], req.ver),
               "hasScreen": t["resolution"] is not None, "isGlobal": t["from"] is None,
               "isInitial": False, "isAvailable": True, "isConditional": False,
               "isLooped": False}
        if with_fields:
            out["fields"] = {}
            if t["resolution"] is not None:
                allowed = [st.render_resolution(r, req.ver) for r in p["resolutions"]]
                meta = {"required": t["resolution"] == "required",
                        "schema": {"type": "resolution", "system": "resolution"},
                        "name": "Resolution", "key": "resolution", "operations": ["set"],
                        "allowedValues": allowed,
                        "hasDefaultValue": st.default_resolution(p) is not None}
                if st.default_resolution(p) is not None:
                    meta["defaultValue"] = st.render_resolution(st.default_resolution(p),
                                                                req.ver)
                out["fields"]["resolution"] = meta
        return out

    @route("GET", ISSUE + r"/transitions")
    def transitions_get(self, req, ref):
        st = self.state
        with st.lock:
            issue = self._issue(req, ref)
            p = st.projects_by_id[issue["project_id"]]
            ts = st.transitions_from(p, issue["status"])
            if not st.can(req.account, p, "TRANSITION_ISSUES"):
                ts = []
            want = req.query.get("transitionId")
            if want:
                ts = [t for t in ts if t["id"] == want]
            expand = set(req.qlist("expand"))
            return 200, {}, {"expand": "transitions",
                             "transitions": [self._render_transition(
                                 req, p, t, "transitions.fields" in expand) for t in ts]}

    @route("POST", ISSUE + r"/transitions")
    def transitions_post(self, req, ref):
        st = self.state
        body = req.json_object()
        with st.lock:
            issue = self._issue(req, ref)
            self._emit(self._do_transition(req, issue, body))
        return 204, {}, None

    def _resolution_value(self, p, v, errors):
        st = self.state
        r = None
        if isinstance(v, dict):
            r = st.resolution_ref(v["id"]) if "id" in v else \
                st.resolution_ref(v["name"]) if "name" in v else None
        if r is None or r["id"] not in p["resolutions"]:
            errors["resolution"] = "Could not find valid 'id' or 'name' in resolution object."
            return None
        return r["id"]

    def _do_transition(self, req, issue, body):
        """Runs a transition from an API body (caller holds the lock): -> events."""
        st = self.state
        p = st.projects_by_id[issue["project_id"]]
        tr = body.get("transition")
        if not isinstance(tr, dict) or tr.get("id") in (None, ""):
            raise jira_error(400, ["Missing 'transition' identifier"])
        if not st.can(req.account, p, "TRANSITION_ISSUES"):
            raise jira_error(400, ["You do not have permission to transition this issue."])
        tid = str(tr["id"])
        t = next((x for x in st.transitions_from(p, issue["status"]) if x["id"] == tid), None)
        if t is None:
            raise jira_error(400, [f"Transition id '{tid}' is not valid for this issue."])
        fields = body.get("fields") or {}
        update = body.get("update") or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise jira_error(400, ["Can not deserialize instance of object out of START_ARRAY "
                                   "token"])
        errors = {}
        res_given = None
        comment = None
        for f, v in fields.items():
            if f == "resolution" and t["resolution"] is not None:
                res_given = self._resolution_value(p, v, errors)
            else:
                errors[f] = NOT_ON_SCREEN.format(f)
        for f, ops in update.items():
            if f == "comment" and isinstance(ops, list):
                for o in ops:
                    add = o.get("add") if isinstance(o, dict) else None
                    if not isinstance(add, dict) or "body" not in add:
                        errors["comment"] = "Comment body can not be empty!"
                        continue
                    try:
                        comment = st.rich_input("comment", add["body"], req.ver)
                    except ApiError as e:
                        errors.update(e.body["errors"])
            elif f == "resolution" and t["resolution"] is not None and isinstance(ops, list) \
                    and ops and isinstance(ops[-1], dict) and "set" in ops[-1]:
                if "resolution" in fields:
                    errors[f] = f"Field '{f}' cannot be set in both 'fields' and 'update'"
                else:
                    res_given = self._resolution_value(p, ops[-1]["set"], errors)
            else:
                errors[f] = NOT_ON_SCREEN.format(f)
        if errors:
            raise field_errors(errors)
        resolution = self._target_resolution(p, issue, t, res_given)
        if resolution is False:
            raise field_errors({"resolution": "Resolution is required."})
        return self.transition_issue(issue, t, resolution, req.account["id"], comment)

    def _target_resolution(self, p, issue, t, given):
        """The resolution after transition t: False when required and none can be found."""
        st = self.state
        entering_done = st.statuses[t["to"]]["category"] == "done"
        if not entering_done:
            return given  # leaving done clears it (the workflow's post-function)
        if given is not None:
            return given
        if t["resolution"] == "required":
            d = st.default_resolution(p)
            return d if d is not None else False
        if t["set_resolution"]:
            return t["set_resolution"]
        if st.statuses[issue["status"]]["category"] == "done":
            return issue["resolution"]
        return None

    def transition_issue(self, issue, t, resolution, actor, comment=None, at=None):
        """Applies transition t (caller holds the lock): -> events."""
        st = self.state
        items = st.apply(issue, {"status": t["to"], "resolution": resolution}, actor, at)
        extra = None
        if comment is not None:
            extra = {"comment": self.add_comment(issue, comment, actor)}
        if not items and comment is None:
            return []
        return [self._event("jira:issue_updated", t["event"], issue, actor, items or None,
                            extra=extra)]

    def add_comment(self, issue, body, actor, visibility=None, properties=None):
        """Stores a comment (caller holds the lock), dated the issue's `updated`."""
        st = self.state
        st.next_comment_id += 1
        c = {"id": str(st.next_comment_id), "author": actor, "body": body,
             "created": issue["updated"], "updated": issue["updated"],
             "visibility": visibility, "properties": dict(properties or {})}
        issue["comments"].append(c)
        return c

    def comment_issue(self, issue, body, actor, at=None, visibility=None, properties=None):
        """A new comment (API or human; caller holds the lock): moves the issue's `updated`
        (search sees it after search_lag). -> (comment, events: jira:issue_updated with the
        comment, issue_event_type_name issue_commented, then comment_created)."""
        st = self.state
        st.before_change(issue)
        issue["updated"] = st.tick_ms(at)
        c = self.add_comment(issue, body, actor, visibility, properties)
        return c, [self._event("jira:issue_updated", "issue_commented", issue, actor, None,
                               extra={"comment": c}),
                   self.server.hooks.comment_event(issue, c)]

    def _comment_body(self, req, body):
        """The body of a comment from the request (v3: an ADF doc, v2: wiki text) -> stored
        rich text; Jira's 400 when it is missing, empty or of the wrong kind."""
        empty = field_errors({"comment": "Comment body can not be empty!"})
        if body.get("body") is None:
            raise empty
        value = self.state.rich_input("comment", body["body"], req.ver)
        if not (value["adf"]["content"] if "adf" in value else value["wiki"].strip()):
            raise empty
        return value

    @staticmethod
    def _visibility(v):
        if v is None:
            return None
        if not isinstance(v, dict) or v.get("type") not in ("group", "role") or not any(
                isinstance(v.get(k), str) and v[k] for k in ("value", "identifier")):
            raise field_errors({"commentLevel": "The visibility must name a group or a role: "
                                                '{"type": "group"|"role", "value": NAME}.'})
        return {k: v[k] for k in ("type", "value", "identifier") if k in v}

    # -- comments -----------------------------------------------------------------------------
    @route("GET", ISSUE + r"/comment")
    def comments_get(self, req, ref):
        st = self.state
        start = query_int(req, "startAt", 0)
        limit = query_int(req, "maxResults", 100)
        order = req.query.get("orderBy", "")
        if order not in ("", "created", "+created", "-created"):
            raise jira_error(400, [f"Invalid orderBy value '{order}'. Valid values are "
                                   "created, -created and +created."])
        expand = set(req.qlist("expand"))
        with st.lock:
            issue = self._issue(req, ref)
            comments = sorted(issue["comments"], key=lambda c: (c["created"], int(c["id"])),
                              reverse=order == "-created")
            chunk = comments[start:start + limit]
            return 200, {}, {"startAt": start, "maxResults": limit, "total": len(comments),
                             "comments": [st.render_comment(issue["id"], c, req.ver, None,
                                                            expand) for c in chunk]}

    @route("POST", ISSUE + r"/comment")
    def comment_add(self, req, ref):
        st = self.state
        body = req.json_object()
        with st.lock:
            issue = self._issue(req, ref)
            p = st.projects_by_id[issue["project_id"]]
            if not st.can(req.account, p, "ADD_COMMENTS"):
                raise jira_error(403, ["You do not have the permission to comment on this "
                                       "issue."])
            value = self._comment_body(req, body)
            visibility = self._visibility(body.get("visibility"))
            props = self._properties(body.get("properties"))
            c, events = self.comment_issue(issue, value, req.account["id"], None, visibility,
                                           props)
            self._emit(events)
            return 201, {}, st.render_comment(issue["id"], c, req.ver, None,
                                              set(req.qlist("expand")))

    # -- properties, changelog -------------------------------------------------------------
    @route("GET", ISSUE + r"/properties")
    def properties_list(self, req, ref):
        st = self.state
        with st.lock:
            issue = self._issue(req, ref)
            return 200, {}, {"keys": [
                {"self": f"{st.base()}/rest/api/{req.ver}/issue/{issue['id']}/properties/"
                         f"{urllib.parse.quote(k, safe='')}", "key": k}
                for k in issue["properties"]]}

    @route("GET", ISSUE + r"/properties/([^/]+)")
    def property_get(self, req, ref, key):
        st = self.state
        with st.lock:
            issue = self._issue(req, ref)
            if key not in issue["properties"]:
                raise jira_error(404, [f"The property with key '{key}' does not exist."])
            return 200, {}, {"key": key, "value": copy.deepcopy(issue["properties"][key])}

    @route("PUT", ISSUE + r"/properties/([^/]+)")
    def property_put(self, req, ref, key):
        st = self.state
        value = req.json_body()
        self._check_property(key, value)
        with st.lock:
            issue = self._issue(req, ref)
            p = st.projects_by_id[issue["project_id"]]
            if not st.can(req.account, p, "EDIT_ISSUES"):
                raise jira_error(403, ["You do not have permission to edit this issue."])
            created = key not in issue["properties"]
            issue["properties"][key] = value
            st.version += 1
        # an empty body, typed like the description's JSON answer
        return (201 if created else 200), {"content-type": JIRA_JSON}, None

    @route("DELETE", ISSUE + r"/properties/([^/]+)")
    def property_delete(self, req, ref, key):
        st = self.state
        with st.lock:
            issue = self._issue(req, ref)
            if key not in issue["properties"]:
                raise jira_error(404, [f"The property with key '{key}' does not exist."])
            del issue["properties"][key]
        return 204, {}, None

    @route("GET", ISSUE + r"/changelog")
    def changelog(self, req, ref):
        st = self.state
        with st.lock:
            issue = self._issue(req, ref)
            hist = [st.render_history(h, req.ver) for h in issue["history"]]
            start = query_int(req, "startAt", 0)
            limit = min(query_int(req, "maxResults", 100), 100)
            chunk = hist[start:start + limit]
            url = f"{st.base()}/rest/api/{req.ver}/issue/{issue['id']}/changelog"
            return 200, {}, {"self": url,
                             "maxResults": limit, "startAt": start, "total": len(hist),
                             "isLast": start + len(chunk) >= len(hist), "values": chunk}

    @route("POST", r"/issue/bulkfetch")
    def bulkfetch(self, req):
        st = self.state
        body = req.json_object()
        unknown_keys(body, {"issueIdsOrKeys", "fields", "expand", "properties", "fieldsByKeys"},
                     "BulkFetchIssueRequestBean")
        refs = body.get("issueIdsOrKeys")
        if not isinstance(refs, list) or not refs:
            raise jira_error(400, ["issueIdsOrKeys must not be empty."])
        if len(refs) > 100:
            raise jira_error(400, ["The number of issues requested exceeds the maximum of "
                                   "100."])
        fields = FieldSelector(body.get("fields") or [], ["*navigable"])
        expand = set(split_list([body.get("expand") or ""]))
        with st.lock:
            out = []
            for r in refs:
                issue = st.find_issue(str(r))
                if issue is None or issue["deleted"] or not st.can(
                        req.account, st.projects_by_id[issue["project_id"]],
                        "BROWSE_PROJECTS"):
                    continue
                out.append(st.render_issue(issue, req.ver, fields, expand,
                                           body.get("properties") or []))
            return 200, {}, {"issues": out, "issueErrors": []}

    bulkfetch.cloud_only = True

    # -- search -----------------------------------------------------------------------------
    def _matches(self, req, jql, reconcile=(), require_bounded=True):
        """Issue views matching jql, sorted (caller holds the lock)."""
        st = self.state
        comp = JqlCompiler(st, req.account, st.now_ms())
        try:
            pred, sort, bounded = comp.compile(jql)
        except JqlError as e:
            raise jira_error(400, [str(e)])
        if require_bounded and not bounded:
            raise jira_error(400, [UNBOUNDED])
        now = time.time()
        rec = set(reconcile)
        acc = req.account
        visible = {pid: st.can(acc, p, "BROWSE_PROJECTS")
                   for pid, p in st.projects_by_id.items()}
        key = (jql, acc["id"], acc["timeZone"])
        cacheable = not rec and not comp.time_dependent and st.lag_until <= now
        cached = st.search_cache.get(key) if cacheable else None
        if cached and cached[0] == st.version:
            return [st.issues[i] for i in cached[1]]
        views = []
        for issue in st.issues.values():
            if issue["id"] in rec:
                v = None if issue["deleted"] else issue
            else:
                v = st.search_view(issue, now)
            if v is None or not visible.get(v["project_id"]):
                continue
            if pred is None or pred(v):
                views.append(v)
        views = sort(views)
        if cacheable:
            if len(st.search_cache) > 32:
                st.search_cache.clear()
            st.search_cache[key] = (st.version, [v["id"] for v in views])
        return views

    def _token(self, jql, acc, offset):
        sig = hashlib.sha1(f"{jql}\0{acc['id']}".encode()).hexdigest()[:12]
        return b64url(json.dumps({"q": sig, "o": offset}, separators=(",", ":")).encode())

    def _untoken(self, token, jql, acc):
        try:
            data = json.loads(b64url_decode(token))
            sig = hashlib.sha1(f"{jql}\0{acc['id']}".encode()).hexdigest()[:12]
            if data["q"] != sig or not isinstance(data["o"], int) or data["o"] < 0:
                raise ValueError
            return data["o"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
            raise jira_error(400, ["Invalid format of nextPageToken"])

    def _search_jql(self, req, jql, fields, max_results, token, expand, props, reconcile):
        st = self.state
        if reconcile is not None:
            if not isinstance(reconcile, list) or not all(
                    isinstance(x, int) and not isinstance(x, bool) for x in reconcile):
                raise jira_error(400, ["reconcileIssues must be an array of issue ids."])
            if len(reconcile) > 50:
                raise jira_error(400, ["The number of issues in reconcileIssues exceeds the "
                                       "maximum of 50."])
        if max_results is not None and max_results < 0:
            raise jira_error(400, ["maxResults must not be negative."])
        sel = FieldSelector(fields, ["id"])
        with st.lock:
            cap = st.config["search_max_ids"] if sel.ids_only else st.config["search_max"]
            limit = min(max_results or 50, cap)
            offset = self._untoken(token, jql or "", req.account) if token else 0
            views = self._matches(req, jql or "", reconcile or ())
            chunk = views[offset:offset + limit]
            more = offset + len(chunk) < len(views)
            issues = [st.render_issue(v, req.ver, sel, expand, props, only_id=sel.only_id,
                                      history_limit=20) for v in chunk]
            out = {"issues": issues}
            if more:
                out["nextPageToken"] = self._token(jql or "", req.account, offset + len(chunk))
            out["isLast"] = not more
            if chunk and "names" in expand:
                out["names"] = {k: n for k, n in st.field_names(chunk[0]).items()
                                if sel(k, SYSTEM_FIELDS.get(k, (0, 0, True))[2])}
            if chunk and "schema" in expand:
                out["schema"] = {k: s for k, s in st.field_schemas(chunk[0]).items()
                                 if sel(k, SYSTEM_FIELDS.get(k, (0, 0, True))[2])}
            return 200, {}, out

    @route("GET", r"/search/jql")
    def search_jql_get(self, req):
        rec = None
        if req.qlist("reconcileIssues"):
            try:
                rec = [int(x) for x in req.qlist("reconcileIssues")]
            except ValueError:
                raise jira_error(400, ["reconcileIssues must be an array of issue ids."])
        mr = query_int(req, "maxResults", None) if req.query.get("maxResults") else None
        return self._search_jql(req, req.query.get("jql", ""), req.qlist("fields"), mr,
                                req.query.get("nextPageToken"), set(req.qlist("expand")),
                                req.qlist("properties"), rec)

    search_jql_get.cloud_only = True

    @route("POST", r"/search/jql")
    def search_jql_post(self, req):
        body = req.json_object()
        unknown_keys(body, {"jql", "fields", "maxResults", "nextPageToken", "expand",
                            "properties", "fieldsByKeys", "failFast", "reconcileIssues"},
                     "SearchAndReconcileRequestBean")
        jql = body.get("jql") or ""
        fields = body.get("fields") or []
        if not isinstance(jql, str) or not isinstance(fields, list) or \
                not all(isinstance(f, str) for f in fields):
            raise jira_error(400, ["jql must be a string and fields an array of strings."])
        mr = body.get("maxResults")
        if mr is not None and (not isinstance(mr, int) or isinstance(mr, bool)):
            raise jira_error(400, ["maxResults must be an integer."])
        token = body.get("nextPageToken")
        if token is not None and not isinstance(token, str):
            raise jira_error(400, ["Invalid format of nextPageToken"])
        expand = body.get("expand") or ""
        if not isinstance(expand, str):
            raise jira_error(400, ["expand must be a comma separated string."])
        return self._search_jql(req, jql, split_list(fields), mr, token,
                                set(split_list([expand])), body.get("properties") or [],
                                body.get("reconcileIssues"))

    search_jql_post.cloud_only = True

    @route("POST", r"/search/approximate-count")
    def approximate_count(self, req):
        st = self.state
        body = req.json_object()
        unknown_keys(body, {"jql"}, "JQLCountRequestBean")
        with st.lock:
            return 200, {}, {"count": len(self._matches(req, body.get("jql") or ""))}

    approximate_count.cloud_only = True

    def _gone(self):
        return jira_error(410, [GONE_SEARCH])

    @route("GET", r"/search")
    def search_get(self, req):
        if self.state.config["flavour"] == "cloud":
            raise self._gone()
        return self._search_dc(req, req.query.get("jql", ""), query_int(req, "startAt", 0),
                               query_int(req, "maxResults", 50), req.qlist("fields"),
                               set(req.qlist("expand")), req.qlist("properties"))

    @route("POST", r"/search")
    def search_post(self, req):
        if self.state.config["flavour"] == "cloud":
            raise self._gone()
        body = req.json_object()
        unknown_keys(body, {"jql", "startAt", "maxResults", "fields", "expand",
                            "validateQuery", "properties", "fieldsByKeys"}, "SearchRequestBean")
        for k in ("startAt", "maxResults"):
            v = body.get(k)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise jira_error(400, [f"{k} must be a non-negative integer."])
        expand = body.get("expand") or []
        if isinstance(expand, str):
            expand = [expand]
        return self._search_dc(req, body.get("jql") or "", body.get("startAt") or 0,
                               50 if body.get("maxResults") is None else body["maxResults"],
                               split_list(body.get("fields") or []), set(split_list(expand)),
                               body.get("properties") or [])

    @route("POST", r"/search/id")
    def search_id_gone(self, req):
        raise self._gone()

    search_id_gone.cloud_only = True

    @route("POST", r"/expression/eval")
    def expression_gone(self, req):
        raise self._gone()

    expression_gone.cloud_only = True

    def _search_dc(self, req, jql, start, max_results, fields, expand, props):
        st = self.state
        sel = FieldSelector(fields, ["*navigable"])
        with st.lock:
            views = self._matches(req, jql, require_bounded=False)
            limit = min(max_results, st.config["dc_max_results"])
            chunk = views[start:start + limit]
            out = {"expand": "schema,names", "startAt": start, "maxResults": limit,
                   "total": len(views),
                   "issues": [st.render_issue(v, req.ver, sel, expand, props,
                                              history_limit=20) for v in chunk]}
            if chunk and "names" in expand:
                out["names"] = st.field_names(chunk[0])
            if chunk and "schema" in expand:
                out["schema"] = st.field_schemas(chunk[0])
            return 200, {}, out


# --------------------------------------------------------------------------------------------
# Webhooks


class Hooks:
    """Builds Jira's issue webhooks and delivers them: API echoes through a queue (in order,
    asynchronously), human changes synchronously; failed deliveries are retried later by a
    scheduler thread with the same identifier."""

    def __init__(self, server):
        self.server = server
        self.state = server.state
        self.queue = queue.Queue()
        self.cond = threading.Condition()
        self.heap = []  # (due, seq, delivery) of scheduled retries
        self.inflight = 0
        self.stopping = False
        threading.Thread(target=self._work, name="fake-jira-hooks", daemon=True).start()
        threading.Thread(target=self._retry_loop, name="fake-jira-retries", daemon=True).start()

    # -- building ---------------------------------------------------------------------------
    def event(self, kind, type_name, issue, actor, items=None, at=None, extra=None):
        """An event with its payload rendered now (caller holds the state lock)."""
        st = self.state
        cloud = st.config["flavour"] == "cloud"
        fmt = st.config["webhook"]["description"] if cloud else "wiki"
        ts = at if at is not None else (issue["created"] if kind == "jira:issue_created"
                                        else issue["updated"])
        payload = {"timestamp": ts, "webhookEvent": kind, "issue_event_type_name": type_name}
        user = st.render_user(actor, "2")
        if user is not None:
            payload["user"] = user
        payload["issue"] = {"id": str(issue["id"]),
                            "self": f"{st.base()}/rest/api/2/issue/{issue['id']}",
                            "key": st.key_of(issue),
                            "fields": st.render_fields(issue, "2", None, fmt)}
        if items:
            payload["changelog"] = {"id": issue["history"][-1]["id"], "items": items}
        if extra and "comment" in extra:
            payload["comment"] = st.render_comment(issue["id"], extra["comment"], "2", fmt)
        return {"kind": kind, "type": type_name, "issue": issue, "payload": payload}

    def comment_event(self, issue, c):
        """A comment_created event (caller holds the state lock): timestamp, webhookEvent,
        the comment, and the issue with a few navigable fields only."""
        st = self.state
        fmt = st.config["webhook"]["description"] if st.config["flavour"] == "cloud" else \
            "wiki"
        few = {"summary", "status", "issuetype", "project", "assignee", "priority"}
        payload = {"timestamp": c["created"], "webhookEvent": "comment_created",
                   "comment": st.render_comment(issue["id"], c, "2", fmt),
                   "issue": {"id": str(issue["id"]),
                             "self": f"{st.base()}/rest/api/2/issue/{issue['id']}",
                             "key": st.key_of(issue),
                             "fields": st.render_fields(issue, "2", lambda f, nav: f in few,
                                                        fmt)}}
        return {"kind": "comment_created", "type": None, "issue": issue, "payload": payload}

    def _wanted(self, ev):
        st = self.state
        wh = st.config["webhook"]
        if not wh.get("enabled", True) or not wh.get("url"):
            return False
        if wh.get("jql"):
            try:
                pred, _, _ = JqlCompiler(st, st.service, st.now_ms()).compile(wh["jql"])
            except JqlError:
                return False
            if pred is not None and not pred(ev["issue"]):
                return False
        return True

    def _new_delivery(self, ev):
        st = self.state
        body = json.dumps(ev["payload"], separators=(",", ":"), ensure_ascii=False).encode()
        st.delivery_seq += 1
        d = {"id": str(uuid.uuid4()), "seq": st.delivery_seq, "event": ev["kind"],
             "issue_event_type_name": ev["type"], "issue_id": str(ev["issue"]["id"]),
             "issue_key": ev["payload"]["issue"]["key"], "body": body, "attempts": [],
             "status": None, "error": None, "delivered": False, "retry_due": None}
        st.deliveries[d["id"]] = d
        while len(st.deliveries) > MAX_DELIVERIES:
            st.deliveries.popitem(last=False)
        return d

    def emit_api(self, events):
        """Deliveries of the service's own writes (Jira sends them too): async, in order."""
        st = self.state
        with st.lock:
            if not st.config["webhook"].get("echo", True):
                return
            made = [self._new_delivery(ev) for ev in events if ev and self._wanted(ev)]
        for d in made:
            self.queue.put(d)

    def prepare(self, events):
        """Deliveries of a human change (caller holds the lock); send_all() sends them."""
        return [self._new_delivery(ev) for ev in events if ev and self._wanted(ev)]

    def send_all(self, made):
        if made:
            self.drain_queue()
        return [self.attempt(d) for d in made]

    # -- sending ----------------------------------------------------------------------------
    def _work(self):
        while not self.stopping:
            d = self.queue.get()
            try:
                if d is not None:
                    self.attempt(d)
            except Exception as e:  # keep the worker alive whatever happens
                d["error"] = f"{type(e).__name__}: {e}"
            finally:
                self.queue.task_done()

    def _retry_loop(self):
        while not self.stopping:
            with self.cond:
                while not self.stopping and (not self.heap or self.heap[0][0] > time.time()):
                    self.cond.wait(None if not self.heap else
                                   max(0.001, self.heap[0][0] - time.time()))
                if self.stopping:
                    return
                _, _, d = heapq.heappop(self.heap)
                self.inflight += 1
            try:
                self.attempt(d)
            except Exception as e:
                d["error"] = f"{type(e).__name__}: {e}"
            finally:
                with self.cond:
                    self.inflight -= 1
                    self.cond.notify_all()

    def stop(self):
        self.stopping = True
        with self.cond:
            self.cond.notify_all()
        self.queue.put(None)

    def attempt(self, d, manual=False):
        """One delivery attempt now; schedules the next one when Jira would retry."""
        st = self.state
        with st.lock:
            wh = dict(st.config["webhook"])
            cloud = st.config["flavour"] == "cloud"
            max_attempts = st.webhook_attempts()
            n = len(d["attempts"])
        url, secret = wh.get("url"), wh.get("secret")
        headers = {"Content-Type": "application/json; charset=UTF-8",
                   "User-Agent": "Atlassian Webhook HTTP Client", "Accept": "*/*"}
        if cloud:
            headers["X-Atlassian-Webhook-Identifier"] = d["id"]
            headers["X-Atlassian-Webhook-Flow"] = "Primary"
            if n > 0:
                headers["X-Atlassian-Webhook-Retry"] = str(n)
        if secret:
            headers["X-Hub-Signature"] = "sha256=" + hmac.new(
                secret.encode(), d["body"], hashlib.sha256).hexdigest()
        status, error = None, None
        if url:
            u = urllib.parse.urlsplit(url)
            cls = http.client.HTTPSConnection if u.scheme == "https" else \
                http.client.HTTPConnection
            try:
                conn = cls(u.hostname, u.port, timeout=float(wh.get("timeout") or 10))
                try:
                    path = (u.path or "/") + (("?" + u.query) if u.query else "")
                    conn.request("POST", path, body=d["body"], headers=headers)
                    resp = conn.getresponse()
                    resp.read(fake_base.MAX_BODY)
                    status = resp.status
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException) as e:
                error = f"{type(e).__name__}: {e}"
        else:
            error = "no webhook url configured"
        retryable = status is None or status in RETRY_STATUSES or status >= 500
        scheduled = False
        with st.lock:
            d["attempts"].append({"at": time.time(), "status": status, "error": error,
                                  "retry": n, "manual": manual,
                                  "headers": {k: v for k, v in headers.items()
                                              if k.startswith("X-")}})
            d["status"], d["error"] = status, error
            d["delivered"] = d["delivered"] or (status is not None and 200 <= status < 300)
            d["retry_due"] = None
            if retryable and url and not manual and len(d["attempts"]) < max_attempts:
                delays = wh.get("retry_delays") or [1.0]
                due = time.time() + float(delays[min(n, len(delays) - 1)])
                d["retry_due"] = due
                scheduled = True
        if scheduled:
            with self.cond:
                heapq.heappush(self.heap, (due, d["seq"], d))
                self.cond.notify_all()
        return {"id": d["id"], "event": d["event"], "issue_key": d["issue_key"],
                "status": status, "error": error, "attempt": n + 1,
                "retry_scheduled": scheduled}

    def drain_queue(self, timeout=30.0):
        deadline = time.time() + timeout
        while self.queue.unfinished_tasks and time.time() < deadline:
            time.sleep(0.005)

    def drain(self, timeout=30.0):
        """Waits (bounded) until no delivery is queued, in flight or scheduled for a retry."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.cond:
                busy = self.queue.unfinished_tasks or self.heap or self.inflight
            if not busy:
                return True
            time.sleep(0.005)
        return False

    def forget_retries(self):
        with self.cond:
            self.heap.clear()


# --------------------------------------------------------------------------------------------
# Retry-After checker


class Throttle:
    """Remembers every answer that carried Retry-After (429, 503) and the requests that came
    afterwards from the same account or connection: a test asserts the client waited."""

    def __init__(self, server):
        self.state = server.state

    def answered(self, req, status, headers):
        ra = headers.get("retry-after")
        if status not in (429, 503) or ra is None:
            return
        try:
            secs = float(ra)
        except ValueError:
            return
        now = time.time()
        with self.state.lock:
            self.state.throttle_events.append({
                "at": now, "status": status, "retry_after": secs, "until": now + secs,
                "login": req.login, "client": req.client, "method": req.method,
                "path": req.path, "reason": headers.get("ratelimit-reason"),
                "next": None, "early": []})

    def arrival(self, req):
        with self.state.lock:
            for ev in self.state.throttle_events:
                if req.arrived < ev["at"]:
                    continue
                same_login = req.login is not None and req.login == ev["login"]
                same_conn = req.client == ev["client"]
                if not (same_login or same_conn):
                    continue
                info = {"at": req.arrived, "after": round(req.arrived - ev["at"], 3),
                        "method": req.method, "path": req.path, "client": req.client,
                        "same_login": same_login, "same_connection": same_conn}
                if ev["next"] is None:
                    ev["next"] = info
                if req.arrived < ev["until"]:
                    ev["early"].append(info)

    def report(self, scope="login"):
        if scope not in ("login", "connection", "any"):
            raise ControlError(400, "scope: login, connection or any")
        with self.state.lock:
            events = copy.deepcopy(list(self.state.throttle_events))
        violations = []
        for ev in events:
            for x in ev["early"]:
                if scope == "any" or (scope == "login" and x["same_login"]) or \
                        (scope == "connection" and x["same_connection"]):
                    violations.append(dict(x, retry_after=ev["retry_after"],
                                           throttled_at=ev["at"]))
            ev["waited"] = ev["next"]["after"] if ev["next"] else None
        return {"scope": scope, "events": events, "violations": violations}


# --------------------------------------------------------------------------------------------
# Control API


class Control(fake_base.BaseControl):
    """/_fake/... : no auth, JSON in and out, never recorded. Jira's routes, besides the base's
    (reset, faults, requests, stats, clock, record: see fake_base.BaseControl).

    POST /_fake/reset                        back to the start state (CLI defaults kept)
    GET|POST /_fake/config  {flavour (switching resets), render_zone, profile_zone (of the
             service account), search_lag, search_max, search_max_ids, dc_max_results,
             jql_strict_keys, near_limit, resolutions, default_resolution, accounts: [...],
             webhook: {url, secret, enabled, echo, description: adf|wiki, jql, attempts,
                       retry_delays, timeout}}
    GET|POST /_fake/accounts  {name, displayName, email, accountId, key, api_token, pat,
             password, timeZone, active, permissions[], projects[], email_visible,
             token_expires}  (POST upserts by name)
    POST /_fake/projects  {key, name, id, lead, style, issue_types[], workflow: classic|simple|
             {statuses, initial, transitions[{id, name, from, to, resolution, set_resolution,
             event}]}, resolutions[], fields[], custom_fields[{name, type, required, default,
             options, issue_types, id}], default_assignee}
    GET  /_fake/projects/KEY                 the project as the fake keeps it
    POST /_fake/projects/KEY/issues  {summary, description, issuetype, status, resolution,
             assignee, reporter, labels, duedate, priority, custom, properties, created,
             updated}  (no webhook)
    POST /_fake/projects/KEY/bulk  {count, summary_prefix, ..., step_ms} or {issues: [...]}
    GET  /_fake/issues/ID-OR-KEY             raw state (also of deleted and moved issues)
    GET  /_fake/issues/ID-OR-KEY/comments    {issue: {id, key}, comments: [{id, author
             (accountId), author_name, created, updated (epoch ms), adf, wiki (the body both
             ways), visibility, properties, rendered (as the flavour's API shows it)}]}, oldest
             first (also of deleted and moved issues, whatever the permissions)
    POST /_fake/act  {actor, issue, action: edit|assign|label|unlabel|transition|move|delete|
             comment|property, ..., at, webhook}   a human change + its webhook(s)
    POST /_fake/redeliver {delivery_id}      GET /_fake/deliveries?since=K
    POST /_fake/webhooks/drain {timeout}
    GET  /_fake/throttle?scope=login|connection|any   DELETE /_fake/throttle
    """

    PRESETS = {
        "rate_limited": {"status": 429, "headers": {
            "retry-after": "2", "ratelimit-reason": "jira-burst-based",
            "x-ratelimit-limit": "100", "x-ratelimit-remaining": "0"},
            "body": {"errorMessages": ["Rate limit exceeded."], "errors": {}}},
        "per_issue_rate_limited": {"status": 429, "headers": {
            "retry-after": "2", "ratelimit-reason": "jira-per-issue-on-write"},
            "body": {"errorMessages": ["Rate limit exceeded."], "errors": {}}},
        "quota_rate_limited": {"status": 429, "headers": {
            "retry-after": "5", "ratelimit-reason": "jira-quota-tenant-based",
            "x-ratelimit-limit": "65000", "x-ratelimit-remaining": "0"},
            "body": {"errorMessages": ["Rate limit exceeded."], "errors": {}}},
        "server_error": {"status": 500, "body": {"errorMessages": ["Internal server error"],
                                                 "errors": {}}},
        "bad_gateway": {"status": 502, "content_type": "text/html; charset=UTF-8",
                        "body": "<html><body>502 Bad Gateway</body></html>"},
        "unavailable": {"status": 503, "headers": {"retry-after": "2"},
                        "body": {"errorMessages": ["Service Unavailable"], "errors": {}}},
        "conflict": {"status": 409, "body": {
            "errorMessages": ["The issue could not be updated due to a conflicting update."],
            "errors": {}}},
        "bad_credentials": {"status": 401, "headers": {
            "x-seraph-loginreason": "AUTHENTICATED_FAILED"},
            "body": {"errorMessages": [CLOUD_401], "errors": {}}},
    }

    # -- what the base calls ---------------------------------------------------------------
    def reset(self):
        self.server.hooks.drain(5)
        self.server.hooks.forget_retries()
        super().reset()

    def stats_extra(self):
        st = self.state
        return {"issues": st.issue_count, "deliveries": len(st.deliveries),
                "throttle_events": len(st.throttle_events),
                "flavour": st.config["flavour"]}

    def preset(self, name):
        f = super().preset(name)
        if f is None:
            return None
        if name == "bad_credentials" and self.state.config["flavour"] == "dc":
            f["body"] = {"errorMessages": [DC_401], "errors": {}}
        if f.get("status") == 429:
            reset = datetime.now(timezone.utc) + timedelta(
                seconds=float(f["headers"].get("retry-after", 1)))
            f["headers"]["x-ratelimit-reset"] = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f

    def check_after(self, spec):
        """`after` is {"act": {actor, issue, action, ...}}: a POST /_fake/act."""
        super().check_after(spec)
        act = spec.get("act")
        if set(spec) != {"act"} or not isinstance(act, dict):
            raise ControlError(400, 'after: expected {"act": {actor, issue, action}}')
        for k in ("actor", "issue", "action"):
            if not isinstance(act.get(k), (str, int)) or act[k] == "":
                raise ControlError(400, f"after.act.{k}: expected a value")

    def run_after(self, spec):
        return self._act(spec["act"])

    # -- routes -----------------------------------------------------------------------------
    @control_route("*", r"/_fake/config")
    def config_route(self, req, b):
        st = self.state
        if req.method == "POST":
            if "flavour" in b and b["flavour"] != st.config["flavour"]:
                self.server.hooks.drain(5)
                self.server.hooks.forget_retries()
            return st.configure(b)
        return st.describe()

    @control_route("*", r"/_fake/accounts")
    def accounts_route(self, req, b):
        st = self.state
        with st.lock:
            if req.method == "POST":
                return 201, st.account_info(st.add_account(b))
            return {"accounts": [st.account_info(a) for a in st.accounts.values()]}

    @control_route("GET", r"/_fake/accounts/([^/]+)")
    def account_route(self, req, b, handle):
        st = self.state
        with st.lock:
            acc = st.account_ref(urllib.parse.unquote(handle))
            if acc is None:
                raise ControlError(404, f"no account {handle}")
            return st.account_info(acc)

    @control_route("POST", r"/_fake/projects")
    def project_create_route(self, req, b):
        st = self.state
        with st.lock:
            return 201, self._project_info(st.create_project(b))

    @control_route("GET", r"/_fake/projects/([^/]+)")
    def project_route(self, req, b, key):
        st = self.state
        with st.lock:
            return self._project_info(self._project(key))

    def _project(self, key):
        p = self.state.project_ref(key)
        if p is None:
            raise ControlError(404, f"no project {key}")
        return p

    def _project_info(self, p):
        st = self.state
        out = copy.deepcopy({k: v for k, v in p.items()})
        wf = out["workflow"]
        wf["statuses"] = [dict(st.statuses[s]) for s in wf["statuses"]]
        wf["initial"] = dict(st.statuses[wf["initial"]])
        for t in wf["transitions"]:
            t["to_name"] = st.statuses[t["to"]]["name"]
            t["from_names"] = None if t["from"] is None else \
                [st.statuses[s]["name"] for s in t["from"]]
        out["resolutions"] = [dict(st.resolutions[r]) for r in p["resolutions"]]
        out["custom_fields"] = [dict(st.custom_fields[c]) for c in p["custom"]]
        return out

    def _seed_values(self, p, b, actor):
        """Control-API issue values (names, handles, plain text) -> internal values."""
        st = self.state
        cloud = st.config["flavour"] == "cloud"
        v = {"summary": str(b.get("summary", "Seeded issue"))}
        d = b.get("description")
        if d is not None:
            v["description"] = {"adf": d} if isinstance(d, dict) else \
                ({"adf": text_to_adf(d)} if cloud and b.get("description_format") == "adf"
                 else {"wiki": str(d)})
        if b.get("issuetype") is not None:
            t = next((t for t in p["issuetypes"] if str(b["issuetype"]) in
                      (t["id"], t["name"])), None)
            if t is None:
                raise ControlError(400, f"issuetype {b['issuetype']!r} not in {p['key']}")
            v["issuetype"] = t["id"]
        for f in ("assignee", "reporter"):
            if b.get(f) is not None:
                acc = st.account_ref(b[f])
                if acc is None:
                    raise ControlError(400, f"{f}: no account {b[f]!r}")
                v[f] = acc["id"]
        if "labels" in b:
            labels = b["labels"]
            if not isinstance(labels, list) or not all(
                    isinstance(x, str) and x and not re.search(r"\s", x) for x in labels):
                raise ControlError(400, "labels: a list of names without spaces")
            v["labels"] = list(dict.fromkeys(labels))
        if b.get("duedate") is not None:
            if not valid_date(b["duedate"]):
                raise ControlError(400, "duedate: YYYY-MM-DD")
            v["duedate"] = b["duedate"]
        if b.get("priority") is not None:
            pid = next((i for i, n in PRIORITIES if str(b["priority"]) in (i, n)), None)
            if pid is None:
                raise ControlError(400, f"priority {b['priority']!r}")
            v["priority"] = pid
        custom = {}
        for ref, val in (b.get("custom") or {}).items():
            cf = next((st.custom_fields[c] for c in p["custom"]
                       if ref in (c, st.custom_fields[c]["name"])), None)
            if cf is None:
                raise ControlError(400, f"custom field {ref!r} not in {p['key']}")
            if cf["type"] == "select" and isinstance(val, str):
                val = {"value": val}
            if cf["type"] == "textarea" and isinstance(val, dict):
                custom[cf["id"]] = {"adf": val}
                continue
            try:
                custom[cf["id"]] = st.custom_value(cf, val, "2")
            except ApiError as e:
                raise ControlError(400, f"custom {ref}: {e.body}")
        if custom:
            v["custom"] = custom
        return v

    def _seed_one(self, p, b, actor, created=None, updated=None):
        st = self.state
        values = self._seed_values(p, b, actor)
        status = None
        if b.get("status") is not None:
            s = st.status_ref(b["status"])
            if s is None or s["id"] not in p["workflow"]["statuses"]:
                raise ControlError(400, f"status {b['status']!r} not in {p['key']}'s workflow")
            status = s["id"]
        resolution = None
        if b.get("resolution") is not None:
            r = st.resolution_ref(b["resolution"])
            if r is None:
                raise ControlError(400, f"resolution {b['resolution']!r}")
            resolution = r["id"]
        elif status and st.statuses[status]["category"] == "done" and \
                b.get("resolution", "default") == "default":
            resolution = st.default_resolution(p)
        if created is None and b.get("created") is not None:
            created = parse_ts(b["created"])
            if created is None:
                raise ControlError(400, "created: ISO 8601 or epoch ms")
        if updated is None and b.get("updated") is not None:
            updated = parse_ts(b["updated"])
            if updated is None:
                raise ControlError(400, "updated: ISO 8601 or epoch ms")
        if updated is not None and created is None:
            created = updated
        issue = st.new_issue(p, values, actor, created, updated, status, resolution)
        props = b.get("properties") or {}
        if not isinstance(props, dict):
            raise ControlError(400, "properties: an object {key: value}")
        issue["properties"].update(copy.deepcopy(props))
        return issue

    @control_route("POST", r"/_fake/projects/([^/]+)/issues")
    def seed_route(self, req, b, key):
        st = self.state
        with st.lock:
            p = self._project(key)
            actor = self._actor(b.get("reporter")) if b.get("reporter") else st.service
            issue = self._seed_one(p, b, actor["id"])
            return 201, self._raw(issue)

    @control_route("POST", r"/_fake/projects/([^/]+)/bulk")
    def bulk_route(self, req, b, key):
        st = self.state
        with st.lock:
            p = self._project(key)
            actor = st.service["id"]
            specs = b.get("issues")
            if specs is None:
                count = int(b.get("count", 0))
                if count < 1 or st.issue_count + count > MAX_ISSUES:
                    raise ControlError(400, f"count must be 1..{MAX_ISSUES - st.issue_count}")
                prefix = b.get("summary_prefix", "Issue")
                base = {k: v for k, v in b.items() if k not in ("count", "summary_prefix",
                                                                "step_ms", "issues")}
                specs = None
            elif not isinstance(specs, list) or not specs:
                raise ControlError(400, "issues: a non-empty list")
            else:
                count = len(specs)
                if st.issue_count + count > MAX_ISSUES:
                    raise ControlError(400, f"at most {MAX_ISSUES - st.issue_count} more")
            t0 = parse_ts(b["created"]) if b.get("created") else st.tick_ms()
            step = int(b.get("step_ms", 0))
            made = []
            template = None
            for i in range(count):
                ts = t0 + i * step
                if specs is not None:
                    made.append(self._seed_one(p, specs[i], actor, None if specs[i].get(
                        "created") or specs[i].get("updated") else ts))
                    continue
                if template is None:
                    first = self._seed_one(p, dict(base, summary=f"{prefix} "
                                                   f"{p['next_number']}"), actor, ts, ts)
                    template = first
                    made.append(first)
                    continue
                issue = st.new_issue(p, {
                    "summary": f"{prefix} {p['next_number']}",
                    "description": template["description"], "issuetype": template["issuetype"],
                    "assignee": template["assignee"], "reporter": template["reporter"],
                    "labels": template["labels"], "duedate": template["duedate"],
                    "priority": template["priority"], "custom": template["custom"]},
                    actor, ts, ts, template["status"], template["resolution"])
                issue["properties"] = copy.deepcopy(template["properties"])
                made.append(issue)
            return 201, {"count": len(made), "first": st.key_of(made[0]),
                         "last": st.key_of(made[-1]), "first_id": str(made[0]["id"]),
                         "last_id": str(made[-1]["id"])}

    def _raw(self, issue):
        st = self.state
        raw = {k: v for k, v in issue.items() if k not in ("stale", "history")}
        raw = copy.deepcopy(raw)
        raw["id"] = str(issue["id"])
        raw["key"] = st.key_of(issue)
        raw["project"] = st.projects_by_id[issue["project_id"]]["key"]
        raw["status_name"] = st.statuses[issue["status"]]["name"]
        raw["status_category"] = st.statuses[issue["status"]]["category"]
        raw["resolution_name"] = st.resolutions[issue["resolution"]]["name"] \
            if issue["resolution"] in st.resolutions else None
        raw["description_wiki"] = rich(issue["description"], "wiki")
        raw["history"] = [st.render_history(h, "2", nulls=True) for h in issue["history"]]
        raw["search_visible_at"] = issue["indexed_at"]
        raw["rendered"] = st.render_issue(issue, st.api_root()[-1], None,
                                          rich_fmt=None if st.config["flavour"] == "cloud"
                                          else "wiki")
        return raw

    def _any_issue(self, ref):
        """An issue by id or key from a control path, deleted and moved ones too."""
        issue = self.state.find_issue(urllib.parse.unquote(ref))
        if issue is None:
            raise ControlError(404, f"no issue {ref}")
        return issue

    @control_route("GET", r"/_fake/issues/([^/]+)/comments")
    def comments_route(self, req, b, ref):
        st = self.state
        with st.lock:
            issue = self._any_issue(ref)
            ver = st.api_root()[-1]
            out = []
            for c in issue["comments"]:
                acc = st.accounts.get(c["author"]) or {}
                out.append({"id": c["id"], "author": c["author"], "author_name": acc.get("name"),
                            "created": c["created"], "updated": c.get("updated", c["created"]),
                            "adf": rich(c["body"], "adf"), "wiki": rich(c["body"], "wiki"),
                            "visibility": c.get("visibility"),
                            "properties": copy.deepcopy(c.get("properties") or {}),
                            "rendered": st.render_comment(issue["id"], c, ver, None)})
            return {"issue": {"id": str(issue["id"]), "key": st.key_of(issue)},
                    "comments": out}

    @control_route("GET", r"/_fake/issues/([^/]+)")
    def raw_issue_route(self, req, b, ref):
        with self.state.lock:
            return self._raw(self._any_issue(ref))

    def _actor(self, handle):
        acc = self.state.account_ref(handle)
        if acc is None:
            raise ControlError(400, f"actor: no account {handle!r}")
        return acc

    @control_route("POST", r"/_fake/act")
    def act_route(self, req, b):
        return self._act(b)

    def _act(self, b):
        st = self.state
        api = self.server.api
        hooks = self.server.hooks
        action = b.get("action")
        with st.lock:
            actor = self._actor(b.get("actor"))["id"]
            issue = st.find_issue(str(b.get("issue", "")))
            if issue is None:
                raise ControlError(404, f"no issue {b.get('issue')}")
            if issue["deleted"]:
                raise ControlError(410, "issue was deleted")
            p = st.projects_by_id[issue["project_id"]]
            at = parse_ts(b["at"]) if b.get("at") is not None else None
            events = []
            if action == "edit":
                v = self._seed_values(p, dict(b, summary=b.get("summary", issue["summary"]),
                                              description_format=b.get("description_format",
                                                                       "adf")), actor)
                new = {k: v[k] for k in ("summary", "description", "assignee", "labels",
                                         "duedate", "priority", "custom") if k in v}
                if "summary" not in b:
                    new.pop("summary", None)
                if "duedate" in b and b["duedate"] is None:
                    new["duedate"] = None
                if "assignee" in b and b["assignee"] is None:
                    new["assignee"] = None
                if "description" in b and b["description"] is None:
                    new["description"] = None
                if "summary" in new and (not new["summary"] or len(new["summary"]) >
                                         SUMMARY_MAX):
                    raise ControlError(422, "summary: 1..255 characters")
                items = st.apply(issue, new, actor, at)
                if items:
                    events.append(api._event("jira:issue_updated", "issue_updated", issue,
                                             actor, items))
            elif action == "assign":
                acc = None if b.get("assignee") is None else self._actor(b["assignee"])["id"]
                items = st.apply(issue, {"assignee": acc}, actor, at)
                if items:
                    events.append(api._event("jira:issue_updated", "issue_assigned", issue,
                                             actor, items))
            elif action in ("label", "unlabel"):
                lab = b.get("label")
                if not isinstance(lab, str) or not lab or re.search(r"\s", lab):
                    raise ControlError(400, "label: a name without spaces")
                labels = list(issue["labels"])
                if action == "label" and lab not in labels:
                    labels.append(lab)
                if action == "unlabel":
                    labels = [x for x in labels if x != lab]
                items = st.apply(issue, {"labels": labels}, actor, at)
                if items:
                    events.append(api._event("jira:issue_updated", "issue_updated", issue,
                                             actor, items))
            elif action == "transition":
                events += self._act_transition(p, issue, b, actor, at)
            elif action == "move":
                events += self._act_move(p, issue, b, actor, at)
            elif action == "delete":
                events.append(api.delete_issue(issue, actor, at))
            elif action == "comment":
                body = b.get("body")
                if not body:
                    raise ControlError(400, "body: the comment text")
                events += api.comment_issue(issue, {"adf": body} if isinstance(body, dict)
                                            else {"wiki": str(body)}, actor, at)[1]
            elif action == "property":
                k = b.get("key")
                if not isinstance(k, str) or not k:
                    raise ControlError(400, "key: the property key")
                if b.get("value") is None:
                    issue["properties"].pop(k, None)
                else:
                    issue["properties"][k] = copy.deepcopy(b["value"])
                st.version += 1
            else:
                raise ControlError(400, f"unknown action {action!r}")
            raw = self._raw(issue)
            made = hooks.prepare(events)
        deliveries = hooks.send_all(made) if b.get("webhook", True) else []
        return {"issue": raw, "delivery": deliveries[0] if deliveries else None,
                "deliveries": deliveries, "events": len(events)}

    def _act_transition(self, p, issue, b, actor, at):
        st = self.state
        avail = st.transitions_from(p, issue["status"])
        t = None
        if b.get("transition") is not None:
            ref = str(b["transition"])
            t = next((x for x in avail if ref in (x["id"], x["name"])), None)
        elif b.get("to") is not None:
            s = st.status_ref(b["to"])
            t = next((x for x in avail if s is not None and x["to"] == s["id"]), None)
        else:
            raise ControlError(400, "transition (id or name) or to (status name)")
        if t is None:
            raise ControlError(409, f"no such transition from "
                                    f"{st.statuses[issue['status']]['name']} "
                                    f"(available: {[x['name'] for x in avail]})")
        given = None
        if b.get("resolution") is not None:
            r = st.resolution_ref(b["resolution"])
            if r is None or r["id"] not in p["resolutions"]:
                raise ControlError(400, f"resolution {b['resolution']!r} not allowed in "
                                        f"{p['key']}")
            given = r["id"]
        res = self.server.api._target_resolution(p, issue, t, given)
        if res is False:
            raise ControlError(422, "the transition needs a resolution and there is none")
        return self.server.api.transition_issue(issue, t, res, actor, None, at)

    def _act_move(self, p, issue, b, actor, at):
        st = self.state
        dest = self._project(b.get("project", ""))
        if dest is p:
            raise ControlError(422, "the issue is in that project already")
        old_key = st.key_of(issue)
        tname = b.get("issuetype") or st.issuetype(issue["issuetype"])["name"]
        t = next((x for x in dest["issuetypes"] if tname in (x["id"], x["name"])),
                 dest["issuetypes"][0])
        status = issue["status"]
        if b.get("status") is not None:
            s = st.status_ref(b["status"])
            if s is None or s["id"] not in dest["workflow"]["statuses"]:
                raise ControlError(400, f"status {b['status']!r} not in {dest['key']}")
            status = s["id"]
        elif status not in dest["workflow"]["statuses"]:
            status = dest["workflow"]["initial"]
        n = dest["next_number"]
        dest["next_number"] += 1
        new_key = f"{dest['key']}-{n}"
        items = [st.item("project", "jira", "project", p["id"], p["name"], dest["id"],
                         dest["name"]),
                 st.item("Key", "jira", "issuekey", None, old_key, None, new_key)]
        if t["id"] != issue["issuetype"]:
            items.append(st.item("issuetype", "jira", "issuetype", issue["issuetype"],
                                 st.issuetype(issue["issuetype"])["name"], t["id"], t["name"]))
        if status != issue["status"]:
            items.append(st.item("status", "jira", "status", issue["status"],
                                 st.statuses[issue["status"]]["name"], status,
                                 st.statuses[status]["name"]))
        custom = {c: v for c, v in issue["custom"].items() if c in dest["custom"]}
        st.apply(issue, {}, actor, at, extra_items=items)
        issue.update(project_id=dest["id"], number=n, issuetype=t["id"], status=status,
                     custom=custom)
        issue["old_keys"].append(old_key)
        if st.statuses[status]["category"] != "done":
            issue["resolution"], issue["resolutiondate"] = None, None
        st.issue_by_key[new_key] = issue["id"]
        return [self.server.api._event("jira:issue_updated", "issue_moved", issue, actor,
                                       items)]

    @control_route("POST", r"/_fake/redeliver")
    def redeliver_route(self, req, b):
        st = self.state
        with st.lock:
            d = st.deliveries.get(b.get("delivery_id"))
        if d is None:
            raise ControlError(404, "no such delivery")
        return {"delivery": self.server.hooks.attempt(d, manual=True)}

    @control_route("GET", r"/_fake/deliveries")
    def deliveries_route(self, req, b):
        st = self.state
        since = int(req.query.get("since", "0"))
        with st.lock:
            out = []
            for d in st.deliveries.values():
                if d["seq"] <= since:
                    continue
                x = {k: v for k, v in d.items() if k != "body"}
                x = copy.deepcopy(x)
                x["payload"] = json.loads(d["body"])
                x["raw"] = d["body"].decode()
                out.append(x)
        return {"deliveries": out}

    @control_route("POST", r"/_fake/webhooks/drain")
    def drain_route(self, req, b):
        return {"drained": self.server.hooks.drain(float(b.get("timeout", 30)))}

    @control_route("*", r"/_fake/throttle")
    def throttle_route(self, req, b):
        if req.method == "DELETE":
            with self.state.lock:
                self.state.throttle_events.clear()
            return {"events": [], "violations": []}
        return self.server.throttle.report(req.query.get("scope", "login"))


# --------------------------------------------------------------------------------------------
# Server


class Server(fake_base.BaseServer):
    NAME = "fake-jira"
    SERVER_HEADER = "AtlassianEdge"
    request_class = JiraRequest
    state_class = State
    api_class = Api
    control_class = Control

    def __init__(self, port, record=None, verbose=False):
        super().__init__(port, record=record, verbose=verbose)
        self.hooks = Hooks(self)
        self.throttle = Throttle(self)

    def set_defaults(self, flavour="cloud", webhook_url=None, webhook_secret=None,
                     projects=()):
        if flavour not in ("cloud", "dc"):
            raise ValueError("flavour: cloud or dc")
        self.state.defaults.update(flavour=flavour, webhook_url=webhook_url,
                                   webhook_secret=webhook_secret, projects=list(projects))
        self.state.reset()

    def framing_error(self, status, message):
        return {"content-type": JIRA_JSON}, dumps({"errorMessages": [message], "errors": {}})

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--flavour", choices=("cloud", "dc"), default="cloud")
        parser.add_argument("--webhook-url")
        parser.add_argument("--webhook-secret")
        parser.add_argument("--project", action="append", default=[],
                            help="create this project (classic workflow) at start; repeatable")

    def configure_from_args(self, args):
        self.set_defaults(args.flavour, args.webhook_url, args.webhook_secret, args.project)

    def server_close(self):
        self.hooks.stop()
        super().server_close()


# --------------------------------------------------------------------------------------------
# Python test helper


class FakeJira(fake_base.BaseFake):
    """Runs the fake in this process (a background thread) and wraps its control API.

    jira = FakeJira(flavour="cloud", record=None, webhook_url=None, webhook_secret=None,
                    projects=(), port=0, verbose=False).start()   (or `with FakeJira() as j`)
    jira.url                 http://127.0.0.1:PORT (the site; API under jira.api_root)
    jira.request(method, path, body=None, account=None, headers=None, auth=None)
        path "/rest/api/3/..." as is, or relative ("issue/OPS-1") under api_root;
        account: a handle whose credentials to send (default: the service account);
        auth: False sends none, a string is sent as the Authorization header
        -> (status, headers{lower: value}, parsed JSON or bytes or None)
    See the methods below for the control helpers.
    """

    server_class = Server
    RECORD_ENV = "FAKE_JIRA_RECORD"

    def __init__(self, flavour="cloud", record=None, webhook_url=None, webhook_secret=None,
                 projects=(), port=0, verbose=False):
        super().__init__(record=record, port=port, verbose=verbose)
        self.server.set_defaults(flavour, webhook_url, webhook_secret, projects)

    # -- raw HTTP ---------------------------------------------------------------------------
    @property
    def flavour(self):
        return self.server.state.config["flavour"]

    @property
    def api_root(self):
        return self.server.state.api_root()

    @property
    def api_url(self):
        return self.url + self.api_root

    def default_headers(self):
        return {"Accept": "application/json", "User-Agent": "closeloop-tests/1.0"}

    def auth_header(self, account=None):
        """The Authorization header value of an account (default: the service account)."""
        st = self.server.state
        with st.lock:
            acc = st.account_ref(account) if account else st.service
            if acc is None:
                raise KeyError(f"no account {account}")
            if st.config["flavour"] == "cloud":
                cred = f"{acc['email']}:{acc['api_token']}".encode()
                return "Basic " + base64.b64encode(cred).decode()
            return f"Bearer {acc['pat']}"

    def request(self, method, path, body=None, account=None, headers=None, auth=None):
        if not path.startswith("/") and not path.startswith("http://"):
            path = f"{self.api_root}/{path}"
        h = self.default_headers()
        if auth is None:
            h["Authorization"] = self.auth_header(account)
        elif auth is not False:
            h["Authorization"] = auth
        return super().request(method, path, body, headers, defaults=h)

    # -- control helpers (the base has reset, requests, stats, faults, clock, record_to) -----
    def configure(self, **cfg):
        """POST /_fake/config (see Control); -> the configuration."""
        return self.control("POST", "config", cfg)

    def config(self):
        return self.control("GET", "config")

    def set_webhook(self, url=None, secret=None, enabled=True, echo=True, description="adf",
                    jql=None, attempts=None, retry_delays=None, timeout=None):
        wh = {"url": url, "secret": secret, "enabled": enabled, "echo": echo,
              "description": description, "jql": jql, "attempts": attempts}
        if retry_delays is not None:
            wh["retry_delays"] = list(retry_delays)
        if timeout is not None:
            wh["timeout"] = timeout
        return self.configure(webhook=wh)

    def add_account(self, name, **kw):
        """Adds (or updates) an account: displayName, email, accountId, key, api_token, pat,
        password, timeZone (or time_zone), active, permissions, projects, email_visible,
        token_expires. -> the account (with its credentials)."""
        return self.control("POST", "accounts", dict(name=name, **kw))

    def account(self, handle):
        return self.control("GET", f"accounts/{urllib.parse.quote(str(handle), safe='')}")

    def service_account(self):
        return self.config()["service_account"]

    def create_project(self, key, **kw):
        """name, id, lead, style, issue_types, workflow, resolutions, fields, custom_fields,
        default_assignee. -> the project as the fake keeps it (workflow with transition ids)."""
        return self.control("POST", "projects", dict(key=key, **kw))

    def project(self, key):
        return self.control("GET", f"projects/{key}")

    def transition_id(self, project, name):
        """The id of the transition called `name` in a project's workflow."""
        for t in self.project(project)["workflow"]["transitions"]:
            if t["name"] == name:
                return t["id"]
        raise KeyError(f"no transition {name!r} in {project}")

    def seed_issue(self, project, summary="Seeded issue", **fields):
        """An issue made directly (no webhook): description, issuetype, status, resolution,
        assignee, reporter, labels, duedate, priority, custom, properties, created, updated.
        -> the raw issue (see raw_issue)."""
        return self.control("POST", f"projects/{project}/issues",
                            dict(summary=summary, **fields))

    def bulk(self, project, count=None, issues=None, **kw):
        """count issues alike (summary_prefix, step_ms, and seed fields) or a list of seed
        specs: -> {count, first, last, first_id, last_id}."""
        body = dict(kw)
        if issues is not None:
            body["issues"] = list(issues)
        else:
            body["count"] = count
        return self.control("POST", f"projects/{project}/bulk", body)

    def raw_issue(self, ref):
        return self.control("GET", f"issues/{urllib.parse.quote(str(ref), safe='')}")

    def comments(self, ref):
        """Every comment of issue `ref` (id or key, old keys of moved issues too), oldest
        first: [{id, author (accountId), author_name, created, updated (epoch ms), adf, wiki,
        visibility, properties, rendered}]; `adf` and `wiki` are the body in both forms
        whatever form it was written in. RuntimeError (404) when there is no such issue."""
        ref = urllib.parse.quote(str(ref), safe="")
        return self.control("GET", f"issues/{ref}/comments")["comments"]

    def act(self, actor, issue, action, **fields):
        """A human change and its webhook(s), delivered before this returns: action edit
        (summary, description, duedate, labels, assignee, priority, custom), assign (assignee),
        label/unlabel (label), transition (transition id/name or to=status, resolution), move
        (project, issuetype, status), delete, comment (body), property (key, value); at=time,
        webhook=False loses the delivery. -> {issue (raw), delivery, deliveries, events}."""
        return self.control("POST", "act", dict(actor=actor, issue=str(issue), action=action,
                                                **fields))

    def deliveries(self, since=0):
        return self.control("GET", f"deliveries?since={since}")["deliveries"]

    def redeliver(self, delivery_id):
        return self.control("POST", "redeliver", {"delivery_id": delivery_id})["delivery"]

    def drain(self, timeout=30):
        return self.control("POST", "webhooks/drain", {"timeout": timeout})["drained"]

    def throttle(self, scope="login"):
        """429/503-with-Retry-After answers and what followed: {events: [{at, retry_after,
        until, login, client, path, next, early, waited}], violations: [requests that came
        before Retry-After ran out, from the same login/connection/either]}."""
        return self.control("GET", f"throttle?scope={scope}")

    def clear_throttle(self):
        return self.control("DELETE", "throttle")


# --------------------------------------------------------------------------------------------
# CLI


def main(argv=None):
    return fake_base.main(Server, "Fake Jira REST API (Cloud v3/v2 or DC v2) + issue webhooks "
                                  "(127.0.0.1 only)", argv)


if __name__ == "__main__":
    sys.exit(main())
