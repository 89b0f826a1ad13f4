/* chat_conf: the chat channels of closeloopd's configuration, one [chat.NAME] section
 * each (Slack or Microsoft Teams incoming webhooks):
 *
 *   [chat.ops]
 *   kind = slack            slack | teams
 *   url = https://hooks.slack.com/services/...   a secret: never printed nor logged
 *   timeout = 10            seconds per post
 *   card = adaptive         teams only: adaptive (a Workflows webhook; the default) |
 *                           messagecard (a legacy Office 365 connector)
 *
 * The keys are "chat.NAME.kind" etc. for conf_set(). The url must be https://; the
 * top-level key chat_allow_http_loopback = true (for tests only) also admits
 * http://127.0.0.1[:PORT]/... . The struct is embedded in struct conf; no allocation. */
#ifndef CLOSELOOP_CHAT_CONF_H
#define CLOSELOOP_CHAT_CONF_H

#include "closeloop/util/cl.h"

#include <stdbool.h>
#include <stdio.h>

#define CHAT_CONF_MAX  16   /* channels */
#define CHAT_CONF_NAME 33   /* [a-z0-9_-]{1,32} */
#define CHAT_CONF_URL  1024 /* bytes of a webhook URL */

enum chat_flavour { CHAT_NONE, CHAT_SLACK, CHAT_TEAMS };
/* What a Teams channel is sent: an Adaptive Card message (Workflows) or a MessageCard. */
enum chat_card { CHAT_CARD_ADAPTIVE, CHAT_CARD_MESSAGECARD };

struct chat_channel {
    char name[CHAT_CONF_NAME];
    enum chat_flavour flavour;
    char url[CHAT_CONF_URL]; /* secret */
    char url_where[128];     /* file:line that set the url, for start-up errors */
    char where[128];         /* file:line of the section's first key */
    double timeout;          /* seconds per post */
    enum chat_card card;     /* teams only; CHAT_CARD_ADAPTIVE unless set */
    char card_where[128];    /* file:line that set card ("" when unset) */
};

struct chat_conf {
    struct chat_channel channels[CHAT_CONF_MAX];
    int n;
};

/* Sets "NAME.key" (the part after "chat.") to value; CL_EINVAL naming `where`. */
int chat_conf_set(struct chat_conf *c, const char *key, const char *value, const char *where,
                  struct cl_err *err);
/* Every channel has a kind and a url, each url is https:// (or, with allow_loopback,
 * http://127.0.0.1...), and card is set on teams channels only. The message names the
 * file:line. */
int chat_conf_validate(const struct chat_conf *c, bool allow_loopback, struct cl_err *err);
/* The channel `name`, or NULL. */
const struct chat_channel *chat_conf_find(const struct chat_conf *c, const char *name);
/* "slack" / "teams" / "" */
const char *chat_flavour_name(enum chat_flavour f);
/* What the chat kinds render for the channel (chat_kinds.h): "slack", "teams" (an
 * Adaptive Card message) or "teams_messagecard"; "" without a kind. */
const char *chat_channel_format(const struct chat_channel *ch);
/* Whether url may be posted to (the rule of chat_conf_validate). */
bool chat_conf_url_ok(const char *url, bool allow_loopback);
/* chat.NAME.kind = ..., chat.NAME.url = (set), chat.NAME.timeout = ..., and
 * chat.NAME.card = ... for teams channels. */
void chat_conf_print(const struct chat_conf *c, FILE *out);

#endif
