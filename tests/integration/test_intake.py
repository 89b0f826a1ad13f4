"""Recording actions as the product promises them (one owner and a due date): the due-date
policy and the warnings of what is still missing."""
import datetime
import os
import shutil
import tempfile
import unittest

from harness import Service
from test_api import API, ApiCase, uniq
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
                self.assertEqual([(e['field'], e['actor'], e['old'], e['new']) for e in hist
                                  if e['field'] == 'due_on'],
                                 [('due_on', 'due policy (%s corrective: %d days)' % (prio, days),
                                   None, js['due_on'])])
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
        self.assertIn('[due]\n', r.stdout)
        for line in (r'P0\s+= 7d', r'P1\s+= 14d', r'P2\s+= 30d', r'P3\s+= 60d', r'P4\s+= none',
                     r'corrective\.P4\s+= 90d'):
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
