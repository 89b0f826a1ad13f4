"""Review invitations by mail, through a real SMTP server (aiosmtpd, tests/fakes/smtp_server.py):
each change (scheduled, moved, cancelled) reaches every attendee exactly once, as
multipart/alternative text + HTML + text/calendar with the right METHOD, a stable UID and a
rising SEQUENCE; the iCalendar part parses with an independent parser (python3-icalendar)
and keeps 15:00 local across a DST change; an owner added later gets the current
invitation; the summary of a held review is mailed once; two instances send each
invitation once, and a kill -9 while the SMTP server holds one loses nothing (a resend
carries the same Message-ID).
"""
import datetime
import json
import os
import subprocess
import time
import unittest

from harness import Service, until
from smtp import SmtpServer, Peer
from test_api import API, ApiCase, uniq

HERE = os.path.dirname(os.path.abspath(__file__))


def ics(text):
    """The calendar as python3-icalendar reads it (tests/integration/ics_parse.py)."""
    p = subprocess.run(['/usr/bin/python3', os.path.join(HERE, 'ics_parse.py')], input=text,
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError('python3-icalendar refused the invitation: %s\n%s'
                             % (p.stderr, text))
    return json.loads(p.stdout)


def parts(msg):
    """{content type: part} of a message, and the calendar part's method parameter."""
    out = {}
    for part in msg.walk():
        if not part.is_multipart():
            out[part.get_content_type()] = part
    return out


class InviteCase(ApiCase):

    @classmethod
    def setUpClass(cls):
        cls.smtp = SmtpServer().start()
        try:
            cls.svc = Service(name=cls.__name__, env=cls.smtp.env(
                CLOSELOOP_REVIEW_INTERVAL='1', CLOSELOOP_SMTP_TIMEOUT='20')).start()
        except BaseException:
            cls.smtp.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.smtp.stop()

    def setUp(self):
        super().setUp()
        self.team = self.mk_team()['name']
        mk = lambda **kw: self.mk_person(**kw)['handle']
        self.mgr = mk(timezone='Europe/Paris', team=self.team)
        self.call('PATCH', '%s/teams/%s' % (API, self.team), {'manager': self.mgr})
        self.fac = mk(timezone='Europe/Berlin', team=self.team)
        self.o1, self.o2 = mk(), mk()
        # started long ago: past the policy's window, the scheduler leaves it to us
        old = (self.today() - datetime.timedelta(days=100)).isoformat()
        self.key = self.mk_incident('INV-%s' % uniq('').upper().replace('_', ''),
                                    facilitator=self.fac, title='Checkout down',
                                    started_at=old + 'T08:00:00Z')['key']
        self.a1 = self.mk_action(self.key, owner=self.o1)
        self.a2 = self.mk_action(self.key, owner=self.o2)
        self.extra = uniq('guest') + '@elsewhere.example'

    def email(self, handle):
        return handle + '@example.com'

    def everyone(self):
        return {self.email(h) for h in (self.fac, self.o1, self.o2, self.mgr)} | {self.extra}

    def mine(self, uid):
        """The messages whose calendar part has this UID, as (rcpt, msg, calendar) triples."""
        out = []
        for m in self.smtp.messages():
            p = parts(m['msg'])
            cal = p.get('text/calendar')
            if cal is not None and uid in cal.get_content():
                out.append((m['rcpt_tos'][0], m['msg'], cal))
        return out

    def wait_for(self, uid, n, timeout=20):
        until(lambda: len(self.mine(uid)) >= n, timeout=timeout,
              what='%d invitation(s) of %s' % (n, uid))
        time.sleep(1.2)  # a duplicate would show now
        return self.mine(uid)

    def review(self):
        return self.get('%s/incidents/%s/review' % (API, self.key))

    def schedule(self, at, tz='Europe/Berlin'):
        return self.call('PUT', '%s/incidents/%s/review' % (API, self.key),
                         {'at': at, 'timezone': tz, 'attendees': [self.extra]})[0]


class InviteTest(InviteCase):

    def test_schedule_move_cancel_each_arrive_once_to_everyone(self):
        r = self.schedule('2027-03-23 15:00')
        got = self.wait_for(r['uid'], 5)
        self.assertEqual(sorted(g[0] for g in got), sorted(self.everyone()))
        rcpt, msg, cal = got[0]
        self.assertEqual(msg.get_content_type(), 'multipart/alternative')
        self.assertEqual(set(parts(msg)), {'text/plain', 'text/html', 'text/calendar'})
        self.assertEqual(cal.get_param('method'), 'REQUEST')
        for h in ('Date', 'Message-ID', 'From', 'To', 'Subject'):
            self.assertTrue(msg[h], h)
        self.assertIn(rcpt, msg['To'])
        self.assertTrue(msg['Subject'].startswith('Invitation: '), msg['Subject'])
        self.assertIn('Tue 23 Mar 2027 15:00 (Europe/Berlin)', msg['Subject'])
        self.assertIn(self.key, parts(msg)['text/plain'].get_content())
        self.assertIn('<', parts(msg)['text/html'].get_content())
        c = ics(cal.get_content())
        self.assertEqual(c['method'], 'REQUEST')
        self.assertIn('Europe/Berlin', c['timezones'])
        ev = c['events'][0]
        self.assertEqual((ev['uid'], ev['sequence'], ev['tzid']), (r['uid'], 0, 'Europe/Berlin'))
        self.assertEqual(ev['local'], '2027-03-23T15:00:00')
        self.assertEqual(ev['utc'], '2027-03-23T14:00:00Z')  # CET, before the change
        self.assertEqual({a['email'].lower() for a in ev['attendees']}, self.everyone())
        self.assertEqual(ev['organizer'].lower(), self.email(self.fac))
        self.assertEqual(len({g[1]['Message-ID'] for g in got}), 5, 'one Message-ID each')

        # moved across the DST change: same UID, SEQUENCE 1, still 15:00 local
        self.call('POST', '%s/incidents/%s/review/move' % (API, self.key),
                  {'at': '2027-03-30 15:00', 'reason': 'after the release'})
        got = self.wait_for(r['uid'], 10)
        moved = [g for g in got if 'SEQUENCE:1' in g[2].get_content()]
        self.assertEqual(sorted(g[0] for g in moved), sorted(self.everyone()))
        self.assertTrue(moved[0][1]['Subject'].startswith('Moved: '))
        ev = ics(moved[0][2].get_content())['events'][0]
        self.assertEqual((ev['uid'], ev['sequence'], ev['local'], ev['utc']),
                         (r['uid'], 1, '2027-03-30T15:00:00', '2027-03-30T13:00:00Z'))

        self.call('POST', '%s/incidents/%s/review/cancel' % (API, self.key), {'reason': 'merged'})
        got = self.wait_for(r['uid'], 15)
        cancels = [g for g in got if g[2].get_param('method') == 'CANCEL']
        self.assertEqual(sorted(g[0] for g in cancels), sorted(self.everyone()))
        c = ics(cancels[0][2].get_content())
        self.assertEqual((c['method'], c['events'][0]['sequence'], c['events'][0]['status']),
                         ('CANCEL', 2, 'CANCELLED'))
        self.assertEqual(len(got), 15, 'exactly once per change and attendee')
        self.assertEqual(len({g[1]['Message-ID'] for g in got}), 15)

    def test_new_york_across_its_dst_change(self):
        r = self.schedule('2027-03-09 15:00', tz='America/New_York')
        ev = ics(self.wait_for(r['uid'], 5)[0][2].get_content())['events'][0]
        self.assertEqual((ev['local'], ev['utc'], ev['tzid']),
                         ('2027-03-09T15:00:00', '2027-03-09T20:00:00Z', 'America/New_York'))
        self.call('POST', '%s/incidents/%s/review/move' % (API, self.key),
                  {'at': '2027-03-16 15:00'})
        got = self.wait_for(r['uid'], 10)
        ev = [ics(g[2].get_content())['events'][0] for g in got
              if 'SEQUENCE:1' in g[2].get_content()][0]
        self.assertEqual((ev['local'], ev['utc']), ('2027-03-16T15:00:00', '2027-03-16T19:00:00Z'))

    def test_an_owner_added_later_gets_the_current_invitation_alone(self):
        r = self.schedule('2027-03-23 15:00')
        self.wait_for(r['uid'], 5)
        o3 = self.mk_person()['handle']
        self.mk_action(self.key, owner=o3)
        got = self.wait_for(r['uid'], 6)
        self.assertEqual(len(got), 6, 'nobody else got it again')
        late = [g for g in got if g[0] == self.email(o3)]
        self.assertEqual(len(late), 1)
        self.assertIn('SEQUENCE:0', late[0][2].get_content())

    def test_the_scheduler_invites_too(self):
        key = self.mk_incident('INV-%s' % uniq('').upper().replace('_', ''),
                               facilitator=self.fac)['key']
        due = (self.today() + datetime.timedelta(days=20)).isoformat()
        self.mk_action(key, owner=self.o1, due_on=due)
        path = '%s/incidents/%s/review' % (API, key)
        until(lambda: self.svc.request('GET', path)[0] == 200, what='the scheduled review')
        r = self.get(path)
        got = self.wait_for(r['uid'], 3)  # facilitator, owner, manager
        self.assertEqual(sorted(g[0] for g in got),
                         sorted(self.email(h) for h in (self.fac, self.o1, self.mgr)))

    def test_without_a_facilitator_the_sender_organizes(self):
        old = (self.today() - datetime.timedelta(days=100)).isoformat()
        key = self.mk_incident('INV-%s' % uniq('').upper().replace('_', ''),
                               started_at=old + 'T08:00:00Z')['key']
        self.mk_action(key, owner=self.o1)
        r = self.call('PUT', '%s/incidents/%s/review' % (API, key), {'at': '2027-03-23 15:00'})[0]
        got = self.wait_for(r['uid'], 1)
        self.assertEqual([g[0] for g in got], [self.email(self.o1)])
        ev = ics(got[0][2].get_content())['events'][0]
        # the policy's zone, UTC: a UTC time, no VTIMEZONE needed
        self.assertEqual((ev['organizer'], ev['tzid'], ev['utc']),
                         ('closeloop@mail.example', None, '2027-03-23T15:00:00Z'))
        self.assertEqual(self.q1("SELECT count(*) FROM mail_queue WHERE kind = 'review'"
                                 " AND status = 'failed'"), '0')

    def test_the_summary_is_mailed_once(self):
        self.call('PUT', '%s/incidents/%s/review' % (API, self.key),
                  {'at': '2027-03-23 15:00', 'summary_to': ['all-hands@example.com']})
        self.call('POST', '%s/actions/%d/done' % (API, self.a1['id']), {})
        self.call('POST', '%s/incidents/%s/review/hold' % (API, self.key), {
            'attended': [self.fac, self.o1],
            'items': [{'action': self.a1['id'], 'outcome': 'effective', 'evidence': 'p99 ok'},
                      {'action': self.a2['id'], 'outcome': 'dropped', 'reason': 'obsolete'}]})

        def summaries():
            return [m for m in self.smtp.messages()
                    if m['rcpt_tos'] == ['all-hands@example.com'] and self.key in m['msg']['Subject']]
        until(lambda: summaries(), what='the summary mail')
        time.sleep(1.2)
        got = summaries()
        self.assertEqual(len(got), 1)
        text = parts(got[0]['msg'])['text/plain'].get_content()
        self.assertIn('p99 ok', text)
        self.assertIn('obsolete', text)


class InviteInstancesTest(InviteCase):

    def test_two_instances_send_each_invitation_once(self):
        peer = Peer(self.svc, name='InvitePeer', env=self.svc.extra_env).start()
        try:
            uids = []
            for day in (22, 23, 24, 25):
                r = self.call('PUT', '%s/incidents/%s/review' % (API, self.key),
                              {'at': '2027-03-%d 15:00' % day, 'attendees': [self.extra]})[0]
                uids.append(r['uid'])
            got = self.wait_for(uids[0], 20)  # 4 changes x 5 attendees
            self.assertEqual(len(got), 20)
            per = {}
            for rcpt, msg, cal in got:
                seq = [ln for ln in cal.get_content().splitlines() if ln.startswith('SEQUENCE:')]
                per.setdefault((rcpt, seq[0]), []).append(msg['Message-ID'])
            self.assertEqual(len(per), 20)
            self.assertTrue(all(len(v) == 1 for v in per.values()), per)
        finally:
            peer.stop()


class InviteKillTest(InviteCase):

    def test_kill9_while_the_server_holds_an_invitation(self):
        env = dict(self.svc.extra_env)
        a = Peer(self.svc, name='InviteKillA', env=env).start()
        self.svc.stop()  # only `a` sends from now on
        try:
            self.smtp.fault(hang=3, count=1, then='accept')  # held after DATA, then kept
            st, _, js, _ = a.request('PUT', '%s/incidents/%s/review' % (API, self.key),
                                     body={'at': '2027-03-23 15:00', 'attendees': [self.extra]})
            self.assertEqual(st, 200)
            uid = js['uid']
            until(lambda: self.smtp.stats()['hung'] >= 1, what='the server to hold one')
            a.proc.kill()
            a.proc.wait()
            b = Peer(a, name='InviteKillB', env=env).start()
            try:
                until(lambda: {g[0] for g in self.mine(uid)} == self.everyone(), timeout=40,
                      what='every attendee to get the invitation after the restart')
                time.sleep(1.5)
                got = self.mine(uid)
                by = {}
                for rcpt, msg, _ in got:
                    by.setdefault(rcpt, set()).add(msg['Message-ID'])
                self.assertTrue(all(len(v) == 1 for v in by.values()),
                                'a resend carries the same Message-ID: %s' % by)
                self.assertLessEqual(len(got), 6, 'at most the one held copy twice')
                self.assertEqual(b.sql("SELECT count(*) FROM mail_queue WHERE kind = 'review'"
                                       " AND status <> 'sent'"), [['0']])
            finally:
                b.stop()
        finally:
            a.stopped = True


if __name__ == '__main__':
    unittest.main()
