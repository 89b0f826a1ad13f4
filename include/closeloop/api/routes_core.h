/* routes_core: the /api/v1 routes for teams, people, incidents and actions. */
#ifndef CLOSELOOP_ROUTES_CORE_H
#define CLOSELOOP_ROUTES_CORE_H

#include "closeloop/api/api.h"

/* Adds the routes to a (at start-up, before serving). */
void routes_core_add(struct api *a);

#endif
