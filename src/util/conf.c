#include "closeloop/util/conf.h"

#include "closeloop/util/log.h"
#include "closeloop/util/mailaddr.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum conf_type { CONF_STR, CONF_LONG, CONF_DOUBLE, CONF_LEVEL };

struct conf_param {
    const char *key;
    enum conf_type type;
    size_t offset;
    const char *def;
    double min, max; /* numeric bounds */
    bool reloadable;
    bool secret;
};

static const struct conf_param conf_params[] = {
    {"database_url", CONF_STR, offsetof(struct conf, database_url), "", 0, 0, false, true},
    {"listen", CONF_STR, offsetof(struct conf, listen), "127.0.0.1:8080", 0, 0, false, false},
    {"pool_size", CONF_LONG, offsetof(struct conf, pool_size), "8", 1, 64, false, false},
    {"max_body", CONF_LONG, offsetof(struct conf, max_body), "1048576", 1024, 64 << 20, true,
     false},
    {"max_connections", CONF_LONG, offsetof(struct conf, max_connections), "1024", 1, 65536, false,
     false},
    {"read_timeout", CONF_DOUBLE, offsetof(struct conf, read_timeout), "15", 0.1, 3600, true,
     false},
    {"request_timeout", CONF_DOUBLE, offsetof(struct conf, request_timeout), "10", 0.01, 3600, true,
     false},
    {"shutdown_timeout", CONF_DOUBLE, offsetof(struct conf, shutdown_timeout), "20", 0, 3600, true,
     false},
    {"token_cache_ttl", CONF_DOUBLE, offsetof(struct conf, token_cache_ttl), "10", 0, 3600, true,
     false},
    {"log_level", CONF_LEVEL, offsetof(struct conf, log_level), "info", 0, 0, true, false},
    {"inbox_retention", CONF_DOUBLE, offsetof(struct conf, inbox_retention), "604800", 60,
     86400.0 * 365, true, false},
    {"figures_interval", CONF_DOUBLE, offsetof(struct conf, figures_interval), "300", 1, 86400,
     false, false},
    {"figures_window", CONF_LONG, offsetof(struct conf, figures_window), "90", 1, 3650, false,
     false},
    {"review_interval", CONF_DOUBLE, offsetof(struct conf, review_interval), "60", 0.2, 86400,
     false, false},
    {"digest_interval", CONF_DOUBLE, offsetof(struct conf, digest_interval), "60", 0.2, 86400,
     false, false},
    {"remind_interval", CONF_DOUBLE, offsetof(struct conf, remind_interval), "300", 0.2, 86400,
     false, false},
    {"sync_stale_after", CONF_DOUBLE, offsetof(struct conf, sync_stale_after), "900", 10, 86400 * 7,
     true, false},
    {"smtp_url", CONF_STR, offsetof(struct conf, smtp_url), "", 0, 0, false, false},
    {"smtp_from", CONF_STR, offsetof(struct conf, smtp_from), "", 0, 0, false, false},
    {"smtp_username", CONF_STR, offsetof(struct conf, smtp_username), "", 0, 0, false, false},
    {"smtp_password", CONF_STR, offsetof(struct conf, smtp_password), "", 0, 0, false, true},
    {"smtp_tls", CONF_STR, offsetof(struct conf, smtp_tls), "try", 0, 0, false, false},
    {"smtp_timeout", CONF_DOUBLE, offsetof(struct conf, smtp_timeout), "30", 0.1, 600, false,
     false},
    {"smtp_retry_base", CONF_DOUBLE, offsetof(struct conf, smtp_retry_base), "30", 0.01, 3600,
     false, false},
    {"smtp_retry_max", CONF_DOUBLE, offsetof(struct conf, smtp_retry_max), "3600", 0.01, 86400,
     false, false},
    {"smtp_max_attempts", CONF_LONG, offsetof(struct conf, smtp_max_attempts), "10", 1, 100, false,
     false},
    {"smtp_concurrency", CONF_LONG, offsetof(struct conf, smtp_concurrency), "4", 1, 64, false,
     false},
    {"chat_allow_http_loopback", CONF_STR, offsetof(struct conf, chat_allow_http_loopback), "false",
     0, 0, false, false},
    {"chat_retry_base", CONF_DOUBLE, offsetof(struct conf, chat_retry_base), "30", 0.01, 3600,
     false, false},
    {"chat_retry_max", CONF_DOUBLE, offsetof(struct conf, chat_retry_max), "3600", 0.01, 86400,
     false, false},
    {"chat_retry_after_max", CONF_DOUBLE, offsetof(struct conf, chat_retry_after_max), "600", 0,
     86400, false, false},
    {"chat_max_attempts", CONF_LONG, offsetof(struct conf, chat_max_attempts), "8", 1, 100, false,
     false},
    {"chat_concurrency", CONF_LONG, offsetof(struct conf, chat_concurrency), "4", 1, 64, false,
     false},
};

/* The keys every tracker connection has: "<tracker>_<key>" for the default connection
 * (and CLOSELOOP_<TRACKER>_<KEY>), "<key>" inside a [<tracker>.NAME] section. The
 * tracker's own keys (struct conf_tracker) come on top. */
static const struct conf_param conf_conn_params[] = {
    {"webhook_secret", CONF_STR, offsetof(struct conf_conn, webhook_secret), "", 0, 0, false, true},
    {"scopes", CONF_STR, offsetof(struct conf_conn, scopes), "", 0, 0, false, false},
    {"poll_interval", CONF_DOUBLE, offsetof(struct conf_conn, poll_interval), "60", 0.1, 86400,
     false, false},
    {"write_interval", CONF_DOUBLE, offsetof(struct conf_conn, write_interval), "1", 0, 60, false,
     false},
    {"timeout", CONF_DOUBLE, offsetof(struct conf_conn, timeout), "20", 0.1, 600, false, false},
};

static const struct conf_param *conf_find_in(const struct conf_param *t, size_t n, const char *key)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(t[i].key, key) == 0)
            return &t[i];
    return NULL;
}

static const struct conf_param *conf_find(const char *key)
{
    return conf_find_in(conf_params, CL_ARRAY_LEN(conf_params), key);
}

/* Stores value into the field at p->offset inside `base` (a conf or a conf_conn). */
static int conf_store_at(void *base, const struct conf_param *p, const char *value,
                         const char *where, struct cl_err *err)
{
    void *field = (char *)base + p->offset;
    enum cl_log_level lvl;
    char *end = NULL;
    double d;

    switch (p->type) {
    case CONF_LEVEL:
        if (log_level_parse(&lvl, value) != CL_OK)
            return cl_fail(err, CL_EINVAL, "%s: %s must be error, warn, info or debug", where,
                           p->key);
        free(*(char **)field);
        *(char **)field = cl_strdup(value);
        return CL_OK;
    case CONF_STR:
        free(*(char **)field);
        *(char **)field = cl_strdup(value);
        return CL_OK;
    case CONF_LONG:
        if (cl_parse_long((long *)field, value, (long)p->min, (long)p->max) != CL_OK)
            return cl_fail(err, CL_EINVAL, "%s: %s must be an integer in [%.0f, %.0f]", where,
                           p->key, p->min, p->max);
        return CL_OK;
    case CONF_DOUBLE:
        errno = 0;
        d = strtod(value, &end);
        if (errno != 0 || end == value || *end != '\0' || d < p->min || d > p->max)
            return cl_fail(err, CL_EINVAL, "%s: %s must be a number in [%g, %g]", where, p->key,
                           p->min, p->max);
        *(double *)field = d;
        return CL_OK;
    }
    return cl_fail(err, CL_EINVAL, "%s: %s has no type", where, p->key);
}

/* The values of closeloopd's text keys that have a form: refused where they are set. */
static int conf_check_text(const struct conf_param *p, const char *value, const char *where,
                           struct cl_err *err)
{
    struct cl_err aerr = CL_ERR_INIT;
    char *name = NULL;
    char *addr = NULL;

    if (strcmp(p->key, "smtp_url") == 0 && value[0] != '\0' &&
        strncasecmp(value, "smtp://", 7) != 0 && strncasecmp(value, "smtps://", 8) != 0)
        return cl_fail(err, CL_EINVAL, "%s: smtp_url must be smtp://HOST[:PORT] or smtps://...",
                       where);
    if (strcmp(p->key, "chat_allow_http_loopback") == 0 && strcmp(value, "true") != 0 &&
        strcmp(value, "false") != 0)
        return cl_fail(err, CL_EINVAL, "%s: chat_allow_http_loopback must be true or false", where);
    if (strcmp(p->key, "smtp_tls") == 0 && strcmp(value, "none") != 0 &&
        strcmp(value, "try") != 0 && strcmp(value, "required") != 0)
        return cl_fail(err, CL_EINVAL, "%s: smtp_tls must be none, try or required", where);
    if (strcmp(p->key, "smtp_from") == 0 && value[0] != '\0' &&
        mailaddr_parse(&name, &addr, value, &aerr) != CL_OK)
        return cl_fail(err, CL_EINVAL, "%s: smtp_from: %s", where, aerr.msg);
    free(name);
    free(addr);
    return CL_OK;
}

static int conf_store(struct conf *c, const struct conf_param *p, const char *value,
                      const char *where, struct cl_err *err)
{
    int rc = p->type == CONF_STR ? conf_check_text(p, value, where, err) : CL_OK;

    return rc == CL_OK ? conf_store_at(c, p, value, where, err) : rc;
}

static void conf_conn_init(struct conf_conn *c, const struct conf_tracker *t, const char *name)
{
    struct cl_err err = CL_ERR_INIT;
    size_t i;

    c->tracker = t;
    c->name = cl_strdup(name);
    for (i = 0; i < CL_ARRAY_LEN(conf_conn_params); i++) {
        int rc = conf_store_at(c, &conf_conn_params[i], conf_conn_params[i].def, "defaults", &err);

        assert(rc == CL_OK); /* the defaults are ours */
        (void)rc;
    }
    for (i = 0; i < t->nkeys && i < CONF_MAX_TRACKER_KEYS; i++)
        c->values[i] = cl_strdup(t->keys[i].def);
}

static void conf_conn_dispose(struct conf_conn *c)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(conf_conn_params); i++)
        if (conf_conn_params[i].type == CONF_STR)
            free(*(char **)((char *)c + conf_conn_params[i].offset));
    for (i = 0; i < CONF_MAX_TRACKER_KEYS; i++)
        free(c->values[i]);
    free(c->name);
}

static bool conf_name_ok(const char *name)
{
    size_t k;

    for (k = 0; name[k] != '\0'; k++)
        if (!(islower((unsigned char)name[k]) || isdigit((unsigned char)name[k]) ||
              name[k] == '_' || name[k] == '-'))
            return false;
    return k >= 1 && k <= 32;
}

static const struct conf_tracker *conf_tracker_named(const struct conf *c, const char *name,
                                                     size_t len)
{
    size_t i;

    for (i = 0; i < c->ntrackers; i++)
        if (strlen(c->trackers[i]->name) == len && strncmp(c->trackers[i]->name, name, len) == 0)
            return c->trackers[i];
    return NULL;
}

/* The connection a [<tracker>.NAME] section names, added on first sight. */
static struct conf_conn *conf_conn_section(struct conf *c, const struct conf_tracker *t,
                                           const char *name, const char *where, struct cl_err *err)
{
    int i;

    if (!conf_name_ok(name)) {
        cl_fail(err, CL_EINVAL, "%s: connection names are [a-z0-9_-]{1,32}", where);
        return NULL;
    }
    for (i = 0; i < c->nconns; i++)
        if (c->conns[i].tracker == t && strcmp(c->conns[i].name, name) == 0)
            return &c->conns[i];
    if (c->nconns == CONF_MAX_CONNS) {
        cl_fail(err, CL_EINVAL, "%s: more than %d tracker connections", where, CONF_MAX_CONNS);
        return NULL;
    }
    conf_conn_init(&c->conns[c->nconns], t, name);
    return &c->conns[c->nconns++];
}

/* The neutral name of key: an alias the tracker kept from older versions, else key. */
static const char *conf_conn_alias(const struct conf_tracker *t, const char *key)
{
    const char *const *a;

    for (a = t->aliases; a != NULL && a[0] != NULL && a[1] != NULL; a += 2)
        if (strcmp(a[0], key) == 0)
            return a[1];
    return key;
}

/* The index of one of the tracker's own keys, or -1. */
static int conf_tracker_key(const struct conf_tracker *t, const char *key)
{
    size_t i;

    for (i = 0; i < t->nkeys && i < CONF_MAX_TRACKER_KEYS; i++)
        if (strcmp(t->keys[i].key, key) == 0)
            return (int)i;
    return -1;
}

static int conf_set_conn(struct conf_conn *c, const char *key, const char *value, const char *where,
                         struct cl_err *err)
{
    const char *neutral = conf_conn_alias(c->tracker, key);
    const struct conf_param *p =
        conf_find_in(conf_conn_params, CL_ARRAY_LEN(conf_conn_params), neutral);
    int k = conf_tracker_key(c->tracker, neutral);

    if (p != NULL)
        return conf_store_at(c, p, value, where, err);
    if (k < 0)
        return cl_fail(err, CL_EINVAL, "%s: unknown %s key \"%s\"", where, c->tracker->name, key);
    free(c->values[k]);
    c->values[k] = cl_strdup(value);
    return CL_OK;
}

/* Whether key is secret, for a connection's key (neutral, alias or the tracker's own). */
static bool conf_conn_secret(const struct conf_tracker *t, const char *key)
{
    const char *neutral = conf_conn_alias(t, key);
    const struct conf_param *p =
        conf_find_in(conf_conn_params, CL_ARRAY_LEN(conf_conn_params), neutral);
    int k = conf_tracker_key(t, neutral);

    return p != NULL ? p->secret : k >= 0 && t->keys[k].secret;
}

/* "<tracker>_<key>" for a tracker's default connection: the tracker, or NULL. */
static const struct conf_tracker *conf_tracker_prefix(const struct conf *c, const char *key)
{
    const char *us = strchr(key, '_');

    return us != NULL ? conf_tracker_named(c, key, (size_t)(us - key)) : NULL;
}

int conf_set(struct conf *c, const char *key, const char *value, const char *where,
             struct cl_err *err)
{
    const struct conf_param *p = conf_find(key);
    const struct conf_tracker *t = p == NULL ? conf_tracker_prefix(c, key) : NULL;

    if (strncmp(key, "due.", 4) == 0)
        return due_policy_set(&c->due, key + 4, value, where, err);
    if (strncmp(key, "review.", 7) == 0)
        return review_policy_set(&c->review, key + 7, value, where, err);
    if (strncmp(key, "chat.", 5) == 0)
        return chat_conf_set(&c->chat, key + 5, value, where, err);
    if (strncmp(key, "digest.", 7) == 0)
        return digest_policy_set(&c->digest, key + 7, value, where, err);
    if (strncmp(key, "remind.", 7) == 0)
        return remind_policy_set(&c->remind, key + 7, value, where, err);
    if (t != NULL)
        return conf_set_conn(conf_conn_section(c, t, t->name, where, err),
                             key + strlen(t->name) + 1, value, where, err);
    if (p == NULL)
        return cl_fail(err, CL_EINVAL, "%s: unknown key \"%s\"", where, key);
    return conf_store(c, p, value, where, err);
}

const char *conf_conn_get(const struct conf_conn *c, const char *key)
{
    int k = conf_tracker_key(c->tracker, key);

    return k >= 0 && c->values[k] != NULL ? c->values[k] : "";
}

const struct conf_conn *conf_conn_named(const struct conf *c, const char *tracker, const char *name)
{
    int i;

    for (i = 0; i < c->nconns; i++)
        if (strcmp(c->conns[i].tracker->name, tracker) == 0 && strcmp(c->conns[i].name, name) == 0)
            return &c->conns[i];
    return NULL;
}

struct conf *conf_new_defaults(const struct conf_tracker *const *trackers, size_t n)
{
    struct conf *c = cl_calloc(1, sizeof(*c));
    struct cl_err err = CL_ERR_INIT;
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(conf_params); i++) {
        int rc = conf_store(c, &conf_params[i], conf_params[i].def, "defaults", &err);

        assert(rc == CL_OK); /* the defaults are ours: a bad one is a programmer error */
        (void)rc;
    }
    due_policy_init(&c->due);
    review_policy_init(&c->review);
    digest_policy_init(&c->digest);
    remind_policy_init(&c->remind);
    c->trackers = trackers;
    c->ntrackers = n;
    for (i = 0; i < n && i < CONF_MAX_CONNS; i++)
        conf_conn_init(&c->conns[c->nconns++], trackers[i], trackers[i]->name);
    return c;
}

void conf_free(struct conf *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < CL_ARRAY_LEN(conf_params); i++) {
        if (conf_params[i].type == CONF_STR || conf_params[i].type == CONF_LEVEL)
            free(*(char **)((char *)c + conf_params[i].offset));
    }
    for (i = 0; i < (size_t)c->nconns; i++)
        conf_conn_dispose(&c->conns[i]);
    for (i = 0; i < (size_t)c->nflags; i++) {
        free(c->flag_keys[i]);
        free(c->flag_values[i]);
    }
    free(c->config_path);
    free(c);
}

int conf_set_flag(struct conf *c, const char *key, const char *value, struct cl_err *err)
{
    int rc = conf_set(c, key, value, "command line", err);

    if (rc != CL_OK)
        return rc;
    if (c->nflags == CONF_MAX_FLAGS)
        return cl_fail(err, CL_EINVAL, "more than %d configuration flags", CONF_MAX_FLAGS);
    c->flag_keys[c->nflags] = cl_strdup(key);
    c->flag_values[c->nflags++] = cl_strdup(value);
    return CL_OK;
}

int conf_reapply_flags(struct conf *to, const struct conf *from, struct cl_err *err)
{
    int rc = CL_OK;
    int i;

    for (i = 0; rc == CL_OK && i < from->nflags; i++)
        rc = conf_set(to, from->flag_keys[i], from->flag_values[i], "command line", err);
    return rc;
}

static char *conf_trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* The first secret key a file sets ("" while none): such a file must not be readable
 * by everyone. */
static void conf_note_secret(char *secret, size_t n, const struct conf *c,
                             const struct conf_conn *section, const char *key)
{
    const struct conf_param *p = section == NULL ? conf_find(key) : NULL;
    const struct conf_tracker *t =
        section == NULL && p == NULL ? conf_tracker_prefix(c, key) : NULL;
    bool is_secret = section != NULL ? conf_conn_secret(section->tracker, key)
                     : t != NULL     ? conf_conn_secret(t, key + strlen(t->name) + 1)
                                     : p != NULL && p->secret;

    if (is_secret && secret[0] == '\0')
        snprintf(secret, n, "%s", key);
}

/* One line of INI text: blank, comment, [section] or key = value. */
/* "[tracker.NAME]": the connection, added on first sight; NULL with err set otherwise. */
static struct conf_conn *conf_parse_section(struct conf *c, char *s, const char *where,
                                            struct cl_err *err)
{
    size_t len = strlen(s);
    const char *dot = strchr(s, '.');
    const struct conf_tracker *t = dot != NULL && s[len - 1] == ']'
                                       ? conf_tracker_named(c, s + 1, (size_t)(dot - s - 1))
                                       : NULL;

    if (t == NULL) {
        cl_fail(err, CL_EINVAL, "%s: unknown section %s", where, s);
        return NULL;
    }
    s[len - 1] = '\0';
    return conf_conn_section(c, t, dot + 1, where, err);
}

/* Where key = value lines go: the top level, a tracker connection, the [due] policy or
 * the review policy ([review]: prefix "review."; [review.TEAM]: "review.TEAM.") or [smtp]
 * (prefix "smtp_": its "url" is smtp_url). */
struct conf_section {
    struct conf_conn *conn;
    bool due;
    char prefix[80]; /* "" outside the review and smtp sections */
};

/* A [due] line: "P1 = 14d" is the key "due.P1"; a [review.sre] line "hour = 10" is
 * "review.sre.hour". */
static int conf_set_in(struct conf *c, const char *prefix, const char *key, const char *value,
                       const char *where, struct cl_err *err)
{
    char full[160];

    snprintf(full, sizeof(full), "%s%s", prefix, key);
    return conf_set(c, full, value, where, err);
}

/* "[NAME]" or "[NAME.TEAM]" for NAME review or remind: the prefix of its keys
 * ("NAME." or "NAME.TEAM."); false for other sections. */
static bool conf_team_section(struct conf_section *section, const char *s, const char *name)
{
    size_t len = strlen(s);
    size_t n = strlen(name);

    if (s[0] != '[' || strncmp(s + 1, name, n) != 0)
        return false;
    if (strcmp(s + 1 + n, "]") == 0) {
        snprintf(section->prefix, sizeof(section->prefix), "%s.", name);
        return true;
    }
    if (s[1 + n] != '.' || s[len - 1] != ']' || len - n - 3 == 0 || len - n - 3 >= 64)
        return false;
    snprintf(section->prefix, sizeof(section->prefix), "%s.%.*s.", name, (int)(len - n - 3),
             s + n + 2);
    return true;
}

/* "[digest]", "[digest.extra.NAME]" or "[digest.team.NAME]": the prefix of its keys ("digest.",
 * "digest.extra.NAME."...); false for other sections. */
static bool conf_digest_section(struct conf_section *section, const char *s)
{
    size_t len = strlen(s);

    if (strcmp(s, "[digest]") == 0) {
        snprintf(section->prefix, sizeof(section->prefix), "digest.");
        return true;
    }
    if (strncmp(s, "[digest.", 8) != 0 || s[len - 1] != ']' || len - 9 == 0 || len - 9 >= 72)
        return false;
    snprintf(section->prefix, sizeof(section->prefix), "digest.%.*s.", (int)(len - 9), s + 8);
    return true;
}

/* "[smtp]": its keys are smtp_<key> ("url" is smtp_url); false for other sections. */
static bool conf_smtp_section(struct conf_section *section, const char *s)
{
    if (strcmp(s, "[smtp]") != 0)
        return false;
    snprintf(section->prefix, sizeof(section->prefix), "smtp_");
    return true;
}

/* "[chat.NAME]": its keys are chat.NAME.<key>; false for other sections. */
static bool conf_chat_section(struct conf_section *section, const char *s)
{
    size_t len = strlen(s);

    if (strncmp(s, "[chat.", 6) != 0 || s[len - 1] != ']' || len - 7 == 0 || len - 7 >= 64)
        return false;
    snprintf(section->prefix, sizeof(section->prefix), "chat.%.*s.", (int)(len - 7), s + 6);
    return true;
}

/* A prefixed section's line: notes a secret key (smtp_password) as a top-level one. */
static void conf_note_prefixed(char *secret, const struct conf *c, const char *prefix,
                               const char *key)
{
    char full[160];

    snprintf(full, sizeof(full), "%s%s", prefix, key);
    if (strncmp(prefix, "chat.", 5) == 0 && strcmp(key, "url") == 0) {
        if (secret[0] == '\0') /* a webhook URL is its own credential */
            snprintf(secret, 64, "%.63s", full);
        return;
    }
    conf_note_secret(secret, 64, c, NULL, full);
}

static int conf_parse_line(struct conf *c, struct conf_section *section, char *line,
                           const char *where, char *secret, struct cl_err *err)
{
    char *s = conf_trim(line);
    char *eq;
    char *val;
    size_t vlen;

    if (*s == '\0' || *s == '#' || *s == ';')
        return CL_OK;
    if (*s == '[') {
        section->conn = NULL;
        section->due = strcmp(s, "[due]") == 0;
        section->prefix[0] = '\0';
        if (strcmp(s, "[closeloopd]") == 0 || section->due ||
            conf_team_section(section, s, "review") || conf_team_section(section, s, "remind") ||
            conf_digest_section(section, s) || conf_smtp_section(section, s) ||
            conf_chat_section(section, s))
            return CL_OK;
        section->conn = conf_parse_section(c, s, where, err);
        return section->conn != NULL ? CL_OK : CL_EINVAL;
    }
    eq = strchr(s, '=');
    if (eq == NULL)
        return cl_fail(err, CL_EINVAL, "%s: expected key = value", where);
    *eq = '\0';
    val = conf_trim(eq + 1);
    vlen = strlen(val);
    if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
        val[vlen - 1] = '\0';
        val++;
    }
    if (section->due)
        return conf_set_in(c, "due.", conf_trim(s), val, where, err);
    if (section->prefix[0] != '\0' && val[0] != '\0')
        conf_note_prefixed(secret, c, section->prefix, conf_trim(s));
    if (section->prefix[0] != '\0')
        return conf_set_in(c, section->prefix, conf_trim(s), val, where, err);
    if (val[0] != '\0')
        conf_note_secret(secret, 64, c, section->conn, conf_trim(s));
    if (section->conn != NULL)
        return conf_set_conn(section->conn, conf_trim(s), val, where, err);
    return conf_set(c, conf_trim(s), val, where, err);
}

/* A file holding secrets that every local user can read is refused; one that its group
 * can read is used, with a warning (root:closeloop 0640 is a common set-up). */
static int conf_check_mode(FILE *f, const char *path, const char *secret, struct cl_err *err)
{
    struct stat st;

    if (secret[0] == '\0' || fstat(fileno(f), &st) != 0)
        return CL_OK;
    if (st.st_mode & S_IROTH)
        return cl_fail(err, CL_EINVAL,
                       "%s holds secrets (%s) and every user can read it (mode %04o): "
                       "chmod 600 %s, or 640 with a dedicated group",
                       path, secret, (unsigned)(st.st_mode & 07777), path);
    if (st.st_mode & S_IRGRP)
        log_warn("event=config_group_readable path=\"%s\" mode=%04o secret=%s "
                 "hint=\"the file's group can read its secrets: chmod 600 unless the group is "
                 "closeloopd's own\"",
                 path, (unsigned)(st.st_mode & 07777), secret);
    return CL_OK;
}

int conf_load_file(struct conf *c, const char *path, struct cl_err *err)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    char where[512];
    char secret[64] = "";
    struct conf_section section = {NULL, false, ""};
    int lineno = 0;
    int rc = CL_OK;

    if (f == NULL)
        return cl_fail(err, CL_EIO, "open %s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = cl_fail(err, CL_EINVAL, "%s: line too long", where);
            goto cleanup;
        }
        rc = conf_parse_line(c, &section, line, where, secret, err);
        if (rc != CL_OK)
            goto cleanup;
    }
    rc = conf_check_mode(f, path, secret, err);
    if (rc != CL_OK)
        goto cleanup;
    free(c->config_path);
    c->config_path = cl_strdup(path);
cleanup:
    fclose(f);
    return rc;
}

static void conf_env_name(char *out, size_t n, const char *prefix, const char *key)
{
    size_t j;

    snprintf(out, n, "%s%s", prefix, key);
    for (j = 0; out[j] != '\0'; j++)
        out[j] = (char)toupper((unsigned char)out[j]);
}

/* CLOSELOOP_<TRACKER>_<KEY> for one key of a tracker's default connection. */
static int conf_env_conn_key(struct conf_conn *c, const char *key, struct cl_err *err)
{
    char name[96];
    char prefix[48];
    const char *v;

    snprintf(prefix, sizeof(prefix), "CLOSELOOP_%s_", c->tracker->name);
    conf_env_name(name, sizeof(name), prefix, key);
    v = getenv(name);
    return v != NULL ? conf_set_conn(c, key, v, name, err) : CL_OK;
}

/* Every tracker's default connection: its neutral keys, their old aliases, its own. */
static int conf_load_env_conns(struct conf *c, struct cl_err *err)
{
    const char *const *a;
    size_t t;
    size_t i;
    int rc = CL_OK;

    for (t = 0; rc == CL_OK && t < c->ntrackers; t++) {
        struct conf_conn *conn = &c->conns[t]; /* the defaults come first, in order */

        for (i = 0; rc == CL_OK && i < CL_ARRAY_LEN(conf_conn_params); i++)
            rc = conf_env_conn_key(conn, conf_conn_params[i].key, err);
        for (a = conn->tracker->aliases; rc == CL_OK && a != NULL && a[0] != NULL; a += 2)
            rc = conf_env_conn_key(conn, a[0], err);
        for (i = 0; rc == CL_OK && i < conn->tracker->nkeys; i++)
            rc = conf_env_conn_key(conn, conn->tracker->keys[i].key, err);
    }
    return rc;
}

int conf_load_env(struct conf *c, struct cl_err *err)
{
    char name[64];
    size_t i;
    size_t j;

    for (i = 0; i < CL_ARRAY_LEN(conf_params); i++) {
        const char *key = conf_params[i].key;
        const char *v;
        int rc;

        snprintf(name, sizeof(name), "CLOSELOOP_%s", key);
        for (j = 0; name[j] != '\0'; j++)
            name[j] = (char)toupper((unsigned char)name[j]);
        v = getenv(name);
        if (v == NULL)
            continue;
        rc = conf_store(c, &conf_params[i], v, name, err);
        if (rc != CL_OK)
            return rc;
    }
    return conf_load_env_conns(c, err);
}

int conf_split_listen(char **host_out, int *port_out, const char *listen, struct cl_err *err)
{
    const char *colon;
    const char *host = listen;
    size_t hlen;
    long port;

    colon = strrchr(listen, ':');
    if (colon == NULL)
        return cl_fail(err, CL_EINVAL, "listen \"%s\": expected host:port", listen);
    hlen = (size_t)(colon - listen);
    if (hlen >= 2 && listen[0] == '[' && listen[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    if (hlen == 0 || cl_parse_long(&port, colon + 1, 0, 65535) != CL_OK)
        return cl_fail(err, CL_EINVAL, "listen \"%s\": expected host:port, port 0-65535", listen);
    *host_out = cl_strndup(host, hlen);
    *port_out = (int)port;
    return CL_OK;
}

int conf_validate_reloadable(const struct conf *c, struct cl_err *err)
{
    int rc = chat_conf_validate(&c->chat, strcmp(c->chat_allow_http_loopback, "true") == 0, err);

    if (rc != CL_OK)
        return rc;
    return digest_policy_validate(&c->digest, err) != CL_OK ? CL_EINVAL : CL_OK;
}

int conf_validate(const struct conf *c, struct cl_err *err)
{
    char *host = NULL;
    int port;
    int rc;

    if (c->database_url == NULL || c->database_url[0] == '\0')
        return cl_fail(err, CL_EINVAL,
                       "database_url is not set (config file, CLOSELOOP_DATABASE_URL or "
                       "--database-url)");
    if (c->smtp_url[0] != '\0' && c->smtp_from[0] == '\0')
        return cl_fail(err, CL_EINVAL, "smtp_url is set but smtp_from is not: mail needs a sender");
    rc = conf_validate_reloadable(c, err);
    if (rc != CL_OK)
        return rc;
    rc = conf_split_listen(&host, &port, c->listen, err);
    free(host);
    return rc;
}

void conf_apply_reloadable(struct conf *to, const struct conf *from)
{
    size_t i;

    to->due = from->due;
    to->review = from->review;
    to->digest = from->digest;
    to->remind = from->remind;
    to->chat = from->chat; /* the chat worker looks each channel up by name at each post */
    for (i = 0; i < CL_ARRAY_LEN(conf_params); i++) {
        const struct conf_param *p = &conf_params[i];
        void *dst = (char *)to + p->offset;
        const void *src = (const char *)from + p->offset;

        if (!p->reloadable)
            continue;
        if (p->type == CONF_STR || p->type == CONF_LEVEL) {
            free(*(char **)dst);
            *(char **)dst = cl_strdup(*(char *const *)src);
        } else if (p->type == CONF_LONG) {
            *(long *)dst = *(const long *)src;
        } else {
            *(double *)dst = *(const double *)src;
        }
    }
}

static void conf_print_value(FILE *out, const struct conf_param *p, const void *f)
{
    if (p->type == CONF_LONG)
        fprintf(out, "%ld\n", *(const long *)f);
    else if (p->type == CONF_DOUBLE)
        fprintf(out, "%g\n", *(const double *)f);
    else if (p->secret)
        fprintf(out, "%s\n", (*(char *const *)f)[0] != '\0' ? "(set)" : "(unset)");
    else
        fprintf(out, "%s\n", *(char *const *)f);
}

static void conf_print_conn(const struct conf_conn *c, FILE *out)
{
    size_t i;

    fprintf(out, "[%s.%s]\n", c->tracker->name, c->name);
    for (i = 0; i < CL_ARRAY_LEN(conf_conn_params); i++) {
        fprintf(out, "%-19s = ", conf_conn_params[i].key);
        conf_print_value(out, &conf_conn_params[i], (const char *)c + conf_conn_params[i].offset);
    }
    for (i = 0; i < c->tracker->nkeys; i++) {
        const struct conf_key *k = &c->tracker->keys[i];

        fprintf(out, "%-19s = %s\n", k->key,
                !k->secret                ? c->values[i]
                : c->values[i][0] != '\0' ? "(set)"
                                          : "(unset)");
    }
}

void conf_print(const struct conf *c, FILE *out)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(conf_params); i++) {
        const struct conf_param *p = &conf_params[i];
        const void *f = (const char *)c + p->offset;

        fprintf(out, "%-19s = ", p->key);
        conf_print_value(out, p, f);
    }
    due_policy_print(&c->due, out);
    review_policy_print(&c->review, out);
    chat_conf_print(&c->chat, out);
    digest_policy_print(&c->digest, out);
    remind_policy_print(&c->remind, out);
    for (i = 0; (int)i < c->nconns; i++)
        conf_print_conn(&c->conns[i], out);
}

size_t conf_doc_list(struct conf_doc *out, size_t max, bool conn)
{
    static const char *const types[] = {[CONF_STR] = "text",
                                        [CONF_LONG] = "integer",
                                        [CONF_DOUBLE] = "number",
                                        [CONF_LEVEL] = "level"};
    const struct conf_param *t = conn ? conf_conn_params : conf_params;
    size_t n = conn ? CL_ARRAY_LEN(conf_conn_params) : CL_ARRAY_LEN(conf_params);
    size_t i;

    for (i = 0; i < n && i < max; i++) {
        out[i].key = t[i].key;
        out[i].type = types[t[i].type];
        out[i].def = t[i].def;
        out[i].min = t[i].min;
        out[i].max = t[i].max;
        out[i].reloadable = t[i].reloadable;
        out[i].secret = t[i].secret;
    }
    return n;
}
