#include "closeloop/sync/jira_map.h"

#include "closeloop/sync/jira_markup.h"
#include "closeloop/util/buf.h"
#include "closeloop/util/utf8.h"
#include "closeloop/util/valid.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define JM_SECTION_MARK "kept in step by closeloop"
#define JM_WIKI_RULE    "----"
#define JM_TYPE_MAX     60

/* A member that must be a string: NULL when absent or of another type. Nothing read
 * from Jira is used before its type is checked. */
static const char *jm_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- names ---- */

bool jira_map_project_valid(const char *s)
{
    size_t i;

    if (s == NULL || !(s[0] >= 'A' && s[0] <= 'Z'))
        return false;
    for (i = 1; s[i] != '\0'; i++) {
        if (i >= 255 ||
            !(isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return false;
    }
    return true;
}

bool jira_map_scope_split(const char *scope, char *project, size_t plen, char *type, size_t tlen)
{
    const char *slash = scope != NULL ? strchr(scope, '/') : NULL;
    size_t pn = slash != NULL ? (size_t)(slash - scope) : (scope != NULL ? strlen(scope) : 0);
    char key[256];

    if (scope == NULL || pn == 0 || pn >= sizeof(key))
        return false;
    memcpy(key, scope, pn);
    key[pn] = '\0';
    if (!jira_map_project_valid(key))
        return false;
    if (slash != NULL &&
        (slash[1] == '\0' || strlen(slash + 1) > JM_TYPE_MAX || strchr(slash + 1, '/') != NULL ||
         !utf8_printable(slash + 1, strlen(slash + 1))))
        return false;
    if (project != NULL)
        snprintf(project, plen, "%s", key);
    if (type != NULL)
        snprintf(type, tlen, "%s", slash != NULL ? slash + 1 : "");
    return true;
}

bool jira_map_key_valid(const char *s)
{
    const char *dash = s != NULL ? strrchr(s, '-') : NULL;
    char project[256];
    size_t n;
    size_t i;

    if (dash == NULL || (size_t)(dash - s) >= sizeof(project))
        return false;
    memcpy(project, s, (size_t)(dash - s));
    project[dash - s] = '\0';
    n = strlen(dash + 1);
    if (!jira_map_project_valid(project) || n == 0 || n > 10 || dash[1] == '0')
        return false;
    for (i = 0; i < n; i++)
        if (!isdigit((unsigned char)dash[1 + i]))
            return false;
    return true;
}

void jira_map_marker(char *out, size_t n, const char *instance, long long id)
{
    snprintf(out, n, "closeloop-%.8s-%lld", instance != NULL ? instance : "", id);
}

/* ---- time ---- */

static bool jm_digits(const char *s, int n, int *out)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* The zone suffix: "Z", "+HHMM" or "+HH:MM" -> seconds east of UTC. */
static bool jm_offset(const char *s, long *out)
{
    int h;
    int m;
    int sign;

    if (strcmp(s, "Z") == 0) {
        *out = 0;
        return true;
    }
    if ((s[0] != '+' && s[0] != '-') || !jm_digits(s + 1, 2, &h))
        return false;
    sign = s[0] == '-' ? -1 : 1;
    s += 3;
    if (*s == ':')
        s++;
    if (!jm_digits(s, 2, &m) || s[2] != '\0' || h > 23 || m > 59)
        return false;
    *out = sign * (h * 3600L + m * 60L);
    return true;
}

bool jira_map_time(double *out, const char *s)
{
    struct tm tm = {0};
    int ms = 0;
    int frac_len = 0;
    long off;
    const char *p;

    if (s == NULL || strlen(s) < 20 || !jm_digits(s, 4, &tm.tm_year) || s[4] != '-' ||
        !jm_digits(s + 5, 2, &tm.tm_mon) || s[7] != '-' || !jm_digits(s + 8, 2, &tm.tm_mday) ||
        s[10] != 'T' || !jm_digits(s + 11, 2, &tm.tm_hour) || s[13] != ':' ||
        !jm_digits(s + 14, 2, &tm.tm_min) || s[16] != ':' || !jm_digits(s + 17, 2, &tm.tm_sec))
        return false;
    p = s + 19;
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p) && frac_len < 9; p++, frac_len++)
            ms = frac_len < 3 ? ms * 10 + (*p - '0') : ms;
        if (frac_len == 0 || isdigit((unsigned char)*p))
            return false;
        for (; frac_len < 3; frac_len++)
            ms *= 10;
    }
    if (!jm_offset(p, &off) || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (double)timegm(&tm) - (double)off + ms / 1000.0;
    return true;
}

bool jira_map_rfc3339(char *out, size_t n, const char *s)
{
    double t;
    time_t secs;
    struct tm tm;
    char base[32];

    if (!jira_map_time(&t, s))
        return false;
    secs = (time_t)floor(t);
    gmtime_r(&secs, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", base, (int)lround((t - (double)secs) * 1000.0) % 1000);
    return true;
}

void jira_map_jql_time(char *out, size_t n, double t, const char *zone)
{
    const char *old = getenv("TZ");
    char *saved = old != NULL ? cl_strdup(old) : NULL;
    time_t secs = (time_t)floor(t);
    struct tm tm;

    setenv("TZ", zone != NULL && zone[0] != '\0' ? zone : "UTC", 1);
    tzset();
    localtime_r(&secs, &tm);
    if (saved != NULL)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    strftime(out, n, "%Y/%m/%d %H:%M", &tm);
}

/* ---- the description: the owner's text, then closeloop's section after a rule ---- */

/* The text of an ADF node and its descendants, concatenated (for recognising the section). */
static void jm_adf_text(const json_t *node, struct buf *b)
{
    const json_t *content = json_object_get(node, "content");
    const char *text = jm_str(node, "text");
    size_t i;
    json_t *child;

    if (text != NULL)
        buf_puts(b, text);
    if (!json_is_array(content))
        return;
    json_array_foreach (content, i, child) {
        if (json_is_object(child))
            jm_adf_text(child, b);
    }
}

static bool jm_adf_is_section(const json_t *node)
{
    struct buf b;
    bool yes;

    if (!json_is_object(node) ||
        strcmp(jm_str(node, "type") ? jm_str(node, "type") : "", "paragraph") != 0)
        return false;
    buf_init(&b);
    jm_adf_text(node, &b);
    yes = b.len > 0 && strstr(b.data, JM_SECTION_MARK) != NULL;
    buf_dispose(&b);
    return yes;
}

/* Markdown of an ADF doc without closeloop's trailing section; NULL with err when the
 * doc is not a doc. */
static char *jm_md_from_adf_doc(const json_t *doc, struct cl_err *err)
{
    const json_t *content = json_object_get(doc, "content");
    size_t n = json_array_size(content);
    json_t *owner;
    const json_t *prev;
    char *md;

    if (!json_is_object(doc) || !json_is_array(content)) {
        cl_fail(err, CL_EINVAL, "description is not an ADF document");
        return NULL;
    }
    owner = json_array();
    json_array_extend(owner, (json_t *)content);
    if (n >= 1 && jm_adf_is_section(json_array_get(content, n - 1))) {
        json_array_remove(owner, n - 1);
        prev = n >= 2 ? json_array_get(content, n - 2) : NULL;
        if (prev != NULL && jm_str(prev, "type") != NULL &&
            strcmp(jm_str(prev, "type"), "rule") == 0)
            json_array_remove(owner, n - 2);
    }
    md = jira_markup_md_from_adf(owner, err);
    json_decref(owner);
    return md;
}

/* Markdown of a wiki text without closeloop's trailing section. */
static char *jm_md_from_wiki(const char *wiki)
{
    const char *mark = strstr(wiki, JM_SECTION_MARK);
    const char *cut = NULL;
    const char *p;
    char *owner;
    char *md;

    for (p = wiki; mark != NULL && (p = strstr(p, JM_WIKI_RULE)) != NULL; p++) {
        if (p < mark && (p == wiki || p[-1] == '\n'))
            cut = p;
    }
    owner = cl_strndup(wiki, cut != NULL ? (size_t)(cut - wiki) : strlen(wiki));
    md = jira_markup_md_from_wiki(owner);
    free(owner);
    return md;
}

static void jm_rtrim(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

/* Sets "description" from the issue's, or "description_unknown" when it is not in the
 * flavour's form. False with err when its value is of no documented type. */
static bool jm_snap_description(json_t *snap, const json_t *d, const struct jira_map_ctx *c,
                                struct cl_err *err)
{
    char *md = NULL;

    if (d == NULL || json_is_null(d)) {
        json_object_set_new(snap, "description", json_string(""));
        return true;
    }
    if (json_is_string(d) && c->flavour == JIRA_DC)
        md = jm_md_from_wiki(json_string_value(d));
    else if (json_is_object(d) && c->flavour == JIRA_CLOUD)
        md = jm_md_from_adf_doc(d, err);
    else if (json_is_string(d) || json_is_object(d)) {
        json_object_set_new(snap, "description_unknown", json_true());
        return true;
    } else {
        cl_fail(err, CL_EINVAL, "description is neither text nor a document");
        return false;
    }
    if (md == NULL)
        return false;
    jm_rtrim(md);
    json_object_set_new(snap, "description", json_string(md));
    free(md);
    return true;
}

/* closeloop's section as one line of Markdown. */
static char *jm_section_md(const json_t *action)
{
    const char *inc = jm_str(action, "incident");
    const char *pm = jm_str(action, "postmortem_url");
    const char *kind = jm_str(action, "kind");
    struct buf b;

    buf_init(&b);
    buf_printf(&b, "Postmortem: %s", inc != NULL ? inc : "?");
    if (pm != NULL)
        buf_printf(&b, " ([postmortem](%s))", pm);
    buf_printf(&b, " · %s action, " JM_SECTION_MARK ".", kind != NULL ? kind : "follow-up");
    return buf_steal(&b, NULL);
}

json_t *jira_map_description(const json_t *action, const struct jira_map_ctx *c)
{
    const char *desc = jm_str(action, "description");
    char *owner = cl_strdup(desc != NULL ? desc : "");
    char *section = jm_section_md(action);
    char *md;
    json_t *out;

    jm_rtrim(owner);
    md = cl_asprintf("%s%s---\n\n%s\n", owner, owner[0] != '\0' ? "\n\n" : "", section);
    if (c->flavour == JIRA_CLOUD) {
        out = jira_markup_adf(md);
    } else {
        char *wiki = jira_markup_wiki(md);

        out = json_string(wiki);
        free(wiki);
    }
    free(md);
    free(section);
    free(owner);
    return out;
}

/* ---- comments ---- */

/* The visible line that marks a comment as closeloop's (ADF and wiki have no hidden text). */
static char *jm_comment_mark(const char *marker)
{
    return cl_asprintf("closeloop ref %s", marker);
}

/* An ADF paragraph holding one text node. */
static json_t *jm_adf_para(const char *text, bool em)
{
    json_t *node = json_pack("{s:s, s:s}", "type", "text", "text", text);

    if (em)
        json_object_set_new(node, "marks", json_pack("[{s:s}]", "type", "em"));
    return json_pack("{s:s, s:[o]}", "type", "paragraph", "content", node);
}

/* Cloud: the mention node in front of the first paragraph (a paragraph of its own when the
 * body does not start with one). */
static void jm_adf_mention(json_t *blocks, const char *account)
{
    json_t *first = json_array_get(blocks, 0);
    json_t *content = json_object_get(first, "content");
    json_t *mention = json_pack("{s:s, s:{s:s}}", "type", "mention", "attrs", "id", account);
    json_t *space = json_pack("{s:s, s:s}", "type", "text", "text", " ");

    const char *type = jm_str(first, "type");

    if (json_is_array(content) && type != NULL && strcmp(type, "paragraph") == 0) {
        json_array_insert_new(content, 0, space);
        json_array_insert_new(content, 0, mention);
        return;
    }
    json_decref(space);
    json_array_insert_new(blocks, 0,
                          json_pack("{s:s, s:[o]}", "type", "paragraph", "content", mention));
}

json_t *jira_map_comment(const struct provider_comment *cm, const struct jira_map_ctx *c)
{
    const char *account = jm_str(cm->mention, "jira_account_id");
    const char *name = jm_str(cm->mention, "jira_name");
    char *mark = jm_comment_mark(cm->marker);
    json_t *body;

    if (c->flavour == JIRA_CLOUD) {
        json_t *blocks = jira_markup_adf_blocks(cm->body);

        if (account != NULL && account[0] != '\0')
            jm_adf_mention(blocks, account);
        json_array_append_new(blocks, jm_adf_para(mark, true));
        body = json_pack("{s:s, s:i, s:o}", "type", "doc", "version", 1, "content", blocks);
    } else {
        char *wiki = jira_markup_wiki(cm->body);
        /* [~name] mentions a Data Center user; names with brackets cannot be written */
        bool at = name != NULL && name[0] != '\0' && strpbrk(name, "[]|\n") == NULL;
        char *text = cl_asprintf("%s%s%s%s\n\n_%s_", at ? "[~" : "", at ? name : "", at ? "] " : "",
                                 wiki, mark);

        body = json_string(text);
        free(text);
        free(wiki);
    }
    free(mark);
    return json_pack("{s:o}", "body", body);
}

/* True when hay holds mark not followed by another marker character (so "...-4" is not
 * found in "...-42"). */
static bool jm_has_mark(const char *hay, const char *mark)
{
    size_t n = strlen(mark);
    const char *p = hay;

    while (p != NULL && (p = strstr(p, mark)) != NULL) {
        char next = p[n];

        if (!isalnum((unsigned char)next) && next != '-')
            return true;
        p += n;
    }
    return false;
}

bool jira_map_comment_has(const json_t *comment, const char *marker)
{
    const json_t *body = json_object_get(comment, "body");
    char *mark = jm_comment_mark(marker);
    char *text = json_is_string(body) ? NULL : json_dumps(body, JSON_COMPACT);
    const char *hay = json_is_string(body) ? json_string_value(body) : text;
    bool found = hay != NULL && jm_has_mark(hay, mark);

    free(text);
    free(mark);
    return found;
}

/* ---- issues as snapshots ---- */

/* "open", "in_progress", "done" or "wont_do" for a status category and resolution. */
static const char *jm_status_of(const char *category, const char *resolution, const char *status,
                                const struct jira_map_ctx *c)
{
    bool wont = c->wont_do != NULL && c->wont_do[0] != '\0' &&
                ((resolution != NULL && strcasecmp(resolution, c->wont_do) == 0) ||
                 (status != NULL && strcasecmp(status, c->wont_do) == 0));

    if (strcmp(category, "done") == 0)
        return wont ? "wont_do" : "done";
    return strcmp(category, "indeterminate") == 0 ? "in_progress" : "open";
}

/* The status member: {name, id, statusCategory {key}}; false with err when not. */
static bool jm_snap_status(json_t *snap, const json_t *f, const struct jira_map_ctx *c,
                           struct cl_err *err)
{
    const json_t *st = json_object_get(f, "status");
    const char *cat = jm_str(json_object_get(st, "statusCategory"), "key");
    const json_t *res = json_object_get(f, "resolution");
    const char *rname = jm_str(res, "name");

    if (!json_is_object(st) || cat == NULL) {
        cl_fail(err, CL_EINVAL, "issue status has no statusCategory.key");
        return false;
    }
    if (res != NULL && !json_is_null(res) && rname == NULL) {
        cl_fail(err, CL_EINVAL, "issue resolution is not an object with a name");
        return false;
    }
    json_object_set_new(snap, "status",
                        json_string(jm_status_of(cat, rname, jm_str(st, "name"), c)));
    json_object_set_new(snap, "category", json_string(cat));
    json_object_set_new(snap, "status_id", json_string(jm_str(st, "id") ? jm_str(st, "id") : ""));
    json_object_set_new(snap, "resolution", rname != NULL ? json_string(rname) : json_null());
    return true;
}

/* assignees: [accountId] on Cloud, [name] on Data Center; [] when unassigned. */
static bool jm_snap_assignee(json_t *snap, const json_t *f, const struct jira_map_ctx *c,
                             struct cl_err *err)
{
    const json_t *a = json_object_get(f, "assignee");
    const char *who = jm_str(a, c->flavour == JIRA_CLOUD ? "accountId" : "name");
    json_t *list = json_array();

    if (a != NULL && !json_is_null(a) && who == NULL) {
        json_decref(list);
        cl_fail(err, CL_EINVAL, "issue assignee has no %s",
                c->flavour == JIRA_CLOUD ? "accountId" : "name");
        return false;
    }
    if (who != NULL)
        json_array_append_new(list, json_string(who));
    json_object_set_new(snap, "assignees", list);
    return true;
}

/* labels (strings only) and the action of this instance's marker label. */
static bool jm_snap_labels(json_t *snap, const json_t *f, const struct jira_map_ctx *c,
                           struct cl_err *err)
{
    const json_t *labels = json_object_get(f, "labels");
    char prefix[32];
    long long marker = 0;
    json_t *out = json_array();
    size_t i;
    json_t *v;

    if (labels != NULL && !json_is_null(labels) && !json_is_array(labels)) {
        json_decref(out);
        cl_fail(err, CL_EINVAL, "issue labels is not an array");
        return false;
    }
    snprintf(prefix, sizeof(prefix), "closeloop-%.8s-", c->instance != NULL ? c->instance : "");
    json_array_foreach (labels, i, v) {
        if (!json_is_string(v))
            continue;
        json_array_append(out, v);
        if (strncmp(json_string_value(v), prefix, strlen(prefix)) == 0)
            marker = strtoll(json_string_value(v) + strlen(prefix), NULL, 10);
    }
    json_object_set_new(snap, "labels", out);
    json_object_set_new(snap, "marker_action", json_integer(marker));
    return true;
}

/* id, key, project, updated, summary, due date: the members every issue has. */
static bool jm_snap_core(json_t *snap, const json_t *issue, const json_t *f,
                         const struct jira_map_ctx *c, struct cl_err *err)
{
    const char *id = jm_str(issue, "id");
    const char *key = jm_str(issue, "key");
    const char *summary = jm_str(f, "summary");
    const char *project = jm_str(json_object_get(f, "project"), "key");
    const json_t *due = json_object_get(f, "duedate");
    char updated[40];
    char scope[256];

    if (id == NULL || id[0] == '\0' || strspn(id, "0123456789") != strlen(id) || strlen(id) > 20)
        return cl_fail(err, CL_EINVAL, "issue id is not a numeric string"), false;
    if (!jira_map_key_valid(key))
        return cl_fail(err, CL_EINVAL, "issue key is not a Jira issue key"), false;
    if (summary == NULL)
        return cl_fail(err, CL_EINVAL, "issue summary is not a string"), false;
    if (!jira_map_rfc3339(updated, sizeof(updated), jm_str(f, "updated")))
        return cl_fail(err, CL_EINVAL, "issue updated is not a Jira time"), false;
    if (due != NULL && !json_is_null(due) && !valid_date(json_string_value(due)))
        return cl_fail(err, CL_EINVAL, "issue duedate is not a date"), false;
    snprintf(scope, sizeof(scope), "%.*s", (int)(strrchr(key, '-') - key), key);
    json_object_set_new(snap, "remote_id", json_string(id));
    json_object_set_new(snap, "key", json_string(key));
    json_object_set_new(snap, "scope",
                        json_string(jira_map_project_valid(project) ? project : scope));
    json_object_set_new(snap, "url", json_sprintf("%s/browse/%s", c->site, key));
    json_object_set_new(snap, "updated_at", json_string(updated));
    json_object_set_new(snap, "title", json_string(summary));
    json_object_set_new(snap, "due_on",
                        due != NULL && !json_is_null(due) ? json_incref((json_t *)due)
                                                          : json_null());
    return true;
}

json_t *jira_map_snapshot(const json_t *issue, const struct jira_map_ctx *c, struct cl_err *err)
{
    const json_t *f = json_object_get(issue, "fields");
    json_t *snap = json_object();

    if (!json_is_object(issue) || !json_is_object(f)) {
        cl_fail(err, CL_EINVAL, "not an issue: no fields object");
        goto fail;
    }
    if (!jm_snap_core(snap, issue, f, c, err) || !jm_snap_status(snap, f, c, err) ||
        !jm_snap_assignee(snap, f, c, err) || !jm_snap_labels(snap, f, c, err) ||
        !jm_snap_description(snap, json_object_get(f, "description"), c, err))
        goto fail;
    return snap;
fail:
    json_decref(snap);
    return NULL;
}

/* ---- requests ---- */

static size_t jm_chars(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool jm_summary_ok(const char *title, struct cl_err *err)
{
    size_t n = title != NULL ? jm_chars(title) : 0;

    if (title == NULL || n == 0)
        return cl_fail(err, CL_EINVAL, "the action has no title"), false;
    if (n > JIRA_MAP_SUMMARY_MAX)
        return cl_fail(err, CL_EINVAL,
                       "the title is %zu characters; a Jira summary holds at most %d", n,
                       JIRA_MAP_SUMMARY_MAX),
               false;
    return true;
}

/* The owner's account on this flavour, or NULL (no owner, or none mapped). */
static const char *jm_owner_account(const json_t *local, const struct jira_map_ctx *c)
{
    return jm_str(local, c->flavour == JIRA_CLOUD ? "owner_jira_account_id" : "owner_jira_name");
}

static json_t *jm_user(const char *who, const struct jira_map_ctx *c)
{
    return json_pack("{s:s?}", c->flavour == JIRA_CLOUD ? "accountId" : "name", who);
}

static json_t *jm_kind_labels(const json_t *action, const struct jira_map_ctx *c)
{
    const char *kind = jm_str(action, "kind");
    char marker[64];

    jira_map_marker(marker, sizeof(marker), c->instance,
                    (long long)json_integer_value(json_object_get(action, "id")));
    return json_pack("[s, s, s]", JIRA_MAP_LABEL, kind != NULL ? kind : "corrective", marker);
}

json_t *jira_map_create(const json_t *action, const char *project, const char *type,
                        const json_t *extra, const struct jira_map_ctx *c, struct cl_err *err)
{
    const char *owner = jm_owner_account(action, c);
    const json_t *due = json_object_get(action, "due_on");
    json_t *fields;
    json_t *body;
    const char *k;
    json_t *v;

    if (!jm_summary_ok(jm_str(action, "title"), err))
        return NULL;
    fields = json_pack("{s:{s:s}, s:{s:s}, s:s, s:o, s:o}", "project", "key", project, "issuetype",
                       "name", type, "summary", jm_str(action, "title"), "description",
                       jira_map_description(action, c), "labels", jm_kind_labels(action, c));
    if (json_is_string(due))
        json_object_set(fields, "duedate", (json_t *)due);
    if (owner != NULL)
        json_object_set_new(fields, "assignee", jm_user(owner, c));
    json_object_foreach ((json_t *)extra, k, v) {
        if (json_object_get(fields, k) == NULL) /* the connection fills what the screen needs */
            json_object_set(fields, k, v);
    }
    body = json_pack("{s:o}", "fields", fields);
    if (c->flavour == JIRA_CLOUD)
        json_object_set_new(body, "properties",
                            json_pack("[{s:s, s:{s:I, s:s}}]", "key", "closeloop", "value",
                                      "action", json_integer_value(json_object_get(action, "id")),
                                      "instance", c->instance != NULL ? c->instance : ""));
    return body;
}

/* "update": {"labels": [...]} adding the kind labels and removing the other kind's. */
static json_t *jm_label_ops(const json_t *local, const json_t *remote)
{
    static const char *const kinds[] = {"corrective", "preventive"};
    const char *kind = jm_str(local, "kind");
    const json_t *have = json_object_get(remote, "labels");
    json_t *ops = json_array();
    bool found[3] = {false, false, false};
    size_t i;
    json_t *v;

    json_array_foreach (have, i, v) {
        const char *l = json_string_value(v);

        found[0] = found[0] || (l != NULL && strcmp(l, JIRA_MAP_LABEL) == 0);
        found[1] = found[1] || (l != NULL && strcmp(l, kinds[0]) == 0);
        found[2] = found[2] || (l != NULL && strcmp(l, kinds[1]) == 0);
    }
    if (!found[0])
        json_array_append_new(ops, json_pack("{s:s}", "add", JIRA_MAP_LABEL));
    for (i = 0; i < 2 && kind != NULL; i++) {
        bool want = strcmp(kind, kinds[i]) == 0;

        if (want && !found[i + 1])
            json_array_append_new(ops, json_pack("{s:s}", "add", kinds[i]));
        else if (!want && found[i + 1])
            json_array_append_new(ops, json_pack("{s:s}", "remove", kinds[i]));
    }
    return ops;
}

json_t *jira_map_edit(const json_t *local, const json_t *remote, const struct jira_map_ctx *c,
                      struct cl_err *err)
{
    json_t *fields = json_object();
    json_t *labels = jm_label_ops(local, remote);
    json_t *out = json_object();
    const char *rdesc = jm_str(remote, "description");
    const char *ldesc = jm_str(local, "description");

    if (!json_equal(json_object_get(local, "title"), json_object_get(remote, "title"))) {
        if (!jm_summary_ok(jm_str(local, "title"), err)) {
            json_decref(fields);
            json_decref(labels);
            json_decref(out);
            return NULL;
        }
        json_object_set(fields, "summary", json_object_get(local, "title"));
    }
    if (rdesc == NULL || strcmp(rdesc, ldesc != NULL ? ldesc : "") != 0)
        json_object_set_new(fields, "description", jira_map_description(local, c));
    if (!json_equal(json_object_get(local, "due_on"), json_object_get(remote, "due_on")))
        json_object_set_new(fields, "duedate",
                            json_is_string(json_object_get(local, "due_on"))
                                ? json_incref(json_object_get(local, "due_on"))
                                : json_null());
    if (json_object_size(fields) > 0)
        json_object_set(out, "fields", fields);
    if (json_array_size(labels) > 0)
        json_object_set_new(out, "update", json_pack("{s:O}", "labels", labels));
    json_decref(fields);
    json_decref(labels);
    return out;
}

json_t *jira_map_assignee(const json_t *local, const json_t *remote, const struct jira_map_ctx *c)
{
    const char *want = jm_owner_account(local, c);
    const json_t *have = json_object_get(remote, "assignees");
    const char *cur = json_string_value(json_array_get(have, 0));

    if (want == NULL && jm_str(local, "owner") != NULL)
        return NULL; /* an owner without an account here: the assignee is left alone */
    if (want == NULL ? cur == NULL : (cur != NULL && strcmp(want, cur) == 0))
        return NULL;
    return jm_user(want, c);
}

bool jira_map_status_ok(const json_t *local, const json_t *remote, const struct jira_map_ctx *c)
{
    (void)c;
    return json_equal(json_object_get(local, "status"), json_object_get(remote, "status"));
}

/* ---- transitions ---- */

static const char *jm_target_category(const char *status)
{
    if (strcmp(status, "done") == 0 || strcmp(status, "wont_do") == 0)
        return "done";
    return strcmp(status, "in_progress") == 0 ? "indeterminate" : "new";
}

/* Whether `name` is among a field's allowedValues (no list: anything goes). */
static bool jm_allowed(const json_t *field, const char *name)
{
    const json_t *vals = json_object_get(field, "allowedValues");
    size_t i;
    json_t *v;

    if (!json_is_array(vals))
        return true;
    json_array_foreach (vals, i, v) {
        if (jm_str(v, "name") != NULL && strcasecmp(jm_str(v, "name"), name) == 0)
            return true;
    }
    return false;
}

/* The first allowed resolution other than won't do ("Done" when allowed). */
static const char *jm_done_resolution(const json_t *field, const struct jira_map_ctx *c)
{
    const json_t *vals = json_object_get(field, "allowedValues");
    size_t i;
    json_t *v;

    if (jm_allowed(field, "Done"))
        return "Done";
    json_array_foreach (vals, i, v) {
        const char *n = jm_str(v, "name");

        if (n != NULL && (c->wont_do == NULL || strcasecmp(n, c->wont_do) != 0))
            return n;
    }
    return NULL;
}

/* Another required field than the resolution on the transition's screen: not for us. */
static bool jm_needs_other_fields(const json_t *t)
{
    const char *k;
    json_t *f;

    json_object_foreach ((json_t *)json_object_get(t, "fields"), k, f) {
        if (strcmp(k, "resolution") != 0 && json_is_true(json_object_get(f, "required")))
            return true;
    }
    return false;
}

/* The POST body of transition t toward `status` (a closeloop status), or NULL when t
 * cannot express it. */
static json_t *jm_transition_body(const json_t *t, const char *status, const struct jira_map_ctx *c)
{
    const json_t *res = json_object_get(json_object_get(t, "fields"), "resolution");
    const char *to = jm_str(json_object_get(t, "to"), "name");
    bool wont = strcmp(status, "wont_do") == 0;
    bool named_wont = to != NULL && c->wont_do != NULL && strcasecmp(to, c->wont_do) == 0;
    const char *rname = NULL;

    if (jm_needs_other_fields(t) || (!wont && named_wont))
        return NULL;
    if (wont && res != NULL && jm_allowed(res, c->wont_do))
        rname = c->wont_do;
    else if (wont && !named_wont)
        return NULL; /* won't do needs its resolution or its status */
    else if (!wont && res != NULL && strcmp(jm_target_category(status), "done") == 0)
        rname = jm_done_resolution(res, c);
    if (res != NULL && json_is_true(json_object_get(res, "required")) && rname == NULL)
        return NULL;
    if (rname == NULL)
        return json_pack("{s:{s:s}}", "transition", "id", jm_str(t, "id"));
    return json_pack("{s:{s:s}, s:{s:{s:s}}}", "transition", "id", jm_str(t, "id"), "fields",
                     "resolution", "name", rname);
}

static long jm_id_num(const json_t *t)
{
    const char *id = jm_str(t, "id");

    return id != NULL ? strtol(id, NULL, 10) : 0;
}

static bool jm_visited(const json_t *visited, const char *status_id)
{
    size_t i;
    json_t *v;

    json_array_foreach (visited, i, v) {
        if (json_string_value(v) != NULL && status_id != NULL &&
            strcmp(json_string_value(v), status_id) == 0)
            return true;
    }
    return false;
}

/* The best transition: the direct one with the lowest id, else (walk) one to a status not
 * visited yet, "indeterminate" first, lowest id. */
static json_t *jm_pick(const json_t *list, const char *status, const json_t *visited,
                       const struct jira_map_ctx *c, bool *final)
{
    const char *target = jm_target_category(status);
    json_t *best = NULL;
    long best_rank = 0;
    size_t i;
    json_t *t;

    json_array_foreach (list, i, t) {
        const json_t *to = json_object_get(t, "to");
        const char *cat = jm_str(json_object_get(to, "statusCategory"), "key");
        bool direct = cat != NULL && strcmp(cat, target) == 0;
        json_t *body = direct ? jm_transition_body(t, status, c) : NULL;
        long rank;

        if (jm_str(t, "id") == NULL || cat == NULL || jm_visited(visited, jm_str(to, "id")) ||
            (!direct && jm_needs_other_fields(t)))
            continue;
        if (direct && body == NULL)
            continue;
        rank = (direct                              ? 0
                : strcmp(cat, "indeterminate") == 0 ? 1L << 40
                                                    : 2L << 40) +
               jm_id_num(t);
        if (best == NULL || rank < best_rank) {
            json_decref(best);
            best = body != NULL ? json_incref(body)
                                : json_pack("{s:{s:s}}", "transition", "id", jm_str(t, "id"));
            best_rank = rank;
            *final = direct;
        }
        json_decref(body);
    }
    return best;
}

json_t *jira_map_transition(const json_t *answer, const json_t *local, json_t *visited,
                            const struct jira_map_ctx *c, bool *final, struct cl_err *err)
{
    const json_t *list = json_object_get(answer, "transitions");
    const char *status = jm_str(local, "status");
    json_t *body;
    size_t i;
    json_t *t;

    *final = false;
    if (status == NULL || !json_is_array(list)) {
        cl_fail(err, CL_EINVAL, "Jira's transitions answer has no transitions list");
        return NULL;
    }
    body = jm_pick(list, status, visited, c, final);
    if (body == NULL) {
        cl_fail(err, CL_EINVAL,
                "no transition leads to a status of category %s%s from here (%zu offered)",
                jm_target_category(status),
                strcmp(status, "wont_do") == 0 ? " with a won't-do resolution or status" : "",
                json_array_size(list));
        return NULL;
    }
    json_array_foreach (list, i, t) { /* remember where a walk goes */
        if (strcmp(jm_str(t, "id"), jm_str(json_object_get(body, "transition"), "id")) == 0 &&
            jm_str(json_object_get(t, "to"), "id") != NULL)
            json_array_append_new(visited, json_string(jm_str(json_object_get(t, "to"), "id")));
    }
    return body;
}

/* ---- webhooks ---- */

static void jm_hook_meta(struct provider_hook *out, const json_t *root, const json_t *snap,
                         const struct jira_map_ctx *c)
{
    const json_t *user = json_object_get(root, "user");
    const char *who = jm_str(user, c->flavour == JIRA_CLOUD ? "accountId" : "name");
    const char *scope = jm_str(snap, "scope");

    snprintf(out->actor, sizeof(out->actor), "%s", who != NULL ? who : "");
    snprintf(out->scope, sizeof(out->scope), "%s", scope != NULL ? scope : "");
    snprintf(out->updated_at, sizeof(out->updated_at), "%s",
             jm_str(snap, "updated_at") != NULL ? jm_str(snap, "updated_at") : "");
}

/* A deletion: the issue's id and when, from the payload's timestamp (epoch ms). */
static int jm_hook_deleted(struct provider_hook *out, const json_t *root, struct cl_err *err)
{
    const json_t *issue = json_object_get(root, "issue");
    const char *id = jm_str(issue, "id");
    const json_t *ts = json_object_get(root, "timestamp");
    time_t secs;
    struct tm tm;

    if (id == NULL || strspn(id, "0123456789") != strlen(id) || strlen(id) > 20 || id[0] == '\0')
        return cl_fail(err, CL_EINVAL, "issue_deleted without a numeric issue.id");
    out->kind = PROVIDER_HOOK_DELETED;
    snprintf(out->old_id, sizeof(out->old_id), "%s", id);
    if (json_is_integer(ts) && json_integer_value(ts) > 0) { /* epoch ms: keep the ms, */
        char base[24];                                       /* as updated has them */

        secs = (time_t)(json_integer_value(ts) / 1000);
        gmtime_r(&secs, &tm);
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out->updated_at, sizeof(out->updated_at), "%s.%03dZ", base,
                 (int)(json_integer_value(ts) % 1000));
    }
    return CL_OK;
}

int jira_map_hook(const char *body, size_t len, const struct jira_map_ctx *c,
                  struct provider_hook *out, struct cl_err *err)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *ev = jm_str(root, "webhookEvent");
    json_t *snap;
    int rc = CL_OK;

    out->kind = PROVIDER_HOOK_IGNORE;
    if (!json_is_object(root) || ev == NULL || strlen(ev) > 100) {
        rc = cl_fail(err, CL_EINVAL, "not a Jira webhook payload (no webhookEvent)");
        goto done;
    }
    snprintf(out->event, sizeof(out->event), "%s", ev);
    if (strcmp(ev, "jira:issue_deleted") == 0) {
        rc = jm_hook_deleted(out, root, err);
        goto done;
    }
    if (strcmp(ev, "jira:issue_created") != 0 && strcmp(ev, "jira:issue_updated") != 0)
        goto done; /* comments, worklogs...: nothing closeloop syncs */
    snap = jira_map_snapshot(json_object_get(root, "issue"), c, err);
    if (snap == NULL) {
        rc = CL_EINVAL;
        goto done;
    }
    out->kind = json_is_true(json_object_get(snap, "description_unknown")) ? PROVIDER_HOOK_REREAD
                                                                           : PROVIDER_HOOK_APPLY;
    snprintf(out->old_id, sizeof(out->old_id), "%s", jm_str(snap, "remote_id"));
    jm_hook_meta(out, root, snap, c);
    out->remote = snap;
done:
    json_decref(root);
    return rc;
}
