/* auth: API bearer tokens. A token is "clt_" + 43 base64url characters (32 random
 * bytes); only its SHA-256 is stored. Verification is asynchronous and cached for
 * `ttl` seconds (positive and negative), so revocation takes effect within ttl.
 * The cache and lookups are loop-only; the token_* verbs are blocking admin tools. */
#ifndef CLOSELOOP_AUTH_H
#define CLOSELOOP_AUTH_H

#include "closeloop/util/cl.h"
#include "closeloop/db/db.h"

#include <ev.h>
#include <libpq-fe.h>
#include <stdio.h>

enum auth_scope { AUTH_NONE = 0, AUTH_READ = 1, AUTH_WRITE = 2, AUTH_ADMIN = 3 };

struct auth_identity {
    long id;
    char name[64];
    enum auth_scope scope;
    char person[64]; /* handle of the person the token belongs to; "" when none */
};

struct auth;
struct auth_lookup;

/* Called once with CL_OK and the identity, CL_EAUTH (unknown/revoked), or another code
 * when the database could not answer. `id` is borrowed for the call. */
typedef void (*auth_done_fn)(int code, const struct auth_identity *id, void *arg);

#define AUTH_PENDING 1

/* The pool is borrowed and must outlive the auth. Free with auth_free(). */
struct auth *auth_new(struct ev_loop *loop, struct db_pool *pool, double ttl);
void auth_free(struct auth *a);
void auth_set_ttl(struct auth *a, double ttl);

/* Checks an Authorization header value (NULL when absent). Returns CL_OK with *out
 * filled from the cache, CL_EAUTH with a message in err, or AUTH_PENDING after
 * starting a lookup whose handle goes to *pending; `done` then runs from the loop. */
int auth_check(struct auth_identity *out, struct auth_lookup **pending, struct auth *a,
               const char *header, auth_done_fn done, void *arg, struct cl_err *err);

/* Abandons a pending lookup: `done` will not run. NULL is a no-op. */
void auth_lookup_cancel(struct auth_lookup *l);

/* "read", "write", "admin" -> scope; AUTH_NONE if unknown. */
enum auth_scope auth_scope_parse(const char *s);
const char *auth_scope_name(enum auth_scope s);

/* Admin verbs (blocking). token_create puts the new token on the heap in *token; person
 * (a handle, or NULL) is who the token belongs to: CL_ENOTFOUND when nobody has that
 * handle, CL_EINVAL when that person is inactive. */
int auth_token_create(char **token, PGconn *pg, const char *name, enum auth_scope scope,
                      const char *person, struct cl_err *err);
int auth_token_list(PGconn *pg, FILE *out, struct cl_err *err);
/* Revokes by numeric id or by name (live tokens only); CL_ENOTFOUND if none matched. */
int auth_token_revoke(PGconn *pg, const char *id_or_name, struct cl_err *err);

#endif
