#include "closeloop/notify/chat_render.h"

#include "closeloop/util/cl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int chat_style_parse(enum chat_style *out, const char *flavour)
{
    if (flavour != NULL && strcmp(flavour, "slack") == 0)
        *out = CHAT_STYLE_SLACK;
    else if (flavour != NULL && strcmp(flavour, "teams") == 0)
        *out = CHAT_STYLE_ADAPTIVE;
    else if (flavour != NULL && strcmp(flavour, "teams_messagecard") == 0)
        *out = CHAT_STYLE_MESSAGECARD;
    else
        return CL_EINVAL;
    return CL_OK;
}

/* Adaptive Card markdown takes no HTML, and some renderers decode entities while others
 * show them raw, so no entity is written: the characters that start its markup (and an
 * autolink or tag: <) get a backslash, and "{{" is broken so that no DATE()/TIME()
 * function is read in user text. */
static void chat_text_adaptive(struct buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (strchr("\\*_[]`<", *s) != NULL) {
            buf_puts(b, "\\");
            buf_append(b, s, 1);
        } else if (*s == '{' && s[1] == '{') {
            buf_puts(b, "{\xE2\x80\x8B"); /* then U+200B ZERO WIDTH SPACE */
        } else if (*s == '\r' || *s == '\n' || *s == '\t') {
            buf_puts(b, " ");
        } else {
            buf_append(b, s, 1);
        }
    }
}

void chat_text(struct buf *b, enum chat_style st, const char *s)
{
    if (st == CHAT_STYLE_ADAPTIVE) {
        chat_text_adaptive(b, s);
        return;
    }
    for (; *s != '\0'; s++) {
        if (*s == '&')
            buf_puts(b, "&amp;");
        else if (*s == '<')
            buf_puts(b, "&lt;");
        else if (*s == '>')
            buf_puts(b, "&gt;");
        else if (st == CHAT_STYLE_MESSAGECARD && strchr("[]\\*_`", *s) != NULL) {
            buf_puts(b, "\\");
            buf_append(b, s, 1);
        } else if (*s == '\r' || *s == '\n' || *s == '\t')
            buf_puts(b, " "); /* one item, one line */
        else
            buf_append(b, s, 1);
    }
}

void chat_bold(struct buf *b, enum chat_style st, const char *s)
{
    buf_puts(b, st == CHAT_STYLE_SLACK ? "*" : "**");
    chat_text(b, st, s);
    buf_puts(b, st == CHAT_STYLE_SLACK ? "*" : "**");
}

static void chat_url(struct buf *b, const char *url)
{
    for (; *url != '\0'; url++) {
        if (strchr("|<>() \"", *url) != NULL || (unsigned char)*url < 0x20)
            buf_printf(b, "%%%02X", (unsigned char)*url);
        else
            buf_append(b, url, 1);
    }
}

void chat_link(struct buf *b, enum chat_style st, const char *url, const char *text)
{
    if (url == NULL ||
        (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)) {
        chat_text(b, st, text);
        return;
    }
    if (st == CHAT_STYLE_SLACK) {
        buf_puts(b, "<");
        chat_url(b, url);
        buf_puts(b, "|");
        chat_text(b, st, text);
        buf_puts(b, ">");
    } else {
        buf_puts(b, "[");
        chat_text(b, st, text);
        buf_puts(b, "](");
        chat_url(b, url);
        buf_puts(b, ")");
    }
}

char *chat_dump(json_t *v)
{
    char *s;

    if (v == NULL)
        return NULL;
    s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return s;
}

json_t *chat_slack_section(const char *mrkdwn)
{
    return json_pack("{s:s, s:{s:s, s:s}}", "type", "section", "text", "type", "mrkdwn", "text",
                     mrkdwn);
}

json_t *chat_teams_card(const char *title, const char *summary)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[]}", "@type", "MessageCard", "@context",
                     "https://schema.org/extensions", "themeColor", "2E6DB4", "title", title,
                     "summary", summary, "sections");
}

json_t *chat_adaptive_card(void)
{
    return json_pack("{s:s, s:s, s:s, s:[], s:{s:s}}", "$schema",
                     "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard",
                     "version", "1.4", "body", "msteams", "width", "Full");
}

json_t *chat_adaptive_message(json_t *card)
{
    if (card == NULL)
        return NULL;
    return json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments", "contentType",
                     "application/vnd.microsoft.card.adaptive", "contentUrl", "content", card);
}

json_t *chat_adaptive_text(const char *markdown)
{
    return json_pack("{s:s, s:s, s:b}", "type", "TextBlock", "text", markdown, "wrap", 1);
}

json_t *chat_adaptive_heading(const char *markdown)
{
    return json_pack("{s:s, s:s, s:b, s:s, s:s}", "type", "TextBlock", "text", markdown, "wrap", 1,
                     "size", "Medium", "weight", "Bolder");
}
