/* invite: the invitation mail of a review meeting (mail kind "review"). Its payload is the
 * snapshot cl_review_invite() queued (sql/functions/reviews.sql): {"method": "REQUEST" |
 * "CANCEL", "event": cl_review_event_json(), "agenda": cl_review_agenda() or null}. The
 * message is multipart/alternative: a text part (a few lines, then the agenda's Markdown),
 * an HTML part (the agenda through cmark) and a text/calendar part with the method
 * (RFC 5545/5546, libical: stable UID, SEQUENCE, VTIMEZONE + TZID, RRULE). The same
 * payload renders the same bytes. Pure, any thread. */
#ifndef CLOSELOOP_INVITE_H
#define CLOSELOOP_INVITE_H

struct mail_kind;

/* For src/mail/kinds.c's table. */
extern const struct mail_kind invite_mail_kind;

#endif
