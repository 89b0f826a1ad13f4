/* cli_verbs: the table of every verb the closeloop CLI knows. For each verb it names the
 * words that select it, its positionals and options, how each value is checked locally
 * and where it goes in the request. Pure data plus two lookups; no allocation. */
#ifndef CLOSELOOP_CLI_VERBS_H
#define CLOSELOOP_CLI_VERBS_H

#include <stdbool.h>
#include <stddef.h>

/* How a value is checked before any request, and how it is encoded. */
enum cli_val {
    CLI_VAL_FLAG,             /* takes no value: present or absent */
    CLI_VAL_TEXT,             /* non-empty text (name, handle, key, title, URL...) */
    CLI_VAL_DESC,             /* Markdown text, or "-" to read it from stdin */
    CLI_VAL_DATE,             /* YYYY-MM-DD, a real calendar day */
    CLI_VAL_DATE_OR_NONE,     /* a date, or "none" to send null */
    CLI_VAL_TIME,             /* RFC 3339 timestamp with offset */
    CLI_VAL_TIME_OR_NONE,     /* a timestamp, or "none" to send null */
    CLI_VAL_KIND,             /* corrective | preventive */
    CLI_VAL_PRIORITY,         /* P0..P4 */
    CLI_VAL_SEVERITY,         /* SEV1..SEV5 */
    CLI_VAL_SEVERITY_OR_NONE, /* a severity, or "none" to send null */
    CLI_VAL_STATUSES,         /* comma-separated action statuses */
    CLI_VAL_BOOL,             /* true | false */
    CLI_VAL_LIMIT,            /* 1..CLI_VERBS_LIMIT_MAX */
    CLI_VAL_VERSION,          /* a non-negative integer */
    CLI_VAL_ID,               /* a positive integer */
    CLI_VAL_FLAG_NULL,        /* takes no value; when present the field is sent as null */
    CLI_VAL_REPO,             /* a GitHub repository, owner/repo */
    CLI_VAL_REPO_OR_NONE,     /* a repository, or "none" to send null */
    CLI_VAL_ISSUE,            /* an issue: GitHub owner/repo#123 or Jira PROJ-123 */
    CLI_VAL_PROJECT,          /* a Jira project key, optionally /issue type: OPS, OPS/Bug */
    CLI_VAL_PROJECT_OR_NONE,  /* a project, or "none" to send null */
    CLI_VAL_TEXT_OR_NONE,     /* text, or "none" to clear an optional field (send null) */
    CLI_VAL_FORMAT,           /* table | json | csv | markdown */
    CLI_VAL_ACTIONS_FILE,     /* a file of actions (CSV, Markdown checklist), - for stdin */
    CLI_VAL_MINUTES,          /* 45m, 1h or 90: sent as whole minutes (5..480) */
    CLI_VAL_ADDRESSES,        /* e-mail addresses separated by commas: sent as an array */
    CLI_VAL_WHEN,             /* a wall time "YYYY-MM-DD HH:MM" (in a zone) or RFC 3339 */
    CLI_VAL_PAIR,             /* ID=VALUE, repeatable: one per action (review hold) */
    CLI_VAL_DOC_FORMAT,       /* md | html | json */
    CLI_VAL_SINCE             /* a time, or a day back from today (yesterday, -30d, -2w) */
};

/* Where a value goes. */
enum cli_dest {
    CLI_TO_LOCAL,   /* read by the command itself (--limit) */
    CLI_TO_PATH,    /* the object named in the path (positional ID, KEY, HANDLE) */
    CLI_TO_BODY,    /* a JSON body field */
    CLI_TO_QUERY,   /* a query parameter */
    CLI_TO_IF_MATCH /* the If-Match header, as "N" */
};

/* One option (--name) or positional (shown as its name, e.g. ID). */
struct cli_opt {
    const char *name; /* "due" for --due; for a positional its placeholder "ID" */
    const char *meta; /* placeholder of an option's value ("YYYY-MM-DD"); NULL for flags */
    const char *help; /* one line for --help */
    enum cli_val type;
    enum cli_dest dest;
    const char *field; /* body or query field for CLI_TO_BODY / CLI_TO_QUERY */
    bool required;     /* positionals are always required */
};

enum cli_op {
    CLI_OP_CREATE,        /* POST /coll with a body */
    CLI_OP_LIST,          /* GET /coll[/ID/suffix], every page up to a row limit */
    CLI_OP_SHOW,          /* GET /coll/ID */
    CLI_OP_EDIT,          /* PATCH /coll/ID with a non-empty body */
    CLI_OP_POST,          /* POST /coll[/ID]/suffix with a body (assign, link, import) */
    CLI_OP_INCIDENT_SHOW, /* GET the incident, then every page of its actions */
    CLI_OP_FIGURES,       /* GET /figures with the options as query: one object */
    CLI_OP_DASHBOARD,     /* several GETs (figures, reports, sync) drawn as one screen */
    CLI_OP_ACTION_SHOW,   /* GET the action, then its history (reasons, latest notes) */
    CLI_OP_PUT,           /* PUT /coll/ID/suffix with a body (schedule a review) */
    CLI_OP_DOC,           /* GET /coll/ID/suffix?format=: a document printed as it came */
    CLI_OP_REVIEW_HOLD,   /* POST the outcomes of a review: from flags, a file or prompts */
    CLI_OP_SEARCH,        /* GET /search?q=TEXT, the best --limit hits (cli_search) */
    CLI_OP_DELETE         /* DELETE /coll/ID (revoke a feed) */
};

/* What the answer holds, which decides how it is rendered. */
enum cli_res {
    CLI_RES_TEAM,
    CLI_RES_PERSON,
    CLI_RES_INCIDENT,
    CLI_RES_ACTION,
    CLI_RES_EVENT,
    CLI_RES_REPORT,       /* GET /reports/NAME: actions, each with its "report" detail */
    CLI_RES_FIGURES,      /* GET /figures: {"items": [figures per group], "trend": [...]} */
    CLI_RES_SYNC,         /* GET /sync/status: connections and their repositories */
    CLI_RES_IMPORT,       /* POST /github/import: {"imported","skipped","requests"} */
    CLI_RES_DOCTOR,       /* POST /github/doctor: {"ok","checks"}; a failed check is exit 1 */
    CLI_RES_BATCH,        /* POST /incidents/KEY/actions: {"items": [actions], "warnings"} */
    CLI_RES_REVIEW,       /* a review: when (local, zone), status, SEQUENCE, pinned */
    CLI_RES_REVIEW_EVENT, /* a review's history: what, old and new time, reason */
    CLI_RES_BACKLOG,      /* GET /teams/NAME/backlog-review: the review and its agenda lists */
    CLI_RES_REVIEW_LIST,  /* GET /reviews: reviews with their outcome counts */
    CLI_RES_MAIL,         /* GET /mail: the mail queue's messages */
    CLI_RES_SEARCH,       /* GET /search: hits, each with a marked snippet (cli_search) */
    CLI_RES_FEED,         /* /calendar-feeds: a feed; a new one also has its "url" and "token" */
    CLI_RES_CHAT,         /* GET /chat: the chat queue's messages */
    CLI_RES_DIGEST,       /* /digests: runs (recipient, period, mail status); send-now's answer */
    CLI_RES_REMINDER      /* GET /actions/ID/reminder, POST .../snooze: the next reminder */
};

#define CLI_VERBS_LIMIT_MAX 10000 /* most rows one list command fetches */
#define CLI_VERBS_SLOW_S    300L  /* HTTP budget of a verb that waits on GitHub (import) */

struct cli_verb {
    const char *group;   /* "action" */
    const char *name;    /* "add"; "" for a group that is a command alone (dashboard) */
    const char *summary; /* one line for the group's help */
    enum cli_op op;
    enum cli_res res;
    const char *coll;           /* path /api/v1/<coll>[/<ID>][/<suffix>] */
    const char *suffix;         /* NULL when none */
    size_t limit;               /* row cap of a list when --limit is absent */
    bool paged;                 /* a list that takes limit=; others only follow cursors */
    bool prints_id;             /* human output is the new object's id alone */
    const struct cli_opt *pos;  /* positionals, ended by a NULL name */
    const struct cli_opt *opts; /* options, ended by a NULL name */
    long timeout_s;             /* whole-exchange HTTP budget; 0 for CLI_HTTP_TIMEOUT_S */
};

extern const struct cli_verb cli_verbs[];
extern const size_t cli_verbs_len;

/* The verb named group + name in verbs[0..n), or NULL. */
const struct cli_verb *cli_verbs_find(const struct cli_verb *verbs, size_t n, const char *group,
                                      const char *name);

/* Whether some verb in verbs[0..n) belongs to group. */
bool cli_verbs_has_group(const struct cli_verb *verbs, size_t n, const char *group);

/* Number of entries before the NULL name in a positional or option list (NULL counts 0). */
size_t cli_verbs_count(const struct cli_opt *list);

#endif
