#include "closeloop/cli/cli_suggest.h"

#include <string.h>

#define MAX_WORDS 64 /* candidates looked at per question: more than any group has */

static const char *const top_words[] = {"help", "completion"};
static const char *const global_opts[] = {"url", "token", "json", "help", "version"};

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;

    return m < c ? m : c;
}

size_t cli_suggest_distance(const char *a, const char *b)
{
    size_t d[CLI_SUGGEST_WORD_MAX + 1][CLI_SUGGEST_WORD_MAX + 1];
    size_t la = strnlen(a, CLI_SUGGEST_WORD_MAX + 1);
    size_t lb = strnlen(b, CLI_SUGGEST_WORD_MAX + 1);
    size_t i;
    size_t j;

    if (la > CLI_SUGGEST_WORD_MAX || lb > CLI_SUGGEST_WORD_MAX)
        return (size_t)-1;
    for (i = 0; i <= la; i++)
        d[i][0] = i;
    for (j = 0; j <= lb; j++)
        d[0][j] = j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            d[i][j] =
                min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]));
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    }
    return d[la][lb];
}

const char *cli_suggest_word(const char *typed, const char *const *words, size_t n)
{
    size_t len = strnlen(typed, CLI_SUGGEST_WORD_MAX + 1);
    size_t limit = len <= 4 ? 1 : 2;
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t d;
    size_t i;

    for (i = 0; i < n; i++) {
        d = cli_suggest_distance(typed, words[i]);
        if (d < best_d) {
            best = words[i];
            best_d = d;
        }
    }
    return best_d <= limit && best_d < len ? best : NULL;
}

/* Appends words[0..n) to list, which holds *count of at most MAX_WORDS. */
static void add_words(const char **list, size_t *count, const char *const *words, size_t n)
{
    size_t i;

    for (i = 0; i < n && *count < MAX_WORDS; i++)
        list[(*count)++] = words[i];
}

const char *cli_suggest_group(const struct cli_verb *verbs, size_t n, const char *typed)
{
    const char *list[MAX_WORDS];
    size_t count = 0;
    size_t i;

    for (i = 0; i < n && count < MAX_WORDS; i++) {
        if (i == 0 || strcmp(verbs[i].group, verbs[i - 1].group) != 0)
            list[count++] = verbs[i].group;
    }
    add_words(list, &count, top_words, sizeof(top_words) / sizeof(top_words[0]));
    return cli_suggest_word(typed, list, count);
}

const char *cli_suggest_verb(const struct cli_verb *verbs, size_t n, const char *group,
                             const char *typed)
{
    const char *list[MAX_WORDS];
    size_t count = 0;
    size_t i;

    for (i = 0; i < n && count < MAX_WORDS; i++) {
        if (strcmp(verbs[i].group, group) == 0)
            list[count++] = verbs[i].name;
    }
    return cli_suggest_word(typed, list, count);
}

const char *cli_suggest_option(const struct cli_verb *v, const char *typed)
{
    const char *list[MAX_WORDS];
    size_t count = 0;
    size_t i;

    for (i = 0; v != NULL && i < cli_verbs_count(v->opts) && count < MAX_WORDS; i++)
        list[count++] = v->opts[i].name;
    add_words(list, &count, global_opts, sizeof(global_opts) / sizeof(global_opts[0]));
    return cli_suggest_word(typed, list, count);
}
