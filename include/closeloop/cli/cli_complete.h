/* cli_complete: the bash completion script of the closeloop CLI, written from the verb
 * table (cli_verbs.h) and the value choices (cli_value.h), so it cannot drift from what
 * the CLI accepts. `closeloop completion bash` prints it; contrib/closeloop.bash-completion
 * is its output (`make completion`), which a unit test keeps equal. */
#ifndef CLOSELOOP_CLI_COMPLETE_H
#define CLOSELOOP_CLI_COMPLETE_H

#include "closeloop/cli/cli_verbs.h"

#include <stddef.h>
#include <stdio.h>

/* Writes the script for verbs[0..n) to out. */
void cli_complete_bash(FILE *out, const struct cli_verb *verbs, size_t n);

#endif
