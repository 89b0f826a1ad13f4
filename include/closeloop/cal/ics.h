/* ics: review meetings as iCalendar (RFC 5545, methods of RFC 5546) through libical. A
 * pure renderer: no database, no loop, no clock (DTSTAMP is an input), so the same events
 * always give the same bytes and a mail can be sent again unchanged. Each event's start is
 * written as the wall time of its zone (DTSTART;TZID=...), with that zone's VTIMEZONE,
 * so a meeting at 15:00 stays at 15:00 local across a DST change. libical keeps a
 * process-wide zone cache: call from one thread (the loop, or a CLI). The module is "ics",
 * not "ical": libical owns the ical prefix. */
#ifndef CLOSELOOP_ICS_H
#define CLOSELOOP_ICS_H

#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* METHOD of the calendar: a feed PUBLISHes, an invitation is a REQUEST, a cancellation a
 * CANCEL (RFC 5546 §3.2). */
enum ics_method { ICS_PUBLISH, ICS_REQUEST, ICS_CANCEL };

/* The values an event is built from stay the caller's (borrowed for the call). */
struct ics_person {
    const char *name;  /* CN; NULL or "" for none */
    const char *email; /* required: the address, without "mailto:" */
    bool chair;        /* ROLE=CHAIR (the facilitator), else REQ-PARTICIPANT */
};

struct ics_event {
    const char *uid;             /* stable per review */
    int sequence;                /* >= 0, raised on every change */
    const char *summary;         /* text: libical escapes it */
    const char *description;     /* text; NULL or "" for none */
    const char *url;             /* NULL for none */
    time_t start;                /* the instant (UTC) */
    const char *tzid;            /* IANA zone the meeting is held in, e.g. "Europe/Berlin" */
    int duration_minutes;        /* 1..1440 */
    const char *rrule;           /* "FREQ=WEEKLY;INTERVAL=2"; NULL for a single meeting */
    bool cancelled;              /* STATUS:CANCELLED, else CONFIRMED */
    struct ics_person organizer; /* email NULL: none (a PUBLISH only) */
    const struct ics_person *attendees;
    size_t nattendees;
    time_t stamp; /* DTSTAMP: when the event last changed (the same input, the same bytes) */
    /* owned by ics_event_from_json(); freed by ics_event_dispose() */
    struct ics_person *owned_attendees;
};

#define ICS_MAX_ATTENDEES 500

/* Renders one VCALENDAR (PRODID, VERSION, METHOD m) with the n events and one VTIMEZONE for
 * each zone they use (in order of first use). On success *out is a NUL-terminated heap
 * string the caller frees with free(); lines end in CRLF. CL_EINVAL (nothing in *out) for a
 * zone libical does not know, an invalid RRULE, a control character in a one-line value
 * (UID, address, name, URL, zone), a missing required value (the organizer is optional in a
 * PUBLISH only), or n == 0 for REQUEST/CANCEL. */
int ics_render(char **out, const struct ics_event *ev, size_t n, enum ics_method m,
               struct cl_err *err);

/* The same calendar as ics_render(..., ICS_PUBLISH, ...) for a subscribed feed, which
 * calls itself `name` (X-WR-CALNAME; NULL for none). */
int ics_render_feed(char **out, const struct ics_event *ev, size_t n, const char *name,
                    struct cl_err *err);

/* Whether ics_render() would take ev for method m (the checks alone, nothing rendered):
 * CL_OK or CL_EINVAL with the reason, as ics_render() says it. */
int ics_event_check(const struct ics_event *ev, enum ics_method m, struct cl_err *err);

/* Fills ev from the event JSON of cl_review_event_json() (sql/functions/calendar.sql):
 * {"uid", "sequence", "status", "starts_at" (YYYY-MM-DDTHH:MM:SSZ), "timezone",
 * "duration_minutes", "rrule" (string or null), "summary", "description", "url" (string or
 * null), "stamp" (as starts_at), "organizer": {"name", "email"} or null, "attendees": [{"name",
 * "email", "role": "chair"|"req", ...}]}, every value type-checked. The strings stay
 * borrowed from o (keep o alive while ev is used); the attendee array is owned by ev: call
 * ics_event_dispose() whatever the outcome. CL_EINVAL with the field named otherwise. */
int ics_event_from_json(struct ics_event *ev, const json_t *o, struct cl_err *err);

/* Frees what ics_event_from_json() allocated; the struct may then be reused. */
void ics_event_dispose(struct ics_event *ev);

/* The METHOD name ("PUBLISH", "REQUEST", "CANCEL"). */
const char *ics_method_name(enum ics_method m);

#endif
