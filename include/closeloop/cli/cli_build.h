/* cli_build: turns parsed arguments into the parts of a request: the path, the query string,
 * the JSON body and the If-Match value. Only options that were given become fields; a
 * "none" value of a nullable option becomes JSON null. */
#ifndef CLOSELOOP_CLI_BUILD_H
#define CLOSELOOP_CLI_BUILD_H

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_args.h"

#include <jansson.h>
#include <stdio.h>

/* "/api/v1/<coll>[/<ID>][/<suffix>]" for a->verb, the path positional percent-encoded.
 * Caller frees. */
char *cli_build_path(const struct cli_args *a);

/* "k=v&k2=v2" of the query options that were given (flags as "k=true"), values
 * percent-encoded; "" when none. Caller frees. */
char *cli_build_query(const struct cli_args *a);

/* s percent-encoded: everything but A-Z a-z 0-9 - . _ ~ , becomes %XX. Caller frees. */
char *cli_build_escape(const char *s);

/* The JSON object of the body fields that were given (positionals included), {} when none.
 * A CLI_VAL_DESC value of "-" is read from in, at most CLI_VALUE_DESC_MAX bytes. *out (new
 * reference) is set only on success; CL_EINVAL for text that is not UTF-8 or has a NUL,
 * input over the cap or a read error. */
int cli_build_body(json_t **out, const struct cli_args *a, FILE *in, struct cl_err *err);

/* "\"N\"" for the If-Match option when given, else NULL. Caller frees. */
char *cli_build_if_match(const struct cli_args *a);

#endif
