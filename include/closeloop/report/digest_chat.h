/* digest_chat: a managers' digest (the JSON of cl_digest_content()) for a chat channel:
 * the chat queue's kind "digest". One message: the heading, the counts, and up to
 * DIGEST_CHAT_ITEMS actions that slipped, each linked to its tracker issue; the whole
 * digest is in the mail. flavour "slack": a Slack incoming-webhook body (Block Kit, user
 * text escaped for mrkdwn); "teams": a Microsoft Teams message with an Adaptive Card
 * (links as Action.OpenUrl, never markup). Registered as a `struct chat_kind` in
 * src/notify/chat_kinds.c (the chat part). Pure functions, any thread. */
#ifndef CLOSELOOP_DIGEST_CHAT_H
#define CLOSELOOP_DIGEST_CHAT_H

#include "closeloop/util/cl.h"

#include <jansson.h>

#define DIGEST_CHAT_ITEMS 10

/* The webhook body (JSON text, heap; the caller frees) into *body_json. CL_EINVAL when
 * payload is not a digest or flavour is neither "slack" nor "teams". */
int digest_chat_render(const json_t *payload, const char *flavour, char **body_json,
                       struct cl_err *err);

#endif
