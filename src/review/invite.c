#include "closeloop/review/invite.h"

#include "closeloop/cal/ics.h"
#include "closeloop/mail/kinds.h"
#include "closeloop/review/agenda.h"
#include "closeloop/util/buf.h"

#include <stdlib.h>
#include <string.h>

/* When, in the meeting's zone (the payload's "when", written by SQL), and for how long. */
static void invite_when(struct buf *b, const struct ics_event *ev, const char *when)
{
    buf_printf(b, "When: %s, %d minutes\n", when, ev->duration_minutes);
    if (ev->rrule != NULL)
        buf_printf(b, "Repeats: %s\n", ev->rrule);
}

/* The text part: what changed, when, then the agenda. */
static int invite_text(struct buf *b, const struct ics_event *ev, enum ics_method m,
                       const json_t *payload, struct cl_err *err)
{
    const json_t *agenda = json_object_get(payload, "agenda");
    const json_t *when = json_object_get(payload, "when");

    if (!json_is_string(when))
        return cl_fail(err, CL_EINVAL, "review invitation: when is not a string");
    buf_printf(b, "%s: %s\n\n", m == ICS_CANCEL ? "Cancelled" : "Review meeting", ev->summary);
    invite_when(b, ev, json_string_value(when));
    if (ev->url != NULL)
        buf_printf(b, "Postmortem: %s\n", ev->url);
    if (ev->description != NULL && ev->description[0] != '\0')
        buf_printf(b, "\n%s\n", ev->description);
    if (m == ICS_CANCEL || !json_is_object(agenda))
        return CL_OK;
    buf_puts(b, "\n");
    return agenda_markdown(agenda, b, err);
}

/* The HTML part: a whole document around the agenda (or the few lines of a cancel). */
static int invite_html(struct buf *b, const json_t *agenda, const char *text, enum ics_method m,
                       struct cl_err *err)
{
    const char *p;
    int rc = CL_OK;

    buf_puts(b, "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; max-width: "
                "40em\">\n");
    if (m == ICS_CANCEL || !json_is_object(agenda)) {
        buf_puts(b, "<pre style=\"white-space: pre-wrap\">");
        for (p = text; *p != '\0'; p++) {
            if (*p == '<')
                buf_puts(b, "&lt;");
            else if (*p == '>')
                buf_puts(b, "&gt;");
            else if (*p == '&')
                buf_puts(b, "&amp;");
            else
                buf_append(b, p, 1);
        }
        buf_puts(b, "</pre>\n");
    } else {
        rc = agenda_html(agenda, b, err);
    }
    buf_puts(b, "</body></html>\n");
    return rc;
}

static int invite_render(const json_t *payload, struct mail_parts *out, struct cl_err *err)
{
    const char *method = json_string_value(json_object_get(payload, "method"));
    const json_t *agenda = json_object_get(payload, "agenda");
    enum ics_method m = ICS_REQUEST;
    struct ics_event ev;
    struct buf text;
    struct buf html;
    char *cal = NULL;
    int rc;

    memset(&ev, 0, sizeof(ev));
    buf_init(&text);
    buf_init(&html);
    if (method == NULL || (strcmp(method, "REQUEST") != 0 && strcmp(method, "CANCEL") != 0)) {
        rc = cl_fail(err, CL_EINVAL, "review invitation: method is not REQUEST or CANCEL");
        goto out;
    }
    if (strcmp(method, "CANCEL") == 0)
        m = ICS_CANCEL;
    if (agenda != NULL && !json_is_null(agenda) && !json_is_object(agenda)) {
        rc = cl_fail(err, CL_EINVAL, "review invitation: agenda is not an object");
        goto out;
    }
    rc = ics_event_from_json(&ev, json_object_get(payload, "event"), err);
    if (rc == CL_OK)
        rc = ics_render(&cal, &ev, 1, m, err);
    if (rc == CL_OK)
        rc = invite_text(&text, &ev, m, payload, err);
    if (rc == CL_OK)
        rc = invite_html(&html, agenda, text.data != NULL ? text.data : "", m, err);
    if (rc != CL_OK)
        goto out;
    out->text = buf_steal(&text, NULL);
    out->html = buf_steal(&html, NULL);
    out->calendar = cal;
    out->calendar_method = cl_strdup(ics_method_name(m));
    cal = NULL;
out:
    free(cal);
    ics_event_dispose(&ev);
    buf_dispose(&text);
    buf_dispose(&html);
    return rc;
}

const struct mail_kind invite_mail_kind = {"review", invite_render};
