/* routes_sync: the API of the sync (link, status, import, doctor) and the webhook
 * deliveries of every tracker. */
#ifndef CLOSELOOP_ROUTES_SYNC_H
#define CLOSELOOP_ROUTES_SYNC_H

#include "closeloop/api/api.h"

/* Adds the routes to a (at start-up, before serving). */
void routes_sync_add(struct api *a);

#endif
