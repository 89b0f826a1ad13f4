/* The chat kind "digest": a digest (the JSON of cl_digest_content()) as a Slack Block Kit
 * message (header, a section of mrkdwn fields with the counts, a section per list, the
 * trend and the period in context blocks), a Teams Adaptive Card message (a heading, the
 * counts as a FactSet, a titled TextBlock per list, the trend as a FactSet, the period in
 * a subtle TextBlock) or a legacy Teams MessageCard (the counts and the trend as facts, a
 * section per list). Every value is type-checked; a digest that does not have the
 * documented shape fails the row with the path of the first bad value. Lists are cut at
 * DG_MAX_ITEMS items or DG_MAX_SECTION bytes ("and N more"); a message that still comes
 * out over CHAT_MAX_BODY bytes is built again with fewer items per list. */
#include "closeloop/notify/chat_kinds.h"
#include "closeloop/notify/chat_render.h"
#include "closeloop/util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DG_MAX_ITEMS   10
#define DG_MAX_SECTION 2800 /* bytes of a list's items (Slack takes 3000 per section) */
#define DG_MAX_HEADER  150  /* Slack's header block limit */
#define DG_MAX_TREND   12   /* periods of the trend shown, the latest */

enum dg_mode { DG_PLAIN, DG_SLIPPED, DG_DRIFT };

struct dg {
    enum chat_style st;
    size_t max_items;   /* items of a list shown before "and N more" */
    size_t max_section; /* bytes of a list's text before "and N more" */
    json_t *msg;        /* the message being built */
    json_t *parts;      /* slack: msg.blocks; adaptive: the card's body; messagecard:
                           msg.sections */
    struct cl_err *err;
};

/* ---- type checks ---- */

static int dg_bad(struct dg *d, const char *path, const char *want)
{
    return cl_fail(d->err, CL_EINVAL, "digest: %s is not %s", path, want);
}

/* A string member, or NULL when absent or null (when `opt`); CL_EINVAL otherwise. */
static int dg_str(struct dg *d, const json_t *o, const char *key, bool opt, const char *path,
                  const char **out)
{
    const json_t *v = json_object_get(o, key);
    char where[160];

    *out = NULL;
    if ((v == NULL || json_is_null(v)) && opt)
        return CL_OK;
    snprintf(where, sizeof(where), "%s.%s", path, key);
    if (!json_is_string(v))
        return dg_bad(d, where, opt ? "a string or null" : "a string");
    *out = json_string_value(v);
    return CL_OK;
}

static int dg_int(struct dg *d, const json_t *o, const char *key, const char *path, json_int_t *out)
{
    const json_t *v = json_object_get(o, key);
    char where[160];

    snprintf(where, sizeof(where), "%s.%s", path, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return dg_bad(d, where, "a non-negative integer");
    *out = json_integer_value(v);
    return CL_OK;
}

/* An array member; absent or null is the empty list (*out NULL). */
static int dg_list_of(struct dg *d, const json_t *o, const char *key, const char *path,
                      const json_t **out)
{
    const json_t *v = json_object_get(o, key);
    char where[160];

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return CL_OK;
    snprintf(where, sizeof(where), "%s%s", path, key);
    if (!json_is_array(v))
        return dg_bad(d, where, "an array");
    *out = v;
    return CL_OK;
}

/* ---- one action ---- */

/* "• <url|INC-7 #42 title> — owner · due D · status" and the mode's note. */
static int dg_action(struct dg *d, struct buf *b, const json_t *a, enum dg_mode mode,
                     const char *path)
{
    const char *incident = NULL, *title, *owner, *status, *due, *url, *why = NULL, *from = NULL,
               *to = NULL, *drift = NULL;
    const json_t *inc = json_object_get(a, "incident");
    json_int_t id;
    char text[600];
    char incbuf[32];
    int rc;

    if (!json_is_object(a))
        return dg_bad(d, path, "an action object");
    if (json_is_integer(inc)) {
        snprintf(incbuf, sizeof(incbuf), "%" JSON_INTEGER_FORMAT, json_integer_value(inc));
        incident = incbuf;
    } else if ((rc = dg_str(d, a, "incident", true, path, &incident)) != CL_OK) {
        return rc;
    }
    rc = dg_int(d, a, "id", path, &id);
    if (rc == CL_OK)
        rc = dg_str(d, a, "title", false, path, &title);
    if (rc == CL_OK)
        rc = dg_str(d, a, "owner", true, path, &owner);
    if (rc == CL_OK)
        rc = dg_str(d, a, "status", false, path, &status);
    if (rc == CL_OK)
        rc = dg_str(d, a, "due_on", true, path, &due);
    if (rc == CL_OK)
        rc = dg_str(d, a, "url", true, path, &url);
    if (rc == CL_OK && mode == DG_SLIPPED)
        rc = dg_str(d, a, "why", false, path, &why);
    if (rc == CL_OK && mode == DG_SLIPPED)
        rc = dg_str(d, a, "from", true, path, &from);
    if (rc == CL_OK && mode == DG_SLIPPED)
        rc = dg_str(d, a, "to", true, path, &to);
    if (rc == CL_OK && mode == DG_DRIFT && json_is_string(json_object_get(a, "drift")))
        drift = json_string_value(json_object_get(a, "drift"));
    else if (rc == CL_OK && mode == DG_DRIFT && !json_is_object(json_object_get(a, "drift")))
        rc = dg_bad(d, "drift[].drift", "a string or an object");
    if (rc != CL_OK)
        return rc;
    snprintf(text, sizeof(text), "%s%s#%" JSON_INTEGER_FORMAT " %.500s", incident ? incident : "",
             incident ? " " : "", id, title);
    buf_puts(b, "\n• ");
    chat_link(b, d->st, url, text);
    buf_puts(b, " — ");
    chat_text(b, d->st, owner != NULL ? owner : "no owner");
    buf_puts(b, " · ");
    chat_text(b, d->st, due != NULL ? "due " : "no due date");
    chat_text(b, d->st, due != NULL ? due : "");
    buf_puts(b, " · ");
    chat_text(b, d->st, status);
    if (why != NULL && strcmp(why, "due_moved") == 0) {
        buf_puts(b, " (due date moved from ");
        chat_text(b, d->st, from != NULL ? from : "none");
        buf_puts(b, " to ");
        chat_text(b, d->st, to != NULL ? to : "none");
        buf_puts(b, ")");
    } else if (why != NULL && strcmp(why, "new_overdue") == 0) {
        buf_puts(b, " (newly overdue)");
    } else if (why != NULL) {
        return dg_bad(d, "slipped[].why", "new_overdue or due_moved");
    }
    if (drift != NULL) {
        buf_puts(b, " (");
        chat_text(b, d->st, drift);
        buf_puts(b, ")");
    }
    return CL_OK;
}

/* ---- sections ---- */

/* An Adaptive Card section's title: bold, below a separator. */
static json_t *dg_ac_title(const char *text)
{
    json_t *t = chat_adaptive_text(text);

    json_object_set_new(t, "weight", json_string("Bolder"));
    json_object_set_new(t, "separator", json_true());
    return t;
}

/* Adds a section titled `title` whose text is b's (the caller's lines). */
static void dg_section(struct dg *d, const char *title, size_t n, struct buf *b)
{
    struct buf t;

    buf_init(&t);
    if (d->st == CHAT_STYLE_SLACK) {
        chat_bold(&t, d->st, title);
        buf_printf(&t, " (%zu)", n);
        buf_append(&t, b->data != NULL ? b->data : "", b->len);
        buf_append(&t, "", 1);
        json_array_append_new(d->parts, chat_slack_section(t.data));
    } else {
        /* Teams' markdown joins single line breaks: one paragraph per line */
        struct buf text;
        size_t i;

        buf_init(&text);
        for (i = 1; i < b->len; i++) /* from 1: no first \n */
            buf_puts(&text, b->data[i] == '\n' ? "\n\n" : (char[]){b->data[i], '\0'});
        buf_append(&text, "", 1);
        buf_printf(&t, "%s (%zu)", title, n);
        buf_append(&t, "", 1);
        if (d->st == CHAT_STYLE_ADAPTIVE) {
            json_array_append_new(d->parts, dg_ac_title(t.data));
            json_array_append_new(d->parts, chat_adaptive_text(text.data));
        } else {
            json_array_append_new(d->parts,
                                  json_pack("{s:s, s:s}", "title", t.data, "text", text.data));
        }
        buf_dispose(&text);
    }
    buf_dispose(&t);
}

/* Appends the items of `list` to b: at most d->max_items, and an item only while b stays
 * within d->max_section bytes (the first line of an empty b always goes in). */
static int dg_items(struct dg *d, struct buf *b, const json_t *list, enum dg_mode mode,
                    const char *path)
{
    struct buf item;
    size_t i;
    int rc = CL_OK;

    for (i = 0; i < json_array_size(list) && i < d->max_items; i++) {
        buf_init(&item);
        rc = dg_action(d, &item, json_array_get(list, i), mode, path);
        if (rc == CL_OK && b->len > 0 && b->len + item.len > d->max_section) {
            buf_dispose(&item);
            break;
        }
        if (rc == CL_OK)
            buf_append(b, item.data, item.len);
        buf_dispose(&item);
        if (rc != CL_OK)
            return rc;
    }
    if (i < json_array_size(list))
        buf_printf(b, "\n…and %zu more", json_array_size(list) - i);
    return CL_OK;
}

/* A list of actions under its own title; nothing when the list is empty. */
static int dg_action_list(struct dg *d, const json_t *digest, const char *key, const char *title,
                          enum dg_mode mode)
{
    const json_t *list;
    struct buf b;
    char path[48];
    int rc = dg_list_of(d, digest, key, "", &list);

    if (rc != CL_OK || json_array_size(list) == 0)
        return rc;

    snprintf(path, sizeof(path), "%s[]", key);
    buf_init(&b);
    rc = dg_items(d, &b, list, mode, path);
    if (rc == CL_OK)
        dg_section(d, title, json_array_size(list), &b);
    buf_dispose(&b);
    return rc;
}

/* "What is owed": per owner, "owner: N open, M overdue" and their items. Owners past the
 * section's budget still count in the totals; the text says how many are not shown. */
static int dg_owes(struct dg *d, const json_t *digest, json_int_t *open, json_int_t *overdue)
{
    const json_t *owes;
    const json_t *items;
    const char *owner;
    struct buf b;
    json_int_t o, od;
    size_t hidden = 0;
    size_t i;
    int rc = dg_list_of(d, digest, "owes", "", &owes);

    if (rc != CL_OK || json_array_size(owes) == 0)
        return rc;
    buf_init(&b);
    for (i = 0; rc == CL_OK && i < json_array_size(owes); i++) {
        const json_t *e = json_array_get(owes, i);

        if (!json_is_object(e)) {
            rc = dg_bad(d, "owes[]", "an object");
            break;
        }
        rc = dg_str(d, e, "owner", true, "owes[]", &owner);
        if (rc == CL_OK)
            rc = dg_int(d, e, "open", "owes[]", &o);
        if (rc == CL_OK)
            rc = dg_int(d, e, "overdue", "owes[]", &od);
        if (rc == CL_OK)
            rc = dg_list_of(d, e, "items", "owes[].", &items);
        if (rc != CL_OK)
            break;
        *open += o;
        *overdue += od;
        if (hidden > 0 || (i > 0 && b.len > d->max_section)) {
            hidden++;
            continue;
        }
        buf_puts(&b, "\n");
        chat_bold(&b, d->st, owner != NULL ? owner : "no owner");
        buf_printf(&b, ": %" JSON_INTEGER_FORMAT " open, %" JSON_INTEGER_FORMAT " overdue", o, od);
        rc = dg_items(d, &b, items, DG_PLAIN, "owes[].items[]");
    }
    if (rc == CL_OK && hidden > 0)
        buf_printf(&b, "\n…and %zu more owners", hidden);
    if (rc == CL_OK)
        dg_section(d, "What is owed, by owner", json_array_size(owes), &b);
    buf_dispose(&b);
    return rc;
}

static int dg_review_list(struct dg *d, const json_t *reviews, const char *key, const char *title)
{
    const json_t *list;
    const char *incident, *local, *tz, *status;
    struct buf b;
    size_t i;
    int rc = dg_list_of(d, reviews, key, "reviews.", &list);

    if (rc != CL_OK || json_array_size(list) == 0)
        return rc;
    buf_init(&b);
    for (i = 0; rc == CL_OK && i < json_array_size(list); i++) {
        const json_t *r = json_array_get(list, i);

        if (i == d->max_items || b.len > d->max_section)
            break;
        if (!json_is_object(r)) {
            rc = dg_bad(d, "reviews[]", "an object");
            break;
        }
        rc = dg_str(d, r, "incident", false, "reviews[]", &incident);
        if (rc == CL_OK)
            rc = dg_str(d, r, "local", true, "reviews[]", &local);
        if (rc == CL_OK)
            rc = dg_str(d, r, "timezone", true, "reviews[]", &tz);
        if (rc == CL_OK)
            rc = dg_str(d, r, "status", false, "reviews[]", &status);
        if (rc != CL_OK)
            break;
        buf_puts(&b, "\n• ");
        chat_text(&b, d->st, incident);
        buf_puts(&b, " — ");
        chat_text(&b, d->st, local != NULL ? local : "not scheduled");
        if (tz != NULL) {
            buf_puts(&b, " (");
            chat_text(&b, d->st, tz);
            buf_puts(&b, ")");
        }
        buf_puts(&b, " · ");
        chat_text(&b, d->st, status);
    }
    if (rc == CL_OK && i < json_array_size(list))
        buf_printf(&b, "\n…and %zu more", json_array_size(list) - i);
    if (rc == CL_OK)
        dg_section(d, title, json_array_size(list), &b);
    buf_dispose(&b);
    return rc;
}

static int dg_reviews(struct dg *d, const json_t *digest)
{
    const json_t *reviews = json_object_get(digest, "reviews");
    int rc;

    if (reviews == NULL || json_is_null(reviews))
        return CL_OK;
    if (!json_is_object(reviews))
        return dg_bad(d, "reviews", "an object");
    rc = dg_review_list(d, reviews, "held", "Reviews held");
    return rc == CL_OK ? dg_review_list(d, reviews, "upcoming", "Reviews coming up") : rc;
}

/* A fact: {"name", "value"} in a MessageCard, {"title", "value"} in an Adaptive Card's
 * FactSet, where both are markdown. */
static json_t *dg_fact(struct dg *d, const char *name, const char *value)
{
    struct buf b;
    json_t *f;

    if (d->st != CHAT_STYLE_ADAPTIVE)
        return json_pack("{s:s, s:s}", "name", name, "value", value);
    buf_init(&b);
    chat_text(&b, d->st, name);
    buf_append(&b, "", 1);
    f = json_pack("{s:s, s:s}", "title", b.data, "value", value);
    buf_dispose(&b);
    return f;
}

/* Adds the trend: Slack's context line, or the facts (stolen) under a title. */
static void dg_trend_add(struct dg *d, const char *line, json_t *facts)
{
    static const char title[] = "Trend (opened / closed / overdue)";

    if (d->st == CHAT_STYLE_SLACK) {
        json_array_append_new(d->parts, json_pack("{s:s, s:[{s:s, s:s}]}", "type", "context",
                                                  "elements", "type", "mrkdwn", "text", line));
        json_decref(facts);
    } else if (d->st == CHAT_STYLE_ADAPTIVE) {
        json_array_append_new(d->parts, dg_ac_title(title));
        json_array_append_new(d->parts, json_pack("{s:s, s:o}", "type", "FactSet", "facts", facts));
    } else {
        json_array_append_new(d->parts, json_pack("{s:s, s:o}", "title", title, "facts", facts));
    }
}

/* The trend, oldest first, its latest DG_MAX_TREND periods: a context line (Slack) or
 * facts (Teams). */
static int dg_trend(struct dg *d, const json_t *digest)
{
    const json_t *trend;
    json_t *facts = json_array();
    const char *period;
    json_int_t opened, closed, overdue;
    struct buf b;
    char v[120];
    size_t first;
    size_t i;
    int rc = dg_list_of(d, digest, "trend", "", &trend);

    first = json_array_size(trend) > DG_MAX_TREND ? json_array_size(trend) - DG_MAX_TREND : 0;
    buf_init(&b);
    chat_bold(&b, d->st, "Trend");
    buf_puts(&b, " (opened / closed / overdue):");
    for (i = 0; rc == CL_OK && i < json_array_size(trend); i++) {
        const json_t *t = json_array_get(trend, i);

        if (!json_is_object(t)) {
            rc = dg_bad(d, "trend[]", "an object");
            break;
        }
        rc = dg_str(d, t, "period", false, "trend[]", &period);
        if (rc == CL_OK)
            rc = dg_int(d, t, "opened", "trend[]", &opened);
        if (rc == CL_OK)
            rc = dg_int(d, t, "closed", "trend[]", &closed);
        if (rc == CL_OK)
            rc = dg_int(d, t, "overdue", "trend[]", &overdue);
        if (rc != CL_OK || i < first)
            continue;
        snprintf(v, sizeof(v),
                 "%" JSON_INTEGER_FORMAT " / %" JSON_INTEGER_FORMAT " / %" JSON_INTEGER_FORMAT,
                 opened, closed, overdue);
        buf_puts(&b, i > first ? " · " : " ");
        chat_text(&b, d->st, period);
        buf_printf(&b, " %s", v);
        json_array_append_new(facts, dg_fact(d, period, v));
    }
    buf_append(&b, "", 1);
    if (rc == CL_OK && json_array_size(trend) > 0)
        dg_trend_add(d, b.data, facts);
    else
        json_decref(facts);
    buf_dispose(&b);
    return rc;
}

/* ---- the whole message ---- */

/* "team sre", "incidents facilitated by ana", "all teams", "your teams". */
static int dg_scope(struct dg *d, const json_t *digest, char *out, size_t n)
{
    const json_t *scope = json_object_get(digest, "scope");
    const char *kind, *team, *handle;
    int rc;

    if (!json_is_object(scope))
        return dg_bad(d, "scope", "an object");
    rc = dg_str(d, scope, "kind", false, "scope", &kind);
    if (rc == CL_OK)
        rc = dg_str(d, scope, "team", true, "scope", &team);
    if (rc == CL_OK)
        rc = dg_str(d, scope, "handle", true, "scope", &handle);
    if (rc != CL_OK)
        return rc;
    if (strcmp(kind, "team") == 0 && team != NULL)
        snprintf(out, n, "team %.64s", team);
    else if (strcmp(kind, "facilitator") == 0)
        snprintf(out, n, "incidents facilitated by %.64s", handle != NULL ? handle : "you");
    else if (strcmp(kind, "all") == 0)
        snprintf(out, n, "all teams");
    else if (strcmp(kind, "team_list") == 0)
        snprintf(out, n, "your teams");
    else
        return dg_bad(d, "scope.kind", "team (with scope.team), facilitator, all or team_list");
    return CL_OK;
}

/* Cuts s to at most max bytes on a UTF-8 character boundary. */
static void dg_cut(char *s, size_t max)
{
    size_t n = strlen(s);

    if (n <= max)
        return;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

/* The counts: Slack fields ("*Open*\n12") after the header, an Adaptive Card FactSet
 * after its heading, MessageCard facts in the first section. */
static void dg_counts(struct dg *d, const char *const *names, const json_int_t *values, size_t n)
{
    json_t *list = json_array();
    char text[96];
    size_t i;

    for (i = 0; i < n; i++) {
        snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, values[i]);
        if (d->st != CHAT_STYLE_SLACK) {
            json_array_append_new(list, dg_fact(d, names[i], text));
            continue;
        }
        snprintf(text, sizeof(text), "*%s*\n%" JSON_INTEGER_FORMAT, names[i], values[i]);
        json_array_append_new(list, json_pack("{s:s, s:s}", "type", "mrkdwn", "text", text));
    }
    if (d->st == CHAT_STYLE_SLACK)
        json_array_insert_new(d->parts, 1,
                              json_pack("{s:s, s:o}", "type", "section", "fields", list));
    else if (d->st == CHAT_STYLE_ADAPTIVE)
        json_array_insert_new(d->parts, 1,
                              json_pack("{s:s, s:o}", "type", "FactSet", "facts", list));
    else
        json_array_insert_new(d->parts, 0,
                              json_pack("{s:s, s:o}", "title", "Summary", "facts", list));
}

static int dg_build(struct dg *d, const json_t *digest)
{
    static const char *const names[] = {"Open",     "Overdue", "Slipped", "Done",
                                        "Verified", "Unowned", "Undated"};
    static const char *const keys[] = {"slipped", "done", "verified", "unowned", "undated"};
    json_int_t values[CL_ARRAY_LEN(names)] = {0};
    const json_t *list;
    size_t i;
    int rc = dg_owes(d, digest, &values[0], &values[1]);

    if (rc == CL_OK)
        rc = dg_action_list(d, digest, "slipped", "Slipped since the last digest", DG_SLIPPED);
    if (rc == CL_OK)
        rc = dg_action_list(d, digest, "done", "Done", DG_PLAIN);
    if (rc == CL_OK)
        rc = dg_action_list(d, digest, "verified", "Verified", DG_PLAIN);
    if (rc == CL_OK)
        rc = dg_action_list(d, digest, "unowned", "Without an owner", DG_PLAIN);
    if (rc == CL_OK)
        rc = dg_action_list(d, digest, "undated", "Without a due date", DG_PLAIN);
    if (rc == CL_OK)
        rc = dg_reviews(d, digest);
    if (rc == CL_OK)
        rc = dg_action_list(d, digest, "drift", "Drift between closeloop and the trackers",
                            DG_DRIFT);
    if (rc == CL_OK)
        rc = dg_trend(d, digest);
    for (i = 0; rc == CL_OK && i < CL_ARRAY_LEN(keys); i++) {
        rc = dg_list_of(d, digest, keys[i], "", &list);
        values[2 + i] = (json_int_t)json_array_size(list);
    }
    if (rc == CL_OK)
        dg_counts(d, names, values, CL_ARRAY_LEN(names));
    return rc;
}

/* The message's frame: Slack's header block, an Adaptive Card with its heading, or a
 * MessageCard titled `header`. */
static void dg_frame(struct dg *d, const char *header)
{
    struct buf b;

    if (d->st == CHAT_STYLE_SLACK) {
        d->msg = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}]}", "text", header, "blocks", "type",
                           "header", "text", "type", "plain_text", "text", header);
        d->parts = json_object_get(d->msg, "blocks");
    } else if (d->st == CHAT_STYLE_ADAPTIVE) {
        buf_init(&b);
        chat_text(&b, d->st, header);
        buf_append(&b, "", 1);
        d->msg = chat_adaptive_card();
        d->parts = json_object_get(d->msg, "body");
        json_array_append_new(d->parts, chat_adaptive_heading(b.data));
        buf_dispose(&b);
    } else {
        d->msg = chat_teams_card(header, header);
        d->parts = json_object_get(d->msg, "sections");
    }
}

/* The period line closing the message. */
static void dg_context(struct dg *d, const char *context)
{
    json_t *t;
    struct buf b;

    if (d->st == CHAT_STYLE_MESSAGECARD) {
        json_array_append_new(d->parts, json_pack("{s:s}", "text", context));
        return;
    }
    buf_init(&b);
    chat_text(&b, d->st, context);
    buf_append(&b, "", 1);
    if (d->st == CHAT_STYLE_SLACK) {
        t = json_pack("{s:s, s:[{s:s, s:s}]}", "type", "context", "elements", "type", "mrkdwn",
                      "text", b.data);
    } else {
        t = chat_adaptive_text(b.data);
        json_object_set_new(t, "isSubtle", json_true());
        json_object_set_new(t, "size", json_string("Small"));
    }
    json_array_append_new(d->parts, t);
    buf_dispose(&b);
}

/* Builds the message once, with d's budget, into *body (malloc'd). */
static int dg_render(struct dg *d, const json_t *payload, const char *header, const char *context,
                     char **body)
{
    int rc;

    dg_frame(d, header);
    rc = dg_build(d, payload);
    if (rc != CL_OK) {
        json_decref(d->msg);
        d->msg = NULL;
        return rc;
    }
    dg_context(d, context);
    if (d->st == CHAT_STYLE_ADAPTIVE)
        d->msg = chat_adaptive_message(d->msg);
    *body = chat_dump(d->msg);
    d->msg = NULL;
    return *body != NULL ? CL_OK : cl_fail(d->err, CL_EINVAL, "digest: no JSON");
}

static int digest_render(const json_t *payload, const char *flavour, char **body_json,
                         struct cl_err *err)
{
    /* items and bytes per list: the first budget whose message fits CHAT_MAX_BODY wins */
    static const size_t budgets[][2] = {
        {DG_MAX_ITEMS, DG_MAX_SECTION}, {5, 1200}, {2, 400}, {0, 0}};
    struct dg d = {.err = err};
    const json_t *period = json_object_get(payload, "period");
    const char *key, *from = NULL, *to = NULL, *tz = NULL;
    char scope[128];
    char header[256];
    char context[400];
    size_t i;
    int rc;

    *body_json = NULL;
    if (chat_style_parse(&d.st, flavour) != CL_OK)
        return cl_fail(err, CL_EINVAL, "digest: no chat flavour \"%s\"", flavour);
    if (!json_is_object(payload))
        return cl_fail(err, CL_EINVAL, "digest: payload is not an object");
    if (!json_is_object(period))
        return dg_bad(&d, "period", "an object");
    rc = dg_str(&d, period, "key", false, "period", &key);
    if (rc == CL_OK)
        rc = dg_str(&d, period, "from", true, "period", &from);
    if (rc == CL_OK)
        rc = dg_str(&d, period, "to", true, "period", &to);
    if (rc == CL_OK)
        rc = dg_str(&d, period, "timezone", true, "period", &tz);
    if (rc == CL_OK)
        rc = dg_scope(&d, payload, scope, sizeof(scope));
    if (rc != CL_OK)
        return rc;
    snprintf(header, sizeof(header), "closeloop digest: %s, %.40s", scope, key);
    dg_cut(header, DG_MAX_HEADER);
    snprintf(context, sizeof(context),
             "Period %.40s (%.40s to %.40s, %.64s). The work and its "
             "dates, never a ranking of people.",
             key, from ? from : "?", to ? to : "?", tz ? tz : "UTC");
    for (i = 0; i < CL_ARRAY_LEN(budgets); i++) {
        d.max_items = budgets[i][0];
        d.max_section = budgets[i][1];
        rc = dg_render(&d, payload, header, context, body_json);
        if (rc != CL_OK || strlen(*body_json) <= CHAT_MAX_BODY)
            return rc;
        free(*body_json);
        *body_json = NULL;
    }
    return cl_fail(err, CL_EINVAL, "digest: over %d bytes with every list cut", CHAT_MAX_BODY);
}

const struct chat_kind chat_kind_digest = {"digest", digest_render};
