/* routes_digests: the managers' digests (sql/functions/digests.sql, report/digest).
 *   GET  /api/v1/digests                  what went out: runs newest first (admin)
 *   GET  /api/v1/digests/{to}/preview?period=&format=md|html|json  what one recipient
 *        would get (to: a handle or a recipient key); the HTML shows the chart as a data:
 *        URL; nothing recorded (read)
 *   POST /api/v1/digests/send-now {"to"}  queues the current period's digest now,
 *        idempotent per (recipient, period) (admin) */
#ifndef CLOSELOOP_ROUTES_DIGESTS_H
#define CLOSELOOP_ROUTES_DIGESTS_H

#include "closeloop/api/api.h"

/* Adds the routes to a (at start-up, before serving). */
void routes_digests_add(struct api *a);

#endif
