#include "closeloop/cli/cli_args.h"

#include "closeloop/cli/cli_date.h"
#include "closeloop/cli/cli_suggest.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

struct parser {
    struct cli_args *a;
    int argc;
    char *const *argv;
    int i;           /* index of the word being read */
    bool words_done; /* after "--": everything is a word */
    const struct cli_verb *verbs;
    size_t nverbs;
    long today; /* what relative dates count from */
    struct cl_err *err;
};

/* The value of an option: after '=' in the same word, else the next word. */
static const char *take_value(struct parser *p, const char *name, const char *eq)
{
    if (eq != NULL)
        return eq + 1;
    if (p->i + 1 >= p->argc) {
        cl_fail(p->err, CL_EINVAL, "--%s needs a value", name);
        return NULL;
    }
    p->i++;
    return p->argv[p->i];
}

/* Whether the len bytes at name spell word. */
static bool is(const char *name, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(name, word, len) == 0;
}

/* --json, --help, --version; false when name is none of them. */
static bool global_flag(struct parser *p, const char *name, size_t len, const char *eq)
{
    bool *flag = NULL;

    if (is(name, len, "json"))
        flag = &p->a->json;
    else if (is(name, len, "help"))
        flag = &p->a->help;
    else if (is(name, len, "version"))
        flag = &p->a->version;
    if (flag == NULL)
        return false;
    *flag = true;
    if (eq != NULL)
        cl_fail(p->err, CL_EINVAL, "--%.*s takes no value", (int)len, name);
    return true;
}

/* --url, --token; false when name is neither. */
static bool global_value(struct parser *p, const char *name, size_t len, const char *eq)
{
    bool url = is(name, len, "url");
    size_t max = url ? CLI_ARGS_URL_MAX : CLI_ARGS_TOKEN_MAX;
    const char *v;

    if (!url && !is(name, len, "token"))
        return false;
    v = take_value(p, url ? "url" : "token", eq);
    if (v == NULL)
        return true;
    if (strnlen(v, max + 1) > max)
        cl_fail(p->err, CL_EINVAL, "--%s is longer than %zu bytes", url ? "url" : "token", max);
    if (url)
        p->a->url = v;
    else
        p->a->token = v;
    return true;
}

static int find_opt(const struct cli_verb *v, const char *name, size_t len)
{
    size_t i;

    for (i = 0; v != NULL && v->opts != NULL && v->opts[i].name != NULL; i++) {
        assert(i < CLI_ARGS_OPTS_MAX);
        if (is(name, len, v->opts[i].name))
            return (int)i;
    }
    return -1;
}

/* "unknown option --ownr; did you mean --owner?" */
static void unknown_option(struct parser *p, const char *name, size_t len)
{
    char typed[CLI_SUGGEST_WORD_MAX + 1];
    const char *near = NULL;

    if (len <= CLI_SUGGEST_WORD_MAX) {
        memcpy(typed, name, len);
        typed[len] = '\0';
        near = cli_suggest_option(p->a->verb, typed);
    }
    if (near != NULL)
        cl_fail(p->err, CL_EINVAL, "unknown option --%.*s; did you mean --%s?", (int)len, name,
                near);
    else
        cl_fail(p->err, CL_EINVAL, "unknown option --%.*s", (int)(len > 40 ? 40 : len), name);
}

static void verb_option(struct parser *p, const char *name, size_t len, const char *eq)
{
    struct cli_args *a = p->a;
    int k = find_opt(a->verb, name, len);
    const struct cli_opt *o;
    char label[64];
    const char *v;

    if (k < 0) {
        unknown_option(p, name, len);
        return;
    }
    o = &a->verb->opts[k];
    snprintf(label, sizeof(label), "--%s", o->name);
    if (a->vals[k] != NULL && o->type != CLI_VAL_PAIR)
        cl_fail(p->err, CL_EINVAL, "%s is given twice", label);
    if (cli_value_is_flag(o->type)) {
        v = eq != NULL ? eq + 1 : NULL;
        cli_value_check(o->type, label, v, p->err);
        a->vals[k] = "true";
        return;
    }
    v = take_value(p, o->name, eq);
    if (v == NULL)
        return;
    if (o->type == CLI_VAL_PAIR && a->nrep >= CLI_ARGS_REP_MAX) {
        cl_fail(p->err, CL_EINVAL, "more than %d values of repeated options", CLI_ARGS_REP_MAX);
        return;
    }
    if (o->type == CLI_VAL_PAIR) {
        a->rep_opt[a->nrep] = (unsigned char)k;
        a->rep[a->nrep++] = v;
        if (a->vals[k] != NULL) {
            cli_value_check(o->type, label, v, p->err);
            return;
        }
    }
    a->vals[k] = v;
    cli_value_read(&a->vals[k], a->vals_buf[k], o->type, label, v, p->today, p->err);
}

static void option(struct parser *p, const char *word)
{
    const char *name = word + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);

    if (strcmp(word, "-h") == 0) {
        p->a->help = true;
        return;
    }
    if (word[1] != '-') {
        cl_fail(p->err, CL_EINVAL, "unknown option %.40s", word);
        return;
    }
    if (!global_flag(p, name, len, eq) && !global_value(p, name, len, eq))
        verb_option(p, name, len, eq);
}

static void positional(struct parser *p, const char *word)
{
    struct cli_args *a = p->a;
    const struct cli_opt *o;
    size_t max = cli_verbs_count(a->verb->pos);

    if (a->npos >= max || a->npos >= CLI_ARGS_POS_MAX) {
        cl_fail(p->err, CL_EINVAL, "unexpected argument '%.40s'", word);
        return;
    }
    o = &a->verb->pos[a->npos];
    a->pos[a->npos] = word;
    cli_value_read(&a->pos[a->npos], a->pos_buf[a->npos], o->type, o->name, word, p->today, p->err);
    a->npos++;
}

static void word(struct parser *p, const char *w)
{
    struct cli_args *a = p->a;
    const char *near;

    if (a->group == NULL) {
        near = cli_suggest_group(p->verbs, p->nverbs, w);
        if (cli_verbs_has_group(p->verbs, p->nverbs, w)) {
            a->group = w; /* a group that is a command alone has its verb at once */
            a->verb = cli_verbs_find(p->verbs, p->nverbs, w, "");
        } else if (near != NULL)
            cl_fail(p->err, CL_EINVAL, "unknown command '%s'; did you mean '%s'?", w, near);
        else
            cl_fail(p->err, CL_EINVAL, "unknown command '%.40s'", w);
        return;
    }
    if (a->verb == NULL) {
        a->verb = cli_verbs_find(p->verbs, p->nverbs, a->group, w);
        near = cli_suggest_verb(p->verbs, p->nverbs, a->group, w);
        if (a->verb == NULL && near != NULL)
            cl_fail(p->err, CL_EINVAL, "unknown verb '%s' for %s; did you mean '%s'?", w, a->group,
                    near);
        else if (a->verb == NULL)
            cl_fail(p->err, CL_EINVAL, "unknown verb '%.40s' for %s", w, a->group);
        return;
    }
    positional(p, w);
}

/* Two given options that fill the same body field (--github, --no-github) contradict. */
static void check_exclusive(struct parser *p)
{
    const struct cli_opt *o = p->a->verb->opts;
    size_t n = cli_verbs_count(o);
    size_t i;
    size_t j;

    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n && p->a->vals[i] != NULL; j++) {
            if (p->a->vals[j] == NULL || o[i].dest != CLI_TO_BODY || o[j].dest != CLI_TO_BODY)
                continue;
            if (strcmp(o[i].field, o[j].field) == 0)
                cl_fail(p->err, CL_EINVAL, "--%s and --%s cannot be used together", o[i].name,
                        o[j].name);
        }
    }
}

/* After every word was read: what is still missing. */
static void check_complete(struct parser *p)
{
    const struct cli_args *a = p->a;
    size_t i;

    if (a->group == NULL)
        cl_fail(p->err, CL_EINVAL, "missing command");
    else if (a->verb == NULL)
        cl_fail(p->err, CL_EINVAL, "missing verb for %s", a->group);
    else if (a->npos < cli_verbs_count(a->verb->pos))
        cl_fail(p->err, CL_EINVAL, "missing %s", a->verb->pos[a->npos].name);
    for (i = 0; a->verb != NULL && i < cli_verbs_count(a->verb->opts); i++) {
        if (a->verb->opts[i].required && a->vals[i] == NULL)
            cl_fail(p->err, CL_EINVAL, "missing --%s", a->verb->opts[i].name);
    }
    if (a->verb != NULL)
        check_exclusive(p);
}

int cli_args_parse(struct cli_args *out, int argc, char *const *argv, const struct cli_verb *verbs,
                   size_t n, struct cl_err *err)
{
    return cli_args_parse_at(out, argc, argv, verbs, n, cli_date_today(), err);
}

int cli_args_parse_at(struct cli_args *out, int argc, char *const *argv,
                      const struct cli_verb *verbs, size_t n, long today, struct cl_err *err)
{
    struct cl_err mine = CL_ERR_INIT; /* parsing goes on after a failure, to find --help */
    struct parser p = {out, argc, argv, 1, false, verbs, n, today, &mine};
    const char *w;

    memset(out, 0, sizeof(*out));
    if (argc > CLI_ARGS_ARGC_MAX)
        return cl_fail(err, CL_EINVAL, "more than %d arguments", CLI_ARGS_ARGC_MAX);
    for (; p.i < argc; p.i++) {
        w = argv[p.i];
        if (!p.words_done && strcmp(w, "--") == 0)
            p.words_done = true;
        else if (!p.words_done && w[0] == '-' && w[1] != '\0')
            option(&p, w);
        else
            word(&p, w);
    }
    if (!out->help && !out->version)
        check_complete(&p);
    if (mine.code != CL_OK)
        return cl_fail(err, mine.code, "%s", mine.msg);
    return CL_OK;
}

const char *cli_args_get(const struct cli_args *a, const char *name)
{
    int k = find_opt(a->verb, name, strlen(name));

    return k < 0 ? NULL : a->vals[k];
}
