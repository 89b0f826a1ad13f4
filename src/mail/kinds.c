#include "closeloop/mail/kinds.h"

#include "closeloop/report/digest.h"
#include "closeloop/notify/reminder_mail.h"
#include "closeloop/review/invite.h"
#include "closeloop/review/summary.h"

#include "closeloop/util/buf.h"

#include <stdlib.h>
#include <string.h>

/* Every kind closeloop can send: one line per kind. */
static const struct mail_kind *const mail_kinds[] = {
    &mail_kind_test, &summary_mail_kind, &invite_mail_kind, &digest_mail_kind, &reminder_mail_kind,
};

const struct mail_kind *mail_kind_find(const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < CL_ARRAY_LEN(mail_kinds); i++) {
        if (strcmp(mail_kinds[i]->name, name) == 0)
            return mail_kinds[i];
    }
    return NULL;
}

/* Escapes &, <, > and " for HTML text. */
static void html_text(struct buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '&')
            buf_puts(b, "&amp;");
        else if (*s == '<')
            buf_puts(b, "&lt;");
        else if (*s == '>')
            buf_puts(b, "&gt;");
        else if (*s == '"')
            buf_puts(b, "&quot;");
        else
            buf_append(b, s, 1);
    }
}

static int test_render(const json_t *payload, struct mail_parts *out, struct cl_err *err)
{
    const json_t *note = json_object_get(payload, "note");
    struct buf b;

    if (!json_is_object(payload))
        return cl_fail(err, CL_EINVAL, "test mail: payload is not an object");
    if (note != NULL && !json_is_string(note))
        return cl_fail(err, CL_EINVAL, "test mail: note is not a string");
    buf_init(&b);
    buf_printf(&b,
               "This is a test message from closeloop.\n\nIf you can read it, closeloopd's "
               "SMTP set-up works.\n%s%s\n",
               note != NULL ? "\n" : "", note != NULL ? json_string_value(note) : "");
    out->text = buf_steal(&b, NULL);
    buf_puts(&b, "<!DOCTYPE html>\n<html><body><p>This is a <b>test message</b> from "
                 "closeloop.</p>\n<p>If you can read it, closeloopd's SMTP set-up works.</p>\n");
    if (note != NULL) {
        buf_puts(&b, "<p>");
        html_text(&b, json_string_value(note));
        buf_puts(&b, "</p>\n");
    }
    buf_puts(&b, "</body></html>\n");
    out->html = buf_steal(&b, NULL);
    return CL_OK;
}

const struct mail_kind mail_kind_test = {"test", test_render};
