"""Scheduling the close-the-loop review: the policy (working days, holidays, bounds, the
facilitator's zone and hour, per-team overrides), moves when the work moves, pinned reviews
left alone, scheduling by hand, moving, cancelling, the history, the backlog review of a
team, and the bad input.

Each test talks to a real closeloopd (harness.Service) whose scheduler runs every second;
expected times are computed here from the policy's rules, independently of the SQL.
"""
import datetime
import os
import subprocess
import tempfile
import unittest
from zoneinfo import ZoneInfo

from harness import Service, until, free_port
from test_api import API, ApiCase, uniq, ts

DAY = datetime.timedelta(days=1)
GRACE, MIN, MAX = 7, 14, 60


def workday(d, holidays, days=(1, 2, 3, 4, 5), step=1):
    while d.isoweekday() not in days or d in holidays:
        d += step * DAY
    return d


def saturday_on_or_after(d):
    return d + ((6 - d.isoweekday()) % 7) * DAY


class ReviewCase(ApiCase):
    """A closeloopd with a [review] policy: one holiday, and a team "plat" that meets at
    10:00 on Mondays and Wednesdays and has a weekly backlog review on Thursdays."""

    @classmethod
    def setUpClass(cls):
        today = datetime.datetime.now(datetime.timezone.utc).date()
        cls.sat = saturday_on_or_after(today + 22 * DAY)  # due + grace lands on it
        cls.sat2 = cls.sat + 7 * DAY
        cls.holiday = cls.sat2 + 2 * DAY  # the Monday after the second Saturday
        fd, cls.conf = tempfile.mkstemp(prefix='clreview.', suffix='.ini')
        with os.fdopen(fd, 'w') as f:
            f.write('review_interval = 1\n[review]\ngrace = 7d\nmin = 14d\nmax = 60d\n'
                    'hour = 15\nduration = 45m\nholidays = %s\n'
                    '[review.plat]\nhour = 10\nworking_days = mon,wed\nbacklog = weekly\n'
                    'backlog_day = thu\nbacklog_hour = 11\n' % cls.holiday.isoformat())
        cls.svc = Service(name=cls.__name__, env={'CLOSELOOP_CONFIG': cls.conf}).start()
        mk = lambda path, body: cls.svc.request('POST', API + path, body=body)
        cls.fac = uniq('fac')
        assert mk('/people', {'handle': cls.fac, 'name': 'Fa Cilitator',
                              'email': cls.fac + '@example.com',
                              'timezone': 'Europe/Berlin'})[0] == 201

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(cls.conf)

    def incident(self, started=None, facilitator=None):
        started = started or self.today()
        inc = self.mk_incident('REV-%s' % uniq('').upper().replace('_', ''),
                               started_at='%sT08:00:00Z' % started.isoformat(),
                               facilitator=facilitator or self.fac)
        return inc['key']

    def review(self, key, timeout=10.0):
        """The review once the scheduler made it."""
        path = '%s/incidents/%s/review' % (API, key)
        until(lambda: self.svc.request('GET', path)[0] == 200, timeout=timeout,
              what='the scheduler to give %s a review' % key)
        return self.get(path)

    def settled(self, key):
        """Waits until the scheduler took the incident's last change."""
        until(lambda: int(self.q1("SELECT count(*) FROM review_replan r JOIN incidents i"
                                  " ON i.id = r.incident_id WHERE i.key = :'p1'", key)) == 0,
              what='the scheduler to look at %s again' % key)

    def expect(self, review, day, hour, zone):
        want = datetime.datetime.combine(day, datetime.time(hour), ZoneInfo(zone))
        self.assertEqual(ts(review['starts_at']), want, review)
        self.assertEqual(review['local'], want.strftime('%Y-%m-%d %H:%M'))
        self.assertEqual(review['timezone'], zone)

    def events(self, key):
        return self.get('%s/incidents/%s/review/history' % (API, key))['items']


class PolicyTest(ReviewCase):

    def test_weekend_skipped_at_the_facilitators_hour_and_zone(self):
        key = self.incident()
        self.mk_action(key, due_on=(self.sat - GRACE * DAY).isoformat())
        r = self.review(key)
        self.assertEqual(r['source'], 'scheduler')
        self.assertFalse(r['pinned'])
        self.assertEqual((r['sequence'], r['status'], r['duration_minutes']), (0, 'scheduled', 45))
        self.expect(r, self.sat + 2 * DAY, 15, 'Europe/Berlin')  # Saturday -> Monday
        ev = self.events(key)
        self.assertEqual([(e['what'], e['source']) for e in ev], [('scheduled', 'scheduler')])

    def test_holiday_skipped(self):
        key = self.incident()
        self.mk_action(key, due_on=(self.sat2 - GRACE * DAY).isoformat())
        self.expect(self.review(key), self.holiday + DAY, 15, 'Europe/Berlin')  # Tuesday

    def test_max_bound_held_backwards_off_a_weekend(self):
        today = self.today()
        sat = saturday_on_or_after(today + 30 * DAY)
        started = sat - MAX * DAY  # start + max is a Saturday
        key = self.incident(started=started)
        self.mk_action(key, due_on=(today + 100 * DAY).isoformat())
        self.expect(self.review(key), sat - DAY, 15, 'Europe/Berlin')  # the Friday before

    def test_min_bound_held(self):
        today = self.today()
        key = self.incident(started=today)
        self.mk_action(key, due_on=(today + DAY).isoformat())
        want = workday(today + MIN * DAY, {self.holiday})
        self.expect(self.review(key), want, 15, 'Europe/Berlin')

    def test_the_facilitators_own_hour_and_zone(self):
        fac = self.mk_person(timezone='America/New_York', review_hour=9)['handle']
        self.assertEqual(self.get('%s/people/%s' % (API, fac))['review_hour'], 9)
        key = self.incident(facilitator=fac)
        self.mk_action(key, due_on=(self.sat - GRACE * DAY).isoformat())
        self.expect(self.review(key), self.sat + 2 * DAY, 9, 'America/New_York')

    def test_a_teams_override(self):
        self.mk_team('plat')
        fac = self.mk_person(timezone='Asia/Tokyo', team='plat')['handle']
        key = self.incident(facilitator=fac)
        self.mk_action(key, due_on=(self.sat - GRACE * DAY).isoformat())
        r = self.review(key)
        self.assertEqual(r['team'], 'plat')
        self.expect(r, self.sat + 2 * DAY, 10, 'Asia/Tokyo')  # Monday is a plat day
        key2 = self.incident(facilitator=fac)
        self.mk_action(key2, due_on=(self.sat - (GRACE - 3) * DAY).isoformat())  # a Tuesday
        self.expect(self.review(key2), self.sat + 4 * DAY, 10, 'Asia/Tokyo')  # -> Wednesday

    def test_no_facilitator_uses_the_policys_zone(self):
        inc = self.mk_incident('REV-%s' % uniq('').upper().replace('_', ''),
                               started_at='%sT08:00:00Z' % self.today().isoformat())
        self.mk_action(inc['key'], due_on=(self.sat - GRACE * DAY).isoformat())
        self.expect(self.review(inc['key']), self.sat + 2 * DAY, 15, 'UTC')

    def test_past_the_window_no_review_is_made_up(self):
        for status in ('open', 'done'):
            with self.subTest(status=status):
                key = self.incident(started=self.today() - (MAX + 1) * DAY)
                a = self.mk_action(key, due_on=(self.today() + 5 * DAY).isoformat())
                if status == 'done':
                    self.call('POST', '%s/actions/%d/done' % (API, a['id']), {})
                self.settled(key)
                self.error('GET', '%s/incidents/%s/review' % (API, key), status=404,
                           code='not_found')
        # by hand it can still be had, at the policy's time: the earliest working day after
        # the facilitator's today
        berlin = datetime.datetime.now(ZoneInfo('Europe/Berlin')).date()
        r = self.call('PUT', '%s/incidents/%s/review' % (API, key), {})[0]
        self.expect(r, workday(berlin + DAY, {self.holiday}), 15, 'Europe/Berlin')


class MoveTest(ReviewCase):

    def test_moves_when_a_due_date_moves_past_it(self):
        key = self.incident()
        a = self.mk_action(key, due_on=(self.sat - GRACE * DAY).isoformat())
        first = self.review(key)
        later = self.sat + 14 * DAY - GRACE * DAY  # + grace: a Saturday two weeks on
        self.call('PATCH', '%s/actions/%d' % (API, a['id']),
                  {'due_on': later.isoformat(), 'reason': 'vendor slipped'})
        until(lambda: self.get('%s/incidents/%s/review' % (API, key))['sequence'] == 1,
              what='the review to move')
        r = self.get('%s/incidents/%s/review' % (API, key))
        self.expect(r, self.sat + 16 * DAY, 15, 'Europe/Berlin')
        self.assertEqual(r['uid'], first['uid'], 'the same UID')
        ev = self.events(key)
        self.assertEqual([e['what'] for e in ev], ['scheduled', 'moved'])
        self.assertEqual((ev[1]['source'], ev[1]['reason']),
                         ('scheduler', 'the work moved past the meeting'))
        self.assertTrue(ev[1]['from'].startswith(first['local']), ev[1])
        self.assertTrue(ev[1]['to'].startswith(r['local']), ev[1])

    def test_moves_when_an_action_is_added(self):
        key = self.incident()
        self.mk_action(key, due_on=(self.sat - GRACE * DAY).isoformat())
        self.review(key)
        self.mk_action(key, due_on=(self.sat2 - GRACE * DAY).isoformat())
        until(lambda: self.get('%s/incidents/%s/review' % (API, key))['sequence'] == 1,
              what='the review to move')
        self.expect(self.get('%s/incidents/%s/review' % (API, key)), self.holiday + DAY, 15,
                    'Europe/Berlin')

    def test_an_earlier_due_date_leaves_it(self):
        key = self.incident()
        a = self.mk_action(key, due_on=(self.sat2 - GRACE * DAY).isoformat())
        first = self.review(key)
        self.call('PATCH', '%s/actions/%d' % (API, a['id']),
                  {'due_on': (self.sat - GRACE * DAY).isoformat()})
        self.settled(key)
        self.assertEqual(self.get('%s/incidents/%s/review' % (API, key)), first)

    def test_pinned_review_is_not_moved(self):
        key = self.incident()
        a = self.mk_action(key, due_on=(self.sat - GRACE * DAY).isoformat())
        self.review(key)
        at = (self.sat + 3 * DAY).isoformat() + ' 16:30'
        r = self.call('PUT', '%s/incidents/%s/review' % (API, key), {'at': at})[0]
        self.assertTrue(r['pinned'])
        self.assertEqual((r['local'], r['sequence']), (at, 1))
        self.call('PATCH', '%s/actions/%d' % (API, a['id']),
                  {'due_on': (self.sat2 + 30 * DAY).isoformat(), 'reason': 'much later'})
        self.settled(key)
        self.assertEqual(self.get('%s/incidents/%s/review' % (API, key)), r)


class ScheduleTest(ReviewCase):

    def cli_ok(self, *args):
        p = self.svc.cli(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_schedule_move_cancel_revive_from_the_cli(self):
        key = self.incident()
        at = (self.sat + 3 * DAY).isoformat() + ' 15:00'
        out = self.cli_ok('review', 'schedule', key, '--at', at, '--tz', 'America/New_York',
                          '--duration', '1h', '--attendees', 'sre@example.com, cto@example.com',
                          '--summary-to', 'all@example.com')
        self.assertIn(at, out)
        self.assertIn('America/New_York', out)
        r = self.get('%s/incidents/%s/review' % (API, key))
        self.assertEqual((r['duration_minutes'], r['pinned'], r['source'], r['sequence']),
                         (60, True, 'cli', 0))
        self.assertEqual(r['attendees'], ['sre@example.com', 'cto@example.com'])
        self.assertEqual(r['summary_to'], ['all@example.com'])
        self.expect(r, self.sat + 3 * DAY, 15, 'America/New_York')
        out = self.cli_ok('review', 'move', key, '--at', (self.sat + 4 * DAY).isoformat() +
                          ' 09:30', '--reason', 'the CTO is away')
        self.assertIn('09:30', out)
        out = self.cli_ok('review', 'cancel', key, '--reason', 'merged with INC-1')
        self.assertIn('cancelled', out)
        out = self.cli_ok('review', 'schedule', key, '--at', at)
        r2 = self.get('%s/incidents/%s/review' % (API, key))
        self.assertEqual((r2['status'], r2['uid'], r2['sequence']), ('scheduled', r['uid'], 3))
        hist = self.cli_ok('review', 'history', key)
        for word in ('scheduled', 'moved', 'cancelled', 'revived', 'the CTO is away',
                     'merged with INC-1'):
            self.assertIn(word, hist)
        ev = self.events(key)
        self.assertEqual([e['what'] for e in ev], ['scheduled', 'moved', 'cancelled', 'revived'])
        self.assertEqual({e['source'] for e in ev}, {'cli'})
        self.assertIn('scheduled', self.cli_ok('review', 'status', key))

    def test_schedule_by_the_policy(self):
        key = self.incident()
        self.mk_action(key, due_on=(self.sat - GRACE * DAY).isoformat())
        r = self.call('PUT', '%s/incidents/%s/review' % (API, key), {})[0]
        self.assertFalse(r['pinned'])
        self.expect(r, self.sat + 2 * DAY, 15, 'Europe/Berlin')

    def test_bad_input_changes_nothing(self):
        key = self.incident()
        at = (self.sat + 3 * DAY).isoformat() + ' 15:00'
        r = self.call('PUT', '%s/incidents/%s/review' % (API, key), {'at': at})[0]
        path = '%s/incidents/%s/review' % (API, key)
        self.error('PUT', '%s/incidents/NOPE-999/review' % API, {'at': at}, status=404,
                   code='not_found')
        self.error('PUT', path, {'at': '2020-01-06 15:00'}, status=422, code='validation',
                   field='at')
        self.error('PUT', path, {'at': 'next tuesday'}, status=422, code='validation',
                   field='at')
        self.error('PUT', path, {'at': '2027-02-30 15:00'}, status=422, code='validation',
                   field='at')
        self.error('PUT', path, {'at': at, 'timezone': 'Mars/Olympus'}, status=422,
                   code='validation', field='timezone')
        self.error('PUT', path, {'at': at, 'duration_minutes': 3}, status=422,
                   code='validation', field='duration_minutes')
        self.error('PUT', path, {'attendees': ['not an address']}, status=422,
                   code='validation', field='attendees')
        self.error('PUT', path, {'at': at, 'colour': 'red'}, status=422, code='validation',
                   field='colour')
        self.error('POST', path + '/move', {}, status=422, code='validation', field='at')
        self.assertEqual(self.get(path), r, 'nothing changed')
        self.assertEqual(len(self.events(key)), 1)
        p = self.svc.cli('review', 'move', key, '--at', 'tomorrow-ish')
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn('--at', p.stderr)
        p = self.svc.cli('review', 'schedule', 'NOPE-999')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('NOPE-999', p.stderr)
        self.call('POST', path + '/cancel', {})
        self.error('POST', path + '/move', {'at': at}, status=409, code='invalid_transition', field='status')
        self.error('POST', path + '/cancel', {}, status=409, code='invalid_transition', field='status')

    def test_read_token_cannot_schedule(self):
        key = self.incident()
        self.error('PUT', '%s/incidents/%s/review' % (API, key), {}, status=403,
                   code='forbidden', token='read')


class BacklogTest(ReviewCase):

    def test_the_teams_weekly_backlog_review_and_its_agenda(self):
        self.mk_team('plat')
        mgr = self.mk_person(timezone='Europe/Paris', team='plat')['handle']
        self.call('PATCH', '%s/teams/plat' % API, {'manager': mgr})
        dev = self.mk_person(team='plat')['handle']
        key = self.incident(facilitator=mgr)
        today = self.today()
        late = self.mk_action(key, owner=dev, due_on=(today - 3 * DAY).isoformat())
        risk = self.mk_action(key, owner=dev, due_on=(today + 2 * DAY).isoformat())
        done = self.mk_action(key, owner=dev)
        self.call('POST', '%s/actions/%d/done' % (API, done['id']), {})
        nobody = self.mk_action(key, owner=None)
        path = '%s/teams/plat/backlog-review' % API
        # the scheduler may make it before the team has its manager: it then follows the
        # manager's zone (and the manager organizes it) at its next pass
        until(lambda: (self.get(path)['review'] or {}).get('timezone') == 'Europe/Paris',
              what="the backlog review in the manager's zone")
        b = self.get(path)
        r = b['review']
        self.assertEqual((r['kind'], r['team'], r['rrule']),
                         ('backlog', 'plat', 'FREQ=WEEKLY;INTERVAL=1;BYDAY=TH'))
        start = ts(r['starts_at']).astimezone(ZoneInfo('Europe/Paris'))
        self.assertEqual((start.isoweekday(), start.hour, r['timezone']), (4, 11, 'Europe/Paris'))
        self.assertEqual(r['facilitator'], mgr)
        self.assertGreater(start.date(), today)
        self.assertLessEqual(start.date(), today + 7 * DAY)
        ids = {k: [i['id'] for i in v] for k, v in b['lists'].items()}
        self.assertEqual(ids, {'overdue': [late['id']], 'at_risk': [risk['id']],
                               'awaiting_verification': [done['id']],
                               'unowned': [nobody['id']]})
        out = self.svc.cli('review', 'backlog', 'plat')
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('FREQ=WEEKLY', out.stdout)
        self.assertIn('Overdue: 1', out.stdout)
        self.assertIn('Unowned: 1', out.stdout)


class TwoInstancesTest(ReviewCase):

    def test_two_instances_schedule_each_incident_once(self):
        env = self.svc._daemon_env()
        port = free_port()
        env['CLOSELOOP_LISTEN'] = '127.0.0.1:%d' % port
        log = open(self.svc.log_path + '.second', 'wb')
        other = subprocess.Popen([self.svc.daemon, 'serve'], env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
        try:
            keys = []
            for _ in range(12):
                key = self.incident()
                self.mk_action(key, due_on=(self.sat - GRACE * DAY).isoformat())
                keys.append(key)
            for key in keys:
                self.review(key)
                self.settled(key)
            n = self.svc.sql("SELECT count(*), count(DISTINCT r.incident_id) FROM reviews r"
                             " JOIN review_events e ON e.review_id = r.id"
                             " JOIN incidents i ON i.id = r.incident_id"
                             " WHERE i.key = ANY(string_to_array(:'p1', ','))",
                             ','.join(keys))[0]
            self.assertEqual([int(x) for x in n], [12, 12], 'one review, one event each')
        finally:
            other.terminate()
            other.wait(10)
            log.close()
        with open(self.svc.log_path + '.second', 'rb') as f:
            text = f.read().decode(errors='replace')
        self.assertNotIn('review_pass_failed', text)
        self.assertNotIn('review_pass_failed', self.svc.log_text())



class TimeoutTest(ReviewCase):
    """A pass that hits the statement timeout is rolled back; the scheduler halves its
    batch and tries again at once, so that a pass too big for the timeout cannot stop
    every review from being made, and grows the batch back once passes succeed."""

    @classmethod
    def setUpClass(cls):
        fd, cls.conf = tempfile.mkstemp(prefix='clreview.', suffix='.ini')
        with os.fdopen(fd, 'w') as f:
            f.write('review_interval = 1\nrequest_timeout = 0.5\n')
        cls.svc = Service(name=cls.__name__, env={'CLOSELOOP_CONFIG': cls.conf}).start()
        cls.fac = uniq('fac')
        assert cls.svc.request('POST', API + '/people', body={
            'handle': cls.fac, 'name': 'Fa', 'email': cls.fac + '@example.com'})[0] == 201

    def test_timed_out_passes_shrink_the_batch_then_it_grows_back(self):
        holder = subprocess.Popen(['psql', '-X', '-q', '-A', '-t', '-d', self.svc.db.dsn],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            holder.stdin.write("BEGIN;\nLOCK TABLE reviews IN ACCESS EXCLUSIVE MODE;\n"
                               "SELECT 'locked';\n")
            holder.stdin.flush()
            self.assertEqual(holder.stdout.readline().strip(), 'locked')
            keys = []
            for _ in range(3):
                key = self.incident()
                self.mk_action(key, due_on=(self.today() + 20 * DAY).isoformat())
                keys.append(key)
            until(lambda: 'event=review_batch from=50 to=25' in self.svc.log_text(),
                  timeout=20, what='the batch halved twice while passes time out')
            self.assertIn('event=review_batch from=100 to=50', self.svc.log_text())
            self.assertIn('review_pass_failed batch=100', self.svc.log_text())
            holder.stdin.write('COMMIT;\n')
            holder.stdin.flush()
        finally:
            holder.stdin.close()
            holder.wait(10)
        for key in keys:
            self.review(key)
        until(lambda: 'event=review_batch from=50 to=100' in self.svc.log_text(), timeout=20,
              what='the batch back to 100 once passes succeed')


if __name__ == '__main__':
    unittest.main()
