#include "closeloop/sync/github_map.h"

#include "closeloop/util/buf.h"
#include "closeloop/util/valid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GH_SECTION_BEGIN "<!-- closeloop:begin -->"
#define GH_SECTION_END   "<!-- closeloop:end -->"

/* A member that must be a string: NULL when absent or of another type. Nothing read
 * from GitHub is used before its type is checked. */
static const char *gh_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void gh_rtrim(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

/* ---- the body: the owner's text, then closeloop's section ---- */

char *github_map_body(const json_t *action, const char *instance)
{
    const char *desc = gh_str(action, "description");
    const char *due = gh_str(action, "due_on");
    const char *inc = gh_str(action, "incident");
    const char *pm = gh_str(action, "postmortem_url");
    const char *kind = gh_str(action, "kind");
    json_int_t id = json_integer_value(json_object_get(action, "id"));
    char *d = cl_strdup(desc != NULL ? desc : "");
    struct buf b;

    gh_rtrim(d);
    buf_init(&b);
    if (d[0] != '\0')
        buf_printf(&b, "%s\n\n", d);
    buf_puts(&b, GH_SECTION_BEGIN "\n---\n");
    buf_printf(&b, "**Due:** %s\n", due != NULL ? due : "none");
    buf_printf(&b, "**Postmortem:** %s", inc != NULL ? inc : "?");
    if (pm != NULL)
        buf_printf(&b, " ([postmortem](%s))", pm);
    buf_printf(&b,
               " · %s action, kept in step by closeloop. Edit the due date above; "
               "closeloop rewrites the rest of this section.\n",
               kind != NULL ? kind : "follow-up");
    buf_printf(&b, "<!-- closeloop:action=%" JSON_INTEGER_FORMAT " instance=%s -->\n", id,
               instance != NULL ? instance : "");
    buf_puts(&b, GH_SECTION_END);
    free(d);
    return buf_steal(&b, NULL);
}

/* Reads "**Due:** <value>" in the section: a date, or none. Absent or unreadable: no key. */
static void gh_parse_due(json_t *into, const char *section)
{
    const char *p = strstr(section, "**Due:**");
    char val[16];
    size_t n;

    if (p == NULL)
        return;
    p += strlen("**Due:**");
    while (*p == ' ' || *p == '\t')
        p++;
    n = strcspn(p, " \t\r\n");
    if (n >= sizeof(val))
        return;
    memcpy(val, p, n);
    val[n] = '\0';
    if (valid_date(val))
        json_object_set_new(into, "due_on", json_string(val));
    else if (strcasecmp(val, "none") == 0 || strcmp(val, "-") == 0)
        json_object_set_new(into, "due_on", json_null());
}

static long gh_parse_marker(const char *s, const char *instance)
{
    const char *p = strstr(s, "<!-- closeloop:action=");
    char want[96];
    char *end = NULL;
    long id;

    if (p == NULL || instance == NULL)
        return 0;
    id = strtol(p + strlen("<!-- closeloop:action="), &end, 10);
    snprintf(want, sizeof(want), " instance=%s -->", instance);
    if (end == NULL || strncmp(end, want, strlen(want)) != 0)
        return 0;
    return id;
}

long github_map_parse_body(json_t *into, const char *body, const char *instance)
{
    const char *text = body != NULL ? body : "";
    const char *sec = strstr(text, GH_SECTION_BEGIN);
    char *desc = cl_strndup(text, sec != NULL ? (size_t)(sec - text) : strlen(text));
    long id = 0;

    gh_rtrim(desc);
    json_object_set_new(into, "description", json_string(desc));
    free(desc);
    if (sec != NULL) {
        gh_parse_due(into, sec);
        id = gh_parse_marker(sec, instance);
    }
    return id;
}

/* ---- issues as snapshots ---- */

/* "https://api.github.com/repos/o/r" -> "o/r"; null unless that is a valid owner/repo
 * (a repository name read from GitHub builds the URLs of later writes). */
static json_t *gh_repo_of(const json_t *issue)
{
    const char *u = gh_str(issue, "repository_url");
    const char *p = u != NULL ? strstr(u, "/repos/") : NULL;

    if (p == NULL || !valid_github_repo(p + strlen("/repos/")))
        return json_null();
    return json_string(p + strlen("/repos/"));
}

/* [obj.key...] as strings; NULL when arr is not an array of objects holding a string
 * under key. */
static json_t *gh_names(const json_t *arr, const char *key)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;

    json_array_foreach (arr, i, v) {
        const char *s = gh_str(v, key);

        if (s == NULL) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, json_string(s));
    }
    return out;
}

static const char *gh_status_of(const char *state, const char *reason)
{
    if (strcmp(state, "closed") != 0)
        return "open";
    if (reason != NULL && (strcmp(reason, "not_planned") == 0 || strcmp(reason, "duplicate") == 0))
        return "wont_do";
    return "done";
}

/* The members a snapshot needs, each of the type GitHub documents. */
static int gh_issue_check(const json_t *issue, struct cl_err *err)
{
    const json_t *id = json_object_get(issue, "id");
    const json_t *number = json_object_get(issue, "number");
    const char *state = gh_str(issue, "state");
    const char *updated = gh_str(issue, "updated_at");
    const json_t *body = json_object_get(issue, "body");
    const json_t *reason = json_object_get(issue, "state_reason");

    if (!json_is_integer(id) || json_integer_value(id) <= 0)
        return cl_fail(err, CL_EINVAL, "issue.id is not a positive integer");
    if (!json_is_integer(number) || json_integer_value(number) <= 0 ||
        json_integer_value(number) > 2147483647)
        return cl_fail(err, CL_EINVAL, "issue.number is not a positive integer");
    if (!json_is_string(json_object_get(issue, "title")))
        return cl_fail(err, CL_EINVAL, "issue.title is not a string");
    if (body != NULL && !json_is_string(body) && !json_is_null(body))
        return cl_fail(err, CL_EINVAL, "issue.body is neither a string nor null");
    if (state == NULL || (strcmp(state, "open") != 0 && strcmp(state, "closed") != 0))
        return cl_fail(err, CL_EINVAL, "issue.state is not \"open\" or \"closed\"");
    if (reason != NULL && !json_is_string(reason) && !json_is_null(reason))
        return cl_fail(err, CL_EINVAL, "issue.state_reason is neither a string nor null");
    if (updated == NULL || !valid_timestamp(updated))
        return cl_fail(err, CL_EINVAL, "issue.updated_at is not a timestamp");
    return CL_OK;
}

/* Assignees and labels: absent assignees leave the owner alone; present ones must be
 * user objects with a login, labels objects with a name. */
static int gh_issue_lists(json_t *snap, const json_t *issue, struct cl_err *err)
{
    const json_t *assignees = json_object_get(issue, "assignees");
    const json_t *labels = json_object_get(issue, "labels");
    json_t *a = assignees != NULL ? gh_names(assignees, "login") : NULL;
    json_t *l = gh_names(labels, "name");
    int rc = CL_OK;

    if (assignees != NULL && (!json_is_array(assignees) || a == NULL))
        rc = cl_fail(err, CL_EINVAL, "issue.assignees is not a list of users with a login");
    else if ((labels != NULL && !json_is_array(labels)) || l == NULL)
        rc = cl_fail(err, CL_EINVAL, "issue.labels is not a list of labels with a name");
    if (rc != CL_OK) {
        json_decref(a);
        json_decref(l);
        return rc;
    }
    if (a != NULL)
        json_object_set_new(snap, "assignees", a);
    json_object_set_new(snap, "labels", l);
    return CL_OK;
}

json_t *github_map_snapshot(const json_t *issue, const char *instance, struct cl_err *err)
{
    const char *body = gh_str(issue, "body");
    json_t *s;
    char idtxt[32];
    char key[32];
    long marker;

    if (!json_is_object(issue)) {
        cl_fail(err, CL_EINVAL, "issue is not an object");
        return NULL;
    }
    if (json_object_get(issue, "pull_request") != NULL &&
        !json_is_null(json_object_get(issue, "pull_request")))
        return NULL; /* a pull request: not ours, not an error */
    if (gh_issue_check(issue, err) != CL_OK)
        return NULL;
    snprintf(idtxt, sizeof(idtxt), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(issue, "id")));
    snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(issue, "number")));
    s = json_pack("{s:s, s:s, s:o, s:s?, s:s, s:O, s:s, s:s}", "remote_id", idtxt, "key", key,
                  "scope", gh_repo_of(issue), "url", gh_str(issue, "html_url"), "updated_at",
                  gh_str(issue, "updated_at"), "title", json_object_get(issue, "title"), "status",
                  gh_status_of(gh_str(issue, "state"), gh_str(issue, "state_reason")), "body_raw",
                  body != NULL ? body : "");
    if (s == NULL || gh_issue_lists(s, issue, err) != CL_OK) {
        json_decref(s);
        cl_fail(err, CL_EINVAL, "issue could not be read");
        return NULL;
    }
    marker = github_map_parse_body(s, body, instance);
    if (marker > 0)
        json_object_set_new(s, "marker_action", json_integer(marker));
    return s;
}

/* ---- requests ---- */

json_t *github_map_create(const json_t *action, const char *instance)
{
    const char *login = gh_str(action, "owner_github");
    const char *kind = gh_str(action, "kind");
    json_t *title = json_object_get(action, "title");
    char *body;
    json_t *req;

    if (!json_is_string(title) || kind == NULL)
        return NULL;
    body = github_map_body(action, instance);
    req = json_pack("{s:O, s:s, s:[s,s]}", "title", title, "body", body, "labels", GITHUB_MAP_LABEL,
                    kind);
    if (login != NULL)
        json_object_set_new(req, "assignees", json_pack("[s]", login));
    free(body);
    return req;
}

static bool gh_same_logins(const json_t *a, const json_t *b)
{
    size_t i;

    if (json_array_size(a) != json_array_size(b))
        return false;
    for (i = 0; i < json_array_size(a); i++) {
        const char *x = json_string_value(json_array_get(a, i));
        const char *y = json_string_value(json_array_get(b, i));

        if (x == NULL || y == NULL || strcasecmp(x, y) != 0)
            return false;
    }
    return true;
}

/* The label set to send: the remote's, with the kind labels replaced. NULL if same. */
static json_t *gh_labels_patch(const json_t *local, const json_t *remote)
{
    const char *kind = gh_str(local, "kind") != NULL ? gh_str(local, "kind") : "corrective";
    const json_t *have = json_object_get(remote, "labels");
    json_t *want = json_array();
    bool has_kind = false;
    bool has_pm = false;
    bool stale = false;
    size_t i;
    json_t *v;

    json_array_foreach (have, i, v) {
        const char *n = json_string_value(v);

        if (n == NULL)
            continue;
        if ((strcmp(n, "corrective") == 0 || strcmp(n, "preventive") == 0) &&
            strcmp(n, kind) != 0) {
            stale = true;
            continue;
        }
        has_kind |= strcmp(n, kind) == 0;
        has_pm |= strcmp(n, GITHUB_MAP_LABEL) == 0;
        json_array_append(want, v);
    }
    if (has_kind && has_pm && !stale) {
        json_decref(want);
        return NULL;
    }
    if (!has_kind)
        json_array_append_new(want, json_string(kind));
    if (!has_pm)
        json_array_append_new(want, json_string(GITHUB_MAP_LABEL));
    return want;
}

static void gh_patch_state(json_t *patch, const json_t *local, const json_t *remote)
{
    const char *want = gh_str(local, "status");
    const char *have = gh_str(remote, "status");

    if (want == NULL || have == NULL || strcmp(want, have) == 0)
        return;
    if (strcmp(want, "open") == 0) {
        json_object_set_new(patch, "state", json_string("open"));
        return;
    }
    json_object_set_new(patch, "state", json_string("closed"));
    json_object_set_new(patch, "state_reason",
                        json_string(strcmp(want, "done") == 0 ? "completed" : "not_planned"));
}

/* The assignees to send: the owner's login, none without an owner, or NULL (leave
 * them alone: an owner without a GitHub login, which a warning reports). */
static json_t *gh_assignees_patch(const json_t *local, const json_t *remote)
{
    const char *login = gh_str(local, "owner_github");
    json_t *want = NULL;

    if (gh_str(local, "owner") == NULL)
        want = json_array();
    else if (login != NULL)
        want = json_pack("[s]", login);
    if (want != NULL && gh_same_logins(want, json_object_get(remote, "assignees"))) {
        json_decref(want);
        want = NULL;
    }
    return want;
}

json_t *github_map_patch(const json_t *local, const json_t *remote, const char *instance)
{
    json_t *patch = json_object();
    char *body = github_map_body(local, instance);
    json_t *assignees = gh_assignees_patch(local, remote);
    json_t *labels = gh_labels_patch(local, remote);

    if (!json_equal(json_object_get(local, "title"), json_object_get(remote, "title")))
        json_object_set(patch, "title", json_object_get(local, "title"));
    if (gh_str(remote, "body_raw") == NULL || strcmp(body, gh_str(remote, "body_raw")) != 0)
        json_object_set_new(patch, "body", json_string(body));
    gh_patch_state(patch, local, remote);
    if (assignees != NULL)
        json_object_set_new(patch, "assignees", assignees);
    if (labels != NULL)
        json_object_set_new(patch, "labels", labels);
    free(body);
    return patch;
}

/* ---- webhook payloads ---- */

/* The issues actions that can change what closeloop syncs (title, body, state,
 * assignees) or where the issue is; the rest, and actions GitHub adds later, are
 * ignored and not stored. */
static bool gh_hook_relevant(const char *action)
{
    static const char *const relevant[] = {"opened",   "edited",     "closed",     "reopened",
                                           "assigned", "unassigned", "transferred"};
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(relevant); i++)
        if (strcmp(action, relevant[i]) == 0)
            return true;
    return false;
}

/* The repository a delivery is about: repository.full_name, else the issue's. */
static void gh_hook_repo(struct provider_hook *out, const json_t *root, const json_t *issue)
{
    const char *full = gh_str(json_object_get(root, "repository"), "full_name");
    json_t *of_issue = gh_repo_of(issue);
    const char *r = full != NULL && valid_github_repo(full) ? full : json_string_value(of_issue);

    snprintf(out->scope, sizeof(out->scope), "%s", r != NULL ? r : "");
    json_decref(of_issue);
}

/* An "edited" delivery names what the edit replaced (changes.title.from,
 * changes.body.from): kept as a partial snapshot, so that an edit that overwrote a
 * version closeloop never saw can be told. */
static int gh_hook_replaced(struct provider_hook *out, const json_t *root, struct cl_err *err)
{
    const json_t *changes = json_object_get(root, "changes");
    const json_t *title = json_object_get(json_object_get(changes, "title"), "from");
    const json_t *body = json_object_get(json_object_get(changes, "body"), "from");

    if (title == NULL && body == NULL)
        return CL_OK;
    if ((title != NULL && !json_is_string(title)) ||
        (body != NULL && !json_is_string(body) && !json_is_null(body)))
        return cl_fail(err, CL_EINVAL, "changes.title.from or changes.body.from is not a string");
    out->replaced = json_object();
    if (title != NULL)
        json_object_set(out->replaced, "title", (json_t *)title);
    if (body != NULL)
        github_map_parse_body(out->replaced, json_string_value(body), NULL);
    return CL_OK;
}

static int gh_hook_issues(struct provider_hook *out, json_t *root, struct cl_err *err)
{
    const char *action = gh_str(root, "action");
    json_t *issue = json_object_get(root, "issue");
    json_t *id = json_object_get(issue, "id");
    const char *updated = gh_str(issue, "updated_at");

    if (action == NULL || !json_is_integer(id))
        return cl_fail(err, CL_EINVAL, "issues delivery without action or issue.id");
    snprintf(out->old_id, sizeof(out->old_id), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    gh_hook_repo(out, root, issue);
    if (updated == NULL || !valid_timestamp(updated))
        return cl_fail(err, CL_EINVAL, "issue.updated_at is not a timestamp");
    snprintf(out->updated_at, sizeof(out->updated_at), "%s", updated);
    if (strcmp(action, "deleted") == 0) {
        out->kind = PROVIDER_HOOK_DELETED;
        return CL_OK;
    }
    if (!gh_hook_relevant(action)) {
        out->kind = PROVIDER_HOOK_IGNORE; /* pinned, labeled, locked, new actions... */
        return CL_OK;
    }
    if (strcmp(action, "transferred") == 0) {
        out->remote = github_map_snapshot(
            json_object_get(json_object_get(root, "changes"), "new_issue"), NULL, err);
        out->kind = out->remote != NULL ? PROVIDER_HOOK_MOVED : PROVIDER_HOOK_IGNORE;
        return err->code;
    }
    out->remote = github_map_snapshot(issue, NULL, err);
    out->kind = out->remote != NULL ? PROVIDER_HOOK_APPLY : PROVIDER_HOOK_IGNORE;
    if (err->code == CL_OK && strcmp(action, "edited") == 0)
        gh_hook_replaced(out, root, err);
    return err->code;
}

int github_map_hook(const char *event, const char *body, size_t len, struct provider_hook *out,
                    struct cl_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    const char *sender = gh_str(json_object_get(root, "sender"), "login");
    int rc = CL_OK;

    out->kind = PROVIDER_HOOK_IGNORE;
    out->remote = NULL;
    out->replaced = NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        return cl_fail(err, CL_EINVAL, "delivery is not a JSON object: %s",
                       root == NULL ? jerr.text : "another JSON value");
    }
    snprintf(out->actor, sizeof(out->actor), "%s",
             sender != NULL && sender[0] != '\0' ? sender : "github");
    if (strcmp(event, "ping") == 0)
        out->kind = PROVIDER_HOOK_PING;
    else if (strcmp(event, "issues") == 0)
        rc = gh_hook_issues(out, root, err);
    json_decref(root);
    if (rc != CL_OK) {
        json_decref(out->remote);
        json_decref(out->replaced);
        out->remote = NULL;
        out->replaced = NULL;
        out->kind = PROVIDER_HOOK_IGNORE;
    }
    return rc;
}
