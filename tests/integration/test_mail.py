"""Mail: the queue (cl_mail_enqueue), closeloopd's worker sending through a real SMTP
server (tests/fakes/smtp_server.py), retries, permanent failures, several instances and
a crash between the server's reply and its record.

Each test sends to its own addresses and looks only at its own messages.
"""
import json
import time
import unittest
import uuid

from harness import Service, until
from smtp import Peer, SmtpServer

API = '/api/v1'


def addr(tag):
    return '%s-%s@rcpt.example' % (tag, uuid.uuid4().hex[:8])


class MailCase(unittest.TestCase):
    """One SMTP server and one closeloopd sending through it, per class."""

    env = {}
    auth = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.smtp = SmtpServer(auth=cls.auth).start()
        try:
            cls.svc = Service(name=cls.__name__, env=cls.smtp.env(**cls.env)).start()
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
            super().tearDownClass()

    def enqueue(self, to, subject='hello', payload=None, dedup=None, name=None, kind='test'):
        rows = self.svc.sql(
            "SELECT cl_mail_enqueue(:'p1', :'p2', nullif(:'p3', ''), :'p4', :'p5'::jsonb,"
            " nullif(:'p6', ''))",
            kind, to, name or '', subject, json.dumps(payload or {}), dedup or '')
        return int(rows[0][0])

    def row(self, mid):
        r = self.svc.request('GET', API + '/mail?limit=500')
        self.assertEqual(r.status, 200, r.body)
        for m in json.loads(r.body)['items']:
            if m['id'] == mid:
                return m
        self.fail('mail %d not in GET /api/v1/mail' % mid)

    def mine(self, to):
        return [m for m in self.smtp.messages() if to in m['rcpt_tos']]

    def wait_mine(self, to, n=1, timeout=15.0):
        return until(lambda: len(self.mine(to)) >= n and self.mine(to), timeout=timeout,
                     what='%d message(s) to %s' % (n, to))


class DeliveryTest(MailCase):

    def test_message_arrives_once_with_headers_and_parts(self):
        to = addr('ana')
        mid = self.enqueue(to, subject='Revue — INC-7 ✓', name='Ana Ünal',
                           payload={'note': 'first <b>note</b>'})
        got = self.wait_mine(to)
        time.sleep(0.5)  # a second delivery would show by now
        got = self.mine(to)
        self.assertEqual(len(got), 1)
        m = got[0]
        self.assertEqual(m['mail_from'], 'closeloop@mail.example')
        self.assertEqual(m['rcpt_tos'], [to])
        msg = m['msg']
        row = self.row(mid)
        self.assertEqual(row['status'], 'sent')
        self.assertEqual(row['last_code'], 250)
        self.assertEqual(msg['Message-ID'], row['message_id'])
        self.assertRegex(row['message_id'], r'^<[0-9a-f-]{36}@mail\.example>$')
        self.assertEqual(str(msg['Subject']), 'Revue — INC-7 ✓')
        self.assertEqual(msg['To'].addresses[0].display_name, 'Ana Ünal')
        self.assertEqual(msg['To'].addresses[0].addr_spec, to)
        self.assertEqual(msg['From'].addresses[0].addr_spec, 'closeloop@mail.example')
        self.assertIsNotNone(msg['Date'].datetime)
        self.assertLess(abs(msg['Date'].datetime.timestamp() - time.time()), 120)
        self.assertEqual(msg['MIME-Version'], '1.0')
        self.assertEqual(msg.get_content_type(), 'multipart/alternative')
        parts = [p.get_content_type() for p in msg.iter_parts()]
        self.assertEqual(parts, ['text/plain', 'text/html'])
        text = msg.get_body(('plain',)).get_content()
        html = msg.get_body(('html',)).get_content()
        self.assertIn('test message from closeloop', text)
        self.assertIn('first <b>note</b>', text)
        self.assertIn('first &lt;b&gt;note&lt;/b&gt;', html)
        for line in m['data'].split('\r\n'):
            self.assertLessEqual(len(line), 998)
        self.assertNotIn('\n', m['data'].replace('\r\n', ''))

    def test_dedup_key_queues_once(self):
        to = addr('dup')
        key = 'test:' + uuid.uuid4().hex
        a = self.enqueue(to, dedup=key)
        b = self.enqueue(to, dedup=key)
        self.assertEqual(a, b)
        self.wait_mine(to)
        time.sleep(0.5)
        self.assertEqual(len(self.mine(to)), 1)

    def test_rolled_back_enqueue_sends_nothing(self):
        to = addr('rb')
        with self.assertRaises(RuntimeError):
            self.svc.sql("BEGIN; SELECT cl_mail_enqueue('test', :'p1', NULL, 's', '{}', NULL);"
                         " SELECT 1/0; COMMIT;", to)
        sentinel = addr('after')
        self.enqueue(sentinel)
        self.wait_mine(sentinel)
        self.assertEqual(self.mine(to), [])
        self.assertEqual(self.svc.sql("SELECT count(*) FROM mail_queue WHERE to_addr = :'p1'",
                                      to), [['0']])

    def test_bad_address_refused_at_enqueue(self):
        for bad in ('no-at-sign', 'a@b@c', 'x y@z.example', 'a@b.example>\r\nBcc: c@d.example'):
            with self.subTest(bad=bad), self.assertRaises(RuntimeError) as cm:
                self.enqueue(bad)
            self.assertIn('not an e-mail address', str(cm.exception))

    def test_unknown_kind_fails_at_once_and_is_shown(self):
        to = addr('kind')
        mid = self.enqueue(to, kind='nosuchkind')
        until(lambda: self.row(mid)['status'] == 'failed', what='the row to fail')
        row = self.row(mid)
        self.assertIn('no mail kind "nosuchkind"', row['last_error'])
        self.assertEqual(row['attempts'], 1)
        self.assertEqual(self.mine(to), [])

    def test_payload_that_does_not_render_fails_at_once_and_is_shown(self):
        to = addr('render')
        mid = self.enqueue(to, payload={'note': 5})
        until(lambda: self.row(mid)['status'] == 'failed', what='the row to fail')
        row = self.row(mid)
        self.assertIn('note is not a string', row['last_error'])
        self.assertIsNone(row['last_code'])
        self.assertEqual(self.mine(to), [])

    def test_list_filters_pages_and_needs_admin(self):
        ids = [self.enqueue(addr('list')) for _ in range(3)]
        until(lambda: all(self.row(i)['status'] == 'sent' for i in ids))
        r = self.svc.request('GET', API + '/mail?status=sent&limit=2')
        self.assertEqual(r.status, 200, r.body)
        page = json.loads(r.body)
        self.assertEqual(len(page['items']), 2)
        self.assertTrue(all(m['status'] == 'sent' for m in page['items']))
        self.assertTrue(page['enabled'])
        self.assertGreaterEqual(page['counts']['sent'], 3)
        ids_page = [m['id'] for m in page['items']]
        self.assertEqual(ids_page, sorted(ids_page, reverse=True))
        r2 = self.svc.request('GET', API + '/mail?status=sent&limit=2&cursor=%d' % int(page['next_cursor']))
        nxt = json.loads(r2.body)['items']
        self.assertTrue(all(m['id'] < ids_page[-1] for m in nxt))
        self.assertEqual(self.svc.request('GET', API + '/mail?status=bogus').status, 400)
        self.assertEqual(self.svc.request('GET', API + '/mail', token='write').status, 403)

    def test_cli_mail_list(self):
        to = addr('cli')
        mid = self.enqueue(to, subject='cli subject')
        until(lambda: self.row(mid)['status'] == 'sent')
        p = self.svc.cli('mail', 'list', '--status', 'sent')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(to, p.stdout)
        self.assertIn('cli subject', p.stdout)
        p = self.svc.cli('mail', 'list', '--json')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(mid, [m['id'] for m in json.loads(p.stdout)])

    def test_mail_test_verb_sends_a_test_message(self):
        to = addr('verb')
        out = self.svc._admin('mail-test', '--to', to)
        self.assertIn('queued test message', out)
        m = self.wait_mine(to)[0]['msg']
        self.assertEqual(str(m['Subject']), 'closeloop test message')

    def test_metrics(self):
        to = addr('metrics')
        self.enqueue(to)
        self.wait_mine(to)

        def sent():
            body = self.svc.request('GET', '/metrics', token=None).body.decode()
            for line in body.splitlines():
                if line.startswith('closeloop_mail_sent_total '):
                    return float(line.split()[1])
            return 0
        until(lambda: sent() >= 1, what='closeloop_mail_sent_total to count')
        body = self.svc.request('GET', '/metrics', token=None).body.decode()
        self.assertIn('closeloop_mail_queued ', body)
        self.assertIn('closeloop_mail_failed_total ', body)


class FailureTest(MailCase):

    def test_451_then_success_delivered_once_after_backoff(self):
        to = addr('retry')
        self.smtp.fault(code=451, stage='rcpt', count=1)
        mid = self.enqueue(to)
        self.wait_mine(to, timeout=20)
        time.sleep(0.5)
        self.assertEqual(len(self.mine(to)), 1)
        row = self.row(mid)
        self.assertEqual(row['status'], 'sent')
        self.assertEqual(row['attempts'], 2)

    def test_550_fails_at_once_with_the_reply_and_is_not_retried(self):
        to = addr('perm')
        self.smtp.fault(code=550, stage='rcpt', count=1, message='5.1.1 no such user here')
        mid = self.enqueue(to)
        until(lambda: self.row(mid)['status'] == 'failed', what='the row to fail')
        time.sleep(1.5)  # several back-off periods: nothing more may happen
        row = self.row(mid)
        self.assertEqual(row['status'], 'failed')
        self.assertEqual(row['attempts'], 1)
        self.assertEqual(row['last_code'], 550)
        self.assertIn('no such user here', row['last_error'])
        self.assertEqual(self.mine(to), [])
        p = self.svc.cli('mail', 'list', '--status', 'failed')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(to, p.stdout)
        self.assertIn('550', p.stdout)

    def test_550_after_data_fails_too(self):
        to = addr('perm-data')
        self.smtp.fault(code=554, stage='data', count=1, message='5.7.1 rejected as spam')
        mid = self.enqueue(to)
        until(lambda: self.row(mid)['status'] == 'failed', what='the row to fail')
        self.assertEqual(self.row(mid)['last_code'], 554)
        self.assertIn('rejected as spam', self.row(mid)['last_error'])

    def test_hanging_server_times_out_and_retries_nothing_lost(self):
        to = addr('hang')
        self.smtp.fault(hang=8, count=1, then='drop')  # longer than smtp_timeout (5 s)
        mid = self.enqueue(to)
        got = self.wait_mine(to, timeout=30)
        self.assertEqual(len(got), 1)
        row = self.row(mid)
        self.assertEqual(row['status'], 'sent')
        self.assertGreaterEqual(row['attempts'], 2)


class GiveUpTest(MailCase):
    env = {'CLOSELOOP_SMTP_MAX_ATTEMPTS': '3'}

    def test_transient_failures_give_up_after_max_attempts(self):
        to = addr('giveup')
        self.smtp.fault(code=421, stage='rcpt', count=3, message='4.7.0 busy')
        mid = self.enqueue(to)
        until(lambda: self.row(mid)['status'] == 'failed', timeout=20, what='give up')
        row = self.row(mid)
        self.assertEqual(row['attempts'], 3)
        self.assertEqual(row['last_code'], 421)
        self.assertIn('busy', row['last_error'])


class TlsRequiredTest(MailCase):
    """smtp_tls = required against a server that offers no STARTTLS: nothing goes out in
    clear; the message waits, retried, with curl's reason."""
    env = {'CLOSELOOP_SMTP_TLS': 'required', 'CLOSELOOP_SMTP_RETRY_MAX': '0.3'}

    def test_no_starttls_means_no_send(self):
        to = addr('tls')
        mid = self.enqueue(to)
        until(lambda: self.row(mid)['attempts'] >= 2, timeout=20, what='2 attempts')
        row = self.row(mid)
        self.assertIn(row['status'], ('queued', 'sending'))
        self.assertRegex(row['last_error'] or '', r'(?i)starttls|ssl|tls')
        self.assertEqual(self.mine(to), [])
        self.assertEqual(self.smtp.stats()['accepted'], 0)


class AuthTest(MailCase):
    """A server that requires AUTH: the right credentials send; wrong ones are the set-up's
    fault, not the message's, so the message waits (retried) instead of failing."""

    auth = 'closeloop:s3cret-pw'
    env = {'CLOSELOOP_SMTP_USERNAME': 'closeloop', 'CLOSELOOP_SMTP_PASSWORD': 's3cret-pw'}

    def test_auth_sends_and_the_password_is_never_logged(self):
        to = addr('auth')
        self.enqueue(to)
        self.wait_mine(to)
        self.assertNotIn('s3cret-pw', self.svc.log_text())

    def test_wrong_password_is_retried_not_failed(self):
        env = self.smtp.env(CLOSELOOP_SMTP_USERNAME='closeloop',
                            CLOSELOOP_SMTP_PASSWORD='wrong-pw', CLOSELOOP_SMTP_RETRY_MAX='0.3')
        self.svc.stop()
        with Peer(self.svc, name='MailWrongAuth', env=env) as bad:
            to = addr('badauth')
            mid = int(bad.sql("SELECT cl_mail_enqueue('test', :'p1', NULL, 's', '{}', NULL)",
                              to)[0][0])
            until(lambda: int(bad.sql("SELECT attempts FROM mail_queue WHERE id = :'p1'",
                                      mid)[0][0]) >= 3, timeout=20, what='3 attempts')
            status, code = bad.sql("SELECT status, last_code FROM mail_queue WHERE id = :'p1'",
                                   mid)[0]
            self.assertIn(status, ('queued', 'sending'))
            self.assertEqual(code, '535')
            self.assertEqual(self.mine(to), [])
            self.assertNotIn('wrong-pw', bad.log_text())
        # the right credentials again: the waiting message goes out
        with Peer(self.svc, name='MailRightAuth', env=self.smtp.env(**self.env)):
            self.wait_mine(to, timeout=20)


class DisabledTest(unittest.TestCase):
    """No smtp_url: rows wait queued, and the list says mail is off."""

    def test_rows_wait_queued(self):
        with Service(name='MailDisabled') as svc:
            svc.sql("SELECT cl_mail_enqueue('test', 'x@rcpt.example', NULL, 's', '{}', NULL)")
            time.sleep(1.0)
            r = svc.request('GET', API + '/mail')
            page = json.loads(r.body)
            self.assertFalse(page['enabled'])
            self.assertEqual([m['status'] for m in page['items']], ['queued'])
            self.assertEqual(page['items'][0]['attempts'], 0)


class InstancesTest(unittest.TestCase):
    """Two closeloopd on one database; a kill -9 while the server holds a message."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.smtp = SmtpServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.smtp.stop()
        super().tearDownClass()

    def ids_delivered(self, msgs, tag):
        return [m['msg']['Message-ID'] for m in msgs if m['rcpt_tos'][0].startswith(tag)]

    def test_two_instances_deliver_each_message_exactly_once(self):
        env = self.smtp.env(CLOSELOOP_SMTP_CONCURRENCY='2')
        with Service(name='MailA', env=env) as a, Peer(a, name='MailB', env=env) as b:
            tos = [addr('pair%02d' % i) for i in range(20)]
            values = ', '.join("('test', '%s', NULL, 'pair %d', '{}'::jsonb, NULL)" % (t, i)
                               for i, t in enumerate(tos))
            a.sql("SELECT cl_mail_enqueue(k, t, n, s, p, d) FROM (VALUES %s) v(k, t, n, s, p, d)"
                  % values)
            until(lambda: len([m for m in self.smtp.messages()
                               if m['rcpt_tos'][0] in tos]) >= 20, timeout=30)
            time.sleep(1.0)
            got = [m for m in self.smtp.messages() if m['rcpt_tos'][0] in tos]
            self.assertEqual(sorted(m['rcpt_tos'][0] for m in got), sorted(tos))
            senders = a.sql("SELECT count(*) FROM mail_queue WHERE to_addr = ANY(:'p1'::text[])"
                            " AND status = 'sent'", '{%s}' % ','.join(tos))
            self.assertEqual(senders, [['20']])
            logs = a.log_text() + b.log_text()
            self.assertGreater(a.log_text().count('event=mail_sent'), 0, 'A sent none')
            self.assertGreater(b.log_text().count('event=mail_sent'), 0, 'B sent none')
            self.assertEqual(logs.count('event=mail_sent'), 20)

    def test_kill9_while_server_holds_message(self):
        env = self.smtp.env(CLOSELOOP_SMTP_TIMEOUT='20')
        with Service(name='MailKillA', env=env) as a:
            self.smtp.fault(hang=3, count=1, then='accept')  # held after DATA, then kept
            to = addr('kill')
            a.sql("SELECT cl_mail_enqueue('test', :'p1', NULL, 'kill', '{}', NULL)", to)
            until(lambda: self.smtp.stats()['hung'] >= 1, what='the server to hold it')
            peer = Peer(a, name='MailKillB', env=env)
            a.proc.kill()  # SIGKILL while the server holds the message
            a.proc.wait()
            with peer:
                until(lambda: a.sql("SELECT status FROM mail_queue WHERE to_addr = :'p1'", to)
                      == [['sent']], timeout=30, what='the message to be recorded sent')
                # the held copy is kept by the server once its hold ends: the resend
                # made the one duplicate the design allows
                got = until(lambda: [m for m in self.smtp.messages() if m['rcpt_tos'] == [to]]
                            if len([m for m in self.smtp.messages()
                                    if m['rcpt_tos'] == [to]]) >= 2 else None,
                            timeout=15, what='the held copy and the resend')
                time.sleep(1.0)
                got = [m for m in self.smtp.messages() if m['rcpt_tos'] == [to]]
                self.assertEqual(len(got), 2)
                mid = a.sql("SELECT message_id FROM mail_queue WHERE to_addr = :'p1'", to)[0][0]
                self.assertEqual({m['msg']['Message-ID'] for m in got}, {mid})
            a.stopped = True


if __name__ == '__main__':
    unittest.main()
