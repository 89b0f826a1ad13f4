#include "closeloop/cli/cli_build.h"

#include "closeloop/cli/cli_import.h"
#include "closeloop/cli/cli_value.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define API_PREFIX "/api/v1/"

/* RFC 3986 unreserved characters, plus ',' which is safe in a path segment and a query
 * value and keeps "status=open,blocked" readable. */
static bool safe(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == ',';
}

char *cli_build_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = cl_malloc(3 * n + 1);
    size_t j = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (safe(c)) {
            out[j++] = (char)c;
            continue;
        }
        out[j++] = '%';
        out[j++] = hex[c >> 4];
        out[j++] = hex[c & 0x0f];
    }
    out[j] = '\0';
    return out;
}

/* The first positional (else option) that names the object in the path, or NULL. */
static const char *path_id(const struct cli_args *a)
{
    size_t i;

    for (i = 0; i < a->npos; i++) {
        if (a->verb->pos[i].dest == CLI_TO_PATH)
            return a->pos[i];
    }
    for (i = 0; i < cli_verbs_count(a->verb->opts); i++) {
        if (a->verb->opts[i].dest == CLI_TO_PATH && a->vals[i] != NULL)
            return a->vals[i];
    }
    return NULL;
}

char *cli_build_path(const struct cli_args *a)
{
    const char *id = path_id(a);
    char *escaped = id != NULL ? cli_build_escape(id) : NULL;
    const char *suffix = a->verb->suffix;
    char *path;

    path = cl_asprintf(API_PREFIX "%s%s%s%s%s", a->verb->coll, escaped != NULL ? "/" : "",
                       escaped != NULL ? escaped : "", suffix != NULL ? "/" : "",
                       suffix != NULL ? suffix : "");
    free(escaped);
    return path;
}

/* Whether the option called name was given. */
static bool opt_given(const struct cli_args *a, const char *name)
{
    const struct cli_opt *opts = a->verb->opts;
    size_t i;

    for (i = 0; i < cli_verbs_count(opts); i++)
        if (strcmp(opts[i].name, name) == 0)
            return a->vals[i] != NULL;
    return false;
}

/* `action list` shows open work unless --status or --all says otherwise. */
static const char *default_query(const struct cli_args *a)
{
    if (a->verb->op == CLI_OP_LIST && a->verb->res == CLI_RES_ACTION && a->verb->suffix == NULL &&
        !opt_given(a, "status") && !opt_given(a, "all"))
        return "status=open,in_progress,blocked";
    return NULL;
}

char *cli_build_query(const struct cli_args *a)
{
    const struct cli_opt *opts = a->verb->opts;
    char *query = cl_strdup("");
    char *value;
    char *next;
    size_t i;

    for (i = 0; i < cli_verbs_count(opts); i++) {
        if (opts[i].dest != CLI_TO_QUERY || a->vals[i] == NULL)
            continue;
        value = cli_build_escape(a->vals[i]);
        next = cl_asprintf("%s%s%s=%s", query, *query != '\0' ? "&" : "", opts[i].field, value);
        free(value);
        free(query);
        query = next;
    }
    if (default_query(a) != NULL) {
        next = cl_asprintf("%s%s%s", query, *query != '\0' ? "&" : "", default_query(a));
        free(query);
        query = next;
    }
    return query;
}

char *cli_build_if_match(const struct cli_args *a)
{
    const struct cli_opt *opts = a->verb->opts;
    size_t i;

    for (i = 0; i < cli_verbs_count(opts); i++) {
        if (opts[i].dest == CLI_TO_IF_MATCH && a->vals[i] != NULL)
            return cl_asprintf("\"%s\"", a->vals[i]);
    }
    return NULL;
}

/* Reads all of in, at most max bytes, into *out (caller frees); `what` names it in
 * messages ("--description -: stdin"). */
static int read_all(char **out, size_t *len, FILE *in, size_t max, const char *what,
                    struct cl_err *err)
{
    char *buf = cl_malloc(max + 1);
    size_t n = fread(buf, 1, max + 1, in);

    if (ferror(in)) {
        free(buf);
        return cl_fail(err, CL_EINVAL, "%s: cannot be read", what);
    }
    if (n > max) {
        free(buf);
        return cl_fail(err, CL_EINVAL, "%s is longer than %zu bytes", what, max);
    }
    if (memchr(buf, '\0', n) != NULL) {
        free(buf);
        return cl_fail(err, CL_EINVAL, "%s contains a NUL byte", what);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CL_OK;
}

/* A file of actions (path, or "-" for in) as the rows of a batch (cli_import). */
static int actions_file(json_t **out, const char *path, FILE *in, struct cl_err *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? in : fopen(path, "rb");
    const char *name = is_stdin ? "stdin" : path;
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (f == NULL)
        return cl_fail(err, CL_EINVAL, "%s: %s", path, strerror(errno));
    rc = read_all(&text, &len, f, CLI_IMPORT_MAX_BYTES, name, err);
    if (!is_stdin)
        fclose(f);
    if (rc == CL_OK)
        rc = cli_import_parse(out, text, len, name, err);
    free(text);
    return rc;
}

/* "a@x.org, b@y.org" -> ["a@x.org", "b@y.org"] (the server checks each address). */
static int address_list(json_t **out, const char *v)
{
    const char *p = v;

    *out = json_array();
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        const char *s = p;
        size_t l = len;

        while (l > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            l--;
        }
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
        if (l > 0)
            json_array_append_new(*out, json_stringn(s, l));
        p += len + (p[len] == ',');
    }
    return CL_OK;
}

/* The JSON value for one given option or positional; *out is a new reference. */
static int field_value(json_t **out, const struct cli_opt *o, const char *v, FILE *in,
                       struct cl_err *err)
{
    char *text = NULL;
    size_t len = strlen(v);
    int rc = CL_OK;

    if (cli_value_is_none(o->type, v)) {
        *out = json_null();
        return CL_OK;
    }
    if (o->type == CLI_VAL_BOOL) {
        *out = json_boolean(strcmp(v, "true") == 0);
        return CL_OK;
    }
    if (o->type == CLI_VAL_ACTIONS_FILE)
        return actions_file(out, v, in, err);
    if (o->type == CLI_VAL_MINUTES || o->type == CLI_VAL_ID) {
        *out = json_integer(atol(v)); /* checked whole numbers (minutes: rewritten as such) */
        return CL_OK;
    }
    if (o->type == CLI_VAL_ADDRESSES)
        return address_list(out, v);
    if (o->type == CLI_VAL_DESC && strcmp(v, "-") == 0) {
        char *what = cl_asprintf("%s%s -: stdin", o->meta != NULL ? "--" : "", o->name);

        rc = read_all(&text, &len, in, CLI_VALUE_DESC_MAX, what, err);
        free(what);
    }
    if (rc != CL_OK)
        return rc;
    *out = json_stringn(text != NULL ? text : v, len);
    free(text);
    if (*out == NULL)
        return cl_fail(err, CL_EINVAL, "%s is not valid UTF-8 text", o->name);
    return CL_OK;
}

/* Adds the body fields of list (options or positionals) whose values are vals[i]. */
static int add_fields(json_t *body, const struct cli_opt *list, const char *const *vals, size_t n,
                      FILE *in, struct cl_err *err)
{
    json_t *value;
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        if (list[i].dest != CLI_TO_BODY || vals[i] == NULL)
            continue;
        rc = field_value(&value, &list[i], vals[i], in, err);
        if (rc != CL_OK)
            return rc;
        if (json_object_set_new(body, list[i].field, value) != 0)
            return cl_fail(err, CL_EINVAL, "cannot add %s to the body", list[i].field);
    }
    return CL_OK;
}

int cli_build_body(json_t **out, const struct cli_args *a, FILE *in, struct cl_err *err)
{
    json_t *body = json_object();
    int rc;

    if (body == NULL)
        return cl_fail(err, CL_EINVAL, "cannot make a JSON object");
    rc = add_fields(body, a->verb->pos, a->pos, a->npos, in, err);
    if (rc == CL_OK)
        rc = add_fields(body, a->verb->opts, a->vals, cli_verbs_count(a->verb->opts), in, err);
    if (rc != CL_OK)
        goto cleanup;
    *out = body;
    body = NULL;
cleanup:
    json_decref(body);
    return rc;
}
