#include "closeloop/cal/ics.h"

#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ICS_PRODID       "-//closeloop//closeloop review meetings//EN"
#define ICS_DURATION_MAX 1440 /* minutes: a day */
#define ICS_MAX_ZONES    16   /* distinct zones in one calendar */
#define ICS_UID_MAX      255

static const char *const method_names[] = {
    [ICS_PUBLISH] = "PUBLISH", [ICS_REQUEST] = "REQUEST", [ICS_CANCEL] = "CANCEL"};

static const icalproperty_method method_values[] = {[ICS_PUBLISH] = ICAL_METHOD_PUBLISH,
                                                    [ICS_REQUEST] = ICAL_METHOD_REQUEST,
                                                    [ICS_CANCEL] = ICAL_METHOD_CANCEL};

const char *ics_method_name(enum ics_method m)
{
    return method_names[m];
}

/* ---- checks ---- */

/* A value that goes on one line (a parameter, an address, a UID): no control character,
 * which libical would write as it is and so break the line structure. */
static int ics_check_line(const char *v, const char *what, const char *uid, bool required,
                          struct cl_err *err)
{
    const unsigned char *p;

    if (v == NULL || v[0] == '\0')
        return required ? cl_fail(err, CL_EINVAL, "event %.80s: %s is missing", uid, what) : CL_OK;
    for (p = (const unsigned char *)v; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return cl_fail(err, CL_EINVAL,
                           "event %.80s: %s holds a control character (0x%02x): one line only", uid,
                           what, *p);
    return CL_OK;
}

static int ics_check_person(const struct ics_person *who, const char *what, const char *uid,
                            struct cl_err *err)
{
    int rc = ics_check_line(who->email, what, uid, true, err);

    if (rc == CL_OK && strchr(who->email, '@') == NULL)
        rc = cl_fail(err, CL_EINVAL, "event %.80s: %s \"%.80s\" is not a mail address", uid, what,
                     who->email);
    if (rc == CL_OK)
        rc = ics_check_line(who->name, what, uid, false, err);
    return rc;
}

/* Parses the RRULE into *r: CL_EINVAL unless libical reads a frequency and nothing odd. */
static int ics_check_rrule(struct icalrecurrencetype *r, const char *rrule, const char *uid,
                           struct cl_err *err)
{
    icalerror_clear_errno();
    *r = icalrecurrencetype_from_string(rrule);
    if (r->freq == ICAL_NO_RECURRENCE || icalerrno != ICAL_NO_ERROR) {
        icalerror_clear_errno();
        return cl_fail(err, CL_EINVAL,
                       "event %.80s: rrule \"%.120s\" is not an RFC 5545 recurrence rule (e.g. "
                       "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU)",
                       uid, rrule);
    }
    return CL_OK;
}

static int ics_check_event(const struct ics_event *e, enum ics_method m, struct cl_err *err)
{
    const char *uid = e->uid != NULL ? e->uid : "?";
    int rc = ics_check_line(e->uid, "uid", uid, true, err);
    size_t i;

    if (rc == CL_OK && strlen(e->uid) > ICS_UID_MAX)
        rc = cl_fail(err, CL_EINVAL, "event %.80s: uid is longer than %d bytes", uid, ICS_UID_MAX);
    if (rc == CL_OK && e->sequence < 0)
        rc = cl_fail(err, CL_EINVAL, "event %.80s: sequence %d is negative", uid, e->sequence);
    if (rc == CL_OK && (e->duration_minutes < 1 || e->duration_minutes > ICS_DURATION_MAX))
        rc = cl_fail(err, CL_EINVAL, "event %.80s: duration_minutes %d is not in 1..%d", uid,
                     e->duration_minutes, ICS_DURATION_MAX);
    if (rc == CL_OK && (e->summary == NULL || e->summary[0] == '\0'))
        rc = cl_fail(err, CL_EINVAL, "event %.80s: summary is missing", uid);
    if (rc == CL_OK)
        rc = ics_check_line(e->tzid, "timezone", uid, true, err);
    if (rc == CL_OK)
        rc = ics_check_line(e->url, "url", uid, false, err);
    if (rc == CL_OK && (m != ICS_PUBLISH || e->organizer.email != NULL))
        rc = ics_check_person(&e->organizer, "organizer", uid, err); /* a feed may lack one */
    if (rc == CL_OK && e->nattendees > ICS_MAX_ATTENDEES)
        rc = cl_fail(err, CL_EINVAL, "event %.80s: %zu attendees, at most %d", uid, e->nattendees,
                     ICS_MAX_ATTENDEES);
    for (i = 0; rc == CL_OK && i < e->nattendees; i++)
        rc = ics_check_person(&e->attendees[i], "attendee", uid, err);
    return rc;
}

/* ---- zones ---- */

static bool ics_is_utc(const char *tzid)
{
    return strcmp(tzid, "UTC") == 0 || strcmp(tzid, "Etc/UTC") == 0;
}

static int ics_zone(icaltimezone **out, const char *tzid, const char *uid, struct cl_err *err)
{
    icaltimezone *z = ics_is_utc(tzid) ? icaltimezone_get_utc_timezone()
                                       : icaltimezone_get_builtin_timezone(tzid);

    if (z == NULL)
        return cl_fail(err, CL_EINVAL,
                       "event %.80s: time zone \"%.64s\" is unknown to libical (use an IANA name "
                       "such as Europe/Berlin)",
                       uid, tzid);
    *out = z;
    return CL_OK;
}

/* The zone's VTIMEZONE, with TZID the IANA name itself (libical prefixes its own). */
static int ics_add_vtimezone(icalcomponent *cal, icaltimezone *z, const char *tzid, const char *uid,
                             struct cl_err *err)
{
    icalcomponent *src = icaltimezone_get_component(z);
    icalcomponent *vtz = src != NULL ? icalcomponent_new_clone(src) : NULL;
    icalproperty *p =
        vtz != NULL ? icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY) : NULL;

    if (p == NULL) {
        if (vtz != NULL)
            icalcomponent_free(vtz);
        return cl_fail(err, CL_EINVAL, "event %.80s: libical has no VTIMEZONE for \"%.64s\"", uid,
                       tzid);
    }
    icalproperty_set_tzid(p, tzid);
    icalcomponent_add_component(cal, vtz);
    return CL_OK;
}

/* The instant t as a date-time of zone z: the zone's wall time with TZID=tzid, or UTC. */
static icalproperty *ics_time_prop(icalproperty *p, time_t t, icaltimezone *z, const char *tzid,
                                   void (*set)(icalproperty *, struct icaltimetype))
{
    struct icaltimetype tt = icaltime_from_timet_with_zone(t, 0, z);

    /* libical 3.0 leaves the result marked UTC: say which zone the wall time is in */
    tt = icaltime_set_timezone(&tt, z);
    set(p, tt);
    if (z != icaltimezone_get_utc_timezone())
        icalproperty_add_parameter(p, icalparameter_new_tzid(tzid));
    return p;
}

/* ---- the event ---- */

static icalproperty *ics_person_prop(icalproperty *p, const struct ics_person *who, bool attendee)
{
    if (who->name != NULL && who->name[0] != '\0')
        icalproperty_add_parameter(p, icalparameter_new_cn(who->name));
    if (!attendee)
        return p;
    icalproperty_add_parameter(
        p, icalparameter_new_role(who->chair ? ICAL_ROLE_CHAIR : ICAL_ROLE_REQPARTICIPANT));
    icalproperty_add_parameter(p, icalparameter_new_partstat(ICAL_PARTSTAT_NEEDSACTION));
    icalproperty_add_parameter(p, icalparameter_new_rsvp(ICAL_RSVP_TRUE));
    return p;
}

static icalproperty *ics_address(icalproperty *(*make)(const char *), const char *email)
{
    char *v = cl_asprintf("mailto:%s", email);
    icalproperty *p = make(v);

    free(v);
    return p;
}

static void ics_add_people(icalcomponent *ve, const struct ics_event *e)
{
    size_t i;

    if (e->organizer.email != NULL)
        icalcomponent_add_property(
            ve, ics_person_prop(ics_address(icalproperty_new_organizer, e->organizer.email),
                                &e->organizer, false));
    for (i = 0; i < e->nattendees; i++)
        icalcomponent_add_property(
            ve, ics_person_prop(ics_address(icalproperty_new_attendee, e->attendees[i].email),
                                &e->attendees[i], true));
}

static icalcomponent *ics_vevent(const struct ics_event *e, icaltimezone *z,
                                 const struct icalrecurrencetype *r, bool cancelled)
{
    icalcomponent *ve = icalcomponent_new_vevent();
    time_t end = e->start + (time_t)e->duration_minutes * 60;

    icalcomponent_add_property(ve, icalproperty_new_uid(e->uid));
    icalcomponent_add_property(ve, icalproperty_new_sequence(e->sequence));
    icalcomponent_add_property(ve, icalproperty_new_dtstamp(icaltime_from_timet_with_zone(
                                       e->stamp, 0, icaltimezone_get_utc_timezone())));
    icalcomponent_add_property(ve, ics_time_prop(icalproperty_new(ICAL_DTSTART_PROPERTY), e->start,
                                                 z, e->tzid, icalproperty_set_dtstart));
    icalcomponent_add_property(ve, ics_time_prop(icalproperty_new(ICAL_DTEND_PROPERTY), end, z,
                                                 e->tzid, icalproperty_set_dtend));
    if (r != NULL)
        icalcomponent_add_property(ve, icalproperty_new_rrule(*r));
    icalcomponent_add_property(ve, icalproperty_new_summary(e->summary));
    if (e->description != NULL && e->description[0] != '\0')
        icalcomponent_add_property(ve, icalproperty_new_description(e->description));
    if (e->url != NULL && e->url[0] != '\0')
        icalcomponent_add_property(ve, icalproperty_new_url(e->url));
    icalcomponent_add_property(
        ve, icalproperty_new_status(cancelled ? ICAL_STATUS_CANCELLED : ICAL_STATUS_CONFIRMED));
    icalcomponent_add_property(ve, icalproperty_new_transp(ICAL_TRANSP_OPAQUE));
    ics_add_people(ve, e);
    return ve;
}

/* Zones already given a VTIMEZONE in this calendar. */
struct ics_zones {
    const char *tzid[ICS_MAX_ZONES];
    size_t n;
};

static int ics_zone_once(struct ics_zones *seen, icalcomponent *cal, icaltimezone *z,
                         const char *tzid, const char *uid, struct cl_err *err)
{
    size_t i;

    if (z == icaltimezone_get_utc_timezone())
        return CL_OK; /* UTC times need no VTIMEZONE */
    for (i = 0; i < seen->n; i++)
        if (strcmp(seen->tzid[i], tzid) == 0)
            return CL_OK;
    if (seen->n == ICS_MAX_ZONES)
        return cl_fail(err, CL_EINVAL, "more than %d time zones in one calendar", ICS_MAX_ZONES);
    seen->tzid[seen->n++] = tzid;
    return ics_add_vtimezone(cal, z, tzid, uid, err);
}

/* Checks one event for method m: its values, its RRULE (parsed into *r) and its zone (*z). */
static int ics_prepare(struct icalrecurrencetype *r, icaltimezone **z, const struct ics_event *e,
                       enum ics_method m, struct cl_err *err)
{
    int rc = ics_check_event(e, m, err);

    if (rc == CL_OK && e->rrule != NULL)
        rc = ics_check_rrule(r, e->rrule, e->uid, err);
    if (rc == CL_OK)
        rc = ics_zone(z, e->tzid, e->uid, err);
    return rc;
}

/* Checks one event and adds it (and its zone, the first time) to cal. */
static int ics_add_event(icalcomponent *cal, struct ics_zones *seen, const struct ics_event *e,
                         enum ics_method m, struct cl_err *err)
{
    struct icalrecurrencetype r;
    icaltimezone *z = NULL;
    int rc = ics_prepare(&r, &z, e, m, err);

    if (rc == CL_OK)
        rc = ics_zone_once(seen, cal, z, e->tzid, e->uid, err);
    if (rc == CL_OK)
        icalcomponent_add_component(
            cal, ics_vevent(e, z, e->rrule != NULL ? &r : NULL, e->cancelled || m == ICS_CANCEL));
    return rc;
}

/* A calendar of method m; name (may be NULL) is what a subscribed calendar calls itself. */
static int ics_render_cal(char **out, const struct ics_event *ev, size_t n, enum ics_method m,
                          const char *name, struct cl_err *err)
{
    struct ics_zones seen = {{NULL}, 0};
    icalcomponent *cal;
    char *text;
    size_t i;
    int rc = ics_check_line(name, "calendar name", "-", false, err);

    if (rc == CL_OK && n == 0 && m != ICS_PUBLISH)
        rc = cl_fail(err, CL_EINVAL, "a %s needs an event", method_names[m]);
    if (rc != CL_OK)
        return rc;
    icalerror_set_errors_are_fatal(0);
    cal = icalcomponent_new_vcalendar();
    icalcomponent_add_property(cal, icalproperty_new_prodid(ICS_PRODID));
    icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
    icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
    icalcomponent_add_property(cal, icalproperty_new_method(method_values[m]));
    if (name != NULL && name[0] != '\0') {
        icalproperty *p = icalproperty_new_x(name);

        icalproperty_set_x_name(p, "X-WR-CALNAME");
        icalcomponent_add_property(cal, p);
    }
    for (i = 0; rc == CL_OK && i < n; i++)
        rc = ics_add_event(cal, &seen, &ev[i], m, err);
    if (rc == CL_OK) {
        text = icalcomponent_as_ical_string_r(cal);
        *out = cl_strdup(text != NULL ? text : "");
        icalmemory_free_buffer(text);
    }
    icalcomponent_free(cal);
    return rc;
}

int ics_render(char **out, const struct ics_event *ev, size_t n, enum ics_method m,
               struct cl_err *err)
{
    return ics_render_cal(out, ev, n, m, NULL, err);
}

int ics_render_feed(char **out, const struct ics_event *ev, size_t n, const char *name,
                    struct cl_err *err)
{
    return ics_render_cal(out, ev, n, ICS_PUBLISH, name, err);
}

int ics_event_check(const struct ics_event *ev, enum ics_method m, struct cl_err *err)
{
    struct icalrecurrencetype r;
    icaltimezone *z = NULL;

    return ics_prepare(&r, &z, ev, m, err);
}

/* ---- from the review event JSON ---- */

/* A string member: borrowed; NULL when absent or null and not required. */
static int ics_json_str(const char **out, const json_t *o, const char *key, bool required,
                        const char *where, struct cl_err *err)
{
    const json_t *v = json_object_get(o, key);

    *out = NULL;
    if ((v == NULL || json_is_null(v)) && !required)
        return CL_OK;
    if (!json_is_string(v))
        return cl_fail(err, CL_EINVAL, "event JSON: %s%s must be a string", where, key);
    *out = json_string_value(v);
    return CL_OK;
}

static int ics_json_int(int *out, const json_t *o, const char *key, int min, int max,
                        struct cl_err *err)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return cl_fail(err, CL_EINVAL, "event JSON: %s must be an integer in %d..%d", key, min,
                       max);
    *out = (int)json_integer_value(v);
    return CL_OK;
}

/* "YYYY-MM-DDTHH:MM:SSZ" (what cl_review_event_json() writes) as an instant. */
static int ics_json_time(time_t *out, const json_t *o, const char *key, struct cl_err *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    struct tm tm;
    int end = 0;

    memset(&tm, 0, sizeof(tm));
    if (s == NULL || strlen(s) != 20 ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &end) != 6 ||
        end != 20 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return cl_fail(err, CL_EINVAL, "event JSON: %s must be a UTC time YYYY-MM-DDTHH:MM:SSZ",
                       key);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return CL_OK;
}

/* `what` names the object in messages ("organizer", "attendees[2]"). */
static int ics_json_person(struct ics_person *p, const json_t *o, const char *what,
                           struct cl_err *err)
{
    const char *role = NULL;
    char where[48];
    int rc;

    if (!json_is_object(o))
        return cl_fail(err, CL_EINVAL, "event JSON: %s must be an object", what);
    snprintf(where, sizeof(where), "%s.", what);
    rc = ics_json_str(&p->email, o, "email", true, where, err);
    if (rc == CL_OK)
        rc = ics_json_str(&p->name, o, "name", false, where, err);
    if (rc == CL_OK)
        rc = ics_json_str(&role, o, "role", false, where, err);
    if (rc == CL_OK && role != NULL && strcmp(role, "chair") != 0 && strcmp(role, "req") != 0)
        rc = cl_fail(err, CL_EINVAL, "event JSON: %srole must be \"chair\" or \"req\"", where);
    p->chair = role != NULL && strcmp(role, "chair") == 0;
    return rc;
}

static int ics_json_attendees(struct ics_event *ev, const json_t *list, struct cl_err *err)
{
    char where[48];
    size_t i;
    int rc = CL_OK;

    if (!json_is_array(list))
        return cl_fail(err, CL_EINVAL, "event JSON: attendees must be an array");
    if (json_array_size(list) > ICS_MAX_ATTENDEES)
        return cl_fail(err, CL_EINVAL, "event JSON: more than %d attendees", ICS_MAX_ATTENDEES);
    ev->owned_attendees = cl_calloc(json_array_size(list) + 1, sizeof(*ev->owned_attendees));
    for (i = 0; rc == CL_OK && i < json_array_size(list); i++) {
        snprintf(where, sizeof(where), "attendees[%zu]", i);
        rc = ics_json_person(&ev->owned_attendees[i], json_array_get(list, i), where, err);
    }
    ev->attendees = ev->owned_attendees;
    ev->nattendees = rc == CL_OK ? json_array_size(list) : 0;
    return rc;
}

/* status, and the strings of the event itself. */
static int ics_json_texts(struct ics_event *ev, const json_t *o, struct cl_err *err)
{
    const char *status = NULL;
    int rc = ics_json_str(&ev->uid, o, "uid", true, "", err);

    if (rc == CL_OK)
        rc = ics_json_str(&status, o, "status", true, "", err);
    if (rc == CL_OK && strcmp(status, "scheduled") != 0 && strcmp(status, "held") != 0 &&
        strcmp(status, "cancelled") != 0)
        rc = cl_fail(err, CL_EINVAL, "event JSON: status must be scheduled, held or cancelled");
    if (rc == CL_OK)
        ev->cancelled = strcmp(status, "cancelled") == 0;
    if (rc == CL_OK)
        rc = ics_json_str(&ev->tzid, o, "timezone", true, "", err);
    if (rc == CL_OK)
        rc = ics_json_str(&ev->rrule, o, "rrule", false, "", err);
    if (rc == CL_OK)
        rc = ics_json_str(&ev->summary, o, "summary", true, "", err);
    if (rc == CL_OK)
        rc = ics_json_str(&ev->description, o, "description", false, "", err);
    if (rc == CL_OK)
        rc = ics_json_str(&ev->url, o, "url", false, "", err);
    return rc;
}

int ics_event_from_json(struct ics_event *ev, const json_t *o, struct cl_err *err)
{
    int rc;

    memset(ev, 0, sizeof(*ev));
    if (!json_is_object(o))
        return cl_fail(err, CL_EINVAL, "event JSON: not an object");
    rc = ics_json_texts(ev, o, err);
    if (rc == CL_OK)
        rc = ics_json_int(&ev->sequence, o, "sequence", 0, 2147483647, err);
    if (rc == CL_OK)
        rc = ics_json_int(&ev->duration_minutes, o, "duration_minutes", 1, ICS_DURATION_MAX, err);
    if (rc == CL_OK)
        rc = ics_json_time(&ev->start, o, "starts_at", err);
    if (rc == CL_OK)
        rc = ics_json_time(&ev->stamp, o, "stamp", err);
    if (rc == CL_OK && !json_is_null(json_object_get(o, "organizer")))
        rc = ics_json_person(&ev->organizer, json_object_get(o, "organizer"), "organizer", err);
    if (rc == CL_OK)
        rc = ics_json_attendees(ev, json_object_get(o, "attendees"), err);
    return rc;
}

void ics_event_dispose(struct ics_event *ev)
{
    if (ev == NULL)
        return;
    free(ev->owned_attendees);
    ev->owned_attendees = NULL;
    ev->attendees = NULL;
    ev->nattendees = 0;
}
