/* cli_page: collects the items of a paged list ({"items":[...],"next_cursor":"..."|null}),
 * following next_cursor until a row limit. A bare JSON array is taken as one last page.
 * The fetching is the caller's (a callback), so the paging logic is testable on its own. */
#ifndef CLOSELOOP_CLI_PAGE_H
#define CLOSELOOP_CLI_PAGE_H

#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_PAGE_SIZE_MAX 500 /* the largest limit= the API accepts */

/* Fetches one page: cursor is NULL for the first; want (1..CLI_PAGE_SIZE_MAX) is how many rows
 * are still wanted. On success *page is a new reference. Errors go into err. */
typedef int (*cli_page_fn)(json_t **page, const char *cursor, size_t want, struct cl_err *err,
                           void *arg);

/* Calls fetch until limit items were collected or the server has no next cursor. *items_out
 * (new reference, an array) holds at most limit items; *more_out says whether the server
 * had more. Both are set only on success. A page that is neither an object with an "items"
 * array nor an array, a cursor that is not a string, or a cursor that repeats is CL_EHTTP;
 * fetch's own errors are passed up unchanged. */
int cli_page_collect(json_t **items_out, bool *more_out, size_t limit, cli_page_fn fetch, void *arg,
                     struct cl_err *err);

#endif
