/* conf: closeloopd's configuration. One table maps each key to its type, field,
 * default and whether SIGHUP may change it. Sources, later wins: built-in defaults,
 * the INI file, CLOSELOOP_* environment variables, command-line flags. */
#ifndef CLOSELOOP_CONF_H
#define CLOSELOOP_CONF_H

#include "closeloop/util/policy/chat_conf.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/policy/digest_policy.h"
#include "closeloop/util/due.h"
#include "closeloop/util/policy/remind_policy.h"
#include "closeloop/util/policy/review_policy.h"

#include <stdbool.h>
#include <stdio.h>

#define CONF_MAX_CONNS        16 /* tracker connections, every tracker together */
#define CONF_MAX_TRACKER_KEYS 16 /* a tracker's own keys */
#define CONF_MAX_FLAGS        8  /* command-line flags that set keys */

/* One of a tracker's own configuration keys, declared by its provider (string values). */
struct conf_key {
    const char *key;
    const char *def; /* default, "" for none */
    bool secret;     /* never printed nor logged */
};

/* A tracker whose connections the file and environment may configure: section
 * [TRACKER.NAME], keys TRACKER_<key> (and CLOSELOOP_TRACKER_<KEY>) for its default
 * connection, which is named TRACKER. Its own keys come on top of the neutral ones. */
struct conf_tracker {
    const char *name;
    const struct conf_key *keys;
    size_t nkeys;
    const char *const *aliases; /* NULL, or {"old", "neutral", ..., NULL}: old names kept */
};

/* One connection to a tracker: the neutral keys, then the tracker's own. */
struct conf_conn {
    const struct conf_tracker *tracker;
    char *name;            /* [a-z0-9_-]{1,32}; the tracker's name for its default one */
    char *webhook_secret;  /* secret */
    char *scopes;          /* comma list of scope prefixes this connection serves (GitHub
                            * owners, Jira project keys); empty: any (default connection) */
    double poll_interval;  /* seconds between reconciliations of a scope */
    double write_interval; /* minimum seconds between mutating requests */
    double timeout;        /* seconds per request */
    char *values[CONF_MAX_TRACKER_KEYS]; /* the tracker's keys, in its order */
};

struct conf {
    char *config_path;       /* the INI file read, or NULL */
    char *database_url;      /* secret: never logged */
    char *listen;            /* host:port */
    long pool_size;          /* PostgreSQL connections */
    long max_body;           /* bytes */
    long max_connections;    /* concurrent HTTP connections */
    double read_timeout;     /* seconds for a request's headers and body to arrive */
    double request_timeout;  /* seconds, whole request */
    double shutdown_timeout; /* seconds to finish in-flight requests on SIGTERM */
    double token_cache_ttl;  /* seconds a verified token is trusted without a query */
    char *log_level;
    double sync_stale_after;     /* /readyz fails when a reconciliation is older than this */
    double inbox_retention;      /* seconds a processed webhook delivery is kept */
    double figures_interval;     /* seconds between recomputations of the figures snapshot */
    long figures_window;         /* days of closed work the figures cover */
    struct due_policy due;       /* [due]: default due dates by priority (and kind); reloadable */
    double review_interval;      /* seconds between passes of the review scheduler */
    struct review_policy review; /* [review], [review.TEAM]: scheduling reviews; reloadable */
    double digest_interval;      /* seconds between passes of the digester */
    struct digest_policy digest; /* [digest], [digest.extra.NAME], [digest.team.NAME]; reloadable */
    double remind_interval;      /* seconds between passes of the reminder job */
    struct remind_policy remind; /* [remind], [remind.TEAM]: owner reminders; reloadable */
    /* [smtp]: mail (keys smtp_<key>, CLOSELOOP_SMTP_<KEY>); empty url: mail disabled */
    char *smtp_url;         /* smtp://host[:port] or smtps://host[:port] */
    char *smtp_from;        /* "addr" or "Name <addr>" */
    char *smtp_username;    /* "" for no AUTH */
    char *smtp_password;    /* secret */
    char *smtp_tls;         /* none, try or required */
    double smtp_timeout;    /* seconds per send */
    double smtp_retry_base; /* seconds before the first retry; doubles each time */
    double smtp_retry_max;  /* cap of the back-off */
    long smtp_max_attempts; /* attempts before a transient failure becomes final */
    long smtp_concurrency;  /* messages in flight at once per instance */
    /* [chat.NAME]: Slack / Teams incoming webhooks (chat_conf.h); chat_* keys: the queue */
    struct chat_conf chat;
    char *chat_allow_http_loopback; /* "true": http://127.0.0.1 urls too (tests only) */
    double chat_retry_base;         /* seconds before the first retry; doubles each time */
    double chat_retry_max;          /* cap of the back-off */
    double chat_retry_after_max;    /* cap of a 429's Retry-After */
    long chat_max_attempts;         /* attempts before a transient failure becomes final */
    long chat_concurrency;          /* posts in flight at once per instance */
    const struct conf_tracker *const *trackers; /* borrowed: the registry's */
    size_t ntrackers;
    struct conf_conn conns[CONF_MAX_CONNS]; /* each tracker's default one first */
    int nconns;
    /* command-line flags: applied after the file and the environment, again on reload */
    char *flag_keys[CONF_MAX_FLAGS];
    char *flag_values[CONF_MAX_FLAGS];
    int nflags;
};

/* The value of one of the connection's tracker keys ("" when unset, never NULL). */
const char *conf_conn_get(const struct conf_conn *c, const char *key);
/* The connection `name` of `tracker`, or NULL. */
const struct conf_conn *conf_conn_named(const struct conf *c, const char *tracker,
                                        const char *name);

/* New configuration holding the built-in defaults, with a default connection for each
 * of the `n` trackers (borrowed; they must outlive the configuration). Free with
 * conf_free(). */
struct conf *conf_new_defaults(const struct conf_tracker *const *trackers, size_t n);
void conf_free(struct conf *c);

/* Sets key to the text value ("due.P1" sets the due-date policy's P1); CL_EINVAL with a
 * message naming the key when it is unknown or the value does not parse. `reload_only` refuses keys
 * SIGHUP cannot change. */
int conf_set(struct conf *c, const char *key, const char *value, const char *where,
             struct cl_err *err);

/* conf_set() for a command-line flag, which is also kept (copied) so that
 * conf_reapply_flags() can apply it again over a reloaded file and environment. */
int conf_set_flag(struct conf *c, const char *key, const char *value, struct cl_err *err);

/* Applies `from`'s command-line flags to `to` (a configuration being reloaded). */
int conf_reapply_flags(struct conf *to, const struct conf *from, struct cl_err *err);

/* Reads an INI file (`key = value`, `#`/`;` comments, an optional [closeloopd] section,
 * a [due] section for the due-date policy, [review] and [review.TEAM] sections for the
 * review policy, an [smtp] section whose "url" is the key smtp_url, [<tracker>.NAME]
 * sections). */
int conf_load_file(struct conf *c, const char *path, struct cl_err *err);

/* Applies CLOSELOOP_<KEY> for every key (e.g. CLOSELOOP_DATABASE_URL). */
int conf_load_env(struct conf *c, struct cl_err *err);

/* Checks cross-field rules (e.g. database_url set, listen parses), those of
 * conf_validate_reloadable() included. */
int conf_validate(const struct conf *c, struct cl_err *err);

/* Checks what a reload may change ([chat.NAME] webhooks, [digest]): what SIGHUP runs on
 * the new configuration before applying any of it. */
int conf_validate_reloadable(const struct conf *c, struct cl_err *err);

/* Copies the keys SIGHUP may change from `from` into `to`: the reloadable keys, the
 * [due], [review], [digest] and [remind] policies and the [chat.NAME] channels. */
void conf_apply_reloadable(struct conf *to, const struct conf *from);

/* Prints every key and value; secrets are shown as "(set)". */
void conf_print(const struct conf *c, FILE *out);

/* One key of the tables, as documentation sees it (the man page closeloopd.ini(5)). */
struct conf_doc {
    const char *key;
    const char *type; /* "text", "integer", "number" or "level" */
    const char *def;  /* default, "" for none */
    double min, max;  /* bounds of a number; both 0 for text */
    bool reloadable;  /* SIGHUP applies it */
    bool secret;      /* never printed nor logged */
};

/* Fills out[0..max) with closeloopd's own keys (conn false) or with the neutral keys every
 * tracker connection has (conn true), in table order; returns how many there are. */
size_t conf_doc_list(struct conf_doc *out, size_t max, bool conn);

/* Splits "host:port" or "[v6]:port"; *host_out is heap-allocated on success. */
int conf_split_listen(char **host_out, int *port_out, const char *listen, struct cl_err *err);

#endif
