#include "closeloop/review/agenda.h"

#include "closeloop/review/md.h"

#include <stdlib.h>

/* "2026-12-10 15:00 Europe/Paris (60 min), facilitator alice: scheduled". */
static void agenda_meeting(struct buf *out, const json_t *review)
{
    const json_t *mins = json_object_get(review, "duration_minutes");

    if (!json_is_object(review)) {
        buf_puts(out, "No review is scheduled yet.\n\n");
        return;
    }
    buf_puts(out, "Meeting: ");
    md_text(out, md_str(review, "local"));
    buf_puts(out, " ");
    md_text(out, md_str(review, "timezone"));
    if (json_is_integer(mins))
        buf_printf(out, " \\(%" JSON_INTEGER_FORMAT " min\\)", json_integer_value(mins));
    if (md_str(review, "facilitator") != NULL) {
        buf_puts(out, ", facilitator ");
        md_text(out, md_str(review, "facilitator"));
    }
    buf_puts(out, ", ");
    md_text(out, md_str(review, "status"));
    buf_puts(out, "\n\n");
}

static void agenda_due(struct buf *out, const json_t *a)
{
    const json_t *late = json_object_get(a, "days_late");
    const char *due = md_str(a, "due_on");

    buf_puts(out, "- Status: ");
    md_text(out, md_str(a, "status"));
    if (due == NULL) {
        buf_puts(out, ", no due date\n");
        return;
    }
    buf_puts(out, ", due ");
    md_text(out, due);
    if (json_is_integer(late))
        buf_printf(out, " \\(%" JSON_INTEGER_FORMAT " day%s late\\)", json_integer_value(late),
                   json_integer_value(late) == 1 ? "" : "s");
    buf_puts(out, "\n");
}

/* How often the due date moved later, and by how much in all. */
static void agenda_slip(struct buf *out, const json_t *a)
{
    json_int_t slips = json_integer_value(json_object_get(a, "slips"));
    json_int_t days = json_integer_value(json_object_get(a, "slip_days"));

    if (slips <= 0)
        return;
    buf_printf(out,
               "- Slipped: moved %" JSON_INTEGER_FORMAT " time%s, %" JSON_INTEGER_FORMAT
               " day%s in all",
               slips, slips == 1 ? "" : "s", days, days == 1 ? "" : "s");
    if (md_str(a, "first_due_on") != NULL) {
        buf_puts(out, " \\(first due ");
        md_text(out, md_str(a, "first_due_on"));
        buf_puts(out, "\\)");
    }
    buf_puts(out, "\n");
}

/* The tracker issue and whether it is in step: synced, N pushes pending, failing. */
static void agenda_sync(struct buf *out, const json_t *a)
{
    const json_t *s = json_object_get(a, "sync");
    json_int_t pending = json_integer_value(json_object_get(s, "pending"));
    json_int_t failed = json_integer_value(json_object_get(s, "failed"));

    buf_puts(out, "- Tracker: ");
    if (!json_is_object(s)) {
        buf_puts(out, "none\n");
        return;
    }
    md_link(out, md_str(s, "display"), md_str(s, "url"));
    buf_puts(out, " \\(");
    if (failed > 0 || md_str(s, "last_error") != NULL) {
        buf_puts(out, "failing");
        if (md_str(s, "last_error") != NULL) {
            buf_puts(out, ": ");
            md_text(out, md_str(s, "last_error"));
        }
    } else if (pending > 0)
        buf_printf(out, "%" JSON_INTEGER_FORMAT " change%s to push", pending,
                   pending == 1 ? "" : "s");
    else {
        md_text(out, md_str(s, "state"));
        buf_puts(out, ", no push waiting");
    }
    buf_puts(out, "\\)\n");
}

static void agenda_action(struct buf *out, const json_t *a)
{
    const char *owner = md_str(a, "owner");

    buf_printf(out, "## \\#%" JSON_INTEGER_FORMAT " ",
               json_integer_value(json_object_get(a, "id")));
    md_text(out, md_str(a, "title"));
    buf_puts(out, "\n\n- Owner: ");
    if (owner == NULL)
        buf_puts(out, "nobody");
    else
        md_text(out, owner);
    if (owner != NULL && json_is_false(json_object_get(a, "owner_active")))
        buf_puts(out, " \\(has left\\)");
    buf_puts(out, "\n");
    agenda_due(out, a);
    agenda_slip(out, a);
    agenda_sync(out, a);
    if (md_str(a, "evidence") != NULL) {
        buf_puts(out, "- Evidence: ");
        md_text(out, md_str(a, "evidence"));
        buf_puts(out, "\n");
    }
    buf_puts(out, "- **To decide:** ");
    md_text(out, md_str(a, "expect_text"));
    buf_puts(out, "\n\n");
}

int agenda_markdown(const json_t *agenda, struct buf *out, struct cl_err *err)
{
    const json_t *inc = json_object_get(agenda, "incident");
    const json_t *actions = json_object_get(agenda, "actions");
    size_t i;

    if (!json_is_object(inc) || !json_is_array(actions))
        return cl_fail(err, CL_EINVAL, "agenda: no incident object or actions array");
    buf_puts(out, "# Review of ");
    md_text(out, md_str(inc, "key"));
    buf_puts(out, ": ");
    md_text(out, md_str(inc, "title"));
    buf_puts(out, "\n\n");
    agenda_meeting(out, json_object_get(agenda, "review"));
    if (md_str(inc, "postmortem_url") != NULL) {
        buf_puts(out, "Postmortem: ");
        md_link(out, NULL, md_str(inc, "postmortem_url"));
        buf_puts(out, "\n\n");
    }
    if (json_array_size(actions) == 0)
        buf_puts(out, "The incident has no actions.\n");
    else
        buf_printf(out, "%zu action%s to go through.\n\n", json_array_size(actions),
                   json_array_size(actions) == 1 ? "" : "s");
    for (i = 0; i < json_array_size(actions); i++)
        agenda_action(out, json_array_get(actions, i));
    return CL_OK;
}

int agenda_html(const json_t *agenda, struct buf *out, struct cl_err *err)
{
    struct buf md;
    int rc;

    buf_init(&md);
    rc = agenda_markdown(agenda, &md, err);
    if (rc == CL_OK)
        rc = md_html(out, md.data, md.len, err);
    buf_dispose(&md);
    return rc;
}
