/* cli_api: one JSON exchange with closeloopd and what its answer means: the exit code an
 * HTTP status maps to, and the one-line message for an error answer
 * ({"error":{"code","message","field"?}}). */
#ifndef CLOSELOOP_CLI_API_H
#define CLOSELOOP_CLI_API_H

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_http.h"

#include <jansson.h>
#include <stddef.h>

enum cli_api_exit {
    CLI_API_EXIT_OK = 0,
    CLI_API_EXIT_REJECTED = 1, /* the server said no: 400 404 405 409 413 415 422 */
    CLI_API_EXIT_USAGE = 2,    /* bad command line; nothing was sent */
    CLI_API_EXIT_SERVICE = 3   /* unreachable, timed out, 5xx, 401/403, anything unexpected */
};

/* The exit code for an answer with this HTTP status. */
int cli_api_exit_for_status(long status);

/* Writes the one-line message for a non-2xx answer into err: the server's error.message
 * (and "(field f)") for a rejection, what to do for 401/403/5xx. body may be NULL. Returns
 * the code it recorded: CL_ENOTFOUND (404), CL_ECONFLICT (409), CL_EINVAL (other
 * rejections), CL_EAUTH (401, 403) or CL_EHTTP. */
int cli_api_describe(struct cl_err *err, long status, const char *body, size_t len,
                     const char *base_url);

/* Turns an answer into JSON: a 2xx with a body is parsed into *out (new reference), a 2xx
 * without one gives *out = NULL. A non-2xx answer is described as above; a body that is not
 * JSON is CL_EHTTP. *out is set only on success. */
int cli_api_decode(json_t **out, const struct cli_http_resp *r, const char *base_url,
                   struct cl_err *err);

/* Sends method path with body (borrowed, may be NULL) serialised as JSON, then decodes the
 * answer as cli_api_decode() does. *status is the HTTP status, or 0 when nothing answered
 * (then err comes from cli_http_do()). */
int cli_api_call(json_t **out, long *status, struct cli_http *h, const char *method,
                 const char *path, const json_t *body, const char *if_match, struct cl_err *err);

#endif
