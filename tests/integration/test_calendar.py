"""Calendar feeds: making, listing and revoking them through the API and the CLI, and what
GET /calendar/<token>.ics serves without a bearer token, parsed by an independent parser
(Debian's python3-icalendar, tests/integration/ics_parse.py) as well as checked as text:
UID, SEQUENCE, METHOD, TZID with its VTIMEZONE, 15:00 local on both sides of a DST change
in Europe/Berlin and America/New_York, attendees, RRULE, cancelled reviews; a person's
feed holds only the reviews they are invited to; revoked and unknown tokens are 404.
"""
import json
import os
import re
import subprocess
import unittest

from test_api import API, ApiCase, uniq

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = '/usr/bin/python3'  # the one with Debian's python3-icalendar
FEEDS = API + '/calendar-feeds'
TOKEN_RE = re.compile(r'^clf_[A-Za-z0-9_-]{43}$')


def schedule_review(svc, key, at, timezone, attendees=(), moves=0, cancel=False):
    """Schedules the incident's review through the API (PUT .../review with a local time in
    timezone, 45 minutes), moves it `moves` times (each raises its SEQUENCE; the last move
    comes back to `at`) and cancels it when asked. Returns the review's JSON as GET shows
    it."""
    path = '%s/incidents/%s/review' % (API, key)
    body = {'at': at, 'timezone': timezone, 'duration_minutes': 45}
    if attendees:
        body['attendees'] = list(attendees)
    r = svc.request('PUT', path, body=body)
    assert r.status in (200, 201), r.body
    for i in range(moves):
        other = at if i == moves - 1 else at.replace(' 15:00', ' 16:00')
        r = svc.request('POST', path + '/move', body={'at': other, 'reason': 'test move'})
        assert r.status == 200, r.body
    if cancel:
        r = svc.request('POST', path + '/cancel', body={'reason': 'test cancel'})
        assert r.status == 200, r.body
    r = svc.request('GET', path)
    assert r.status == 200, r.body
    return r.json


def insert_backlog_review_sql(svc, team, uid, starts_at, timezone, rrule, duration=60):
    """Inserts a team's backlog review row directly. TEST SETUP ONLY, and the one place
    that does it: closeloopd makes backlog reviews from the [review] policy only (no route
    takes one by hand), and these tests want a fixed time on a fixed date. Returns its id."""
    rows = svc.sql(
        "INSERT INTO reviews (kind, team_id, uid, starts_at, timezone, duration_minutes, rrule,"
        " source) VALUES ('backlog', (SELECT id FROM teams WHERE name = :'p1'), :'p2',"
        " :'p3'::timestamptz, :'p4', :'p5'::int, :'p6', 'api') RETURNING id",
        team, uid, starts_at, timezone, duration, rrule)
    return int(rows[0][0])


def parse_ics(text):
    """The calendar as ics_parse.py reads it (fails the test when it does not parse)."""
    p = subprocess.run([SYSTEM_PYTHON, os.path.join(HERE, 'ics_parse.py')], input=text,
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError('python3-icalendar refused the feed: %s\n%s'
                             % (p.stderr.decode(errors='replace'), text[:2000].decode()))
    return json.loads(p.stdout)


def unfold(text):
    return text.replace('\r\n ', '')


class CalendarCase(ApiCase):
    """Fixtures: a team with a manager, people in two zones, four incident reviews on both
    sides of the spring DST changes, and the team's recurring backlog review."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        svc = cls.svc

        def mk(path, body):
            r = svc.request('POST', API + path, body=body)
            assert r.status == 201, (path, r.body)
            return r.json

        cls.team = uniq('sre')
        for h, tz in (('mia', 'UTC'), ('fay', 'Europe/Berlin'), ('otto', 'UTC'),
                      ('nora', 'America/New_York'), ('olga', 'UTC'), ('gone', 'UTC')):
            handle = uniq(h)
            setattr(cls, h, handle)
            mk('/people', {'handle': handle, 'name': h.capitalize() + ' Example',
                           'email': handle + '@example.com', 'timezone': tz})
        mk('/teams', {'name': cls.team, 'manager': cls.mia})
        for h in (cls.fay, cls.otto, cls.gone):
            assert svc.request('PATCH', API + '/people/' + h, body={'team': cls.team}).status == 200
        cls.inc = {}
        for n, fac in ((1, cls.fay), (2, cls.fay), (3, cls.nora), (4, cls.nora)):
            key = 'CAL-%s' % uniq('')
            cls.inc[n] = key
            mk('/incidents', {'key': key, 'title': 'Outage %d, with; odd, chars' % n,
                              'facilitator': fac,
                              'postmortem_url': 'https://wiki.example.com/pm/%d' % n})
        # INC 1: otto owns an open action, olga a done one, gone (made inactive) an open one
        for owner, verb in ((cls.otto, None), (cls.olga, 'done'), (cls.gone, None)):
            a = mk('/actions', {'incident': cls.inc[1], 'kind': 'corrective', 'title': 'fix',
                                'owner': owner, 'due_on': None})
            if verb:
                assert svc.request('POST', '%s/actions/%d/%s' % (API, a['id'], verb)).status == 200
        assert svc.request('PATCH', API + '/people/' + cls.gone,
                           body={'active': False}).status == 200
        # 15:00 local, before and after the DST change (Berlin 2027-03-28, New York 2027-03-14)
        cls.rev = {
            1: schedule_review(svc, cls.inc[1], '2027-03-26 15:00', 'Europe/Berlin', moves=1),
            2: schedule_review(svc, cls.inc[2], '2027-03-30 15:00', 'Europe/Berlin',
                               attendees=('guest@partner.example.org',)),
            3: schedule_review(svc, cls.inc[3], '2027-03-12 15:00', 'America/New_York',
                               moves=1, cancel=True),
            4: schedule_review(svc, cls.inc[4], '2027-03-16 15:00', 'America/New_York'),
        }
        cls.backlog_uid = 'backlog-%s@closeloop' % cls.team
        cls.backlog_id = insert_backlog_review_sql(svc, cls.team, cls.backlog_uid,
                                                   '2027-01-05 14:00:00+00', 'Europe/Berlin',
                                                   'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU')

    def mk_feed(self, body, token='admin'):
        js, _ = self.call('POST', FEEDS, body, expect=201, token=token)
        return js

    def fetch(self, url, expect=200):
        r = self.svc.request('GET', url, token=None)
        self.assertEqual(r.status, expect, r.body[:300])
        return r

    def feed_of(self, body):
        """The parsed calendar of a new feed made with body, and the raw answer."""
        r = self.fetch(self.mk_feed(body)['url'])
        return parse_ics(r.body), r


class FeedApiTest(CalendarCase):

    def test_create_shows_the_token_once_and_keeps_only_its_hash(self):
        f = self.mk_feed({'person': self.fay, 'label': 'Fay reviews'})
        self.assertRegex(f['token'], TOKEN_RE)
        self.assertEqual(f['url'], '/calendar/%s.ics' % f['token'])
        self.assertEqual((f['person'], f['team'], f['label'], f['revoked_at']),
                         (self.fay, None, 'Fay reviews', None))
        stored = self.svc.sql("SELECT token_hash FROM calendar_feeds WHERE id = :'p1'", f['id'])
        self.assertEqual(stored[0][0], __import__('hashlib').sha256(f['token'].encode()).hexdigest())
        dump = self.svc.sql("SELECT row_to_json(f)::text FROM calendar_feeds f")
        self.assertNotIn(f['token'], repr(dump))
        listed = self.get(FEEDS + '?limit=500')['items']
        mine = [x for x in listed if x['id'] == f['id']]
        self.assertEqual(len(mine), 1)
        self.assertNotIn('token', mine[0])
        self.assertNotIn('url', mine[0])
        self.assertNotIn(f['token'], json.dumps(listed))
        other = self.mk_feed({'person': self.fay})
        self.assertNotEqual(other['token'], f['token'])

    def test_create_refuses_bad_bodies(self):
        self.error('POST', FEEDS, {}, status=422, code='validation', field='person')
        self.error('POST', FEEDS, {'person': self.fay, 'team': self.team}, status=422,
                   code='validation', field='person')
        self.error('POST', FEEDS, {'person': 'nobody-here'}, status=422, code='validation',
                   field='person')
        self.error('POST', FEEDS, {'person': self.gone}, status=422, code='validation',
                   field='person')
        self.error('POST', FEEDS, {'team': 'no-such-team'}, status=422, code='validation',
                   field='team')
        self.error('POST', FEEDS, {'person': self.fay, 'token': 'x'}, status=422,
                   code='validation', field='token')
        self.error('POST', FEEDS, {'person': self.fay}, status=403, code='forbidden',
                   token='read')

    def test_revoke_answers_404_from_then_on(self):
        f = self.mk_feed({'team': self.team})
        self.fetch(f['url'])
        js, _ = self.call('DELETE', '%s/%d' % (FEEDS, f['id']), token='write')
        self.assertIsNotNone(js['revoked_at'])
        gone = self.fetch(f['url'], expect=404)
        unknown = self.fetch('/calendar/clf_%s.ics' % ('A' * 43), expect=404)
        self.assertEqual(gone.body, unknown.body, 'revoked and unknown look alike')
        again, _ = self.call('DELETE', '%s/%d' % (FEEDS, f['id']))
        self.assertEqual(again['revoked_at'], js['revoked_at'], 'revoking twice changes nothing')
        self.error('DELETE', '%s/999999999' % FEEDS, status=404, code='not_found')
        self.error('DELETE', '%s/x' % FEEDS, status=404, code='not_found')

    def test_garbage_tokens_are_404(self):
        f = self.mk_feed({'person': self.fay})
        tok = f['token']
        for path in ('/calendar/garbage.ics', '/calendar/%s' % tok, '/calendar/%s.ical' % tok,
                     '/calendar/%s.ics' % tok.replace('clf_', 'clt_'),
                     '/calendar/%s.ics' % (tok[:-1] + '%21'), '/calendar/%s.ics' % tok[:-1],
                     '/calendar/%s0.ics' % tok, "/calendar/clf_'%3B--" + 'x' * 37 + '.ics'):
            with self.subTest(path=path):
                r = self.fetch(path, expect=404)
                self.assertEqual(r.json['error']['code'], 'not_found')
        self.fetch(f['url'] + '?nocache=1')  # a calendar app's cache buster is ignored

    def test_token_never_reaches_the_log(self):
        f = self.mk_feed({'person': self.fay})
        self.fetch(f['url'])
        self.svc.request('POST', f['url'], token=None)
        self.fetch('/calendar/%s.ics' % f['token'].replace('clf_', 'clf-'), expect=404)
        log = self.svc.log_text()
        self.assertIn('route=/calendar/{}', log)
        self.assertNotIn(f['token'], log)
        self.assertNotIn(f['token'][4:], log)

    def test_feed_route_needs_no_bearer_but_the_api_does(self):
        f = self.mk_feed({'person': self.fay})
        r = self.fetch(f['url'])
        self.assertEqual(r.headers['content-type'], 'text/calendar; charset=utf-8')
        with_bearer = self.svc.request('GET', f['url'], token='read')
        self.assertEqual(with_bearer.status, 200)
        self.assertEqual(with_bearer.body, r.body, 'the same bytes every time')
        self.error('GET', FEEDS, status=401, code='unauthorized', token=None)


class FeedContentTest(CalendarCase):

    def events_by_uid(self, cal):
        return {e['uid']: e for e in cal['events']}

    def uid(self, n):
        return self.rev[n]['uid'] if n < 5 else self.backlog_uid

    def test_person_feed_holds_only_their_reviews(self):
        expect = {self.fay: {1, 2}, self.otto: {1, 5}, self.olga: {1}, self.nora: {3, 4},
                  self.mia: {1, 2, 5}}
        for who, revs in expect.items():
            with self.subTest(person=who):
                cal, _ = self.feed_of({'person': who})
                self.assertEqual(cal['method'], 'PUBLISH')
                self.assertEqual(set(self.events_by_uid(cal)), {self.uid(n) for n in revs})
        outsider = self.mk_person()['handle']
        cal, r = self.feed_of({'person': outsider})
        self.assertEqual(cal['events'], [])
        self.assertIn(b'BEGIN:VCALENDAR\r\n', r.body)

    def test_team_feed_holds_the_team_reviews(self):
        cal, _ = self.feed_of({'team': self.team, 'label': 'SRE reviews'})
        self.assertEqual(cal['name'], 'SRE reviews')
        self.assertEqual(set(self.events_by_uid(cal)), {self.uid(n) for n in (1, 2, 5)})

    def test_15h_local_across_dst_in_berlin_and_new_york(self):
        cal, r = self.feed_of({'team': self.team})
        cal2, r2 = self.feed_of({'person': self.nora})
        ev = self.events_by_uid(cal)
        ev.update(self.events_by_uid(cal2))
        want = {1: ('Europe/Berlin', '2027-03-26T15:00:00', '2027-03-26T14:00:00Z'),
                2: ('Europe/Berlin', '2027-03-30T15:00:00', '2027-03-30T13:00:00Z'),
                3: ('America/New_York', '2027-03-12T15:00:00', '2027-03-12T20:00:00Z'),
                4: ('America/New_York', '2027-03-16T15:00:00', '2027-03-16T19:00:00Z')}
        for n, (tz, local, utc) in want.items():
            with self.subTest(review=n):
                e = ev[self.uid(n)]
                self.assertEqual((e['tzid'], e['local'], e['utc']), (tz, local, utc))
        self.assertEqual(cal['timezones'], ['Europe/Berlin'], 'one VTIMEZONE per zone used')
        self.assertEqual(cal2['timezones'], ['America/New_York'])
        text = unfold(r.body.decode())
        self.assertIn('DTSTART;TZID=Europe/Berlin:20270326T150000\r\n', text)
        self.assertIn('DTSTART;TZID=Europe/Berlin:20270330T150000\r\n', text)
        self.assertIn('DTEND;TZID=Europe/Berlin:20270330T154500\r\n', text)
        self.assertIn('BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n', text)
        text2 = unfold(r2.body.decode())
        self.assertIn('DTSTART;TZID=America/New_York:20270312T150000\r\n', text2)
        self.assertIn('DTSTART;TZID=America/New_York:20270316T150000\r\n', text2)

    def test_event_fields(self):
        cal, r = self.feed_of({'team': self.team})
        ev = self.events_by_uid(cal)
        e1 = ev[self.uid(1)]
        self.assertEqual(e1['sequence'], self.rev[1]['sequence'])
        self.assertGreater(e1['sequence'], ev[self.uid(2)]['sequence'], 'a move raises it')
        self.assertEqual(e1['status'], 'CONFIRMED')
        self.assertEqual(e1['summary'], 'Review: %s Outage 1, with; odd, chars' % self.inc[1])
        self.assertIn('https://wiki.example.com/pm/1', e1['description'])
        self.assertIn('3 actions: 2 open, 1 done', e1['description'])
        self.assertEqual(e1['url'], 'https://wiki.example.com/pm/1')
        self.assertEqual(e1['organizer'], self.fay + '@example.com')
        self.assertEqual(e1['end_utc'], '2027-03-26T14:45:00Z')
        roles = {a['email']: a['role'] for a in e1['attendees']}
        self.assertEqual(roles, {self.fay + '@example.com': 'CHAIR',
                                 self.otto + '@example.com': 'REQ-PARTICIPANT',
                                 self.olga + '@example.com': 'REQ-PARTICIPANT',
                                 self.mia + '@example.com': 'REQ-PARTICIPANT'},
                         'facilitator, owners of open and done actions, the manager; not the '
                         'inactive owner')
        self.assertTrue(all(a['partstat'] == 'NEEDS-ACTION' and a['rsvp'] == 'TRUE'
                            for a in e1['attendees']))
        self.assertEqual({a['cn'] for a in e1['attendees'] if a['role'] == 'CHAIR'},
                         {'Fay Example'})
        e2 = ev[self.uid(2)]
        self.assertIn('guest@partner.example.org', {a['email'] for a in e2['attendees']})
        self.assertIsNone(e1['rrule'])
        back = ev[self.uid(5)]
        self.assertEqual(back['rrule'], 'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU')
        self.assertEqual(back['summary'], 'Backlog review: %s' % self.team)
        self.assertEqual(back['organizer'], self.mia + '@example.com')
        self.assertEqual({(a['email'], a['role']) for a in back['attendees']},
                         {(self.mia + '@example.com', 'CHAIR'),
                          (self.otto + '@example.com', 'REQ-PARTICIPANT')})
        self.assertEqual((back['local'], back['end_utc']),
                         ('2027-01-05T15:00:00', '2027-01-05T15:00:00Z'))

    def test_cancelled_review_stays_in_the_feed_as_cancelled(self):
        cal, _ = self.feed_of({'person': self.nora})
        e3 = self.events_by_uid(cal)[self.uid(3)]
        self.assertEqual((e3['status'], e3['sequence']), ('CANCELLED', self.rev[3]['sequence']))
        self.assertEqual(self.rev[3]['status'], 'cancelled')
        self.assertEqual(self.events_by_uid(cal)[self.uid(4)]['status'], 'CONFIRMED')

    def test_feed_follows_changes(self):
        f = self.mk_feed({'person': self.nora})
        path = '%s/incidents/%s/review' % (API, self.inc[4])
        before = self.events_by_uid(parse_ics(self.fetch(f['url']).body))[self.uid(4)]
        self.call('POST', path + '/move', {'at': '2027-04-06 15:00', 'reason': 'test'})
        try:
            e4 = self.events_by_uid(parse_ics(self.fetch(f['url']).body))[self.uid(4)]
            self.assertEqual((e4['local'], e4['utc']), ('2027-04-06T15:00:00',
                                                        '2027-04-06T19:00:00Z'))
            self.assertEqual(e4['sequence'], before['sequence'] + 1)
            self.assertEqual(e4['uid'], before['uid'])
        finally:
            self.call('POST', path + '/move', {'at': '2027-03-16 15:00', 'reason': 'test'})

    def test_attendees_and_event_json_from_sql(self):
        rows = self.svc.sql("SELECT email, role, coalesce(person, '-') FROM cl_review_attendees("
                            ":'p1')", self.rev[1]['id'])
        self.assertEqual(rows[0], [self.fay + '@example.com', 'chair', self.fay], 'chair first')
        self.assertNotIn(self.gone + '@example.com', [r[0] for r in rows])
        self.assertEqual(len(rows), len({r[0].lower() for r in rows}), 'one row per address')
        js = json.loads(self.svc.sql("SELECT cl_review_event_json(:'p1', '{\"name\": \"closeloop\","
                                     " \"email\": \"noreply@example.com\"}')", self.rev[2]['id'])[0][0])
        self.assertEqual(js['organizer'], {'name': 'closeloop', 'email': 'noreply@example.com'})
        self.assertEqual((js['starts_at'], js['timezone'], js['status'], js['sequence'],
                          js['uid']),
                         ('2027-03-30T13:00:00Z', 'Europe/Berlin', 'scheduled',
                          self.rev[2]['sequence'], self.rev[2]['uid']))
        self.assertEqual(js['attendees'][-1], {'name': None, 'email': 'guest@partner.example.org',
                                               'role': 'req', 'person': None})
        self.assertIsNone(self.svc.sql("SELECT cl_review_event_json(-1, NULL)")[0][0])


class FeedCliTest(CalendarCase):

    def cli_ok(self, *args, **kw):
        p = self.svc.cli(*args, **kw)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_create_list_revoke(self):
        out = self.cli_ok('feed', 'create', '--person', self.fay, '--label', 'mine')
        m = re.search(r'(https?://\S+/calendar/(clf_[A-Za-z0-9_-]{43})\.ics)', out)
        self.assertIsNotNone(m, out)
        self.fetch('/calendar/%s.ics' % m.group(2))
        js = json.loads(self.cli_ok('feed', 'create', '--team', self.team, '--json'))
        self.assertRegex(js['token'], TOKEN_RE)
        listed = self.cli_ok('feed', 'list')
        self.assertIn('mine', listed)
        self.assertNotIn(m.group(2), listed)
        fid = str(self.q1("SELECT id FROM calendar_feeds WHERE label = 'mine'"))
        self.cli_ok('feed', 'revoke', fid)
        self.fetch('/calendar/%s.ics' % m.group(2), expect=404)
        p = self.svc.cli('feed', 'create', '--person', self.fay, '--team', self.team)
        self.assertEqual(p.returncode, 1, p.stderr)
        p = self.svc.cli('feed', 'revoke', '999999999')
        self.assertEqual(p.returncode, 1, p.stderr)


if __name__ == '__main__':
    unittest.main()
