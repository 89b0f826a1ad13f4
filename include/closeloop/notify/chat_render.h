/* chat_render: text helpers the chat kinds share. Slack mrkdwn: &, < and > escaped as
 * &amp; &lt; &gt; in user text, links as <url|text>. Teams (MessageCard markdown): the
 * same three escaped, [ ] \ * _ ` backslash-escaped, links as [text](url). A url that is
 * not http(s):// is not linked (its text alone is written); characters that would end the
 * link early (| < > ( ) space) are percent-encoded. Pure functions, any thread. */
#ifndef CLOSELOOP_CHAT_RENDER_H
#define CLOSELOOP_CHAT_RENDER_H

#include "closeloop/util/buf.h"

#include <jansson.h>
#include <stdbool.h>

enum chat_style { CHAT_STYLE_SLACK, CHAT_STYLE_TEAMS };

/* CL_OK and *out set for "slack" or "teams"; CL_EINVAL otherwise. */
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
/* A Slack mrkdwn "section" block / a Teams section {"title"?, "text"}. */
json_t *chat_slack_section(const char *mrkdwn);
/* A Teams MessageCard envelope with title and summary (sections added by the caller). */
json_t *chat_teams_card(const char *title, const char *summary);

#endif
