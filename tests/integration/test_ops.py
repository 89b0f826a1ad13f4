"""Operating closeloopd: health, readiness, metrics, request logs, graceful shutdown and the
admin verbs (--help, check-config, token list, migrate)."""
import glob
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Service, ServiceTestCase, psql

API = '/api/v1'
HERE = os.path.dirname(os.path.abspath(__file__))
SQL_DIR = os.path.join(HERE, '..', '..', 'sql')
BIN_DIR = os.environ.get('CLOSELOOP_BIN_DIR', os.path.join(HERE, '..', '..'))
CLOSELOOPD = os.path.join(BIN_DIR, 'closeloopd')


def latest_schema():
    """The highest migration number shipped in sql/ (what /readyz must expect)."""
    nums = [int(os.path.basename(p).split('_', 1)[0])
            for p in glob.glob(os.path.join(SQL_DIR, '[0-9]*_*.sql'))]
    assert nums, 'no migrations found in ' + SQL_DIR
    return max(nums)


def header(headers, name):
    """A response header (the harness gives a dict with lower-case names)."""
    return headers.get(name.lower())


def run_closeloopd(*args, env=None, timeout=30):
    """closeloopd ARGS with no CLOSELOOP_* or PG* setting but those in env."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(('CLOSELOOP_', 'PG'))}
    e.update(env or {})
    return subprocess.run([CLOSELOOPD] + list(args), env=e, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def admin_verb(svc, *args):
    """closeloopd ARGS against svc's database; fails the test on a non-zero exit."""
    r = run_closeloopd(*args, env={'CLOSELOOP_DATABASE_URL': svc.db.dsn})
    if r.returncode != 0:
        raise AssertionError('closeloopd %s exited %d: %s' % (' '.join(args), r.returncode,
                                                                r.stderr))
    return r


def psql_bin():
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/psql'),
                   key=lambda p: int(p.split('/')[4]) if p.split('/')[4].isdigit() else 0)
    return found[-1] if found else 'psql'


def no_pg_env():
    return {k: v for k, v in os.environ.items() if not k.startswith('PG')}


def wait_for(svc, query, timeout=10):
    """Polls until `query` (a count) is positive."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if int(svc.sql(query)[0][0]) > 0:
            return
        time.sleep(0.05)
    raise AssertionError('timed out waiting for: ' + query)


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels)): value}, plus the TYPE lines."""
    samples, types = {}, {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind
            continue
        if line.startswith('#'):
            continue
        m = line_re.match(line)
        if not m:
            raise AssertionError('not a Prometheus sample line: %r' % line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ''))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples, types


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


class OpsTest(ServiceTestCase):

    def req(self, method, path, body=None, token='admin', headers=None):
        return self.svc.request(method, path, body=body, token=token, headers=headers)

    def metrics(self):
        st, hd, _, raw = self.req('GET', '/metrics', token=None)
        self.assertEqual(st, 200)
        self.assertTrue(header(hd, 'Content-Type').startswith('text/plain'),
                        header(hd, 'Content-Type'))
        return parse_metrics(raw.decode())

    def test_healthz(self):
        st, hd, js, _ = self.req('GET', '/healthz', token=None)
        self.assertEqual(st, 200)
        self.assertEqual(js, {'status': 'ok'})
        self.assertTrue(header(hd, 'Content-Type').startswith('application/json'))

    def test_readyz(self):
        st, _, js, _ = self.req('GET', '/readyz', token=None)
        self.assertEqual(st, 200, js)
        n = latest_schema()
        self.assertEqual(js, {'status': 'ready', 'database': True, 'schema': n,
                              'expected_schema': n, 'stale_repositories': 0,
                              'sync_error': None})
        self.assertEqual(int(self.svc.sql('SELECT max(version) FROM schema_migrations')[0][0]),
                         n)

    def test_metrics_count_requests_by_route_and_status(self):
        before, _ = self.metrics()
        for _ in range(3):
            self.assertEqual(self.req('GET', API + '/teams/no-such-team')[0], 404)
        self.assertEqual(self.req('POST', API + '/teams', {'name': 'metrics-team'})[0], 201)
        self.assertEqual(self.req('GET', API + '/teams/metrics-team')[0], 200)
        self.assertEqual(self.req('GET', API + '/teams', token=None)[0], 401)
        after, types = self.metrics()

        def delta(**labels):
            return (sample(after, 'closeloop_http_requests_total', **labels)
                    - sample(before, 'closeloop_http_requests_total', **labels))

        self.assertEqual(delta(route='/api/v1/teams/{}', method='GET', status='404'), 3)
        self.assertEqual(delta(route='/api/v1/teams/{}', method='GET', status='200'), 1)
        self.assertEqual(delta(route='/api/v1/teams', method='POST', status='201'), 1)
        self.assertEqual(delta(route='/api/v1/teams', method='GET', status='401'), 1)
        self.assertEqual(types.get('closeloop_http_requests_total'), 'counter')

    def test_typos_are_not_database_errors(self):
        """issue 9, defect 10: users' validation errors count as rejected requests by
        reason, never in closeloop_db_errors_total."""
        before, _ = self.metrics()
        self.assertEqual(self.req('POST', API + '/people', {'handle': 'typo-p', 'name': 'T',
                                                           'email': 't@example.com',
                                                           'team': 'no-such-team'})[0], 422)
        self.assertEqual(self.req('PATCH', API + '/teams/no-such-team', {'name': 'x'})[0], 404)
        self.assertEqual(self.req('POST', API + '/teams', {'name': 'typo-dup'})[0], 201)
        self.assertEqual(self.req('POST', API + '/teams', {'name': 'typo-dup'})[0], 409)
        after, types = self.metrics()

        def delta(name, **labels):
            return sample(after, name, **labels) - sample(before, name, **labels)
        self.assertEqual(delta('closeloop_db_errors_total'), 0)
        self.assertEqual(delta('closeloop_requests_rejected_total', reason='validation'), 1)
        self.assertEqual(delta('closeloop_requests_rejected_total', reason='not_found'), 1)
        self.assertEqual(delta('closeloop_requests_rejected_total', reason='duplicate'), 1)
        self.assertEqual(types.get('closeloop_requests_rejected_total'), 'counter')

    def test_a_405_says_what_is_allowed_and_counts_under_its_route(self):
        """issue 9, defect 11."""
        before, _ = self.metrics()
        st, hd, _, _ = self.req('DELETE', API + '/teams')
        self.assertEqual(st, 405)
        self.assertEqual(header(hd, 'Allow'), 'GET, POST')
        after, _ = self.metrics()

        def delta(**labels):
            return (sample(after, 'closeloop_http_requests_total', **labels)
                    - sample(before, 'closeloop_http_requests_total', **labels))
        self.assertEqual(delta(route='/api/v1/teams', method='DELETE', status='405'), 1)
        self.assertEqual(delta(route='unmatched', method='DELETE', status='405'), 0)

    def test_sync_metrics_exist_without_a_tracker(self):
        """issue 9, defect 12: the README's sync series are there (at zero) with no tracker
        connection, so alerts copied from the README find them."""
        self.assertFalse(self.svc.sql("SELECT 1 FROM sync_scopes LIMIT 1"), "no tracker here")
        samples, types = self.metrics()
        for name, kind in (('closeloop_sync_outbox_pending', 'gauge'),
                           ('closeloop_sync_outbox_failed', 'gauge'),
                           ('closeloop_sync_inbox_pending', 'gauge'),
                           ('closeloop_sync_inbox_processed_total', 'counter'),
                           ('closeloop_sync_inbox_pruned_total', 'counter'),
                           ('closeloop_sync_reconcile_age_seconds', 'gauge')):
            with self.subTest(name=name):
                self.assertIn((name, frozenset()), samples)
                self.assertEqual(samples[(name, frozenset())], 0)
                self.assertEqual(types.get(name), kind)

    def test_one_version_everywhere(self):
        """issue 9, defect 15: closeloop, closeloopd and /metrics say the same version."""
        cli = self.svc.cli('--version')
        self.assertEqual(cli.returncode, 0, cli.stderr)
        m = re.fullmatch(r'closeloop (\d+\.\d+\.\d+)\n', cli.stdout)
        self.assertIsNotNone(m, cli.stdout)
        daemon = subprocess.run([self.svc.daemon, '--version'], capture_output=True, text=True,
                                timeout=10)
        self.assertTrue(daemon.stdout.startswith('closeloopd %s ' % m.group(1)), daemon.stdout)
        samples, _ = self.metrics()
        self.assertEqual(sample(samples, 'closeloop_build_info', version=m.group(1)), 1)

    def test_metrics_histogram(self):
        self.assertEqual(self.req('GET', API + '/people')[0], 200)
        before, _ = self.metrics()
        for _ in range(4):
            self.assertEqual(self.req('GET', API + '/people')[0], 200)
        after, types = self.metrics()
        name = 'closeloop_http_request_duration_seconds'
        self.assertEqual(types.get(name), 'histogram')
        buckets = sorted(((float(dict(k[1])['le']), v) for k, v in after.items()
                          if k[0] == name + '_bucket' and dict(k[1]).get('route') ==
                          '/api/v1/people'), key=lambda b: b[0])
        self.assertGreaterEqual(len(buckets), 5)
        self.assertEqual(buckets[-1][0], float('inf'))
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), 'buckets are cumulative')
        count = sample(after, name + '_count', route='/api/v1/people')
        self.assertEqual(buckets[-1][1], count)
        self.assertEqual(count - sample(before, name + '_count', route='/api/v1/people'), 4)
        self.assertGreater(sample(after, name + '_sum', route='/api/v1/people'),
                           sample(before, name + '_sum', route='/api/v1/people'))

    def test_metrics_pool_gauges(self):
        self.assertEqual(self.req('GET', API + '/incidents')[0], 200)
        m, types = self.metrics()
        self.assertEqual(types.get('closeloop_db_pool_connections'), 'gauge')
        self.assertEqual(types.get('closeloop_http_requests_in_flight'), 'gauge')
        conf = sample(m, 'closeloop_db_pool_connections', state='configured')
        conn = sample(m, 'closeloop_db_pool_connections', state='connected')
        busy = sample(m, 'closeloop_db_pool_connections', state='busy')
        self.assertGreaterEqual(conf, 1)
        self.assertGreaterEqual(conn, 1, 'a query just ran, so a connection is up')
        self.assertLessEqual(conn, conf)
        self.assertLessEqual(busy, conn)
        self.assertEqual(busy, 0)
        self.assertEqual(sample(m, 'closeloop_db_queued_queries'), 0)
        self.assertGreaterEqual(sample(m, 'closeloop_db_queries_total'), 1)
        # the /metrics request itself is the only one in flight
        self.assertEqual(sample(m, 'closeloop_http_requests_in_flight'), 1)

    def test_one_log_line_per_request_with_request_id(self):
        ids = []
        admin = str(self.svc.sql("SELECT name FROM api_tokens WHERE scope = 'admin'"
                                 " ORDER BY id LIMIT 1")[0][0])
        reader = str(self.svc.sql("SELECT name FROM api_tokens WHERE scope = 'read'"
                                  " ORDER BY id LIMIT 1")[0][0])
        # (path, token, the principal the line names: token name, or '-' when none was
        # established: no token, or a route that does not exist)
        for path, tok, who in ((API + '/teams?limit=2', 'admin', admin),
                               (API + '/nope', 'admin', '-'),
                               (API + '/people', 'read', reader),
                               (API + '/teams', None, '-')):
            st, hd, _, _ = self.req('GET', path, token=tok)
            rid = header(hd, 'X-Request-Id')
            self.assertTrue(rid, 'X-Request-Id header on %s' % path)
            ids.append((rid, path, st, who))
        self.assertEqual(len({i[0] for i in ids}), len(ids), 'request ids are unique')
        log = self.wait_log(lambda text: all('req=%s ' % i[0] in text for i in ids))
        for rid, path, st, who in ids:
            lines = [ln for ln in log.splitlines()
                     if re.search(r'\breq=%s\b' % re.escape(rid), ln)
                     and 'event=request' in ln]
            self.assertEqual(len(lines), 1, (rid, lines))
            ln = lines[0]
            self.assertIn('method="GET"', ln)
            self.assertIn('path="%s"' % path.split('?')[0], ln)
            self.assertIn('status=%d' % st, ln)
            self.assertRegex(ln, r'\bprincipal=%s(\s|$)' % re.escape(who))

    def wait_log(self, ready, timeout=5):
        deadline = time.time() + timeout
        while True:
            text = self.svc.log_text()
            if ready(text) or time.time() > deadline:
                return text
            time.sleep(0.05)

    def test_tokens_dsn_and_bodies_never_logged(self):
        bogus = 'clt_S3cretTokenValueThatMustNotLeak' + 'x' * 12
        marker = 'BodyMarker-7f3a9c'
        self.req('GET', API + '/teams', token=bogus)
        for tok in ('admin', 'write', 'read'):
            self.assertEqual(self.req('GET', API + '/teams', token=tok)[0], 200)
        self.assertEqual(self.req('POST', API + '/incidents',
                                  {'key': 'LOG-1', 'title': marker}, token='write')[0], 201)
        self.assertEqual(self.req('POST', API + '/incidents',
                                  {'key': 'LOG-1', 'title': marker + '-dup'})[0], 409)
        self.req('GET', API + '/teams', token=None,
                 headers={'Authorization': 'Basic dXNlcjpodW50ZXIy'})
        st, hd, _, _ = self.req('GET', '/healthz', token=None)
        last = header(hd, 'X-Request-Id')
        log = self.wait_log(lambda text: 'req=%s ' % last in text)
        self.assertIn('req=%s ' % last, log)
        secrets = [bogus, 'dXNlcjpodW50ZXIy', marker, self.svc.db.dsn]
        secrets += [self.svc.tokens[name] for name in ('admin', 'write', 'read')]
        for s in secrets:
            self.assertNotIn(s, log)
        self.assertNotIn('clt_', log)

    # -- the admin verbs --

    def test_help(self):
        r = run_closeloopd('--help')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('usage: closeloopd', r.stdout)
        for verb in ('serve', 'migrate', 'token create', 'token list', 'token revoke',
                     'check-config'):
            self.assertIn(verb, r.stdout)
        self.assertEqual(run_closeloopd('-h').stdout, r.stdout)

    def test_check_config_hides_the_database_url(self):
        secret = 'pw-Zq81xK'
        url = 'postgresql://closeloop:%s@db.example.com:5432/closeloop' % secret
        r = run_closeloopd('check-config', env={'CLOSELOOP_DATABASE_URL': url,
                                                'CLOSELOOP_LISTEN': '127.0.0.1:9999',
                                                'CLOSELOOP_POOL_SIZE': '3'})
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout + r.stderr
        self.assertNotIn(secret, out)
        self.assertNotIn('db.example.com', out)
        self.assertIn('configuration is valid', r.stdout)
        self.assertRegex(r.stdout, r'(?m)^listen\s*=\s*127\.0\.0\.1:9999$')
        self.assertRegex(r.stdout, r'(?m)^pool_size\s*=\s*3$')
        self.assertRegex(r.stdout, r'(?m)^database_url\s*=')

    def test_check_config_from_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'closeloopd.ini')
            with open(path, 'w') as f:
                f.write('# comment\n[closeloopd]\ndatabase_url = "postgresql:///x?'
                        'password=hunter2pw"\nmax_body = 2048\n')
            os.chmod(path, 0o600)  # it holds a secret: others may not read it
            r = run_closeloopd('--config', path, 'check-config')
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r'(?m)^max_body\s*=\s*2048$')
            self.assertNotIn('hunter2pw', r.stdout + r.stderr)

    def test_bad_config_file_names_file_and_line(self):
        bad_lines = ['pool_size = 0', 'no_such_key = 1', 'this line has no equals sign',
                     '[wrong-section]', 'request_timeout = soon', 'log_level = loud']
        with tempfile.TemporaryDirectory() as d:
            for bad in bad_lines:
                with self.subTest(line=bad):
                    path = os.path.join(d, 'bad.ini')
                    with open(path, 'w') as f:
                        f.write('[closeloopd]\n# fine so far\nlisten = 127.0.0.1:8080\n'
                                '%s\nmax_body = 2048\n' % bad)
                    r = run_closeloopd('--config', path, 'check-config',
                                       env={'CLOSELOOP_DATABASE_URL': 'postgresql:///x'})
                    self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
                    self.assertIn('%s:4' % path, r.stderr)
                    self.assertNotIn('configuration is valid', r.stdout)

    def test_token_list_never_prints_values(self):
        out = admin_verb(self.svc, 'token', 'list').stdout
        lines = out.strip().splitlines()
        self.assertRegex(lines[0], r'^ID\s+NAME\s+SCOPE')
        names = [str(row[0]) for row in self.svc.sql('SELECT name FROM api_tokens ORDER BY id')]
        self.assertEqual(len(lines) - 1, len(names))
        for line, name in zip(lines[1:], names):
            self.assertEqual(line.split()[1], name)
        self.assertNotIn('clt_', out)
        for h in self.svc.sql('SELECT hash FROM api_tokens'):
            self.assertNotIn(str(h[0]), out)
        for tok in self.svc.tokens.values():
            self.assertNotIn(tok, out)

    def test_migrate_twice_applies_nothing(self):
        q = 'SELECT version, checksum, applied_at::text FROM schema_migrations ORDER BY version'
        before = [tuple(map(str, r)) for r in self.svc.sql(q)]
        self.assertEqual(len(before), latest_schema())
        for _ in range(2):
            out = admin_verb(self.svc, 'migrate').stdout
            self.assertIn('schema at version %d (0 applied)' % latest_schema(), out)
        self.assertEqual([tuple(map(str, r)) for r in self.svc.sql(q)], before)


class DatabaseGoneTest(unittest.TestCase):
    """/readyz answers 503 once the database has gone away."""

    def test_readyz_503_when_database_is_gone(self):
        svc = Service(name='DatabaseGoneTest').start()
        try:
            st, _, js, _ = svc.request('GET', '/readyz', token=None)
            self.assertEqual(st, 200, js)
            self.assertEqual(svc.request('GET', API + '/teams')[0], 200)
            # a schema behind the binary is not ready either
            n = latest_schema()
            svc.sql("CREATE TABLE saved_migration AS SELECT * FROM schema_migrations"
                    " WHERE version = :'p1'; DELETE FROM schema_migrations WHERE version = :'p1'",
                    n)
            st, _, js, _ = svc.request('GET', '/readyz', token=None)
            self.assertEqual(st, 503, js)
            self.assertEqual(js, {'status': 'migrating', 'database': True, 'schema': n - 1,
                                  'expected_schema': n, 'stale_repositories': 0,
                              'sync_error': None})
            svc.sql('INSERT INTO schema_migrations SELECT * FROM saved_migration')
            self.assertEqual(svc.request('GET', '/readyz', token=None)[0], 200)
            svc.db.drop()  # DROP DATABASE ... WITH (FORCE): its sessions are cut
            st, _, js, _ = svc.request('GET', '/readyz', token=None)
            self.assertEqual(st, 503, js)
            self.assertEqual(js, {'status': 'unavailable', 'database': False})
            st, _, js, _ = svc.request('GET', API + '/teams/anything')
            self.assertEqual(st, 503, js)
            self.assertEqual(js['error']['code'], 'unavailable')
            st, _, js, _ = svc.request('GET', '/healthz', token=None)
            self.assertEqual((st, js), (200, {'status': 'ok'}), 'the process is still up')
            # the database comes back: closeloopd reconnects by itself
            psql(svc.db.admin_dsn, 'CREATE DATABASE "%s"' % svc.db.name)
            admin_verb(svc, 'migrate')
            deadline = time.time() + 20
            while time.time() < deadline:
                st = svc.request('GET', '/readyz', token=None)[0]
                if st == 200:
                    break
                time.sleep(0.2)
            self.assertEqual(st, 200, 'ready again once the database is back')
            # a token made in the new database is accepted: queries run again
            tok = admin_verb(svc, 'token', 'create', '--name', 'again', '--scope',
                             'read').stdout.strip()
            self.assertEqual(svc.request('GET', API + '/teams', token=tok)[0], 200)
            metrics = parse_metrics(svc.request('GET', '/metrics', token=None)[3].decode())[0]
            self.assertGreaterEqual(sample(metrics, 'closeloop_db_reconnects_total'), 1)
        finally:
            code = svc.stop()
        self.assertEqual(code, 0)
        svc.assert_clean_log()


def patch_blocked_on_row_lock(test, svc, key, held):
    """Creates an action, holds its row lock from psql for 2.5 s and starts a PATCH of it in
    a thread, returning once the PATCH waits on the lock: (action id, the psql process, the
    thread, the dict its outcome lands in as 'r', or the exception it raised). The psql is
    appended to `held` at once, so the caller's cleanup finds it even when a step fails."""
    st, _, _, raw = svc.request('POST', API + '/incidents', body={'key': key, 'title': 't'})
    test.assertEqual(st, 201, raw)
    st, _, js, raw = svc.request('POST', API + '/actions',
                                 body={'incident': key, 'kind': 'corrective', 'title': 'before'})
    test.assertEqual(st, 201, raw)
    aid = js['id']
    locker = subprocess.Popen(
        [psql_bin(), '-X', '-q', '-v', 'ON_ERROR_STOP=1', svc.db.dsn, '-c',
         "BEGIN; SELECT id FROM actions WHERE id = %d FOR UPDATE;"
         " SELECT pg_sleep(2.5); COMMIT;" % aid],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=no_pg_env())
    held.append(locker)
    wait_for(svc, "SELECT count(*) FROM pg_stat_activity"  # asleep: the row is locked
                  " WHERE query LIKE '%%pg_sleep(2.5)%%' AND wait_event = 'PgSleep'"
                  " AND state = 'active' AND pid <> pg_backend_pid()")
    result = {}

    def slow():
        try:
            result['r'] = svc.request('PATCH', '%s/actions/%d' % (API, aid),
                                      body={'title': 'after'})
        except (OSError, http.client.HTTPException) as e:
            result['r'] = e

    t = threading.Thread(target=slow)
    t.start()
    # the PATCH is now blocked on the row lock inside PostgreSQL
    wait_for(svc, "SELECT count(*) FROM pg_stat_activity"
                  " WHERE wait_event_type = 'Lock' AND query LIKE"
                  " '%%cl_action_change_why%%'")  # the PATCH's statement
    return aid, locker, t, result


class GracefulShutdownTest(unittest.TestCase):
    """SIGTERM while a request waits on a row lock: the request completes, the process
    exits 0."""

    def test_sigterm_drains_in_flight_request(self):
        svc = Service(name='GracefulShutdownTest').start()
        held = []  # the psql holding the row lock, for the finally below
        try:
            aid, locker, t, result = patch_blocked_on_row_lock(self, svc, 'SIG-1', held)
            proc = svc.proc
            os.kill(svc.proc.pid, signal.SIGTERM)
            time.sleep(0.3)
            self.assertIsNone(proc.poll(), 'closeloopd waits for the request in flight')
            # no new work is taken while draining
            with self.assertRaises(OSError):
                socket.create_connection(('127.0.0.1', svc.port), timeout=2).close()
            t.join(20)
            self.assertFalse(t.is_alive(), 'the in-flight request finished')
            st, _, js, raw = result['r']
            self.assertEqual(st, 200, raw)
            self.assertEqual((js['title'], js['version']), ('after', 2))
            self.assertEqual(proc.wait(20), 0)
            self.assertEqual(locker.wait(20), 0)
            self.assertEqual(str(svc.sql("SELECT title FROM actions WHERE id = :'p1'", aid)[0][0]),
                             'after')
            log = svc.log_text()
            self.assertIn('event=shutdown_begin', log)
            self.assertIn('event=shutdown_done', log)
        finally:
            for locker in held:
                if locker.poll() is None:
                    locker.kill()
                    locker.wait()
            code = svc.stop()
        self.assertEqual(code, 0)
        svc.assert_clean_log()


class ForcedShutdownTest(unittest.TestCase):
    """Shutdown that cannot wait for a request in flight: a second SIGTERM, or
    shutdown_timeout running out."""

    def assert_not_applied_if_refused(self, svc, locker, outcome, aid):
        """When the client was told the change failed (a 5xx answer), the change must not
        show up once the row lock is released."""
        self.assertEqual(locker.wait(20), 0)
        time.sleep(0.5)  # a statement still queued behind the lock would be done by now
        row = svc.sql("SELECT title, version FROM actions WHERE id = :'p1'", aid)[0]
        if isinstance(outcome, tuple) and outcome[0] >= 500:
            self.assertEqual(row, ['before', '1'],
                             'answered %d %r, yet the change was applied'
                             % (outcome[0], outcome[3][:200]))

    def test_second_sigterm_exits_at_once(self):
        svc = Service(name='SecondSignalTest').start()
        held = []  # the psql holding the row lock, for the finally below
        try:
            aid, locker, t, result = patch_blocked_on_row_lock(self, svc, 'SIG-2', held)
            proc = svc.proc
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            self.assertIsNone(proc.poll(), 'the first SIGTERM waits for the request')
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                self.fail('closeloopd still running 3 s after the second SIGTERM')
            self.assertLess(time.monotonic() - started, 3)
            self.assertIsNone(locker.poll(), 'it did not wait for the row lock')
            t.join(15)
            self.assertIn('event=shutdown_forced', svc.log_text())
            # it exits, it does not crash: no death by signal (SIGABRT), no fatal error
            self.assertGreaterEqual(proc.returncode, 0,
                                    'killed by signal %d; log:\n%s'
                                    % (-proc.returncode, svc.log_text()[-600:]))
            self.assertNotIn('Fatal error', svc.log_text())
            self.assert_not_applied_if_refused(svc, locker, result.get('r'), aid)
        finally:
            for locker in held:
                if locker.poll() is None:
                    locker.kill()
                    locker.wait()
            svc.stop()
        svc.assert_clean_log()

    def test_shutdown_timeout_then_exit_0(self):
        # README: in-flight requests get up to shutdown_timeout, "then exit 0"
        svc = Service(name='ShutdownTimeoutTest',
                      env={'CLOSELOOP_SHUTDOWN_TIMEOUT': '0.5'}).start()
        held = []  # the psql holding the row lock, for the finally below
        try:
            aid, locker, t, result = patch_blocked_on_row_lock(self, svc, 'SIG-3', held)
            proc = svc.proc
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(3)
            except subprocess.TimeoutExpired:
                self.fail('closeloopd still running 3 s after SIGTERM (shutdown_timeout 0.5)')
            t.join(15)
            self.assertIn('event=shutdown_timeout', svc.log_text())
            self.assertEqual(code, 0, svc.log_text()[-600:])
            self.assert_not_applied_if_refused(svc, locker, result.get('r'), aid)
        finally:
            for locker in held:
                if locker.poll() is None:
                    locker.kill()
                    locker.wait()
            svc.stop()
        svc.assert_clean_log()


class TokenLastUsedTest(unittest.TestCase):
    """issue 9, defect 8: LAST USED shows when a token was used, written at most once a
    minute per token, not once per request (here with no token cache at all)."""

    def test_last_used_is_recorded_cheaply(self):
        svc = Service(name='TokenLastUsedTest', env={'CLOSELOOP_TOKEN_CACHE_TTL': '0'}).start()
        try:
            tok = admin_verb(svc, 'token', 'create', '--name', 'used', '--scope',
                             'read').stdout.strip()
            row = "SELECT last_used_at IS NOT NULL, xmin::text FROM api_tokens WHERE name = 'used'"
            self.assertEqual(svc.sql(row)[0][0], 'f')
            self.assertEqual(svc.request('GET', API + '/teams', token=tok)[0], 200)
            used, version = svc.sql(row)[0]
            self.assertEqual(used, 't')
            for _ in range(20):
                self.assertEqual(svc.request('GET', API + '/teams', token=tok)[0], 200)
            self.assertEqual(svc.sql(row)[0][1], version, 'no write for each request')
            line = [ln for ln in admin_verb(svc, 'token', 'list').stdout.splitlines()
                    if ln.split()[1:2] == ['used']][0]
            self.assertRegex(line, r'\d{4}-\d\d-\d\d \d\d:\d\d')
        finally:
            svc.stop()


class ReloadTest(unittest.TestCase):
    """README: SIGHUP re-reads the file and applies the reloadable keys (max_body here)."""

    def test_sighup_applies_new_max_body(self):
        d = tempfile.mkdtemp(prefix='clreload.')
        path = os.path.join(d, 'closeloopd.ini')
        with open(path, 'w') as f:
            f.write('[closeloopd]\nmax_body = 8192\n')
        svc = Service(name='ReloadTest', env={'CLOSELOOP_CONFIG': path}).start()
        try:
            desc = 'x' * 4000
            body = {'key': 'HUP-1', 'title': 'reload', 'postmortem_url':
                    'https://example.com/' + desc[:1500]}
            st, _, _, raw = svc.request('POST', API + '/incidents', body=body)
            self.assertEqual(st, 201, raw)
            with open(path, 'w') as f:
                f.write('[closeloopd]\nmax_body = 1024\n')
            svc.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 5
            while 'event=reloaded' not in svc.log_text() and time.time() < deadline:
                time.sleep(0.05)
            self.assertIn('event=reloaded', svc.log_text())
            body['key'] = 'HUP-2'
            st, _, js, raw = svc.request('POST', API + '/incidents', body=body)
            self.assertEqual(st, 413, raw)
            self.assertEqual(js['error']['code'], 'payload_too_large')
            self.assertEqual(svc.sql("SELECT count(*) FROM incidents")[0][0], '1')
            st, _, _, raw = svc.request('POST', API + '/incidents',
                                        body={'key': 'HUP-3', 'title': 'small'})
            self.assertEqual(st, 201, raw)
        finally:
            code = svc.stop()
            shutil.rmtree(d, ignore_errors=True)
        self.assertEqual(code, 0)
        svc.assert_clean_log()


class ReloadKeepsFlagsTest(unittest.TestCase):
    """Flags beat the file and the environment, on SIGHUP too: a reload re-reads the file
    and the environment (both say warn) but keeps --log-level info from the command line."""

    def test_sighup_keeps_the_log_level_flag(self):
        d = tempfile.mkdtemp(prefix='clreload.')
        path = os.path.join(d, 'closeloopd.ini')
        with open(path, 'w') as f:
            f.write('[closeloopd]\nlog_level = warn\n')
        svc = Service(name='ReloadKeepsFlagsTest',
                      env={'CLOSELOOP_CONFIG': path, 'CLOSELOOP_LOG_LEVEL': 'warn'},
                      flags=['--log-level', 'info']).start()
        try:
            svc.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 5
            while 'event=reloaded' not in svc.log_text() and time.time() < deadline:
                time.sleep(0.05)
            self.assertIn('event=reloaded log_level=info', svc.log_text())
            st, _, _, raw = svc.request('GET', '/healthz', token=None)
            self.assertEqual(st, 200, raw)
            until_logged = time.time() + 5
            while 'path="/healthz"' not in svc.log_text().split('event=reloaded')[-1] \
                    and time.time() < until_logged:
                time.sleep(0.05)
            self.assertIn('path="/healthz"', svc.log_text().split('event=reloaded')[-1],
                          'info lines still logged after the reload')
        finally:
            code = svc.stop()
            shutil.rmtree(d, ignore_errors=True)
        self.assertEqual(code, 0)


class DeadlineTest(unittest.TestCase):
    """A change that misses request_timeout answers 503 unavailable ("try again"): it must
    then not be applied behind the client's back."""

    def test_deadline_503_changes_nothing(self):
        svc = Service(name='DeadlineTest', env={'CLOSELOOP_REQUEST_TIMEOUT': '0.5'}).start()
        locker = None
        try:
            st, _, _, raw = svc.request('POST', API + '/incidents',
                                        body={'key': 'DL-1', 'title': 't'})
            self.assertEqual(st, 201, raw)
            st, _, js, raw = svc.request('POST', API + '/actions',
                                         body={'incident': 'DL-1', 'kind': 'corrective',
                                               'title': 'before', 'due_on': None})
            self.assertEqual(st, 201, raw)
            aid = js['id']
            locker = subprocess.Popen(
                [psql_bin(), '-X', '-q', '-v', 'ON_ERROR_STOP=1', svc.db.dsn, '-c',
                 "BEGIN; SELECT id FROM actions WHERE id = %d FOR UPDATE;"
                 " SELECT pg_sleep(1.5); COMMIT;" % aid],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=no_pg_env())
            # asleep, so the row is locked (the query text shows from the string's start,
            # before its FOR UPDATE ran)
            wait_for(svc, "SELECT count(*) FROM pg_stat_activity"
                          " WHERE query LIKE '%%pg_sleep(1.5)%%' AND wait_event = 'PgSleep'"
                          " AND state = 'active' AND pid <> pg_backend_pid()")
            st, _, js, raw = svc.request('PATCH', '%s/actions/%d' % (API, aid),
                                         body={'title': 'after'})
            self.assertEqual(st, 503, raw)
            self.assertEqual(js['error']['code'], 'unavailable')
            self.assertEqual(locker.wait(20), 0)
            time.sleep(0.5)  # let anything still queued in PostgreSQL finish
            row = svc.sql("SELECT title, version FROM actions WHERE id = :'p1'", aid)[0]
            self.assertEqual((str(row[0]), int(row[1])), ('before', 1),
                             'the 503 change was applied after all')
            self.assertEqual(int(svc.sql("SELECT count(*) FROM events WHERE action_id = :'p1'",
                                         aid)[0][0]), 1)
        finally:
            if locker is not None and locker.poll() is None:
                locker.kill()
                locker.wait()
            code = svc.stop()
        self.assertEqual(code, 0)
        svc.assert_clean_log()


if __name__ == '__main__':
    unittest.main()
