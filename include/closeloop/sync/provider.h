/* provider: what the tracker-neutral sync core needs from a tracker (GitHub now, Jira
 * next). Remote issues travel as neutral snapshots (jansson objects):
 *   {"remote_id","node_id","number","repo","url","updated_at","title","description",
 *    "due_on" (absent when the issue does not say),"status" ("open"|"done"|"wont_do"),
 *    "assignees" [tracker user ids]} plus tracker-specific extras the provider may read back.
 * Jobs are the JSON cl_outbox_claim() returns (action, link, instance). Loop-only;
 * every callback runs from the loop, exactly once, never inside the starting call. */
#ifndef CLOSELOOP_PROVIDER_H
#define CLOSELOOP_PROVIDER_H

#include "closeloop/util/buf.h"
#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stdbool.h>

enum provider_outcome {
    PROVIDER_OK,
    PROVIDER_RETRY,    /* transient: 5xx, timeout, network; retry after backoff */
    PROVIDER_LIMITED,  /* rate limited: retry after `retry_after` */
    PROVIDER_REJECTED, /* permanent: the tracker will never accept this (422) */
    PROVIDER_GONE,     /* the remote issue is deleted or unreachable (404/410) */
    PROVIDER_AUTH      /* credentials refused (401): the connection pauses */
};

struct provider_result {
    enum provider_outcome outcome;
    double retry_after;    /* seconds, for RETRY and LIMITED (0: caller's backoff) */
    char message[256];     /* why, for RETRY..AUTH; shown to people */
    json_t *remote;        /* borrowed: one snapshot, or NULL (e.g. marker not found) */
    json_t *remotes;       /* borrowed: list results (array), or NULL */
    bool not_modified;     /* list: 304, nothing changed */
    const char *listed_at; /* list: when the listing began (server Date), or NULL */
    const char *etag;      /* list: ETag of the first page, for the next poll */
    int requests;          /* requests this operation made */
};

typedef void (*provider_done_fn)(const struct provider_result *r, void *arg);

/* What a webhook delivery asks for. */
enum provider_hook_kind {
    PROVIDER_HOOK_IGNORE, /* not about issues, or an action we do not sync */
    PROVIDER_HOOK_PING,
    PROVIDER_HOOK_APPLY,  /* merge `remote` */
    PROVIDER_HOOK_MOVED,  /* the issue `old_id` is now `remote` (transfer) */
    PROVIDER_HOOK_DELETED /* the issue `old_id` is gone */
};

struct provider_hook {
    enum provider_hook_kind kind;
    json_t *remote;      /* owned: json_decref it; NULL unless APPLY or MOVED */
    char old_id[32];     /* the remote id the delivery is about (APPLY, MOVED, DELETED) */
    char scope[160];     /* its repository or project, "" when unknown */
    char updated_at[40]; /* the remote's time of this change: stale deliveries are ignored */
    char actor[64];      /* who did it (sender login) */
};

struct provider_ops {
    const char *tracker; /* "github", "jira" */
    /* Creates the remote issue for job's action. */
    void (*create)(void *self, const json_t *job, provider_done_fn done, void *arg);
    /* Looks for an issue carrying job's marker, created since link.creating_since;
     * OK with remote NULL when there is none. */
    void (*find_marker)(void *self, const json_t *job, provider_done_fn done, void *arg);
    /* Reads the linked issue (following a move). */
    void (*fetch)(void *self, const json_t *job, provider_done_fn done, void *arg);
    /* Makes the remote match `local` (cl_sync_apply's "local"), given the `remote` just
     * fetched; sends only what differs. OK with the remote as it is afterwards. */
    void (*update)(void *self, const json_t *job, const json_t *local, const json_t *remote,
                   provider_done_fn done, void *arg);
    /* Issues of repo updated at or after cursor (NULL: all), every page; PRs skipped. */
    void (*list_since)(void *self, const char *repo, const char *cursor, const char *etag,
                       provider_done_fn done, void *arg);
    /* Issues of repo carrying label (all states, every page). */
    void (*list_labelled)(void *self, const char *repo, const char *label, provider_done_fn done,
                          void *arg);
    /* Checks credentials, permissions and labels; writes {"ok","checks":[...]} into out
     * as the remote of the result. */
    void (*doctor)(void *self, const char *repo, provider_done_fn done, void *arg);
    /* Verifies a delivery's signature over the raw body. */
    bool (*verify_hook)(void *self, const char *signature, const char *body, size_t len);
    /* Parses a verified delivery. CL_EINVAL for a malformed payload. */
    int (*parse_hook)(void *self, const char *event, const char *body, size_t len,
                      struct provider_hook *out, struct cl_err *err);
    /* Appends this connection's state to a JSON object (auth, rate limit, pause). */
    void (*describe)(void *self, json_t *into);
    /* True while the connection is usable (not paused for auth failure). */
    bool (*healthy)(void *self);
    void (*free)(void *self);
};

#endif
