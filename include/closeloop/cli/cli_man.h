/* cli_man: the man page closeloop(1), written from the verb table (cli_verbs.h) and the
 * global options (cli_help.h), the same tables --help and the completions come from. The
 * hidden `closeloop __man` prints it; the build writes it into build/<mode>/man/. */
#ifndef CLOSELOOP_CLI_MAN_H
#define CLOSELOOP_CLI_MAN_H

#include "closeloop/cli/cli_verbs.h"

#include <stddef.h>
#include <stdio.h>

/* Writes closeloop(1) in man(7) markup for verbs[0..n) to out. */
void cli_man_page(FILE *out, const struct cli_verb *verbs, size_t n);

#endif
