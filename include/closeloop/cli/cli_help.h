/* cli_help: usage text generated from the verb table, for --help and `closeloop help`
 * (stdout) and for the bare "closeloop" (stderr). */
#ifndef CLOSELOOP_CLI_HELP_H
#define CLOSELOOP_CLI_HELP_H

#include "closeloop/cli/cli_verbs.h"

#include <stddef.h>
#include <stdio.h>

#define CLI_HELP_COMPLETION_USAGE "usage: closeloop completion bash|zsh"

/* The global options (--url, --token, --json, --help, --version), ended by a NULL name. */
extern const struct cli_opt cli_help_globals[];

/* Where the settings come from and the exit codes: lines of plain text. */
extern const char cli_help_settings[];

/* What a bare "closeloop" prints (on stderr): the groups, the most used verbs and where
 * to read more. */
void cli_help_short(FILE *out, const struct cli_verb *verbs, size_t n);

/* Every verb, the global options, where the settings come from and the exit codes. */
void cli_help_top(FILE *out, const struct cli_verb *verbs, size_t n);

/* The verbs of group. */
void cli_help_group(FILE *out, const struct cli_verb *verbs, size_t n, const char *group);

/* One verb: its usage line, positionals and options. */
void cli_help_verb(FILE *out, const struct cli_verb *v);

#endif
