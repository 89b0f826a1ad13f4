/* routes_calendar: calendar feeds. POST/GET /api/v1/calendar-feeds and DELETE
 * /api/v1/calendar-feeds/{id} (bearer token, write/read/write scope) make, list and revoke
 * feeds; GET /calendar/{token}.ics (no bearer token: the token in the URL is the
 * authority, so calendar apps can subscribe) answers the feed as text/calendar, rendered
 * by ics (src/cal/ics.c) from sql/functions/calendar.sql's cl_calendar_feed(). A feed's
 * token is "clf_" + 43 base64url characters (32 random bytes); only its SHA-256 is stored,
 * it is shown once (in the answer to POST) and never logged. Loop-only. */
#ifndef CLOSELOOP_ROUTES_CALENDAR_H
#define CLOSELOOP_ROUTES_CALENDAR_H

#include "closeloop/api/api.h"

#include <stdbool.h>

#define CALENDAR_TOKEN_PREFIX "clf_"
#define CALENDAR_TOKEN_LEN    47 /* the prefix and 43 base64url characters */

/* Adds the routes to a (at start-up, before serving). */
void routes_calendar_add(struct api *a);

/* Whether s has the shape of a feed token (checked before it reaches SQL or a log). */
bool routes_calendar_token_valid(const char *s);

#endif
