"""The /api/v1 contract of README.md, route by route.

Every test talks to a real closeloopd (harness.Service) backed by a fresh database, and
checks the JSON it answers field by field, the database behind it (svc.sql) and the
events the change left behind.
"""
import datetime
import json
import itertools
import math
import os
import re
import sys
import threading
import time
import unittest

from harness import ServiceTestCase

API = '/api/v1'
TS_RE = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$')

TEAM_KEYS = {'id', 'name', 'manager', 'sync', 'github_repo', 'jira_project', 'created_at',
             'updated_at'}
PERSON_KEYS = {'id', 'handle', 'name', 'email', 'timezone', 'team', 'active', 'github_login', 'review_hour',
               'jira_account_id', 'jira_name', 'digest_cadence', 'created_at', 'updated_at'}
INCIDENT_KEYS = {'id', 'key', 'title', 'severity', 'started_at', 'resolved_at',
                 'postmortem_url', 'facilitator', 'version', 'created_at', 'updated_at',
                 'actions', 'sync', 'github_repo', 'jira_project', 'archived_at'}
ACTION_KEYS = {'id', 'incident', 'kind', 'title', 'description', 'owner', 'owner_active',
               'status', 'priority', 'due_on', 'overdue', 'version', 'created_at',
               'updated_at', 'closed_at', 'sync', 'archived_at', 'verified', 'verified_at',
               'verified_by', 'evidence', 'follow_up_of'}
EVENT_KEYS = {'id', 'action', 'at', 'source', 'actor', 'field', 'old', 'new'}
COUNT_KEYS = {'total', 'open', 'in_progress', 'blocked', 'done', 'wont_do', 'overdue', 'unowned'}

OPEN_STATES = ('open', 'in_progress', 'blocked')
# verb -> (states it is allowed from, state it leads to), from the README.
MACHINE = {
    'start': ({'open', 'blocked'}, 'in_progress'),
    'block': ({'open', 'in_progress'}, 'blocked'),
    'done': ({'open', 'in_progress', 'blocked'}, 'done'),
    'drop': ({'open', 'in_progress', 'blocked'}, 'wont_do'),
    'reopen': ({'done', 'wont_do'}, 'open'),
}
# How to bring a fresh (open) action into each state.
REACH = {'open': [], 'in_progress': ['start'], 'blocked': ['block'], 'done': ['done'],
         'wont_do': ['drop']}

_seq = itertools.count(1)


def why(verb):
    """The body of a status verb: block and drop need a reason (test_history tests the rule)."""
    return {'reason': 'test: %s' % verb} if verb in ('block', 'drop') else None


def uniq(prefix):
    """A name no other test uses (lower case, valid as a handle or team name)."""
    return '%s%d' % (prefix, next(_seq))


def ts(s):
    """Parses an RFC 3339 time as an aware datetime (fails the test if it is not one)."""
    if not isinstance(s, str) or not TS_RE.match(s):
        raise AssertionError('not an RFC 3339 time with offset: %r' % (s,))
    return datetime.datetime.fromisoformat(s.replace('Z', '+00:00'))


def header(headers, name):
    """A response header (the harness gives a dict with lower-case names)."""
    return headers.get(name.lower())


class ApiCase(ServiceTestCase):
    """Request helpers shared by the API test classes."""

    def call(self, method, path, body=None, expect=200, token='admin', headers=None):
        st, hd, js, raw = self.svc.request(method, path, body=body, token=token,
                                           headers=headers)
        self.assertEqual(st, expect, '%s %s -> %s %r' % (method, path, st, raw[:500]))
        return js, hd

    def get(self, path, expect=200, token='admin'):
        return self.call('GET', path, expect=expect, token=token)[0]

    def error(self, method, path, body=None, status=409, code=None, field=None,
              token='admin', headers=None):
        js, _ = self.call(method, path, body, expect=status, token=token, headers=headers)
        self.assertEqual(set(js), {'error'}, js)
        err = js['error']
        self.assertEqual(err['code'], code, js)
        self.assertIsInstance(err.get('message'), str)
        self.assertTrue(err['message'], js)
        if field is None:
            self.assertNotIn('field', err, js)
        else:
            self.assertEqual(err.get('field'), field, js)
        return err

    def q1(self, query, *params):
        rows = self.svc.sql(query, *params)
        self.assertTrue(rows, query)
        return rows[0][0]

    def token_name(self, scope):
        return str(self.q1("SELECT name FROM api_tokens WHERE scope = :'p1' AND revoked_at IS NULL"
                           " ORDER BY id LIMIT 1", scope))

    def today(self):
        # closeloopd's sessions run in UTC: "overdue" is relative to the UTC date
        return datetime.date.fromisoformat(
            str(self.q1("SELECT (now() AT TIME ZONE 'UTC')::date::text")))

    # -- fixtures made through the API --

    def mk_team(self, name=None, **kw):
        body = {'name': name or uniq('team')}
        body.update(kw)
        return self.call('POST', API + '/teams', body, expect=201)[0]

    def mk_person(self, handle=None, **kw):
        handle = handle or uniq('p')
        body = {'handle': handle, 'name': 'Person ' + handle, 'email': handle + '@example.com'}
        body.update(kw)
        return self.call('POST', API + '/people', body, expect=201)[0]

    def mk_incident(self, key=None, **kw):
        body = {'key': key or 'INC-%d' % next(_seq), 'title': 'incident'}
        body.update(kw)
        return self.call('POST', API + '/incidents', body, expect=201)[0]

    def mk_action(self, incident, **kw):
        """An action with an owner (work in progress needs one) unless owner= says otherwise,
        undated (an explicit null: not the due policy's date) unless due_on= says otherwise;
        the action as GET shows it (the create's "warnings" are tested where they matter)."""
        body = {'incident': incident, 'kind': 'corrective', 'title': uniq('action '),
                'due_on': None}
        if 'owner' not in kw:
            if getattr(type(self), '_owner', None) is None:
                type(self)._owner = self.mk_person()['handle']
            body['owner'] = type(self)._owner
        body.update(kw)
        js = self.call('POST', API + '/actions', body, expect=201)[0]
        js.pop('warnings', None)
        return js

    def history(self, aid):
        js = self.get('%s/actions/%d/history' % (API, aid))
        self.assertEqual(set(js), {'items'})
        return js['items']

    def walk(self, path, limit):
        """Follows next_cursor to the end; returns (items, pages)."""
        sep = '&' if '?' in path else '?'
        items, pages, cursor = [], 0, None
        while True:
            url = '%s%slimit=%d' % (path, sep, limit)
            if cursor is not None:
                url += '&cursor=' + cursor
            js = self.get(url)
            self.assertEqual(set(js), {'items', 'next_cursor'}, js)
            pages += 1
            self.assertLessEqual(len(js['items']), limit)
            items.extend(js['items'])
            cursor = js['next_cursor']
            if cursor is None:
                return items, pages
            self.assertEqual(len(js['items']), limit, 'a page before the last one is full')
            self.assertIsInstance(cursor, str)
            self.assertLess(pages, 1000, 'pagination does not end')


class TeamPeopleIncidentTest(ApiCase):

    def test_team_create_get_patch(self):
        mgr = self.mk_person()['handle']
        name = uniq('squad')
        js, _ = self.call('POST', API + '/teams', {'name': name, 'manager': mgr}, expect=201)
        self.assertEqual(set(js), TEAM_KEYS)
        self.assertIsInstance(js['id'], int)
        self.assertEqual(js['name'], name)
        self.assertEqual(js['manager'], mgr)
        self.assertEqual(ts(js['created_at']), ts(js['updated_at']))
        self.assertEqual(int(self.q1("SELECT count(*) FROM teams WHERE name = :'p1'", name)), 1)

        self.assertEqual(self.get('%s/teams/%s' % (API, name)), js)

        other = self.mk_person()['handle']
        new = uniq('renamed')
        p, _ = self.call('PATCH', '%s/teams/%s' % (API, name), {'name': new, 'manager': other})
        self.assertEqual(p['id'], js['id'])
        self.assertEqual(p['name'], new)
        self.assertEqual(p['manager'], other)
        self.assertEqual(p['created_at'], js['created_at'])
        self.assertGreater(ts(p['updated_at']), ts(js['updated_at']))
        self.error('GET', '%s/teams/%s' % (API, name), status=404, code='not_found')
        self.assertEqual(self.get('%s/teams/%s' % (API, new)), p)

        # manager can be cleared; only the fields sent change
        p2, _ = self.call('PATCH', '%s/teams/%s' % (API, new), {'manager': None})
        self.assertIsNone(p2['manager'])
        self.assertEqual(p2['name'], new)
        self.assertEqual(str(self.q1("SELECT coalesce(manager_id::text, :'p2') FROM teams"
                                     " WHERE name = :'p1'", new, 'none')), 'none')

    def test_team_list_pages_by_id(self):
        made = [self.mk_team()['name'] for _ in range(5)]
        items, pages = self.walk(API + '/teams', 2)
        names = [t['name'] for t in items]
        self.assertEqual(len(names), len(set(names)), 'no team twice')
        want = [str(r[0]) for r in self.svc.sql('SELECT name FROM teams ORDER BY id')]
        self.assertEqual(names, want)
        self.assertEqual(pages, max(1, math.ceil(len(want) / 2)))
        for n in made:
            self.assertIn(n, names)
        for t in items:
            self.assertEqual(set(t), TEAM_KEYS)
        ids = [t['id'] for t in items]
        self.assertEqual(ids, sorted(ids))

    def test_person_create_defaults(self):
        h = uniq('dflt')
        js, _ = self.call('POST', API + '/people',
                          {'handle': h, 'name': 'Dee Fault', 'email': h + '@example.org'},
                          expect=201)
        self.assertEqual(set(js), PERSON_KEYS)
        self.assertIsInstance(js['id'], int)
        self.assertEqual(js['handle'], h)
        self.assertEqual(js['name'], 'Dee Fault')
        self.assertEqual(js['email'], h + '@example.org')
        self.assertEqual(js['timezone'], 'UTC')
        self.assertIsNone(js['team'])
        self.assertIs(js['active'], True)
        self.assertIsNone(js['github_login'])
        self.assertIsNone(js['jira_account_id'])
        self.assertIsNone(js['jira_name'])
        self.assertEqual(ts(js['created_at']), ts(js['updated_at']))
        self.assertEqual(self.get('%s/people/%s' % (API, h)), js)

    def test_person_create_full_and_patch_every_field(self):
        t1, t2 = self.mk_team()['name'], self.mk_team()['name']
        h = uniq('full')
        body = {'handle': h, 'name': 'Fu Ll', 'email': 'fl@example.net',
                'timezone': 'Europe/Berlin', 'team': t1, 'active': True,
                'github_login': 'Gh-' + h, 'jira_account_id': 'acc-' + h,
                'jira_name': 'Jira ' + h}
        js, _ = self.call('POST', API + '/people', body, expect=201)
        for k, v in body.items():
            self.assertEqual(js[k], v, k)
        self.assertEqual(self.get('%s/people/%s' % (API, h)), js)

        change = {'name': 'New Name', 'email': 'new@example.com', 'timezone': 'Asia/Tokyo',
                  'team': t2, 'active': False, 'github_login': 'other-' + h,
                  'jira_account_id': 'acc2-' + h, 'jira_name': 'Renamed'}
        p, _ = self.call('PATCH', '%s/people/%s' % (API, h), change)
        self.assertEqual(set(p), PERSON_KEYS)
        for k, v in change.items():
            self.assertEqual(p[k], v, k)
        self.assertEqual(p['handle'], h)
        self.assertEqual(p['id'], js['id'])
        self.assertEqual(p['created_at'], js['created_at'])
        self.assertGreater(ts(p['updated_at']), ts(js['updated_at']))
        self.assertEqual(self.get('%s/people/%s' % (API, h)), p)
        self.assertEqual(str(self.q1('SELECT timezone || active::text FROM people'
                                     " WHERE handle = :'p1'", h)), 'Asia/Tokyofalse')

        # nullable fields can be cleared, the rest stay
        p2, _ = self.call('PATCH', '%s/people/%s' % (API, h),
                          {'team': None, 'github_login': None, 'jira_account_id': None,
                           'jira_name': None})
        for k in ('team', 'github_login', 'jira_account_id', 'jira_name'):
            self.assertIsNone(p2[k], k)
        self.assertEqual(p2['name'], 'New Name')
        self.assertEqual(p2['timezone'], 'Asia/Tokyo')
        self.assertIs(p2['active'], False)

    def test_people_list_filters(self):
        ta, tb = self.mk_team()['name'], self.mk_team()['name']
        a1 = self.mk_person(team=ta)['handle']
        a2 = self.mk_person(team=ta, active=False)['handle']
        a3 = self.mk_person(team=ta)['handle']
        b1 = self.mk_person(team=tb, active=False)['handle']
        n1 = self.mk_person()['handle']

        def handles(query):
            items, _ = self.walk(API + '/people' + query, 1)
            for it in items:
                self.assertEqual(set(it), PERSON_KEYS)
            return [p['handle'] for p in items]

        self.assertEqual(handles('?team=' + ta), [a1, a2, a3])
        self.assertEqual(handles('?team=' + tb), [b1])
        self.assertEqual(handles('?team=%s&active=true' % ta), [a1, a3])
        self.assertEqual(handles('?team=%s&active=false' % ta), [a2])
        self.assertEqual(handles('?team=no-such-team'), [])
        inactive = handles('?active=false')
        want = [str(r[0]) for r in self.svc.sql(
            'SELECT handle FROM people WHERE NOT active ORDER BY id')]
        self.assertEqual(inactive, want)
        self.assertIn(a2, inactive)
        self.assertIn(b1, inactive)
        self.assertNotIn(n1, inactive)
        everyone = handles('')
        self.assertEqual(everyone, [str(r[0]) for r in self.svc.sql(
            'SELECT handle FROM people ORDER BY id')])

    def test_incident_create_minimal(self):
        key = 'MIN-%d' % next(_seq)
        js, _ = self.call('POST', API + '/incidents', {'key': key, 'title': 'Minimal'},
                          expect=201)
        self.assertEqual(set(js), INCIDENT_KEYS)
        self.assertIsInstance(js['id'], int)
        self.assertEqual(js['key'], key)
        self.assertEqual(js['title'], 'Minimal')
        for k in ('severity', 'started_at', 'resolved_at', 'postmortem_url', 'facilitator'):
            self.assertIsNone(js[k], k)
        self.assertEqual(js['version'], 1)
        self.assertEqual(ts(js['created_at']), ts(js['updated_at']))
        self.assertEqual(js['actions'], dict.fromkeys(COUNT_KEYS, 0))

    def test_incident_create_full_get_patch(self):
        fac = self.mk_person()['handle']
        fac2 = self.mk_person()['handle']
        key = 'FULL-%d' % next(_seq)
        body = {'key': key, 'title': 'Database fell over', 'severity': 'SEV2',
                'started_at': '2026-01-31T09:30:00+02:00',
                'resolved_at': '2026-01-31T11:00:00Z',
                'postmortem_url': 'https://wiki.example.com/pm/1', 'facilitator': fac}
        js, _ = self.call('POST', API + '/incidents', body, expect=201)
        self.assertEqual(js['key'], key)
        self.assertEqual(js['title'], body['title'])
        self.assertEqual(js['severity'], 'SEV2')
        self.assertEqual(ts(js['started_at']),
                         datetime.datetime(2026, 1, 31, 7, 30, tzinfo=datetime.timezone.utc))
        self.assertEqual(ts(js['resolved_at']),
                         datetime.datetime(2026, 1, 31, 11, 0, tzinfo=datetime.timezone.utc))
        self.assertEqual(js['postmortem_url'], body['postmortem_url'])
        self.assertEqual(js['facilitator'], fac)
        self.assertEqual(js['version'], 1)

        got, hd = self.call('GET', '%s/incidents/%s' % (API, key))
        self.assertEqual(got, js)
        self.assertEqual(header(hd, 'ETag'), '"1"')

        change = {'title': 'DB outage', 'severity': None, 'resolved_at': None,
                  'postmortem_url': 'http://pm.example.com/x', 'facilitator': fac2,
                  'started_at': '2026-01-30T00:00:00Z'}
        p, _ = self.call('PATCH', '%s/incidents/%s' % (API, key), change)
        self.assertEqual(set(p), INCIDENT_KEYS)
        self.assertEqual(p['title'], 'DB outage')
        self.assertIsNone(p['severity'])
        self.assertIsNone(p['resolved_at'])
        self.assertEqual(p['postmortem_url'], 'http://pm.example.com/x')
        self.assertEqual(p['facilitator'], fac2)
        self.assertEqual(ts(p['started_at']),
                         datetime.datetime(2026, 1, 30, tzinfo=datetime.timezone.utc))
        self.assertEqual(p['version'], 2)
        self.assertEqual(p['key'], key)
        self.assertEqual(p['created_at'], js['created_at'])
        self.assertGreater(ts(p['updated_at']), ts(js['updated_at']))
        got, hd = self.call('GET', '%s/incidents/%s' % (API, key))
        self.assertEqual(got, p)
        self.assertEqual(header(hd, 'ETag'), '"2"')

        # If-Match and body version, when current, are accepted and bump the version
        p3, _ = self.call('PATCH', '%s/incidents/%s' % (API, key), {'severity': 'SEV1'},
                          headers={'If-Match': '"2"'})
        self.assertEqual((p3['severity'], p3['version']), ('SEV1', 3))
        p4, _ = self.call('PATCH', '%s/incidents/%s' % (API, key),
                          {'severity': 'SEV5', 'version': 3})
        self.assertEqual((p4['severity'], p4['version']), ('SEV5', 4))
        self.assertEqual(int(self.q1("SELECT version FROM incidents WHERE key = :'p1'", key)), 4)

    def test_no_op_edits_change_nothing(self):
        """issue 9, defect 9: an edit that changes nothing keeps version and updated_at
        (as actions do), so it causes no needless version conflict."""
        fac = self.mk_person()['handle']
        key = 'NOOP-%d' % next(_seq)
        inc, _ = self.call('POST', API + '/incidents', {'key': key, 'title': 'Same',
                                                        'facilitator': fac}, expect=201)
        team = uniq('noop')
        tm, _ = self.call('POST', API + '/teams', {'name': team, 'manager': fac}, expect=201)
        person, _ = self.call('GET', API + '/people/' + fac)
        time.sleep(1.1)  # a real update would show a later updated_at
        for path, body, before in (
                ('/incidents/' + key, {'title': 'Same', 'facilitator': fac}, inc),
                ('/teams/' + team, {'manager': fac, 'name': team}, tm),
                ('/people/' + fac, {'name': person['name'], 'email': person['email']}, person)):
            with self.subTest(path=path):
                after, _ = self.call('PATCH', API + path, body)
                self.assertEqual(after.get('version'), before.get('version'))
                self.assertEqual(after['updated_at'], before['updated_at'])
        changed, _ = self.call('PATCH', API + '/incidents/' + key, {'title': 'Different'})
        self.assertEqual(changed['version'], inc['version'] + 1)
        self.assertGreater(ts(changed['updated_at']), ts(inc['updated_at']))

    def test_one_json_spacing_everywhere(self):
        """issue 9, defect 17: every view renders JSON the same way ("key": value, a, b)."""
        fac = self.mk_person()['handle']
        inc = self.mk_incident(facilitator=fac)
        act, _ = self.call('POST', API + '/actions', {'incident': inc['key'], 'kind': 'corrective',
                                                      'title': 'spacing : , "x"'}, expect=201)
        paths = ['/actions/%d' % act['id'], '/actions?limit=2', '/actions/%d/history' % act['id'],
                 '/incidents/' + inc['key'], '/incidents?limit=2', '/people/' + fac,
                 '/teams?limit=2', '/sync/status', '/actions/0']
        for path in paths:
            with self.subTest(path=path):
                st, _, js, raw = self.svc.request('GET', API + path)
                text = raw.decode()
                self.assertIsNotNone(js, text)
                outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # strings blanked
                self.assertNotIn(' :', outside, text[:200])
                self.assertNotRegex(outside, r':(?! )|,(?! )', text[:200])
                self.assertNotRegex(outside.rstrip('\n'), r'\s(?<!: )(?<!, )', text[:200])
        self.assertIn('spacing : , \\"x\\"', self.svc.request('GET', API + paths[0])[3].decode())

    def test_incident_keys_people_use(self):
        """issue 9, defect 2: year-based keys and any case, stored upper-case, found in any
        case (by GET, as an action's incident and as a filter)."""
        n = next(_seq)
        for typed, stored in (('INC-2026-%d' % n, 'INC-2026-%d' % n), ('inc-%d' % n, 'INC-%d' % n),
                              ('sec-2026-11-%d' % n, 'SEC-2026-11-%d' % n),
                              ('  Ops-%dB ' % n, 'OPS-%dB' % n)):
            with self.subTest(key=typed):
                js, _ = self.call('POST', API + '/incidents', {'key': typed, 'title': 't'},
                                  expect=201)
                self.assertEqual(js['key'], stored)
                self.assertEqual(self.get(API + '/incidents/' + stored.lower())['key'], stored)
                act = self.mk_action(stored.lower())
                self.assertEqual(act['incident'], stored)
                ids = [it['id'] for it in self.get(API + '/actions?incident=' + stored.lower())['items']]
                self.assertEqual(ids, [act['id']])
        p = self.svc.cli('incident', 'add', 'bad_key', '--title', 't')
        self.assertEqual(p.returncode, 1)
        self.assertIn('INC-117', p.stderr)  # the rule, with an example

    def test_cli_clears_optional_fields_with_none(self):
        """issue 9, defect 3: one way to clear any optional field from the CLI: none."""
        mgr = self.mk_person()['handle']
        team = uniq('clr')
        self.call('POST', API + '/teams', {'name': team, 'manager': mgr}, expect=201)
        who = self.mk_person(team=team, github_login='gh-' + mgr)['handle']
        key = 'CLR-%d' % next(_seq)
        self.call('POST', API + '/incidents', {'key': key, 'title': 't', 'facilitator': mgr,
                                               'postmortem_url': 'https://pm.example/1',
                                               'started_at': '2026-01-01T00:00:00Z'},
                  expect=201)
        act = self.mk_action(key, owner=who)
        for args in (('team', 'edit', team, '--manager', 'none'),
                     ('person', 'edit', who, '--team', 'none', '--github', 'none'),
                     ('incident', 'edit', key, '--facilitator', 'none', '--postmortem', 'none',
                      '--started', 'none'),
                     ('action', 'edit', str(act['id']), '--owner', 'none')):
            with self.subTest(args=args):
                p = self.svc.cli(*args)
                self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIsNone(self.get(API + '/teams/' + team)['manager'])
        person = self.get(API + '/people/' + who)
        self.assertEqual((person['team'], person['github_login']), (None, None))
        inc = self.get(API + '/incidents/' + key)
        self.assertEqual((inc['facilitator'], inc['postmortem_url'], inc['started_at']),
                         (None, None, None))
        self.assertIsNone(self.get(API + '/actions/%d' % act['id'])['owner'])
        # a required field has no "none": it is sent as the text it is
        p = self.svc.cli('team', 'edit', team, '--name', 'none')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.get(API + '/teams/none')['name'], 'none')

    def test_incident_list_status_filter(self):
        o1 = self.mk_incident()['key']
        r1 = self.mk_incident(started_at='2026-01-01T00:00:00Z',
                              resolved_at='2026-01-02T00:00:00Z')['key']
        o2 = self.mk_incident()['key']

        def keys(query):
            items, _ = self.walk(API + '/incidents' + query, 2)
            for it in items:
                self.assertEqual(set(it), INCIDENT_KEYS)
            return [i['key'] for i in items]

        open_ = keys('?status=open')
        resolved = keys('?status=resolved')
        every = keys('')
        self.assertEqual(open_, [str(r[0]) for r in self.svc.sql(
            'SELECT key FROM incidents WHERE resolved_at IS NULL ORDER BY id')])
        self.assertEqual(resolved, [str(r[0]) for r in self.svc.sql(
            'SELECT key FROM incidents WHERE resolved_at IS NOT NULL ORDER BY id')])
        self.assertEqual(every, [str(r[0]) for r in self.svc.sql(
            'SELECT key FROM incidents ORDER BY id')])
        self.assertIn(o1, open_)
        self.assertIn(o2, open_)
        self.assertNotIn(r1, open_)
        self.assertIn(r1, resolved)
        self.assertNotIn(o1, resolved)

    def test_incident_action_counts(self):
        key = self.mk_incident()['key']
        past = (self.today() - datetime.timedelta(days=3)).isoformat()
        ids = [self.mk_action(key, due_on=past)['id'] for _ in range(7)]
        ids.append(self.mk_action(key, owner=None)['id'])  # open, unowned, no due date
        gone = self.mk_person()['handle']
        ids.append(self.mk_action(key, owner=gone)['id'])  # open, owner leaves
        self.call('PATCH', '%s/people/%s' % (API, gone), {'active': False})
        for aid, verbs in zip(ids, [[], ['start'], ['block'], ['done'], ['drop'],
                                    ['done', 'reopen'], ['start', 'block']]):
            for v in verbs:
                self.call('POST', '%s/actions/%d/%s' % (API, aid, v), why(v))
        counts = self.get('%s/incidents/%s' % (API, key))['actions']
        self.assertEqual(counts, {'total': 9, 'open': 4, 'in_progress': 1, 'blocked': 2,
                                  'done': 1, 'wont_do': 1, 'overdue': 5, 'unowned': 2})
        # the CLI says it in one vocabulary (issue 9, defect 6)
        out = self.svc.cli('incident', 'show', key).stdout
        self.assertIn('7 open (5 overdue, 2 unowned, 1 in progress, 2 blocked) \u00b7 1 done '
                      '\u00b7 1 dropped', out)
        row = [ln for ln in self.svc.cli('incident', 'list').stdout.splitlines()
               if ln.startswith(key + ' ')][0]
        self.assertEqual(row.split()[4], '7', row)  # OPEN: the same 7


class ActionTest(ApiCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        mk = lambda path, body: cls.svc.request('POST', API + path, body=body)
        cls.team = uniq('ateam')
        assert mk('/teams', {'name': cls.team})[0] == 201
        cls.alice, cls.bob = uniq('alice'), uniq('bob')
        for h in (cls.alice, cls.bob):
            st = mk('/people', {'handle': h, 'name': h, 'email': h + '@example.com',
                                'team': cls.team})[0]
            assert st == 201, st
        cls.inc = 'ACT-%d' % next(_seq)
        assert mk('/incidents', {'key': cls.inc, 'title': 'actions live here'})[0] == 201

    def action(self, aid):
        js, hd = self.call('GET', '%s/actions/%d' % (API, aid))
        self.assertEqual(set(js), ACTION_KEYS)
        self.assertEqual(header(hd, 'ETag'), '"%d"' % js['version'])
        return js

    def n_events(self, aid):
        return int(self.q1("SELECT count(*) FROM events WHERE action_id = :'p1'", aid))

    def test_create_full(self):
        due = (self.today() + datetime.timedelta(days=10)).isoformat()
        body = {'incident': self.inc, 'kind': 'preventive', 'title': 'Add a canary',
                'description': '# Why\n\n- because\n\ttabbed', 'owner': self.alice,
                'due_on': due, 'priority': 'P0'}
        js, _ = self.call('POST', API + '/actions', body, expect=201)
        self.assertEqual(set(js), ACTION_KEYS | {'warnings'})
        self.assertEqual(js.pop('warnings'), [])  # an owner and a due date: nothing missing
        self.assertIsInstance(js['id'], int)
        for k, v in body.items():
            self.assertEqual(js[k], v, k)
        self.assertIs(js['owner_active'], True)
        self.assertEqual(js['status'], 'open')
        self.assertIs(js['overdue'], False)
        self.assertEqual(js['version'], 1)
        self.assertIsNone(js['closed_at'])
        self.assertEqual(ts(js['created_at']), ts(js['updated_at']))
        self.assertEqual(self.action(js['id']), js)
        row = self.svc.sql('SELECT kind, title, priority, due_on::text, status, version'
                           " FROM actions WHERE id = :'p1'", js['id'])[0]
        self.assertEqual([str(c) for c in row],
                         ['preventive', 'Add a canary', 'P0', due, 'open', '1'])

    def test_create_minimal_defaults(self):
        js, _ = self.call('POST', API + '/actions',
                          {'incident': self.inc, 'kind': 'corrective', 'title': 'Fix it'},
                          expect=201)
        self.assertEqual(js['incident'], self.inc)
        self.assertEqual(js['kind'], 'corrective')
        self.assertEqual(js['title'], 'Fix it')
        self.assertEqual(js['description'], '')
        self.assertIsNone(js['owner'])
        self.assertIn(js['owner_active'], (None, False))
        self.assertEqual(js['priority'], 'P2')
        # the due policy's default for P2: 30 days
        self.assertEqual(js['due_on'], (self.today() + datetime.timedelta(days=30)).isoformat())
        self.assertIs(js['overdue'], False)
        self.assertEqual(js['status'], 'open')
        self.assertEqual(js['version'], 1)
        self.assertIsNone(js['closed_at'])
        hist = self.history(js['id'])
        self.assertEqual([(e['field'], e['old'], e['new']) for e in hist],
                         [('created', None, 'Fix it'), ('due_on', None, js['due_on']),
                          ('reason', None, 'the due policy: 30 days for a P2 corrective action')])
        self.assertEqual(js['warnings'],
                         ['action %d has no owner: give it one person who answers for it'
                          % js['id']])

    def test_overdue_field(self):
        today = self.today()
        past = self.mk_action(self.inc, due_on=(today - datetime.timedelta(days=1)).isoformat())
        now = self.mk_action(self.inc, due_on=today.isoformat())
        self.assertIs(past['overdue'], True)
        self.assertIs(now['overdue'], False)
        done, _ = self.call('POST', '%s/actions/%d/done' % (API, past['id']))
        self.assertIs(done['overdue'], False, 'a closed action is never overdue')

    def test_patch_every_field_records_history(self):
        a = self.mk_action(self.inc, owner=self.alice, due_on='2030-01-01',
                           description='old text')
        before = self.n_events(a['id'])
        change = {'title': 'New title', 'description': 'new *text*', 'kind': 'preventive',
                  'owner': self.bob, 'due_on': '2029-12-03', 'priority': 'P1',
                  'status': 'in_progress'}
        p, _ = self.call('PATCH', '%s/actions/%d' % (API, a['id']), change, token='write',
                         headers={'X-Closeloop-Source': 'cli'})
        for k, v in change.items():
            self.assertEqual(p[k], v, k)
        self.assertEqual(p['version'], 2)
        self.assertEqual(p['incident'], self.inc)
        self.assertEqual(p['created_at'], a['created_at'])
        self.assertGreater(ts(p['updated_at']), ts(a['updated_at']))
        self.assertIsNone(p['closed_at'])
        self.assertEqual(self.action(a['id']), p)

        hist = self.history(a['id'])
        self.assertEqual(len(hist), before + 7)
        new = hist[before:]
        writer = self.token_name('write')
        for e in new:
            self.assertEqual(e['source'], 'cli', e)
            self.assertEqual(e['actor'], writer, e)
            self.assertEqual(e['action'], a['id'], e)
        got = {e['field']: (e['old'], e['new']) for e in new}
        self.assertEqual(got, {
            'title': (a['title'], 'New title'),
            'description': ('old text', 'new *text*'),
            'kind': ('corrective', 'preventive'),
            'owner': (self.alice, self.bob),
            'due_on': ('2030-01-01', '2029-12-03'),
            'priority': ('P2', 'P1'),
            'status': ('open', 'in_progress'),
        })
        self.assertEqual(self.n_events(a['id']), before + 7)

    def test_patch_only_sent_fields_and_clearing(self):
        a = self.mk_action(self.inc, owner=self.alice, due_on='2030-05-05',
                           description='keep me', priority='P3')
        p, _ = self.call('PATCH', '%s/actions/%d' % (API, a['id']), {'title': 'only title'})
        for k in ('description', 'owner', 'due_on', 'priority', 'kind', 'status'):
            self.assertEqual(p[k], a[k], k)
        self.assertEqual(p['title'], 'only title')
        p2, _ = self.call('PATCH', '%s/actions/%d' % (API, a['id']),
                          {'due_on': None, 'owner': None, 'description': None,
                           'reason': 'no date any more'})
        self.assertIsNone(p2['due_on'])
        self.assertIsNone(p2['owner'])
        self.assertEqual(p2['description'], '')
        self.assertEqual(p2['version'], 3)
        hist = self.history(a['id'])[-4:]
        self.assertEqual(sorted((e['field'], e['old'], e['new']) for e in hist),
                         [('description', 'keep me', ''), ('due_on', '2030-05-05', None),
                          ('owner', self.alice, None), ('reason', None, 'no date any more')])

    def test_patch_that_changes_nothing_records_nothing(self):
        a = self.mk_action(self.inc, owner=self.alice, priority='P1')
        before = self.n_events(a['id'])
        p, _ = self.call('PATCH', '%s/actions/%d' % (API, a['id']),
                         {'priority': 'P1', 'owner': self.alice, 'title': a['title']})
        self.assertEqual(p['priority'], 'P1')
        self.assertEqual(self.n_events(a['id']), before)

    def test_assign_and_unassign(self):
        a = self.mk_action(self.inc, owner=None)
        p, _ = self.call('POST', '%s/actions/%d/assign' % (API, a['id']), {'owner': self.bob},
                         token='write')
        self.assertEqual(p['owner'], self.bob)
        self.assertIs(p['owner_active'], True)
        self.assertEqual(p['version'], 2)
        self.assertEqual(p['status'], 'open')
        self.assertEqual(str(self.q1('SELECT p.handle FROM actions a JOIN people p'
                                     " ON p.id = a.owner_id WHERE a.id = :'p1'", a['id'])),
                         self.bob)
        p2, _ = self.call('POST', '%s/actions/%d/assign' % (API, a['id']),
                          {'owner': self.alice, 'version': 2})
        self.assertEqual((p2['owner'], p2['version']), (self.alice, 3))
        u, _ = self.call('POST', '%s/actions/%d/unassign' % (API, a['id']))
        self.assertIsNone(u['owner'])
        self.assertIn(u['owner_active'], (None, False))
        self.assertEqual(u['version'], 4)
        u2, _ = self.call('POST', '%s/actions/%d/assign' % (API, a['id']), {'owner': self.bob})
        u3, _ = self.call('POST', '%s/actions/%d/unassign' % (API, a['id']), {'version': 5})
        self.assertEqual((u2['version'], u3['version'], u3['owner']), (5, 6, None))
        hist = [(e['field'], e['old'], e['new']) for e in self.history(a['id'])]
        self.assertEqual(hist, [('created', None, a['title']),
                                ('owner', None, self.bob),
                                ('owner', self.bob, self.alice),
                                ('owner', self.alice, None),
                                ('owner', None, self.bob),
                                ('owner', self.bob, None)])

    def test_work_in_progress_has_an_owner(self):
        """issue 9, defect 18: an unowned action cannot be started, and the owner of one in
        progress cannot be taken off; nothing changes when refused."""
        a = self.mk_action(self.inc, owner=None)
        for method, path, body in (('POST', '/start', None),
                                   ('PATCH', '', {'status': 'in_progress'})):
            with self.subTest(method=method):
                err = self.error(method, '%s/actions/%d%s' % (API, a['id'], path), body,
                                 status=409, code='invalid_transition', field='status')
                self.assertIn('assign', err['message'])
        self.assertEqual(self.action(a['id'])['version'], a['version'])
        self.call('POST', '%s/actions/%d/assign' % (API, a['id']), {'owner': self.bob})
        started, _ = self.call('POST', '%s/actions/%d/start' % (API, a['id']))
        self.assertEqual((started['status'], started['owner']), ('in_progress', self.bob))
        self.error('POST', '%s/actions/%d/unassign' % (API, a['id']), None, status=409,
                   code='invalid_transition', field='status')
        self.assertEqual(self.action(a['id'])['owner'], self.bob)
        blocked, _ = self.call('POST', '%s/actions/%d/block' % (API, a['id']), why('block'))
        self.assertEqual(blocked['status'], 'blocked')
        freed, _ = self.call('POST', '%s/actions/%d/unassign' % (API, a['id']))
        self.assertIsNone(freed['owner'])  # blocked work may wait without an owner

    def test_created_with_owner_history(self):
        a = self.mk_action(self.inc, owner=self.alice)
        hist = self.history(a['id'])
        self.assertEqual([(e['field'], e['old'], e['new']) for e in hist],
                         [('created', None, a['title']), ('owner', None, self.alice)])

    def test_every_allowed_transition(self):
        admin = self.token_name('admin')
        for verb, (froms, to) in MACHINE.items():
            for frm in sorted(froms):
                with self.subTest(verb=verb, frm=frm):
                    a = self.mk_action(self.inc)
                    for v in REACH[frm]:
                        self.call('POST', '%s/actions/%d/%s' % (API, a['id'], v), why(v))
                    cur = self.action(a['id'])
                    self.assertEqual(cur['status'], frm)
                    n = self.n_events(a['id'])
                    p, _ = self.call('POST', '%s/actions/%d/%s' % (API, a['id'], verb), why(verb))
                    self.assertEqual(set(p), ACTION_KEYS)
                    self.assertEqual(p['status'], to)
                    self.assertEqual(p['version'], cur['version'] + 1)
                    self.assertGreater(ts(p['updated_at']), ts(cur['updated_at']))
                    if to in OPEN_STATES:
                        self.assertIsNone(p['closed_at'])
                    else:
                        self.assertIsNotNone(p['closed_at'])
                        self.assertEqual(ts(p['closed_at']), ts(p['updated_at']))
                    self.assertEqual(self.action(a['id']), p)
                    hist = self.history(a['id'])
                    self.assertEqual(len(hist), n + 1 + (why(verb) is not None))
                    e = hist[n]
                    self.assertEqual((e['field'], e['old'], e['new'], e['source'], e['actor']),
                                     ('status', frm, to, 'api', admin))
                    closed = self.q1('SELECT (closed_at IS NOT NULL)::text FROM actions'
                                     " WHERE id = :'p1'", a['id'])
                    self.assertEqual(str(closed), 'false' if to in OPEN_STATES else 'true')

    def test_every_refused_transition(self):
        for frm, path in REACH.items():
            a = self.mk_action(self.inc)
            for v in path:
                self.call('POST', '%s/actions/%d/%s' % (API, a['id'], v), why(v))
            cur = self.action(a['id'])
            n = self.n_events(a['id'])
            for verb, (froms, _) in MACHINE.items():
                if frm in froms:
                    continue
                with self.subTest(verb=verb, frm=frm):
                    self.error('POST', '%s/actions/%d/%s' % (API, a['id'], verb),
                               status=409, code='invalid_transition', field='status')
                    self.assertEqual(self.action(a['id']), cur)
                    self.assertEqual(self.n_events(a['id']), n)

    def test_closed_at_set_and_cleared(self):
        a = self.mk_action(self.inc)
        d, _ = self.call('POST', '%s/actions/%d/done' % (API, a['id']))
        self.assertIsNotNone(d['closed_at'])
        r, _ = self.call('POST', '%s/actions/%d/reopen' % (API, a['id']))
        self.assertEqual(r['status'], 'open')
        self.assertIsNone(r['closed_at'])
        x, _ = self.call('POST', '%s/actions/%d/drop' % (API, a['id']), why('drop'))
        self.assertEqual(x['status'], 'wont_do')
        self.assertIsNotNone(x['closed_at'])
        self.assertGreater(ts(x['closed_at']), ts(d['closed_at']))
        self.assertEqual(str(self.q1('SELECT status || (closed_at IS NOT NULL)::text'
                                     " FROM actions WHERE id = :'p1'", a['id'])), 'wont_dotrue')

    def test_patch_status_allowed_move(self):
        a = self.mk_action(self.inc)
        p, _ = self.call('PATCH', '%s/actions/%d' % (API, a['id']), {'status': 'done'})
        self.assertEqual(p['status'], 'done')
        self.assertIsNotNone(p['closed_at'])
        p, _ = self.call('PATCH', '%s/actions/%d' % (API, a['id']), {'status': 'open'})
        self.assertEqual(p['status'], 'open')
        self.assertIsNone(p['closed_at'])

    def test_patch_status_follows_the_machine(self):
        # README: "Any other move answers 409 invalid_transition" - PATCH included.
        refused = [('done', 'in_progress'), ('done', 'blocked'), ('wont_do', 'done'),
                   ('blocked', 'open'), ('in_progress', 'open'), ('wont_do', 'in_progress')]
        for frm, to in refused:
            with self.subTest(frm=frm, to=to):
                a = self.mk_action(self.inc)
                for v in REACH[frm]:
                    self.call('POST', '%s/actions/%d/%s' % (API, a['id'], v), why(v))
                cur = self.action(a['id'])
                n = self.n_events(a['id'])
                self.error('PATCH', '%s/actions/%d' % (API, a['id']), {'status': to},
                           status=409, code='invalid_transition', field='status')
                self.assertEqual(self.action(a['id']), cur)
                self.assertEqual(self.n_events(a['id']), n)

    def test_history_source_and_actor(self):
        js, _ = self.call('POST', API + '/actions',
                          {'incident': self.inc, 'kind': 'corrective', 'title': 'via cli',
                           'owner': self.alice, 'due_on': None},
                          expect=201, token='write', headers={'X-Closeloop-Source': 'cli'})
        aid = js['id']
        self.call('POST', '%s/actions/%d/start' % (API, aid))
        self.call('POST', '%s/actions/%d/block' % (API, aid), why('block'), token='write',
                  headers={'X-Closeloop-Source': 'github'})
        self.call('PATCH', '%s/actions/%d' % (API, aid), {'priority': 'P4'}, token='write',
                  headers={'X-Closeloop-Source': 'cli'})
        hist = self.history(aid)
        writer, admin = self.token_name('write'), self.token_name('admin')
        self.assertNotEqual(writer, admin)
        self.assertEqual([(e['field'], e['source'], e['actor'], e['old'], e['new'])
                          for e in hist],
                         [('created', 'cli', writer, None, 'via cli'),
                          ('owner', 'cli', writer, None, self.alice),
                          ('status', 'api', admin, 'open', 'in_progress'),
                          ('status', 'api', writer, 'in_progress', 'blocked'),
                          ('reason', 'api', writer, None, 'test: block'),
                          ('priority', 'cli', writer, 'P2', 'P4')])
        for e in hist:
            self.assertEqual(set(e), EVENT_KEYS)
            self.assertEqual(e['action'], aid)
            ts(e['at'])
        ids = [e['id'] for e in hist]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), len(ids))
        ats = [ts(e['at']) for e in hist]
        self.assertEqual(ats, sorted(ats))
        # the read scope may read history; the database agrees with the API
        self.assertEqual(self.call('GET', '%s/actions/%d/history' % (API, aid),
                                   token='read')[0]['items'], hist)
        rows = self.svc.sql("SELECT field, source, actor FROM events WHERE action_id = :'p1'"
                            ' ORDER BY id', aid)
        self.assertEqual([tuple(str(c) for c in r) for r in rows],
                         [(e['field'], e['source'], e['actor']) for e in hist])

    def test_history_of_unknown_action(self):
        self.error('GET', API + '/actions/987654321/history', status=404, code='not_found')

    # -- optimistic concurrency --

    def assert_conflict(self, method, path, body, headers, aid):
        cur = self.action(aid)
        n = self.n_events(aid)
        self.error(method, path, body, status=409, code='version_conflict', field='version',
                   headers=headers)
        self.assertEqual(self.action(aid), cur)
        self.assertEqual(int(self.q1("SELECT version FROM actions WHERE id = :'p1'", aid)),
                         cur['version'])
        self.assertEqual(self.n_events(aid), n)

    def test_stale_version_changes_nothing(self):
        a = self.mk_action(self.inc)
        aid = a['id']
        path = '%s/actions/%d' % (API, aid)
        self.call('PATCH', path, {'title': 'v2'})  # now at version 2
        self.assert_conflict('PATCH', path, {'title': 'lost'}, {'If-Match': '"1"'}, aid)
        self.assert_conflict('PATCH', path, {'title': 'lost', 'version': 1}, None, aid)
        self.assert_conflict('PATCH', path, {'title': 'lost'}, {'If-Match': '"7"'}, aid)
        self.assert_conflict('POST', path + '/start', None, {'If-Match': '"1"'}, aid)
        self.assert_conflict('POST', path + '/done', {'version': 1}, None, aid)
        self.assert_conflict('POST', path + '/assign', {'owner': self.bob, 'version': 1}, None,
                             aid)
        self.assert_conflict('POST', path + '/assign', {'owner': self.bob},
                             {'If-Match': '"1"'}, aid)
        self.assert_conflict('POST', path + '/unassign', {'version': 1}, None, aid)

    def test_current_version_is_accepted(self):
        a = self.mk_action(self.inc)
        path = '%s/actions/%d' % (API, a['id'])
        p, _ = self.call('PATCH', path, {'title': 'two'}, headers={'If-Match': '"1"'})
        self.assertEqual(p['version'], 2)
        p, _ = self.call('PATCH', path, {'title': 'three', 'version': 2})
        self.assertEqual(p['version'], 3)
        p, _ = self.call('PATCH', path, {'title': 'four'}, headers={'If-Match': 'W/"3"'})
        self.assertEqual(p['version'], 4)
        p, _ = self.call('POST', path + '/start', headers={'If-Match': '"4"'})
        self.assertEqual((p['status'], p['version']), ('in_progress', 5))
        p, _ = self.call('POST', path + '/block', {'version': 5, 'reason': 'wait'})
        self.assertEqual((p['status'], p['version']), ('blocked', 6))
        _, hd = self.call('GET', path)
        self.assertEqual(header(hd, 'ETag'), '"6"')

    def test_incident_stale_version(self):
        key = self.mk_incident()['key']
        self.call('PATCH', '%s/incidents/%s' % (API, key), {'title': 'second'})
        before = self.get('%s/incidents/%s' % (API, key))
        self.error('PATCH', '%s/incidents/%s' % (API, key), {'title': 'lost'}, status=409,
                   code='version_conflict', field='version', headers={'If-Match': '"1"'})
        self.error('PATCH', '%s/incidents/%s' % (API, key), {'title': 'lost', 'version': 1},
                   status=409, code='version_conflict', field='version')
        self.assertEqual(self.get('%s/incidents/%s' % (API, key)), before)
        self.assertEqual(str(self.q1("SELECT title || version FROM incidents WHERE key = :'p1'",
                                     key)), 'second2')

    def test_concurrent_writers_one_wins(self):
        a = self.mk_action(self.inc)
        path = '%s/actions/%d' % (API, a['id'])
        results = []
        barrier = threading.Barrier(6)

        def writer(i):
            barrier.wait()
            st, _, js, _ = self.svc.request('PATCH', path, body={'title': 'w%d' % i},
                                            headers={'If-Match': '"1"'})
            results.append((st, js))

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        statuses = sorted(st for st, _ in results)
        self.assertEqual(statuses, [200] + [409] * 5, results)
        for st, js in results:
            if st == 409:
                self.assertEqual(js['error']['code'], 'version_conflict')
        winner = [js for st, js in results if st == 200][0]
        self.assertEqual(winner['version'], 2)
        now = self.action(a['id'])
        self.assertEqual((now['title'], now['version']), (winner['title'], 2))
        titles = [e for e in self.history(a['id']) if e['field'] == 'title']
        self.assertEqual(len(titles), 1)
        self.assertEqual(titles[0]['new'], winner['title'])


class ActionListTest(ApiCase):
    """A fixed data set of actions; each list query is checked against a model of it."""

    N = 56  # more than the default page (50)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        svc = cls.svc

        def post(path, body, expect=201):
            st, _, js, raw = svc.request('POST', API + path, body=body)
            assert st == expect, (path, body, st, raw)
            return js

        today = datetime.date.fromisoformat(
            str(svc.sql("SELECT (now() AT TIME ZONE 'UTC')::date::text")[0][0]))
        cls.today = today
        cls.team_a, cls.team_b = uniq('lista'), uniq('listb')
        post('/teams', {'name': cls.team_a})
        post('/teams', {'name': cls.team_b})
        cls.ann, cls.ben, cls.cat, cls.dan = (uniq('ann'), uniq('ben'), uniq('cat'),
                                              uniq('dan'))
        teams = {cls.ann: cls.team_a, cls.ben: cls.team_b, cls.cat: cls.team_a, cls.dan: None}
        for h, t in teams.items():
            body = {'handle': h, 'name': h, 'email': h + '@example.com'}
            if t:
                body['team'] = t
            post('/people', body)
        cls.inc1, cls.inc2 = 'LIST-%d' % next(_seq), 'LIST-%d' % next(_seq)
        post('/incidents', {'key': cls.inc1, 'title': 'one'})
        post('/incidents', {'key': cls.inc2, 'title': 'two'})

        owners = [cls.ann, cls.ben, cls.cat, cls.dan, None]
        offsets = [-10, -1, 0, 1, 5, None, 30, -1, None]
        statuses = ['open', 'in_progress', 'blocked', 'done', 'wont_do', 'open', 'blocked']
        verb_for = {'open': [], 'in_progress': ['start'], 'blocked': ['block'],
                    'done': ['done'], 'wont_do': ['drop']}
        cls.model = []
        for i in range(cls.N):
            off = offsets[i % len(offsets)]
            due = None if off is None else today + datetime.timedelta(days=off)
            body = {'incident': cls.inc2 if i % 3 == 0 else cls.inc1,
                    'kind': 'corrective' if i % 2 == 0 else 'preventive',
                    'title': 'list item %d' % i}
            owner = owners[i % len(owners)]
            status = statuses[(i // 2) % len(statuses)]
            if owner is None and status == 'in_progress':
                owner = cls.dan  # work in progress has an owner
            if owner:
                body['owner'] = owner
            body['due_on'] = due.isoformat() if due else None  # null: not the due policy's
            js = post('/actions', body)
            for v in verb_for[status]:
                st = svc.request('POST', '%s/actions/%d/%s' % (API, js['id'], v), why(v))[0]
                assert st == 200, st
            cls.model.append({'id': js['id'], 'incident': body['incident'],
                              'kind': body['kind'], 'owner': owner, 'due': due,
                              'status': status})
        # cat leaves: her actions are now owned by an inactive person
        st = svc.request('PATCH', '%s/people/%s' % (API, cls.cat), body={'active': False})[0]
        assert st == 200, st
        cls.inactive = {cls.cat}
        cls.team_of = teams

    def expect(self, pred):
        rows = [m for m in self.model if pred(m)]
        rows.sort(key=lambda m: (m['due'] or datetime.date.max, m['id']))
        return [m['id'] for m in rows]

    def ours(self, items):
        """Only the actions of this data set (other classes use other databases, but be safe)."""
        mine = {m['id'] for m in self.model}
        return [it['id'] for it in items if it['id'] in mine]

    def list_ids(self, query, limit=500):
        items, _ = self.walk(API + '/actions' + query, limit)
        for it in items:
            self.assertEqual(set(it), ACTION_KEYS)
        ids = [it['id'] for it in items]
        self.assertEqual(len(ids), len(set(ids)), 'an action listed twice')
        return self.ours(items), items

    def test_default_order_and_default_limit(self):
        js = self.get(API + '/actions')
        self.assertEqual(len(js['items']), 50)
        self.assertIsNotNone(js['next_cursor'])
        rest = self.get(API + '/actions?cursor=' + js['next_cursor'])
        self.assertEqual(len(rest['items']), self.N - 50)
        self.assertIsNone(rest['next_cursor'])
        got = [it['id'] for it in js['items'] + rest['items']]
        self.assertEqual(got, self.expect(lambda m: True))

    def test_keyset_walk_small_pages(self):
        want = self.expect(lambda m: True)
        for limit in (1, 4, 7, 55, 56, 57):
            with self.subTest(limit=limit):
                items, pages = self.walk(API + '/actions', limit)
                ids = [it['id'] for it in items]
                self.assertEqual(ids, want)  # no duplicate, no gap, urgency order
                self.assertEqual(pages, max(1, math.ceil(len(want) / limit)))

    def test_order_is_due_date_then_id_nulls_last(self):
        items, _ = self.walk(API + '/actions', 500)
        keys = [(datetime.date.fromisoformat(it['due_on']) if it['due_on'] else
                 datetime.date.max, it['id']) for it in items]
        self.assertEqual(keys, sorted(keys))
        nulls = [it for it in items if it['due_on'] is None]
        self.assertTrue(nulls)
        self.assertTrue(all(it['due_on'] is None for it in items[-len(nulls):]))
        for it in items:
            m = next(m for m in self.model if m['id'] == it['id'])
            self.assertEqual(it['due_on'], m['due'].isoformat() if m['due'] else None)
            self.assertEqual(it['status'], m['status'])
            self.assertEqual(it['owner'], m['owner'])
            self.assertEqual(it['owner_active'],
                             None if m['owner'] is None else m['owner'] not in self.inactive)
            self.assertIs(it['overdue'], m['status'] in OPEN_STATES and m['due'] is not None
                          and m['due'] < self.today)

    def test_filtered_walk(self):
        q = '?status=open,blocked&kind=corrective'
        want = self.expect(lambda m: m['status'] in ('open', 'blocked')
                           and m['kind'] == 'corrective')
        self.assertGreater(len(want), 3)
        for limit in (1, 2, 3):
            with self.subTest(limit=limit):
                items, pages = self.walk(API + '/actions' + q, limit)
                self.assertEqual([it['id'] for it in items], want)
                self.assertEqual(pages, math.ceil(len(want) / limit))

    def check(self, query, pred, min_count=1):
        want = self.expect(pred)
        self.assertGreaterEqual(len(want), min_count, 'the data set exercises ' + query)
        ids, items = self.list_ids(query, limit=7)
        self.assertEqual(ids, want, query)
        return items

    def test_filter_status(self):
        for st in ('open', 'in_progress', 'blocked', 'done', 'wont_do'):
            with self.subTest(status=st):
                items = self.check('?status=' + st, lambda m, st=st: m['status'] == st)
                self.assertTrue(all(it['status'] == st for it in items))
        self.check('?status=done,wont_do', lambda m: m['status'] in ('done', 'wont_do'))
        self.check('?status=open,in_progress,blocked', lambda m: m['status'] in OPEN_STATES)

    def test_filter_owner(self):
        for h in (self.ann, self.ben, self.cat, self.dan):
            with self.subTest(owner=h):
                self.check('?owner=' + h, lambda m, h=h: m['owner'] == h)
        # a filter naming nobody is a mistake, not an empty list (issue 9, defect 1)
        err = self.error('GET', API + '/actions?owner=nobody-at-all', status=422,
                         code='validation', field='owner')
        self.assertIn('nobody-at-all', err['message'])

    def test_unknown_filter_values_are_errors(self):
        for query, field, value in (('team=platfrom', 'team', 'platfrom'),
                                    ('incident=INC-999', 'incident', 'INC-999'),
                                    ('owner=%s&team=nosuchteam' % self.ann, 'team',
                                     'nosuchteam')):
            with self.subTest(query=query):
                err = self.error('GET', API + '/actions?' + query, status=422,
                                 code='validation', field=field)
                self.assertIn(value, err['message'])
        # a person without actions is a known person: an empty list
        js = self.get(API + '/actions?owner=' + self.dan + '&kind=corrective&status=done')
        self.assertIsInstance(js['items'], list)

    def cli_ids(self, *args):
        p = self.svc.cli('--json', 'action', 'list', '--incident', self.inc1, *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertIsInstance(out, list, 'a list prints one array of its items (README)')
        return self.ours(out)

    def test_cli_lists_open_work_unless_asked(self):
        """issue 9, defect 4: done and dropped work is not mixed into the open list."""
        mine = lambda m: m['incident'] == self.inc1
        self.assertEqual(self.cli_ids(),
                         self.expect(lambda m: mine(m) and m['status'] in OPEN_STATES))
        self.assertEqual(self.cli_ids('--all'), self.expect(mine))
        self.assertEqual(self.cli_ids('--status', 'done'),
                         self.expect(lambda m: mine(m) and m['status'] == 'done'))

    def test_colour_only_where_wanted(self):
        """issue 9, defect 14: colour on a terminal; not with a non-empty NO_COLOR or with
        TERM=dumb (an empty NO_COLOR does not count); never when piped; each colour reset
        before its line ends."""
        args = ('action', 'list', '--all', '--incident', self.inc1)
        for env, coloured in (({}, True), ({'NO_COLOR': ''}, True), ({'NO_COLOR': '1'}, False),
                              ({'TERM': 'dumb'}, False)):
            with self.subTest(env=env):
                code, out = self.svc.cli_tty(*args, env=env)
                self.assertEqual(code, 0, out)
                self.assertIn('list item', out)
                self.assertEqual('\033[' in out, coloured, repr(out[:300]))
                self.assertNotIn('\n\033[0m', out)
        self.assertNotIn('\033[', self.svc.cli(*args).stdout)

    def test_tables_fit_the_terminal(self):
        """issue 9, defect 5: on a terminal a table fits its width (long values cut with
        "…", never a wrapped row); piped, every value is whole."""
        title = 'Rotate every credential of the checkout replicas before the next game day ' * 2
        act = self.call('POST', API + '/actions', {'incident': self.inc1, 'kind': 'corrective',
                                                   'title': title.strip(), 'owner': self.ann},
                        expect=201)[0]
        for cols in (80, 60):
            with self.subTest(columns=cols):
                code, out = self.svc.cli_tty('action', 'list', '--incident', self.inc1,
                                             env={'NO_COLOR': '1'}, columns=cols)
                self.assertEqual(code, 0, out)
                for line in out.splitlines():
                    self.assertLessEqual(len(line), cols, line)
                self.assertIn('Rotate every cred' if cols >= 80 else 'Rotate', out)
                self.assertIn('\u2026', out)
        piped = self.svc.cli('action', 'list', '--incident', self.inc1).stdout
        self.assertIn(title.strip(), piped)
        self.call('POST', '%s/actions/%d/drop' % (API, act['id']), why('drop'))

    def test_cli_names_an_unknown_filter_value_and_where_to_look(self):
        for flag, value, hint in (('--team', 'platfrom', 'closeloop team list'),
                                  ('--owner', 'nobody', 'closeloop person list'),
                                  ('--incident', 'INC-999', 'closeloop incident list')):
            with self.subTest(flag=flag):
                p = self.svc.cli('action', 'list', flag, value)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn(value, p.stderr)
                self.assertIn(hint, p.stderr)
                self.assertNotIn('no actions', p.stdout)

    def test_filter_team(self):
        self.check('?team=' + self.team_a,
                   lambda m: m['owner'] is not None and self.team_of[m['owner']] == self.team_a)
        self.check('?team=' + self.team_b,
                   lambda m: m['owner'] is not None and self.team_of[m['owner']] == self.team_b)

    def test_filter_incident_and_kind(self):
        self.check('?incident=' + self.inc1, lambda m: m['incident'] == self.inc1)
        self.check('?incident=' + self.inc2, lambda m: m['incident'] == self.inc2)
        self.check('?kind=preventive', lambda m: m['kind'] == 'preventive')
        self.check('?kind=corrective', lambda m: m['kind'] == 'corrective')

    def test_filter_overdue(self):
        items = self.check('?overdue=true', lambda m: m['status'] in OPEN_STATES
                           and m['due'] is not None and m['due'] < self.today)
        self.assertTrue(all(it['overdue'] is True for it in items))
        self.check('?overdue=false', lambda m: True)

    def test_filter_unowned_includes_inactive_owner(self):
        unowned = lambda m: m['owner'] is None or m['owner'] in self.inactive
        # open work without a live owner: the dashboard case
        items = self.check('?unowned=true&status=open,in_progress,blocked',
                           lambda m: m['status'] in OPEN_STATES and unowned(m))
        self.assertTrue(any(it['owner'] == self.cat for it in items), 'inactive owner listed')
        self.assertTrue(any(it['owner'] is None for it in items), 'no owner listed')
        ids, items = self.list_ids('?unowned=true', limit=9)
        for it in items:
            self.assertTrue(it['owner'] is None or it['owner_active'] is False, it)
        for aid in self.expect(lambda m: m['status'] in OPEN_STATES and unowned(m)):
            self.assertIn(aid, ids)
        for aid in self.expect(lambda m: not unowned(m)):
            self.assertNotIn(aid, ids)

    def test_filter_due_before_and_after_are_exclusive(self):
        t = self.today
        d = lambda n: (t + datetime.timedelta(days=n)).isoformat()
        self.check('?due_before=' + d(0), lambda m: m['due'] is not None and m['due'] < t)
        self.check('?due_after=' + d(0), lambda m: m['due'] is not None and m['due'] > t)
        self.check('?due_after=%s&due_before=%s' % (d(-1), d(5)),
                   lambda m: m['due'] is not None
                   and t + datetime.timedelta(days=-1) < m['due'] < t + datetime.timedelta(5))
        self.check('?due_before=' + d(-10), lambda m: False, min_count=0)
        self.check('?due_after=' + d(30), lambda m: False, min_count=0)

    def test_filters_combine(self):
        self.check('?owner=%s&status=open,blocked&kind=corrective' % self.ann,
                   lambda m: m['owner'] == self.ann and m['status'] in ('open', 'blocked')
                   and m['kind'] == 'corrective')
        self.check('?team=%s&incident=%s&due_after=%s' % (self.team_a, self.inc1,
                                                          (self.today - datetime.timedelta(
                                                              days=2)).isoformat()),
                   lambda m: m['owner'] is not None and self.team_of[m['owner']] == self.team_a
                   and m['incident'] == self.inc1 and m['due'] is not None
                   and m['due'] > self.today - datetime.timedelta(days=2))

    def test_read_token_lists(self):
        js, _ = self.call('GET', API + '/actions?limit=3', token='read')
        self.assertEqual([it['id'] for it in js['items']], self.expect(lambda m: True)[:3])


if __name__ == '__main__':
    unittest.main()


class ReportPlanTest(ApiCase):
    """The overdue and unowned filters are SQL functions (sql/functions/reports.sql) the
    planner inlines: on a table of 20,000 actions the list still walks the partial index of
    open actions instead of reading the table."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.svc.sql(
            "INSERT INTO incidents (key, title) VALUES ('PLAN-1', 'plan');"
            " INSERT INTO actions (incident_id, kind, title, due_on, status, closed_at)"
            " SELECT (SELECT id FROM incidents WHERE key = 'PLAN-1'), 'corrective', 't' || g,"
            "        current_date + (g % 400 - 200),"
            "        (ARRAY['open', 'done', 'wont_do', 'in_progress'])[1 + g % 4],"
            "        CASE WHEN g % 4 IN (1, 2) THEN now() END"
            " FROM generate_series(1, 20000) g; ANALYZE actions")

    def plan(self, which):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "bench"))
        from overdue_explain import explain_sql
        src = os.environ.get("CLOSELOOP_SRC_DIR") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..")
        rows = self.svc.sql(explain_sql(os.path.join(src, "src", "api", "routes_core.c"), which))
        return "\n".join(r[0] for r in rows)

    def test_overdue_walks_the_open_index(self):
        plan = self.plan("overdue")
        self.assertIn("Index Scan using actions_open_due_idx on actions", plan)
        self.assertNotIn("Seq Scan on actions", plan)

    def test_unowned_walks_the_open_index(self):
        plan = self.plan("unowned")
        self.assertIn("Index Scan using actions_open_due_idx on actions", plan)
        self.assertNotIn("Seq Scan on actions", plan)

    def test_the_filters_answer_what_the_predicates_say(self):
        st, _, js, raw = self.svc.request('GET', API + '/actions?overdue=true&limit=500')
        self.assertEqual(st, 200, raw)
        want = int(self.svc.sql("SELECT count(*) FROM actions WHERE status IN "
                                "('open', 'in_progress', 'blocked') AND due_on < current_date"
                                " AND due_on >= current_date - 200")[0][0])
        self.assertGreater(want, 500)
        self.assertEqual(len(js['items']), 500)
        self.assertTrue(all(a['overdue'] for a in js['items']))


class ReportTest(ApiCase):
    """issue 9: the facilitator's reports (sql/functions/reports.sql's cl_report()), through
    the API and the CLI, against a small data set whose expected rows are known."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        svc = cls.svc

        def call(method, path, body=None, expect=(200, 201)):
            st, _, js, raw = svc.request(method, API + path, body=body)
            assert st in expect, (path, body, st, raw)
            return js

        today = datetime.date.fromisoformat(
            str(svc.sql("SELECT (now() AT TIME ZONE 'UTC')::date::text")[0][0]))
        d = lambda n: (today + datetime.timedelta(days=n)).isoformat()
        cls.team = uniq('rep')
        call('POST', '/teams', {'name': cls.team})
        cls.amy, cls.bo = uniq('amy'), uniq('bo')
        for h in (cls.amy, cls.bo):
            call('POST', '/people', {'handle': h, 'name': h, 'email': h + '@example.com',
                                     'team': cls.team})
        cls.inc = 'REP-%d' % next(_seq)
        call('POST', '/incidents', {'key': cls.inc, 'title': 'reports'})

        def act(title, **kw):
            body = {'incident': cls.inc, 'kind': 'corrective', 'title': title}
            body.update(kw)
            return call('POST', '/actions', body)['id']
        cls.late = act('late', owner=cls.amy, due_on=d(-3))
        cls.nobody = act('nobody', due_on=d(10))
        cls.undated = act('undated', owner=cls.bo, due_on=None)  # null: not the policy's
        cls.soon = act('soon', owner=cls.bo, due_on=d(2))
        cls.soon_started = act('soon but started', owner=cls.amy, due_on=d(2))
        call('POST', '/actions/%d/start' % cls.soon_started)
        cls.blocked = act('blocked', owner=cls.amy, due_on=d(20))
        call('POST', '/actions/%d/block' % cls.blocked, why('block'))
        cls.slipped = act('slipped', owner=cls.bo, due_on=d(1))
        call('PATCH', '/actions/%d' % cls.slipped, {'due_on': d(5), 'reason': 'slipped'})
        call('PATCH', '/actions/%d' % cls.slipped, {'due_on': d(4)})   # earlier: not a slip
        call('PATCH', '/actions/%d' % cls.slipped, {'due_on': d(12), 'reason': 'again'})
        cls.done = act('done late', owner=cls.amy, due_on=d(-5))
        call('POST', '/actions/%d/done' % cls.done)
        leaver = uniq('gone')
        call('POST', '/people', {'handle': leaver, 'name': leaver,
                                 'email': leaver + '@example.com'})
        cls.left = act('owner left', owner=leaver, due_on=d(15))
        call('PATCH', '/people/' + leaver, {'active': False})
        cls.d = staticmethod(d)

    def report(self, name, query=''):
        js = self.get('%s/reports/%s?incident=%s%s' % (API, name, self.inc, query))
        return [(it['id'], it['report']) for it in js['items']]

    def test_each_report_lists_what_it_says(self):
        self.assertEqual(self.report('overdue'), [(self.late, {'days_late': 3})])
        self.assertEqual(self.report('unowned'), [(self.nobody, {'owner_left': False}),
                                                  (self.left, {'owner_left': True})])
        self.assertEqual([i for i, _ in self.report('undated')], [self.undated])
        self.assertEqual(self.report('due-soon'), [(self.soon, {'days_left': 2})])
        self.assertEqual(self.report('due-soon', '&days=1'), [])
        self.assertEqual([i for i, _ in self.report('blocked')], [self.blocked])
        slipped = self.report('slipped')
        self.assertEqual(slipped, [(self.slipped, {'moves': 2, 'days_slipped': 4 + 8,
                                                  'first_due': self.d(1)})])
        self.assertEqual(self.report('stale'), [], 'everything changed today')
        stale = [i for i, _ in self.report('stale', '&days=0')]
        self.assertEqual(sorted(stale), sorted([self.late, self.nobody, self.undated, self.soon,
                                                self.soon_started, self.blocked, self.slipped,
                                                self.left]))
        self.assertEqual(self.report('drift'), [], 'nothing is linked here')

    def test_filters_paging_and_errors(self):
        ids = [i for i, _ in self.report('stale', '&days=0')]
        self.assertEqual(ids, [i for i, _ in self.report('stale', '&days=0&limit=500')])
        page1 = self.get('%s/reports/stale?incident=%s&days=0&limit=3' % (API, self.inc))
        self.assertEqual([it['id'] for it in page1['items']], ids[:3])
        page2 = self.get('%s/reports/stale?incident=%s&days=0&limit=3&cursor=%s'
                         % (API, self.inc, page1['next_cursor']))
        self.assertEqual([it['id'] for it in page2['items']], ids[3:6])
        self.assertEqual([i for i, _ in self.report('stale', '&days=0&owner=' + self.bo)],
                         [i for i in ids if i in (self.undated, self.soon, self.slipped)])
        self.error('GET', API + '/reports/overdue?team=no-such-team', status=422,
                   code='validation', field='team')
        self.error('GET', API + '/reports/bogus', status=404, code='not_found')
        self.error('GET', API + '/reports/stale?days=-1', status=400, code='bad_request',
                   field='days')
        self.error('GET', API + '/reports/stale?colour=red', status=400, code='bad_request',
                   field='colour')

    def test_cli_prints_reports_as_tables_csv_and_markdown(self):
        p = self.svc.cli('report', 'overdue', '--incident', self.inc)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r'(?m)^ID\s+DUE\s+OWNER\s+STATUS\s+WHY\s+INCIDENT\s+TITLE$')
        self.assertRegex(p.stdout, r'(?m)^%d\s.*days late 3\s+%s\s+late$' % (self.late, self.inc))
        csv = self.svc.cli('report', 'slipped', '--incident', self.inc, '--format', 'csv').stdout
        rows = csv.splitlines()  # CRLF, read in text mode
        self.assertEqual(rows[0], 'ID,DUE,OWNER,STATUS,WHY,INCIDENT,TITLE')
        self.assertEqual(rows[1], '%d,%s,%s,open,"moves 2, first due %s, days slipped 12",%s,'
                                  'slipped' % (self.slipped, self.d(12), self.bo, self.d(1),
                                               self.inc))
        md = self.svc.cli('report', 'blocked', '--incident', self.inc, '--format',
                          'markdown').stdout.splitlines()
        self.assertEqual(md[0], '| ID | DUE | OWNER | STATUS | WHY | INCIDENT | TITLE |')
        self.assertEqual(md[1], '| --- | --- | --- | --- | --- | --- | --- |')
        self.assertTrue(md[2].startswith('| %d | %s (due in 20d) | %s | blocked | since ' % (
            self.blocked, self.d(20), self.amy)), md[2])
        js = json.loads(self.svc.cli('report', 'undated', '--incident', self.inc, '--format',
                                     'json').stdout)
        self.assertEqual([it['id'] for it in js], [self.undated])
        bad = self.svc.cli('report', 'overdue', '--format', 'xml')
        self.assertEqual(bad.returncode, 2, bad.stderr)
