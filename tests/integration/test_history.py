"""History people write: the reasons a change needs, progress notes, the history of
incidents, and who did it (a token's person).

Each test talks to a real closeloopd (harness.Service) and checks the answer, the rows
behind it and what the CLI prints.
"""
import datetime
import unittest

from test_api import API, ApiCase, uniq, ts


class HistoryCase(ApiCase):
    """Fixtures: one incident, one owner."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        mk = lambda path, body: cls.svc.request('POST', API + path, body=body)
        cls.owner = uniq('own')
        assert mk('/people', {'handle': cls.owner, 'name': 'Owner',
                              'email': cls.owner + '@example.com'})[0] == 201
        cls.inc = 'HIS-%s' % uniq('')
        assert mk('/incidents', {'key': cls.inc, 'title': 'history lives here'})[0] == 201

    def action(self, aid):
        return self.get('%s/actions/%d' % (API, aid))

    def fresh(self, **kw):
        kw.setdefault('owner', self.owner)
        return self.mk_action(self.inc, **kw)

    def n_events(self, aid):
        return int(self.q1("SELECT count(*) FROM events WHERE action_id = :'p1'", aid))

    def cli_ok(self, *args, **kw):
        p = self.svc.cli(*args, **kw)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout


class ReasonTest(HistoryCase):

    def test_block_and_drop_refuse_without_reason(self):
        for verb in ('block', 'drop'):
            with self.subTest(verb=verb):
                a = self.fresh()
                n = self.n_events(a['id'])
                for body in (None, {}, {'reason': '   '}):
                    err = self.error('POST', '%s/actions/%d/%s' % (API, a['id'], verb), body,
                                     status=422, code='validation', field='reason')
                    self.assertIn('reason', err['message'])
                self.assertEqual(self.action(a['id']), a, 'nothing changed')
                self.assertEqual(self.n_events(a['id']), n, 'no event written')

    def test_block_records_the_reason_with_the_change(self):
        a = self.fresh()
        b, _ = self.call('POST', '%s/actions/%d/block' % (API, a['id']),
                         {'reason': '  waiting for vendor  '}, token='write')
        self.assertEqual(b['status'], 'blocked')
        self.assertEqual(b['version'], 2)
        last = self.history(a['id'])[-2:]
        self.assertEqual([(e['field'], e['old'], e['new']) for e in last],
                         [('status', 'open', 'blocked'), ('reason', None, 'waiting for vendor')])
        self.assertEqual(last[0]['at'], last[1]['at'], 'one transaction')
        writer = self.token_name('write')
        self.assertEqual({(e['source'], e['actor']) for e in last}, {('api', writer)})

    def test_drop_with_reason_and_the_version(self):
        a = self.fresh()
        self.error('POST', '%s/actions/%d/drop' % (API, a['id']),
                   {'reason': 'duplicate', 'version': 7}, status=409, code='version_conflict',
                   field='version')
        d, _ = self.call('POST', '%s/actions/%d/drop' % (API, a['id']),
                         {'reason': 'duplicate of another', 'version': 1})
        self.assertEqual(d['status'], 'wont_do')
        self.assertEqual(self.history(a['id'])[-1]['new'], 'duplicate of another')

    def test_reason_length_counts_characters(self):
        a = self.fresh()
        err = self.error('POST', '%s/actions/%d/block' % (API, a['id']), {'reason': '\u00e9' * 501},
                         status=422, code='validation', field='reason')
        self.assertIn('500', err['message'])
        self.call('POST', '%s/actions/%d/block' % (API, a['id']), {'reason': '\u00e9' * 500})
        self.assertEqual(self.history(a['id'])[-1]['new'], '\u00e9' * 500)

    def test_other_verbs_take_no_reason(self):
        a = self.fresh()
        self.error('POST', '%s/actions/%d/start' % (API, a['id']), {'reason': 'x'}, status=422,
                   code='validation', field='reason')
        self.call('POST', '%s/actions/%d/start' % (API, a['id']))
        self.error('POST', API + '/actions', {'incident': self.inc, 'kind': 'corrective',
                                             'title': 't', 'reason': 'x'},
                   status=422, code='validation', field='reason')

    def test_patch_to_blocked_or_wont_do_needs_a_reason(self):
        a = self.fresh()
        path = '%s/actions/%d' % (API, a['id'])
        self.error('PATCH', path, {'status': 'blocked'}, status=422, code='validation',
                   field='reason')
        self.error('PATCH', path, {'status': 'wont_do'}, status=422, code='validation',
                   field='reason')
        self.assertEqual(self.action(a['id']), a)
        p, _ = self.call('PATCH', path, {'status': 'blocked', 'reason': 'on hold'})
        self.assertEqual(p['status'], 'blocked')
        self.assertEqual(self.history(a['id'])[-1]['new'], 'on hold')

    def test_due_date_later_needs_a_reason(self):
        a = self.fresh()
        path = '%s/actions/%d' % (API, a['id'])
        self.call('PATCH', path, {'due_on': '2031-03-01'})  # a first due date: no reason
        self.call('PATCH', path, {'due_on': '2031-02-01'})  # earlier: no reason
        n = self.n_events(a['id'])
        for later in ('2031-02-02', None):
            err = self.error('PATCH', path, {'due_on': later}, status=422, code='validation',
                             field='reason')
            self.assertIn('due date', err['message'])
        self.assertEqual(self.action(a['id'])['due_on'], '2031-02-01')
        self.assertEqual(self.n_events(a['id']), n)
        p, _ = self.call('PATCH', path, {'due_on': '2031-04-01', 'reason': 'vendor slipped'})
        self.assertEqual(p['due_on'], '2031-04-01')
        last = self.history(a['id'])[-2:]
        self.assertEqual([(e['field'], e['old'], e['new']) for e in last],
                         [('due_on', '2031-02-01', '2031-04-01'), ('reason', None, 'vendor slipped')])
        # a reason with a change that changes nothing leaves no event
        self.call('PATCH', path, {'due_on': '2031-04-01', 'reason': 'again'})
        self.assertEqual(self.history(a['id'])[-1]['new'], 'vendor slipped')

    def test_tracker_changes_need_no_reason(self):
        a = self.fresh(due_on='2031-01-01')
        # what the sync calls: cl_action_apply through its own functions, source github
        self.svc.sql("SELECT cl_action_change_why(:'p1', NULL, 'block', NULL, 'github', 'gh', NULL)",
                     a['id'])
        self.svc.sql("SELECT cl_action_change_why(:'p1', NULL, NULL, '{\"due_on\": \"2031-06-01\"}',"
                     " 'jira', 'jr', NULL)", a['id'])
        b = self.action(a['id'])
        self.assertEqual((b['status'], b['due_on']), ('blocked', '2031-06-01'))
        self.assertNotIn('reason', [e['field'] for e in self.history(a['id'])])

    def test_cli_block_drop_and_show(self):
        a = self.fresh(due_on='2031-05-01')
        aid = str(a['id'])
        p = self.svc.cli('action', 'block', aid)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn('--reason', p.stderr)
        self.assertEqual(self.action(a['id'])['status'], 'open')
        self.cli_ok('action', 'block', aid, '--reason', 'waiting for vendor')
        out = self.cli_ok('action', 'show', aid, env={'TZ': 'UTC'})
        at = ts(self.history(a['id'])[-1]['at']).astimezone(datetime.timezone.utc)
        self.assertRegex(out, r'\nblocked since %s UTC \(\d+s ago\): waiting for vendor\n'
                         % at.strftime('%Y-%m-%d %H:%M'))
        hist = self.cli_ok('action', 'history', aid)
        self.assertRegex(hist, r'reason\s+-\s+waiting for vendor')
        p = self.svc.cli('action', 'edit', aid, '--due', '2031-06-01')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('(--reason)', p.stderr)
        self.cli_ok('action', 'edit', aid, '--due', '2031-06-01', '--reason', 'audit moved')
        out = self.cli_ok('action', 'show', aid)
        self.assertIn('due moved from 2031-05-01 to 2031-06-01 on ', out)
        self.assertIn(': audit moved', out)
        self.cli_ok('action', 'drop', aid, '--reason', 'superseded')
        out = self.cli_ok('action', 'show', aid)
        self.assertIn(': superseded', out)
        self.assertIn('dropped on ', out)
        self.assertNotIn('blocked since', out)


class NoteTest(HistoryCase):

    def note(self, aid, text, expect=201, **kw):
        return self.call('POST', '%s/actions/%d/notes' % (API, aid), {'text': text},
                         expect=expect, **kw)[0]

    def test_note_is_an_event_and_changes_nothing_else(self):
        a = self.fresh()
        n = self.note(a['id'], '  Called the vendor; they answer Monday.\n', token='write',
                      headers={'X-Closeloop-Source': 'cli'})
        writer = self.token_name('write')
        self.assertEqual((n['action'], n['field'], n['old'], n['new'], n['source'], n['actor']),
                         (a['id'], 'note', None, 'Called the vendor; they answer Monday.',
                          'cli', writer))
        ts(n['at'])
        self.assertEqual(self.history(a['id'])[-1], n)
        self.assertEqual(self.action(a['id']), a, 'no new version, no new updated_at')
        row = self.svc.sql("SELECT field, new, actor FROM events WHERE id = :'p1'", n['id'])
        self.assertEqual(row, [['note', 'Called the vendor; they answer Monday.', writer]])

    def test_note_is_validated(self):
        a = self.fresh()
        path = '%s/actions/%d/notes' % (API, a['id'])
        n = self.n_events(a['id'])
        for body in ({}, {'text': ''}, {'text': ' \n '}, {'text': 7}, {'text': None},
                     {'text': 'x', 'extra': 1}, {'text': '\u00e9' * 4001}):
            with self.subTest(body=body):
                err = self.error('POST', path, body, status=422, code='validation',
                                 field='extra' if 'extra' in body else 'text')
                self.assertTrue(err['message'])
        self.assertEqual(self.n_events(a['id']), n)
        self.note(a['id'], '\u00e9' * 4000)
        self.error('POST', API + '/actions/987654321/notes', {'text': 'x'}, status=404,
                   code='not_found')
        self.error('POST', path, {'text': 'x'}, status=403, code='forbidden', token='read')

    def test_cli_note_and_show(self):
        a = self.fresh()
        aid = str(a['id'])
        out = self.cli_ok('action', 'note', aid, 'first note')
        self.assertIn('first note', out)
        self.cli_ok('action', 'note', aid, '-', input='from stdin\nsecond line\n')
        for i in range(3):
            self.cli_ok('action', 'note', aid, 'later %d' % i)
        notes = [e for e in self.history(a['id']) if e['field'] == 'note']
        self.assertEqual([e['new'] for e in notes],
                         ['first note', 'from stdin\nsecond line', 'later 0', 'later 1',
                          'later 2'])
        show = self.cli_ok('action', 'show', aid, env={'TZ': 'UTC'})
        self.assertIn('notes (latest 3 of 5; all in `action history`):', show)
        admin = self.token_name('admin')
        for e in notes[2:]:
            when = ts(e['at']).astimezone(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M')
            self.assertRegex(show, r'\n  %s UTC \(\d+s ago\) %s: %s\n' % (when, admin, e['new']))
        self.assertNotIn('first note', show)
        hist = self.cli_ok('action', 'history', aid)
        self.assertRegex(hist, r'note\s+-\s+first note')
        p = self.svc.cli('action', 'note', aid, '   ')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('TEXT', p.stderr)
        self.assertEqual(len([e for e in self.history(a['id']) if e['field'] == 'note']), 5)


class IncidentHistoryTest(HistoryCase):

    def ihist(self, key, token='admin'):
        items, _ = self.walk('%s/incidents/%s/history' % (API, key), 500)
        return items

    def test_create_and_edits_are_recorded_field_by_field(self):
        fac = self.mk_person()['handle']
        key = 'IH-%s' % uniq('')
        self.call('POST', API + '/incidents',
                  {'key': key.lower(), 'title': 'DB down', 'severity': 'SEV2',
                   'started_at': '2026-01-05T10:00:00Z', 'facilitator': fac},
                  expect=201, token='write', headers={'X-Closeloop-Source': 'cli'})
        writer, admin = self.token_name('write'), self.token_name('admin')
        got = [(e['field'], e['old'], e['new'], e['source'], e['actor']) for e in self.ihist(key)]
        self.assertEqual(got, [('created', None, 'DB down', 'cli', writer),
                               ('severity', None, 'SEV2', 'cli', writer),
                               ('started_at', None, '2026-01-05T10:00:00+00:00', 'cli', writer),
                               ('facilitator', None, fac, 'cli', writer)])
        self.call('PATCH', '%s/incidents/%s' % (API, key),
                  {'title': 'DB down for an hour', 'severity': 'SEV1', 'facilitator': None,
                   'resolved_at': '2026-01-05T11:00:00Z', 'version': 1})
        hist = self.ihist(key)
        self.assertEqual([(e['field'], e['old'], e['new'], e['source'], e['actor'])
                          for e in hist[4:]],
                         [('title', 'DB down', 'DB down for an hour', 'api', admin),
                          ('severity', 'SEV2', 'SEV1', 'api', admin),
                          ('resolved_at', None, '2026-01-05T11:00:00+00:00', 'api', admin),
                          ('facilitator', fac, None, 'api', admin)])
        self.assertEqual(len({e['at'] for e in hist[4:]}), 1, 'one transaction')
        for e in hist:
            self.assertEqual(set(e), {'id', 'incident', 'at', 'source', 'actor', 'field', 'old',
                                      'new'})
            self.assertEqual(e['incident'], key)
            ts(e['at'])
        rows = self.svc.sql("SELECT e.field FROM incident_events e JOIN incidents i"
                            " ON i.id = e.incident_id WHERE i.key = :'p1' ORDER BY e.id", key)
        self.assertEqual([r[0] for r in rows], [e['field'] for e in hist])

    def test_refused_or_empty_changes_record_nothing(self):
        key = self.mk_incident(started_at='2026-01-05T10:00:00Z')['key']
        n = len(self.ihist(key))
        path = '%s/incidents/%s' % (API, key)
        self.error('PATCH', path, {'title': 'x', 'version': 9}, status=409,
                   code='version_conflict', field='version')
        self.error('PATCH', path, {'title': 'y', 'resolved_at': '2026-01-01T00:00:00Z'},
                   status=422, code='validation', field='resolved_at')
        self.call('PATCH', path, {'title': 'incident'})  # the same title: nothing changes
        self.assertEqual(len(self.ihist(key)), n)
        self.error('GET', API + '/incidents/NOPE-1/history', status=404, code='not_found')
        with self.assertRaises(RuntimeError):
            self.svc.sql("UPDATE incident_events SET new = 'x'")
        with self.assertRaises(RuntimeError):
            self.svc.sql('DELETE FROM incident_events')

    def test_keyset_pages(self):
        key = self.mk_incident()['key']
        for i in range(6):
            self.call('PATCH', '%s/incidents/%s' % (API, key), {'title': 'title %d' % i})
        full = self.get('%s/incidents/%s/history' % (API, key))
        self.assertIsNone(full['next_cursor'])
        items, pages = self.walk('%s/incidents/%s/history' % (API, key.lower()), 2)
        self.assertEqual(pages, 4)
        self.assertEqual(items, full['items'])
        self.assertEqual([e['new'] for e in items],
                         ['incident'] + ['title %d' % i for i in range(6)])
        ids = [e['id'] for e in items]
        self.assertEqual(ids, sorted(set(ids)))
        self.error('GET', '%s/incidents/%s/history?cursor=x' % (API, key), status=400,
                   code='bad_request', field='cursor')
        self.error('GET', '%s/incidents/%s/history?limit=0' % (API, key), status=400,
                   code='bad_request', field='limit')
        self.assertEqual(self.get('%s/incidents/%s/history' % (API, key), token='read'), full)

    def test_cli_incident_history(self):
        key = 'IC-%s' % uniq('')
        self.cli_ok('incident', 'add', key, '--title', 'Queue stuck', '--severity', 'SEV3')
        self.cli_ok('incident', 'edit', key, '--severity', 'SEV2')
        out = self.cli_ok('incident', 'history', key.lower())
        admin = self.token_name('admin')
        self.assertRegex(out, r'cli\s+%s\s+created\s+-\s+Queue stuck' % admin)
        self.assertRegex(out, r'cli\s+%s\s+severity\s+SEV3\s+SEV2' % admin)
        js = self.get('%s/incidents/%s/history' % (API, key))['items']
        self.assertEqual([(e['field'], e['source']) for e in js],
                         [('created', 'cli'), ('severity', 'cli'), ('severity', 'cli')])


class IdentityTest(HistoryCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.me = uniq('kim')
        st = cls.svc.request('POST', API + '/people',
                             body={'handle': cls.me, 'name': 'Kim', 'email': 'kim@example.com'})[0]
        assert st == 201, st
        cls.tok_name = uniq('kimtok')
        cls.tok = cls.svc._admin('token', 'create', cls.tok_name, '--scope', 'write',
                                 '--person', cls.me, secret_stdout=True).strip()

    def test_token_create_checks_the_person_and_list_shows_it(self):
        with self.assertRaises(RuntimeError) as cm:
            self.svc._admin('token', 'create', '--name', uniq('bad'), '--scope', 'read',
                            '--person', 'nobody-here')
        self.assertIn('nobody has the handle "nobody-here"', str(cm.exception))
        rows = [ln.split() for ln in self.svc._admin('token', 'list').splitlines()]
        self.assertEqual(rows[0][:4], ['ID', 'NAME', 'SCOPE', 'PERSON'])
        mine = [r for r in rows if r[1] == self.tok_name]
        self.assertEqual([r[2:4] for r in mine], [['write', self.me]])
        self.assertIn(['write', '-'], [r[2:4] for r in rows if r[1] == 'wr'])
        self.assertEqual(str(self.q1("SELECT p.handle FROM api_tokens t JOIN people p"
                                     " ON p.id = t.person_id WHERE t.name = :'p1'",
                                     self.tok_name)), self.me)

    def test_events_name_the_person(self):
        a = self.call('POST', API + '/actions', {'incident': self.inc, 'kind': 'corrective',
                                                 'title': 'as kim', 'owner': self.owner},
                      expect=201, token=self.tok)[0]
        self.call('POST', '%s/actions/%d/block' % (API, a['id']), {'reason': 'r'}, token=self.tok)
        self.call('POST', '%s/actions/%d/notes' % (API, a['id']), {'text': 'n'}, expect=201,
                  token=self.tok)
        self.assertEqual({e['actor'] for e in self.history(a['id'])}, {self.me})
        key = 'ID-%s' % uniq('')
        self.call('POST', API + '/incidents', {'key': key, 'title': 't'}, expect=201,
                  token=self.tok)
        self.call('PATCH', '%s/incidents/%s' % (API, key), {'severity': 'SEV4'}, token=self.tok)
        hist = self.get('%s/incidents/%s/history' % (API, key))['items']
        self.assertEqual([(e['field'], e['actor']) for e in hist],
                         [('created', self.me), ('severity', self.me)])
        # the token without a person is still named by its name
        self.call('POST', '%s/actions/%d/notes' % (API, a['id']), {'text': 'm'}, expect=201,
                  token='write')
        self.assertEqual(self.history(a['id'])[-1]['actor'], self.token_name('write'))

    def test_me_is_the_tokens_person(self):
        mine = self.fresh(owner=self.me, due_on='2020-01-01')
        other = self.fresh(due_on='2020-01-01')
        for path in ('/actions?owner=me', '/reports/overdue?owner=me'):
            got = self.get(API + path, token=self.tok)['items']
            self.assertIn(mine['id'], [a['id'] for a in got], path)
            self.assertEqual({a['owner'] for a in got}, {self.me}, path)
        p, _ = self.call('POST', '%s/actions/%d/assign' % (API, other['id']), {'owner': 'me'},
                         token=self.tok)
        self.assertEqual(p['owner'], self.me)
        p, _ = self.call('PATCH', '%s/actions/%d' % (API, other['id']), {'owner': self.owner},
                         token=self.tok)
        self.assertEqual(p['owner'], self.owner)
        figs = [self.get(API + '/figures?owner=' + who, token=tok)['items']
                for who, tok in (('me', self.tok), (self.me, 'admin'))]
        self.assertEqual(figs[0], figs[1])
        self.assertTrue(figs[0])
        for method, path, body in (('GET', API + '/actions?owner=me', None),
                                   ('GET', API + '/figures?owner=me', None),
                                   ('GET', API + '/reports/overdue?owner=me', None),
                                   ('POST', '%s/actions/%d/assign' % (API, other['id']),
                                    {'owner': 'me'}),
                                   ('PATCH', '%s/actions/%d' % (API, other['id']),
                                    {'owner': 'me'}),
                                   ('POST', API + '/actions',
                                    {'incident': self.inc, 'kind': 'corrective', 'title': 't',
                                     'owner': 'me'})):
            with self.subTest(method=method, path=path):
                err = self.error(method, path, body, status=422, code='validation',
                                 field='owner')
                self.assertIn('--person', err['message'])
        self.assertEqual(self.action(other['id'])['owner'], self.owner)

    def test_cli_me(self):
        a = self.fresh(owner=None)
        self.cli_ok('action', 'assign', a['id'], 'me', token=self.tok)
        self.assertEqual(self.action(a['id'])['owner'], self.me)
        out = self.cli_ok('action', 'list', '--owner', 'me', token=self.tok)
        self.assertIn(a['title'], out)
        p = self.svc.cli('action', 'list', '--owner', 'me')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('--person HANDLE', p.stderr)
        self.assertIn('owner "me" needs a token that belongs to a person', p.stderr)

    def test_an_inactive_person_keeps_the_history(self):
        handle = uniq('lea')
        self.mk_person(handle)
        tok = self.svc._admin('token', 'create', '--name', uniq('leatok'), '--scope', 'write',
                              '--person', handle, secret_stdout=True).strip()
        a = self.fresh()
        self.call('POST', '%s/actions/%d/notes' % (API, a['id']), {'text': 'before'}, expect=201,
                  token=tok)
        self.call('PATCH', '%s/people/%s' % (API, handle), {'active': False})
        self.assertEqual([(e['new'], e['actor']) for e in self.history(a['id'])
                          if e['field'] == 'note'], [('before', handle)])
        self.assertIn('%s (inactive)' % handle, self.svc._admin('token', 'list'))
        with self.assertRaises(RuntimeError) as cm:
            self.svc._admin('token', 'create', '--name', uniq('x'), '--scope', 'read',
                            '--person', handle)
        self.assertIn('inactive', str(cm.exception))


if __name__ == '__main__':
    unittest.main()
