/* routes_records: the /api/v1 routes that record many actions at once and correct
 * records: POST /api/v1/incidents/{key}/actions (one transaction for every row), POST
 * .../actions/{id}/archive|unarchive, .../incidents/{key}/archive|unarchive|rekey. Each
 * handler validates its input, then runs one SQL statement (sql/functions/intake.sql,
 * corrections.sql). */
#ifndef CLOSELOOP_ROUTES_RECORDS_H
#define CLOSELOOP_ROUTES_RECORDS_H

#include "closeloop/api/api.h"

#define RECORDS_MAX_ROWS 500 /* actions one batch may create */

/* Adds the routes to a (at start-up, before serving). */
void routes_records_add(struct api *a);

#endif
