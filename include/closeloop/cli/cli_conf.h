/* cli_conf: where the CLI finds the service and its token. Each setting comes from the flag,
 * else the environment (CLOSELOOP_URL, CLOSELOOP_TOKEN), else the config file
 * ($CLOSELOOP_CONFIG, or ~/.config/closeloop/config), else the default URL. The file holds
 * "key = value" lines (url, token), '#' or ';' comments, and [section] lines, which are
 * ignored. The token is never part of any message. */
#ifndef CLOSELOOP_CLI_CONF_H
#define CLOSELOOP_CLI_CONF_H

#include "closeloop/util/cl.h"

#include <stdio.h>

#define CLI_CONF_DEFAULT_URL "http://127.0.0.1:8080"
#define CLI_CONF_LINE_MAX    4096 /* bytes of one config line */
#define CLI_CONF_LINES_MAX   1000 /* lines of a config file */

struct cli_conf {
    char *url;         /* owned; no trailing '/' once resolved */
    char *token;       /* owned; NULL when no source names one */
    char warning[256]; /* "" or why the token's file is unsafe (others can read it) */
};

/* Resolves url and token into the caller's *out (fields owned by it; release with
 * cli_conf_dispose). flag_url and flag_token may be NULL. The file is read only when a flag
 * and its variable leave something unset. A missing default file is fine; a missing file
 * named by CLOSELOOP_CONFIG, an unreadable file, a malformed line, a URL that is not
 * http(s) or a token with spaces or control characters is CL_EINVAL. *out is set only on
 * success. */
int cli_conf_resolve(struct cli_conf *out, const char *flag_url, const char *flag_token,
                     struct cl_err *err);

/* Reads config lines from f into the fields of c that are still NULL. path only names the
 * file in messages. 0, or CL_EINVAL naming path:line. */
int cli_conf_read(struct cli_conf *c, FILE *f, const char *path, struct cl_err *err);

/* Frees the fields and sets them to NULL; NULL is a no-op. */
void cli_conf_dispose(struct cli_conf *c);

#endif
