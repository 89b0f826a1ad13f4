#include "closeloop/cli/cli_api.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX 400 /* bytes of the server's message or field that a message quotes */

int cli_api_exit_for_status(long status)
{
    if (status >= 200 && status <= 299)
        return CLI_API_EXIT_OK;
    switch (status) {
    case 400:
    case 404:
    case 405:
    case 409:
    case 413:
    case 415:
    case 422:
        return CLI_API_EXIT_REJECTED;
    default:
        return CLI_API_EXIT_SERVICE;
    }
}

/* Copies the string member name of the answer's "error" object into buf, with control
 * characters blanked so that a server cannot drive the terminal; "" when absent. */
static void error_member(char *buf, size_t len, const json_t *root, const char *name)
{
    const char *s = json_string_value(json_object_get(json_object_get(root, "error"), name));
    size_t i;

    snprintf(buf, len, "%s", s != NULL ? s : "");
    for (i = 0; buf[i] != '\0'; i++) {
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = ' ';
    }
}

/* Where to look up the names a field takes, for "unknown ..." answers. */
static const char *lookup_hint(const char *field, const char *msg)
{
    static const struct {
        const char *field;
        const char *verb;
    } hints[] = {{"owner", "closeloop person list"},       {"manager", "closeloop person list"},
                 {"facilitator", "closeloop person list"}, {"handle", "closeloop person list"},
                 {"team", "closeloop team list"},          {"incident", "closeloop incident list"}};
    size_t i;

    if (strncmp(msg, "unknown ", 8) != 0)
        return NULL;
    for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
        if (strcmp(field, hints[i].field) == 0)
            return hints[i].verb;
    return NULL;
}

static int rejected(struct cl_err *err, long status, const char *msg, const char *field)
{
    int code = status == 404 ? CL_ENOTFOUND : status == 409 ? CL_ECONFLICT : CL_EINVAL;
    const char *hint = lookup_hint(field, msg);

    if (*msg == '\0')
        return cl_fail(err, code, "the server rejected the request (HTTP %ld)", status);
    if (hint != NULL)
        return cl_fail(err, code, "%s (field %s; see `%s`)", msg, field, hint);
    if (*field != '\0')
        return cl_fail(err, code, "%s (field %s)", msg, field);
    return cl_fail(err, code, "%s", msg);
}

int cli_api_describe(struct cl_err *err, long status, const char *body, size_t len,
                     const char *base_url)
{
    json_t *root = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    char msg[TEXT_MAX];
    char field[TEXT_MAX];
    const char *sep;
    int rc;

    error_member(msg, sizeof(msg), root, "message");
    error_member(field, sizeof(field), root, "field");
    json_decref(root);
    sep = msg[0] != '\0' ? ": " : "";
    if (cli_api_exit_for_status(status) == CLI_API_EXIT_REJECTED)
        rc = rejected(err, status, msg, field);
    else if (status == 401)
        rc = cl_fail(err, CL_EAUTH,
                     "token rejected: set CLOSELOOP_TOKEN or ~/.config/closeloop/config");
    else if (status == 403)
        rc = cl_fail(err, CL_EAUTH,
                     "the token may not do this%s%s: use a token with the write "
                     "scope",
                     sep, msg);
    else if (status >= 500)
        rc = cl_fail(err, CL_EHTTP, "%s failed with HTTP %ld%s%s: see closeloopd's log", base_url,
                     status, sep, msg);
    else
        rc = cl_fail(err, CL_EHTTP, "unexpected HTTP %ld from %s%s%s: is it closeloopd?", status,
                     base_url, sep, msg);
    return rc;
}

int cli_api_decode(json_t **out, const struct cli_http_resp *r, const char *base_url,
                   struct cl_err *err)
{
    json_error_t jerr;
    json_t *root;

    if (cli_api_exit_for_status(r->status) != CLI_API_EXIT_OK)
        return cli_api_describe(err, r->status, r->body, r->len, base_url);
    if (r->body == NULL || r->len == 0) {
        *out = NULL;
        return CL_OK;
    }
    root = json_loadb(r->body, r->len, 0, &jerr);
    if (root == NULL)
        return cl_fail(err, CL_EHTTP, "unreadable answer from %s: %s (line %d)", base_url,
                       jerr.text, jerr.line);
    *out = root;
    return CL_OK;
}

int cli_api_call(json_t **out, long *status, struct cli_http *h, const char *method,
                 const char *path, const json_t *body, const char *if_match, struct cl_err *err)
{
    struct cli_http_resp resp = {0, NULL, 0};
    char *text = NULL;
    int rc;

    *status = 0;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        if (text == NULL) {
            rc = cl_fail(err, CL_EINVAL, "cannot encode the request body");
            goto cleanup;
        }
    }
    rc = cli_http_do(&resp, h, method, path, text, if_match, err);
    if (rc != CL_OK)
        goto cleanup;
    *status = resp.status;
    rc = cli_api_decode(out, &resp, cli_http_base(h), err);
cleanup:
    free(text);
    cli_http_resp_dispose(&resp);
    return rc;
}
