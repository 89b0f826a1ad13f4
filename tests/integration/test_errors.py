"""The README's error table: exact status, error.code and error.field, and after every
rejected change, proof (svc.sql) that nothing was written."""
import json
import os
import re
import socket
import subprocess
import unittest

from harness import Service, ServiceTestCase

API = '/api/v1'
NO_FIELD = object()

# Every table a change can touch; a rejected request must leave each one as it was.
TABLES = ('teams', 'people', 'incidents', 'actions', 'events', 'outbox')
SNAPSHOT_SQL = 'SELECT ' + ', '.join(
    "(SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '-')"
    " FROM %s t)" % t for t in TABLES)


def closeloopd(svc, *args):
    """Runs an admin verb of closeloopd against svc's database."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('PG', 'CLOSELOOP_'))}
    env['CLOSELOOP_DATABASE_URL'] = svc.db.dsn
    return subprocess.run([svc.daemon, *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def http_raw(port, head, body=b'', chunks=None, timeout=20):
    """Sends one request by hand (for chunked bodies) and returns (status, json)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        s.sendall(head.encode() + b'\r\n')
        if chunks is not None:
            for c in chunks:
                s.sendall(b'%x\r\n' % len(c) + c + b'\r\n')
            s.sendall(b'0\r\n\r\n')
        else:
            s.sendall(body)
        data = b''
        while True:
            try:
                d = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not d:
                break
            data += d
    finally:
        s.close()
    head_part, _, rest = data.partition(b'\r\n\r\n')
    status = int(head_part.split(b' ', 2)[1])
    m = re.search(rb'(?im)^content-length:\s*(\d+)', head_part)
    if m:
        rest = rest[:int(m.group(1))]
    return status, json.loads(rest) if rest.strip() else None


class RejectCase(ServiceTestCase):

    def snapshot(self, version_of=None):
        row = tuple(str(c) for c in self.svc.sql(SNAPSHOT_SQL)[0])
        snap = dict(zip(TABLES, row))
        if version_of is not None:
            table, key_col, key = version_of
            rows = self.svc.sql("SELECT version::text, updated_at::text FROM %s WHERE %s = :'p1'"
                                % (table, key_col), key)
            snap['target'] = tuple(str(c) for c in rows[0])
        return snap

    def reject(self, method, path, body=None, status=422, code='validation', field=NO_FIELD,
               token='admin', headers=None, raw_body=None, target=None):
        """Sends a request that must fail; checks the error and that nothing changed."""
        before = self.snapshot(target)
        st, hd, js, raw = self.svc.request(method, path, body=body, token=token,
                                           headers=headers, raw_body=raw_body)
        self.assertEqual(st, status, '%s %s %r -> %s %r' % (method, path, body, st, raw[:300]))
        self.assertIsInstance(js, dict, raw[:300])
        self.assertEqual(set(js), {'error'}, js)
        err = js['error']
        self.assertLessEqual(set(err), {'code', 'message', 'field'}, js)
        self.assertEqual(err['code'], code, js)
        self.assertIsInstance(err['message'], str)
        self.assertTrue(err['message'].strip(), js)
        if field is None:
            self.assertNotIn('field', err, js)
        elif field is not NO_FIELD:
            self.assertEqual(err.get('field'), field, js)
        self.assertEqual(self.snapshot(target), before,
                         'a rejected %s %s wrote to the database' % (method, path))
        return err, hd

    def ok(self, method, path, body=None, expect=200, token='admin', headers=None):
        st, _, js, raw = self.svc.request(method, path, body=body, token=token,
                                          headers=headers)
        self.assertEqual(st, expect, '%s %s -> %s %r' % (method, path, st, raw[:300]))
        return js


class ErrorTest(RejectCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def post(path, body):
            st, _, js, raw = cls.svc.request('POST', API + path, body=body)
            assert st == 201, (path, st, raw)
            return js

        post('/teams', {'name': 'core'})
        post('/teams', {'name': 'edge'})
        post('/people', {'handle': 'erin', 'name': 'Erin', 'email': 'erin@example.com',
                         'team': 'core', 'github_login': 'erin-gh',
                         'jira_account_id': 'jira-erin'})
        post('/people', {'handle': 'olaf', 'name': 'Olaf', 'email': 'olaf@example.com',
                         'active': False})
        post('/incidents', {'key': 'ERR-1', 'title': 'the incident',
                            'started_at': '2026-01-01T10:00:00Z'})
        cls.aid = post('/actions', {'incident': 'ERR-1', 'kind': 'corrective',
                                    'title': 'the action', 'owner': 'erin'})['id']
        cls.apath = '%s/actions/%d' % (API, cls.aid)
        cls.atarget = ('actions', 'id', cls.aid)
        cls.itarget = ('incidents', 'key', 'ERR-1')
        # move it on once so that version 1 is stale
        st = cls.svc.request('PATCH', cls.apath, body={'priority': 'P1'})[0]
        assert st == 200, st
        st = cls.svc.request('PATCH', API + '/incidents/ERR-1', body={'severity': 'SEV3'})[0]
        assert st == 200, st

    # -- 400 bad_json --

    def test_malformed_json(self):
        for raw in (b'{"name": ', b'{name: "x"}', b'{"name": "x",}', b"{'name': 'x'}",
                    b'', b'\xff\xfe{}'):
            with self.subTest(raw=raw):
                self.reject('POST', API + '/teams', raw_body=raw, status=400, code='bad_json',
                            field=None, headers={'Content-Type': 'application/json'})
        self.reject('PATCH', self.apath, raw_body=b'{"title": "x"', status=400,
                    code='bad_json', field=None, target=self.atarget,
                    headers={'Content-Type': 'application/json'})
        self.reject('POST', self.apath + '/done', raw_body=b'{oops}', status=400,
                    code='bad_json', field=None, target=self.atarget,
                    headers={'Content-Type': 'application/json'})

    def test_json_that_is_not_an_object(self):
        for raw in (b'[{"name": "x"}]', b'"core2"', b'42', b'null', b'true'):
            with self.subTest(raw=raw):
                self.reject('POST', API + '/teams', raw_body=raw, status=400, code='bad_json',
                            field=None, headers={'Content-Type': 'application/json'})
        self.reject('PATCH', self.apath, raw_body=b'["title"]', status=400, code='bad_json',
                    field=None, target=self.atarget,
                    headers={'Content-Type': 'application/json'})

    # -- 401 --

    def test_missing_or_bad_token(self):
        cases = [None, 'clt_' + 'A' * 43, 'not-even-a-closeloop-token', 'clt_']
        for tok in cases:
            with self.subTest(token=tok):
                self.reject('POST', API + '/teams', {'name': 'sneaky'}, status=401,
                            code='unauthorized', field=None, token=tok)
                self.reject('GET', API + '/teams', status=401, code='unauthorized',
                            field=None, token=tok)
        for auth in ('Basic YWRtaW46YWRtaW4=', 'Bearer', 'Token clt_x'):
            with self.subTest(authorization=auth):
                self.reject('PATCH', self.apath, {'title': 'x'}, status=401,
                            code='unauthorized', field=None, token=None,
                            headers={'Authorization': auth}, target=self.atarget)

    # -- 403 --

    def test_read_token_on_write_routes(self):
        self.ok('GET', API + '/teams', token='read')  # it is a live token
        cases = [('POST', API + '/teams', {'name': 'ro'}, None),
                 ('PATCH', API + '/teams/core', {'name': 'ro'}, None),
                 ('POST', API + '/people', {'handle': 'ro', 'name': 'R', 'email': 'r@x.io'},
                  None),
                 ('PATCH', API + '/people/erin', {'name': 'R'}, None),
                 ('POST', API + '/incidents', {'key': 'RO-1', 'title': 't'}, None),
                 ('PATCH', API + '/incidents/ERR-1', {'title': 't'}, self.itarget),
                 ('POST', API + '/actions', {'incident': 'ERR-1', 'kind': 'corrective',
                                             'title': 't'}, None),
                 ('PATCH', self.apath, {'title': 't'}, self.atarget),
                 ('POST', self.apath + '/assign', {'owner': 'erin'}, self.atarget),
                 ('POST', self.apath + '/unassign', None, self.atarget),
                 ('POST', self.apath + '/start', None, self.atarget),
                 ('POST', self.apath + '/block', None, self.atarget),
                 ('POST', self.apath + '/done', None, self.atarget),
                 ('POST', self.apath + '/drop', None, self.atarget),
                 ('POST', self.apath + '/reopen', None, self.atarget)]
        for method, path, body, target in cases:
            with self.subTest(method=method, path=path):
                self.reject(method, path, body, status=403, code='forbidden', field=None,
                            token='read', target=target)

    # -- 404 --

    def test_unknown_route(self):
        for path in ('/api/v1/nope', '/api/v2/teams', '/api/v1/teams/core/members',
                     '/api/v1/actions/%d/frobnicate' % self.aid, '/', '/api/v1'):
            with self.subTest(path=path):
                self.reject('GET' if 'frob' not in path else 'POST', path, status=404,
                            code='not_found', field=None)

    def test_unknown_object(self):
        cases = [('GET', API + '/teams/nope', None), ('PATCH', API + '/teams/nope', {'name': 'x'}),
                 ('GET', API + '/people/nope', None),
                 ('PATCH', API + '/people/nope', {'name': 'x'}),
                 ('GET', API + '/incidents/NOPE-1', None),
                 ('PATCH', API + '/incidents/NOPE-1', {'title': 'x'}),
                 ('GET', API + '/actions/99999999', None),
                 ('GET', API + '/actions/abc', None),
                 ('GET', API + '/actions/0', None),
                 ('PATCH', API + '/actions/99999999', {'title': 'x'}),
                 ('POST', API + '/actions/99999999/start', None),
                 ('POST', API + '/actions/99999999/assign', {'owner': 'erin'}),
                 ('POST', API + '/actions/99999999/unassign', None),
                 ('GET', API + '/actions/99999999/history', None)]
        for method, path, body in cases:
            with self.subTest(method=method, path=path):
                self.reject(method, path, body, status=404, code='not_found', field=None)

    # -- 405 --

    def test_wrong_method(self):
        cases = [('DELETE', API + '/teams'), ('PUT', API + '/teams/core'),
                 ('DELETE', API + '/people/erin'), ('PUT', API + '/incidents'),
                 ('DELETE', self.apath), ('PUT', self.apath), ('POST', self.apath),
                 ('GET', self.apath + '/start'), ('GET', self.apath + '/assign'),
                 ('PATCH', API + '/actions')]
        for method, path in cases:
            with self.subTest(method=method, path=path):
                self.reject(method, path, status=405, code='method_not_allowed', field=None,
                            target=self.atarget)

    def test_wrong_method_on_history(self):
        # GET /api/v1/actions/{id}/history exists; other methods must answer 405
        self.reject('POST', self.apath + '/history', status=405, code='method_not_allowed',
                    field=None, target=self.atarget)

    def test_wrong_method_on_builtin_routes(self):
        for path in ('/healthz', '/readyz', '/metrics'):
            with self.subTest(path=path):
                self.reject('POST', path, status=405, code='method_not_allowed', field=None)

    # -- 409 --

    def test_stale_version(self):
        cases = [('PATCH', self.apath, {'title': 'x'}, {'If-Match': '"1"'}, self.atarget),
                 ('PATCH', self.apath, {'title': 'x', 'version': 1}, None, self.atarget),
                 ('POST', self.apath + '/start', {'version': 1}, None, self.atarget),
                 ('POST', self.apath + '/drop', None, {'If-Match': '"1"'}, self.atarget),
                 ('POST', self.apath + '/assign', {'owner': 'erin', 'version': 1}, None,
                  self.atarget),
                 ('POST', self.apath + '/unassign', None, {'If-Match': '"1"'}, self.atarget),
                 ('PATCH', API + '/incidents/ERR-1', {'title': 'x'}, {'If-Match': '"1"'},
                  self.itarget),
                 ('PATCH', API + '/incidents/ERR-1', {'title': 'x', 'version': 1}, None,
                  self.itarget)]
        for method, path, body, headers, target in cases:
            with self.subTest(method=method, path=path, body=body, headers=headers):
                self.reject(method, path, body, status=409, code='version_conflict',
                            field='version', headers=headers, target=target)

    def test_invalid_transition(self):
        self.reject('POST', self.apath + '/reopen', status=409, code='invalid_transition',
                    field='status', target=self.atarget)

    def test_duplicate(self):
        cases = [('POST', API + '/teams', {'name': 'core'}, 'name'),
                 ('PATCH', API + '/teams/edge', {'name': 'core'}, 'name'),
                 ('POST', API + '/people', {'handle': 'erin', 'name': 'E2',
                                            'email': 'e2@example.com'}, 'handle'),
                 ('POST', API + '/incidents', {'key': 'ERR-1', 'title': 'again'}, 'key'),
                 ('POST', API + '/people', {'handle': 'erin2', 'name': 'E2',
                                            'email': 'e2@example.com',
                                            'github_login': 'ERIN-GH'}, 'github_login'),
                 ('PATCH', API + '/people/olaf', {'github_login': 'erin-gh'}, 'github_login')]
        for method, path, body, field in cases:
            with self.subTest(method=method, path=path, body=body):
                self.reject(method, path, body, status=409, code='duplicate', field=field)

    def test_duplicate_jira_account_names_the_field(self):
        self.reject('POST', API + '/people', {'handle': 'erin3', 'name': 'E3',
                                              'email': 'e3@example.com',
                                              'jira_account_id': 'jira-erin'},
                    status=409, code='duplicate', field='jira_account_id')

    # -- 413 --

    def test_body_over_default_max_body(self):
        big = json.dumps({'name': 'big', 'manager': 'x' * (1024 * 1024 + 10)}).encode()
        self.reject('POST', API + '/teams', raw_body=big, status=413,
                    code='payload_too_large', field=None,
                    headers={'Content-Type': 'application/json'})

    # -- 415 --

    def test_wrong_content_type(self):
        body = json.dumps({'name': 'typed'}).encode()
        for ct in ('text/plain', 'application/x-www-form-urlencoded', 'application/xml',
                   'application/json-patch+json', None):
            with self.subTest(content_type=ct):
                headers = {'Content-Type': ct} if ct else None
                self.reject('POST', API + '/teams', raw_body=body, status=415,
                            code='unsupported_media_type', field=None, headers=headers)
        self.reject('PATCH', self.apath, raw_body=b'{"title":"t"}', status=415,
                    code='unsupported_media_type', field=None, target=self.atarget,
                    headers={'Content-Type': 'text/json'})
        # parameters after the media type are fine
        st, _, js, raw = self.svc.request('POST', API + '/teams', raw_body=body,
                                          headers={'Content-Type':
                                                   'application/json; charset=utf-8'})
        self.assertEqual(st, 201, raw)
        self.assertEqual(js['name'], 'typed')

    # -- 422 --

    def v(self, method, path, body, field, target=None):
        return self.reject(method, path, body, status=422, code='validation', field=field,
                           target=target)

    def test_unknown_field(self):
        self.v('POST', API + '/teams', {'name': 'x', 'colour': 'red'}, 'colour')
        self.v('PATCH', API + '/teams/core', {'members': []}, 'members')
        self.v('POST', API + '/people', {'handle': 'x', 'name': 'X', 'email': 'x@x.io',
                                         'phone': '1'}, 'phone')
        self.v('POST', API + '/incidents', {'key': 'X-1', 'title': 't', 'status': 'open'},
               'status')
        self.v('PATCH', API + '/incidents/ERR-1', {'owner': 'erin'}, 'owner', self.itarget)
        self.v('POST', API + '/actions', {'incident': 'ERR-1', 'kind': 'corrective',
                                          'title': 't', 'status': 'open'}, 'status')
        self.v('POST', API + '/actions', {'incident': 'ERR-1', 'kind': 'corrective',
                                          'title': 't', 'version': 1}, 'version')
        self.v('PATCH', self.apath, {'title': 't', 'closed_at': None}, 'closed_at',
               self.atarget)
        self.v('POST', self.apath + '/assign', {'owner': 'erin', 'note': 'x'}, 'note',
               self.atarget)
        self.v('POST', self.apath + '/done', {'reason': 'x'}, 'reason', self.atarget)

    def test_fields_that_cannot_change(self):
        self.v('PATCH', API + '/people/erin', {'handle': 'erin9'}, 'handle')
        self.v('PATCH', API + '/incidents/ERR-1', {'key': 'ERR-9'}, 'key', self.itarget)
        self.v('PATCH', self.apath, {'incident': 'ERR-1'}, 'incident', self.atarget)

    def test_missing_required_field(self):
        self.v('POST', API + '/teams', {}, 'name')
        self.v('POST', API + '/people', {'handle': 'x', 'name': 'X'}, 'email')
        self.v('POST', API + '/incidents', {'key': 'REQ-1'}, 'title')
        self.v('POST', API + '/actions', {'incident': 'ERR-1', 'title': 't'}, 'kind')
        self.v('POST', API + '/actions', {'kind': 'corrective', 'title': 't'}, 'incident')
        self.v('POST', self.apath + '/assign', {}, 'owner', self.atarget)

    def test_wrong_types(self):
        a = {'incident': 'ERR-1', 'kind': 'corrective', 'title': 't'}
        cases = [('POST', API + '/actions', dict(a, title=5), 'title', None),
                 ('POST', API + '/actions', dict(a, due_on=20260101), 'due_on', None),
                 ('POST', API + '/actions', dict(a, owner=['erin']), 'owner', None),
                 ('POST', API + '/actions', dict(a, priority=None), 'priority', None),
                 ('POST', API + '/actions', dict(a, kind=None), 'kind', None),
                 ('POST', API + '/actions', dict(a, description={'md': 1}), 'description',
                  None),
                 ('PATCH', self.apath, {'title': None}, 'title', self.atarget),
                 ('PATCH', self.apath, {'version': '2'}, 'version', self.atarget),
                 ('PATCH', self.apath, {'version': 1.5}, 'version', self.atarget),
                 ('PATCH', self.apath, {'status': True}, 'status', self.atarget),
                 ('POST', self.apath + '/start', {'version': 'two'}, 'version', self.atarget),
                 ('POST', API + '/people', {'handle': 'ty', 'name': 'T', 'email': 't@x.io',
                                            'active': 'yes'}, 'active', None),
                 ('PATCH', API + '/people/erin', {'active': None}, 'active', None),
                 ('PATCH', API + '/people/erin', {'name': 7}, 'name', None),
                 ('POST', API + '/teams', {'name': 12}, 'name', None),
                 ('PATCH', API + '/teams/core', {'manager': 3}, 'manager', None),
                 ('POST', API + '/incidents', {'key': 'TY-1', 'title': 't', 'severity': 2},
                  'severity', None),
                 ('PATCH', API + '/incidents/ERR-1', {'started_at': 1767225600},
                  'started_at', self.itarget)]
        for method, path, body, field, target in cases:
            with self.subTest(method=method, path=path, body=body):
                self.v(method, path, body, field, target)

    def test_bad_date(self):
        a = {'incident': 'ERR-1', 'kind': 'corrective', 'title': 't'}
        for bad in ('2026-02-30', '2025-02-29', '2026-13-01', '2026-1-5', '05/01/2026',
                    '2026-01-01T00:00:00Z', 'tomorrow', ''):
            with self.subTest(due_on=bad):
                self.v('POST', API + '/actions', dict(a, due_on=bad), 'due_on')
                self.v('PATCH', self.apath, {'due_on': bad}, 'due_on', self.atarget)

    def test_bad_timestamp(self):
        for bad in ('2026-01-01', '2026-01-01 10:00', '2026-01-01T10:00:00',
                    '2026-01-01T25:00:00Z', '2026-02-30T10:00:00Z', '2026-01-01T10:00:00+2',
                    'yesterday'):
            with self.subTest(started_at=bad):
                self.v('POST', API + '/incidents', {'key': 'TS-1', 'title': 't',
                                                    'started_at': bad}, 'started_at')
                self.v('PATCH', API + '/incidents/ERR-1', {'resolved_at': bad}, 'resolved_at',
                       self.itarget)

    def test_resolved_before_started(self):
        err, _ = self.reject('PATCH', API + '/incidents/ERR-1',
                             {'resolved_at': '2025-12-31T00:00:00Z'}, target=self.itarget)
        # two fields are at fault together: no field, or the one that was sent
        self.assertIn(err.get('field'), (None, 'resolved_at'), err)

    def test_unknown_references(self):
        a = {'incident': 'ERR-1', 'kind': 'corrective', 'title': 't'}
        cases = [('POST', API + '/actions', dict(a, owner='nobody'), 'owner', None),
                 ('PATCH', self.apath, {'owner': 'nobody'}, 'owner', self.atarget),
                 ('POST', self.apath + '/assign', {'owner': 'nobody'}, 'owner', self.atarget),
                 ('POST', API + '/people', {'handle': 'refs', 'name': 'R', 'email': 'r@x.io',
                                            'team': 'noteam'}, 'team', None),
                 ('PATCH', API + '/people/erin', {'team': 'noteam'}, 'team', None),
                 ('POST', API + '/actions', dict(a, incident='NOPE-404'), 'incident', None),
                 ('POST', API + '/incidents', {'key': 'REF-1', 'title': 't',
                                               'facilitator': 'nobody'}, 'facilitator', None),
                 ('PATCH', API + '/incidents/ERR-1', {'facilitator': 'nobody'}, 'facilitator',
                  self.itarget),
                 ('POST', API + '/teams', {'name': 'mgr', 'manager': 'nobody'}, 'manager',
                  None),
                 ('PATCH', API + '/teams/core', {'manager': 'nobody'}, 'manager', None)]
        for method, path, body, field, target in cases:
            with self.subTest(method=method, path=path, body=body):
                self.v(method, path, body, field, target)

    def test_inactive_owner(self):
        a = {'incident': 'ERR-1', 'kind': 'corrective', 'title': 't', 'owner': 'olaf'}
        self.v('POST', API + '/actions', a, 'owner')
        self.v('PATCH', self.apath, {'owner': 'olaf'}, 'owner', self.atarget)
        self.v('POST', self.apath + '/assign', {'owner': 'olaf'}, 'owner', self.atarget)

    def test_empty_or_blank_title(self):
        a = {'incident': 'ERR-1', 'kind': 'corrective'}
        for t in ('', ' ', '   \t  '):
            with self.subTest(title=t):
                self.v('POST', API + '/actions', dict(a, title=t), 'title')
                self.v('PATCH', self.apath, {'title': t}, 'title', self.atarget)
                self.v('POST', API + '/incidents', {'key': 'BL-1', 'title': t}, 'title')
                self.v('PATCH', API + '/incidents/ERR-1', {'title': t}, 'title', self.itarget)
        self.v('POST', API + '/people', {'handle': 'blank', 'name': '  ', 'email': 'b@x.io'},
               'name')
        self.v('POST', API + '/teams', {'name': ''}, 'name')
        self.v('POST', API + '/actions', dict(a, title='x' * 301), 'title')
        self.v('POST', API + '/actions', dict(a, title='bell\x07'), 'title')

    def test_unknown_status_kind_priority_severity(self):
        for s in ('closed', 'OPEN', 'done ', ''):
            with self.subTest(status=s):
                self.v('PATCH', self.apath, {'status': s}, 'status', self.atarget)
        a = {'incident': 'ERR-1', 'title': 't'}
        for k in ('fix', 'Corrective', ''):
            with self.subTest(kind=k):
                self.v('POST', API + '/actions', dict(a, kind=k), 'kind')
                self.v('PATCH', self.apath, {'kind': k}, 'kind', self.atarget)
        self.v('POST', API + '/actions', dict(a, kind='corrective', priority='P5'), 'priority')
        self.v('PATCH', self.apath, {'priority': 'high'}, 'priority', self.atarget)
        self.v('POST', API + '/incidents', {'key': 'SV-1', 'title': 't', 'severity': 'SEV0'},
               'severity')
        self.v('PATCH', API + '/incidents/ERR-1', {'severity': 'sev1'}, 'severity',
               self.itarget)
        self.v('PATCH', API + '/incidents/ERR-1', {'postmortem_url': 'ftp://x.example/pm'},
               'postmortem_url', self.itarget)

    def test_bad_email(self):
        for e in ('no-at-sign', 'a@b', 'a b@example.com', 'a@@example.com', '@example.com',
                  'x' * 250 + '@example.com'):
            with self.subTest(email=e):
                self.v('POST', API + '/people', {'handle': 'mailer', 'name': 'M', 'email': e},
                       'email')
                self.v('PATCH', API + '/people/erin', {'email': e}, 'email')

    def test_bad_handle(self):
        for h in ('Alice', '-dash', '.dot', 'two words', 'x' * 64, 'ünï', 'a/b', ''):
            with self.subTest(handle=h):
                self.v('POST', API + '/people', {'handle': h, 'name': 'H', 'email': 'h@x.io'},
                       'handle')

    def test_bad_team_name(self):
        for n in ('two words', '-lead', 'x' * 64, 'a/b'):
            with self.subTest(name=n):
                self.v('POST', API + '/teams', {'name': n}, 'name')
                self.v('PATCH', API + '/teams/core', {'name': n}, 'name')

    def test_bad_incident_key(self):
        for k in ('INC1', 'INC-', '-1', '1NC-1', 'INC--1', 'INC-1-2-3-4', 'INC_1', 'INC-1 2',
                  'ABCDEFGHIJKLMNOPQ-1', 'A-' + 'B' * 17, 'A-' + '-'.join(['BCDEFGHIJKLMN'] * 3),
                  ''):
            with self.subTest(key=k):
                err = self.v('POST', API + '/incidents', {'key': k, 'title': 't'}, 'key')
                if k:  # the message states the rule (issue 9, defect 2)
                    self.assertIn('parts of letters and digits', err[0]['message'])

    def test_messages_state_the_rule_and_count_characters(self):
        """issue 9, defect 7: a refused value is answered with the rule it broke; limits
        count characters (100 Japanese characters are 300 bytes and fit 300)."""
        for body, field, rule in (
                ({'key': 'RULE-1', 'title': 't', 'postmortem_url': 'ftp://pm.example/1'},
                 'postmortem_url', 'http:// or https://'),
                ({'key': 'RULE-2', 'title': 't', 'started_at': '2026-01-02T00:00:00Z',
                  'resolved_at': '2026-01-01T00:00:00Z'}, 'resolved_at',
                 'must not be before started_at')):
            with self.subTest(field=field):
                err, _ = self.v('POST', API + '/incidents', body, field)
                self.assertIn(rule, err['message'])
        jp = '\u65e5\u672c\u8a9e' * 100  # 300 characters, 900 bytes
        st, _, js, raw = self.svc.request('POST', API + '/incidents',
                                          body={'key': 'RULE-3', 'title': jp})
        self.assertEqual(st, 201, raw)
        err, _ = self.v('POST', API + '/incidents', {'key': 'RULE-4', 'title': jp + 'x'},
                        'title')
        self.assertIn('longer than 300 characters', err['message'])

    def test_cli_says_its_own_flag_names(self):
        """issue 9, defect 7: the CLI names --resolved, not resolved_at."""
        for args, flag, api in ((('incident', 'edit', 'ERR-1', '--postmortem', 'ftp://x/y'),
                                 '--postmortem', 'postmortem_url'),
                                (('incident', 'add', 'CLI-7', '--title', 't', '--started',
                                  '2026-01-02T00:00:00Z', '--resolved', '2026-01-01T00:00:00Z'),
                                 '--resolved', 'resolved_at')):
            with self.subTest(flag=flag):
                p = self.svc.cli(*args)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn(flag, p.stderr)
                self.assertNotIn(api, p.stderr)

    def test_unknown_timezone(self):
        for tz in ('Mars/Olympus_Mons', 'UTC+25', 'europe/paris', ''):
            with self.subTest(timezone=tz):
                self.v('POST', API + '/people', {'handle': 'tz', 'name': 'T',
                                                 'email': 't@x.io', 'timezone': tz},
                       'timezone')
                self.v('PATCH', API + '/people/erin', {'timezone': tz}, 'timezone')

    # -- 400 bad_request: query parameters --

    def test_query_parameter_errors(self):
        cases = [('/actions?bogus=1', 'bogus'), ('/actions?limit=0', 'limit'),
                 ('/actions?limit=501', 'limit'), ('/actions?limit=-1', 'limit'),
                 ('/actions?limit=ten', 'limit'), ('/actions?limit=', 'limit'),
                 ('/actions?cursor=zzz', 'cursor'), ('/actions?cursor=2026-02-30.5', 'cursor'),
                 ('/actions?cursor=infinity.x', 'cursor'), ('/actions?cursor=42', 'cursor'),
                 ('/actions?due_before=2026-02-30', 'due_before'),
                 ('/actions?due_after=tomorrow', 'due_after'),
                 ('/actions?due_before=2026-1-1', 'due_before'),
                 ('/actions?status=closed', 'status'), ('/actions?status=open,nope', 'status'),
                 ('/actions?overdue=1', 'overdue'), ('/actions?unowned=yes', 'unowned'),
                 ('/actions?kind=fix', 'kind'),
                 ('/teams?limit=0', 'limit'), ('/teams?cursor=abc', 'cursor'),
                 ('/teams?name=core', 'name'),
                 ('/people?active=maybe', 'active'), ('/people?limit=1000', 'limit'),
                 ('/people?cursor=-3', 'cursor'), ('/people?status=open', 'status'),
                 ('/incidents?status=closed', 'status'), ('/incidents?team=core', 'team'),
                 ('/actions/%d?verbose=1' % self.aid, 'verbose'),
                 ('/actions/%d/history?limit=5' % self.aid, 'limit'),
                 ('/teams/core?x=1', 'x')]
        for path, field in cases:
            with self.subTest(path=path):
                self.reject('GET', API + path, status=400, code='bad_request', field=field)

    def test_bad_if_match(self):
        for h in ('junk', '"abc"', '"0"', '""', '"-1"'):
            with self.subTest(if_match=h):
                self.reject('PATCH', self.apath, {'title': 'x'}, status=400,
                            code='bad_request', field='If-Match', headers={'If-Match': h},
                            target=self.atarget)


class LimitsAndRevocationTest(RejectCase):
    """A service with no token cache and a small body limit."""

    MAX_BODY = 4096

    @classmethod
    def setUpClass(cls):
        # ServiceTestCase.tearDownClass still stops it and checks exit code and log
        cls.svc = Service(name=cls.__name__,
                          env={'CLOSELOOP_TOKEN_CACHE_TTL': '0',
                               'CLOSELOOP_MAX_BODY': str(cls.MAX_BODY)}).start()
        st = cls.svc.request('POST', API + '/incidents', body={'key': 'LIM-1', 'title': 't'})[0]
        assert st == 201, st

    def port(self):
        return self.svc.port

    def action_body(self, size):
        """An action create body of exactly `size` bytes."""
        base = {'incident': 'LIM-1', 'kind': 'corrective', 'title': 'sized', 'description': ''}
        pad = size - len(json.dumps(base, separators=(',', ':')).encode())
        base['description'] = 'd' * pad
        raw = json.dumps(base, separators=(',', ':')).encode()
        assert len(raw) == size, (len(raw), size)
        return raw

    def head(self, length=None, chunked=False):
        tok = self.svc.tokens['admin']
        lines = ['POST %s/actions HTTP/1.1' % API, 'Host: 127.0.0.1',
                 'Authorization: Bearer %s' % tok, 'Content-Type: application/json',
                 'Connection: close']
        if chunked:
            lines.append('Transfer-Encoding: chunked')
        if length is not None:
            lines.append('Content-Length: %d' % length)
        return '\r\n'.join(lines) + '\r\n'

    def test_body_at_the_limit_is_accepted(self):
        raw = self.action_body(self.MAX_BODY)
        st, _, js, text = self.svc.request('POST', API + '/actions', raw_body=raw,
                                           headers={'Content-Type': 'application/json'})
        self.assertEqual(st, 201, text[:200])
        self.assertEqual(len(js['description']), len(json.loads(raw)['description']))

    def test_body_over_the_limit_with_content_length(self):
        raw = self.action_body(self.MAX_BODY + 1)
        self.reject('POST', API + '/actions', raw_body=raw, status=413,
                    code='payload_too_large', field=None,
                    headers={'Content-Type': 'application/json'})
        raw = self.action_body(self.MAX_BODY * 10)
        self.reject('POST', API + '/actions', raw_body=raw, status=413,
                    code='payload_too_large', field=None,
                    headers={'Content-Type': 'application/json'})

    def test_body_over_the_limit_chunked(self):
        before = self.snapshot()
        raw = self.action_body(self.MAX_BODY + 500)
        chunks = [raw[i:i + 1000] for i in range(0, len(raw), 1000)]
        st, js = http_raw(self.port(), self.head(chunked=True), chunks=chunks)
        self.assertEqual(st, 413, js)
        self.assertEqual(js['error']['code'], 'payload_too_large')
        self.assertNotIn('field', js['error'])
        self.assertEqual(self.snapshot(), before)
        # a small chunked body goes through: the 413 was about the size
        raw = self.action_body(600)
        st, js = http_raw(self.port(), self.head(chunked=True),
                          chunks=[raw[:300], raw[300:]])
        self.assertEqual(st, 201, js)
        self.assertEqual(js['title'], 'sized')

    def test_revoked_token(self):
        r = closeloopd(self.svc, 'token', 'create', '--name', 'temp-writer', '--scope', 'write')
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        tok = out.strip()
        self.assertTrue(tok.startswith('clt_'), out)
        js = self.ok('POST', API + '/incidents', {'key': 'REV-1', 'title': 'before'},
                     expect=201, token=tok)
        self.assertEqual(js['key'], 'REV-1')
        self.ok('GET', API + '/incidents/REV-1', token=tok)
        r = closeloopd(self.svc, 'token', 'revoke', 'temp-writer')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.reject('POST', API + '/incidents', {'key': 'REV-2', 'title': 'after'},
                    status=401, code='unauthorized', field=None, token=tok)
        self.reject('GET', API + '/incidents/REV-1', status=401, code='unauthorized',
                    field=None, token=tok)
        self.reject('PATCH', API + '/incidents/REV-1', {'title': 'x'}, status=401,
                    code='unauthorized', field=None, token=tok,
                    target=('incidents', 'key', 'REV-1'))
        # the other tokens still work
        self.ok('GET', API + '/incidents/REV-1', token='write')


if __name__ == '__main__':
    unittest.main()
