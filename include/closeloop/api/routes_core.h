/* routes_core: the /api/v1 routes for teams, people, incidents and actions. */
#ifndef CLOSELOOP_ROUTES_CORE_H
#define CLOSELOOP_ROUTES_CORE_H

#include "closeloop/api/api.h"

/* Adds the routes to a (at start-up, before serving). */
void routes_core_add(struct api *a);

/* The fields an action's body may hold, but the tracker ones (static; *n gets how many). */
const struct valid_field *routes_core_action_fields(size_t *n);

/* A list keyset-paged by id: `sql` takes ([path capture 0 when by_path,] cursor, limit + 1)
 * and returns rows (json, cursor); the query may hold only limit= and cursor=. */
void routes_core_id_page(struct api_req *q, const char *sql, bool by_path);

#endif
