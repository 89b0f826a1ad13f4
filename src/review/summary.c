#include "closeloop/review/summary.h"

#include "closeloop/mail/kinds.h"

#include "closeloop/review/md.h"

#include <stdbool.h>
#include <string.h>

/* "alice, bob@example.com" or "nobody recorded". */
static void summary_people(struct buf *out, const json_t *list)
{
    size_t i;

    if (json_array_size(list) == 0)
        buf_puts(out, "nobody recorded");
    for (i = 0; i < json_array_size(list); i++) {
        if (i > 0)
            buf_puts(out, ", ");
        md_text(out, json_string_value(json_array_get(list, i)));
    }
}

static void summary_head(struct buf *out, const json_t *inc, const json_t *review)
{
    buf_puts(out, "# Review of ");
    md_text(out, md_str(inc, "key"));
    buf_puts(out, ": ");
    md_text(out, md_str(inc, "title"));
    buf_puts(out, "\n\nHeld: ");
    md_text(out, md_str(review, "local"));
    buf_puts(out, " ");
    md_text(out, md_str(review, "timezone"));
    if (md_str(review, "held_by") != NULL) {
        buf_puts(out, ", recorded by ");
        md_text(out, md_str(review, "held_by"));
    }
    buf_puts(out, "\n\nAttended: ");
    summary_people(out, json_object_get(review, "attended"));
    buf_puts(out, "\n\n");
}

/* The outcome in words, with what goes with it. */
static void summary_outcome(struct buf *out, const json_t *it)
{
    const char *o = md_str(it, "outcome");

    if (o != NULL && strcmp(o, "effective") == 0)
        buf_puts(out, "effective");
    else if (o != NULL && strcmp(o, "not_effective") == 0)
        buf_puts(out, "done, not effective");
    else if (o != NULL && strcmp(o, "not_done") == 0) {
        buf_puts(out, "not done, new due date ");
        md_text(out, md_str(it, "new_due_on"));
    } else {
        buf_puts(out, "dropped");
    }
    if (md_str(it, "evidence") != NULL) {
        buf_puts(out, "; evidence: ");
        md_text(out, md_str(it, "evidence"));
    }
    if (md_str(it, "reason") != NULL) {
        buf_puts(out, "; reason: ");
        md_text(out, md_str(it, "reason"));
    }
}

static void summary_item(struct buf *out, const json_t *it)
{
    const json_t *f = json_object_get(it, "follow_up");
    const char *note = md_str(it, "note");

    buf_printf(out, "- **\\#%" JSON_INTEGER_FORMAT " ",
               json_integer_value(json_object_get(it, "action")));
    md_text(out, md_str(it, "title"));
    buf_puts(out, "** \\(");
    md_text(out, md_str(it, "owner") != NULL ? md_str(it, "owner") : "no owner");
    buf_puts(out, "\\): ");
    summary_outcome(out, it);
    if (json_is_object(f))
        buf_printf(out, "; follow\\-up \\#%" JSON_INTEGER_FORMAT,
                   json_integer_value(json_object_get(f, "id")));
    if (note != NULL && note[0] != '\0') {
        buf_puts(out, "\\\n  Note: ");
        md_text(out, note);
    }
    buf_puts(out, "\n");
}

static void summary_follow_ups(struct buf *out, const json_t *items)
{
    bool any = false;
    size_t i;

    for (i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        const json_t *f = json_object_get(it, "follow_up");

        if (!json_is_object(f))
            continue;
        if (!any)
            buf_puts(out, "\n## Follow-ups\n\n");
        any = true;
        buf_printf(out, "- \\#%" JSON_INTEGER_FORMAT " ",
                   json_integer_value(json_object_get(f, "id")));
        md_link(out, md_str(f, "title"), md_str(f, "sync"));
        buf_puts(out, ": ");
        md_text(out, md_str(f, "owner"));
        buf_puts(out, ", due ");
        md_text(out, md_str(f, "due_on"));
        buf_printf(out, " \\(follow\\-up of \\#%" JSON_INTEGER_FORMAT "\\)\n",
                   json_integer_value(json_object_get(it, "action")));
    }
}

int summary_markdown(const json_t *summary, struct buf *out, struct cl_err *err)
{
    const json_t *inc = json_object_get(summary, "incident");
    const json_t *review = json_object_get(summary, "review");
    const json_t *items = json_object_get(summary, "items");
    const char *notes = md_str(review, "notes");
    size_t i;

    if (!json_is_object(inc) || !json_is_object(review) || !json_is_array(items))
        return cl_fail(err, CL_EINVAL, "summary: no incident or review object, or no items array");
    summary_head(out, inc, review);
    buf_puts(out, "## Outcomes\n\n");
    if (json_array_size(items) == 0)
        buf_puts(out, "No action needed an outcome.\n");
    for (i = 0; i < json_array_size(items); i++)
        summary_item(out, json_array_get(items, i));
    summary_follow_ups(out, items);
    if (notes != NULL && notes[0] != '\0') {
        buf_puts(out, "\n## Notes\n\n");
        md_lines(out, notes);
        buf_puts(out, "\n");
    }
    return CL_OK;
}

int summary_html(const json_t *summary, struct buf *out, struct cl_err *err)
{
    struct buf md;
    int rc;

    buf_init(&md);
    rc = summary_markdown(summary, &md, err);
    if (rc == CL_OK)
        rc = md_html(out, md.data, md.len, err);
    buf_dispose(&md);
    return rc;
}

/* The mail kind "summary": the payload is the summary JSON; the text part is its
 * Markdown, the HTML part a whole document around its HTML. */
static int summary_mail_render(const json_t *payload, struct mail_parts *out, struct cl_err *err)
{
    struct buf text;
    int rc;

    buf_init(&text);
    rc = summary_markdown(payload, &text, err);
    if (rc == CL_OK)
        rc = md_mail_parts(out, &text, err);
    buf_dispose(&text);
    return rc;
}

const struct mail_kind summary_mail_kind = {"summary", summary_mail_render};
