#include "closeloop/cal/ics.h"

#include <libical/ical.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static const struct ics_person people[] = {
    {"Fay Facilitator", "fay@example.com", true},
    {"Otto Owner, Jr.", "otto@example.com", false},
    {"Mia \"Boss\" Manager", "mia@example.com", false},
};

/* The instant of a local wall time in zone tz, computed by the C library's zoneinfo (not
 * libical): what the rendering must give back. */
static time_t local_instant(const char *tz, int y, int mon, int d, int h, int min)
{
    char *old = getenv("TZ") != NULL ? strdup(getenv("TZ")) : NULL;
    struct tm tm;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = min;
    tm.tm_isdst = -1;
    setenv("TZ", tz, 1);
    tzset();
    t = mktime(&tm);
    if (old != NULL)
        setenv("TZ", old, 1);
    else
        unsetenv("TZ");
    tzset();
    free(old);
    return t;
}

static struct ics_event event(const char *uid, const char *tz, time_t start)
{
    struct ics_event e;

    memset(&e, 0, sizeof(e));
    e.uid = uid;
    e.sequence = 3;
    e.summary = "Review: INC-42 Checkout down";
    e.description = "Incident INC-42.\nPostmortem: https://wiki.example.com/pm/42\n3 actions";
    e.url = "https://wiki.example.com/pm/42";
    e.start = start;
    e.tzid = tz;
    e.duration_minutes = 45;
    e.organizer = people[0];
    e.attendees = people;
    e.nattendees = CL_ARRAY_LEN(people);
    e.stamp = 1800000000;
    return e;
}

/* s with its folded lines joined again (RFC 5545 §3.1: CRLF and one space), in place. */
static char *unfold(char *s)
{
    char *r = s;
    char *w = s;

    while (*r != '\0') {
        if (r[0] == '\r' && r[1] == '\n' && r[2] == ' ') {
            r += 3;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
    return s;
}

/* Renders and parses the text back with libical's parser; *text, unfolded, for further
 * checks. */
static icalcomponent *render_parse(char **text, const struct ics_event *ev, size_t n,
                                   enum ics_method m)
{
    struct cl_err err = CL_ERR_INIT;
    icalcomponent *cal;

    assert_int_equal(ics_render(text, ev, n, m, &err), CL_OK);
    assert_non_null(strstr(*text, "\r\n"));
    cal = icalparser_parse_string(*text);
    assert_non_null(cal);
    unfold(*text);
    assert_int_equal(icalcomponent_isa(cal), ICAL_VCALENDAR_COMPONENT);
    return cal;
}

static icalcomponent *first_event(icalcomponent *cal)
{
    icalcomponent *ve = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);

    assert_non_null(ve);
    return ve;
}

static const char *param_tzid(icalproperty *p)
{
    icalparameter *tz = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);

    return tz != NULL ? icalparameter_get_tzid(tz) : NULL;
}

static int count(icalcomponent *c, icalcomponent_kind kind)
{
    return icalcomponent_count_components(c, kind);
}

static void test_ics__request_parses_back(void **state)
{
    struct ics_event e = event("review-42@closeloop", "Europe/Berlin",
                               local_instant("Europe/Berlin", 2027, 1, 12, 15, 0));
    char *text = NULL;
    icalcomponent *cal = render_parse(&text, &e, 1, ICS_REQUEST);
    icalcomponent *ve = first_event(cal);
    icalproperty *p;
    int chairs = 0;
    int n = 0;

    (void)state;
    assert_int_equal(icalcomponent_get_method(cal), ICAL_METHOD_REQUEST);
    assert_string_equal(icalcomponent_get_uid(ve), "review-42@closeloop");
    assert_int_equal(icalcomponent_get_sequence(ve), 3);
    assert_int_equal(icalcomponent_get_status(ve), ICAL_STATUS_CONFIRMED);
    assert_string_equal(icalcomponent_get_summary(ve), e.summary);
    assert_string_equal(icalcomponent_get_description(ve), e.description);
    p = icalcomponent_get_first_property(ve, ICAL_DTSTART_PROPERTY);
    assert_string_equal(param_tzid(p), "Europe/Berlin");
    assert_non_null(strstr(text, "DTSTART;TZID=Europe/Berlin:20270112T150000\r\n"));
    assert_non_null(strstr(text, "DTEND;TZID=Europe/Berlin:20270112T154500\r\n"));
    assert_non_null(strstr(text, "DTSTAMP:20270115T080000Z\r\n"));
    assert_int_equal(count(cal, ICAL_VTIMEZONE_COMPONENT), 1);
    p = icalcomponent_get_first_property(ve, ICAL_ORGANIZER_PROPERTY);
    assert_string_equal(icalproperty_get_organizer(p), "mailto:fay@example.com");
    for (p = icalcomponent_get_first_property(ve, ICAL_ATTENDEE_PROPERTY); p != NULL;
         p = icalcomponent_get_next_property(ve, ICAL_ATTENDEE_PROPERTY), n++) {
        icalparameter *role = icalproperty_get_first_parameter(p, ICAL_ROLE_PARAMETER);
        icalparameter *ps = icalproperty_get_first_parameter(p, ICAL_PARTSTAT_PARAMETER);
        icalparameter *cn = icalproperty_get_first_parameter(p, ICAL_CN_PARAMETER);

        assert_non_null(role);
        assert_non_null(cn);
        assert_int_equal(icalparameter_get_partstat(ps), ICAL_PARTSTAT_NEEDSACTION);
        chairs += icalparameter_get_role(role) == ICAL_ROLE_CHAIR;
        assert_string_equal(icalproperty_get_attendee(p),
                            n == 1 ? "mailto:otto@example.com" : icalproperty_get_attendee(p));
    }
    assert_int_equal(n, 3);
    assert_int_equal(chairs, 1);
    assert_null(icalcomponent_get_first_property(ve, ICAL_RRULE_PROPERTY));
    icalcomponent_free(cal);
    free(text);
}

static void test_ics__cancel_and_publish(void **state)
{
    time_t t = local_instant("America/New_York", 2027, 2, 1, 15, 0);
    struct ics_event ev[3] = {event("a@x", "America/New_York", t), event("b@x", "Europe/Berlin", t),
                              event("c@x", "America/New_York", t + 86400)};
    char *text = NULL;
    icalcomponent *cal = render_parse(&text, ev, 1, ICS_CANCEL);

    (void)state;
    assert_int_equal(icalcomponent_get_method(cal), ICAL_METHOD_CANCEL);
    assert_int_equal(icalcomponent_get_status(first_event(cal)), ICAL_STATUS_CANCELLED);
    icalcomponent_free(cal);
    free(text);

    ev[2].cancelled = true;
    ev[2].rrule = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU";
    cal = render_parse(&text, ev, 3, ICS_PUBLISH);
    assert_int_equal(icalcomponent_get_method(cal), ICAL_METHOD_PUBLISH);
    assert_int_equal(count(cal, ICAL_VEVENT_COMPONENT), 3);
    assert_int_equal(count(cal, ICAL_VTIMEZONE_COMPONENT), 2); /* one per zone */
    assert_non_null(strstr(text, "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU\r\n"));
    assert_non_null(strstr(text, "STATUS:CANCELLED\r\n"));
    assert_non_null(strstr(text, "STATUS:CONFIRMED\r\n"));
    icalcomponent_free(cal);
    free(text);
}

/* 15:00 local on both sides of a DST change stays 15:00 in the text, and the VTIMEZONE of
 * the output maps it back to the instant the C library computed. */
static void check_local_15(const char *tz, int y, int m, int d)
{
    time_t t = local_instant(tz, y, m, d, 15, 0);
    struct ics_event e = event("dst@x", tz, t);
    char *text = NULL;
    icalcomponent *cal = render_parse(&text, &e, 1, ICS_REQUEST);
    icalproperty *p = icalcomponent_get_first_property(first_event(cal), ICAL_DTSTART_PROPERTY);
    struct icaltimetype start = icalproperty_get_dtstart(p);
    icaltimezone *zone = icalcomponent_get_timezone(cal, param_tzid(p));
    char line[96];

    snprintf(line, sizeof(line), "DTSTART;TZID=%s:%04d%02d%02dT150000\r\n", tz, y, m, d);
    if (strstr(text, line) == NULL)
        fail_msg("no %s in the text", line);
    assert_false(icaltime_is_utc(start));
    assert_string_equal(param_tzid(p), tz);
    assert_non_null(zone);
    assert_int_equal(start.hour, 15);
    assert_int_equal(start.minute, 0);
    assert_int_equal(start.day, d);
    assert_int_equal((long)icaltime_as_timet_with_zone(start, zone), (long)t);
    icalcomponent_free(cal);
    free(text);
}

static void test_ics__15h_local_across_dst(void **state)
{
    (void)state;
    /* Europe/Berlin: CEST from 2027-03-28, CET again from 2027-10-31 */
    check_local_15("Europe/Berlin", 2027, 3, 26);
    check_local_15("Europe/Berlin", 2027, 3, 30);
    check_local_15("Europe/Berlin", 2027, 10, 29);
    check_local_15("Europe/Berlin", 2027, 11, 2);
    /* America/New_York: EDT from 2027-03-14, EST again from 2027-11-07 */
    check_local_15("America/New_York", 2027, 3, 12);
    check_local_15("America/New_York", 2027, 3, 16);
    check_local_15("America/New_York", 2027, 11, 5);
    check_local_15("America/New_York", 2027, 11, 9);
    /* and the two instants differ by the change: 15:00 is not a fixed UTC time */
    assert_int_equal((long)(local_instant("Europe/Berlin", 2027, 3, 30, 15, 0) -
                            local_instant("Europe/Berlin", 2027, 3, 26, 15, 0)),
                     4L * 86400 - 3600);
}

static void test_ics__utc_has_no_vtimezone(void **state)
{
    struct ics_event e = event("utc@x", "UTC", 1800000000);
    char *text = NULL;
    icalcomponent *cal = render_parse(&text, &e, 1, ICS_REQUEST);

    (void)state;
    assert_int_equal(count(cal, ICAL_VTIMEZONE_COMPONENT), 0);
    assert_non_null(strstr(text, "DTSTART:20270115T080000Z\r\n"));
    icalcomponent_free(cal);
    free(text);
}

static void test_ics__same_input_same_bytes(void **state)
{
    struct ics_event e = event("same@x", "Europe/Berlin", 1800000000);
    struct cl_err err = CL_ERR_INIT;
    char *a = NULL;
    char *b = NULL;

    (void)state;
    assert_int_equal(ics_render(&a, &e, 1, ICS_REQUEST, &err), CL_OK);
    assert_int_equal(ics_render(&b, &e, 1, ICS_REQUEST, &err), CL_OK);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* Renders e and expects CL_EINVAL with `needle` in the message, and no output. */
static void expect_refused(const struct ics_event *e, const char *needle)
{
    struct cl_err err = CL_ERR_INIT;
    char *out = NULL;

    assert_int_equal(ics_render(&out, e, 1, ICS_REQUEST, &err), CL_EINVAL);
    assert_null(out);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_ics__bad_values_are_refused(void **state)
{
    struct ics_event e = event("bad@x", "Mars/Olympus_Mons", 1800000000);
    struct ics_person crlf[] = {{"Eve\r\nATTENDEE:mailto:x@y.z", "eve@example.com", false}};
    struct cl_err err = CL_ERR_INIT;
    char *out = NULL;

    (void)state;
    expect_refused(&e, "time zone \"Mars/Olympus_Mons\" is unknown");
    e.tzid = "Europe/Berlin";
    e.rrule = "FREQ=FORTNIGHTLY";
    expect_refused(&e, "rrule \"FREQ=FORTNIGHTLY\" is not an RFC 5545 recurrence rule");
    e.rrule = "FREQ=WEEKLY;BOGUS=1";
    expect_refused(&e, "rrule");
    e.rrule = NULL;
    e.uid = "x\r\nMETHOD:CANCEL";
    expect_refused(&e, "uid holds a control character");
    e.uid = "ok@x";
    e.attendees = crlf;
    e.nattendees = 1;
    expect_refused(&e, "attendee holds a control character");
    crlf[0].name = "Eve";
    crlf[0].email = "eve.example.com";
    expect_refused(&e, "is not a mail address");
    e.nattendees = 0;
    e.organizer.email = NULL;
    expect_refused(&e, "organizer is missing");
    assert_int_equal(ics_render(&out, &e, 1, ICS_PUBLISH, &err), CL_OK); /* a feed may lack one */
    assert_null(strstr(out, "ORGANIZER"));
    free(out);
    out = NULL;
    e.organizer = people[0];
    e.duration_minutes = 0;
    expect_refused(&e, "duration_minutes 0");
    assert_int_equal(ics_render(&out, &e, 0, ICS_CANCEL, &err), CL_EINVAL);
}

static void test_ics__text_is_escaped(void **state)
{
    struct ics_event e = event("text@x", "Europe/Berlin", 1800000000);
    char *text = NULL;
    icalcomponent *cal;

    (void)state;
    e.summary = "Review: a, b; c\r\nEND:VCALENDAR";
    cal = render_parse(&text, &e, 1, ICS_REQUEST);
    assert_null(strstr(text, "\r\nEND:VCALENDAR\r\nEND"));
    assert_string_equal(icalcomponent_get_summary(first_event(cal)),
                        "Review: a, b; c\nEND:VCALENDAR");
    assert_int_equal(count(cal, ICAL_VEVENT_COMPONENT), 1);
    icalcomponent_free(cal);
    free(text);
}

static const char good_json[] =
    "{\"uid\": \"review-7@closeloop\", \"sequence\": 2, \"status\": \"cancelled\","
    " \"starts_at\": \"2027-03-30T13:00:00Z\", \"timezone\": \"Europe/Berlin\","
    " \"duration_minutes\": 30, \"rrule\": null, \"summary\": \"Review: INC-7 x\","
    " \"description\": \"d\", \"url\": null, \"stamp\": \"2027-03-01T10:00:00Z\","
    " \"organizer\": {\"name\": \"Fay\", \"email\": \"fay@example.com\"},"
    " \"attendees\": [{\"name\": \"Fay\", \"email\": \"fay@example.com\", \"role\": \"chair\","
    " \"person\": \"fay\"}, {\"name\": null, \"email\": \"x@example.com\", \"role\": \"req\","
    " \"person\": null}]}";

static json_t *load(const char *text)
{
    json_t *o = json_loads(text, 0, NULL);

    assert_non_null(o);
    return o;
}

static void test_ics__from_json(void **state)
{
    json_t *o = load(good_json);
    struct cl_err err = CL_ERR_INIT;
    struct ics_event e;
    char *text = NULL;

    (void)state;
    assert_int_equal(ics_event_from_json(&e, o, &err), CL_OK);
    assert_string_equal(e.uid, "review-7@closeloop");
    assert_int_equal(e.sequence, 2);
    assert_true(e.cancelled);
    assert_int_equal((long)e.start, (long)local_instant("Europe/Berlin", 2027, 3, 30, 15, 0));
    assert_int_equal(e.nattendees, 2);
    assert_true(e.attendees[0].chair);
    assert_false(e.attendees[1].chair);
    assert_null(e.attendees[1].name);
    assert_null(e.rrule);
    assert_int_equal(ics_render(&text, &e, 1, ICS_PUBLISH, &err), CL_OK);
    unfold(text);
    assert_non_null(strstr(text, "DTSTART;TZID=Europe/Berlin:20270330T150000\r\n"));
    assert_non_null(strstr(text, "STATUS:CANCELLED\r\n"));
    assert_non_null(strstr(text, "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:"
                                 "mailto:x@example.com\r\n"));
    free(text);
    ics_event_dispose(&e);
    json_decref(o);
}

/* One member of the good JSON replaced (or removed, value NULL): refused, naming it. */
static void expect_json_refused(const char *key, json_t *value, const char *needle)
{
    json_t *o = load(good_json);
    struct cl_err err = CL_ERR_INIT;
    struct ics_event e;

    if (value != NULL)
        json_object_set_new(o, key, value);
    else
        json_object_del(o, key);
    assert_int_equal(ics_event_from_json(&e, o, &err), CL_EINVAL);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", key, err.msg, needle);
    ics_event_dispose(&e);
    json_decref(o);
}

static void test_ics__from_json_checks_types(void **state)
{
    (void)state;
    expect_json_refused("uid", json_integer(7), "uid must be a string");
    expect_json_refused("uid", NULL, "uid must be a string");
    expect_json_refused("sequence", json_string("2"), "sequence must be an integer");
    expect_json_refused("sequence", json_integer(-1), "sequence must be an integer");
    expect_json_refused("status", json_string("maybe"), "status must be");
    expect_json_refused("starts_at", json_string("2027-03-30 13:00"), "starts_at must be");
    expect_json_refused("stamp", json_string("2027-13-30T13:00:00Z"), "stamp must be");
    expect_json_refused("duration_minutes", json_integer(0), "duration_minutes");
    expect_json_refused("rrule", json_true(), "rrule must be a string");
    expect_json_refused("organizer", json_string("fay"), "organizer must be an object");
    expect_json_refused("attendees", json_object(), "attendees must be an array");
    expect_json_refused("attendees", json_pack("[{s:i}]", "email", 1),
                        "attendees[0].email must be a string");
    expect_json_refused("attendees", json_pack("[{s:s, s:s}]", "email", "a@b.c", "role", "boss"),
                        "attendees[0].role must be");
}

#define ICS_PYTHON "/usr/bin/python3"
#define ICS_PARSER "tests/integration/ics_parse.py"

/* What the independent parser (python3-icalendar, through ICS_PARSER) reads in text, as
 * JSON; NULL when it is not installed here (the test is then skipped). */
static json_t *python_parse(const char *text)
{
    char path[] = "/tmp/test_ics.XXXXXX";
    char cmd[256];
    char buf[65536];
    int fd = mkstemp(path);
    FILE *p;
    size_t n;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    if (access(ICS_PYTHON, X_OK) != 0 || access(ICS_PARSER, R_OK) != 0 ||
        system(ICS_PYTHON " -c 'import icalendar' 2>/dev/null") != 0) {
        unlink(path);
        return NULL;
    }
    snprintf(cmd, sizeof(cmd), "%s %s < %s", ICS_PYTHON, ICS_PARSER, path);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    assert_int_equal(pclose(p), 0);
    unlink(path);
    return json_loads(buf, 0, NULL);
}

/* A REQUEST and a CANCEL (what invitations send) read by python3-icalendar too: the same
 * method, UID, SEQUENCE, zone, 15:00 local and instant on both sides of a DST change. */
static void test_ics__python_icalendar_reads_request_and_cancel(void **state)
{
    time_t before = local_instant("America/New_York", 2027, 3, 12, 15, 0);
    time_t after = local_instant("America/New_York", 2027, 3, 16, 15, 0);
    struct ics_event ev[2] = {event("py-1@x", "America/New_York", before),
                              event("py-2@x", "America/New_York", after)};
    static const enum ics_method methods[] = {ICS_REQUEST, ICS_CANCEL};
    struct cl_err err = CL_ERR_INIT;
    size_t i;

    (void)state;
    ev[1].rrule = "FREQ=WEEKLY;INTERVAL=2";
    for (i = 0; i < 2; i++) {
        char *text = NULL;
        json_t *cal;
        json_t *e;

        assert_int_equal(ics_render(&text, &ev[i], 1, methods[i], &err), CL_OK);
        cal = python_parse(text);
        free(text);
        if (cal == NULL)
            skip(); /* no python3-icalendar here: deps.sh installs it */
        e = json_array_get(json_object_get(cal, "events"), 0);
        assert_string_equal(json_string_value(json_object_get(cal, "method")),
                            ics_method_name(methods[i]));
        assert_string_equal(json_string_value(json_object_get(e, "uid")), ev[i].uid);
        assert_int_equal(json_integer_value(json_object_get(e, "sequence")), 3);
        assert_string_equal(json_string_value(json_object_get(e, "tzid")), "America/New_York");
        assert_string_equal(json_string_value(json_object_get(e, "local")),
                            i == 0 ? "2027-03-12T15:00:00" : "2027-03-16T15:00:00");
        assert_string_equal(json_string_value(json_object_get(e, "utc")),
                            i == 0 ? "2027-03-12T20:00:00Z" : "2027-03-16T19:00:00Z");
        assert_string_equal(json_string_value(json_object_get(e, "status")),
                            i == 0 ? "CONFIRMED" : "CANCELLED");
        assert_int_equal(json_array_size(json_object_get(e, "attendees")), 3);
        json_decref(cal);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ics__request_parses_back),
        cmocka_unit_test(test_ics__cancel_and_publish),
        cmocka_unit_test(test_ics__15h_local_across_dst),
        cmocka_unit_test(test_ics__utc_has_no_vtimezone),
        cmocka_unit_test(test_ics__same_input_same_bytes),
        cmocka_unit_test(test_ics__bad_values_are_refused),
        cmocka_unit_test(test_ics__text_is_escaped),
        cmocka_unit_test(test_ics__from_json),
        cmocka_unit_test(test_ics__from_json_checks_types),
        cmocka_unit_test(test_ics__python_icalendar_reads_request_and_cancel),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    icaltimezone_free_builtin_timezones();
    return rc;
}
