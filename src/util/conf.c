#include "closeloop/util/conf.h"

#include "closeloop/util/log.h"

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
    {"sync_stale_after", CONF_DOUBLE, offsetof(struct conf, sync_stale_after), "900", 10, 86400 * 7,
     true, false},
};

/* A GitHub connection's keys: "github_<key>" for the default connection (and
 * CLOSELOOP_GITHUB_<KEY>), "<key>" inside a [github.NAME] section. */
static const struct conf_param conf_github_params[] = {
    {"api_url", CONF_STR, offsetof(struct conf_github, api_url), "https://api.github.com", 0, 0,
     false, false},
    {"token", CONF_STR, offsetof(struct conf_github, token), "", 0, 0, false, true},
    {"app_id", CONF_STR, offsetof(struct conf_github, app_id), "", 0, 0, false, false},
    {"app_key_file", CONF_STR, offsetof(struct conf_github, app_key_file), "", 0, 0, false, false},
    {"app_installation_id", CONF_STR, offsetof(struct conf_github, app_installation_id), "", 0, 0,
     false, false},
    {"webhook_secret", CONF_STR, offsetof(struct conf_github, webhook_secret), "", 0, 0, false,
     true},
    {"owners", CONF_STR, offsetof(struct conf_github, owners), "", 0, 0, false, false},
    {"poll_interval", CONF_DOUBLE, offsetof(struct conf_github, poll_interval), "60", 0.1, 86400,
     false, false},
    {"write_interval", CONF_DOUBLE, offsetof(struct conf_github, write_interval), "1", 0, 60, false,
     false},
    {"timeout", CONF_DOUBLE, offsetof(struct conf_github, timeout), "20", 0.1, 600, false, false},
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

/* Stores value into the field at p->offset inside `base` (a conf or a conf_github). */
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

static int conf_store(struct conf *c, const struct conf_param *p, const char *value,
                      const char *where, struct cl_err *err)
{
    return conf_store_at(c, p, value, where, err);
}

static void conf_github_init(struct conf_github *g, const char *name)
{
    struct cl_err err = CL_ERR_INIT;
    size_t i;

    g->name = cl_strdup(name);
    for (i = 0; i < CL_ARRAY_LEN(conf_github_params); i++) {
        int rc =
            conf_store_at(g, &conf_github_params[i], conf_github_params[i].def, "defaults", &err);

        assert(rc == CL_OK);
        (void)rc;
    }
}

static void conf_github_dispose(struct conf_github *g)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(conf_github_params); i++)
        if (conf_github_params[i].type == CONF_STR)
            free(*(char **)((char *)g + conf_github_params[i].offset));
    free(g->name);
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

/* The connection a [github.NAME] section names, added on first sight. */
static struct conf_github *conf_github_section(struct conf *c, const char *name, const char *where,
                                               struct cl_err *err)
{
    int i;

    if (!conf_name_ok(name)) {
        cl_fail(err, CL_EINVAL, "%s: connection names are [a-z0-9_-]{1,32}", where);
        return NULL;
    }
    for (i = 0; i < c->ngithub; i++)
        if (strcmp(c->github[i].name, name) == 0)
            return &c->github[i];
    if (c->ngithub == CONF_MAX_GITHUB) {
        cl_fail(err, CL_EINVAL, "%s: more than %d GitHub connections", where, CONF_MAX_GITHUB);
        return NULL;
    }
    conf_github_init(&c->github[c->ngithub], name);
    return &c->github[c->ngithub++];
}

static int conf_set_github(struct conf_github *g, const char *key, const char *value,
                           const char *where, struct cl_err *err)
{
    const struct conf_param *p =
        conf_find_in(conf_github_params, CL_ARRAY_LEN(conf_github_params), key);

    if (p == NULL)
        return cl_fail(err, CL_EINVAL, "%s: unknown GitHub key \"%s\"", where, key);
    return conf_store_at(g, p, value, where, err);
}

int conf_set(struct conf *c, const char *key, const char *value, const char *where,
             struct cl_err *err)
{
    const struct conf_param *p = conf_find(key);

    if (p == NULL && strncmp(key, "github_", 7) == 0)
        return conf_set_github(&c->github[0], key + 7, value, where, err);
    if (p == NULL)
        return cl_fail(err, CL_EINVAL, "%s: unknown key \"%s\"", where, key);
    return conf_store(c, p, value, where, err);
}

bool conf_github_enabled(const struct conf_github *g)
{
    return g->token[0] != '\0' || g->app_id[0] != '\0';
}

static bool conf_owner_listed(const char *owners, const char *owner, size_t olen)
{
    const char *p = owners;

    while (*p != '\0') {
        size_t len;

        while (*p == ' ' || *p == ',')
            p++;
        len = strcspn(p, ", ");
        if (len > 0 && len == olen && strncasecmp(p, owner, olen) == 0)
            return true;
        p += len;
    }
    return false;
}

const struct conf_github *conf_github_for(const struct conf *c, const char *repo)
{
    size_t olen = strcspn(repo, "/");
    int i;

    for (i = 1; i < c->ngithub; i++)
        if (conf_github_enabled(&c->github[i]) &&
            conf_owner_listed(c->github[i].owners, repo, olen))
            return &c->github[i];
    if (conf_github_enabled(&c->github[0]) &&
        (c->github[0].owners[0] == '\0' || conf_owner_listed(c->github[0].owners, repo, olen)))
        return &c->github[0];
    return NULL;
}

const struct conf_github *conf_github_named(const struct conf *c, const char *name)
{
    int i;

    for (i = 0; i < c->ngithub; i++)
        if (strcmp(c->github[i].name, name) == 0)
            return &c->github[i];
    return NULL;
}

struct conf *conf_new_defaults(void)
{
    struct conf *c = cl_calloc(1, sizeof(*c));
    struct cl_err err = CL_ERR_INIT;
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(conf_params); i++) {
        int rc = conf_store(c, &conf_params[i], conf_params[i].def, "defaults", &err);

        assert(rc == CL_OK); /* the defaults are ours: a bad one is a programmer error */
        (void)rc;
    }
    conf_github_init(&c->github[0], "github");
    c->ngithub = 1;
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
    for (i = 0; i < (size_t)c->ngithub; i++)
        conf_github_dispose(&c->github[i]);
    free(c->config_path);
    free(c);
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
static void conf_note_secret(char *secret, size_t n, const struct conf_github *section,
                             const char *key)
{
    const struct conf_param *p =
        section != NULL || strncmp(key, "github_", 7) == 0
            ? conf_find_in(conf_github_params, CL_ARRAY_LEN(conf_github_params),
                           section != NULL ? key : key + 7)
            : conf_find(key);

    if (p != NULL && p->secret && secret[0] == '\0')
        snprintf(secret, n, "%s", key);
}

/* One line of INI text: blank, comment, [section] or key = value. */
static int conf_parse_line(struct conf *c, struct conf_github **section, char *line,
                           const char *where, char *secret, struct cl_err *err)
{
    char *s = conf_trim(line);
    char *eq;
    char *val;
    size_t vlen;

    if (*s == '\0' || *s == '#' || *s == ';')
        return CL_OK;
    if (*s == '[') {
        size_t len = strlen(s);

        *section = NULL;
        if (strcmp(s, "[closeloopd]") == 0)
            return CL_OK;
        if (strncmp(s, "[github.", 8) != 0 || s[len - 1] != ']')
            return cl_fail(err, CL_EINVAL, "%s: unknown section %s", where, s);
        s[len - 1] = '\0';
        *section = conf_github_section(c, s + 8, where, err);
        return *section != NULL ? CL_OK : CL_EINVAL;
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
    if (val[0] != '\0')
        conf_note_secret(secret, 64, *section, conf_trim(s));
    if (*section != NULL)
        return conf_set_github(*section, conf_trim(s), val, where, err);
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
    struct conf_github *section = NULL;
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

static int conf_load_env_github(struct conf *c, struct cl_err *err)
{
    char name[64];
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(conf_github_params); i++) {
        const char *v;
        int rc;

        conf_env_name(name, sizeof(name), "CLOSELOOP_GITHUB_", conf_github_params[i].key);
        v = getenv(name);
        if (v == NULL)
            continue;
        rc = conf_store_at(&c->github[0], &conf_github_params[i], v, name, err);
        if (rc != CL_OK)
            return rc;
    }
    return CL_OK;
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
    return conf_load_env_github(c, err);
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

int conf_validate(const struct conf *c, struct cl_err *err)
{
    char *host = NULL;
    int port;
    int rc;

    if (c->database_url == NULL || c->database_url[0] == '\0')
        return cl_fail(err, CL_EINVAL,
                       "database_url is not set (config file, CLOSELOOP_DATABASE_URL or "
                       "--database-url)");
    rc = conf_split_listen(&host, &port, c->listen, err);
    free(host);
    return rc;
}

void conf_apply_reloadable(struct conf *to, const struct conf *from)
{
    size_t i;

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

static void conf_print_github(const struct conf_github *g, FILE *out)
{
    size_t i;

    fprintf(out, "[github.%s]%s\n", g->name,
            conf_github_enabled(g) ? "" : "  ; no credentials: off");
    for (i = 0; i < CL_ARRAY_LEN(conf_github_params); i++) {
        const struct conf_param *p = &conf_github_params[i];
        const void *f = (const char *)g + p->offset;

        fprintf(out, "%-18s = ", p->key);
        if (p->type == CONF_DOUBLE)
            fprintf(out, "%g\n", *(const double *)f);
        else if (p->secret)
            fprintf(out, "%s\n", (*(char *const *)f)[0] != '\0' ? "(set)" : "(unset)");
        else
            fprintf(out, "%s\n", *(char *const *)f);
    }
}

void conf_print(const struct conf *c, FILE *out)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(conf_params); i++) {
        const struct conf_param *p = &conf_params[i];
        const void *f = (const char *)c + p->offset;

        fprintf(out, "%-18s = ", p->key);
        if (p->type == CONF_LONG)
            fprintf(out, "%ld\n", *(const long *)f);
        else if (p->type == CONF_DOUBLE)
            fprintf(out, "%g\n", *(const double *)f);
        else if (p->secret)
            fprintf(out, "%s\n", (*(char *const *)f)[0] != '\0' ? "(set)" : "(unset)");
        else
            fprintf(out, "%s\n", *(char *const *)f);
    }
    for (i = 0; (int)i < c->ngithub; i++)
        conf_print_github(&c->github[i], out);
}
