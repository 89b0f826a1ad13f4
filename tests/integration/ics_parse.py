"""Reads an iCalendar text on stdin with an independent parser (Debian's python3-icalendar,
not libical) and prints what the tests check, as JSON:

    {"method", "name", "timezones": [TZID of each VTIMEZONE],
     "events": [{"uid", "sequence", "status", "summary", "description", "url", "tzid",
                 "local" (DTSTART's wall time, YYYY-MM-DDTHH:MM:SS), "utc" (its instant,
                 resolved by the parser's own zone data), "end_utc", "rrule",
                 "organizer", "attendees": [{"email", "cn", "role", "partstat", "rsvp"}]}]}

Run it with /usr/bin/python3 (the python3 on PATH may lack icalendar); exits 1 with the
parser's complaint when the text does not parse."""
import datetime
import json
import sys

import icalendar


def mailto(v):
    s = str(v)
    return s[7:] if s.lower().startswith('mailto:') else s


def instant(prop):
    dt = prop.dt
    if dt.tzinfo is None:
        raise ValueError('floating time %s' % dt)
    return dt.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def event(ev):
    start = ev['DTSTART']
    attendees = ev.get('ATTENDEE', [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    rrule = ev.get('RRULE')
    return {
        'uid': str(ev['UID']),
        'sequence': int(ev.get('SEQUENCE', 0)),
        'status': str(ev.get('STATUS', '')),
        'summary': str(ev.get('SUMMARY', '')),
        'description': str(ev.get('DESCRIPTION', '')),
        'url': str(ev['URL']) if 'URL' in ev else None,
        'tzid': start.params.get('TZID'),
        'local': start.dt.replace(tzinfo=None).strftime('%Y-%m-%dT%H:%M:%S'),
        'utc': instant(start),
        'end_utc': instant(ev['DTEND']),
        'rrule': rrule.to_ical().decode() if rrule is not None else None,
        'organizer': mailto(ev['ORGANIZER']) if 'ORGANIZER' in ev else None,
        'attendees': [{'email': mailto(a), 'cn': a.params.get('CN'),
                       'role': a.params.get('ROLE'), 'partstat': a.params.get('PARTSTAT'),
                       'rsvp': a.params.get('RSVP')} for a in attendees],
    }


def main():
    data = sys.stdin.buffer.read()
    try:
        cal = icalendar.Calendar.from_ical(data)
        out = {
            'method': str(cal.get('METHOD', '')),
            'name': str(cal['X-WR-CALNAME']) if 'X-WR-CALNAME' in cal else None,
            'timezones': [str(tz['TZID']) for tz in cal.walk('VTIMEZONE')],
            'events': [event(ev) for ev in cal.walk('VEVENT')],
        }
    except Exception as e:  # the parser's own words, whatever it raises
        print('ics_parse: %s: %s' % (type(e).__name__, e), file=sys.stderr)
        return 1
    json.dump(out, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
