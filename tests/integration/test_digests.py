"""issue 11: managers' digests. Periods in the recipient's zone (cl_digest_period), the
content of a hand-made data set (cl_digest_content through GET .../preview), the mail the
digester queues and sends through a real SMTP server (tests/fakes/smtp_server.py): once per
(recipient, period) with two instances and a kill -9, a missed period sent once, a
recipient added mid-period waiting for the next one; the CLI; bad configuration refused;
the HTML in headless Chromium at 600 px.

Every expected value below is worked out from the fixtures, not read back from the service.
"""
import contextlib
import datetime
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import Service, ServiceTestCase, until
from smtp import Peer, SmtpServer

API = '/api/v1'
_seq = itertools.count(1)
HERE = os.path.dirname(os.path.abspath(__file__))


def uniq(prefix):
    return '%s%d%s' % (prefix, next(_seq), os.urandom(2).hex())


def call(svc, method, path, body=None):
    r = svc.request(method, API + path, body=body)
    assert r.status in (200, 201), (method, path, body, r.status, r.body)
    return r.json


class PeriodTest(ServiceTestCase):
    """cl_digest_period(cadence, day, hour, zone, at): the period that started last."""

    def period(self, cadence, zone, at, day=1, hour=9):
        row = self.svc.sql("SELECT key, to_char(starts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),"
                           " to_char(covers_from AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"
                           " FROM cl_digest_period(:'p1', :'p2'::int, :'p3'::int, :'p4',"
                           " :'p5'::timestamptz)", cadence, day, hour, zone, at)[0]
        return tuple(row)

    def test_week_boundary_in_auckland(self):
        # Monday 2026-12-07 09:00 NZDT (UTC+13) is Sunday 2026-12-06 20:00 UTC
        self.assertEqual(self.period('weekly', 'Pacific/Auckland', '2026-12-06 19:59Z'),
                         ('2026-W49', '2026-11-29 20:00', '2026-11-22 20:00'))
        self.assertEqual(self.period('weekly', 'Pacific/Auckland', '2026-12-06 20:00Z'),
                         ('2026-W50', '2026-12-06 20:00', '2026-11-29 20:00'))
        # the same instant is still week 49's Sunday in UTC
        self.assertEqual(self.period('weekly', 'UTC', '2026-12-06 20:00Z')[0], '2026-W49')

    def test_dst_week_in_new_york(self):
        # DST ended Sunday 2026-11-01: Monday 09:00 is 13:00 UTC before, 14:00 UTC after;
        # the week that covers the change is 167 hours long, not 168
        key, starts, covers = self.period('weekly', 'America/New_York', '2026-11-02 14:00Z')
        self.assertEqual((key, starts, covers), ('2026-W45', '2026-11-02 14:00', '2026-10-26 13:00'))
        self.assertEqual(self.period('weekly', 'America/New_York', '2026-11-02 13:59Z')[0],
                         '2026-W44')

    def test_daily_monthly_and_the_configured_day_and_hour(self):
        # 09:00 in Paris (UTC+1) is 08:00 UTC
        self.assertEqual(self.period('daily', 'Europe/Paris', '2026-12-07 07:59Z'),
                         ('2026-12-06', '2026-12-06 08:00', '2026-12-05 08:00'))
        self.assertEqual(self.period('daily', 'Europe/Paris', '2026-12-07 08:00Z'),
                         ('2026-12-07', '2026-12-07 08:00', '2026-12-06 08:00'))
        self.assertEqual(self.period('monthly', 'UTC', '2026-12-01 08:59Z'),
                         ('2026-11', '2026-11-01 09:00', '2026-10-01 09:00'))
        # [digest] day = fri, hour = 16
        self.assertEqual(self.period('weekly', 'UTC', '2026-12-11 16:00Z', day=5, hour=16),
                         ('2026-W50', '2026-12-11 16:00', '2026-12-04 16:00'))

    def test_a_period_key_names_its_start(self):
        at = self.svc.sql("SELECT to_char(cl_digest_period_at('weekly', 1, 9, 'Pacific/Auckland',"
                          " '2026-W50') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')")[0][0]
        self.assertEqual(at, '2026-12-06 20:00:01')
        with self.assertRaisesRegex(RuntimeError, 'not a weekly period'):
            self.svc.sql("SELECT cl_digest_period_at('weekly', 1, 9, 'UTC', '2026-12')")


class ContentTest(ServiceTestCase):
    """A team's digest for its latest period, from fixtures placed inside and outside it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        svc = cls.svc
        cls.team, cls.other = uniq('dt'), uniq('dx')
        for t in (cls.team, cls.other):
            call(svc, 'POST', '/teams', {'name': t})
        cls.mgr, cls.o1, cls.o2, cls.o3, cls.gone, cls.fac = (
            uniq('mgr'), uniq('o1x'), uniq('o2x'), uniq('o3x'), uniq('gone'), uniq('fac'))
        for h, t in ((cls.mgr, cls.team), (cls.o1, cls.team), (cls.o2, cls.team),
                     (cls.o3, cls.other), (cls.gone, cls.team), (cls.fac, cls.other)):
            call(svc, 'POST', '/people', {'handle': h, 'name': h.upper(), 'email': h + '@ex.org',
                                          'team': t})
        call(svc, 'PATCH', '/teams/' + cls.team, {'manager': cls.mgr})
        call(svc, 'PATCH', '/people/' + cls.gone, {'active': False})
        cls.inc, cls.inc2 = 'DG-%d' % next(_seq), 'DG-%d' % next(_seq)
        for k in (cls.inc, cls.inc2):
            call(svc, 'POST', '/incidents', {'key': k, 'title': 'digest', 'facilitator': cls.fac})
        # the window: the manager's (UTC) latest weekly period
        row = svc.sql("SELECT key, covers_from, starts, (covers_from AT TIME ZONE 'UTC')::date,"
                      " (starts AT TIME ZONE 'UTC')::date, current_date"
                      " FROM cl_digest_period('weekly', 1, 9, 'UTC', now())")[0]
        cls.key, t0, t1, d0, d1, today = row
        cls.d0 = datetime.date.fromisoformat(d0)
        today = datetime.date.fromisoformat(today)
        d = lambda n: (today + datetime.timedelta(days=n)).isoformat()
        mid = "(:'t0'::timestamptz + interval '1 day')"
        # reviews first and pinned: the scheduler then leaves these incidents alone
        svc.sql("INSERT INTO reviews (kind, incident_id, team_id, uid, status, starts_at, timezone,"
                " duration_minutes, pinned, source, held_at)"
                " SELECT 'incident', i.id, t.id, :'p1', 'held', :'p3'::timestamptz + interval '1 day',"
                " 'Europe/Paris', 45, true, 'cli', :'p3'::timestamptz + interval '1 day'"
                " FROM incidents i, teams t WHERE i.key = :'p2' AND t.name = :'p4'",
                uniq('uid'), cls.inc, t0, cls.team)
        svc.sql("INSERT INTO reviews (kind, incident_id, team_id, uid, starts_at, timezone,"
                " duration_minutes, pinned, source)"
                " SELECT 'incident', i.id, t.id, :'p1', :'p3'::timestamptz + interval '2 days',"
                " 'Europe/Paris', 45, true, 'cli'"
                " FROM incidents i, teams t WHERE i.key = :'p2' AND t.name = :'p4'",
                uniq('uid'), cls.inc2, t1, cls.team)

        def act(title, owner, due, created, status='open', closed=None, verified=None,
                inc=None):
            q = ("INSERT INTO actions (incident_id, kind, title, owner_id, status, due_on,"
                 " created_at, closed_at, verified_at, verify_evidence)"
                 " SELECT i.id, 'corrective', :'p1', (SELECT id FROM people WHERE handle = :'p2'),"
                 " :'p3', nullif(:'p4', '')::date, %s, %s, %s, %s FROM incidents i"
                 " WHERE i.key = :'p5' RETURNING id"
                 % (created, closed or 'NULL', verified or 'NULL',
                    "'checked'" if verified else 'NULL'))
            q = q.replace(":'t0'", ":'p6'")
            return int(svc.sql(q, title, owner, status, due or '', inc or cls.inc, t0)[0][0])

        before = "(:'t0'::timestamptz - interval '3 days')"
        before2 = "(:'t0'::timestamptz - interval '2 days')"
        cls.a1 = act('Fix <b>it</b> *now*', cls.o1, d(10), mid)            # open, drift
        cls.a2 = act('late', cls.o1, d0, mid)                              # became overdue
        cls.a3 = act('done', cls.o2, d(30), before, 'done', mid)            # done in the period
        cls.a4 = act('verified', cls.o2, d(30), before2, 'done',
                     "(:'t0'::timestamptz - interval '1 day')", mid)        # verified
        cls.a5 = act('undated', cls.o2, None, mid)                         # undated
        cls.a6 = act('left', cls.gone, d(5), mid)                          # unowned: owner left
        cls.a7 = act('elsewhere', cls.o3, d0, mid)                         # other team
        cls.a8 = act('moved', cls.o1, d(12), mid)                          # due date moved later
        cls.a9 = act('earlier', cls.o1, d(6), before)                      # moved earlier: no slip
        ev = ("INSERT INTO events (action_id, at, source, actor, field, old, new)"
              " VALUES (:'p1'::bigint, :'p2'::timestamptz + interval '1 day', 'api', 'test',"
              " 'due_on', :'p3', :'p4')")
        svc.sql(ev, cls.a8, t0, d(5), d(12))
        svc.sql(ev, cls.a9, t0, d(9), d(6))
        svc.sql("INSERT INTO links (action_id, tracker, connection, scope, state, url)"
                " VALUES (:'p1'::bigint, 'github', 'github', 'acme/ops', 'broken',"
                " 'https://github.com/acme/ops/issues/7')", cls.a1)
        svc.sql("UPDATE people SET timezone = 'UTC' WHERE handle = :'p1'", cls.mgr)

    def preview(self, fmt='json', who=None):
        r = self.svc.request('GET', API + '/digests/%s/preview?format=%s' % (who or self.mgr, fmt),
                             token='read')
        self.assertEqual(r.status, 200, r.body)
        return r

    @staticmethod
    def ids(items):
        return sorted(a['id'] for a in items)

    def test_the_team_digest_by_hand(self):
        d = self.preview().json
        self.assertEqual(d['period']['key'], self.key)
        self.assertEqual(d['scope'], {'kind': 'team', 'team': self.team})
        self.assertEqual(d['recipient']['handle'], self.mgr)
        owes = {o['owner']: (o['open'], o['overdue'], self.ids(o['items'])) for o in d['owes']}
        self.assertEqual(owes, {self.o1: (4, 1, sorted([self.a1, self.a2, self.a8, self.a9])),
                                self.o2: (1, 0, [self.a5])})
        slipped = {a['id']: a['why'] for a in d['slipped']}
        self.assertEqual(slipped, {self.a2: 'new_overdue', self.a8: 'due_moved'})
        moved = [a for a in d['slipped'] if a['id'] == self.a8][0]
        self.assertEqual((moved['from'], moved['to']), (
            (datetime.date.fromisoformat(moved['to']) - datetime.timedelta(days=7)).isoformat(),
            moved['due_on']))
        self.assertEqual(self.ids(d['done']), [self.a3])
        self.assertEqual(self.ids(d['verified']), [self.a4])
        self.assertEqual(self.ids(d['unowned']), [self.a6])
        self.assertEqual(self.ids(d['undated']), [self.a5])
        self.assertEqual(self.ids(d['drift']), [self.a1])
        a1 = [a for a in d['owes'] if a['owner'] == self.o1][0]['items']
        self.assertEqual([a['url'] for a in a1 if a['id'] == self.a1],
                         ['https://github.com/acme/ops/issues/7'])
        self.assertEqual([r['incident'] for r in d['reviews']['held']], [self.inc])
        self.assertEqual([r['incident'] for r in d['reviews']['upcoming']], [self.inc2])
        # trend: six periods, oldest first; this one opened a1 a2 a5 a6 a8, closed a3,
        # and a2 was overdue at its end; the one before opened a3 a4 a9 and closed a4
        self.assertEqual(len(d['trend']), 6)
        self.assertEqual(d['trend'][-1], {'period': self.key, 'opened': 5, 'closed': 1,
                                          'overdue': 1})
        self.assertEqual(d['trend'][-2]['opened'], 3)
        self.assertEqual(d['trend'][-2]['closed'], 1)
        self.assertEqual(d['trend'][-2]['overdue'], 0)
        self.assertEqual([t['opened'] for t in d['trend'][:-2]], [0, 0, 0, 0])
        self.assertEqual(d['counts'], {'open': 5, 'overdue': 1, 'slipped': 2, 'done': 1,
                                       'verified': 1, 'unowned': 1, 'undated': 1, 'drift': 1,
                                       'reviews_held': 1, 'reviews_upcoming': 1})

    def test_a_facilitator_sees_their_incidents_only(self):
        d = self.preview(who='facilitator:' + self.fac).json
        self.assertEqual(d['scope'], {'kind': 'facilitator', 'handle': self.fac})
        owners = sorted(o['owner'] for o in d['owes'])
        self.assertEqual(owners, sorted([self.o1, self.o2, self.o3]))   # a7 is theirs too
        self.assertEqual(self.ids(d['slipped']), sorted([self.a2, self.a7, self.a8]))

    def test_markdown_escapes_and_links(self):
        md = self.preview('md').body.decode()
        self.assertIn('# Digest %s: team %s\n' % (self.key, self.team), md)
        self.assertIn('- %s #%d: [Fix \\<b\\>it\\<\\/b\\> \\*now\\*]'
                      '(<https://github.com/acme/ops/issues/7>): %s, due ' % (self.inc, self.a1, self.o1),
                      md)
        self.assertIn('- %s #%d: late: %s, due %s, open (now overdue)\n'
                      % (self.inc, self.a2, self.o1, self.d0.isoformat()), md)
        html = self.preview('html').body.decode()
        self.assertNotIn('<b>it', html)
        self.assertIn('Fix &lt;b&gt;it&lt;/b&gt; *now*', html)
        self.assertIn('href="https://github.com/acme/ops/issues/7"', html)
        self.assertIn('<img src="data:image/png;base64,', html)
        self.assertNotIn('<style', html)
        self.assertIn('max-width:600px', html)

    def test_unknown_recipient_and_bad_period(self):
        r = self.svc.request('GET', API + '/digests/nobody-here/preview')
        self.assertEqual(r.status, 404, r.body)
        r = self.svc.request('GET', API + '/digests/%s/preview?period=2026-13' % self.mgr)
        self.assertEqual(r.status, 422, r.body)
        self.assertEqual(r.json['error']['field'], 'period')
        r = self.svc.request('GET', API + '/digests/%s/preview?format=pdf' % self.mgr)
        self.assertEqual(r.status, 400, r.body)

    def test_cli_preview_is_what_the_api_renders(self):
        p = self.svc.cli('digest', 'preview', '--to', self.mgr, token='read')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.rstrip('\n'), self.preview('md').body.decode().rstrip('\n'))
        p = self.svc.cli('digest', 'preview', '--to', self.mgr, '--period', self.key,
                         '--format', 'json', token='read')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)['period']['key'], self.key)

    def test_chromium_shows_it_at_600_px(self):
        chromium = shutil.which('chromium') or shutil.which('chromium-browser')
        if chromium is None:
            self.skipTest('chromium is not installed (contrib/deps.sh installs it)')
        html = self.preview('html').body.decode()
        probe = ('<script>window.addEventListener("load", function () {'
                 ' var img = document.querySelector("img");'
                 ' var d = document.documentElement;'
                 ' var p = document.createElement("pre"); p.id = "probe";'
                 ' p.textContent = JSON.stringify({scroll: d.scrollWidth, client: d.clientWidth,'
                 ' img: !!img && img.complete && img.naturalWidth > 0,'
                 ' imgWidth: img ? img.getBoundingClientRect().width : 0});'
                 ' document.body.appendChild(p); });</script>')
        page = html.replace('</body>', probe + '</body>')
        self.assertNotEqual(page, html)
        tmp = tempfile.mkdtemp(prefix='cldigest.')
        try:
            path = os.path.join(tmp, 'digest.html')
            with open(path, 'w', encoding='utf-8') as f:
                f.write(page)
            try:
                p = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu',
                                    '--user-data-dir=' + os.path.join(tmp, 'profile'),
                                    '--window-size=600,2000', '--virtual-time-budget=3000',
                                    '--dump-dom', 'file://' + path],
                                   capture_output=True, text=True, timeout=90)
            except (OSError, subprocess.TimeoutExpired) as e:
                self.skipTest('chromium cannot start: %s' % e)
            m = re.search(r'<pre id="probe">(.*?)</pre>', p.stdout)
            if m is None and '<html' not in p.stdout:
                self.skipTest('chromium cannot start (exit %d): %s' % (p.returncode,
                                                                       p.stderr[-500:]))
            self.assertIsNotNone(m, 'the probe did not run: ' + p.stdout[-500:])
            got = json.loads(m.group(1).replace('&quot;', '"'))
            self.assertTrue(got['img'], got)                       # the chart is there
            self.assertGreater(got['imgWidth'], 200, got)
            self.assertLessEqual(got['client'], 600, got)
            self.assertLessEqual(got['scroll'], got['client'], got)  # no horizontal overflow
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


CONFIG = """[digest]
cadence = weekly
day = mon
hour = 9

[digest.extra.%(name)s]
to = %(to)s
scope = all
timezone = Pacific/Auckland
chat = leads
"""


class SendTest(unittest.TestCase):
    """The digester with an SMTP server: what goes out, once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix='cldigest.')
        cls.extra = uniq('vp')
        cls.extra_to = cls.extra + '@rcpt.example'
        cls.conf = os.path.join(cls.tmp, 'closeloopd.ini')
        with open(cls.conf, 'w') as f:
            f.write(CONFIG % {'name': cls.extra, 'to': cls.extra_to})
        cls.smtp = SmtpServer().start()
        cls.env = cls.smtp.env(CLOSELOOP_DIGEST_INTERVAL='0.3', CLOSELOOP_CONFIG=cls.conf)
        try:
            cls.svc = Service(name=cls.__name__, env=cls.env).start()
        except BaseException:
            cls.smtp.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.svc.stop()
            assert code == 0, 'closeloopd exited %r; log %s' % (code, cls.svc.log_path)
        finally:
            cls.smtp.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            super().tearDownClass()

    def manager(self, zone='UTC'):
        team, h = uniq('st'), uniq('sm')
        call(self.svc, 'POST', '/teams', {'name': team})
        call(self.svc, 'POST', '/people', {'handle': h, 'name': 'Manager ' + h,
                                           'email': h + '@rcpt.example', 'team': team,
                                           'timezone': zone})
        call(self.svc, 'PATCH', '/teams/' + team, {'manager': h})
        return team, h

    def seen(self, recipient):
        until(lambda: self.svc.sql("SELECT 1 FROM digest_recipients WHERE recipient = :'p1'",
                                   recipient), timeout=10, what='%s seen' % recipient)

    def backdate(self, recipient, days):
        self.seen(recipient)
        self.svc.sql("UPDATE digest_recipients SET first_seen = now() - make_interval(days =>"
                     " :'p2'::int) WHERE recipient = :'p1'", recipient, days)

    def mine(self, to):
        return [m for m in self.smtp.messages() if to in m['rcpt_tos']]

    def runs(self, recipient):
        return self.svc.sql("SELECT period FROM digest_runs WHERE recipient = :'p1'", recipient)

    def current_key(self, zone='UTC'):
        return self.svc.sql("SELECT key FROM cl_digest_period('weekly', 1, 9, :'p1', now())",
                            zone)[0][0]

    def test_a_missed_period_goes_out_once_with_the_chart_inline(self):
        team, h = self.manager()
        rcpt = 'team:%s:%s' % (team, h)
        self.backdate(rcpt, 40)   # down for five weeks: one digest, the latest period's
        to = h + '@rcpt.example'
        got = until(lambda: self.mine(to), timeout=15, what='the digest to ' + to)
        time.sleep(1.2)           # four more passes
        got = self.mine(to)
        self.assertEqual(len(got), 1)
        self.assertEqual(self.runs(rcpt), [[self.current_key()]])
        msg = got[0]['msg']
        self.assertIn('Digest %s: team %s' % (self.current_key(), team), msg['Subject'])
        self.assertEqual(msg.get_content_type(), 'multipart/related')
        parts = list(msg.walk())
        png = [p for p in parts if p.get_content_type() == 'image/png']
        self.assertEqual(len(png), 1)
        self.assertEqual(png[0]['Content-ID'], '<trend@closeloop>')
        self.assertTrue(png[0].get_content().startswith(b'\x89PNG\r\n\x1a\n'))
        html = [p for p in parts if p.get_content_type() == 'text/html'][0].get_content()
        self.assertIn('src="cid:trend@closeloop"', html)
        text = [p for p in parts if p.get_content_type() == 'text/plain'][0].get_content()
        self.assertIn('## Open work by owner', text)

    def test_a_recipient_added_mid_period_waits_for_the_next(self):
        team, h = self.manager()
        rcpt = 'team:%s:%s' % (team, h)
        self.seen(rcpt)
        time.sleep(1.0)           # passes run: the current period started before they came
        self.assertEqual(self.runs(rcpt), [])
        self.assertEqual(self.mine(h + '@rcpt.example'), [])

    def test_an_extra_recipient_in_its_own_zone(self):
        rcpt = 'extra:' + self.extra
        self.backdate(rcpt, 10)
        got = until(lambda: self.mine(self.extra_to), timeout=15, what='the extra digest')
        self.assertIn('all teams', got[0]['msg']['Subject'])
        key = self.current_key('Pacific/Auckland')
        self.assertEqual(self.runs(rcpt), [[key]])
        # its chat message was queued in the same transaction, once
        rows = self.svc.sql("SELECT c.channel, c.kind, c.payload->'period'->>'key' FROM chat_queue c"
                            " JOIN digest_runs d ON d.chat_id = c.id WHERE d.recipient = :'p1'",
                            rcpt)
        self.assertEqual(rows, [['leads', 'digest', key]])
        self.assertEqual(self.svc.sql("SELECT count(*) FROM chat_queue WHERE dedup_key = :'p1'",
                                      'digest:%s:%s:chat' % (rcpt, key)), [['1']])

    def test_a_person_can_turn_it_off_and_choose_daily(self):
        team, h = self.manager()
        call(self.svc, 'PATCH', '/people/' + h, {'digest_cadence': 'off'})
        r = self.svc.request('GET', API + '/digests/%s/preview' % h)
        self.assertEqual(r.status, 404, r.body)
        p = self.svc.cli('person', 'edit', h, '--digest', 'daily')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(call(self.svc, 'GET', '/people/' + h)['digest_cadence'], 'daily')
        d = call(self.svc, 'GET', '/digests/%s/preview?format=json' % h)
        self.assertRegex(d['period']['key'], r'^\d{4}-\d{2}-\d{2}$')
        r = self.svc.request('PATCH', API + '/people/' + h, body={'digest_cadence': 'hourly'})
        self.assertEqual(r.status, 422, r.body)

    def test_send_now_is_idempotent_and_listed(self):
        team, h = self.manager()
        rcpt = 'team:%s:%s' % (team, h)
        p = self.svc.cli('digest', 'send-now', '--to', h, '--json')
        self.assertEqual(p.returncode, 0, p.stderr)
        first = json.loads(p.stdout)
        self.assertEqual((first['recipient'], first['period'], first['queued']),
                         (rcpt, self.current_key(), True))
        p = self.svc.cli('digest', 'send-now', '--to', h, '--json')
        self.assertEqual(json.loads(p.stdout)['queued'], False)
        until(lambda: self.mine(h + '@rcpt.example'), timeout=15, what='the send-now digest')
        self.backdate(rcpt, 40)   # the pass finds the run: nothing more
        time.sleep(1.0)
        self.assertEqual(len(self.mine(h + '@rcpt.example')), 1)
        p = self.svc.cli('digest', 'list', '--format', 'json')
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = [r for r in json.loads(p.stdout) if r['recipient'] == rcpt]
        self.assertEqual([(r['period'], r['trigger']) for r in rows],
                         [(self.current_key(), 'send-now')])
        p = self.svc.cli('digest', 'list')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(rcpt, p.stdout)
        r = self.svc.request('POST', API + '/digests/send-now', body={'to': h}, token='write')
        self.assertEqual(r.status, 403, r.body)


class ExactlyOnceTest(unittest.TestCase):
    """Two closeloopd on one database: each plans pending digest_runs rows and claims them
    FOR UPDATE SKIP LOCKED, so they render in parallel; each (recipient, period) goes out
    once, whatever instance is killed -9 and when."""

    N = 14

    @contextlib.contextmanager
    def two_instances(self, name, **env):
        """(smtp, svc, peers): svc and peers[0] pass every 0.2 s; peers appended here are
        stopped at the end too."""
        with SmtpServer() as smtp:
            env = smtp.env(CLOSELOOP_DIGEST_INTERVAL='0.2', **env)
            svc = Service(name=name, env=env).start()
            peers = []
            try:
                peers.append(Peer(svc, name=name + 'Peer', env=env).start())
                yield smtp, svc, peers
                # a new instance after all that sends nothing again
                peers.append(Peer(svc, name=name + 'Peer2', env=env).start())
                time.sleep(1.0)
                self.assertEqual(len(smtp.messages()), self.N)
            finally:
                for peer in peers:
                    peer.stop()
                code = svc.stop()
                self.assertEqual(code, 0, svc.log_path)

    def managers(self, svc):
        rcpts = []
        for _ in range(self.N):
            team, h = uniq('ot'), uniq('om')
            call(svc, 'POST', '/teams', {'name': team})
            call(svc, 'POST', '/people', {'handle': h, 'name': h, 'email': h + '@rcpt.example',
                                          'team': team})
            call(svc, 'PATCH', '/teams/' + team, {'manager': h})
            rcpts.append(('team:%s:%s' % (team, h), h + '@rcpt.example'))
        until(lambda: int(svc.sql("SELECT count(*) FROM digest_recipients")[0][0]) >= self.N,
              timeout=10, what='every recipient seen')
        return rcpts

    def check_once(self, svc, smtp, rcpts):
        """Every recipient's mail received once by the SMTP server, and one sent run each
        for the current period; the runs' sent_by."""
        msgs = smtp.wait_messages(len(rcpts), timeout=60, settle=1.5)
        tos = sorted(t for m in msgs for t in m['rcpt_tos'])
        self.assertEqual(tos, sorted(t for _, t in rcpts))
        key = svc.sql("SELECT key FROM cl_digest_period('weekly', 1, 9, 'UTC', now())")[0][0]
        runs = svc.sql("SELECT recipient, period, state, mail_id IS NOT NULL, sent_by"
                       " FROM digest_runs ORDER BY recipient")
        self.assertEqual([r[:4] for r in runs], [[r, key, 'sent', 't'] for r, _ in sorted(rcpts)])
        self.assertEqual(svc.sql("SELECT count(*) FROM mail_queue WHERE kind = 'digest'"),
                         [[str(len(rcpts))]])
        return runs

    def test_two_instances_render_in_parallel_each_once(self):
        with self.two_instances('DigestClaim') as (smtp, svc, peers):
            rcpts = self.managers(svc)
            svc.sql("UPDATE digest_recipients SET first_seen = now() - interval '30 days'")
            runs = self.check_once(svc, smtp, rcpts)
            self.assertTrue(all(r[4] for r in runs), runs)

    def test_two_instances_and_a_kill9_send_each_digest_once(self):
        with self.two_instances('DigestOnce') as (smtp, svc, peers):
            rcpts = self.managers(svc)
            svc.sql("UPDATE digest_recipients SET first_seen = now() - interval '30 days'")
            time.sleep(0.1)
            peers[0].kill9()
            self.check_once(svc, smtp, rcpts)

    def test_rows_claimed_by_an_instance_killed_mid_render_are_taken_up(self):
        """Both instances claim rows and wait on a lock the test holds on reviews (which a
        digest reads); one is killed -9 there. Its session notices, rolls back, and the
        survivor renders every digest, each once: no SQL of the test helps. The statement
        timeout is longer than the test: only the session's own check that its closeloopd
        is gone can end the dead instance's claim."""
        holder = None
        with self.two_instances('DigestTakeUp', CLOSELOOP_REQUEST_TIMEOUT='120') as (
                smtp, svc, peers):
            try:
                rcpts = self.managers(svc)
                holder = subprocess.Popen(['psql', '-X', '-q', '-A', '-t', '-d', svc.db.dsn],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True)
                holder.stdin.write("BEGIN;\nLOCK TABLE reviews IN ACCESS EXCLUSIVE MODE;\n"
                                   "SELECT 'locked';\n")
                holder.stdin.flush()
                self.assertEqual(holder.stdout.readline().strip(), 'locked')
                svc.sql("UPDATE digest_recipients SET first_seen = now() - interval '30 days'")
                waiting = ("SELECT DISTINCT application_name FROM pg_stat_activity"
                           " WHERE wait_event_type = 'Lock' AND query LIKE '%cl_digest_claim%'")
                until(lambda: len(svc.sql(waiting)) == 2, timeout=20,
                      what='both instances holding claims')
                names = sorted(r[0] for r in svc.sql(waiting))
                held = svc.sql("SELECT count(*) FROM digest_runs WHERE state = 'pending'"
                               " AND id NOT IN (SELECT id FROM digest_runs"
                               " FOR UPDATE SKIP LOCKED)")
                self.assertEqual(held, [['8']])   # two batches of 4, one per instance
                peers[0].kill9()
                alive = "SELECT DISTINCT application_name FROM pg_stat_activity"
                until(lambda: len([n for n in names if [n] in svc.sql(alive)]) == 1, timeout=15,
                      what="the killed instance's sessions gone")
                survivor = [n for n in names if [n] in svc.sql(alive)][0]
                self.assertEqual(svc.sql("SELECT count(*) FROM digest_runs"
                                         " WHERE state <> 'pending'"), [['0']])
                holder.stdin.write('COMMIT;\n')
                holder.stdin.close()
                holder.wait(timeout=10)
                runs = self.check_once(svc, smtp, rcpts)
                self.assertEqual({r[4] for r in runs}, {survivor})
            finally:
                if holder is not None and holder.poll() is None:
                    holder.kill()
                    holder.wait()
                if holder is not None:
                    holder.stdout.close()


class ConfigTest(unittest.TestCase):
    """Bad [digest] configuration is refused at start-up, naming file and line."""

    def check(self, text):
        tmp = tempfile.mkdtemp(prefix='cldigest.')
        try:
            path = os.path.join(tmp, 'closeloopd.ini')
            with open(path, 'w') as f:
                f.write(text)
            env = {k: v for k, v in os.environ.items() if not k.startswith(('CLOSELOOP_', 'PG'))}
            env.update({'CLOSELOOP_DATABASE_URL': 'postgresql:///x', 'CLOSELOOP_CONFIG': path})
            daemon = os.path.join(os.environ['CLOSELOOP_BIN_DIR'], 'closeloopd')
            p = subprocess.run([daemon, 'check-config'], env=env, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=30)
            return p, path
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_unknown_zone(self):
        p, path = self.check('[digest]\nhour = 8\n\n[digest.extra.vp]\nto = vp@ex.org\n'
                             'timezone = Mars/Olympus\n')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('%s:6' % path, p.stderr)
        self.assertIn('unknown time zone "Mars/Olympus"', p.stderr)

    def test_bad_cadence(self):
        p, path = self.check('[digest]\ncadence = fortnightly\n')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('%s:2' % path, p.stderr)
        self.assertIn('daily, weekly, monthly or off', p.stderr)

    def test_bad_scope_and_missing_address(self):
        p, path = self.check('[digest.extra.vp]\nto = vp@ex.org\nscope = galaxy\n')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('%s:3' % path, p.stderr)
        p, _ = self.check('[digest.extra.vp]\nscope = all\n')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('"to"', p.stderr)

    def test_good_config_is_printed(self):
        p, _ = self.check('[digest]\ncadence = daily\nhour = 7\n\n[digest.extra.vp]\n'
                          'to = vp@ex.org\nscope = team:sre\ntimezone = Asia/Tokyo\n\n'
                          '[digest.team.sre]\nchat = sre-room\n')
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in ('digest.cadence = daily', 'digest.hour = 7', 'digest.extra.vp.scope = team:sre',
                     'digest.extra.vp.timezone = Asia/Tokyo', 'digest.team.sre.chat = sre-room'):
            self.assertIn(line, p.stdout)


if __name__ == '__main__':
    unittest.main()
