/* batch: the size of a background pass's batch (incidents, people), adapted to the
 * statement timeout. A pass that hits the timeout is rolled back, so the same batch would
 * fail again and again and nothing would move: batch_timed_out() halves the size (not
 * below 1), and each pass that succeeds doubles it back (not above the maximum). Plain
 * data, no allocation; one per pass, loop-only like its owner. */
#ifndef CLOSELOOP_BATCH_H
#define CLOSELOOP_BATCH_H

#include <stdbool.h>

struct batch {
    int size;
    int max;
};

void batch_init(struct batch *b, int max);

/* A pass ended: ok, or failed with `sqlstate` (may be NULL or ""). True when the size
 * changed. */
bool batch_after(struct batch *b, bool ok, const char *sqlstate);

/* The size as text for a query parameter, into buf (at least 12 bytes). */
const char *batch_text(const struct batch *b, char *buf, int n);

#endif
