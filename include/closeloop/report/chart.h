/* chart: the digests' trend chart, a PNG drawn with cairo: one line each for the actions
 * opened, closed and overdue per period, the periods along the x axis (labelled with
 * their keys), the count up the y axis (labelled), a legend. Pure functions, any thread. */
#ifndef CLOSELOOP_CHART_H
#define CLOSELOOP_CHART_H

#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stddef.h>

#define CHART_WIDTH  560
#define CHART_HEIGHT 240

/* The PNG of trend (borrowed: the digest's "trend" array of {"period", "opened",
 * "closed", "overdue"}, oldest first) into *png (heap; the caller frees) and *len.
 * CL_EINVAL when trend is not such an array or is empty; CL_EIO when cairo fails. */
int chart_trend_png(const json_t *trend, unsigned char **png, size_t *len, struct cl_err *err);

/* Frees what cairo and fontconfig keep for the process's life (fonts, caches), so that a
 * leak checker sees none at exit. Call once, at exit, when no chart is being drawn. */
void chart_shutdown(void);

#endif
