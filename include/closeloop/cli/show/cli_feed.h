/* cli_feed: what `closeloop feed create` prints: the feed's whole URL (the service's base
 * URL and the answer's "url"), shown this once, and how to use and revoke it. The list and
 * the revoked feed print through cli_render's feed view. */
#ifndef CLOSELOOP_CLI_FEED_H
#define CLOSELOOP_CLI_FEED_H

#include <jansson.h>
#include <stdio.h>

/* Prints the new feed (the answer to POST /api/v1/calendar-feeds) under base (the service's
 * URL, e.g. "https://closeloop.example.com"). CL_EHTTP when the answer lacks its id or url,
 * CL_EIO when out fails, else 0. */
int cli_feed_render_created(FILE *out, const json_t *feed, const char *base);

#endif
