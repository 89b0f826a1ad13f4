/* routes_outcomes: what a review meeting reads and decides (sql/functions/outcomes.sql).
 *   GET  /api/v1/incidents/{key}/review/agenda?format=json|md|html
 *   POST /api/v1/incidents/{key}/review/hold      outcomes, notes, attended: one transaction
 *   GET  /api/v1/incidents/{key}/review/summary?format=json|md|html
 *   GET  /api/v1/reviews?team=&from=&to=&status=&kind=&limit=&cursor=
 *   POST /api/v1/actions/{id}/verify              {"evidence"}
 * The agenda and the summary are rendered here (review/agenda.h, review/summary.h). */
#ifndef CLOSELOOP_ROUTES_OUTCOMES_H
#define CLOSELOOP_ROUTES_OUTCOMES_H

#include "closeloop/api/api.h"

#define OUTCOMES_MAX_ITEMS 500 /* outcomes one hold may record */

/* Adds the routes to a (at start-up, before serving). */
void routes_outcomes_add(struct api *a);

#endif
