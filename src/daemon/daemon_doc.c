#include "closeloop/daemon/daemon_doc.h"

#include "closeloop/util/cl.h"
#include "closeloop/util/due.h"
#include "closeloop/util/policy/remind_policy.h"
#include "closeloop/util/policy/review_policy.h"
#include "closeloop/util/roff.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define KEYS_MAX 64 /* keys of one table, more than conf.c has */

const struct daemon_doc_item daemon_doc_verbs[] = {
    {"serve", NULL, "run the service (the default)"},
    {"migrate", NULL, "apply database migrations and exit"},
    {"token create", "--name N --scope read|write|admin [--person HANDLE]",
     "create an API token (that acts as the person); prints it once on stdout"},
    {"token list", NULL, "list tokens and their people (never their values)"},
    {"token revoke", "ID|NAME", "revoke a token"},
    {"check-config", NULL, "validate and print the configuration"},
    {"mail-test", "--to ADDRESS",
     "queue a test message to check the SMTP set-up (the service "
     "sends it; see closeloop mail list)"},
    {"chat-test", "--channel NAME",
     "queue a test message to a [chat.NAME] channel to check its webhook (the service "
     "posts it; see closeloop chat list)"},
    {"man", "8|5", "print the man page closeloopd(8) or closeloopd.ini(5)"},
    {NULL, NULL, NULL},
};

const struct daemon_doc_item daemon_doc_flags[] = {
    {"--config", "FILE", "INI file (default $CLOSELOOP_CONFIG, else the default file if present)"},
    {"--listen", "HOST:PORT", "where to serve HTTP (CLOSELOOP_LISTEN)"},
    {"--database-url", "URL", "PostgreSQL connection string (CLOSELOOP_DATABASE_URL)"},
    {"--log-level", "LEVEL", "error, warn, info or debug (CLOSELOOP_LOG_LEVEL)"},
    {"-h, --help", NULL, "this text"},
    {"--version", NULL, "print the version"},
    {NULL, NULL, NULL},
};

/* What each key means; a unit test checks every key of the tables has a line here. */
static const struct {
    const char *key;
    const char *help;
} key_help[] = {
    {"database_url", "PostgreSQL connection string (libpq URL or key=value); required, never "
                     "logged. Prefer CLOSELOOP_DATABASE_URL from a root-only environment file."},
    {"listen", "where to serve HTTP: HOST:PORT, or [V6]:PORT"},
    {"pool_size", "PostgreSQL connections in the pool"},
    {"max_body", "largest request body in bytes; a larger one is answered 413"},
    {"max_connections", "inbound HTTP connections open at once"},
    {"read_timeout", "seconds a request's headers and body may take to arrive; slower "
                     "connections are closed"},
    {"request_timeout", "seconds one request may take before it is answered 503"},
    {"shutdown_timeout", "seconds SIGTERM or SIGINT waits for requests in flight"},
    {"token_cache_ttl", "seconds a checked API token is trusted without a query (a revoked "
                        "token may work this long); 0 checks every request"},
    {"log_level", "error, warn, info or debug"},
    {"inbox_retention", "seconds a processed webhook delivery is kept (dead letters: 30 days "
                        "longer)"},
    {"sync_stale_after", "/readyz fails when a scope was not reconciled within this many "
                         "seconds"},
    {"figures_interval", "seconds between recomputations of the figures snapshot (the "
                         "unfiltered and per-team figures, the dashboard's counts, the per-team "
                         "gauges of /metrics); of several instances one computes"},
    {"review_interval", "seconds between passes of the review scheduler, which gives each "
                        "incident its review and moves it when the work moves (it also passes "
                        "within a second of a change to an incident's actions)"},
    {"digest_interval", "seconds between passes of the digester, which queues each "
                        "managers' digest that is due (see DIGESTS); of several instances one "
                        "computes"},
    {"remind_interval", "seconds between passes of the reminder job, which reminds owners and "
                        "facilitators of their actions as the [remind] policy says"},
    {"figures_window", "days of closed work the snapshot's time to close and on-time rates "
                       "cover (the API's default days)"},
    {"smtp_url", "the SMTP server, smtp://HOST[:PORT] (STARTTLS per smtp_tls) or "
                 "smtps://HOST[:PORT]; empty: mail is disabled and messages wait queued "
                 "(also url in an [smtp] section, as every smtp_ key)"},
    {"smtp_from", "the sender: ADDRESS or Name <ADDRESS>; its domain ends the Message-IDs"},
    {"smtp_username", "the SMTP AUTH user; empty: no AUTH"},
    {"smtp_password", "the SMTP AUTH password; never logged nor printed"},
    {"smtp_tls", "none, try (STARTTLS when offered) or required"},
    {"smtp_timeout", "seconds one send may take (connect, dialogue, data)"},
    {"smtp_retry_base", "seconds before a transient failure (4xx, no connection, timeout) is "
                        "retried; doubled each attempt, jittered"},
    {"smtp_retry_max", "the longest wait between two attempts"},
    {"smtp_max_attempts", "attempts before a transiently failing message is marked failed"},
    {"smtp_concurrency", "messages one instance sends at once"},
    {"chat_retry_base", "seconds before a chat post that failed transiently (5xx, 408, no "
                        "connection, timeout) is retried; doubled each attempt, jittered"},
    {"chat_retry_max", "the longest back-off between two chat attempts"},
    {"chat_retry_after_max", "the longest wait a 429's Retry-After is obeyed for"},
    {"chat_max_attempts", "attempts before a transiently failing chat message is marked failed"},
    {"chat_concurrency", "chat messages one instance posts at once"},
    {"chat_allow_http_loopback", "true also accepts http://127.0.0.1 chat URLs: for tests "
                                 "only"},
    {"conn.webhook_secret", "the secret the tracker signs its webhook deliveries with"},
    {"conn.scopes", "comma list of what this connection serves (GitHub owners, Jira project "
                    "keys); empty: everything no other connection claims"},
    {"conn.poll_interval", "seconds between two reconciliations of a scope"},
    {"conn.write_interval", "minimum seconds between two mutating requests"},
    {"conn.timeout", "seconds one request to the tracker may take"},
    {"github.api_url", "the API's root; https://HOST/api/v3 for GitHub Enterprise Server"},
    {"github.token", "a token (fine-grained: Issues read and write on the managed "
                     "repositories); or use a GitHub App"},
    {"github.app_id", "the GitHub App's id (Issues: read and write, Metadata: read)"},
    {"github.app_key_file", "the App's private key file (PEM), not readable by others"},
    {"github.app_installation_id", "the App's installation id"},
    {"jira.site", "the site: https://acme.atlassian.net, or https://jira.corp[/context]"},
    {"jira.flavour", "cloud, or dc for Data Center"},
    {"jira.email", "cloud: the account's e-mail"},
    {"jira.api_token", "cloud: the account's API token (Basic auth)"},
    {"jira.pat", "dc: a personal access token (Bearer)"},
    {"jira.issue_type", "the issue type of new issues when the scope names none"},
    {"jira.wont_do", "the resolution, or status, that means won't do"},
    {"jira.create_fields", "JSON of extra fields for new issues, per project: "
                           "{\"OPS\": {\"customfield_10050\": ...}}"},
};

const char *daemon_doc_key_help(const char *key)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(key_help); i++) {
        if (strcmp(key_help[i].key, key) == 0)
            return key_help[i].help;
    }
    return NULL;
}

static void usage_items(FILE *out, const struct daemon_doc_item *items)
{
    char left[96];
    size_t i;

    for (i = 0; items[i].name != NULL; i++) {
        snprintf(left, sizeof(left), "%s%s%s", items[i].name, items[i].args != NULL ? " " : "",
                 items[i].args != NULL ? items[i].args : "");
        if (strlen(left) > 26)
            fprintf(out, "  %s\n  %-26s  %s\n", left, "", items[i].help);
        else
            fprintf(out, "  %-26s  %s\n", left, items[i].help);
    }
}

void daemon_doc_usage(FILE *out, const char *default_config)
{
    fputs("usage: closeloopd [options] [verb]\n\nverbs:\n", out);
    usage_items(out, daemon_doc_verbs);
    fputs("\noptions:\n", out);
    usage_items(out, daemon_doc_flags);
    fprintf(out,
            "\nThe default config file is %s. Every config key can be set as\n"
            "CLOSELOOP_<KEY>; flags beat the environment, which beats the file. See\n"
            "closeloopd.ini(5) (closeloopd man 5) for the keys.\n",
            default_config);
}

static void man_items(FILE *out, const struct daemon_doc_item *items)
{
    size_t i;

    for (i = 0; items[i].name != NULL; i++)
        roff_item(out, items[i].name, items[i].args, items[i].help);
}

static const char man8_tail[] =
    ".SH SIGNALS\n"
    ".TP\n.BR SIGTERM \", \" SIGINT\n"
    "stop accepting, finish the requests in flight (\\fBshutdown_timeout\\fR), exit 0\n"
    ".TP\n.B SIGHUP\n"
    "re-read the file and the environment and apply the keys that may change while running\n"
    ".SH EXIT STATUS\n"
    ".TP\n.B 0\nit worked\n"
    ".TP\n.B 1\na failure; the message is on stderr\n"
    ".TP\n.B 2\na usage or configuration error\n"
    ".SH SEE ALSO\n"
    ".BR closeloopd.ini (5),\n"
    ".BR closeloop (1)\n";

void daemon_doc_man8(FILE *out, const char *default_config)
{
    roff_head(out, "closeloopd", "8", "closeloop manual",
              "the closeloop service: postmortem follow-up actions, synced with GitHub and "
              "Jira");
    fputs(".SH SYNOPSIS\n.B closeloopd\n[\\fIoptions\\fR] [\\fIverb\\fR]\n", out);
    roff_section(out, "DESCRIPTION");
    roff_text(out, "closeloopd serves the closeloop JSON API over HTTP, keeps incidents and "
                   "their actions in PostgreSQL, and syncs actions with GitHub and Jira issues. "
                   "Its verbs also migrate the database and manage API tokens.");
    fputc('\n', out);
    roff_section(out, "VERBS");
    man_items(out, daemon_doc_verbs);
    roff_section(out, "OPTIONS");
    man_items(out, daemon_doc_flags);
    roff_section(out, "ENVIRONMENT");
    roff_item(out, "CLOSELOOP_CONFIG", NULL, "the config file, when --config is not given");
    roff_item(out, "CLOSELOOP_<KEY>", NULL,
              "any key of closeloopd.ini(5), e.g. CLOSELOOP_DATABASE_URL; flags beat the "
              "environment, which beats the file");
    roff_section(out, "FILES");
    roff_item(out, default_config, NULL,
              "the config file read when neither --config nor CLOSELOOP_CONFIG names another "
              "(if it exists)");
    fputs(man8_tail, out);
}

/* "integer 1..64, default 8; reloadable" for one key. */
static void key_facts(FILE *out, const struct conf_doc *d)
{
    fprintf(out, ".br\n%s", d->type);
    if (d->min != 0 || d->max != 0)
        fprintf(out, " %.15g..%.15g", d->min, d->max);
    if (d->def[0] != '\0') {
        fputs("; default \\fB", out);
        roff_text(out, d->def);
        fputs("\\fR", out);
    }
    fputs(d->reloadable ? "; SIGHUP applies it" : "; read at start", out);
    fputs(d->secret ? "; secret: never printed nor logged\n" : "\n", out);
}

/* Every key of a table: name (prefix + key), what it means, its type and default. */
static void key_items(FILE *out, bool conn, const char *prefix)
{
    struct conf_doc docs[KEYS_MAX];
    size_t n = conf_doc_list(docs, KEYS_MAX, conn);
    char name[96];
    char look[96];
    size_t i;

    for (i = 0; i < n && i < KEYS_MAX; i++) {
        snprintf(name, sizeof(name), "%s%s", prefix, docs[i].key);
        snprintf(look, sizeof(look), "%s%s", conn ? "conn." : "", docs[i].key);
        roff_item(out, name, NULL,
                  daemon_doc_key_help(look) ? daemon_doc_key_help(look) : "(undocumented)");
        key_facts(out, &docs[i]);
    }
}

static void tracker_items(FILE *out, const struct conf_tracker *t)
{
    char name[96];
    char look[96];
    char upper[32];
    const char *help;
    size_t i;

    for (i = 0; t->name[i] != '\0' && i + 1 < sizeof(upper); i++)
        upper[i] = (char)toupper((unsigned char)t->name[i]);
    upper[i] = '\0';
    fprintf(out, ".SS %s\n", t->name);
    fprintf(out, "Keys of a %s connection: \\fB%s_\\fR\\fIkey\\fR for the default one (\\fB",
            t->name, t->name);
    fprintf(out,
            "CLOSELOOP_%s_\\fR\\fIKEY\\fR), \\fIkey\\fR inside a \\fB[%s.\\fR\\fINAME\\fR\\fB]"
            "\\fR section for another. The neutral keys above, and:\n",
            upper, t->name);
    for (i = 0; i < t->nkeys; i++) {
        snprintf(name, sizeof(name), "%s_%s", t->name, t->keys[i].key);
        snprintf(look, sizeof(look), "%s.%s", t->name, t->keys[i].key);
        help = daemon_doc_key_help(look);
        roff_item(out, name, NULL, help != NULL ? help : "(undocumented)");
        fputs(".br\ntext", out);
        if (t->keys[i].def[0] != '\0') {
            fputs("; default \\fB", out);
            roff_text(out, t->keys[i].def);
            fputs("\\fR", out);
        }
        fputs(t->keys[i].secret ? "; secret: never printed nor logged\n" : "\n", out);
    }
}

static const char man5_format[] =
    ".SH FORMAT\n"
    "Lines \\fIkey\\fR \\fB=\\fR \\fIvalue\\fR; lines starting with \\fB#\\fR or \\fB;\\fR are "
    "comments, as is a \\fB;\\fR after a value. The keys of closeloopd stand first or in a "
    "\\fB[closeloopd]\\fR section; a \\fB[\\fR\\fItracker\\fR\\fB.\\fR\\fINAME\\fR\\fB]\\fR "
    "section adds a connection to a tracker. Every key can also be set as "
    "\\fBCLOSELOOP_\\fR\\fIKEY\\fR in the environment, and some by a flag of closeloopd(8); "
    "flags beat the environment, which beats the file. A file that holds a secret must not "
    "be readable by every user. Check a file with \\fBcloseloopd \\-\\-config\\fR \\fIFILE\\fR "
    "\\fBcheck\\-config\\fR.\n";

/* The due-date policy's keys (closeloop/util/due.h), with the built-in defaults. */
static void due_items(FILE *out)
{
    struct due_policy p;
    char name[24];
    char help[96];
    int days;
    int i;

    roff_section(out, "DUE DATES");
    roff_text(out, "A [due] section (P1 = 14d), or the keys due.P0 ... due.P4 at the top level, "
                   "sets the due-date policy: the due date an action created without one gets, in "
                   "days (14d) or weeks (2w) after its creation, 0 to 3650 days, or none. A kind's "
                   "key (corrective.P1 in [due], due.preventive.P1 at the top level) beats its "
                   "priority's. The action's history records the date as the due policy's.");
    fputc('\n', out);
    due_policy_init(&p);
    for (i = 0; i < DUE_PRIORITIES; i++) {
        snprintf(name, sizeof(name), "due.P%d", i);
        snprintf(help, sizeof(help), "the due date of a P%d action created without one", i);
        roff_item(out, name, NULL, help);
        days = due_policy_days(&p, "corrective", name + 4);
        if (days == DUE_NONE)
            fputs(".br\nduration; default \\fBnone\\fR; SIGHUP applies it\n", out);
        else
            fprintf(out, ".br\nduration; default \\fB%dd\\fR; SIGHUP applies it\n", days);
    }
}

/* The [chat.NAME] sections (closeloop/util/policy/chat_conf.h). */
static void chat_items(FILE *out)
{
    roff_section(out, "CHAT CHANNELS");
    roff_text(out, "A [chat.NAME] section is a Slack or Microsoft Teams incoming webhook that "
                   "messages queued for the channel NAME are posted to. SIGHUP applies changed "
                   "sections.");
    fputc('\n', out);
    roff_item(out, "kind", NULL, "slack or teams; required");
    roff_item(out, "url", NULL,
              "the webhook URL, https:// only; a secret: never logged nor printed; required");
    roff_item(out, "timeout", NULL, "seconds one post may take, 0.1..600; default 10");
    roff_item(out, "card", NULL,
              "teams only: adaptive (an Adaptive Card message, what a Teams Workflows webhook "
              "takes; the default) or messagecard (the MessageCard of a legacy Office 365 "
              "connector)");
}

/* The review policy's keys (closeloop/util/policy/review_policy.h), with the built-in defaults. */
static void review_items(FILE *out)
{
    const struct review_policy_doc *d;
    char name[48];

    roff_section(out, "REVIEWS");
    roff_text(out, "A [review] section sets when each incident's review is scheduled: the latest "
                   "open due date plus grace, bounded to min..max days after the incident started, "
                   "on a working day that is not a holiday, at the facilitator's hour in the "
                   "facilitator's time zone. A [review.TEAM] section overrides single keys for the "
                   "team of the facilitator. The keys can also be set as review.KEY and "
                   "review.TEAM.KEY. SIGHUP applies them.");
    fputc('\n', out);
    for (d = review_policy_docs(); d->key != NULL; d++) {
        snprintf(name, sizeof(name), "review.%s", d->key);
        roff_item(out, name, NULL, d->what);
        fprintf(out, ".br\ndefault \\fB%s\\fR\n", d->def[0] != '\0' ? d->def : "(none)");
    }
}

/* The digests' keys (closeloop/util/policy/digest_policy.h), with the built-in defaults. */
static void digest_items(FILE *out)
{
    roff_section(out, "DIGESTS");
    roff_text(out, "A [digest] section sets when the managers' digests go out, in each "
                   "recipient's time zone; [digest.extra.NAME] adds a recipient, "
                   "[digest.team.NAME] names a team's chat channel. The keys can also be set as "
                   "digest.KEY, digest.extra.NAME.KEY and digest.team.NAME.KEY. SIGHUP applies "
                   "them; a bad value stops start-up with the file and line.");
    fputc('\n', out);
    roff_item(out, "digest.cadence", NULL,
              "daily, weekly, monthly or off: everyone's default (a person's digest_cadence "
              "beats it)");
    fputs(".br\ndefault \\fBweekly\\fR\n", out);
    roff_item(out, "digest.day", NULL, "the weekly digest's day: mon ... sun (monthly: the 1st)");
    fputs(".br\ndefault \\fBmon\\fR\n", out);
    roff_item(out, "digest.hour", NULL, "the hour it goes out, 0 to 23, in the recipient's zone");
    fputs(".br\ndefault \\fB9\\fR\n", out);
    roff_item(out, "digest.extra.NAME.to", NULL, "an extra recipient's address (required)");
    roff_item(out, "digest.extra.NAME.scope", NULL, "all (default) or team:TEAM");
    roff_item(out, "digest.extra.NAME.cadence", NULL, "default: digest.cadence");
    roff_item(out, "digest.extra.NAME.timezone", NULL, "an IANA zone; default UTC");
    roff_item(out, "digest.extra.NAME.chat", NULL, "a chat channel the digest also goes to");
    roff_item(out, "digest.team.NAME.chat", NULL,
              "a chat channel the team manager's digest also goes to");
}

/* The reminder policy's keys (closeloop/util/policy/remind_policy.h), with the built-in defaults.
 */
static void remind_items(FILE *out)
{
    const struct remind_policy_doc *d;
    char name[48];

    roff_section(out, "REMINDERS");
    roff_text(out, "A [remind] section sets when owners are reminded of their actions: before the "
                   "due date, again while overdue, the facilitator after some days overdue; at "
                   "most a budget of messages per person per ISO week, never in quiet hours or "
                   "on other than working days in the person's time zone. A [remind.TEAM] "
                   "section overrides single keys for the team of the person reminded. The keys "
                   "can also be set as remind.KEY and remind.TEAM.KEY. SIGHUP applies them.");
    fputc('\n', out);
    for (d = remind_policy_docs(); d->key != NULL; d++) {
        snprintf(name, sizeof(name), "remind.%s", d->key);
        roff_item(out, name, NULL, d->what);
        fprintf(out, ".br\ndefault \\fB%s\\fR\n", d->def);
    }
}

void daemon_doc_man5(FILE *out, const char *default_config,
                     const struct conf_tracker *const *trackers, size_t n)
{
    size_t i;

    roff_head(out, "closeloopd.ini", "5", "closeloop manual", "closeloopd's configuration file");
    fputs(".SH SYNOPSIS\n", out);
    roff_text(out, default_config);
    fputc('\n', out);
    fputs(man5_format, out);
    roff_section(out, "KEYS");
    key_items(out, false, "");
    roff_section(out, "TRACKER CONNECTIONS");
    roff_text(out, "Every connection, whatever its tracker, has these keys (with the tracker's "
                   "prefix for its default connection, e.g. github_scopes):");
    fputc('\n', out);
    key_items(out, true, "");
    for (i = 0; i < n; i++)
        tracker_items(out, trackers[i]);
    due_items(out);
    review_items(out);
    chat_items(out);
    digest_items(out);
    remind_items(out);
    fputs(".SH SEE ALSO\n.BR closeloopd (8),\n.BR closeloop (1)\n", out);
}
