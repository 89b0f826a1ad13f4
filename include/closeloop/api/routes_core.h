/* resource: the /api/v1 routes for teams, people, incidents and actions, as a table
 * that api.c routes through. Handlers follow api.h's contract. */
#ifndef CLOSELOOP_RESOURCE_H
#define CLOSELOOP_RESOURCE_H

#include "closeloop/api/api.h"

extern const struct api_route resource_routes[];
extern const int resource_nroutes;

#endif
