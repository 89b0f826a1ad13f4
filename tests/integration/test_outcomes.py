"""Holding a review: the agenda, the outcomes recorded in one transaction, verification,
follow-ups, the summary and the list of reviews. Reviews are scheduled by hand (PUT
/api/v1/incidents/{key}/review) in make_review()."""
import datetime
import json
import os
import pty
import select
import subprocess
import sys
import time
import unittest

from harness import Service, ServiceTestCase, until
from test_api import API, ApiCase, uniq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fakes'))
from fake_github import FakeGitHub  # noqa: E402


class OutcomesCase(ApiCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st, _, js, _ = cls.svc.request('POST', API + '/people', body={
            'handle': uniq('fac'), 'name': 'Facilitator', 'email': uniq('fac') + '@example.com'})
        assert st == 201, js
        cls.fac = js['handle']

    def make_review(self, key, status='scheduled', summary_to=(), days=1):
        """The incident's review, scheduled by hand `days` from now at 15:00 in Paris (the
        scheduler may have made one already: this re-times it); cancelled when asked."""
        body = {'at': '%s 15:00' % self.days(days), 'timezone': 'Europe/Paris'}
        if summary_to:
            body['summary_to'] = list(summary_to)
        js = self.call('PUT', '%s/incidents/%s/review' % (API, key), body)[0]
        if status == 'cancelled':
            self.call('POST', '%s/incidents/%s/review/cancel' % (API, key), {'reason': 'test'})
        return js['id']

    def incident(self):
        return self.mk_incident('OUT-%s' % uniq(''), title='Checkout <b>down</b> *twice*')['key']

    def days(self, n):
        return (self.today() + datetime.timedelta(days=n)).isoformat()

    def hold(self, key, body, expect=200):
        return self.call('POST', '%s/incidents/%s/review/hold' % (API, key), body, expect=expect)[0]

    def snapshot(self, key):
        """Everything a hold may change, for the all-or-nothing checks."""
        q = lambda s: self.svc.sql(s, key)
        inc = "(SELECT id FROM incidents WHERE key = :'p1')"
        return {
            'actions': q("SELECT id, status, due_on, version, verified_at FROM actions"
                         " WHERE incident_id = %s ORDER BY id" % inc),
            'events': q("SELECT count(*) FROM events e JOIN actions a ON a.id = e.action_id"
                        " WHERE a.incident_id = %s" % inc),
            'items': q("SELECT count(*) FROM review_items r JOIN actions a ON a.id = r.action_id"
                       " WHERE a.incident_id = %s" % inc),
            'outbox': q("SELECT count(*) FROM outbox o JOIN actions a ON a.id = o.action_id"
                        " WHERE a.incident_id = %s" % inc),
            'reviews': q("SELECT status, version, held_at, attended, notes FROM reviews"
                         " WHERE incident_id = %s" % inc),
            'review_events': q("SELECT count(*) FROM review_events e JOIN reviews r"
                               " ON r.id = e.review_id WHERE r.incident_id = %s" % inc),
            'all_actions': q("SELECT count(*) FROM actions WHERE incident_id = %s" % inc),
        }

    def link(self, aid):
        """A tracker link made through SQL (no tracker runs here): changes then queue outbox
        rows, which nothing sends."""
        self.svc.sql("INSERT INTO links (action_id, tracker, connection, scope, remote_key, url)"
                     " VALUES (:'p1', 'github', 'default', 'acme/app', :'p1',"
                     " 'https://github.example/acme/app/issues/' || :'p1')", aid)

    def outbox(self, aid):
        return [tuple(r) for r in self.svc.sql(
            "SELECT op FROM outbox WHERE action_id = :'p1' ORDER BY id", aid)]


class AgendaTest(OutcomesCase):

    def test_agenda_json_says_what_to_decide(self):
        key = self.incident()
        late = self.mk_action(key, due_on=self.days(3), title='late one')
        # moved later twice, then overdue: slips counted by 0010's trigger
        self.svc.sql("UPDATE actions SET due_on = current_date + 10 WHERE id = :'p1'", late['id'])
        self.svc.sql("UPDATE actions SET due_on = current_date - 2 WHERE id = :'p1'", late['id'])
        done = self.mk_action(key, title='done one')
        self.call('POST', '%s/actions/%d/done' % (API, done['id']), {})
        unowned = self.mk_action(key, owner=None, title='nobody')
        ok = self.mk_action(key, due_on=self.days(20), title='fine')
        self.link(ok['id'])
        self.make_review(key)
        js = self.get('%s/incidents/%s/review/agenda' % (API, key))
        by = {a['id']: a for a in js['actions']}
        self.assertEqual(js['incident']['key'], key)
        self.assertEqual(js['review']['status'], 'scheduled')
        self.assertEqual(by[late['id']]['expect'], 'new_date')
        self.assertEqual(by[late['id']]['days_late'], 2)
        self.assertGreaterEqual(by[late['id']]['slips'], 1)
        self.assertEqual(by[done['id']]['expect'], 'confirm')
        self.assertIn('effective or not', by[done['id']]['expect_text'])
        self.assertEqual(by[unowned['id']]['expect'], 'find_owner')
        self.assertEqual(by[ok['id']]['expect'], 'on_track')
        self.assertEqual(by[ok['id']]['sync']['display'], 'acme/app#%d' % ok['id'])
        self.assertIsNone(by[late['id']]['sync'])
        self.assertTrue(all(a['needs_outcome'] for a in js['actions']))

    def test_agenda_markdown_and_html_escape_user_text(self):
        key = self.incident()
        a = self.mk_action(key, title='fix <script>alert(1)</script> [x](javascript:y)')
        self.link(a['id'])
        self.make_review(key)
        st, hd, _, raw = self.svc.request('GET', '%s/incidents/%s/review/agenda?format=md'
                                          % (API, key))
        self.assertEqual(st, 200)
        self.assertTrue(hd['content-type'].startswith('text/markdown'))
        md = raw.decode()
        self.assertIn('# Review of %s' % key.replace('-', '\\-'), md)
        self.assertIn('Meeting: %s 15\\:00 Europe\\/Paris \\(' % self.days(1).replace('-', '\\-'),
                      md)
        self.assertIn('no push waiting', md)
        self.assertIn('\\<script\\>', md)
        self.assertIn('To decide:', md)
        st, hd, _, raw = self.svc.request('GET', '%s/incidents/%s/review/agenda?format=html'
                                          % (API, key))
        self.assertEqual(st, 200)
        html = raw.decode()
        self.assertTrue(hd['content-type'].startswith('text/html'))
        self.assertNotIn('<script>', html)
        self.assertIn('&lt;script&gt;', html)
        self.assertNotIn('href="javascript', html)
        self.assertIn('<a href="https://github.example/acme/app/issues/%d">' % a['id'], html)
        self.assertIn('<strong>To decide:</strong>', html)

    def test_agenda_without_review_or_actions(self):
        key = self.incident()
        st, _, _, raw = self.svc.request('GET', '%s/incidents/%s/review/agenda?format=md'
                                         % (API, key))
        self.assertEqual(st, 200)
        self.assertIn('No review is scheduled yet', raw.decode())
        self.assertIn('The incident has no actions', raw.decode())
        js = self.get('%s/incidents/%s/review/agenda' % (API, key))
        self.assertEqual((js['review'], js['actions'], js['counts']), (None, [], {}))

    def test_agenda_refusals(self):
        self.error('GET', '%s/incidents/NOPE-1/review/agenda' % API, status=404, code='not_found')
        key = self.incident()
        self.error('GET', '%s/incidents/%s/review/agenda?format=pdf' % (API, key), status=400,
                   code='bad_request', field='format')

    def test_cli_review_show(self):
        key = self.incident()
        self.mk_action(key, title='cli agenda')
        p = self.svc.cli('review', 'show', key)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('cli agenda', p.stdout)
        self.assertIn('**To decide:**', p.stdout)
        p = self.svc.cli('review', 'show', key, '--format', 'json')
        self.assertEqual(json.loads(p.stdout)['incident']['key'], key)
        p = self.svc.cli('review', 'show', key, '--format', 'html')
        self.assertIn('<h1>', p.stdout)


class HoldTest(OutcomesCase):

    def setUp(self):
        self.key = self.incident()
        self.done = self.mk_action(self.key, title='done')
        self.call('POST', '%s/actions/%d/done' % (API, self.done['id']), {})
        self.open = self.mk_action(self.key, due_on=self.days(1), title='open')
        self.drop = self.mk_action(self.key, title='to drop')
        self.bad = self.mk_action(self.key, title='not effective')
        for a in (self.open, self.drop, self.bad):
            self.link(a['id'])
        self.rid = self.make_review(self.key)

    def good_items(self):
        return [
            {'action': self.done['id'], 'outcome': 'effective', 'evidence': 'https://dash/x'},
            {'action': self.open['id'], 'outcome': 'not_done', 'due_on': self.days(30),
             'note': 'vendor late'},
            {'action': self.drop['id'], 'outcome': 'dropped', 'reason': 'superseded'},
            {'action': self.bad['id'], 'outcome': 'not_effective',
             'follow_up': {'title': 'try again', 'owner': self.fac, 'due_on': self.days(14)}},
        ]

    def test_hold_records_every_outcome(self):
        out0 = {a['id']: len(self.outbox(a['id'])) for a in (self.open, self.bad)}
        # 1 when make_review created the review, 2 when it re-timed the scheduler's
        before = self.get('%s/incidents/%s/review' % (API, self.key))['version']
        js = self.hold(self.key, {'items': self.good_items(), 'attended': [self.fac, 'x@y.org'],
                                  'notes': 'went well'})
        self.assertEqual(js['review']['status'], 'held')
        self.assertEqual(js['review']['version'], before + 1)
        self.assertEqual(js['review']['attended'], [self.fac, 'x@y.org'])
        self.assertEqual(js['review']['outcomes'], {'effective': 1, 'not_effective': 1,
                                                    'not_done': 1, 'dropped': 1})
        d = self.get('%s/actions/%d' % (API, self.done['id']))
        self.assertTrue(d['verified'])
        self.assertEqual(d['evidence'], 'https://dash/x')
        o = self.get('%s/actions/%d' % (API, self.open['id']))
        self.assertEqual(o['due_on'], self.days(30))
        self.assertEqual(len(self.outbox(self.open['id'])), out0[self.open['id']] + 1, 'pushed')
        fields = [(e['field'], e['new']) for e in self.history(self.open['id'])]
        self.assertIn(('due_on', self.days(30)), fields)
        self.assertIn(('note', 'vendor late'), fields)
        self.assertTrue(any(f == 'outcome' and n.startswith('not_done') for f, n in fields))
        dr = self.get('%s/actions/%d' % (API, self.drop['id']))
        self.assertEqual(dr['status'], 'wont_do')
        self.assertIn(('reason', 'superseded'),
                      [(e['field'], e['new']) for e in self.history(self.drop['id'])])
        b = self.get('%s/actions/%d' % (API, self.bad['id']))
        self.assertEqual(b['status'], 'done')
        self.assertTrue(b['verified'])
        self.assertIn('review of %s' % self.key, b['evidence'])
        item = [i for i in js['items'] if i['action'] == self.bad['id']][0]
        fid = item['follow_up']['id']
        f = self.get('%s/actions/%d' % (API, fid))
        self.assertEqual(f['follow_up_of'], self.bad['id'])
        self.assertEqual((f['owner'], f['due_on'], f['incident']), (self.fac, self.days(14),
                                                                     self.key))
        p = self.svc.cli('action', 'show', str(self.bad['id']))
        self.assertIn('follow-ups:', p.stdout)
        self.assertIn('#%d' % fid, p.stdout)
        p = self.svc.cli('action', 'show', str(fid))
        self.assertRegex(p.stdout, r'follow-up of:\s+#%d\n' % self.bad['id'])
        n = int(self.q1("SELECT count(*) FROM review_items WHERE review_id = :'p1'", self.rid))
        self.assertEqual(n, 4)
        whats = [r[0] for r in self.svc.sql(
            "SELECT what FROM review_events WHERE review_id = :'p1' ORDER BY id", self.rid)]
        self.assertEqual(whats[-5:], ['outcome'] * 4 + ['held'])
        self.assertNotIn('outcome', whats[:-5])
        # stored summary
        md = self.q1("SELECT summary_md FROM reviews WHERE id = :'p1'", self.rid)
        self.assertIn('try again', md)
        # held once
        err = self.error('POST', '%s/incidents/%s/review/hold' % (API, self.key),
                         {'items': self.good_items()}, status=409, code='conflict',
                         field='review')
        self.assertIn('held', err['message'])

    def test_follow_up_in_a_synced_incident_without_a_connection_records_nothing(self):
        self.svc.sql("UPDATE incidents SET sync_tracker = 'github', sync_scope = 'acme/app'"
                     " WHERE key = :'p1'", self.key)
        # the sync routes of a closeloopd without a GitHub connection name none: creating an
        # issue is refused, and so nothing of the hold is kept
        before = self.snapshot(self.key)
        err = self.error('POST', '%s/incidents/%s/review/hold' % (API, self.key),
                         {'items': self.good_items()}, status=422, code='validation',
                         field='items[3].github')
        self.assertIn('connection', err['message'])
        self.assertEqual(self.snapshot(self.key), before)

    def test_bad_last_item_records_nothing(self):
        before = self.snapshot(self.key)
        items = self.good_items()
        items[-1]['follow_up']['owner'] = 'nobody-such'
        err = self.error('POST', '%s/incidents/%s/review/hold' % (API, self.key),
                         {'items': items, 'attended': ['a'], 'notes': 'n'}, status=422,
                         code='validation', field='items[3].owner')
        self.assertIn('nobody-such', err['message'])
        self.assertEqual(self.snapshot(self.key), before)

    def test_refusals_422(self):
        other = self.incident()
        stranger = self.mk_action(other, title='elsewhere')
        archived = self.mk_action(self.key, title='archived')
        self.call('POST', '%s/actions/%d/archive' % (API, archived['id']), {})
        base = self.good_items()

        def with_(i, **kw):
            items = json.loads(json.dumps(base))
            items[i].update(kw)
            return items

        cases = [
            ('another incident', base + [{'action': stranger['id'], 'outcome': 'effective'}],
             'items[4].action', 'another incident'),
            ('unknown action', base + [{'action': 999999999, 'outcome': 'effective'}],
             'items[4].action', 'does not exist'),
            ('twice', base + [dict(base[0])], 'items[4].action', 'twice'),
            ('bad outcome', with_(0, outcome='great'), 'items[0].outcome', None),
            ('not_done no date', with_(1, due_on=None), 'items[1].due_on', 'new due date'),
            ('not_done past', with_(1, due_on=self.days(-1)), 'items[1].due_on', 'future'),
            ('dropped no reason', with_(2, reason=None), 'items[2].reason', 'reason'),
            ('not_effective no follow-up', with_(3, follow_up=None), 'items[3].follow_up',
             'not_effective needs a follow-up'),
            ('follow-up no owner', with_(3, follow_up={'title': 't', 'due_on': self.days(3)}),
             'items[3].follow_up.owner', None),
            ('archived', base + [{'action': archived['id'], 'outcome': 'effective'}],
             'items[4].action', 'archived'),
            ('missing one', base[:3], 'items', 'none for %d' % self.bad['id']),
        ]
        before = self.snapshot(self.key)
        for name, items, field, words in cases:
            with self.subTest(name):
                err = self.error('POST', '%s/incidents/%s/review/hold' % (API, self.key),
                                 {'items': items}, status=422, code='validation', field=field)
                if words:
                    self.assertIn(words, err['message'])
        self.assertEqual(self.snapshot(self.key), before)

    def test_refusals_404_409(self):
        self.error('POST', '%s/incidents/NOPE-9/review/hold' % API, {'items': self.good_items()},
                   status=404, code='not_found')
        key = self.incident()  # no actions: the scheduler makes no review for it
        err = self.error('POST', '%s/incidents/%s/review/hold' % (API, key),
                         {'attended': ['a']}, status=409, code='conflict', field='review')
        self.assertIn('no review', err['message'])
        key2 = self.incident()
        self.make_review(key2, status='cancelled')
        err = self.error('POST', '%s/incidents/%s/review/hold' % (API, key2),
                         {'attended': ['a']}, status=409, code='conflict', field='review')
        self.assertIn('cancelled', err['message'])

    def test_cli_hold_from_flags_and_file(self):
        d, o, dr, b = (self.done['id'], self.open['id'], self.drop['id'], self.bad['id'])
        p = self.svc.cli('review', 'hold', self.key, '--outcome', '%d=effective' % d,
                         '--outcome', '%d=not_done' % o, '--due', '%d=%s' % (o, self.days(9)),
                         '--outcome', '%d=dropped' % dr, '--reason', '%d=no longer needed' % dr,
                         '--outcome', '%d=not_effective' % b, '--follow-up', '%d=again' % b,
                         '--follow-up-owner', '%d=%s' % (b, self.fac),
                         '--follow-up-due', '%d=%s' % (b, self.days(5)),
                         '--attended', '%s, bob' % self.fac, '--notes', 'short one')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('#%d not_done, due %s' % (o, self.days(9)), p.stdout)
        self.assertIn('follow-up #', p.stdout)
        r = self.svc.sql("SELECT attended, notes FROM reviews WHERE id = :'p1'", self.rid)[0]
        self.assertEqual(r, ['{%s,bob}' % self.fac, 'short one'])
        # --file on another incident
        key = self.incident()
        a = self.mk_action(key)
        self.make_review(key)
        body = json.dumps({'items': [{'action': a['id'], 'outcome': 'dropped',
                                      'reason': 'dup'}]})
        p = self.svc.cli('review', 'hold', key, '--file', '-', input=body)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.get('%s/actions/%d' % (API, a['id']))['status'], 'wont_do')
        p = self.svc.cli('review', 'hold', key, '--outcome', 'x=effective')
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_cli_hold_interactive_on_a_pty(self):
        master, slave = pty.openpty()
        env = self.svc._cli_env('admin', {'TERM': 'xterm'})
        proc = subprocess.Popen([self.svc.cli_path, 'review', 'hold', self.key], env=env,
                                cwd=self.svc.home, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        out = b''
        # per action: outcome, then its questions, then follow-up? and note
        answers = [
            (b'outcome', b'\n'),                          # done -> default effective
            (b'evidence', b'graph is flat\n'),
            (b'follow-up action? (y/n)', b'\n'),
            (b'note', b'\n'),
            (b'outcome', b'\n'),                          # open -> default not_done
            (b'new due date', b'\n'),                     # default: its due date, ahead
            (b'follow-up action? (y/n)', b'\n'),
            (b'note', b'later\n'),
            (b'outcome', b'dropped\n'),
            (b'why it will not be done', b'obsolete\n'),
            (b'follow-up action? (y/n)', b'\n'),
            (b'note', b'\n'),
            (b'outcome', b'not_effective\n'),
            (b'follow-up title', b'\n'),
            (b'follow-up owner', self.fac.encode() + b'\n'),
            (b'follow-up due date', b'\n'),
            (b'note', b'\n'),
            (b'who attended', b'alice,bob\n'),
            (b'notes of the meeting', b'done\n'),
        ]
        try:
            for want, reply in answers:
                deadline = time.monotonic() + 10
                while want not in out.split(b'\n')[-1] and time.monotonic() < deadline:
                    r, _, _ = select.select([master], [], [], 0.2)
                    if r:
                        try:
                            out += os.read(master, 65536)
                        except OSError:
                            break
                self.assertIn(want, out.split(b'\n')[-1], out.decode(errors='replace'))
                os.write(master, reply)
                out += b'\n'
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        break
                    if not data:
                        break
                    out += data
        finally:
            os.close(master)
        self.assertEqual(proc.wait(timeout=10), 0, out.decode(errors='replace'))
        text = out.decode(errors='replace')
        self.assertIn('[effective]', text, 'the default is shown')
        self.assertIn('[not_done]', text)
        self.assertIn('new due date [%s]' % self.days(1), text)
        self.assertIn('follow-up due date [%s]' % self.days(14), text)
        self.assertIn('held: Review of %s' % self.key, text)
        o = self.get('%s/actions/%d' % (API, self.open['id']))
        self.assertEqual(o['due_on'], self.days(1))
        self.assertIn('not_done', [e['new'].split()[0] for e in self.history(self.open['id'])
                                   if e['field'] == 'outcome'])
        d = self.get('%s/actions/%d' % (API, self.done['id']))
        self.assertEqual(d['evidence'], 'graph is flat')
        self.assertEqual(self.get('%s/actions/%d' % (API, self.drop['id']))['status'], 'wont_do')
        r = self.svc.sql("SELECT attended, notes FROM reviews WHERE id = :'p1'", self.rid)[0]
        self.assertEqual(r, ['{alice,bob}', 'done'])


class VerifyTest(OutcomesCase):

    def test_verify_and_its_refusals(self):
        key = self.incident()
        a = self.mk_action(key)
        err = self.error('POST', '%s/actions/%d/verify' % (API, a['id']), {'evidence': 'x'},
                         status=409, code='invalid_transition', field='status')
        self.assertIn('only a done action', err['message'])
        self.call('POST', '%s/actions/%d/done' % (API, a['id']), {})
        self.error('POST', '%s/actions/%d/verify' % (API, a['id']), {}, status=422,
                   code='validation', field='evidence')
        self.error('POST', '%s/actions/999999999/verify' % API, {'evidence': 'x'}, status=404,
                   code='not_found')
        v = self.call('POST', '%s/actions/%d/verify' % (API, a['id']),
                      {'evidence': 'https://grafana/d/1'})[0]
        self.assertTrue(v['verified'])
        self.assertEqual(v['evidence'], 'https://grafana/d/1')
        self.assertEqual(v['verified_by'], self.token_name('admin'))
        self.assertEqual(self.history(a['id'])[-1]['field'], 'verified')
        self.error('POST', '%s/actions/%d/verify' % (API, a['id']), {'evidence': 'again'},
                   status=409, code='invalid_transition', field='status')
        # reopened: the verification goes, and history says so
        r = self.call('POST', '%s/actions/%d/reopen' % (API, a['id']), {})[0]
        self.assertFalse(r['verified'])
        self.assertIsNone(r['evidence'])
        self.assertIn(('verified', 'https://grafana/d/1', None),
                      [(e['field'], e['old'], e['new']) for e in self.history(a['id'])])

    def test_unverified_report_and_cli(self):
        key = self.incident()
        a = self.mk_action(key, title='unverified one')
        b = self.mk_action(key, title='verified one')
        for x in (a, b):
            self.call('POST', '%s/actions/%d/done' % (API, x['id']), {})
        p = self.svc.cli('action', 'verify', str(b['id']), '--evidence', 'it held')
        self.assertEqual(p.returncode, 0, p.stderr)
        js = self.get('%s/reports/unverified?incident=%s' % (API, key))
        self.assertEqual([i['id'] for i in js['items']], [a['id']])
        self.assertIn('days_done', js['items'][0]['report'])
        p = self.svc.cli('report', 'unverified', '--incident', key)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('unverified one', p.stdout)
        self.assertNotIn('verified one\n', p.stdout.replace('unverified one', ''))
        p = self.svc.cli('action', 'show', str(b['id']))
        self.assertIn('evidence:', p.stdout)
        self.assertIn('it held', p.stdout)


class SummaryAndListTest(OutcomesCase):

    def test_summary_formats_and_repair(self):
        key = self.incident()
        a = self.mk_action(key, title='ship *it*')
        rid = self.make_review(key, summary_to=['ops@example.com'])
        self.error('GET', '%s/incidents/%s/review/summary' % (API, key), status=409,
                   code='conflict', field='review')
        js = self.hold(key, {'items': [{'action': a['id'], 'outcome': 'not_done',
                                        'due_on': self.days(7), 'note': 'soon'}],
                             'attended': ['carol'], 'notes': 'line one\n\n# not a heading'})
        self.assertEqual(js['recipients'], 1)
        j = self.get('%s/incidents/%s/review/summary' % (API, key))
        self.assertEqual(j['items'][0]['outcome'], 'not_done')
        self.assertEqual(j['items'][0]['new_due_on'], self.days(7))
        st, _, _, raw = self.svc.request('GET', '%s/incidents/%s/review/summary?format=md'
                                         % (API, key))
        md = raw.decode()
        self.assertIn('ship \\*it\\*', md)
        self.assertIn('not done, new due date %s' % self.days(7).replace('-', '\\-'), md)
        self.assertIn('Attended: carol', md)
        self.assertIn('\\# not a heading', md)
        st, _, _, raw = self.svc.request('GET', '%s/incidents/%s/review/summary?format=html'
                                         % (API, key))
        html = raw.decode()
        self.assertIn('<h2>Notes</h2>', html)
        self.assertNotIn('<h1>not a heading', html)
        self.assertEqual(html, self.q1("SELECT summary_html FROM reviews WHERE id = :'p1'", rid))
        # a crash between the hold and the store: rendered and stored again when read
        self.svc.sql("UPDATE reviews SET summary_md = NULL, summary_html = NULL"
                     " WHERE id = :'p1'", rid)
        st, _, _, raw = self.svc.request('GET', '%s/incidents/%s/review/summary?format=md'
                                         % (API, key))
        self.assertEqual(raw.decode(), md)
        self.assertEqual(self.q1("SELECT summary_md FROM reviews WHERE id = :'p1'", rid), md)
        p = self.svc.cli('review', 'summary', key)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('## Outcomes', p.stdout)

    def test_summary_mails_once_per_recipient(self):
        key = self.incident()
        a = self.mk_action(key)
        rid = self.make_review(key, summary_to=['ops@example.com', 'OPS@example.com',
                                                'b@example.com'])
        self.hold(key, {'items': [{'action': a['id'], 'outcome': 'dropped', 'reason': 'x'}]})
        rows = self.svc.sql("SELECT lower(to_addr) FROM mail_queue WHERE kind = 'summary'"
                            " AND dedup_key LIKE 'summary:' || :'p1' || ':%' ORDER BY 1", rid)
        self.assertEqual([r[0] for r in rows], ['b@example.com', 'ops@example.com'])

    def test_review_list_filters_and_paging(self):
        team = self.mk_team()['name']
        fac = self.mk_person(team=team)['handle']
        keys = []
        for i in range(3):
            key = self.mk_incident('LST-%s' % uniq(''), facilitator=fac)['key']
            self.make_review(key, days=i + 1, status='cancelled' if i == 2 else 'scheduled')
            keys.append(key)
        items, pages = self.walk('%s/reviews?team=%s' % (API, team), 2)
        self.assertEqual([r['incident'] for r in items], keys)
        self.assertEqual(pages, 2)
        js = self.get('%s/reviews?team=%s&status=cancelled' % (API, team))
        self.assertEqual([r['incident'] for r in js['items']], keys[2:])
        js = self.get('%s/reviews?team=%s&from=%s&to=%s' % (API, team, self.days(2),
                                                            self.days(3)))
        self.assertEqual(js['items'][0]['local'], '%s 15:00' % self.days(2))
        self.assertEqual([r['incident'] for r in js['items']], keys[1:2])
        self.error('GET', '%s/reviews?status=done' % API, status=400, code='bad_request',
                   field='status')
        self.error('GET', '%s/reviews?team=nosuchteam' % API, status=422, code='validation',
                   field='team')
        p = self.svc.cli('review', 'list', '--team', team, '--status', 'scheduled')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(keys[0], p.stdout)
        self.assertNotIn(keys[2], p.stdout)
        self.assertIn('Europe/Paris', p.stdout)


class HoldGitHubTest(OutcomesCase):
    """Against the GitHub fake: the tracker hears of every outcome (issues closed, due dates
    pushed), and a follow-up gets its own issue."""

    REPO = 'acme/outcomes'

    @classmethod
    def setUpClass(cls):
        super(ServiceTestCase, cls).setUpClass()  # not ServiceTestCase's: it starts no fake
        cls.svc = None
        cls.gh = FakeGitHub().start()
        try:
            env = {'CLOSELOOP_GITHUB_TOKEN': 'ghp_test', 'CLOSELOOP_GITHUB_API_URL': cls.gh.url,
                   'CLOSELOOP_GITHUB_WRITE_INTERVAL': '0', 'CLOSELOOP_GITHUB_TIMEOUT': '10',
                   'CLOSELOOP_GITHUB_POLL_INTERVAL': '1'}
            cls.svc = Service(name=cls.__name__, env=env).start()
            cls.gh.create_repo(cls.REPO, collaborators=['fac-gh'])
            st, _, js, _ = cls.svc.request('POST', API + '/people', body={
                'handle': 'facgh', 'name': 'F', 'email': 'facgh@example.com',
                'github_login': 'fac-gh'})
            assert st == 201, js
            cls.fac = 'facgh'
        except BaseException:
            if cls.svc is not None:
                cls.svc.stop()
            cls.gh.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.gh.stop()

    def linked(self, aid):
        return until(lambda: (lambda a: a if a['sync'] and a['sync']['number'] else None)(
            self.get('%s/actions/%d' % (API, aid))), 15, what='action %d linked' % aid)

    def test_outcomes_reach_the_tracker(self):
        key = self.mk_incident('GHO-%s' % uniq(''), title='synced', github_repo=self.REPO)['key']
        done = self.mk_action(key, owner=self.fac, title='works')
        late = self.mk_action(key, owner=self.fac, title='late', due_on=self.days(2))
        bad = self.mk_action(key, owner=self.fac, title='did not help')
        for a in (done, late, bad):
            self.linked(a['id'])
        self.make_review(key)
        pushes = len(self.outbox(late['id']))
        js = self.hold(key, {'items': [
            {'action': done['id'], 'outcome': 'effective'},
            {'action': late['id'], 'outcome': 'not_done', 'due_on': self.days(20)},
            {'action': bad['id'], 'outcome': 'not_effective',
             'follow_up': {'title': 'try harder', 'owner': self.fac, 'due_on': self.days(9)}}]})
        fid = [i for i in js['items'] if i['action'] == bad['id']][0]['follow_up']['id']
        self.assertEqual(self.outbox(fid), [('create',)])
        self.assertEqual(len(self.outbox(late['id'])), pushes + 1)
        f = self.linked(fid)
        self.assertEqual(f['follow_up_of'], bad['id'])
        issue = self.gh.raw_issue(self.REPO, f['sync']['number'])
        self.assertEqual(issue['title'], 'try harder')
        for a in (done, bad):
            n = self.get('%s/actions/%d' % (API, a['id']))['sync']['number']
            until(lambda: self.gh.raw_issue(self.REPO, n)['state'] == 'closed', 15,
                  what='issue %d closed' % n)
        # reopened in GitHub: the action leaves done and loses its verification
        n = self.get('%s/actions/%d' % (API, done['id']))['sync']['number']
        self.assertTrue(self.get('%s/actions/%d' % (API, done['id']))['verified'])
        until(lambda: self.pending_pushes(done['id']) == 0, 15, what='pushes done')
        self.gh.act('fac-gh', self.REPO, n, 'reopen')
        a = until(lambda: (lambda x: x if x['status'] == 'open' else None)(
            self.get('%s/actions/%d' % (API, done['id']))), 15, what='reopened from GitHub')
        self.assertFalse(a['verified'])
        self.assertIsNone(a['evidence'])
        self.assertIn(('github', 'verified'), [(e['source'], e['field'])
                                               for e in self.history(done['id'])])

    def pending_pushes(self, aid):
        return int(self.q1("SELECT count(*) FROM outbox WHERE action_id = :'p1'"
                           " AND done_at IS NULL AND failed_at IS NULL", aid))


if __name__ == '__main__':
    unittest.main()
