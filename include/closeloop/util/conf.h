/* conf: closeloopd's configuration. One table maps each key to its type, field,
 * default and whether SIGHUP may change it. Sources, later wins: built-in defaults,
 * the INI file, CLOSELOOP_* environment variables, command-line flags. */
#ifndef CLOSELOOP_CONF_H
#define CLOSELOOP_CONF_H

#include "closeloop/util/cl.h"

#include <stdbool.h>
#include <stdio.h>

#define CONF_MAX_GITHUB 8

/* One GitHub connection: github.com or an Enterprise Server, by token or as an App. */
struct conf_github {
    char *name;         /* "github" for the default; [github.NAME] sections add more */
    char *api_url;      /* https://api.github.com or https://HOST/api/v3 */
    char *token;        /* secret: a PAT or installation token */
    char *app_id;       /* GitHub App: client id or numeric app id */
    char *app_key_file; /* GitHub App: PEM private key */
    char *app_installation_id;
    char *webhook_secret; /* secret */
    char *owners;         /* comma list of owners (orgs/users) this connection serves; empty: any */
    double poll_interval; /* seconds between reconciliations of a repository */
    double write_interval; /* minimum seconds between mutating requests */
    double timeout;        /* seconds per request */
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
    double sync_stale_after; /* /readyz fails when a reconciliation is older than this */
    double inbox_retention;  /* seconds a processed webhook delivery is kept */
    struct conf_github github[CONF_MAX_GITHUB];
    int ngithub; /* github[0] is the default connection, always present */
};

/* True when the connection has credentials (a token or an App). */
bool conf_github_enabled(const struct conf_github *g);
/* The connection serving owner/repo: the first whose owners list names the owner, else
 * the default; NULL when none is enabled. */
const struct conf_github *conf_github_for(const struct conf *c, const char *repo);
const struct conf_github *conf_github_named(const struct conf *c, const char *name);

/* New configuration holding the built-in defaults. Free with conf_free(). */
struct conf *conf_new_defaults(void);
void conf_free(struct conf *c);

/* Sets key to the text value; CL_EINVAL with a message naming the key when it is
 * unknown or the value does not parse. `reload_only` refuses keys SIGHUP cannot change. */
int conf_set(struct conf *c, const char *key, const char *value, const char *where,
             struct cl_err *err);

/* Reads an INI file (`key = value`, `#`/`;` comments, an optional [closeloopd] section). */
int conf_load_file(struct conf *c, const char *path, struct cl_err *err);

/* Applies CLOSELOOP_<KEY> for every key (e.g. CLOSELOOP_DATABASE_URL). */
int conf_load_env(struct conf *c, struct cl_err *err);

/* Checks cross-field rules (e.g. database_url set, listen parses). */
int conf_validate(const struct conf *c, struct cl_err *err);

/* Copies the keys SIGHUP may change from `from` into `to`. */
void conf_apply_reloadable(struct conf *to, const struct conf *from);

/* Prints every key and value; secrets are shown as "(set)". */
void conf_print(const struct conf *c, FILE *out);

/* Splits "host:port" or "[v6]:port"; *host_out is heap-allocated on success. */
int conf_split_listen(char **host_out, int *port_out, const char *listen, struct cl_err *err);

#endif
