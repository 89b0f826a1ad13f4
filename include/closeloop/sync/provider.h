/* provider: what the tracker-neutral sync core needs from a tracker, and what it gives.
 *
 * Words: a *scope* is where issues live and what a connection serves (a GitHub
 * "owner/repo", a Jira project key); a remote issue has an immutable *remote id* and a
 * *key* people see ("123" shown as owner/repo#123, "OPS-12").
 *
 * Remote issues travel as neutral snapshots (jansson objects):
 *   {"remote_id", "key", "scope", "url", "updated_at" (RFC 3339), "title",
 *    "description" (Markdown), "due_on" (YYYY-MM-DD or null; absent: the issue does not
 *    say), "status" ("open"|"done"|"wont_do"), "assignees" [tracker user ids] (absent:
 *    unknown), "labels" [names]} plus extras only the provider reads back.
 *
 * Every operation calls back exactly once, from the loop, never inside the call that
 * started it (struct remote gives providers that life cycle). Loop-only. */
#ifndef CLOSELOOP_PROVIDER_H
#define CLOSELOOP_PROVIDER_H

#include "closeloop/util/cl.h"
#include "closeloop/util/conf.h"

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct http_client;

enum provider_outcome {
    PROVIDER_OK,
    PROVIDER_RETRY,    /* transient: 5xx, timeout, network; retry after backoff */
    PROVIDER_LIMITED,  /* rate limited: retry after `retry_after` */
    PROVIDER_REJECTED, /* permanent: the tracker will never accept this */
    PROVIDER_GONE,     /* the remote issue is deleted */
    PROVIDER_AUTH      /* credentials refused: the connection pauses */
};
#define PROVIDER_OUTCOMES 6

struct provider_result {
    enum provider_outcome outcome;
    double retry_after;      /* seconds, for RETRY and LIMITED (0: the core's backoff) */
    char message[256];       /* why, for RETRY..AUTH; shown to people */
    json_t *remote;          /* borrowed: one snapshot (or the doctor's report), or NULL */
    json_t *remotes;         /* borrowed: a listing (array), or NULL */
    bool not_modified;       /* listing: nothing changed since the last poll */
    const char *listed_at;   /* listing: when it began by the tracker's clock, or NULL */
    const char *next_cursor; /* listing: where the next one starts (RFC 3339), when the
                              * provider says; NULL: from the newest update listed */
    const char *poll_state;  /* listing: the provider's state for the next poll, or NULL */
    int requests;            /* requests this operation made */
};

typedef void (*provider_done_fn)(const struct provider_result *r, void *arg);

/* One outbox job as the core claimed it: an action to create or bring in step. */
enum provider_link_state { PROVIDER_LINK_PENDING, PROVIDER_LINK_CREATING, PROVIDER_LINK_LINKED };

struct provider_job {
    long long link_id;
    enum provider_link_state state;
    const char *scope;          /* where the issue is (or is to be created) */
    const char *remote_id;      /* NULL until created or linked */
    const char *remote_key;     /* NULL until created or linked */
    const char *creating_since; /* first create attempt (RFC 3339), or NULL */
    const char *instance;       /* this installation's id, for markers */
    const json_t *action;       /* what to push: cl_sync_push_view() */
};

/* A comment to post on a job's linked issue (a reminder). The provider writes the body in
 * its tracker's format, mentions the person when it knows their account on that tracker,
 * and embeds the marker so that find_comment can tell whether an interrupted attempt
 * posted it. Borrowed for the call. */
#define PROVIDER_COMMENT_MAX 60000 /* bytes of Markdown: below GitHub's 65,536 characters */

struct provider_comment {
    const char *body;      /* Markdown, 1..PROVIDER_COMMENT_MAX bytes */
    const char *marker;    /* [A-Za-z0-9-], 8..100 characters, unique per comment */
    const char *since;     /* when it was queued (RFC 3339): it cannot be older */
    const json_t *mention; /* {"github": login, "jira_account_id", "jira_name"}: the
                            * person's accounts (any may be absent), or NULL */
};

/* What a webhook delivery asks for. */
enum provider_hook_kind {
    PROVIDER_HOOK_IGNORE, /* cannot change anything closeloop syncs */
    PROVIDER_HOOK_PING,
    PROVIDER_HOOK_APPLY,   /* merge `remote` */
    PROVIDER_HOOK_MOVED,   /* the issue `old_id` is now `remote` */
    PROVIDER_HOOK_DELETED, /* the issue `old_id` is gone */
    PROVIDER_HOOK_REREAD   /* the issue `old_id` changed in a way the delivery cannot tell
                            * (a form the provider cannot read): the issue is read again */
};

struct provider_hook {
    enum provider_hook_kind kind;
    json_t *remote;      /* owned: json_decref it; NULL unless APPLY or MOVED */
    char old_id[64];     /* the remote id the delivery is about */
    char scope[160];     /* its scope, "" when unknown */
    char updated_at[40]; /* the remote's time of this change: stale deliveries are ignored */
    char actor[64];      /* who did it, as the tracker names them */
    char event[101];     /* the event, as stored with the delivery */
    char delivery[201];  /* the delivery's id: redeliveries carry the same one */
    /* For an edit the tracker reports with the values it replaced (GitHub's
     * changes.body.from): those values, else NULL (owned). */
    json_t *replaced;
};

/* A webhook request as it arrived: headers by name (case-insensitive) and the raw
 * body. Borrowed for the call. */
struct provider_delivery {
    const char *(*header)(const void *ctx, const char *name);
    const void *ctx;
    const char *body;
    size_t len;
};

struct provider_ops {
    /* Creates the remote issue for job's action. */
    void (*create)(void *self, const struct provider_job *job, provider_done_fn done, void *arg);
    /* Looks for the issue an earlier, interrupted create may have made (its marker),
     * created since job->creating_since; OK with remote NULL when there is none. */
    void (*find_marker)(void *self, const struct provider_job *job, provider_done_fn done,
                        void *arg);
    /* Reads the linked issue by its immutable id (following a move). */
    void (*fetch)(void *self, const struct provider_job *job, provider_done_fn done, void *arg);
    /* Makes the remote match `local` (cl_sync_apply's "local"), given the `remote` just
     * fetched; sends only what differs. OK with the remote as it is afterwards. */
    void (*update)(void *self, const struct provider_job *job, const json_t *local,
                   const json_t *remote, provider_done_fn done, void *arg);
    /* Posts c on the job's linked issue (job->remote_id / remote_key). OK with remote
     * {"id": text, "url": text or null}. */
    void (*comment)(void *self, const struct provider_job *job, const struct provider_comment *c,
                    provider_done_fn done, void *arg);
    /* Looks for a comment carrying c->marker on the job's issue (the newest comments, a
     * bounded number of pages): OK with {"id", "url"} when found, remote NULL when not. */
    void (*find_comment)(void *self, const struct provider_job *job,
                         const struct provider_comment *c, provider_done_fn done, void *arg);
    /* Issues of scope updated at or after cursor (RFC 3339; NULL: all), every page.
     * poll_state is what the last listing returned for this scope (or NULL). */
    void (*list_since)(void *self, const char *scope, const char *cursor, const char *poll_state,
                       provider_done_fn done, void *arg);
    /* The issues an import takes: those of scope matching `query` (a label on GitHub,
     * JQL on Jira), all states, every page. */
    void (*list_import)(void *self, const char *scope, const char *query, provider_done_fn done,
                        void *arg);
    /* Checks credentials, permissions and what the scope needs; the result's remote is
     * {"ok": bool, "checks": [{"name","ok","detail"}]}. */
    void (*doctor)(void *self, const char *scope, provider_done_fn done, void *arg);
    /* Reads a delivery at the door: checks its signature (CL_EAUTH, nothing else said),
     * names it (event, delivery id; CL_EINVAL when missing) and parses it into *out
     * (CL_OK; a malformed payload is CL_EINVAL with the reason and out->event and
     * out->delivery set, so that it can be kept as a dead letter). */
    int (*read_hook)(void *self, const struct provider_delivery *d, struct provider_hook *out,
                     struct cl_err *err);
    /* Parses a stored delivery again (the inbox worker): the same as read_hook without
     * the signature. */
    int (*parse_hook)(void *self, const char *event, const char *body, size_t len,
                      struct provider_hook *out, struct cl_err *err);
    /* Appends this connection's state to a JSON object (auth, rate limit, pause...). */
    void (*describe)(void *self, json_t *into);
    /* False while the connection's credentials are refused. */
    bool (*healthy)(void *self);
    void (*free)(void *self);
};

/* What a provider is given when a connection starts: borrowed, outliving it. */
struct provider_env {
    struct ev_loop *loop;
    struct http_client *http;
};

/* A tracker closeloop can sync with: one entry of the registry (registry.c). */
struct provider_def {
    const char *tracker;       /* "github": section [github.NAME], keys github_*, webhooks
                                * at /webhooks/github, routes /api/v1/github/..., the action
                                * field "github" (its scope) */
    const char *display;       /* "GitHub": the name people know it by, in messages */
    const char *scope_noun;    /* "repository", "project": for messages */
    const char *scope_rule;    /* what a valid scope looks like, for messages */
    const char *scope_field;   /* the import and doctor field naming a scope: "repo" */
    const char *query_field;   /* the import field selecting issues: "label" */
    const char *default_field; /* the team and incident field of their default: "github_repo" */
    const char *ref_rule;      /* what a reference to an issue looks like: "owner/repo#123" */
    /* Splits a reference to an issue into its scope and key; false when it is not one. */
    bool (*parse_ref)(const char *ref, char *scope, size_t scope_len, char *key, size_t key_len);
    /* True when s is a valid scope (checked before it reaches a URL or SQL). A
     * connection's `scopes` list names the part of a scope before its first '/' (the
     * GitHub owner, the whole Jira project key). */
    bool (*scope_valid)(const char *s);
    const struct conf_tracker *conf; /* its own configuration keys */
    /* True when the connection has what it needs to start (credentials). */
    bool (*configured)(const struct conf_conn *c);
    /* Starts a connection; *out is freed through ops->free. */
    int (*start)(void **out, const struct provider_env *env, const struct conf_conn *c,
                 struct cl_err *err);
    const struct provider_ops *ops;
};

#endif
