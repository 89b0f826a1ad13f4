#include "closeloop/api/auth.h"

#include "closeloop/util/crypto.h"
#include "closeloop/util/log.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_PREFIX      "clt_"
#define AUTH_TOKEN_BYTES 32
#define AUTH_TOKEN_MAX   128
#define AUTH_BUCKETS     256
#define AUTH_MAX_ENTRIES 4096

struct auth_entry {
    struct auth_entry *next;
    char hash[CRYPTO_SHA256_HEX_LEN + 1];
    bool valid;
    struct auth_identity id;
    double expires;
};

struct auth {
    struct ev_loop *loop;
    struct db_pool *pool;
    double ttl;
    int entries;
    struct auth_entry *buckets[AUTH_BUCKETS];
};

struct auth_lookup {
    struct auth *auth;
    struct db_query *query;
    char hash[CRYPTO_SHA256_HEX_LEN + 1];
    auth_done_fn done;
    void *arg;
};

/* The lookup of a token not in the cache also records when it was last used: a write at
 * most once a minute per token (and only on a cache miss), never one per request. */
static const struct db_stmt sql_lookup = {
    "auth_lookup",
    "WITH t AS (SELECT id, name, scope, last_used_at, person_id FROM api_tokens"
    "           WHERE hash = $1 AND revoked_at IS NULL),"
    " used AS (UPDATE api_tokens SET last_used_at = now()"
    "          WHERE id = (SELECT id FROM t)"
    "            AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))"
    " SELECT t.id, t.name, t.scope, p.handle FROM t LEFT JOIN people p ON p.id = t.person_id"};

static const char *const scope_names[] = {"none", "read", "write", "admin"};

enum auth_scope auth_scope_parse(const char *s)
{
    int i;

    for (i = AUTH_READ; i <= AUTH_ADMIN; i++)
        if (s != NULL && strcmp(s, scope_names[i]) == 0)
            return (enum auth_scope)i;
    return AUTH_NONE;
}

const char *auth_scope_name(enum auth_scope s)
{
    return scope_names[s];
}

struct auth *auth_new(struct ev_loop *loop, struct db_pool *pool, double ttl)
{
    struct auth *a = cl_calloc(1, sizeof(*a));

    a->loop = loop;
    a->pool = pool;
    a->ttl = ttl;
    return a;
}

static void auth_cache_clear(struct auth *a)
{
    int i;

    for (i = 0; i < AUTH_BUCKETS; i++) {
        struct auth_entry *e = a->buckets[i];

        while (e != NULL) {
            struct auth_entry *next = e->next;

            free(e);
            e = next;
        }
        a->buckets[i] = NULL;
    }
    a->entries = 0;
}

void auth_free(struct auth *a)
{
    if (a == NULL)
        return;
    auth_cache_clear(a);
    free(a);
}

void auth_set_ttl(struct auth *a, double ttl)
{
    a->ttl = ttl;
    auth_cache_clear(a);
}

static unsigned auth_bucket(const char *hash)
{
    return (unsigned)strtoul((char[3]){hash[0], hash[1], '\0'}, NULL, 16) % AUTH_BUCKETS;
}

static struct auth_entry *auth_cache_find(struct auth *a, const char *hash)
{
    struct auth_entry *e;

    for (e = a->buckets[auth_bucket(hash)]; e != NULL; e = e->next)
        if (strcmp(e->hash, hash) == 0)
            return e;
    return NULL;
}

static void auth_cache_put(struct auth *a, const char *hash, bool valid,
                           const struct auth_identity *id)
{
    struct auth_entry *e = auth_cache_find(a, hash);
    unsigned b = auth_bucket(hash);

    if (a->ttl <= 0)
        return;
    if (e == NULL) {
        if (a->entries >= AUTH_MAX_ENTRIES)
            auth_cache_clear(a); /* bounded: a flood of bad tokens cannot grow it */
        e = cl_calloc(1, sizeof(*e));
        memcpy(e->hash, hash, sizeof(e->hash));
        e->next = a->buckets[b];
        a->buckets[b] = e;
        a->entries++;
    }
    e->valid = valid;
    if (id != NULL)
        e->id = *id;
    e->expires = ev_now(a->loop) + a->ttl;
}

/* Extracts the token from "Bearer <token>" and hashes it. */
static int auth_hash_header(char hash[CRYPTO_SHA256_HEX_LEN + 1], const char *header,
                            struct cl_err *err)
{
    const char *tok;
    size_t len;

    if (header == NULL)
        return cl_fail(err, CL_EAUTH, "missing Authorization: Bearer token");
    if (strncasecmp(header, "Bearer ", 7) != 0)
        return cl_fail(err, CL_EAUTH, "Authorization must be \"Bearer <token>\"");
    tok = header + 7;
    while (*tok == ' ')
        tok++;
    len = strlen(tok);
    if (len == 0 || len > AUTH_TOKEN_MAX || strncmp(tok, AUTH_PREFIX, 4) != 0)
        return cl_fail(err, CL_EAUTH, "token is not a closeloop token");
    crypto_sha256_hex(hash, tok, len);
    return CL_OK;
}

static void auth_on_lookup(const struct db_reply *r, void *arg)
{
    struct auth_lookup *l = arg;
    struct auth_identity id = {0};
    int code = r->code;

    if (code == CL_OK && PQntuples(r->res) == 1) {
        cl_parse_long(&id.id, PQgetvalue(r->res, 0, 0), 1, __LONG_MAX__);
        snprintf(id.name, sizeof(id.name), "%s", PQgetvalue(r->res, 0, 1));
        id.scope = auth_scope_parse(PQgetvalue(r->res, 0, 2));
        snprintf(id.person, sizeof(id.person), "%s", PQgetvalue(r->res, 0, 3)); /* "" if NULL */
        auth_cache_put(l->auth, l->hash, true, &id);
    } else if (code == CL_OK) {
        code = CL_EAUTH;
        auth_cache_put(l->auth, l->hash, false, NULL);
    }
    l->done(code, code == CL_OK ? &id : NULL, l->arg);
    free(l);
}

int auth_check(struct auth_identity *out, struct auth_lookup **pending, struct auth *a,
               const char *header, auth_done_fn done, void *arg, struct cl_err *err)
{
    char hash[CRYPTO_SHA256_HEX_LEN + 1];
    const char *params[1] = {hash};
    struct auth_entry *e;
    struct auth_lookup *l;
    int rc = auth_hash_header(hash, header, err);

    if (rc != CL_OK)
        return rc;
    e = auth_cache_find(a, hash);
    if (e != NULL && e->expires > ev_now(a->loop)) {
        if (!e->valid)
            return cl_fail(err, CL_EAUTH, "unknown or revoked token");
        *out = e->id;
        return CL_OK;
    }
    l = cl_calloc(1, sizeof(*l));
    l->auth = a;
    memcpy(l->hash, hash, sizeof(hash));
    l->done = done;
    l->arg = arg;
    l->query = db_query_stmt(a->pool, &sql_lookup, 1, params, auth_on_lookup, l);
    *pending = l;
    return AUTH_PENDING;
}

void auth_lookup_cancel(struct auth_lookup *l)
{
    if (l == NULL)
        return;
    db_query_cancel(l->query);
    free(l);
}

/* The person a new token is for must exist and be active. */
static int auth_person_check(PGconn *pg, const char *handle, struct cl_err *err)
{
    const char *params[1] = {handle};
    PGresult *res = NULL;
    int rc =
        db_exec_blocking(&res, pg, "SELECT active FROM people WHERE handle = $1", 1, params, err);

    if (rc != CL_OK)
        return rc;
    if (PQntuples(res) == 0)
        rc = cl_fail(err, CL_ENOTFOUND,
                     "--person: nobody has the handle \"%s\" (add them first: closeloop "
                     "person add %s ...)",
                     handle, handle);
    else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        rc = cl_fail(err, CL_EINVAL, "--person: \"%s\" is inactive", handle);
    PQclear(res);
    return rc;
}

int auth_token_create(char **token, PGconn *pg, const char *name, enum auth_scope scope,
                      const char *person, struct cl_err *err)
{
    unsigned char raw[AUTH_TOKEN_BYTES];
    char enc[64];
    char hash[CRYPTO_SHA256_HEX_LEN + 1];
    const char *params[4] = {name, hash, auth_scope_name(scope), person};
    char *tok;
    int rc;

    if (scope == AUTH_NONE)
        return cl_fail(err, CL_EINVAL, "scope must be read, write or admin");
    rc = person != NULL ? auth_person_check(pg, person, err) : CL_OK;
    if (rc == CL_OK)
        rc = crypto_random(raw, sizeof(raw), err);
    if (rc != CL_OK)
        return rc;
    crypto_base64url(enc, raw, sizeof(raw));
    tok = cl_asprintf(AUTH_PREFIX "%s", enc);
    crypto_sha256_hex(hash, tok, strlen(tok));
    rc = db_exec_blocking(NULL, pg,
                          "INSERT INTO api_tokens (name, hash, scope, person_id)"
                          " VALUES ($1, $2, $3, (SELECT id FROM people WHERE handle = $4))",
                          4, params, err);
    if (rc != CL_OK) {
        free(tok);
        return rc;
    }
    *token = tok;
    return CL_OK;
}

int auth_token_list(PGconn *pg, FILE *out, struct cl_err *err)
{
    PGresult *res = NULL;
    int i;
    int rc = db_exec_blocking(&res, pg,
                              "SELECT t.id, t.name, t.scope,"
                              " coalesce(p.handle || CASE WHEN p.active THEN '' ELSE"
                              " ' (inactive)' END, '-'),"
                              " to_char(t.created_at, 'YYYY-MM-DD HH24:MI'),"
                              " coalesce(to_char(t.last_used_at, 'YYYY-MM-DD HH24:MI'), '-'),"
                              " coalesce(to_char(t.revoked_at, 'YYYY-MM-DD HH24:MI'), '-')"
                              " FROM api_tokens t LEFT JOIN people p ON p.id = t.person_id"
                              " ORDER BY t.id",
                              0, NULL, err);

    if (rc != CL_OK)
        return rc;
    fprintf(out, "%-6s %-24s %-6s %-24s %-17s %-17s %s\n", "ID", "NAME", "SCOPE", "PERSON",
            "CREATED", "LAST USED", "REVOKED");
    for (i = 0; i < PQntuples(res); i++)
        fprintf(out, "%-6s %-24s %-6s %-24s %-17s %-17s %s\n", PQgetvalue(res, i, 0),
                PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
                PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
    PQclear(res);
    return CL_OK;
}

int auth_token_revoke(PGconn *pg, const char *id_or_name, struct cl_err *err)
{
    const char *params[1] = {id_or_name};
    PGresult *res = NULL;
    int rc = db_exec_blocking(&res, pg,
                              "UPDATE api_tokens SET revoked_at = now()"
                              " WHERE revoked_at IS NULL AND (name = $1 OR id::text = $1)",
                              1, params, err);

    if (rc != CL_OK)
        return rc;
    if (strcmp(PQcmdTuples(res), "0") == 0)
        rc = cl_fail(err, CL_ENOTFOUND, "no live token with id or name \"%s\"", id_or_name);
    PQclear(res);
    return rc;
}
