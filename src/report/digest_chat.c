#include "closeloop/report/digest_chat.h"

#include "closeloop/util/buf.h"

#include <stdlib.h>
#include <string.h>

static const char *digest_chat_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s != NULL ? s : "";
}

/* Slack mrkdwn: &, < and > are its markup (links, mentions) and are escaped; a | would end
 * a link's text early. */
static void digest_chat_slack_text(struct buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '&')
            buf_puts(b, "&amp;");
        else if (*s == '<')
            buf_puts(b, "&lt;");
        else if (*s == '>')
            buf_puts(b, "&gt;");
        else if (*s == '|')
            buf_puts(b, "/");
        else
            buf_append(b, s, 1);
    }
}

/* Whether url may be linked: http(s), no space, no markup of Slack's. */
static int digest_chat_url_ok(const char *url)
{
    const char *p;

    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return 0;
    for (p = url; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || strchr("<>|\"", *p) != NULL)
            return 0;
    return 1;
}

/* "INC-1 #7: title (owner, due 2026-12-01)" as plain text. */
static void digest_chat_line(struct buf *b, const json_t *a)
{
    const char *why = digest_chat_str(a, "why");

    buf_printf(b, "%s #%" JSON_INTEGER_FORMAT ": %s (%s, ", digest_chat_str(a, "incident"),
               json_integer_value(json_object_get(a, "id")), digest_chat_str(a, "title"),
               json_is_string(json_object_get(a, "owner")) ? digest_chat_str(a, "owner")
                                                           : "no owner");
    if (strcmp(why, "due_moved") == 0)
        buf_printf(b, "due moved %s to %s)", digest_chat_str(a, "from"),
                   json_is_string(json_object_get(a, "to")) ? digest_chat_str(a, "to") : "none");
    else
        buf_printf(b, "due %s, now overdue)", digest_chat_str(a, "due_on"));
}

static json_t *digest_chat_heading(const json_t *d)
{
    const json_t *scope = json_object_get(d, "scope");
    const char *kind = digest_chat_str(scope, "kind");
    struct buf b;
    json_t *s;

    buf_init(&b);
    buf_printf(&b, "Digest %s: ", digest_chat_str(json_object_get(d, "period"), "key"));
    if (strcmp(kind, "team") == 0)
        buf_printf(&b, "team %s", digest_chat_str(scope, "team"));
    else if (strcmp(kind, "facilitator") == 0)
        buf_printf(&b, "incidents of %s", digest_chat_str(scope, "handle"));
    else
        buf_puts(&b, "all teams");
    s = json_string(b.data);
    buf_dispose(&b);
    return s;
}

static json_t *digest_chat_counts(const json_t *d)
{
    const json_t *c = json_object_get(d, "counts");
    struct buf b;
    json_t *s;

    buf_init(&b);
    buf_printf(&b,
               "%" JSON_INTEGER_FORMAT " open, %" JSON_INTEGER_FORMAT
               " overdue, %" JSON_INTEGER_FORMAT " slipped, %" JSON_INTEGER_FORMAT
               " done, %" JSON_INTEGER_FORMAT " unowned, %" JSON_INTEGER_FORMAT " undated",
               json_integer_value(json_object_get(c, "open")),
               json_integer_value(json_object_get(c, "overdue")),
               json_integer_value(json_object_get(c, "slipped")),
               json_integer_value(json_object_get(c, "done")),
               json_integer_value(json_object_get(c, "unowned")),
               json_integer_value(json_object_get(c, "undated")));
    s = json_string(b.data);
    buf_dispose(&b);
    return s;
}

static json_t *digest_chat_slack(const json_t *d)
{
    const json_t *slipped = json_object_get(d, "slipped");
    json_t *heading = digest_chat_heading(d);
    json_t *counts = digest_chat_counts(d);
    json_t *blocks = json_array();
    json_t *body;
    struct buf b;
    size_t i;

    json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:O}}", "type", "header", "text", "type",
                                            "plain_text", "text", heading));
    buf_init(&b);
    digest_chat_slack_text(&b, json_string_value(counts));
    json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s}}", "type", "section", "text",
                                            "type", "mrkdwn", "text", b.data));
    buf_dispose(&b);
    buf_init(&b);
    for (i = 0; i < json_array_size(slipped) && i < DIGEST_CHAT_ITEMS; i++) {
        const json_t *a = json_array_get(slipped, i);
        const char *url = digest_chat_str(a, "url");
        struct buf line;

        buf_init(&line);
        digest_chat_line(&line, a);
        buf_puts(&b, "• ");
        if (digest_chat_url_ok(url)) {
            buf_printf(&b, "<%s|", url);
            digest_chat_slack_text(&b, line.data);
            buf_puts(&b, ">");
        } else {
            digest_chat_slack_text(&b, line.data);
        }
        buf_puts(&b, "\n");
        buf_dispose(&line);
    }
    if (b.len > 0)
        json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s+}}", "type", "section", "text",
                                                "type", "mrkdwn", "text",
                                                "*Slipped since the last digest*\n", b.data));
    buf_dispose(&b);
    body = json_pack("{s:o, s:o}", "text", heading, "blocks", blocks);
    json_decref(counts);
    return body;
}

static json_t *digest_chat_teams(const json_t *d)
{
    const json_t *slipped = json_object_get(d, "slipped");
    json_t *items = json_array();
    json_t *card;
    size_t i;

    json_array_append_new(items, json_pack("{s:s, s:o, s:s, s:s, s:b}", "type", "TextBlock", "text",
                                           digest_chat_heading(d), "size", "Large", "weight",
                                           "Bolder", "wrap", 1));
    json_array_append_new(items, json_pack("{s:s, s:o, s:b}", "type", "TextBlock", "text",
                                           digest_chat_counts(d), "wrap", 1));
    if (json_array_size(slipped) > 0)
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:b}", "type", "TextBlock", "text",
                                               "Slipped since the last digest", "weight", "Bolder",
                                               "wrap", 1));
    for (i = 0; i < json_array_size(slipped) && i < DIGEST_CHAT_ITEMS; i++) {
        const json_t *a = json_array_get(slipped, i);
        const char *url = digest_chat_str(a, "url");
        struct buf line;
        json_t *c;

        buf_init(&line);
        digest_chat_line(&line, a);
        c = json_pack("{s:s, s:[{s:s, s:s, s:b}]}", "type", "Container", "items", "type",
                      "TextBlock", "text", line.data, "wrap", 1);
        if (digest_chat_url_ok(url))
            json_object_set_new(c, "selectAction",
                                json_pack("{s:s, s:s}", "type", "Action.OpenUrl", "url", url));
        json_array_append_new(items, c);
        buf_dispose(&line);
    }
    card = json_pack("{s:s, s:s, s:s, s:o}", "type", "AdaptiveCard", "$schema",
                     "http://adaptivecards.io/schemas/adaptive-card.json", "version", "1.4", "body",
                     items);
    return json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments", "contentType",
                     "application/vnd.microsoft.card.adaptive", "contentUrl", "content", card);
}

int digest_chat_render(const json_t *payload, const char *flavour, char **body_json,
                       struct cl_err *err)
{
    json_t *body;

    if (!json_is_object(payload) || !json_is_object(json_object_get(payload, "period")) ||
        !json_is_object(json_object_get(payload, "counts")) ||
        !json_is_array(json_object_get(payload, "slipped")))
        return cl_fail(err, CL_EINVAL, "digest chat: not a digest (period, counts, slipped)");
    if (flavour != NULL && strcmp(flavour, "slack") == 0)
        body = digest_chat_slack(payload);
    else if (flavour != NULL && strcmp(flavour, "teams") == 0)
        body = digest_chat_teams(payload);
    else
        return cl_fail(err, CL_EINVAL, "digest chat: flavour \"%s\" is neither slack nor teams",
                       flavour != NULL ? flavour : "(none)");
    *body_json = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return *body_json != NULL ? CL_OK : cl_fail(err, CL_EINVAL, "digest chat: not UTF-8");
}
