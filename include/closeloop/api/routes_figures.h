/* routes_figures: GET /api/v1/figures, the figures per team, owner or incident with their
 * trend (sql/functions/figures.sql's cl_figures()), which the dashboard reads. */
#ifndef CLOSELOOP_ROUTES_FIGURES_H
#define CLOSELOOP_ROUTES_FIGURES_H

#include "closeloop/api/api.h"

/* Adds the routes to a (at start-up, before serving). */
void routes_figures_add(struct api *a);

#endif
