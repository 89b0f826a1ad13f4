#include "closeloop/cli/cli_verbs.h"

#include <string.h>

/* clang-format off */
#define END {NULL, NULL, NULL, CLI_VAL_FLAG, CLI_TO_LOCAL, NULL, false}
/* clang-format on */
#define DEFAULT_ACTION_ROWS 200

/* Positionals. */
static const struct cli_opt pos_team_new[] = {
    {"NAME", NULL, "team name", CLI_VAL_TEXT, CLI_TO_BODY, "name", true}, END};
static const struct cli_opt pos_team[] = {
    {"NAME", NULL, "the team's name", CLI_VAL_TEXT, CLI_TO_PATH, NULL, true}, END};
static const struct cli_opt pos_person_new[] = {
    {"HANDLE", NULL, "short unique handle, e.g. alice", CLI_VAL_TEXT, CLI_TO_BODY, "handle", true},
    END};
static const struct cli_opt pos_person[] = {
    {"HANDLE", NULL, "the person's handle", CLI_VAL_TEXT, CLI_TO_PATH, NULL, true}, END};
static const struct cli_opt pos_incident_new[] = {
    {"KEY", NULL, "incident key, e.g. INC-42", CLI_VAL_TEXT, CLI_TO_BODY, "key", true}, END};
static const struct cli_opt pos_incident[] = {
    {"KEY", NULL, "incident key, e.g. INC-42", CLI_VAL_TEXT, CLI_TO_PATH, NULL, true}, END};
static const struct cli_opt pos_action[] = {
    {"ID", NULL, "action id", CLI_VAL_ID, CLI_TO_PATH, NULL, true}, END};
static const struct cli_opt pos_rekey[] = {
    {"KEY", NULL, "the incident's key now", CLI_VAL_TEXT, CLI_TO_PATH, NULL, true},
    {"NEW", NULL, "its new key, e.g. INC-2026-42", CLI_VAL_TEXT, CLI_TO_BODY, "key", true},
    END};
static const struct cli_opt pos_assign[] = {
    {"ID", NULL, "action id", CLI_VAL_ID, CLI_TO_PATH, NULL, true},
    {"HANDLE", NULL, "the new owner's handle; me: your token's person", CLI_VAL_TEXT, CLI_TO_BODY,
     "owner", true},
    END};
static const struct cli_opt pos_note[] = {
    {"ID", NULL, "action id", CLI_VAL_ID, CLI_TO_PATH, NULL, true},
    {"TEXT", NULL, "the note (at most 4000 characters); - reads stdin", CLI_VAL_DESC, CLI_TO_BODY,
     "text", true},
    END};
static const struct cli_opt pos_link[] = {
    {"ID", NULL, "action id", CLI_VAL_ID, CLI_TO_PATH, NULL, true},
    {"ISSUE", NULL, "an existing issue: GitHub owner/repo#123 or Jira PROJ-123", CLI_VAL_ISSUE,
     CLI_TO_BODY, "issue", true},
    END};
static const struct cli_opt pos_actions_file[] = {
    {"FILE", NULL, "CSV with a header, or a Markdown checklist; - reads stdin",
     CLI_VAL_ACTIONS_FILE, CLI_TO_BODY, "actions", true},
    END};
static const struct cli_opt pos_search[] = {
    {"TEXT", NULL,
     "words (all of them), \"a phrase\", -word (not this one), a or b; quote it as one "
     "argument",
     CLI_VAL_TEXT, CLI_TO_QUERY, "q", true},
    END};
static const struct cli_opt pos_repo[] = {
    {"REPO", NULL, "GitHub repository, owner/repo", CLI_VAL_REPO, CLI_TO_BODY, "repo", true}, END};
static const struct cli_opt pos_project[] = {
    {"PROJECT", NULL, "Jira project key, optionally /issue type (OPS, OPS/Bug)", CLI_VAL_PROJECT,
     CLI_TO_BODY, "project", true},
    END};

static const struct cli_opt pos_feed[] = {
    {"ID", NULL, "feed id (see closeloop feed list)", CLI_VAL_ID, CLI_TO_PATH, NULL, true}, END};

/* Options. */
/* clang-format off */
#define IF_VERSION                                                                                 \
    {"if-version", "N", "only if the action is still at version N (If-Match)", CLI_VAL_VERSION,    \
     CLI_TO_IF_MATCH, NULL, false}
/* The default repository of a team's or an incident's actions on GitHub. */
#define GITHUB_REPO                                                                                \
    {"github", "OWNER/REPO", "GitHub repository for the issues of its actions", CLI_VAL_REPO,      \
     CLI_TO_BODY, "github_repo", false}
#define GITHUB_REPO_OR_NONE                                                                        \
    {"github", "OWNER/REPO|none", "GitHub repository for its actions' issues; none clears it",    \
     CLI_VAL_REPO_OR_NONE, CLI_TO_BODY, "github_repo", false}
/* ... or its Jira project (and issue type). One default: naming one replaces the other. */
#define JIRA_PROJECT                                                                               \
    {"jira", "PROJ[/TYPE]", "Jira project (and issue type) for the issues of its actions",      \
     CLI_VAL_PROJECT, CLI_TO_BODY, "jira_project", false}
#define JIRA_PROJECT_OR_NONE                                                                       \
    {"jira", "PROJ[/TYPE]|none", "Jira project for its actions' issues; none clears it",        \
     CLI_VAL_PROJECT_OR_NONE, CLI_TO_BODY, "jira_project", false}
/* The server takes "me" for the person the token belongs to. */
#define OWNER_FILTER                                                                               \
    {"owner", "HANDLE|me", "owned by (me: your token's person)", CLI_VAL_TEXT, CLI_TO_QUERY,       \
     "owner", false}
/* clang-format on */

static const struct cli_opt opts_none[] = {END};
static const struct cli_opt opts_team_add[] = {
    {"manager", "HANDLE", "the team's manager", CLI_VAL_TEXT, CLI_TO_BODY, "manager", false},
    GITHUB_REPO,
    JIRA_PROJECT,
    END};
static const struct cli_opt opts_team_edit[] = {
    {"name", "NAME", "new team name", CLI_VAL_TEXT, CLI_TO_BODY, "name", false},
    {"manager", "HANDLE|none", "the team's manager; none: no manager", CLI_VAL_TEXT_OR_NONE,
     CLI_TO_BODY, "manager", false},
    GITHUB_REPO_OR_NONE,
    JIRA_PROJECT_OR_NONE,
    END};

/* clang-format off */
/* PERSON_OPTS(required, optional value type): edit takes "none" to clear an optional one */
#define PERSON_OPTS(req, opt, none)                                                                \
    {"name", "NAME", "full name", CLI_VAL_TEXT, CLI_TO_BODY, "name", req},                         \
    {"email", "EMAIL", "mail address", CLI_VAL_TEXT, CLI_TO_BODY, "email", req},                   \
    {"team", "TEAM" none, "team name", opt, CLI_TO_BODY, "team", false},                           \
    {"tz", "ZONE", "time zone, e.g. Europe/Paris", CLI_VAL_TEXT, CLI_TO_BODY, "timezone", false},  \
    {"github", "LOGIN" none, "GitHub login", opt, CLI_TO_BODY, "github_login", false},             \
    {"jira-account", "ID" none, "Jira account id", opt, CLI_TO_BODY, "jira_account_id", false},    \
    {"jira-name", "NAME" none, "Jira user name", opt, CLI_TO_BODY, "jira_name", false},            \
    {"review-hour", "HOUR", "preferred hour of the reviews they facilitate (1..23, their zone)",   \
     CLI_VAL_ID, CLI_TO_BODY, "review_hour", false},                                             \
    {"digest", "daily|weekly|monthly|off", "how often they get their digest (default: [digest])", \
     CLI_VAL_TEXT, CLI_TO_BODY, "digest_cadence", false}
/* clang-format on */

static const struct cli_opt opts_person_add[] = {PERSON_OPTS(true, CLI_VAL_TEXT, ""), END};
static const struct cli_opt opts_person_edit[] = {PERSON_OPTS(false, CLI_VAL_TEXT_OR_NONE, "|none"),
                                                  {"active", "true|false",
                                                   "whether the person can own actions",
                                                   CLI_VAL_BOOL, CLI_TO_BODY, "active", false},
                                                  END};
static const struct cli_opt opts_person_list[] = {
    {"team", "TEAM", "only this team's people", CLI_VAL_TEXT, CLI_TO_QUERY, "team", false}, END};

static const struct cli_opt opts_incident_add[] = {
    {"title", "TITLE", "what happened", CLI_VAL_TEXT, CLI_TO_BODY, "title", true},
    {"severity", "SEV1..SEV5", "severity", CLI_VAL_SEVERITY, CLI_TO_BODY, "severity", false},
    {"started", "TIME", "when it started", CLI_VAL_TIME, CLI_TO_BODY, "started_at", false},
    {"resolved", "TIME", "when it was resolved", CLI_VAL_TIME, CLI_TO_BODY, "resolved_at", false},
    {"facilitator", "HANDLE", "postmortem facilitator", CLI_VAL_TEXT, CLI_TO_BODY, "facilitator",
     false},
    {"postmortem", "URL", "link to the postmortem", CLI_VAL_TEXT, CLI_TO_BODY, "postmortem_url",
     false},
    GITHUB_REPO,
    JIRA_PROJECT,
    END};
static const struct cli_opt opts_incident_edit[] = {
    {"title", "TITLE", "what happened", CLI_VAL_TEXT, CLI_TO_BODY, "title", false},
    {"severity", "SEV1..SEV5|none", "severity", CLI_VAL_SEVERITY_OR_NONE, CLI_TO_BODY, "severity",
     false},
    {"started", "TIME|none", "when it started", CLI_VAL_TIME_OR_NONE, CLI_TO_BODY, "started_at",
     false},
    {"resolved", "TIME|none", "when it was resolved", CLI_VAL_TIME_OR_NONE, CLI_TO_BODY,
     "resolved_at", false},
    {"facilitator", "HANDLE|none", "postmortem facilitator", CLI_VAL_TEXT_OR_NONE, CLI_TO_BODY,
     "facilitator", false},
    {"postmortem", "URL|none", "link to the postmortem", CLI_VAL_TEXT_OR_NONE, CLI_TO_BODY,
     "postmortem_url", false},
    GITHUB_REPO_OR_NONE,
    JIRA_PROJECT_OR_NONE,
    END};

static const struct cli_opt opts_action_add[] = {
    {"incident", "KEY", "the incident it follows up", CLI_VAL_TEXT, CLI_TO_BODY, "incident", true},
    {"kind", "corrective|preventive", "what it does", CLI_VAL_KIND, CLI_TO_BODY, "kind", true},
    {"title", "TITLE", "what is to be done", CLI_VAL_TEXT, CLI_TO_BODY, "title", true},
    {"owner", "HANDLE", "who owns it", CLI_VAL_TEXT, CLI_TO_BODY, "owner", false},
    {"due", "DATE|none", "due date (default: the server's due policy); none: no due date",
     CLI_VAL_DATE_OR_NONE, CLI_TO_BODY, "due_on", false},
    {"priority", "P0..P4", "priority (server default P2)", CLI_VAL_PRIORITY, CLI_TO_BODY,
     "priority", false},
    {"description", "TEXT|-", "Markdown details; - reads stdin", CLI_VAL_DESC, CLI_TO_BODY,
     "description", false},
    {"github", "OWNER/REPO", "also open a GitHub issue for it in this repository", CLI_VAL_REPO,
     CLI_TO_BODY, "github", false},
    {"no-github", NULL, "open no GitHub issue, not even in the default repository",
     CLI_VAL_FLAG_NULL, CLI_TO_BODY, "github", false},
    {"jira", "PROJ[/TYPE]|none",
     "also open a Jira issue for it in this project; none: no issue "
     "anywhere",
     CLI_VAL_PROJECT_OR_NONE, CLI_TO_BODY, "jira", false},
    END};
static const struct cli_opt opts_action_import[] = {
    {"incident", "KEY", "the incident they follow up", CLI_VAL_TEXT, CLI_TO_PATH, NULL, true}, END};
static const struct cli_opt opts_action_edit[] = {
    {"title", "TITLE", "what is to be done", CLI_VAL_TEXT, CLI_TO_BODY, "title", false},
    {"description", "TEXT|-", "Markdown details; - reads stdin", CLI_VAL_DESC, CLI_TO_BODY,
     "description", false},
    {"kind", "corrective|preventive", "what it does", CLI_VAL_KIND, CLI_TO_BODY, "kind", false},
    {"owner", "HANDLE|none", "who owns it; none: nobody", CLI_VAL_TEXT_OR_NONE, CLI_TO_BODY,
     "owner", false},
    {"due", "DATE|none", "due date; none clears it", CLI_VAL_DATE_OR_NONE, CLI_TO_BODY, "due_on",
     false},
    {"priority", "P0..P4", "priority", CLI_VAL_PRIORITY, CLI_TO_BODY, "priority", false},
    {"reason", "TEXT", "why; needed to move --due later or clear it", CLI_VAL_TEXT, CLI_TO_BODY,
     "reason", false},
    IF_VERSION,
    END};
static const struct cli_opt opts_action_list[] = {
    {"status", "S[,S]", "open, in_progress, blocked, done, wont_do", CLI_VAL_STATUSES, CLI_TO_QUERY,
     "status", false},
    OWNER_FILTER,
    {"team", "TEAM", "owned by someone in", CLI_VAL_TEXT, CLI_TO_QUERY, "team", false},
    {"incident", "KEY", "following up", CLI_VAL_TEXT, CLI_TO_QUERY, "incident", false},
    {"kind", "corrective|preventive", "of this kind", CLI_VAL_KIND, CLI_TO_QUERY, "kind", false},
    {"overdue", NULL, "only overdue ones", CLI_VAL_FLAG, CLI_TO_QUERY, "overdue", false},
    {"unowned", NULL, "no owner, or owner inactive", CLI_VAL_FLAG, CLI_TO_QUERY, "unowned", false},
    {"due-before", "DATE", "due before (exclusive)", CLI_VAL_DATE, CLI_TO_QUERY, "due_before",
     false},
    {"due-after", "DATE", "due after (exclusive)", CLI_VAL_DATE, CLI_TO_QUERY, "due_after", false},
    {"all", NULL, "done and dropped ones too (the default is open work)", CLI_VAL_FLAG,
     CLI_TO_LOCAL, NULL, false},
    {"limit", "N", "most rows to fetch (default 200)", CLI_VAL_LIMIT, CLI_TO_LOCAL, NULL, false},
    END};
static const struct cli_opt opts_if_version[] = {IF_VERSION, END};
static const struct cli_opt opts_snooze[] = {
    {"until", "DATE", "no reminder about the action before this date", CLI_VAL_DATE, CLI_TO_BODY,
     "until", true},
    {"reason", "TEXT", "why (kept in the action's history)", CLI_VAL_TEXT, CLI_TO_BODY, "reason",
     true},
    END};
static const struct cli_opt opts_reason[] = {{"reason", "TEXT",
                                              "why (kept in the action's history)", CLI_VAL_TEXT,
                                              CLI_TO_BODY, "reason", true},
                                             IF_VERSION,
                                             END};
static const struct cli_opt opts_report[] = {
    OWNER_FILTER,
    {"team", "TEAM", "owned by someone in", CLI_VAL_TEXT, CLI_TO_QUERY, "team", false},
    {"incident", "KEY", "following up", CLI_VAL_TEXT, CLI_TO_QUERY, "incident", false},
    {"days", "N", "the horizon: due-soon within N days (7), stale after N quiet days (14)",
     CLI_VAL_VERSION, CLI_TO_QUERY, "days", false},
    {"format", "table|json|csv|markdown", "how to print it (default table)", CLI_VAL_FORMAT,
     CLI_TO_LOCAL, NULL, false},
    {"limit", "N", "most rows to fetch (default 200)", CLI_VAL_LIMIT, CLI_TO_LOCAL, NULL, false},
    END};
static const struct cli_opt opts_figures[] = {
    {"by", "team|owner|incident|total", "one row per team, owner or incident (default: total)",
     CLI_VAL_TEXT, CLI_TO_QUERY, "by", false},
    OWNER_FILTER,
    {"team", "TEAM", "owned by someone in", CLI_VAL_TEXT, CLI_TO_QUERY, "team", false},
    {"incident", "KEY", "following up", CLI_VAL_TEXT, CLI_TO_QUERY, "incident", false},
    {"days", "N", "the window of closed work: time to close, on-time rates (90)", CLI_VAL_VERSION,
     CLI_TO_QUERY, "days", false},
    {"period", "week|month", "the trend's step (default week)", CLI_VAL_TEXT, CLI_TO_QUERY,
     "period", false},
    {"format", "table|json|csv|markdown", "how to print it (default table)", CLI_VAL_FORMAT,
     CLI_TO_LOCAL, NULL, false},
    {"limit", "N", "most rows (default 100)", CLI_VAL_LIMIT, CLI_TO_QUERY, "limit", false},
    END};
static const struct cli_opt opts_dashboard[] = {
    {"team", "TEAM", "only this team's work", CLI_VAL_TEXT, CLI_TO_QUERY, "team", false},
    {"incident", "KEY", "only this incident's work", CLI_VAL_TEXT, CLI_TO_QUERY, "incident", false},
    {"watch", NULL, "draw it again every --every seconds until interrupted", CLI_VAL_FLAG,
     CLI_TO_LOCAL, NULL, false},
    {"every", "N", "seconds between two drawings with --watch (default 10)", CLI_VAL_LIMIT,
     CLI_TO_LOCAL, NULL, false},
    END};
static const struct cli_opt opts_mail_list[] = {
    {"status", "queued|sending|sent|failed", "only messages in this state", CLI_VAL_TEXT,
     CLI_TO_QUERY, "status", false},
    {"format", "table|json|csv|markdown", "how to print it (default table)", CLI_VAL_FORMAT,
     CLI_TO_LOCAL, NULL, false},
    {"limit", "N", "most rows to fetch (default 100)", CLI_VAL_LIMIT, CLI_TO_LOCAL, NULL, false},
    END};
static const struct cli_opt opts_digest_preview[] = {
    {"to", "HANDLE", "whose digest: a handle, or a recipient key (team:T:h, extra:NAME)",
     CLI_VAL_TEXT, CLI_TO_PATH, NULL, true},
    {"period", "KEY", "that period (2026-W49, 2026-12-07, 2026-12) instead of the latest",
     CLI_VAL_TEXT, CLI_TO_QUERY, "period", false},
    {"format", "md|html|json", "how to print it (default md)", CLI_VAL_DOC_FORMAT, CLI_TO_LOCAL,
     NULL, false},
    END};
static const struct cli_opt opts_digest_send[] = {{"to", "HANDLE",
                                                   "whose digest: a handle, or a recipient key",
                                                   CLI_VAL_TEXT, CLI_TO_BODY, "to", true},
                                                  END};
static const struct cli_opt opts_digest_list[] = {
    {"format", "table|json|csv|markdown", "how to print it (default table)", CLI_VAL_FORMAT,
     CLI_TO_LOCAL, NULL, false},
    {"limit", "N", "most rows to fetch (default 100)", CLI_VAL_LIMIT, CLI_TO_LOCAL, NULL, false},
    END};
static const struct cli_opt opts_search[] = {
    {"team", "TEAM", "the team's: incidents it facilitated, actions its people own, its reviews",
     CLI_VAL_TEXT, CLI_TO_QUERY, "team", false},
    {"since", "SINCE", "from then on (yesterday, -30d, 2026-11-01)", CLI_VAL_SINCE, CLI_TO_QUERY,
     "since", false},
    {"format", "table|json|csv|markdown", "how to print it (default table)", CLI_VAL_FORMAT,
     CLI_TO_LOCAL, NULL, false},
    {"limit", "N", "most hits to show, best first (default 20)", CLI_VAL_LIMIT, CLI_TO_LOCAL, NULL,
     false},
    END};
static const struct cli_opt opts_jira_import[] = {
    {"jql", "JQL", "import the project's issues this JQL selects (no ORDER BY)", CLI_VAL_TEXT,
     CLI_TO_BODY, "jql", true},
    {"incident", "KEY", "the incident the new actions follow up", CLI_VAL_TEXT, CLI_TO_BODY,
     "incident", true},
    END};
static const struct cli_opt opts_github_import[] = {
    {"label", "LABEL", "import the issues that carry this label", CLI_VAL_TEXT, CLI_TO_BODY,
     "label", true},
    {"incident", "KEY", "the incident the new actions follow up", CLI_VAL_TEXT, CLI_TO_BODY,
     "incident", true},
    END};

static const struct cli_opt opts_review_schedule[] = {
    {"at", "WHEN",
     "\"YYYY-MM-DD HH:MM\" in --tz (else the facilitator's zone), or RFC 3339; "
     "pins the time (default: the policy's, not pinned)",
     CLI_VAL_WHEN, CLI_TO_BODY, "at", false},
    {"tz", "ZONE", "the meeting's time zone, e.g. Europe/Berlin", CLI_VAL_TEXT, CLI_TO_BODY,
     "timezone", false},
    {"duration", "MINUTES", "length: 45m, 1h or 90 (default: the policy's)", CLI_VAL_MINUTES,
     CLI_TO_BODY, "duration_minutes", false},
    {"attendees", "EMAILS", "also invite these addresses (comma list)", CLI_VAL_ADDRESSES,
     CLI_TO_BODY, "attendees", false},
    {"summary-to", "EMAILS", "the incident's summary list (comma list)", CLI_VAL_ADDRESSES,
     CLI_TO_BODY, "summary_to", false},
    END};
static const struct cli_opt opts_review_move[] = {
    {"at", "WHEN",
     "the new time: \"YYYY-MM-DD HH:MM\" in --tz (else the review's zone), or "
     "RFC 3339",
     CLI_VAL_WHEN, CLI_TO_BODY, "at", true},
    {"tz", "ZONE", "the meeting's time zone", CLI_VAL_TEXT, CLI_TO_BODY, "timezone", false},
    {"duration", "MINUTES", "a new length: 45m, 1h or 90", CLI_VAL_MINUTES, CLI_TO_BODY,
     "duration_minutes", false},
    {"reason", "TEXT", "why (kept in the review's history)", CLI_VAL_TEXT, CLI_TO_BODY, "reason",
     false},
    END};
static const struct cli_opt opts_review_cancel[] = {
    {"reason", "TEXT", "why (kept in the review's history, and in the cancellation)", CLI_VAL_TEXT,
     CLI_TO_BODY, "reason", false},
    END};
static const struct cli_opt opts_verify[] = {{"evidence", "URL|TEXT",
                                              "what shows it worked (kept with the action)",
                                              CLI_VAL_TEXT, CLI_TO_BODY, "evidence", true},
                                             END};
static const struct cli_opt opts_doc[] = {{"format", "md|html|json", "how to print it (default md)",
                                           CLI_VAL_DOC_FORMAT, CLI_TO_LOCAL, NULL, false},
                                          END};
static const struct cli_opt opts_hold[] = {
    {"outcome", "ID=OUTCOME", "effective, not_effective, not_done or dropped (repeat per action)",
     CLI_VAL_PAIR, CLI_TO_LOCAL, NULL, false},
    {"due", "ID=DATE", "not_done: the action's new due date", CLI_VAL_PAIR, CLI_TO_LOCAL, NULL,
     false},
    {"reason", "ID=TEXT", "dropped: why it will not be done", CLI_VAL_PAIR, CLI_TO_LOCAL, NULL,
     false},
    {"evidence", "ID=TEXT", "effective: what shows it worked", CLI_VAL_PAIR, CLI_TO_LOCAL, NULL,
     false},
    {"note", "ID=TEXT", "a note on the action", CLI_VAL_PAIR, CLI_TO_LOCAL, NULL, false},
    {"follow-up", "ID=TITLE", "a follow-up action (needed by not_effective)", CLI_VAL_PAIR,
     CLI_TO_LOCAL, NULL, false},
    {"follow-up-owner", "ID=HANDLE", "the follow-up's owner", CLI_VAL_PAIR, CLI_TO_LOCAL, NULL,
     false},
    {"follow-up-due", "ID=DATE", "the follow-up's due date", CLI_VAL_PAIR, CLI_TO_LOCAL, NULL,
     false},
    {"attended", "WHO[,WHO]", "who was there: handles or addresses", CLI_VAL_TEXT, CLI_TO_LOCAL,
     NULL, false},
    {"notes", "TEXT", "notes of the meeting", CLI_VAL_TEXT, CLI_TO_LOCAL, NULL, false},
    {"file", "FILE|-", "the whole request as JSON: {\"items\": [...], \"attended\", \"notes\"}",
     CLI_VAL_TEXT, CLI_TO_LOCAL, NULL, false},
    END};
static const struct cli_opt opts_review_list[] = {
    {"team", "TEAM", "this team's reviews", CLI_VAL_TEXT, CLI_TO_QUERY, "team", false},
    {"from", "DATE", "starting on or after", CLI_VAL_DATE, CLI_TO_QUERY, "from", false},
    {"to", "DATE", "starting before", CLI_VAL_DATE, CLI_TO_QUERY, "to", false},
    {"status", "scheduled|held|cancelled", "in this state", CLI_VAL_TEXT, CLI_TO_QUERY, "status",
     false},
    {"limit", "N", "most rows to fetch (default 200)", CLI_VAL_LIMIT, CLI_TO_LOCAL, NULL, false},
    END};
static const struct cli_opt opts_feed_create[] = {
    {"person", "HANDLE", "a feed of the reviews this person is invited to", CLI_VAL_TEXT,
     CLI_TO_BODY, "person", false},
    {"team", "TEAM", "a feed of the team's reviews", CLI_VAL_TEXT, CLI_TO_BODY, "team", false},
    {"label", "TEXT", "the calendar's name in calendar apps", CLI_VAL_TEXT, CLI_TO_BODY, "label",
     false},
    END};

/* clang-format off */
#define STATUS_VERB(verb, what)                                                                    \
    {"action", verb, what, CLI_OP_POST, CLI_RES_ACTION, "actions", verb, 0, false, false,         \
     pos_action, opts_if_version, 0}
#define REPORT_VERB(name, what)                                                                    \
    {"report", name, what, CLI_OP_LIST, CLI_RES_REPORT, "reports", name, DEFAULT_ACTION_ROWS,     \
     true, false, NULL, opts_report, 0}
/* clang-format on */

const struct cli_verb cli_verbs[] = {
    {"team", "add", "create a team", CLI_OP_CREATE, CLI_RES_TEAM, "teams", NULL, 0, false, false,
     pos_team_new, opts_team_add, 0},
    {"team", "list", "list teams", CLI_OP_LIST, CLI_RES_TEAM, "teams", NULL, CLI_VERBS_LIMIT_MAX,
     true, false, NULL, opts_none, 0},
    {"team", "edit", "change a team", CLI_OP_EDIT, CLI_RES_TEAM, "teams", NULL, 0, false, false,
     pos_team, opts_team_edit, 0},
    {"person", "add", "create a person", CLI_OP_CREATE, CLI_RES_PERSON, "people", NULL, 0, false,
     false, pos_person_new, opts_person_add, 0},
    {"person", "list", "list people", CLI_OP_LIST, CLI_RES_PERSON, "people", NULL,
     CLI_VERBS_LIMIT_MAX, true, false, NULL, opts_person_list, 0},
    {"person", "show", "show one person", CLI_OP_SHOW, CLI_RES_PERSON, "people", NULL, 0, false,
     false, pos_person, opts_none, 0},
    {"person", "edit", "change a person", CLI_OP_EDIT, CLI_RES_PERSON, "people", NULL, 0, false,
     false, pos_person, opts_person_edit, 0},
    {"incident", "add", "record an incident", CLI_OP_CREATE, CLI_RES_INCIDENT, "incidents", NULL, 0,
     false, false, pos_incident_new, opts_incident_add, 0},
    {"incident", "list", "list incidents", CLI_OP_LIST, CLI_RES_INCIDENT, "incidents", NULL,
     CLI_VERBS_LIMIT_MAX, true, false, NULL, opts_none, 0},
    {"incident", "show", "show an incident and its actions", CLI_OP_INCIDENT_SHOW, CLI_RES_INCIDENT,
     "incidents", NULL, 0, false, false, pos_incident, opts_none, 0},
    {"incident", "history", "an incident's changes, oldest first", CLI_OP_LIST, CLI_RES_EVENT,
     "incidents", "history", CLI_VERBS_LIMIT_MAX, true, false, pos_incident, opts_none, 0},
    {"incident", "edit", "change an incident", CLI_OP_EDIT, CLI_RES_INCIDENT, "incidents", NULL, 0,
     false, false, pos_incident, opts_incident_edit, 0},
    {"incident", "archive", "hide a mistaken incident and its actions (kept, and in history)",
     CLI_OP_POST, CLI_RES_INCIDENT, "incidents", "archive", 0, false, false, pos_incident,
     opts_none, 0},
    {"incident", "unarchive", "bring back an archived incident and its actions", CLI_OP_POST,
     CLI_RES_INCIDENT, "incidents", "unarchive", 0, false, false, pos_incident, opts_none, 0},
    {"incident", "rekey", "give an incident a new key; its actions and links follow", CLI_OP_POST,
     CLI_RES_INCIDENT, "incidents", "rekey", 0, false, false, pos_rekey, opts_none, 0},
    {"action", "add", "record an action; prints its id", CLI_OP_CREATE, CLI_RES_ACTION, "actions",
     NULL, 0, false, true, NULL, opts_action_add, 0},
    {"action", "import", "record many actions from a file, all or none", CLI_OP_POST, CLI_RES_BATCH,
     "incidents", "actions", 0, false, false, pos_actions_file, opts_action_import, 0},
    {"action", "list", "list actions, most urgent first", CLI_OP_LIST, CLI_RES_ACTION, "actions",
     NULL, DEFAULT_ACTION_ROWS, true, false, NULL, opts_action_list, 0},
    {"action", "show", "show one action, why it is blocked or dropped, its latest notes",
     CLI_OP_ACTION_SHOW, CLI_RES_ACTION, "actions", NULL, 0, false, false, pos_action, opts_none,
     0},
    {"action", "edit", "change an action", CLI_OP_EDIT, CLI_RES_ACTION, "actions", NULL, 0, false,
     false, pos_action, opts_action_edit, 0},
    {"action", "link", "link an action to an existing GitHub or Jira issue", CLI_OP_POST,
     CLI_RES_ACTION, "actions", "link", 0, false, false, pos_link, opts_none, 0},
    {"action", "assign", "give an action to an owner", CLI_OP_POST, CLI_RES_ACTION, "actions",
     "assign", 0, false, false, pos_assign, opts_if_version, 0},
    STATUS_VERB("unassign", "take the owner off an action"),
    STATUS_VERB("start", "open/blocked -> in_progress"),
    {"action", "block", "open/in_progress -> blocked, with the --reason", CLI_OP_POST,
     CLI_RES_ACTION, "actions", "block", 0, false, false, pos_action, opts_reason, 0},
    STATUS_VERB("done", "any open state -> done"),
    {"action", "drop", "any open state -> wont_do, with the --reason", CLI_OP_POST, CLI_RES_ACTION,
     "actions", "drop", 0, false, false, pos_action, opts_reason, 0},
    STATUS_VERB("reopen", "done/wont_do -> open"),
    {"action", "note", "add a progress note to an action's history", CLI_OP_POST, CLI_RES_EVENT,
     "actions", "notes", 0, false, false, pos_note, opts_none, 0},
    {"action", "snooze", "no reminder about an action until --until; says when the next is due",
     CLI_OP_POST, CLI_RES_REMINDER, "actions", "snooze", 0, false, false, pos_action, opts_snooze,
     0},
    {"action", "archive", "hide a mistaken action (kept, and in history; its issue is left)",
     CLI_OP_POST, CLI_RES_ACTION, "actions", "archive", 0, false, false, pos_action, opts_none, 0},
    {"action", "unarchive", "bring back an archived action", CLI_OP_POST, CLI_RES_ACTION, "actions",
     "unarchive", 0, false, false, pos_action, opts_none, 0},
    {"action", "verify", "confirm a done action worked, with --evidence", CLI_OP_POST,
     CLI_RES_ACTION, "actions", "verify", 0, false, false, pos_action, opts_verify, 0},
    {"action", "history", "an action's changes, oldest first", CLI_OP_LIST, CLI_RES_EVENT,
     "actions", "history", CLI_VERBS_LIMIT_MAX, false, false, pos_action, opts_none, 0},
    REPORT_VERB("overdue", "open work past its due date, most late first"),
    REPORT_VERB("unowned", "open work with no owner, or an owner who left"),
    REPORT_VERB("undated", "open work with no due date"),
    REPORT_VERB("due-soon", "due within --days (7) and not started"),
    REPORT_VERB("stale", "open work unchanged for --days (14)"),
    REPORT_VERB("blocked", "blocked work, and since when"),
    REPORT_VERB("drift", "the tracker disagrees: broken or failing links, other assignees"),
    REPORT_VERB("slipped", "due dates moved later: how often, by how much"),
    REPORT_VERB("unverified", "done, and nobody confirmed it worked"),
    {"report", "figures", "open, overdue, unowned, age, time to close, on-time rate, trend",
     CLI_OP_FIGURES, CLI_RES_FIGURES, "figures", NULL, 0, false, false, NULL, opts_figures, 0},
    {"dashboard", "", "one screen: what to chase, per team and incident, the trend",
     CLI_OP_DASHBOARD, CLI_RES_FIGURES, "figures", NULL, 0, false, false, NULL, opts_dashboard, 0},
    {"review", "schedule", "schedule an incident's review (by the policy, or --at: pinned)",
     CLI_OP_PUT, CLI_RES_REVIEW, "incidents", "review", 0, false, false, pos_incident,
     opts_review_schedule, 0},
    {"review", "move", "move an incident's review (pins it); invitations go out again", CLI_OP_POST,
     CLI_RES_REVIEW, "incidents", "review/move", 0, false, false, pos_incident, opts_review_move,
     0},
    {"review", "cancel", "cancel an incident's review; everyone invited is told", CLI_OP_POST,
     CLI_RES_REVIEW, "incidents", "review/cancel", 0, false, false, pos_incident,
     opts_review_cancel, 0},
    {"review", "status", "when an incident's review is, who pinned it, its SEQUENCE", CLI_OP_SHOW,
     CLI_RES_REVIEW, "incidents", "review", 0, false, false, pos_incident, opts_none, 0},
    {"review", "history", "a review's changes: scheduled, moved, cancelled, held", CLI_OP_LIST,
     CLI_RES_REVIEW_EVENT, "incidents", "review/history", CLI_VERBS_LIMIT_MAX, true, false,
     pos_incident, opts_none, 0},
    {"review", "backlog", "a team's recurring backlog review and its agenda", CLI_OP_SHOW,
     CLI_RES_BACKLOG, "teams", "backlog-review", 0, false, false, pos_team, opts_none, 0},
    {"review", "show", "the agenda: every action, its slip, sync and what to decide", CLI_OP_DOC,
     CLI_RES_REVIEW, "incidents", "review/agenda", 0, false, false, pos_incident, opts_doc, 0},
    {"review", "hold", "record the outcome of each action (prompts on a terminal)",
     CLI_OP_REVIEW_HOLD, CLI_RES_REVIEW, "incidents", "review/hold", 0, false, false, pos_incident,
     opts_hold, 0},
    {"review", "summary", "what a held review decided", CLI_OP_DOC, CLI_RES_REVIEW, "incidents",
     "review/summary", 0, false, false, pos_incident, opts_doc, 0},
    {"review", "list", "reviews by time: incident, team, status, outcomes", CLI_OP_LIST,
     CLI_RES_REVIEW_LIST, "reviews", NULL, 200, true, false, NULL, opts_review_list, 0},
    {"search", "", "search the archive: incidents, actions, notes, reviews, ranked", CLI_OP_SEARCH,
     CLI_RES_SEARCH, "search", NULL, 20, false, false, pos_search, opts_search, 0},
    {"sync", "status", "tracker sync: connections, rate limits, repositories", CLI_OP_SHOW,
     CLI_RES_SYNC, "sync", "status", 0, false, false, NULL, opts_none, 0},
    {"github", "import", "turn labelled issues into actions (may take minutes)", CLI_OP_POST,
     CLI_RES_IMPORT, "github", "import", 0, false, false, pos_repo, opts_github_import,
     CLI_VERBS_SLOW_S},
    {"github", "doctor", "check access to a repository; exit 1 if a check fails", CLI_OP_POST,
     CLI_RES_DOCTOR, "github", "doctor", 0, false, false, pos_repo, opts_none, 0},
    {"jira", "import", "turn a project's issues into actions (may take minutes)", CLI_OP_POST,
     CLI_RES_IMPORT, "jira", "import", 0, false, false, pos_project, opts_jira_import,
     CLI_VERBS_SLOW_S},
    {"jira", "doctor", "check access to a project and its workflow; exit 1 if a check fails",
     CLI_OP_POST, CLI_RES_DOCTOR, "jira", "doctor", 0, false, false, pos_project, opts_none, 0},
    {"mail", "list", "the mail queue, newest first: sent, waiting, failed and why (admin)",
     CLI_OP_LIST, CLI_RES_MAIL, "mail", NULL, 100, true, false, NULL, opts_mail_list, 0},
    {"chat", "list",
     "the chat queue (Slack, Teams), newest first: posted, waiting, failed and "
     "why (admin)",
     CLI_OP_LIST, CLI_RES_CHAT, "chat", NULL, 100, true, false, NULL, opts_mail_list, 0},
    {"digest", "preview", "the digest a recipient would get now (or for --period); nothing sent",
     CLI_OP_DOC, CLI_RES_DIGEST, "digests", "preview", 0, false, false, NULL, opts_digest_preview,
     0},
    {"digest", "send-now", "queue the current period's digest now (once per period; admin)",
     CLI_OP_POST, CLI_RES_DIGEST, "digests", "send-now", 0, false, false, NULL, opts_digest_send,
     0},
    {"digest", "list", "digests that went out: when, to whom, for which period (admin)",
     CLI_OP_LIST, CLI_RES_DIGEST, "digests", NULL, 100, true, false, NULL, opts_digest_list, 0},
    {"feed", "create", "a calendar feed URL of --person's or --team's reviews (shown once)",
     CLI_OP_CREATE, CLI_RES_FEED, "calendar-feeds", NULL, 0, false, false, NULL, opts_feed_create,
     0},
    {"feed", "list", "list calendar feeds (their URLs are never shown again)", CLI_OP_LIST,
     CLI_RES_FEED, "calendar-feeds", NULL, CLI_VERBS_LIMIT_MAX, true, false, NULL, opts_none, 0},
    {"feed", "revoke", "revoke a calendar feed: its URL answers 404 from now on", CLI_OP_DELETE,
     CLI_RES_FEED, "calendar-feeds", NULL, 0, false, false, pos_feed, opts_none, 0},
};

const size_t cli_verbs_len = sizeof(cli_verbs) / sizeof(cli_verbs[0]);

const struct cli_verb *cli_verbs_find(const struct cli_verb *verbs, size_t n, const char *group,
                                      const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(verbs[i].group, group) == 0 && strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    }
    return NULL;
}

bool cli_verbs_has_group(const struct cli_verb *verbs, size_t n, const char *group)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(verbs[i].group, group) == 0)
            return true;
    }
    return false;
}

size_t cli_verbs_count(const struct cli_opt *list)
{
    size_t n = 0;

    while (list != NULL && list[n].name != NULL)
        n++;
    return n;
}
