/* cli_complete: the bash and zsh completion scripts of the closeloop CLI, written from the
 * verb table (cli_verbs.h) and the value choices (cli_value.h), so they cannot drift from
 * what the CLI accepts; and the values only the service knows (person handles, team names,
 * incident keys, action ids), which the scripts ask for with the hidden
 * `closeloop __complete KIND PREFIX`. Which option or positional takes which kind is
 * derived here from the table, in one place (cli_complete_opt_kind/_pos_kind).
 * contrib/closeloop.bash-completion and contrib/_closeloop are the scripts' output
 * (`make completion`), which a unit test keeps equal. */
#ifndef CLOSELOOP_CLI_COMPLETE_H
#define CLOSELOOP_CLI_COMPLETE_H

#include "closeloop/cli/cli_verbs.h"

#include <stddef.h>
#include <stdio.h>

#define CLI_COMPLETE_TIMEOUT_S 1L /* whole budget of one fetch: a shell must not hang */

/* What the service is asked for to complete a value. */
enum cli_complete_kind {
    CLI_COMPLETE_NONE,      /* nothing to fetch */
    CLI_COMPLETE_HANDLES,   /* person handles */
    CLI_COMPLETE_TEAMS,     /* team names */
    CLI_COMPLETE_INCIDENTS, /* incident keys */
    CLI_COMPLETE_ACTIONS    /* ids of open actions */
};

/* The kind an option's value takes, from its API field (owner, facilitator, manager:
 * handles; team; incident). */
enum cli_complete_kind cli_complete_opt_kind(const struct cli_opt *o);

/* The kind positional p of verb v takes: the object its path names (people, teams,
 * incidents, actions), or a handle for an owner in the body (action assign ID HANDLE). */
enum cli_complete_kind cli_complete_pos_kind(const struct cli_verb *v, const struct cli_opt *p);

/* The word of kind in `closeloop __complete WORD PREFIX` ("handles"...), NULL for NONE. */
const char *cli_complete_kind_word(enum cli_complete_kind kind);

/* Writes the bash script for verbs[0..n) to out. */
void cli_complete_bash(FILE *out, const struct cli_verb *verbs, size_t n);

/* Writes the zsh script (a #compdef file) for verbs[0..n) to out. */
void cli_complete_zsh(FILE *out, const struct cli_verb *verbs, size_t n);

/* `closeloop __complete WORD PREFIX`: writes to out, one a line, the values of the kind
 * WORD names that start with prefix, fetched with the usual URL and token settings within
 * CLI_COMPLETE_TIMEOUT_S. Completion must never put an error into the user's line: any
 * failure (unknown word, no token, no answer) writes nothing and returns CL_EINVAL,
 * CL_EHTTP or CL_EIO. */
int cli_complete_fetch(FILE *out, const char *word, const char *prefix);

#endif
