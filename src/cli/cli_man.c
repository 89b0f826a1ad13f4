#include "closeloop/cli/cli_man.h"

#include "closeloop/util/cl.h"
#include "closeloop/util/roff.h"
#include "closeloop/cli/cli_conf.h"
#include "closeloop/cli/cli_help.h"

#include <stdlib.h>
#include <string.h>

static const char synopsis[] =
    ".SH SYNOPSIS\n"
    ".B closeloop\n"
    "[\\fIglobal options\\fR] \\fIgroup\\fR \\fIverb\\fR [\\fIarguments\\fR] [\\fIoptions\\fR]\n"
    ".br\n"
    ".B closeloop help\n"
    "[\\fIgroup\\fR [\\fIverb\\fR]]\n"
    ".br\n"
    ".B closeloop completion\n"
    "\\fBbash\\fR|\\fBzsh\\fR\n";

static const char description[] =
    "closeloop is the command-line client of closeloopd(8). It records postmortem incidents "
    "and their follow-up actions, shows what is open, overdue or unowned, and keeps actions "
    "in step with GitHub and Jira issues. Every command is a group and a verb; each checks "
    "its arguments before anything is sent, so a usage error changes nothing.";

static const char dates[] =
    ".SH DATES AND TIMES\n"
    "A \\fIDATE\\fR is \\fBYYYY\\-MM\\-DD\\fR, \\fBtoday\\fR, \\fBtomorrow\\fR, "
    "\\fByesterday\\fR, \\fB+\\fR\\fIN\\fR\\fBd\\fR (days ahead), \\fB+\\fR\\fIN\\fR\\fBw\\fR "
    "(weeks ahead) or a weekday name, full or three letters (\\fBfri\\fR: the next Friday "
    "after today), in any case, counted in the viewer's time zone (\\fBTZ\\fR). Months are "
    "refused as ambiguous: count days or weeks (\\fB+30d\\fR, \\fB+4w\\fR). A due date in "
    "the past is sent with a warning.\n"
    ".PP\n"
    "A \\fITIME\\fR is RFC 3339 with an offset (\\fB2026\\-11\\-18T09:30:00Z\\fR), sent as "
    "typed, or \\fBYYYY\\-MM\\-DD\\fR (midnight) or \\fBYYYY\\-MM\\-DD HH:MM\\fR in the "
    "viewer's time zone, sent with that zone's offset; a local time that a daylight-saving "
    "change skips is refused.\n"
    ".PP\n"
    "Words such as priorities (\\fBp1\\fR), severities (\\fBsev2\\fR), kinds and statuses "
    "(\\fBIN_PROGRESS\\fR, \\fBin\\-progress\\fR) are accepted in any case.\n";

static const char tail[] =
    ".SH ENVIRONMENT\n"
    ".TP\n.B CLOSELOOP_URL\nthe service URL, when \\fB\\-\\-url\\fR is not given\n"
    ".TP\n.B CLOSELOOP_TOKEN\nthe API token, when \\fB\\-\\-token\\fR is not given\n"
    ".TP\n.B CLOSELOOP_CONFIG\nthe config file to read instead of the default one\n"
    ".TP\n.B TZ\nthe viewer's time zone: dates, local times and the times in tables\n"
    ".TP\n.B NO_COLOR\nwhen set, tables are not coloured\n"
    ".SH FILES\n"
    ".TP\n.I ~/.config/closeloop/config\n"
    "lines \\fBurl = \\fR\\fIURL\\fR and \\fBtoken = \\fR\\fITOKEN\\fR (mode 0600)\n"
    ".SH EXIT STATUS\n"
    ".TP\n.B 0\nit worked\n"
    ".TP\n.B 1\nthe server refused the request, or a doctor check failed\n"
    ".TP\n.B 2\nusage error: nothing was sent\n"
    ".TP\n.B 3\nthe service is unreachable or failing, or the token was refused\n"
    ".SH SEE ALSO\n"
    ".BR closeloopd (8),\n"
    ".BR closeloopd.ini (5)\n";

/* "closeloop action assign" in bold, then the positionals in italics, as one .TP tag. */
static void verb_tag(FILE *out, const struct cli_verb *v)
{
    size_t i;

    fputs(".TP\n\\fBcloseloop ", out);
    roff_text(out, v->group);
    if (v->name[0] != '\0') { /* "" for a group that is a command alone (dashboard) */
        fputc(' ', out);
        roff_text(out, v->name);
    }
    fputs("\\fR", out);
    for (i = 0; i < cli_verbs_count(v->pos); i++) {
        fputs(" \\fI", out);
        roff_text(out, v->pos[i].name);
        fputs("\\fR", out);
    }
    fputc('\n', out);
}

/* The options (or positionals) of a verb, indented under it. */
static void opt_items(FILE *out, const struct cli_opt *list, bool dashes)
{
    char *tag;
    char *body;
    size_t i;

    for (i = 0; i < cli_verbs_count(list); i++) {
        tag = cl_asprintf("%s%s", dashes ? "--" : "", list[i].name);
        body = cl_asprintf("%s%s", list[i].help, list[i].required && dashes ? " (required)" : "");
        roff_item(out, tag, dashes ? list[i].meta : NULL, body);
        free(tag);
        free(body);
    }
}

static void verb_entry(FILE *out, const struct cli_verb *v)
{
    verb_tag(out, v);
    roff_text(out, v->summary);
    fputc('\n', out);
    if (cli_verbs_count(v->pos) + cli_verbs_count(v->opts) == 0)
        return;
    fputs(".RS\n", out);
    opt_items(out, v->pos, false);
    opt_items(out, v->opts, true);
    fputs(".RE\n", out);
}

void cli_man_page(FILE *out, const struct cli_verb *verbs, size_t n)
{
    size_t i;

    roff_head(out, "closeloop", "1", "closeloop manual",
              "track postmortem follow-up actions from the command line");
    fputs(synopsis, out);
    roff_section(out, "DESCRIPTION");
    roff_text(out, description);
    fputc('\n', out);
    roff_section(out, "GLOBAL OPTIONS");
    roff_text(out, "Allowed anywhere on the line. Flags beat the environment, which beats the "
                   "config file; the default URL is " CLI_CONF_DEFAULT_URL ".");
    fputc('\n', out);
    opt_items(out, cli_help_globals, true);
    roff_section(out, "COMMANDS");
    roff_item(out, "closeloop help", "[GROUP [VERB]]",
              "the same text as --help: every command, a group's verbs, or one verb");
    roff_item(out, "closeloop completion", "bash|zsh",
              "print the completion script for the shell; it completes verbs, options, their "
              "values, and person handles, team names, incident keys and action ids from "
              "the service");
    for (i = 0; i < n; i++) {
        if (i == 0 || strcmp(verbs[i].group, verbs[i - 1].group) != 0)
            fprintf(out, ".SS %s\n", verbs[i].group); /* group names have no hyphen */
        verb_entry(out, &verbs[i]);
    }
    fputs(dates, out);
    fputs(tail, out);
}
