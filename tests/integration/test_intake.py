"""Recording actions as the product promises them (one owner and a due date): the due-date
policy and the warnings of what is still missing; many actions at once (batch, import);
correcting mistakes (archive, unarchive, rekey)."""
import datetime
import json
import os
import shutil
import signal
import tempfile
import unittest

from harness import Service, until
from test_api import API, ApiCase, ts, uniq
from test_ops import run_closeloopd


class DuePolicyTest(ApiCase):
    """The built-in policy: P0 7 days, P1 14, P2 30, P3 60, P4 none."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.inc = 'DUE-1'
        st = cls.svc.request('POST', API + '/incidents', body={'key': cls.inc, 'title': 't'})[0]
        assert st == 201, st
        cls.owner = uniq('due')
        st = cls.svc.request('POST', API + '/people', body={
            'handle': cls.owner, 'name': 'Owner', 'email': cls.owner + '@example.com'})[0]
        assert st == 201, st

    def add(self, **kw):
        body = {'incident': self.inc, 'kind': 'corrective', 'title': uniq('due ')}
        body.update(kw)
        return self.call('POST', API + '/actions', body, expect=201)[0]

    def days_from_today(self, n):
        return (self.today() + datetime.timedelta(days=n)).isoformat()

    def test_each_priority_gets_its_default(self):
        for prio, days in (('P0', 7), ('P1', 14), ('P2', 30), ('P3', 60)):
            with self.subTest(priority=prio):
                js = self.add(priority=prio, owner=self.owner)
                self.assertEqual(js['due_on'], self.days_from_today(days))
                self.assertEqual(js['warnings'], [])
                hist = self.history(js['id'])
                self.assertEqual([(e['field'], e['actor'], e['old'], e['new']) for e in hist[-2:]],
                                 [('due_on', 'adm', None, js['due_on']),
                                  ('reason', 'adm', None, 'the due policy: %d days for a %s '
                                   'corrective action' % (days, prio))])
                self.assertEqual(str(self.q1("SELECT due_on::text FROM actions WHERE id = :'p1'",
                                             js['id'])), js['due_on'])

    def test_p4_has_none_and_says_so(self):
        js = self.add(priority='P4', owner=self.owner)
        self.assertIsNone(js['due_on'])
        self.assertEqual(js['warnings'],
                         ['action %d has no due date: the due policy gives none to P4 corrective '
                          'actions' % js['id']])
        self.assertNotIn('due_on', [e['field'] for e in self.history(js['id'])])

    def test_a_given_date_or_an_explicit_null_wins(self):
        given = self.add(priority='P0', owner=self.owner, due_on=self.days_from_today(100))
        self.assertEqual(given['due_on'], self.days_from_today(100))
        self.assertEqual(given['warnings'], [])
        self.assertNotIn('due_on', [e['field'] for e in self.history(given['id'])])
        undated = self.add(priority='P0', due_on=None)
        self.assertIsNone(undated['due_on'])
        self.assertEqual(undated['warnings'],
                         ['action %d has no owner: give it one person who answers for it'
                          % undated['id'], 'action %d has no due date' % undated['id']])
        # warnings belong to the answer that created it, not to the action
        self.assertNotIn('warnings', self.get('%s/actions/%d' % (API, undated['id'])))

    def test_cli_prints_warnings_on_stderr_and_exits_0(self):
        r = self.svc.cli('action', 'add', '--incident', self.inc, '--kind', 'preventive',
                         '--title', 'No owner yet', '--priority', 'P4')
        self.assertEqual(r.returncode, 0, r.stderr)
        aid = int(r.stdout.strip())  # stdout: the id alone, as before
        self.assertEqual(r.stderr.splitlines(), [
            'closeloop: warning: action %d has no owner: give it one person who answers for it'
            % aid,
            'closeloop: warning: action %d has no due date: the due policy gives none to P4 '
            'preventive actions' % aid])
        r = self.svc.cli('action', 'add', '--incident', self.inc, '--kind', 'preventive',
                         '--title', 'Owned, policy date', '--owner', self.owner)
        self.assertEqual((r.returncode, r.stderr), (0, ''))
        aid = int(r.stdout.strip())
        self.assertEqual(self.get('%s/actions/%d' % (API, aid))['due_on'],
                         self.days_from_today(30))
        r = self.svc.cli('action', 'add', '--incident', self.inc, '--kind', 'preventive',
                         '--title', 'Deliberately undated', '--owner', self.owner, '--due', 'none')
        self.assertEqual(r.returncode, 0, r.stderr)
        aid = int(r.stdout.strip())
        self.assertEqual(r.stderr, 'closeloop: warning: action %d has no due date\n' % aid)
        self.assertIsNone(self.get('%s/actions/%d' % (API, aid))['due_on'])


class DuePolicyConfigTest(ApiCase):
    """A [due] section in closeloopd's INI file, kinds included."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='cldue.')
        path = os.path.join(cls.dir, 'closeloopd.ini')
        with open(path, 'w') as f:
            f.write('[closeloopd]\nlog_level = info\n[due]\nP1 = 3d\npreventive.P1 = 2w\n'
                    'P2 = none\n')
        cls.svc = Service(name=cls.__name__, env={'CLOSELOOP_CONFIG': path}).start()
        st = cls.svc.request('POST', API + '/incidents', body={'key': 'CFG-1', 'title': 't'})[0]
        assert st == 201, st

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def test_the_file_decides(self):
        today = self.today()
        for kind, prio, days in (('corrective', 'P1', 3), ('preventive', 'P1', 14),
                                 ('corrective', 'P0', 7), ('preventive', 'P2', None)):
            with self.subTest(kind=kind, priority=prio):
                js = self.call('POST', API + '/actions',
                               {'incident': 'CFG-1', 'kind': kind, 'title': 'x',
                                'priority': prio}, expect=201)[0]
                want = None if days is None else (today + datetime.timedelta(days=days)).isoformat()
                self.assertEqual(js['due_on'], want)
                self.assertEqual(len(js['warnings']), 1 if days else 2, js['warnings'])


    def test_then_a_reload_changes_it(self):
        """[due] is reloadable: SIGHUP applies a new policy to the next action."""
        with open(os.path.join(self.dir, 'closeloopd.ini'), 'w') as f:
            f.write('[due]\nP1 = 5d\n')
        self.svc.proc.send_signal(signal.SIGHUP)
        until(lambda: 'event=reloaded' in self.svc.log_text(), what='the reload')
        js = self.call('POST', API + '/actions', {'incident': 'CFG-1', 'kind': 'preventive',
                                                  'title': 'x', 'priority': 'P1'}, expect=201)[0]
        self.assertEqual(js['due_on'], (self.today() + datetime.timedelta(days=5)).isoformat())


class DuePolicyCheckConfigTest(unittest.TestCase):
    """check-config shows the policy and refuses a bad one, naming the file, line and key."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='cldue.')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check(self, text):
        path = os.path.join(self.dir, 'c.ini')
        with open(path, 'w') as f:
            f.write(text)
        return path, run_closeloopd('--config', path, 'check-config',
                                    env={'CLOSELOOP_DATABASE_URL': 'postgresql:///x'})

    def test_shows_the_policy(self):
        _, r = self.check('[due]\nP0 = 1w\ncorrective.P4 = 90d\n')
        self.assertEqual(r.returncode, 0, r.stderr)
        for line in (r'due\.P0\s+= 7d', r'due\.P1\s+= 14d', r'due\.P2\s+= 30d', r'due\.P3\s+= 60d',
                     r'due\.P4\s+= none', r'due\.corrective\.P4\s+= 90d'):
            self.assertRegex(r.stdout, '(?m)^%s$' % line)

    def test_refuses_bad_values(self):
        for line, words in (('P1 = 14', 'give days or weeks'), ('P1 = soon', 'give days or weeks'),
                            ('P1 = 5000d', 'at most 3650 days'), ('P7 = 3d', 'unknown [due] key'),
                            ('urgent.P1 = 3d', 'unknown [due] key')):
            with self.subTest(line=line):
                path, r = self.check('[closeloopd]\nlisten = 127.0.0.1:8080\n[due]\n%s\n' % line)
                self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
                self.assertIn('%s:4: ' % path, r.stderr)
                self.assertIn(words, r.stderr)
                self.assertNotIn('configuration is valid', r.stdout)


class BatchTest(ApiCase):
    """POST /api/v1/incidents/{key}/actions and `closeloop action import`: many actions, one
    transaction; each created as POST /api/v1/actions creates one. A GitHub connection
    (to a port nobody listens on) makes the tracker's outbox rows visible."""

    @classmethod
    def setUpClass(cls):
        cls.svc = Service(name=cls.__name__, env={
            'CLOSELOOP_GITHUB_TOKEN': 'ghp_test', 'CLOSELOOP_GITHUB_API_URL': 'http://127.0.0.1:9',
            'CLOSELOOP_GITHUB_POLL_INTERVAL': '3600'}).start()
        cls.alice = uniq('alice')
        st = cls.svc.request('POST', API + '/people', body={
            'handle': cls.alice, 'name': 'Alice', 'email': cls.alice + '@example.com'})[0]
        assert st == 201, st
        st = cls.svc.request('POST', API + '/incidents', body={
            'key': 'BAT-1', 'title': 't', 'github_repo': 'acme/web'})[0]
        assert st == 201, st

    def counts(self):
        return [int(self.q1('SELECT count(*) FROM %s' % t)) for t in ('actions', 'events',
                                                                       'outbox', 'links')]

    def batch(self, rows, incident='BAT-1', expect=201):
        return self.call('POST', '%s/incidents/%s/actions' % (API, incident), {'actions': rows},
                         expect=expect)[0]

    def test_rows_are_created_as_singly(self):
        today = self.today()
        js = self.batch([
            {'title': 'Rate limit the form', 'kind': 'preventive', 'owner': self.alice,
             'due_on': '2030-01-02', 'priority': 'P1', 'description': 'why', 'line': 2},
            {'title': 'Alert on 5xx', 'kind': 'corrective', 'priority': 'P0', 'line': 3},
            {'title': 'Someday', 'kind': 'corrective', 'owner': self.alice, 'priority': 'P4'}])
        self.assertEqual(set(js), {'items', 'warnings'})
        items = js['items']
        self.assertEqual([a['title'] for a in items],
                         ['Rate limit the form', 'Alert on 5xx', 'Someday'])
        self.assertEqual([a['due_on'] for a in items],
                         ['2030-01-02', (today + datetime.timedelta(days=7)).isoformat(), None])
        self.assertEqual([a['incident'] for a in items], ['BAT-1'] * 3)
        self.assertEqual(items[0]['description'], 'why')
        ids = [a['id'] for a in items]
        self.assertEqual(js['warnings'], [
            'row 2 (line 3): action %d has no owner: give it one person who answers for it'
            % ids[1],
            'row 3: action %d has no due date: the due policy gives none to P4 corrective '
            'actions' % ids[2]])
        for a in items:
            self.assertEqual(self.get('%s/actions/%d' % (API, a['id'])), a)
            self.assertEqual(a['sync']['repo'], 'acme/web')
        ev = self.svc.sql("SELECT action_id, field, actor FROM events WHERE action_id IN"
                          " (:'p1', :'p2', :'p3') ORDER BY id", *ids)
        self.assertEqual([(int(r[0]), r[1]) for r in ev],
                         [(ids[0], 'created'), (ids[0], 'owner'), (ids[1], 'created'),
                          (ids[1], 'due_on'), (ids[1], 'reason'), (ids[2], 'created'),
                          (ids[2], 'owner')])
        outbox = self.svc.sql("SELECT action_id, tracker, op FROM outbox WHERE action_id IN"
                              " (:'p1', :'p2', :'p3') ORDER BY id", *ids)
        self.assertEqual([(int(r[0]), r[1], r[2]) for r in outbox],
                         [(i, 'github', 'create') for i in ids])

    def test_a_bad_last_row_creates_nothing(self):
        good = {'title': 'fine', 'kind': 'corrective', 'owner': self.alice}
        cases = [
            # checked before SQL: the rule and the row
            ({'title': 'x', 'kind': 'sideways', 'line': 9}, 'actions[2].kind',
             'row 3 (line 9): kind'),
            ({'title': 'x', 'kind': 'corrective', 'due_on': '2026-02-30', 'line': 9},
             'actions[2].due_on', 'row 3 (line 9): due_on "2026-02-30" is not a date'),
            ({'title': ' ', 'kind': 'corrective'}, 'actions[2].title', 'row 3: title'),
            ({'kind': 'corrective', 'line': 4}, 'actions[2].title',
             'row 3 (line 4): title is required'),
            ({'title': 'x', 'kind': 'corrective', 'incident': 'BAT-1'}, 'actions[2].incident',
             'row 3: unknown field "incident"'),
            ('not an object', 'actions[2]', 'row 3: not a JSON object'),
            # checked by SQL, after two rows were made: rolled back
            ({'title': 'x', 'kind': 'corrective', 'owner': 'nobody-here', 'line': 12}, 'owner',
             "row 3 (line 12): unknown person 'nobody-here'"),
        ]
        before = self.counts()
        for row, field, message in cases:
            with self.subTest(row=row):
                err = self.error('POST', API + '/incidents/BAT-1/actions',
                                 {'actions': [good, good, row]},
                                 status=422, code='validation', field=field)
                self.assertTrue(err['message'].startswith(message), err['message'])
                self.assertEqual(self.counts(), before)

    def test_the_batch_is_bounded(self):
        before = self.counts()
        row = {'title': 'x', 'kind': 'corrective'}
        for rows in ([], [row] * 501):
            with self.subTest(n=len(rows)):
                err = self.error('POST', API + '/incidents/bat-1/actions',
                                 {'actions': rows}, status=422,
                                 code='validation', field='actions')
                self.assertIn('1 to 500', err['message'])
        self.error('POST', API + '/incidents/NOPE-1/actions', {'actions': [row]},
                   status=404, code='not_found')
        self.error('POST', API + '/incidents/BAT-1/actions', {'actions': [row], 'incident': 'x'},
                   status=422, code='validation', field='incident')
        self.error('POST', API + '/incidents/BAT-1/actions', {'actions': [row]},
                   status=403, code='forbidden', token='read')
        self.assertEqual(self.counts(), before)
        js = self.batch([dict(row, title='n%d' % i) for i in range(500)])
        self.assertEqual(len(js['items']), 500)

    def test_rekey_keeps_links_and_pushes_the_new_key(self):
        st = self.svc.request('POST', API + '/incidents', body={
            'key': 'BAT-9', 'title': 't', 'github_repo': 'acme/web'})[0]
        self.assertEqual(st, 201)
        ids = [a['id'] for a in self.batch([{'title': 'one', 'kind': 'corrective'},
                                            {'title': 'two', 'kind': 'corrective'}],
                                           incident='BAT-9')['items']]
        self.call('POST', '%s/actions/%d/archive' % (API, ids[1]))
        links = self.svc.sql("SELECT action_id, id, scope FROM links WHERE action_id IN"
                             " (:'p1', :'p2') ORDER BY action_id", *ids)
        self.call('POST', API + '/incidents/BAT-9/rekey', {'key': 'BAT-10'})
        self.assertEqual(self.svc.sql("SELECT action_id, id, scope FROM links WHERE action_id"
                                      " IN (:'p1', :'p2') ORDER BY action_id", *ids), links)
        pushes = self.svc.sql("SELECT action_id FROM outbox WHERE op = 'push' AND action_id IN"
                              " (:'p1', :'p2')", *ids)
        self.assertEqual([int(r[0]) for r in pushes], [ids[0]])  # the archived one's is left
        self.assertEqual(self.get('%s/actions/%d' % (API, ids[0]))['incident'], 'BAT-10')

    def cli_import(self, text, *extra):
        return self.svc.cli('action', 'import', '-', '--incident', 'BAT-1', *extra, input=text)

    def test_cli_imports_csv(self):
        text = ('title,kind,owner,due,priority,description\n'
                'Rate limit the form,preventive,%s,2030-05-06,P1,"Why: ""bots"", mostly\n'
                'and more"\n'
                '\n'
                'Alert on 5xx,corrective,,,P0,\n'
                'Undated,corrective,%s,none,P2,\n' % (self.alice, self.alice))
        r = self.cli_import(text, '--json')
        self.assertEqual(r.returncode, 0, r.stderr)
        items = json.loads(r.stdout)['items']
        self.assertEqual([(a['title'], a['kind'], a['owner'], a['priority']) for a in items],
                         [('Rate limit the form', 'preventive', self.alice, 'P1'),
                          ('Alert on 5xx', 'corrective', None, 'P0'),
                          ('Undated', 'corrective', self.alice, 'P2')])
        self.assertEqual(items[0]['description'], 'Why: "bots", mostly\nand more')
        self.assertEqual(items[0]['due_on'], '2030-05-06')
        self.assertEqual(items[1]['due_on'],
                         (self.today() + datetime.timedelta(days=7)).isoformat())
        self.assertIsNone(items[2]['due_on'])
        self.assertEqual(r.stderr.splitlines(), [
            'closeloop: warning: row 2 (line 5): action %d has no owner: give it one person '
            'who answers for it' % items[1]['id'],
            'closeloop: warning: row 3 (line 6): action %d has no due date' % items[2]['id']])

    def test_cli_imports_a_markdown_checklist_from_a_file(self):
        text = ('# Follow-ups of BAT-1\n\nSome prose that is no action.\n\n'
                '- [ ] Add rate limit to the form @%s due:2030-12-20 P1 preventive\n'
                '* [ ] Page on P1 errors corrective\n' % self.alice)
        path = os.path.join(self.svc.home, 'actions.md')
        with open(path, 'w') as f:
            f.write(text)
        r = self.svc.cli('action', 'import', path, '--incident', 'bat-1')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('Add rate limit to the form', r.stdout)  # the created actions' table
        rows = self.svc.sql("SELECT a.title, a.kind, p.handle, a.due_on::text, a.priority"
                            " FROM actions a LEFT JOIN people p ON p.id = a.owner_id"
                            " WHERE a.title IN ('Add rate limit to the form',"
                            " 'Page on P1 errors') ORDER BY a.id")
        self.assertEqual([list(r) for r in rows], [
            ['Add rate limit to the form', 'preventive', self.alice, '2030-12-20', 'P1'],
            ['Page on P1 errors', 'corrective', None,
             (self.today() + datetime.timedelta(days=30)).isoformat(), 'P2']])
        self.assertIn('row 2 (line 6): action', r.stderr)

    def test_cli_names_the_file_line_and_creates_nothing(self):
        before = self.counts()
        cases = [
            ('title,kind,color\nx,corrective,red\n', 2,
             'closeloop: stdin:1: unknown column "color"'),
            ('title,kind\nx,corrective\ny\n', 2, 'closeloop: stdin:3: 1 cells, the header has 2'),
            ('title,kind\nok,corrective\nlate,corrective,\n', 2,
             'closeloop: stdin:3: 3 cells, the header has 2'),
            ('- [ ] fine corrective\n- [x] done already corrective\n', 2,
             'closeloop: stdin:2: a checked item'),
            ('- [ ] fine corrective\n- [ ] two owners @a @b corrective\n', 2,
             'closeloop: stdin:2: "@a": this item already has its owner'),
            ('title,kind\nok,corrective\nbad,upwards\n', 1,
             'closeloop: row 2 (line 3): kind "upwards" is not one of the allowed values'),
            ('title,kind,owner\nok,corrective,\nbad,corrective,ghost\n', 1,
             "closeloop: row 2 (line 3): unknown person 'ghost'"),
        ]
        for text, code, message in cases:
            with self.subTest(text=text):
                r = self.cli_import(text)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertTrue(r.stderr.startswith(message), r.stderr)
                self.assertEqual(r.stdout, '')
                self.assertEqual(self.counts(), before)
        r = self.svc.cli('action', 'import', '/no/such/file.csv', '--incident', 'BAT-1')
        self.assertEqual(r.returncode, 2)
        self.assertIn('/no/such/file.csv: No such file or directory', r.stderr)


class ArchiveTest(ApiCase):
    """Archived actions and incidents are kept (history says who archived them) and hidden
    from lists, reports and counts; show still shows them, and says so."""

    def setUp(self):
        self.inc = self.mk_incident()['key']
        self.keep = self.mk_action(self.inc, due_on='2000-01-01')   # overdue: in reports
        self.gone = self.mk_action(self.inc, due_on='2000-01-02', owner=None)

    def listed(self, path):
        return [a['id'] for a in self.get(API + path)['items']]

    def counts(self, key):
        return self.get('%s/incidents/%s' % (API, key))['actions']

    def test_archive_an_action(self):
        aid = self.gone['id']
        js = self.call('POST', '%s/actions/%d/archive' % (API, aid), token='write')[0]
        self.assertIsNotNone(ts(js['archived_at']))
        self.assertEqual(js['version'], self.gone['version'] + 1)
        self.assertEqual(self.get('%s/actions/%d' % (API, aid)), js)  # show still works
        self.assertEqual(self.listed('/actions?incident=%s' % self.inc), [self.keep['id']])
        self.assertNotIn(aid, self.listed('/actions?status=open'))
        for report in ('overdue', 'unowned'):
            self.assertNotIn(aid, self.listed('/reports/%s?incident=%s' % (report, self.inc)))
        self.assertIn(self.keep['id'], self.listed('/reports/overdue?incident=%s' % self.inc))
        c = self.counts(self.inc)
        self.assertEqual((c['total'], c['open'], c['overdue'], c['unowned']), (1, 1, 1, 0))
        f = self.get('%s/figures?incident=%s' % (API, self.inc))['items'][0]
        self.assertEqual((f['open'], f['overdue'], f['unowned']), (1, 1, 0))
        self.assertEqual(int(self.q1("SELECT count(*) FROM actions WHERE id = :'p1'", aid)), 1)
        hist = self.history(aid)
        self.assertEqual([(e['field'], e['old'], e['new'], e['actor']) for e in hist[-1:]],
                         [('archived', 'false', 'true', self.token_name('write'))])
        self.error('POST', '%s/actions/%d/archive' % (API, aid), status=409,
                   code='invalid_transition', field='status')
        back = self.call('POST', '%s/actions/%d/unarchive' % (API, aid), {})[0]
        self.assertIsNone(back['archived_at'])
        self.assertEqual(self.listed('/actions?incident=%s' % self.inc),
                         [self.keep['id'], aid])
        self.assertEqual(self.history(aid)[-1]['new'], 'false')
        self.error('POST', '%s/actions/%d/unarchive' % (API, aid), status=409,
                   code='invalid_transition', field='status')
        self.error('POST', '%s/actions/%d/archive' % (API, aid), status=403, code='forbidden',
                   token='read')
        self.error('POST', '%s/actions/999999/archive' % API, status=404, code='not_found')

    def test_archive_an_incident_hides_its_actions(self):
        self.call('POST', '%s/actions/%d/archive' % (API, self.gone['id']))
        before = self.get('%s/actions/%d' % (API, self.gone['id']))['archived_at']
        js = self.call('POST', '%s/incidents/%s/archive' % (API, self.inc.lower()))[0]
        self.assertIsNotNone(ts(js['archived_at']))
        self.assertEqual(js['actions']['total'], 0)
        self.assertNotIn(self.inc, [i['key'] for i in self.get(API + '/incidents?limit=500')
                                    ['items']])
        self.assertEqual(self.get('%s/incidents/%s' % (API, self.inc))['key'], self.inc)
        self.assertEqual(self.listed('/actions?incident=%s&status=open' % self.inc), [])
        self.assertEqual(self.get('%s/figures?incident=%s' % (API, self.inc))['items'][0]['open'],
                         0)
        self.assertNotIn(self.inc, [f['incident'] for f in
                                    self.get(API + '/figures?by=incident&limit=1000')['items']])
        self.assertNotIn(self.keep['id'], self.listed('/reports/overdue'))
        kept = self.get('%s/actions/%d' % (API, self.keep['id']))
        self.assertEqual(kept['archived_at'], js['archived_at'])
        self.assertEqual(self.history(self.keep['id'])[-1]['new'],
                         'true (with incident %s)' % self.inc)
        rows = self.svc.sql("SELECT e.field, e.old, e.new FROM incident_events e JOIN incidents i"
                            " ON i.id = e.incident_id WHERE i.key = :'p1' AND e.field = 'archived'"
                            " ORDER BY e.id", self.inc)
        self.assertEqual([list(r) for r in rows], [['archived', 'false', 'true']])
        # no new actions on an archived incident; one of its actions does not come back alone
        self.error('POST', API + '/actions', {'incident': self.inc, 'kind': 'corrective',
                                              'title': 'x'}, status=422, code='validation',
                   field='incident')
        err = self.error('POST', '%s/actions/%d/unarchive' % (API, self.keep['id']),
                         status=409, code='invalid_transition', field='status')
        self.assertIn('unarchive it', err['message'])
        self.call('POST', '%s/incidents/%s/unarchive' % (API, self.inc))
        self.assertEqual(self.listed('/actions?incident=%s' % self.inc), [self.keep['id']])
        # the action archived on its own before stays archived
        self.assertEqual(self.get('%s/actions/%d' % (API, self.gone['id']))['archived_at'],
                         before)
        self.assertEqual(self.counts(self.inc)['total'], 1)

    def test_cli_archive_and_show(self):
        aid = self.gone['id']
        r = self.svc.cli('action', 'archive', aid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'(?m)^archived:\s+\d{4}-\d{2}-\d{2} ')
        out = self.svc.cli('action', 'show', aid).stdout
        self.assertRegex(out, r'(?m)^archived:\s+\d{4}-\d{2}-\d{2} ')
        self.assertNotRegex(self.svc.cli('action', 'show', self.keep['id']).stdout,
                            r'(?m)^archived:')
        listing = self.svc.cli('action', 'list', '--incident', self.inc).stdout
        self.assertNotRegex(listing, r'(?m)^%d\s' % aid)
        self.assertRegex(listing, r'(?m)^%d\s' % self.keep['id'])
        r = self.svc.cli('action', 'archive', aid)
        self.assertEqual(r.returncode, 1)
        self.assertIn('action %d is already archived' % aid, r.stderr)
        r = self.svc.cli('incident', 'archive', self.inc)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'(?m)^archived:\s+\d{4}-\d{2}-\d{2} ')
        self.assertNotIn(self.inc, self.svc.cli('incident', 'list').stdout)
        shown = self.svc.cli('incident', 'show', self.inc)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertRegex(shown.stdout, r'(?m)^archived:\s+\d{4}-\d{2}-\d{2} ')
        r = self.svc.cli('incident', 'unarchive', self.inc)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.inc, self.svc.cli('incident', 'list').stdout)


class RekeyTest(ApiCase):
    """POST /api/v1/incidents/{key}/rekey and `closeloop incident rekey OLD NEW`."""

    def test_rekey_keeps_actions_and_records_the_change(self):
        inc = self.mk_incident()
        a = self.mk_action(inc['key'])
        js = self.call('POST', '%s/incidents/%s/rekey' % (API, inc['key'].lower()),
                       {'key': ' inc-2026-%d ' % inc['id']}, token='write')[0]
        new = 'INC-2026-%d' % inc['id']
        self.assertEqual((js['id'], js['key'], js['version']), (inc['id'], new, inc['version'] + 1))
        self.assertEqual(js['actions']['total'], 1)
        self.assertEqual(self.get('%s/incidents/%s' % (API, new))['id'], inc['id'])
        self.error('GET', '%s/incidents/%s' % (API, inc['key']), status=404, code='not_found')
        self.assertEqual(self.get('%s/actions/%d' % (API, a['id']))['incident'], new)
        self.assertEqual([x['id'] for x in self.get('%s/actions?incident=%s' % (API, new))
                          ['items']], [a['id']])
        rows = self.svc.sql("SELECT field, old, new, actor FROM incident_events"
                            " WHERE incident_id = :'p1' AND field = 'key' ORDER BY id", inc['id'])
        self.assertEqual([list(r) for r in rows], [['key', inc['key'], new,
                                                    self.token_name('write')]])

    def test_bad_or_taken_keys_change_nothing(self):
        inc, other = self.mk_incident(), self.mk_incident()
        path = '%s/incidents/%s/rekey' % (API, inc['key'])
        err = self.error('POST', path, {'key': 'not a key'}, status=422, code='validation',
                         field='key')
        self.assertIn('2 to 4 parts of letters and digits', err['message'])
        err = self.error('POST', path, {'key': other['key'].lower()}, status=409,
                         code='duplicate', field='key')
        self.assertEqual(err['message'],
                         'incident key %s is taken by another incident' % other['key'])
        self.error('POST', path, {'key': inc['key']}, status=422, code='validation', field='key')
        self.error('POST', path, {}, status=422, code='validation', field='key')
        self.error('POST', path, {'key': 'NEW-1', 'title': 'x'}, status=422, code='validation',
                   field='title')
        self.error('POST', '%s/incidents/NOPE-404/rekey' % API, {'key': 'NEW-2'}, status=404,
                   code='not_found')
        self.error('POST', path, {'key': 'NEW-3'}, status=403, code='forbidden', token='read')
        self.assertEqual(self.get('%s/incidents/%s' % (API, inc['key']))['version'],
                         inc['version'])
        self.assertEqual(self.q1("SELECT count(*) FROM incident_events WHERE field = 'key'"
                                 " AND incident_id IN (:'p1', :'p2')", inc['id'], other['id']),
                         '0')

    def test_cli_rekey(self):
        inc, other = self.mk_incident(), self.mk_incident()
        new = 'SEC-2026-%d' % inc['id']
        r = self.svc.cli('incident', 'rekey', inc['key'], new.lower())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'(?m)^key:\s+%s$' % new)
        rows = self.svc.sql("SELECT source, field, old, new FROM incident_events"
                            " WHERE incident_id = :'p1' AND field = 'key'", inc['id'])
        self.assertEqual([list(r) for r in rows], [['cli', 'key', inc['key'], new]])
        r = self.svc.cli('incident', 'rekey', new, other['key'])
        self.assertEqual(r.returncode, 1)
        self.assertIn('incident key %s is taken by another incident' % other['key'], r.stderr)
        r = self.svc.cli('incident', 'rekey', new, 'bad key')
        self.assertEqual(r.returncode, 1)
        self.assertIn('is not valid', r.stderr)
        self.assertIn('(NEW)', r.stderr)  # the CLI names its own argument, not the field
