"""Owner reminders: the ladder (before the due date, overdue, the facilitator after M days
overdue), the weekly budget, batching, quiet hours and working days in the person's zone,
snoozes, unowned actions, and the mail kind "reminder" through a real SMTP server.

The pass is sql/functions/reminders.sql's cl_reminder_pass(policy, lim, at): most tests
call it with a chosen `at` (dates relative to today's next week, so that weekdays and
hours are known) and a policy written here as remind_policy_json() writes it; closeloopd's
own pass runs once at start (an empty database) and then only every day. The SMTP class
lets closeloopd pass every half second at the real time.
"""
import datetime
import json
import os
import tempfile
import time
import unittest
import uuid

from harness import Service, until
from smtp import Peer, SmtpServer
from test_api import API, ApiCase, uniq

UTC = datetime.timezone.utc


def rules(**kw):
    r = {'before_days': 3, 'overdue_every_days': 7, 'escalate_after_days': 7, 'budget': 3,
         'quiet_from': 20, 'quiet_to': 8, 'working_days': [1, 2, 3, 4, 5], 'where': 'email'}
    r.update(kw)
    return r


def policy(teams=None, **kw):
    return {'default': rules(**kw), 'teams': teams or {}}


def monday():
    """The Monday of next week (a date), so that every day of that week is in the future."""
    today = datetime.date.today()
    return today + datetime.timedelta(days=7 - today.weekday())


def at(day, hour, minute=0):
    """An aware UTC time on `day` (a date)."""
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


class ReminderCase(ApiCase):

    @classmethod
    def setUpClass(cls):
        # closeloopd's own pass: once at start, then daily (these tests pass by hand)
        cls.svc = Service(name=cls.__name__, env={'CLOSELOOP_REMIND_INTERVAL': '86400'}).start()

    def setUp(self):
        super().setUp()
        self.mon = monday()

    def person(self, **kw):
        return self.mk_person(**kw)['handle']

    def action(self, inc, owner, due, **kw):
        return self.mk_action(inc, owner=owner, due_on=due.isoformat() if due else None,
                              **kw)['id']

    def run_pass(self, when, pol=None):
        rows = self.svc.sql("SELECT cl_reminder_pass(:'p1'::jsonb, 200, :'p2'::timestamptz)",
                            json.dumps(pol or policy()), when.isoformat())
        return json.loads(rows[0][0])

    def mails(self, handle):
        """The reminders queued to a person, oldest first: [(subject, payload)]."""
        rows = self.svc.sql("SELECT subject, payload::text FROM mail_queue WHERE kind = "
                            "'reminder' AND to_addr = :'p1' ORDER BY id", handle + '@example.com')
        return [(r[0], json.loads(r[1])) for r in rows]

    def events(self, aid):
        return self.svc.sql("SELECT source, actor, new FROM events WHERE action_id = :'p1' AND "
                            "field = 'reminder' ORDER BY id", aid)


class LadderTest(ReminderCase):

    def test_three_due_items_are_one_message_listing_three(self):
        o = self.person()
        inc = self.mk_incident()['key']
        wed = self.mon + datetime.timedelta(days=2)
        ids = [self.action(inc, o, wed + datetime.timedelta(days=d)) for d in (0, 1, 2)]
        later = self.action(inc, o, wed + datetime.timedelta(days=10))  # not yet
        out = self.run_pass(at(wed, 12))
        self.assertGreaterEqual(out['people'], 1, out)
        got = self.mails(o)
        self.assertEqual(len(got), 1, got)
        subject, payload = got[0]
        self.assertEqual(subject, 'Reminder: 3 actions need you')
        self.assertEqual([it['id'] for it in payload['items']], ids)
        self.assertEqual([it['step'] for it in payload['items']], ['before'] * 3)
        self.assertEqual([it['days'] for it in payload['items']], [0, -1, -2])
        self.assertEqual(payload['recipient']['handle'], o)
        for aid in ids:
            ev = self.events(aid)
            self.assertEqual(len(ev), 1, ev)
            self.assertEqual(ev[0][0], 'scheduler')
            self.assertIn('before: %s by email' % o, ev[0][2])
        self.assertEqual(self.events(later), [])
        # later the same day: the 'before' step is done
        self.run_pass(at(wed, 12, 30))
        self.run_pass(at(wed, 19, 30))
        self.assertEqual(len(self.mails(o)), 1)
        # the next day the first is overdue: a reminder about it alone
        self.run_pass(at(wed + datetime.timedelta(days=1), 12))
        got = self.mails(o)
        self.assertEqual(len(got), 2)
        self.assertEqual([(it['id'], it['step']) for it in got[1][1]['items']],
                         [(ids[0], 'overdue')])

    def test_overdue_repeats_every_overdue_every_days(self):
        o = self.person()
        inc = self.mk_incident()['key']
        aid = self.action(inc, o, self.mon - datetime.timedelta(days=1))
        self.run_pass(at(self.mon, 12))
        self.run_pass(at(self.mon + datetime.timedelta(days=3), 12))  # within 7 days
        self.assertEqual(len(self.mails(o)), 1)
        self.run_pass(at(self.mon + datetime.timedelta(days=7), 12))
        got = self.mails(o)
        self.assertEqual(len(got), 2)
        self.assertEqual(got[1][1]['items'][0]['step'], 'overdue')
        self.assertEqual(got[1][1]['items'][0]['days'], 8)
        self.assertEqual(len(self.events(aid)), 2)

    def test_a_reminder_is_not_activity_but_a_note_is(self):
        """The stale report counts days without activity: closeloop's own reminder events
        leave last_event_at alone; a note moves it."""
        o = self.person()
        inc = self.mk_incident()['key']
        aid = self.action(inc, o, self.mon - datetime.timedelta(days=1))

        def last():
            return self.svc.sql("SELECT last_event_at FROM actions WHERE id = :'p1'", aid)[0][0]
        before = last()
        time.sleep(0.05)
        self.run_pass(at(self.mon, 12))
        self.assertEqual(len(self.events(aid)), 1)
        self.assertEqual(last(), before)
        self.call('POST', '%s/actions/%d/notes' % (API, aid), {'text': 'on it'}, expect=201)
        self.assertGreater(last(), before)

    def test_moving_the_due_date_starts_the_ladder_again(self):
        o = self.person()
        inc = self.mk_incident()['key']
        wed = self.mon + datetime.timedelta(days=2)
        aid = self.action(inc, o, wed)
        self.run_pass(at(self.mon, 12))
        self.call('PATCH', '%s/actions/%d' % (API, aid),
                  {'due_on': (wed + datetime.timedelta(days=1)).isoformat(),
                   'reason': 'the vendor is late'})
        self.run_pass(at(self.mon, 13))
        self.assertEqual(len(self.mails(o)), 2)

    def test_escalation_to_the_facilitator_after_m_days_overdue(self):
        o, f = self.person(), self.person()
        inc = self.mk_incident(facilitator=f)['key']
        late = self.action(inc, o, self.mon - datetime.timedelta(days=10))
        recent = self.action(inc, o, self.mon - datetime.timedelta(days=3))
        self.run_pass(at(self.mon, 12))
        owner = self.mails(o)
        self.assertEqual(len(owner), 1)
        self.assertEqual(sorted(it['id'] for it in owner[0][1]['items']), sorted([late, recent]))
        fac = self.mails(f)
        self.assertEqual(len(fac), 1, 'only the action 10 days overdue escalates')
        self.assertEqual([(it['id'], it['step'], it['owner']) for it in fac[0][1]['items']],
                         [(late, 'escalate', o)])
        self.assertEqual(len(self.events(late)), 2)
        self.assertEqual(len(self.events(recent)), 1)
        # the facilitator is not reminded again within overdue_every
        self.run_pass(at(self.mon + datetime.timedelta(days=1), 12))
        self.assertEqual(len(self.mails(f)), 1)

    def test_unowned_action_reminds_the_facilitator(self):
        f = self.person()
        inc = self.mk_incident(facilitator=f)['key']
        aid = self.action(inc, None, self.mon + datetime.timedelta(days=1))
        self.run_pass(at(self.mon, 12))
        got = self.mails(f)
        self.assertEqual(len(got), 1)
        self.assertEqual([(it['id'], it['owner'], it['step']) for it in got[0][1]['items']],
                         [(aid, None, 'before')])
        # nobody to remind: no owner, no facilitator
        lone = self.mk_incident()['key']
        self.action(lone, None, self.mon + datetime.timedelta(days=1))
        self.assertEqual(self.run_pass(at(self.mon, 12, 5))['people'], 0)

    def test_closed_and_archived_actions_are_not_reminded(self):
        o = self.person()
        inc = self.mk_incident()['key']
        done = self.action(inc, o, self.mon)
        self.call('POST', '%s/actions/%d/done' % (API, done), {})
        self.run_pass(at(self.mon, 12))
        self.assertEqual(self.mails(o), [])


class BudgetTest(ReminderCase):

    def test_at_most_k_messages_a_week_then_the_held_items_batched(self):
        o = self.person()
        inc = self.mk_incident()['key']
        pol = policy(budget=2, before_days=0)
        days = [self.mon + datetime.timedelta(days=d) for d in range(4)]  # Mon..Thu
        ids = [self.action(inc, o, d) for d in days]  # K + 2 items, one due each day
        held = 0
        for d in days:
            held += self.run_pass(at(d, 12), pol)['held']
        week1 = self.mails(o)
        self.assertEqual(len(week1), 2, 'budget 2 in one week')
        # Tuesday's message also says Monday's item is now overdue
        self.assertEqual([[it['id'] for it in m[1]['items']] for m in week1],
                         [[ids[0]], [ids[0], ids[1]]])
        self.assertGreaterEqual(held, 2)
        self.assertEqual(self.events(ids[2]), [], 'held items have no event')
        nxt = self.mon + datetime.timedelta(days=7)
        self.run_pass(at(nxt, 12), pol)
        got = self.mails(o)
        self.assertEqual(len(got), 3, 'a new week, a new budget')
        # Monday's item was last reminded on Tuesday (overdue), less than 7 days ago
        self.assertEqual(sorted(it['id'] for it in got[2][1]['items']), sorted(ids[1:]),
                         'the held items and the overdue one in one message')
        self.assertEqual(self.svc.sql("SELECT count(*) FROM reminders r JOIN people p ON "
                                      "p.id = r.person_id WHERE p.handle = :'p1'", o),
                         [['3']])

    def test_team_rules_override_the_default(self):
        t = self.mk_team()['name']
        o = self.person(team=t)
        inc = self.mk_incident()['key']
        self.action(inc, o, self.mon + datetime.timedelta(days=5))
        self.run_pass(at(self.mon, 12))
        self.assertEqual(self.mails(o), [], '5 days ahead: not yet with before = 3d')
        self.run_pass(at(self.mon, 12, 1), policy(teams={t: rules(before_days=7)}))
        self.assertEqual(len(self.mails(o)), 1)


class QuietTest(ReminderCase):

    def test_quiet_hours_in_the_owner_zone(self):
        tokyo = self.person(timezone='Asia/Tokyo')
        utc = self.person()
        inc = self.mk_incident()['key']
        wed = self.mon + datetime.timedelta(days=2)
        self.action(inc, tokyo, wed + datetime.timedelta(days=2))
        self.action(inc, utc, wed + datetime.timedelta(days=2))
        # Wednesday 13:00 UTC is 22:00 in Tokyo: quiet there, not in UTC
        self.run_pass(at(wed, 13))
        self.assertEqual(self.mails(tokyo), [])
        self.assertEqual(len(self.mails(utc)), 1)
        # Thursday 00:30 UTC is 09:30 in Tokyo: the morning after
        self.run_pass(at(wed + datetime.timedelta(days=1), 0, 30))
        self.assertEqual(len(self.mails(tokyo)), 1)

    def test_weekend_in_the_owner_zone(self):
        tokyo = self.person(timezone='Asia/Tokyo')
        utc = self.person()
        inc = self.mk_incident()['key']
        fri = self.mon + datetime.timedelta(days=4)
        self.action(inc, tokyo, fri + datetime.timedelta(days=3))
        self.action(inc, utc, fri + datetime.timedelta(days=3))
        # Friday 16:00 UTC is Saturday 01:00 in Tokyo; Saturday 03:00 UTC is noon there
        self.run_pass(at(fri, 16))
        self.run_pass(at(fri + datetime.timedelta(days=1), 3))
        self.assertEqual(self.mails(tokyo), [])
        self.assertEqual(len(self.mails(utc)), 1, 'Friday 16:00 in UTC is a working hour')
        # Monday 00:30 UTC is Monday 09:30 in Tokyo
        self.run_pass(at(fri + datetime.timedelta(days=3), 0, 30))
        self.assertEqual(len(self.mails(tokyo)), 1)

    def test_the_week_of_the_budget_is_the_owner_week(self):
        # Sunday 20:00 UTC is Monday 05:00 in Tokyo: a reminder sent at Monday 09:00 Tokyo
        # (Monday 00:00 UTC) counts in Tokyo's new week, not UTC's old one.
        tokyo = self.person(timezone='Asia/Tokyo')
        inc = self.mk_incident()['key']
        self.action(inc, tokyo, self.mon + datetime.timedelta(days=1))
        self.run_pass(at(self.mon, 0, 30))
        week = self.svc.sql("SELECT r.week FROM reminders r JOIN people p ON p.id = r.person_id"
                            " WHERE p.handle = :'p1'", tokyo)
        iso = self.mon.isocalendar()
        self.assertEqual(week, [['%d-W%02d' % (iso[0], iso[1])]])


class SnoozeTest(ReminderCase):

    def test_snooze_holds_reminders_until_the_date_and_is_an_event(self):
        o = self.person()
        inc = self.mk_incident()['key']
        wed = self.mon + datetime.timedelta(days=2)
        aid = self.action(inc, o, wed)
        until_day = wed + datetime.timedelta(days=2)  # Friday
        p = self.svc.cli('action', 'snooze', str(aid), '--until', until_day.isoformat(),
                         '--reason', 'waiting for the vendor')
        self.assertEqual(p.returncode, 0, p.stderr)
        ev = self.svc.sql("SELECT field, source, old, new FROM events WHERE action_id = :'p1'"
                          " AND field IN ('snooze', 'reason') ORDER BY id", aid)
        self.assertEqual(ev, [['snooze', 'cli', None, until_day.isoformat()],
                              ['reason', 'cli', None, 'waiting for the vendor']])
        js = self.get('%s/actions/%d/reminder' % (API, aid))
        self.assertEqual(js['snoozed_until'], until_day.isoformat())
        self.assertEqual(js['to'], o)
        self.assertGreaterEqual(js['next_reminder'][:10], until_day.isoformat())
        for d in (0, 1, 2, 3):  # Mon..Thu: the ladder would have spoken
            self.run_pass(at(self.mon + datetime.timedelta(days=d), 12))
        self.assertEqual(self.mails(o), [])
        self.run_pass(at(until_day, 12))
        got = self.mails(o)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][1]['items'][0]['step'], 'overdue')
        show = self.svc.cli('action', 'show', str(aid))
        self.assertEqual(show.returncode, 0, show.stderr)
        self.assertRegex(show.stdout, r'\nsnoozed until: +%s\n' % until_day.isoformat())
        self.assertRegex(show.stdout, r'\nsnooze reason: +waiting for the vendor\n')
        self.assertRegex(show.stdout, r'\nnext reminder: +20\d\d-\d\d-\d\dT')

    def test_snooze_refuses_a_past_date_and_no_reason(self):
        o = self.person()
        aid = self.action(self.mk_incident()['key'], o, self.mon)
        self.error('POST', '%s/actions/%d/snooze' % (API, aid),
                   {'until': '2020-01-01', 'reason': 'x'}, status=422, code='validation',
                   field='until')
        self.error('POST', '%s/actions/%d/snooze' % (API, aid),
                   {'until': self.mon.isoformat()}, status=422, code='validation',
                   field='reason')
        self.error('POST', '%s/actions/999999999/snooze' % API,
                   {'until': self.mon.isoformat(), 'reason': 'x'}, status=404,
                   code='not_found')
        self.get('%s/actions/999999999/reminder' % API, expect=404)

    def test_next_reminder_skips_quiet_hours_and_weekends(self):
        tokyo = self.person(timezone='Asia/Tokyo')
        inc = self.mk_incident()['key']
        sat = self.mon + datetime.timedelta(days=5)
        aid = self.action(inc, tokyo, sat + datetime.timedelta(days=3))  # Tuesday after
        rows = self.svc.sql("SELECT cl_reminder_next(:'p1', :'p2'::jsonb, :'p3'::timestamptz)"
                            "::text", aid, json.dumps(policy()), at(sat, 3).isoformat())
        js = json.loads(rows[0][0])
        # before = 3d: Saturday in Tokyo, a weekend: Monday 08:00 Tokyo = Sunday 23:00 UTC
        got = datetime.datetime.fromisoformat(js['next_reminder'])
        self.assertEqual(got.astimezone(UTC), at(sat + datetime.timedelta(days=1), 23))
        self.assertEqual(js['step'], 'before')


def working_zone():
    """A zone where it is now a working hour (10:00-17:59) of a weekday, for the real-time
    test; None when none of these is."""
    now = datetime.datetime.now(UTC)
    for name in ('UTC', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles',
                 'Asia/Tokyo', 'Asia/Kolkata', 'Australia/Sydney', 'Pacific/Auckland',
                 'America/Sao_Paulo', 'Asia/Dubai', 'Pacific/Honolulu'):
        try:
            from zoneinfo import ZoneInfo
            loc = now.astimezone(ZoneInfo(name))
        except Exception:
            continue
        if loc.weekday() < 5 and 10 <= loc.hour < 18:
            return name
    return None


class SmtpReminderTest(ApiCase):
    """closeloopd's own pass, every half second, mails through a real SMTP server."""

    @classmethod
    def setUpClass(cls):
        # the team "night" works only three days from now (in any zone not today nor
        # tomorrow): its people hear nothing until they move to "day", with all their items
        off = datetime.datetime.now(UTC).date() + datetime.timedelta(days=3)
        fd, cls.conf = tempfile.mkstemp(prefix='clremind.', suffix='.ini')
        with os.fdopen(fd, 'w') as f:
            f.write('[remind.night]\nworking_days = %s\n'
                    % ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')[off.weekday()])
        cls.smtp = SmtpServer().start()
        try:
            cls.svc = Service(name=cls.__name__, env=cls.smtp.env(
                CLOSELOOP_REMIND_INTERVAL='0.5', CLOSELOOP_CONFIG=cls.conf)).start()
            for team in ('night', 'day'):
                cls.svc.request('POST', API + '/teams', body={'name': team})
        except BaseException:
            cls.smtp.stop()
            raise

    def owner_later(self, handle, email, zone):
        """A person whose reminders wait until wake() moves them to a working team."""
        self.mk_person(handle=handle, email=email, timezone=zone, team='night')

    def wake(self, handle):
        self.call('PATCH', '%s/people/%s' % (API, handle), {'team': 'day'})

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.smtp.stop()

    def test_one_batched_reminder_arrives_by_smtp(self):
        zone = working_zone()
        if zone is None:
            self.skipTest('no listed zone is in working hours now')
        h = uniq('smtp')
        email = '%s-%s@rcpt.example' % (h, uuid.uuid4().hex[:6])
        self.owner_later(h, email, zone)
        inc = self.mk_incident()['key']
        today = datetime.date.today()
        ids = [self.mk_action(inc, owner=h, due_on=(today + datetime.timedelta(days=d))
                              .isoformat(), title='fix the thing %d' % d)['id'] for d in (1, 2)]
        self.wake(h)
        got = until(lambda: [m for m in self.smtp.messages() if email in m['rcpt_tos'] and
                             str(m['msg']['Subject']).startswith('Reminder')],
                    timeout=20, what='a reminder to %s' % email)
        self.assertEqual(len(got), 1)
        msg = got[0]['msg']
        self.assertEqual(str(msg['Subject']), 'Reminder: 2 actions need you')
        text = msg.get_body(preferencelist=('plain',)).get_content()
        html = msg.get_body(preferencelist=('html',)).get_content()
        self.assertIn('These actions need your attention', text)
        self.assertIn('fix the thing 1', html)
        for aid in ids:
            self.assertIn('#%d' % aid, text)
            ev = self.svc.sql("SELECT source FROM events WHERE action_id = :'p1' AND "
                              "field = 'reminder'", aid)
            self.assertEqual(ev, [['scheduler']])
        js = self.get('%s/actions/%d/reminder' % (API, ids[0]))
        self.assertIsNotNone(js['last_reminder'])
        self.assertEqual(js['to'], h)

    def test_two_instances_and_a_kill9_send_each_reminder_once(self):
        zone = working_zone()
        if zone is None:
            self.skipTest('no listed zone is in working hours now')
        peer = Peer(self.svc, name='RemindPeer', env=self.svc.extra_env).start()
        try:
            inc = self.mk_incident()['key']
            today = datetime.date.today()
            emails = []
            for i in range(6):
                h = uniq('two')
                email = '%s-%s@rcpt.example' % (h, uuid.uuid4().hex[:6])
                self.owner_later(h, email, zone)
                for d in (1, 2):
                    self.mk_action(inc, owner=h, due_on=(today + datetime.timedelta(days=d))
                                   .isoformat())
                self.wake(h)
                emails.append(email)
                if i == 2:
                    peer.kill9()  # in the middle: its pass, if any, rolls back

            def mine():
                return [m for m in self.smtp.messages() if m['rcpt_tos'][0] in emails and
                        str(m['msg']['Subject']).startswith('Reminder')]
            until(lambda: {m['rcpt_tos'][0] for m in mine()} == set(emails), timeout=30,
                  what='a reminder to each of the 6 owners')
            time.sleep(2.0)  # a second pass, or the other instance's, would show now
            # a message the killed peer had in DATA may arrive twice, with one Message-ID
            # (the mail queue's documented exception): one reminder per owner
            got = list({str(m['msg']['Message-ID']): m for m in mine()}.values())
            self.assertEqual(sorted(m['rcpt_tos'][0] for m in got), sorted(emails))
            self.assertTrue(all(str(m['msg']['Subject']) == 'Reminder: 2 actions need you'
                                for m in got))
        finally:
            if peer.running():
                peer.stop()


if __name__ == '__main__':
    unittest.main()
