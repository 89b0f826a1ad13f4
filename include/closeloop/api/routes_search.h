/* routes_search: GET /api/v1/search, full-text search across the archive (incidents,
 * actions, progress notes and reasons, review notes, review summaries), ranked, each hit
 * with a snippet whose matching words sit between U+0002 and U+0003
 * (sql/functions/search.sql's cl_search()). */
#ifndef CLOSELOOP_ROUTES_SEARCH_H
#define CLOSELOOP_ROUTES_SEARCH_H

#include "closeloop/api/api.h"

#define SEARCH_MAX_LIMIT     100 /* hits per page */
#define SEARCH_DEFAULT_LIMIT 20
#define SEARCH_MAX_HITS      1000 /* the best this many hits can be paged through */

/* Adds the routes to a (at start-up, before serving). */
void routes_search_add(struct api *a);

#endif
