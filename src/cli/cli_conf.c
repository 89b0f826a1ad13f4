#include "closeloop/cli/cli_conf.h"

#include "closeloop/cli/cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cli_conf_dispose(struct cli_conf *c)
{
    if (c == NULL)
        return;
    cl_freep(&c->url);
    cl_freep(&c->token);
}

/* s without leading and trailing white space, in place. */
static char *trim(char *s)
{
    size_t n;

    while (isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Takes off one pair of matching quotes around s, in place. */
static char *unquote(char *s)
{
    size_t n = strlen(s);

    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

static int read_line(struct cli_conf *c, char *line, const char *path, long no, struct cl_err *err)
{
    char *s = trim(line);
    char *eq;
    char **slot = NULL;

    if (*s == '\0' || *s == '#' || *s == ';' || *s == '[')
        return CL_OK;
    eq = strchr(s, '=');
    if (eq == NULL)
        return cl_fail(err, CL_EINVAL, "%s:%ld: expected 'key = value'", path, no);
    *eq = '\0';
    s = trim(s);
    if (strcmp(s, "url") == 0)
        slot = &c->url;
    else if (strcmp(s, "token") == 0)
        slot = &c->token;
    if (slot == NULL)
        return CL_OK; /* other keys belong to other tools or later versions */
    free(*slot);      /* the last line for a key wins */
    *slot = cl_strdup(unquote(trim(eq + 1)));
    return CL_OK;
}

int cli_conf_read(struct cli_conf *c, FILE *f, const char *path, struct cl_err *err)
{
    struct cli_conf found = {NULL, NULL, ""};
    char line[CLI_CONF_LINE_MAX + 2];
    size_t len;
    long no = 0;
    int rc = CL_OK;

    while (fgets(line, sizeof(line), f) != NULL) {
        len = strlen(line);
        no++;
        if (no > CLI_CONF_LINES_MAX || (len == sizeof(line) - 1 && line[len - 1] != '\n')) {
            rc = cl_fail(err, CL_EINVAL, "%s:%ld: line or file too long", path, no);
            goto cleanup;
        }
        rc = read_line(&found, line, path, no, err);
        if (rc != CL_OK)
            goto cleanup;
    }
    if (ferror(f)) {
        rc = cl_fail(err, CL_EINVAL, "%s: read failed", path);
        goto cleanup;
    }
    if (c->url == NULL) {
        c->url = found.url;
        found.url = NULL;
    }
    if (c->token == NULL) {
        c->token = found.token;
        found.token = NULL;
    }
cleanup:
    cli_conf_dispose(&found);
    return rc;
}

/* The flag, else the environment variable; empty counts as unset. */
static char *pick(const char *flag, const char *env)
{
    const char *v = flag != NULL && *flag != '\0' ? flag : getenv(env);

    return v != NULL && *v != '\0' ? cl_strdup(v) : NULL;
}

/* Opens the config file; *f stays NULL when the default file does not exist. The
 * default is $XDG_CONFIG_HOME/closeloop/config, else ~/.config/closeloop/config. */
static int open_file(FILE **f, char **path, struct cl_err *err)
{
    const char *named = getenv("CLOSELOOP_CONFIG");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");

    if (named != NULL && *named != '\0')
        *path = cl_strdup(named);
    else if (xdg != NULL && *xdg == '/')
        *path = cl_asprintf("%s/closeloop/config", xdg);
    else if (home != NULL && *home != '\0')
        *path = cl_asprintf("%s/.config/closeloop/config", home);
    else
        return CL_OK;
    *f = fopen(*path, "r");
    if (*f != NULL || (errno == ENOENT && named == NULL))
        return CL_OK;
    return cl_fail(err, CL_EINVAL, "cannot read config %s: %s", *path, strerror(errno));
}

/* A token read from a file that others can read is used, with a warning to say so. */
static void check_mode(struct cli_conf *c, FILE *f, const char *path, bool had_token)
{
    struct stat st;

    if (had_token || c->token == NULL || fstat(fileno(f), &st) != 0 ||
        (st.st_mode & (S_IRGRP | S_IROTH)) == 0)
        return;
    snprintf(c->warning, sizeof(c->warning),
             "%s holds a token and %s can read it (mode %04o): chmod 600 %s", path,
             (st.st_mode & S_IROTH) ? "every user" : "its group", (unsigned)(st.st_mode & 07777),
             path);
}

static int read_file(struct cli_conf *c, struct cl_err *err)
{
    FILE *f = NULL;
    char *path = NULL;
    int rc = open_file(&f, &path, err);
    bool had_token = c->token != NULL;

    if (rc == CL_OK && f != NULL)
        rc = cli_conf_read(c, f, path, err);
    if (rc == CL_OK && f != NULL)
        check_mode(c, f, path, had_token);
    if (f != NULL)
        fclose(f);
    free(path);
    return rc;
}

static bool printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    }
    return true;
}

static int check(struct cli_conf *c, struct cl_err *err)
{
    size_t n = strlen(c->url);

    if (n > CLI_ARGS_URL_MAX || !printable(c->url) ||
        (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0))
        return cl_fail(err, CL_EINVAL, "the service URL must be http:// or https://, not '%.60s'",
                       c->url);
    while (n > 0 && c->url[n - 1] == '/')
        c->url[--n] = '\0';
    if (c->token == NULL)
        return CL_OK;
    if (strlen(c->token) > CLI_ARGS_TOKEN_MAX || !printable(c->token))
        return cl_fail(err, CL_EINVAL, "the token has spaces, control characters or is too long");
    return CL_OK;
}

int cli_conf_resolve(struct cli_conf *out, const char *flag_url, const char *flag_token,
                     struct cl_err *err)
{
    struct cli_conf c = {pick(flag_url, "CLOSELOOP_URL"), pick(flag_token, "CLOSELOOP_TOKEN"), ""};
    int rc = CL_OK;

    if (c.url == NULL || c.token == NULL)
        rc = read_file(&c, err);
    if (rc != CL_OK)
        goto cleanup;
    if (c.url == NULL || *c.url == '\0') {
        free(c.url);
        c.url = cl_strdup(CLI_CONF_DEFAULT_URL);
    }
    if (c.token != NULL && *c.token == '\0')
        cl_freep(&c.token);
    rc = check(&c, err);
    if (rc != CL_OK)
        goto cleanup;
    *out = c;
    c.warning[0] = '\0';
    c.url = NULL;
    c.token = NULL;
cleanup:
    cli_conf_dispose(&c);
    return rc;
}
