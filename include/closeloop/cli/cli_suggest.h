/* cli_suggest: "did you mean" for a mistyped group, verb or option: the known word nearest
 * to what was typed by edit distance, when it is near enough to be a slip of the fingers.
 * Pure; no allocation: the answers are borrowed from the verb table or static. */
#ifndef CLOSELOOP_CLI_SUGGEST_H
#define CLOSELOOP_CLI_SUGGEST_H

#include "closeloop/cli/cli_verbs.h"

#include <stddef.h>

#define CLI_SUGGEST_WORD_MAX 64 /* longer words are never matched */

/* Levenshtein distance between a and b, with a transposition of two neighbours counting 1
 * (Damerau, optimal string alignment); (size_t)-1 when either is longer than
 * CLI_SUGGEST_WORD_MAX bytes. */
size_t cli_suggest_distance(const char *a, const char *b);

/* The word of words[0..n) nearest to typed if it is near enough (at most 1 edit for words of
 * up to 4 bytes, else 2, and fewer edits than typed has bytes), else NULL. Ties go to the
 * first. */
const char *cli_suggest_word(const char *typed, const char *const *words, size_t n);

/* A group of verbs[0..n), or one of the words that are not groups (help, completion),
 * that typed is near; else NULL. */
const char *cli_suggest_group(const struct cli_verb *verbs, size_t n, const char *typed);

/* A verb name of group that typed is near; else NULL. */
const char *cli_suggest_verb(const struct cli_verb *verbs, size_t n, const char *group,
                             const char *typed);

/* An option name of v (NULL: none), or a global one (url, token, json, help, version), that
 * typed (without its dashes) is near; else NULL. */
const char *cli_suggest_option(const struct cli_verb *v, const char *typed);

#endif
