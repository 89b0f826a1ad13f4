#include "closeloop/cli/cli_help.h"

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_conf.h"
#include "closeloop/cli/show/cli_table.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
const struct cli_opt cli_help_globals[] = {
    {"url", "URL", "service URL; else CLOSELOOP_URL, the config file, " CLI_CONF_DEFAULT_URL,
     CLI_VAL_TEXT, CLI_TO_LOCAL, NULL, false},
    {"token", "TOKEN", "API token; else CLOSELOOP_TOKEN, the config file", CLI_VAL_TEXT,
     CLI_TO_LOCAL, NULL, false},
    {"json", NULL, "print the server's JSON instead of tables", CLI_VAL_FLAG, CLI_TO_LOCAL, NULL,
     false},
    {"help", NULL, "help for the command, group or verb it follows (also -h)", CLI_VAL_FLAG,
     CLI_TO_LOCAL, NULL, false},
    {"version", NULL, "print the version", CLI_VAL_FLAG, CLI_TO_LOCAL, NULL, false},
    {NULL, NULL, NULL, CLI_VAL_FLAG, CLI_TO_LOCAL, NULL, false}};
/* clang-format on */

const char cli_help_settings[] =
    "config file: $CLOSELOOP_CONFIG or ~/.config/closeloop/config, lines 'url = ...' and\n"
    "'token = ...'. Flags beat the environment, which beats the file.\n"
    "exit codes: 0 ok; 1 rejected by the server, or a github doctor check failed;\n"
    "2 usage error, nothing sent; 3 service unreachable, failing, or the token refused.\n";

/* "closeloop action assign ID HANDLE --incident KEY [options]" without the trailing newline. */
static void synopsis(FILE *out, const struct cli_verb *v)
{
    size_t i;
    bool optional = false;

    fprintf(out, "closeloop %s%s%s", v->group, v->name[0] != '\0' ? " " : "", v->name);
    for (i = 0; i < cli_verbs_count(v->pos); i++)
        fprintf(out, " %s", v->pos[i].name);
    for (i = 0; i < cli_verbs_count(v->opts); i++) {
        if (v->opts[i].required)
            fprintf(out, " --%s %s", v->opts[i].name, v->opts[i].meta);
        else
            optional = true;
    }
    if (optional)
        fputs(" [options]", out);
}

/* Two aligned columns: "  ID" or "  --due YYYY-MM-DD", then the help line. */
static void list_opts(FILE *out, const char *title, const struct cli_opt *list, bool dashes)
{
    struct cli_table *t = cli_table_new(2);
    size_t n = cli_verbs_count(list);
    char *left;
    char *right;
    size_t i;

    for (i = 0; i < n; i++) {
        left =
            cl_asprintf("  %s%s%s%s", dashes ? "--" : "", list[i].name,
                        list[i].meta != NULL ? " " : "", list[i].meta != NULL ? list[i].meta : "");
        right = cl_asprintf("%s%s", list[i].help, list[i].required && dashes ? " (required)" : "");
        cli_table_add(t, left, CLI_COLOR_NONE);
        cli_table_add(t, right, CLI_COLOR_NONE);
        free(left);
        free(right);
    }
    if (n > 0) {
        fprintf(out, "%s:\n", title);
        cli_table_print(t, out, false, 0);
    }
    cli_table_free(t);
}

/* Whether v has an option of type a or b. */
static bool has_type(const struct cli_verb *v, enum cli_val a, enum cli_val b)
{
    size_t i;

    for (i = 0; i < cli_verbs_count(v->opts); i++) {
        if (v->opts[i].type == a || v->opts[i].type == b)
            return true;
    }
    return false;
}

void cli_help_verb(FILE *out, const struct cli_verb *v)
{
    fputs("usage: ", out);
    synopsis(out, v);
    fprintf(out, "\n\n%s\n\n", v->summary);
    list_opts(out, "arguments", v->pos, false);
    list_opts(out, "options", v->opts, true);
    if (has_type(v, CLI_VAL_DATE, CLI_VAL_DATE_OR_NONE))
        fputs("DATE: YYYY-MM-DD, today, tomorrow, yesterday, +3d, +2w, or a weekday (fri:\n"
              "  the next one after today); in your time zone (TZ)\n",
              out);
    if (has_type(v, CLI_VAL_TIME, CLI_VAL_TIME_OR_NONE))
        fputs("TIME: RFC 3339 (2026-11-18T09:30:00Z), or YYYY-MM-DD [HH:MM] in your time zone\n"
              "  (TZ), sent with its offset\n",
              out);
    if (has_type(v, CLI_VAL_SINCE, CLI_VAL_SINCE))
        fputs("SINCE: RFC 3339, YYYY-MM-DD [HH:MM] in your time zone (TZ), or a day back from\n"
              "  today: today, yesterday, -30d, -2w (its midnight)\n",
              out);
    fputs("global options: --url URL, --token TOKEN, --json, --help\n", out);
}

/* "  action assign ID HANDLE": the words and positionals of v. Caller frees. */
static char *verb_words(const struct cli_verb *v)
{
    char *s = cl_asprintf("  %s%s%s", v->group, v->name[0] != '\0' ? " " : "", v->name);
    char *next;
    size_t i;

    for (i = 0; i < cli_verbs_count(v->pos); i++) {
        next = cl_asprintf("%s %s", s, v->pos[i].name);
        free(s);
        s = next;
    }
    return s;
}

/* "  action add  record an action" for every verb of group (all verbs when group is NULL). */
static void list_verbs(FILE *out, const struct cli_verb *verbs, size_t n, const char *group)
{
    struct cli_table *t = cli_table_new(2);
    char *left;
    size_t i;

    for (i = 0; i < n; i++) {
        if (group != NULL && strcmp(verbs[i].group, group) != 0)
            continue;
        left = verb_words(&verbs[i]);
        cli_table_add(t, left, CLI_COLOR_NONE);
        cli_table_add(t, verbs[i].summary, CLI_COLOR_NONE);
        free(left);
    }
    cli_table_print(t, out, false, 0);
    cli_table_free(t);
}

void cli_help_group(FILE *out, const struct cli_verb *verbs, size_t n, const char *group)
{
    fprintf(out, "usage: closeloop %s <verb> [arguments] [options]\n\nverbs:\n", group);
    list_verbs(out, verbs, n, group);
    fprintf(out, "\nsee 'closeloop %s <verb> --help' for each verb's arguments and options.\n",
            group);
}

void cli_help_top(FILE *out, const struct cli_verb *verbs, size_t n)
{
    fputs("usage: closeloop [global options] <group> <verb> [arguments] [options]\n\n"
          "Record postmortem incidents and their follow-up actions, see what is open,\n"
          "overdue or unowned, and keep actions in step with GitHub issues.\n\ncommands:\n",
          out);
    list_verbs(out, verbs, n, NULL);
    fputs("  help [GROUP [VERB]]  this text, a group's verbs, or one verb's options\n", out);
    fputs("  completion bash|zsh  print the bash or zsh completion script\n\n", out);
    list_opts(out, "global options (allowed anywhere)", cli_help_globals, true);
    fputs("\n", out);
    fputs(cli_help_settings, out);
    fputs("\nsee 'closeloop <group> <verb> --help' for each verb's arguments and options.\n", out);
}

/* The verbs a newcomer needs first, shown by a bare "closeloop". */
static const char *const most_used[][2] = {
    {"action", "list"},  {"action", "add"},    {"action", "done"},
    {"incident", "add"}, {"incident", "show"}, {"report", "overdue"},
};

void cli_help_short(FILE *out, const struct cli_verb *verbs, size_t n)
{
    struct cli_table *t = cli_table_new(2);
    const struct cli_verb *v;
    char *left;
    size_t i;

    fputs("usage: closeloop <group> <verb> [arguments] [options]\n\ngroups:", out);
    for (i = 0; i < n; i++) {
        if (i == 0 || strcmp(verbs[i].group, verbs[i - 1].group) != 0)
            fprintf(out, " %s", verbs[i].group);
    }
    fputs("\n\nmost used:\n", out);
    for (i = 0; i < CL_ARRAY_LEN(most_used); i++) {
        v = cli_verbs_find(verbs, n, most_used[i][0], most_used[i][1]);
        if (v == NULL)
            continue;
        left = verb_words(v);
        cli_table_add(t, left, CLI_COLOR_NONE);
        cli_table_add(t, v->summary, CLI_COLOR_NONE);
        free(left);
    }
    cli_table_print(t, out, false, 0);
    cli_table_free(t);
    fputs("\nsee 'closeloop help' for every command, 'closeloop help GROUP [VERB]' for more.\n",
          out);
}
