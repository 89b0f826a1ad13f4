/* chat_kinds: the kinds of chat message closeloop posts, one entry per kind, like the mail
 * kinds (mail/kinds.h). A queued row of chat_queue names its kind; the chat worker asks
 * that kind to render the row's payload for the channel's format (chat_channel_format():
 * "slack": a Block Kit message; "teams": an Adaptive Card message, what a Teams Workflows
 * webhook takes; "teams_messagecard": a MessageCard, for a legacy Office 365 connector),
 * under CHAT_MAX_BODY bytes, and never names a kind itself. Adding a kind: define a
 * `const struct chat_kind` in its own module and add its address to the table in
 * src/notify/chat_kinds.c. Pure data, any thread. */
#ifndef CLOSELOOP_CHAT_KINDS_H
#define CLOSELOOP_CHAT_KINDS_H

#include "closeloop/util/cl.h"

#include <jansson.h>

struct chat_kind {
    const char *name; /* as cl_chat_enqueue() got it: [a-z][a-z0-9_]{0,31} */
    /* Sets *body_json (malloc'd, the caller frees) to the JSON body to post, from the
     * row's payload (borrowed), for the format "slack", "teams" or "teams_messagecard"
     * (chat_render.h's chat_style_parse()). A failure (CL_EINVAL with
     * a reason) fails the row for good, and the reason is shown in the chat list. */
    int (*render)(const json_t *payload, const char *flavour, char **body_json, struct cl_err *err);
};

/* The kind named `name`, or NULL. */
const struct chat_kind *chat_kind_find(const char *name);

/* "test": what `closeloopd chat-test` queues. Payload {"note": text (optional)}. */
extern const struct chat_kind chat_kind_test;
/* "digest": a digest (the JSON of cl_digest_content(), see chat_digest.h). */
extern const struct chat_kind chat_kind_digest;

#endif
