#include "closeloop/cli/show/cli_review.h"

#include "closeloop/cli/show/cli_render.h"
#include "closeloop/util/cl.h"

#include <string.h>

/* The lists in the order a meeting takes them, with their headings. */
static const char *const backlog_lists[][2] = {
    {"overdue", "Overdue"},
    {"at_risk", "At risk (due soon, not started)"},
    {"awaiting_verification", "Done, awaiting verification"},
    {"unowned", "Unowned"},
};

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_string_value(v) : dflt;
}

static void backlog_when(FILE *out, const json_t *review)
{
    if (!json_is_object(review)) {
        fputs("No backlog review is scheduled (set [review] backlog = weekly or biweekly).\n", out);
        return;
    }
    fprintf(out, "Backlog review: %s %s, %s (%s)\n", str_or(review, "local", "?"),
            str_or(review, "timezone", ""), str_or(review, "rrule", "once"),
            str_or(review, "status", "?"));
}

int cli_review_render_backlog(FILE *out, const json_t *obj, bool color, long today)
{
    const json_t *lists = json_object_get(obj, "lists");
    size_t i;
    int rc = CL_OK;

    if (!json_is_object(obj) || !json_is_object(lists))
        return CL_EHTTP;
    backlog_when(out, json_object_get(obj, "review"));
    for (i = 0; i < CL_ARRAY_LEN(backlog_lists) && rc == CL_OK; i++) {
        const json_t *items = json_object_get(lists, backlog_lists[i][0]);

        fprintf(out, "\n%s: %zu\n", backlog_lists[i][1], json_array_size(items));
        if (json_array_size(items) > 0)
            rc = cli_render_list(out, CLI_RES_ACTION, items, color, today, 0, 0);
    }
    if (rc == CL_OK && ferror(out))
        rc = CL_EIO;
    return rc;
}
