/* routes_reviews: scheduling the close-the-loop review of an incident by hand, moving
 * and cancelling it, its history, and a team's backlog review with its agenda. Each
 * route runs one function of sql/functions/reviews.sql, in one transaction with the
 * review's events and the invitations it queues. Loop-only. */
#ifndef CLOSELOOP_ROUTES_REVIEWS_H
#define CLOSELOOP_ROUTES_REVIEWS_H

#include "closeloop/api/api.h"

void routes_reviews_add(struct api *a);

#endif
