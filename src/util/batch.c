#include "closeloop/util/batch.h"

#include <stdio.h>
#include <string.h>

#define BATCH_STATEMENT_TIMEOUT "57014" /* query_canceled: statement_timeout */

void batch_init(struct batch *b, int max)
{
    b->max = max > 0 ? max : 1;
    b->size = b->max;
}

bool batch_after(struct batch *b, bool ok, const char *sqlstate)
{
    int was = b->size;

    if (ok)
        b->size = b->size <= b->max / 2 ? b->size * 2 : b->max;
    else if (sqlstate != NULL && strcmp(sqlstate, BATCH_STATEMENT_TIMEOUT) == 0)
        b->size = b->size > 1 ? b->size / 2 : 1;
    return b->size != was;
}

const char *batch_text(const struct batch *b, char *buf, int n)
{
    snprintf(buf, (size_t)n, "%d", b->size);
    return buf;
}
