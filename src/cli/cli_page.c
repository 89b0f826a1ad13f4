#include "closeloop/cli/cli_page.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct pager {
    json_t *items; /* owned: what was collected so far */
    size_t limit;
    char *cursor; /* owned: where the next page starts, NULL when there is none */
    bool more;
};

/* Takes the items and the next cursor out of one page. */
static int take_page(struct pager *p, const json_t *page, struct cl_err *err)
{
    const json_t *items = json_is_array(page) ? page : json_object_get(page, "items");
    const json_t *next = json_object_get(page, "next_cursor");
    const char *cursor = json_string_value(next);
    size_t i;

    if (!json_is_array(items))
        return cl_fail(err, CL_EHTTP, "unexpected list from the server: no \"items\" array");
    if (next != NULL && !json_is_null(next) && cursor == NULL)
        return cl_fail(err, CL_EHTTP, "unexpected list from the server: bad \"next_cursor\"");
    if (cursor != NULL && p->cursor != NULL && strcmp(cursor, p->cursor) == 0)
        return cl_fail(err, CL_EHTTP, "the server sent the same cursor twice");
    for (i = 0; i < json_array_size(items); i++) {
        if (json_array_size(p->items) == p->limit) {
            p->more = true; /* the page held more than was asked for */
            break;
        }
        if (json_array_append(p->items, json_array_get(items, i)) != 0)
            return cl_fail(err, CL_EHTTP, "cannot collect the list");
    }
    free(p->cursor);
    /* An empty page cannot advance, so its cursor is not followed. */
    p->cursor = json_array_size(items) > 0 ? cl_strdup(cursor) : NULL;
    return CL_OK;
}

int cli_page_collect(json_t **items_out, bool *more_out, size_t limit, cli_page_fn fetch, void *arg,
                     struct cl_err *err)
{
    struct pager p = {json_array(), limit, NULL, false};
    json_t *page = NULL;
    size_t want;
    int rc = CL_OK;

    assert(limit > 0);
    if (p.items == NULL)
        return cl_fail(err, CL_EHTTP, "cannot make a JSON array");
    do {
        want = limit - json_array_size(p.items);
        rc = fetch(&page, p.cursor, want < CLI_PAGE_SIZE_MAX ? want : CLI_PAGE_SIZE_MAX, err, arg);
        if (rc == CL_OK)
            rc = take_page(&p, page, err);
        json_decref(page);
        page = NULL;
    } while (rc == CL_OK && p.cursor != NULL && !p.more && json_array_size(p.items) < limit);
    if (rc != CL_OK)
        goto cleanup;
    *more_out = p.more || p.cursor != NULL;
    *items_out = p.items;
    p.items = NULL;
cleanup:
    json_decref(p.items);
    free(p.cursor);
    return rc;
}
