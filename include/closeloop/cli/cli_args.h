/* cli_args: parses argv against the verb table. Global flags (--url --token --json --help
 * --version, and -h) may appear anywhere; a verb's options may appear anywhere after its
 * words. "--name=value" and "--name value" both work, and "--" ends option parsing. Every
 * value is checked with cli_value before any request, and what people type (p1, friday,
 * 2026-11-18 09:30) is rewritten into the form the server takes. No allocation: strings are
 * borrowed from argv, or point into the struct's own buffers for rewritten values (so a
 * struct cli_args must not be copied). */
#ifndef CLOSELOOP_CLI_ARGS_H
#define CLOSELOOP_CLI_ARGS_H

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_value.h"
#include "closeloop/cli/cli_verbs.h"

#include <stdbool.h>
#include <stddef.h>

#define CLI_ARGS_ARGC_MAX  128  /* more words than this is a usage error */
#define CLI_ARGS_POS_MAX   4    /* most positionals of any verb */
#define CLI_ARGS_OPTS_MAX  24   /* most options of any verb */
#define CLI_ARGS_URL_MAX   2048 /* bytes of --url */
#define CLI_ARGS_TOKEN_MAX 4096 /* bytes of --token */
#define CLI_ARGS_REP_MAX   256  /* values of repeatable options (CLI_VAL_PAIR) in all */

struct cli_args {
    const char *url;   /* --url, or NULL */
    const char *token; /* --token, or NULL */
    bool json;
    bool help;
    bool version;
    const char *group;                 /* a known group word, or NULL */
    const struct cli_verb *verb;       /* the verb, once its word was read; else NULL */
    const char *pos[CLI_ARGS_POS_MAX]; /* positionals in order */
    size_t npos;
    const char *vals[CLI_ARGS_OPTS_MAX];                /* by index in verb->opts; NULL when absent;
                                                           "true" for a flag that is present */
    char pos_buf[CLI_ARGS_POS_MAX][CLI_VALUE_NORM_MAX]; /* rewritten positionals */
    char vals_buf[CLI_ARGS_OPTS_MAX][CLI_VALUE_NORM_MAX]; /* rewritten option values */
    const char *rep[CLI_ARGS_REP_MAX];                    /* every value of a repeatable
                                                             option, in order (vals[] has the
                                                             first) */
    unsigned char rep_opt[CLI_ARGS_REP_MAX];              /* its index in verb->opts */
    size_t nrep;
};

/* Parses argv[1..argc) against verbs[0..n). Unlike most functions, *out is filled as far as
 * parsing got even on failure, so the caller can still honour --help and name the verb in
 * its hint. Returns 0, or CL_EINVAL with the first problem in err: unknown word or option,
 * missing or repeated value, bad value, missing positional or required option. Missing
 * pieces are not reported when --help or --version was given. */
int cli_args_parse(struct cli_args *out, int argc, char *const *argv, const struct cli_verb *verbs,
                   size_t n, struct cl_err *err);

/* The same with the day relative dates count from given: today, days since 1970-01-01 in
 * the local zone (cli_date_today_at()); cli_args_parse() passes the real one. */
int cli_args_parse_at(struct cli_args *out, int argc, char *const *argv,
                      const struct cli_verb *verbs, size_t n, long today, struct cl_err *err);

/* The value of option name ("due" for --due) of out->verb, or NULL when absent. */
const char *cli_args_get(const struct cli_args *a, const char *name);

#endif
