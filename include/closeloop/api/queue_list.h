/* queue_list: the operator's list of an outbound queue (mail, chat): GET ...?status=
 * queued|sending|sent|failed&limit=&cursor= validated the same way for each, then one SQL
 * function (status text, before bigint, lim int) -> jsonb run, and its object answered
 * with "enabled" added. */
#ifndef CLOSELOOP_QUEUE_LIST_H
#define CLOSELOOP_QUEUE_LIST_H

#include "closeloop/api/api.h"

#include <stdbool.h>

/* Validates the query and runs sql ("SELECT f($1, $2::bigint, $3::int)"); on_reply gets
 * the answer (see queue_list_reply). */
void queue_list_run(struct api_req *q, const char *sql, api_sql_fn on_reply);
/* Answers the jsonb object of r with "enabled": enabled added; `what` names the list in
 * the error when it is not an object. */
void queue_list_reply(struct api_req *q, const struct db_reply *r, bool enabled, const char *what);

#endif
