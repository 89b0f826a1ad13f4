/* reminder_mail: the mail kind "reminder" — one message to one person listing all of
 * their actions that are due a reminder (cl_reminder_pass in sql/functions/reminders.sql
 * queues it). Payload {"recipient": {"handle", "name", "timezone"}, "reminder": id,
 * "items": [{"id", "incident", "title", "owner", "status", "due_on", "step":
 * "before"|"overdue"|"escalate", "days" (today - due_on in the recipient's zone), "url"}]}.
 * The text part is Markdown, the HTML part cmark's rendering of it. Pure, any thread. */
#ifndef CLOSELOOP_REMINDER_MAIL_H
#define CLOSELOOP_REMINDER_MAIL_H

#include "closeloop/mail/kinds.h"
#include "closeloop/util/buf.h"

/* The Markdown of a reminder payload appended to out; CL_EINVAL when it is misshapen. */
int reminder_mail_markdown(const json_t *payload, struct buf *out, struct cl_err *err);

extern const struct mail_kind reminder_mail_kind;

#endif
