/* cli_help: usage text generated from the verb table, for --help (stdout) and for the
 * bare "closeloop" or "closeloop <group>" (stderr). */
#ifndef CLOSELOOP_CLI_HELP_H
#define CLOSELOOP_CLI_HELP_H

#include "closeloop/cli/cli_verbs.h"

#include <stddef.h>
#include <stdio.h>

/* Every verb, the global options, where the settings come from and the exit codes. */
void cli_help_top(FILE *out, const struct cli_verb *verbs, size_t n);

/* The verbs of group. */
void cli_help_group(FILE *out, const struct cli_verb *verbs, size_t n, const char *group);

/* One verb: its usage line, positionals and options. */
void cli_help_verb(FILE *out, const struct cli_verb *v);

#endif
