/* routes_core: the /api/v1 routes for teams, people, incidents and actions. */
#ifndef CLOSELOOP_ROUTES_CORE_H
#define CLOSELOOP_ROUTES_CORE_H

#include "closeloop/api/api.h"

/* Adds the routes to a (at start-up, before serving). */
void routes_core_add(struct api *a);

/* The fields an action's body may hold, but the tracker ones (static; *n gets how many). */
const struct valid_field *routes_core_action_fields(size_t *n);

#endif
