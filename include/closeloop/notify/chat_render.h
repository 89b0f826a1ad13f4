/* chat_render: text helpers the chat kinds share, one style per message format.
 *  - Slack mrkdwn: &, < and > escaped as &amp; &lt; &gt; in user text, links as <url|text>.
 *  - Teams Adaptive Card (what a Workflows webhook takes; TextBlock and Fact markdown, a
 *    CommonMark subset without HTML): \ * _ [ ] ` < backslash-escaped, "{{" (the card's
 *    DATE()/TIME() functions) broken by a zero-width space, links as [text](url).
 *  - Teams MessageCard (legacy Office 365 connectors): &, < and > as entities, [ ] \ * _ `
 *    backslash-escaped, links as [text](url).
 * Line breaks in user text become spaces (one item, one line). A url that is not
 * http(s):// is not linked (its text alone is written); characters that would end the
 * link early (| < > ( ) space) are percent-encoded. Pure functions, any thread. */
#ifndef CLOSELOOP_CHAT_RENDER_H
#define CLOSELOOP_CHAT_RENDER_H

#include "closeloop/util/buf.h"

#include <jansson.h>
#include <stdbool.h>

/* Bytes a rendered message stays under: Teams refuses a post over about 28 KB. */
#define CHAT_MAX_BODY 25000

enum chat_style { CHAT_STYLE_SLACK, CHAT_STYLE_ADAPTIVE, CHAT_STYLE_MESSAGECARD };

/* CL_OK and *out set for "slack", "teams" (Adaptive Card) or "teams_messagecard" (the
 * formats of chat_channel_format()); CL_EINVAL otherwise. */
int chat_style_parse(enum chat_style *out, const char *flavour);
/* Appends s escaped for the style's markup. */
void chat_text(struct buf *b, enum chat_style st, const char *s);
/* Appends a link to url showing text (escaped); text alone when url is NULL or not
 * http(s)://. */
void chat_link(struct buf *b, enum chat_style st, const char *url, const char *text);
/* Appends bold text. */
void chat_bold(struct buf *b, enum chat_style st, const char *s);
/* json_dumps(compact) of v, then json_decref(v); *out NULL only when v is NULL. */
char *chat_dump(json_t *v);
/* A Slack mrkdwn "section" block. */
json_t *chat_slack_section(const char *mrkdwn);
/* A Teams MessageCard envelope with title and summary (sections added by the caller). */
json_t *chat_teams_card(const char *title, const char *summary);
/* An Adaptive Card (version 1.4, full width in Teams) with an empty "body" the caller
 * fills. */
json_t *chat_adaptive_card(void);
/* The message a Teams Workflows webhook takes: {"type": "message", "attachments": [card
 * as application/vnd.microsoft.card.adaptive]}. Steals card (NULL gives NULL). */
json_t *chat_adaptive_message(json_t *card);
/* A wrapping TextBlock of markdown (already escaped); a heading is Medium and Bolder. */
json_t *chat_adaptive_text(const char *markdown);
json_t *chat_adaptive_heading(const char *markdown);

#endif
