"""issue 9: the figures per team, owner and incident (GET /api/v1/figures, `closeloop report
figures`), the dashboard (`closeloop dashboard`) and the per-team gauges of /metrics.

One service with figures_interval = 1 s on a fresh database holding a small data set whose
figures were worked out by hand (see setUpClass): every expected number below is counted
from that list, not read back from the service.
"""
import datetime
import itertools
import json
import re
import time
import unittest

from harness import Service

API = '/api/v1'
_seq = itertools.count(1)


def uniq(prefix):
    return '%s%d' % (prefix, next(_seq))


class FiguresTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.svc = Service(name=cls.__name__, env={'CLOSELOOP_FIGURES_INTERVAL': '1'}).start()
        svc = cls.svc

        def call(method, path, body=None):
            st, _, js, raw = svc.request(method, API + path, body=body)
            assert st in (200, 201), (path, body, st, raw)
            return js

        today = datetime.date.fromisoformat(
            str(svc.sql("SELECT (now() AT TIME ZONE 'UTC')::date::text")[0][0]))
        d = lambda n: (today + datetime.timedelta(days=n)).isoformat()
        cls.ta, cls.tb = uniq('fa'), uniq('fb')
        for t in (cls.ta, cls.tb):
            call('POST', '/teams', {'name': t})
        cls.amy, cls.bo, cls.cy, cls.gone = uniq('amy'), uniq('bo'), uniq('cy'), uniq('gone')
        for h, t in ((cls.amy, cls.ta), (cls.bo, cls.ta), (cls.cy, cls.tb), (cls.gone, cls.ta)):
            call('POST', '/people', {'handle': h, 'name': h, 'email': h + '@example.com',
                                     'team': t})
        cls.i1, cls.i2 = 'FIG-%d' % next(_seq), 'FIG-%d' % next(_seq)
        for k in (cls.i1, cls.i2):
            call('POST', '/incidents', {'key': k, 'title': 'figures'})

        def act(inc, title, **kw):
            body = {'incident': inc, 'kind': 'corrective', 'title': title}
            body.update(kw)
            return call('POST', '/actions', body)['id']
        # incident 1
        cls.a1 = act(cls.i1, 'late', owner=cls.amy, due_on=d(-3))          # overdue 3 days
        act(cls.i1, 'nobody', due_on=d(10))                                 # unowned, no team
        act(cls.i1, 'undated', owner=cls.bo, due_on=None)                   # undated (null: not the due policy's)
        act(cls.i1, 'soon', owner=cls.bo, due_on=d(2))                      # due this week
        a5 = act(cls.i1, 'blocked', owner=cls.amy, due_on=d(20))
        call('POST', '/actions/%d/block' % a5, {'reason': 'waits'})
        # incident 2
        a6 = act(cls.i2, 'slipped then done', owner=cls.cy, due_on=d(-2))
        call('PATCH', '/actions/%d' % a6, {'due_on': d(5), 'reason': 'r'})  # on time: last only
        call('POST', '/actions/%d/done' % a6)
        a7 = act(cls.i2, 'done late', owner=cls.cy, due_on=d(-5))           # late: both
        call('POST', '/actions/%d/done' % a7)
        a8 = act(cls.i2, 'done early', owner=cls.amy, due_on=d(3))          # on time: both
        call('POST', '/actions/%d/done' % a8)
        act(cls.i2, 'owner left', owner=cls.gone, due_on=d(15))             # unowned in fa
        call('PATCH', '/people/' + cls.gone, {'active': False})
        a10 = act(cls.i2, 'dropped', owner=cls.bo, due_on=d(7))
        call('POST', '/actions/%d/drop' % a10, {'reason': 'not needed'})
        a11 = act(cls.i2, 'started', owner=cls.amy, due_on=d(4))            # due this week
        call('POST', '/actions/%d/start' % a11)
        cls.changed = time.time()

    @classmethod
    def tearDownClass(cls):
        code = cls.svc.stop()
        super().tearDownClass()
        assert code == 0, 'closeloopd exited %s' % code

    def get(self, query, expect=200):
        st, _, js, raw = self.svc.request('GET', API + '/figures' + query)
        self.assertEqual(st, expect, raw[:500])
        return js

    def fresh(self, query):
        """The answer once the snapshot it comes from was computed after the data set."""
        deadline = time.time() + 20
        while True:
            js = self.get(query)
            as_of = datetime.datetime.fromisoformat(js['as_of']).timestamp()
            if as_of > self.changed + 0.5:
                return js
            if time.time() > deadline:
                self.fail('the figures snapshot was not refreshed: as_of %s' % js['as_of'])
            time.sleep(0.3)

    def assertFigures(self, fig, **want):
        for k, v in want.items():
            self.assertEqual(fig[k], v, '%s in %s' % (k, fig))

    def test_totals_from_the_snapshot(self):
        js = self.fresh('')
        self.assertEqual(js['by'], 'total')
        self.assertEqual(js['days'], 90)
        self.assertEqual(len(js['items']), 1)
        self.assertFigures(js['items'][0], open=7, in_progress=1, blocked=1, overdue=1,
                           unowned=2, undated=1, due_this_week=2, done=3, dropped=1,
                           median_age_days=0, median_days_late=3, closed=3,
                           median_days_to_close=0, on_time_last=0.667, on_time_first=0.333)
        week = js['trend'][-1]
        self.assertEqual((week['opened'], week['closed'], week['on_time']), (11, 3, 2))
        self.assertEqual(len(js['trend']), 12)
        self.assertTrue(all(w['opened'] == 0 for w in js['trend'][:-1]), js['trend'])
        self.assertEqual(self.get('?period=month')['trend'][-1]['opened'], 11)

    def test_per_team(self):
        js = self.fresh('?by=team')
        teams = {it['team']: it for it in js['items']}
        self.assertEqual(set(teams), {self.ta, self.tb, None})
        self.assertFigures(teams[self.ta], open=6, overdue=1, unowned=1, undated=1, blocked=1,
                           due_this_week=2, done=1, dropped=1, on_time_last=1, on_time_first=1)
        self.assertFigures(teams[self.tb], open=0, done=2, on_time_last=0.5, on_time_first=0)
        self.assertFigures(teams[None], open=1, unowned=1)
        one = self.fresh('?team=' + self.ta)['items']
        self.assertEqual(len(one), 1)
        self.assertNotIn('team', one[0])
        self.assertFigures(one[0], open=6, overdue=1, unowned=1)

    def test_per_owner_and_incident_with_paging(self):
        owners = {it['owner']: it for it in self.get('?by=owner')['items']}
        self.assertEqual(set(owners), {self.amy, self.bo, self.cy, self.gone})
        self.assertFigures(owners[self.amy], open=3, overdue=1, blocked=1, in_progress=1,
                           done=1)
        self.assertFigures(owners[self.gone], open=1, unowned=1)
        order = sorted(owners)
        page = self.get('?by=owner&limit=2')
        self.assertEqual([it['owner'] for it in page['items']], order[:2])
        self.assertEqual(page['next_cursor'], order[1])
        rest = self.get('?by=owner&limit=2&cursor=' + page['next_cursor'])
        self.assertEqual([it['owner'] for it in rest['items']], order[2:])
        within = self.get('?by=owner&team=' + self.tb)['items']
        self.assertEqual([it['owner'] for it in within], [self.cy])
        incs = self.get('?by=incident&team=' + self.ta)['items']
        self.assertEqual([it['incident'] for it in incs], [self.i2, self.i1], 'newest first')
        self.assertFigures(incs[1], open=4, overdue=1, undated=1, blocked=1)
        one = self.get('?incident=' + self.i1.lower())['items'][0]
        self.assertFigures(one, open=5, unowned=1, done=0)

    def test_errors(self):
        for query, field, status in (('?by=colour', 'by', 400), ('?period=year', 'period', 400),
                                     ('?days=0', 'days', 400), ('?limit=0', 'limit', 400),
                                     ('?cursor=%27x', 'cursor', 400), ('?x=1', 'x', 400),
                                     ('?team=no-such-team', 'team', 422),
                                     ('?owner=nobody-here', 'owner', 422),
                                     ('?incident=NOPE-1', 'incident', 422)):
            js = self.get(query, expect=status)
            self.assertEqual(js['error'].get('field'), field, (query, js))

    def test_the_snapshot_is_computed_once_while_fresh(self):
        self.fresh('')
        self.assertEqual(self.svc.sql("SELECT cl_figures_refresh(3600, 90)")[0][0], '-1',
                         'fresh: another instance (or this one) leaves it alone')
        self.assertGreaterEqual(int(self.svc.sql("SELECT cl_figures_refresh(0, 90)")[0][0]), 0)

    def test_metrics_gauges_per_team(self):
        self.fresh('')
        st, _, _, raw = self.svc.request('GET', '/metrics')
        self.assertEqual(st, 200)
        text = raw.decode()
        for name, team, n in (('open', self.ta, 6), ('overdue', self.ta, 1),
                              ('unowned', self.ta, 1), ('open', self.tb, 0), ('open', '', 1)):
            self.assertRegex(text, r'(?m)^closeloop_actions_%s\{team="%s"\} %d$' % (name, team, n))
        age = re.search(r'(?m)^closeloop_figures_age_seconds (-?\d+)$', text)
        self.assertIsNotNone(age, text[-2000:])
        self.assertLess(int(age.group(1)), 30)

    def test_cli_report_figures(self):
        self.fresh('?by=team')
        p = self.svc.cli('report', 'figures', '--by', 'team')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r'(?m)^TEAM\s+OPEN\s+OVERDUE\s+UNOWNED\s+UNDATED\s+BLOCKED\s+'
                                   r'DUE 7D\s+AGE\s+LATE\s+CLOSED\s+TO CLOSE\s+ON TIME\s+1ST DATE$')
        self.assertRegex(p.stdout, r'(?m)^%s\s+6\s+1\s+1\s+1\s+1\s+2\s+0d\s+3d\s+1\s+0d\s+100%%'
                                   r'\s+100%%$' % self.ta)
        self.assertRegex(p.stdout, r'(?m)^  closed\s+\S{12}\s+0 → 3$')
        csv = self.svc.cli('report', 'figures', '--by', 'owner', '--team', self.tb, '--format',
                           'csv').stdout.splitlines()
        self.assertEqual(csv[0], 'owner,open,overdue,unowned,undated,blocked,due_this_week,'
                                 'median_age_days,median_days_late,closed,median_days_to_close,'
                                 'on_time_last,on_time_first')
        self.assertEqual(csv[1], '%s,0,0,0,0,0,0,,,2,0,0.500,0.000' % self.cy)
        md = self.svc.cli('report', 'figures', '--incident', self.i1, '--format',
                          'markdown').stdout.splitlines()
        self.assertEqual(md[1], '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- '
                                '| --- | --- |')
        self.assertTrue(md[2].startswith('| 5 | 1 | 1 | 1 | 1 | 1 | 0d | 3d | 0 |'), md[2])
        bad = self.svc.cli('report', 'figures', '--by', 'colour')
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertIn('by must be total, team, owner or incident', bad.stderr)

    def test_dashboard(self):
        self.fresh('')
        p = self.svc.cli('dashboard')
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout
        self.assertIn('7 open (1 overdue, 2 unowned, 1 in progress, 1 blocked) · 3 done · '
                      '1 dropped\n', out)
        self.assertIn('1 undated · 2 due this week · 3 closed in 90 days, 67% on time', out)
        most = out.split('Most overdue\n')[1].split('\n\n')[0].splitlines()
        self.assertRegex(most[1], r'^%d\s+3d late\s+%s\s+%s\s+late$' % (self.a1, self.amy,
                                                                          self.i1))
        self.assertRegex(out, r'(?m)^%s\s+\d+/\d+ done\s+1 overdue$' % self.i1)
        self.assertRegex(out, r'(?m)^%s\s+6\s+1\s+1\s+1\s+100%%\s+3d$' % self.ta)
        self.assertRegex(out, r'(?m)^  closed \S{12}   opened \S{12}$')
        for line in out.splitlines():
            self.assertLessEqual(len(line), 80, line)
        team = self.svc.cli('dashboard', '--team', self.ta).stdout
        self.assertIn('6 open (1 overdue, 1 unowned, 1 in progress, 1 blocked) · 1 done · '
                      '1 dropped\n', team)
        self.assertRegex(team, r'(?m)^OWNER\s+OPEN\s+OVERDUE')
        doc = json.loads(self.svc.cli('dashboard', '--incident', self.i1, '--json').stdout)
        self.assertEqual(set(doc), {'figures', 'overdue', 'unowned', 'incidents', 'groups',
                                    'drift'})
        self.assertEqual(doc['figures']['items'][0]['open'], 5)
        bad = self.svc.cli('dashboard', '--team', 'no-such-team')
        self.assertEqual(bad.returncode, 1)
        self.assertIn('no-such-team', bad.stderr)


class DashboardWatchTest(unittest.TestCase):
    """dashboard --watch on a terminal: drawn again, the screen cleared first, until
    interrupted."""

    def test_watch_draws_again_until_interrupted(self):
        import fcntl
        import os
        import pty
        import signal
        import struct
        import subprocess
        import termios
        svc = Service(name=type(self).__name__).start()
        try:
            master, slave = pty.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 80, 0, 0))
            proc = subprocess.Popen([svc.cli_path, 'dashboard', '--watch', '--every', '1'],
                                    env=svc._cli_env('admin', {'TERM': 'xterm'}), cwd=svc.home,
                                    stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
            os.close(slave)
            chunks, deadline = [], time.monotonic() + 15
            while time.monotonic() < deadline:
                chunks.append(os.read(master, 65536))
                if b''.join(chunks).count(b'closeloop dashboard') >= 3:
                    break
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
            os.close(master)
            out = b''.join(chunks).decode('utf-8', 'replace')
            self.assertGreaterEqual(out.count('closeloop dashboard ·'), 3, out[-2000:])
            self.assertGreaterEqual(out.count('\x1b[H\x1b[2J'), 3, 'cleared before each drawing')
            self.assertIn('0 open · 0 done · 0 dropped', out)
        finally:
            svc.stop()


class DashboardCompletionTest(unittest.TestCase):
    """bash completes the options of a group that is a command alone."""

    def test_dashboard_options_complete(self):
        from test_completion import complete
        self.assertEqual(complete('closeloop dashboard --t'), ['--team', '--token'])
        self.assertIn('--watch', complete('closeloop dashboard --'))
        self.assertEqual(complete('closeloop report fig'), ['figures'])
        self.assertIn('dashboard', complete('closeloop da'))


if __name__ == '__main__':
    unittest.main()
