#include "closeloop/conf.h"

#include "closeloop/log.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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
    {"request_timeout", CONF_DOUBLE, offsetof(struct conf, request_timeout), "10", 0.01, 3600, true,
     false},
    {"shutdown_timeout", CONF_DOUBLE, offsetof(struct conf, shutdown_timeout), "20", 0, 3600, true,
     false},
    {"token_cache_ttl", CONF_DOUBLE, offsetof(struct conf, token_cache_ttl), "10", 0, 3600, true,
     false},
    {"log_level", CONF_LEVEL, offsetof(struct conf, log_level), "info", 0, 0, true, false},
};

static const struct conf_param *conf_find(const char *key)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(conf_params); i++)
        if (strcmp(conf_params[i].key, key) == 0)
            return &conf_params[i];
    return NULL;
}

static int conf_store(struct conf *c, const struct conf_param *p, const char *value,
                      const char *where, struct cl_err *err)
{
    void *field = (char *)c + p->offset;
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

int conf_set(struct conf *c, const char *key, const char *value, const char *where,
             struct cl_err *err)
{
    const struct conf_param *p = conf_find(key);

    if (p == NULL)
        return cl_fail(err, CL_EINVAL, "%s: unknown key \"%s\"", where, key);
    return conf_store(c, p, value, where, err);
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

/* One line of INI text: blank, comment, [section] or key = value. */
static int conf_parse_line(struct conf *c, char *line, const char *where, struct cl_err *err)
{
    char *s = conf_trim(line);
    char *eq;
    char *val;
    size_t vlen;

    if (*s == '\0' || *s == '#' || *s == ';')
        return CL_OK;
    if (*s == '[') {
        if (strcmp(s, "[closeloopd]") != 0)
            return cl_fail(err, CL_EINVAL, "%s: unknown section %s", where, s);
        return CL_OK;
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
    return conf_set(c, conf_trim(s), val, where, err);
}

int conf_load_file(struct conf *c, const char *path, struct cl_err *err)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    char where[512];
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
        rc = conf_parse_line(c, line, where, err);
        if (rc != CL_OK)
            goto cleanup;
    }
    free(c->config_path);
    c->config_path = cl_strdup(path);
cleanup:
    fclose(f);
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
    return CL_OK;
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
}
