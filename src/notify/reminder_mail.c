#include "closeloop/notify/reminder_mail.h"

#include "closeloop/review/md.h"

#include <string.h>

/* "due in 2 days", "due today", "3 days overdue"; days = today - due_on. */
static void reminder_when(struct buf *out, json_int_t days)
{
    if (days < -1)
        buf_printf(out, "due in %" JSON_INTEGER_FORMAT " days", -days);
    else if (days == -1)
        buf_puts(out, "due tomorrow");
    else if (days == 0)
        buf_puts(out, "due today");
    else if (days == 1)
        buf_puts(out, "1 day overdue");
    else
        buf_printf(out, "%" JSON_INTEGER_FORMAT " days overdue", days);
}

static int reminder_item(struct buf *out, const json_t *it, struct cl_err *err)
{
    const json_t *id = json_object_get(it, "id");
    const json_t *days = json_object_get(it, "days");
    const char *step = md_str(it, "step");
    const char *owner = md_str(it, "owner");

    if (!json_is_integer(id) || !json_is_integer(days) || step == NULL ||
        md_str(it, "title") == NULL || md_str(it, "due_on") == NULL)
        return cl_fail(err, CL_EINVAL, "reminder: an item lacks id, title, due_on, step or days");
    buf_printf(out, "- \\#%" JSON_INTEGER_FORMAT " ", json_integer_value(id));
    md_link(out, md_str(it, "title"), md_str(it, "url"));
    buf_puts(out, " \\(");
    md_text(out, md_str(it, "incident"));
    buf_puts(out, "\\): ");
    reminder_when(out, json_integer_value(days));
    buf_puts(out, ", due ");
    md_text(out, md_str(it, "due_on"));
    if (strcmp(step, "escalate") == 0) {
        buf_puts(out, "; owner ");
        md_text(out, owner != NULL ? owner : "nobody");
        buf_puts(out, ", you facilitate the incident");
    } else if (owner == NULL) {
        buf_puts(out, "; it has no owner and you facilitate the incident");
    }
    buf_puts(out, "\n");
    return CL_OK;
}

int reminder_mail_markdown(const json_t *payload, struct buf *out, struct cl_err *err)
{
    const json_t *to = json_object_get(payload, "recipient");
    const json_t *items = json_object_get(payload, "items");
    size_t i;
    int rc = CL_OK;

    if (!json_is_object(to) || !json_is_array(items) || json_array_size(items) == 0)
        return cl_fail(err, CL_EINVAL, "reminder: no recipient object or no items");
    buf_puts(out, "Hello ");
    md_text(out, md_str(to, "name") != NULL ? md_str(to, "name") : md_str(to, "handle"));
    buf_printf(out, ",\n\n%s from closeloop:\n\n",
               json_array_size(items) == 1 ? "An action needs your attention"
                                           : "These actions need your attention");
    for (i = 0; i < json_array_size(items) && rc == CL_OK; i++)
        rc = reminder_item(out, json_array_get(items, i), err);
    if (rc == CL_OK)
        buf_puts(out, "\nIf a date no longer holds, move it (`closeloop action edit ID --due "
                      "DATE`) or snooze the reminder (`closeloop action snooze ID --until DATE "
                      "--reason TEXT`).\n");
    return rc;
}

static int reminder_mail_render(const json_t *payload, struct mail_parts *out, struct cl_err *err)
{
    struct buf text;
    int rc;

    buf_init(&text);
    rc = reminder_mail_markdown(payload, &text, err);
    if (rc == CL_OK)
        rc = md_mail_parts(out, &text, err);
    buf_dispose(&text);
    return rc;
}

const struct mail_kind reminder_mail_kind = {"reminder", reminder_mail_render};
