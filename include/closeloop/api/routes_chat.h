/* routes_chat: GET /api/v1/chat, the chat queue for operators (admin scope): messages
 * newest first, by status, with their attempts and the webhook's last reply
 * (sql/functions/chat.sql's cl_chat_list()), and whether this instance posts. */
#ifndef CLOSELOOP_ROUTES_CHAT_H
#define CLOSELOOP_ROUTES_CHAT_H

#include "closeloop/api/api.h"

/* Adds the routes to a (at start-up, before serving). */
void routes_chat_add(struct api *a);

#endif
