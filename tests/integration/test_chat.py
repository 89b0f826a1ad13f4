"""Chat: the queue (cl_chat_enqueue), closeloopd's worker posting to Slack and Microsoft
Teams incoming webhooks (a fake: tests/fakes/chat_server.py), the digest rendered as Slack
blocks, a Teams Adaptive Card message (a Workflows webhook, answering 202) and a legacy
MessageCard (card = messagecard), 429 Retry-After, 5xx back-off, permanent 404, a legacy
connector's 200 that wraps Teams' 413, two instances, configuration refused at start-up,
and the webhook URL (a secret) never in a log.

Each test posts to its own webhook path and looks only at its own posts.
"""
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request
import uuid

from harness import Service, until
from smtp import Peer

API = '/api/v1'
HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, '..', 'fakes', 'chat_server.py')
SECRET = 'XSECRETx' + uuid.uuid4().hex[:12]  # in every webhook path: must never be logged


class ChatServer:
    def start(self):
        self.proc = subprocess.Popen(['/usr/bin/python3', SERVER, '--max-life', '900'],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError('chat_server.py did not start: ' + self.proc.stderr.read()[-2000:])
        self.port = json.loads(line)['port']
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request('http://127.0.0.1:%d%s' % (self.port, path), data=data,
                                     method=method)
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def url(self, path):
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def posts(self, path):
        return [p for p in self._call('GET', '/_control/posts') if p['path'] == path]

    def fault(self, path, status, count=1, retry_after=None, body=None, delay=None):
        self._call('POST', '/_control/fault', {'path': path, 'status': status, 'count': count,
                                               'retry_after': retry_after, 'body': body,
                                               'delay': delay})


def write_config(text):
    fd, path = tempfile.mkstemp(prefix='closeloop-chat.', suffix='.ini')
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    return path


WORKFLOW = '/workflows/%s/triggers/manual/paths/invoke?api-version=2016-06-01&sig=' + SECRET

# The channels of a ChatCase: name -> (kind, path on the fake[, more lines]).
CHANNELS = {
    'slack_a': ('slack', '/services/T01/B01/' + SECRET + 'a'),
    'teams_a': ('teams', WORKFLOW % 'b0b0'),
    'teams_test': ('teams', WORKFLOW % 'c1c1'),
    'teams_big': ('teams', WORKFLOW % 'd2d2'),
    'teams_legacy': ('teams', '/webhookb2/' + SECRET + 'b/IncomingWebhook', 'card = messagecard'),
    'teams_413': ('teams', '/webhookb2/' + SECRET + 'i/IncomingWebhook', 'card = messagecard'),
    'slack_429': ('slack', '/services/T01/B02/' + SECRET + 'c'),
    'slack_500': ('slack', '/services/T01/B03/' + SECRET + 'd'),
    'slack_404': ('slack', '/services/T01/B04/' + SECRET + 'e'),
    'slack_pair': ('slack', '/services/T01/B05/' + SECRET + 'f'),
    'slack_test': ('slack', '/services/T01/B06/' + SECRET + 'g'),
    'slack_kill': ('slack', '/services/T01/B07/' + SECRET + 'h'),
}


def chat_config(server, extra=''):
    lines = ['chat_allow_http_loopback = true', 'chat_retry_base = 0.2', 'chat_retry_max = 1',
             'chat_max_attempts = 5', 'chat_retry_after_max = 5', extra]
    for name, (kind, path, *more) in CHANNELS.items():
        lines += ['', '[chat.%s]' % name, 'kind = %s' % kind, 'url = %s' % server.url(path),
                  'timeout = 5'] + more
    return write_config('\n'.join(lines) + '\n')


ACTION = {'id': 42, 'incident': 'INC-7', 'title': 'Fix <alerts> & pager', 'owner': 'ana',
          'status': 'open', 'due_on': '2026-12-01',
          'url': 'https://github.com/acme/ops/issues/42'}
DIGEST = {
    'recipient': {'handle': 'mia', 'email': 'mia@example.com', 'name': 'Mia', 'timezone':
                  'Europe/Berlin'},
    'scope': {'kind': 'team', 'team': 'sre'},
    'period': {'key': '2026-W49', 'cadence': 'weekly', 'from': '2026-11-30T00:00:00+01:00',
               'to': '2026-12-07T00:00:00+01:00', 'timezone': 'Europe/Berlin'},
    'owes': [{'owner': 'ana', 'open': 2, 'overdue': 1, 'items': [
        ACTION, dict(ACTION, id=43, title='Runbook *bold* [x]', url=None, due_on=None)]}],
    'slipped': [dict(ACTION, id=44, title='Rotate keys', why='due_moved', **{
        'from': '2026-11-20', 'to': '2026-12-10'})],
    'done': [dict(ACTION, id=45, title='Add alert', status='done')],
    'verified': [],
    'unowned': [dict(ACTION, id=46, title='Nobody', owner=None)],
    'undated': [],
    'reviews': {'held': [{'incident': 'INC-7', 'local': '2026-12-02 15:00',
                          'timezone': 'Europe/Berlin', 'status': 'held'}], 'upcoming': []},
    'drift': [],
    'trend': [{'period': '2026-W48', 'opened': 3, 'closed': 1, 'overdue': 2},
              {'period': '2026-W49', 'opened': 1, 'closed': 4, 'overdue': 1}],
    'counts': {'open': 2},
}


class ChatCase(unittest.TestCase):
    """One fake webhook server and one closeloopd posting to it, per class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chat = ChatServer().start()
        cls.config = chat_config(cls.chat)
        cls.env = {'CLOSELOOP_CONFIG': cls.config}
        try:
            cls.svc = Service(name=cls.__name__, env=cls.env).start()
        except BaseException:
            cls.chat.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.svc.stop()
            assert code == 0, 'closeloopd exited %r; log %s' % (code, cls.svc.log_path)
        finally:
            cls.chat.stop()
            os.unlink(cls.config)
            super().tearDownClass()

    def enqueue(self, channel, payload, kind='test', dedup=None, svc=None):
        rows = (svc or self.svc).sql(
            "SELECT cl_chat_enqueue(:'p1', :'p2', :'p3'::jsonb, nullif(:'p4', ''))",
            channel, kind, json.dumps(payload), dedup or '')
        return int(rows[0][0])

    def row(self, cid):
        r = self.svc.request('GET', API + '/chat?limit=500')
        self.assertEqual(r.status, 200, r.body)
        for m in json.loads(r.body)['items']:
            if m['id'] == cid:
                return m
        self.fail('chat message %d not in GET /api/v1/chat' % cid)

    def wait_status(self, cid, status, timeout=15.0):
        return until(lambda: self.row(cid)['status'] == status and self.row(cid), timeout=timeout,
                     what='chat message %d %s' % (cid, status))

    def wait_posts(self, channel, n=1, timeout=15.0):
        path = CHANNELS[channel][1]
        return until(lambda: len(self.chat.posts(path)) >= n and self.chat.posts(path),
                     timeout=timeout, what='%d post(s) to %s' % (n, channel))


class DigestTest(ChatCase):

    def test_slack_digest_blocks_links_and_escaping(self):
        cid = self.enqueue('slack_a', DIGEST, kind='digest', dedup='digest-slack-mia-2026-W49')
        again = self.enqueue('slack_a', DIGEST, kind='digest', dedup='digest-slack-mia-2026-W49')
        self.assertEqual(cid, again)
        posts = self.wait_posts('slack_a')
        self.wait_status(cid, 'sent')
        time.sleep(0.5)  # a second post would show by now
        posts = self.chat.posts(CHANNELS['slack_a'][1])
        self.assertEqual(len(posts), 1)
        p = posts[0]
        self.assertTrue(p['headers'].get('Content-Type', '').startswith('application/json'))
        body = p['json']
        blocks = body['blocks']
        self.assertEqual(blocks[0]['type'], 'header')
        self.assertEqual(blocks[0]['text'], {'type': 'plain_text',
                                             'text': 'closeloop digest: team sre, 2026-W49'})
        self.assertEqual(body['text'], 'closeloop digest: team sre, 2026-W49')
        self.assertEqual(blocks[1]['type'], 'section')
        fields = {f['text'].split('\n')[0]: f['text'].split('\n')[1] for f in blocks[1]['fields']}
        self.assertEqual(fields, {'*Open*': '2', '*Overdue*': '1', '*Slipped*': '1', '*Done*': '1',
                                  '*Verified*': '0', '*Unowned*': '1', '*Undated*': '0'})
        self.assertTrue(all(f['type'] == 'mrkdwn' for f in blocks[1]['fields']))
        self.assertEqual(blocks[-1]['type'], 'context')
        texts = [b['text']['text'] for b in blocks if b['type'] == 'section' and 'text' in b]
        owes = texts[0]
        self.assertTrue(owes.startswith('*What is owed, by owner* (1)'), owes)
        self.assertIn('<https://github.com/acme/ops/issues/42|INC-7 #42 Fix &lt;alerts&gt; &amp; '
                      'pager> — ana · due 2026-12-01 · open', owes)
        # no url: the text alone, not a link
        self.assertIn('• INC-7 #43 Runbook *bold* [x] — ana · no due date · open', owes)
        self.assertNotIn('<alerts>', json.dumps(body))
        slipped = [t for t in texts if t.startswith('*Slipped')][0]
        self.assertIn('(due date moved from 2026-11-20 to 2026-12-10)', slipped)
        held = [t for t in texts if t.startswith('*Reviews held')][0]
        self.assertIn('INC-7 — 2026-12-02 15:00 (Europe/Berlin) · held', held)
        trend = [b for b in blocks if b['type'] == 'context'][0]['elements'][0]['text']
        self.assertEqual(trend, '*Trend* (opened / closed / overdue): 2026-W48 3 / 1 / 2 · '
                                '2026-W49 1 / 4 / 1')
        self.assertNotIn('Verified', ' '.join(texts))  # empty lists have no section

    def card(self, post):
        """The Adaptive Card of a post, after checking the message around it."""
        self.assertEqual(post['form'], 'adaptive')
        body = post['json']
        self.assertEqual(body['type'], 'message')
        self.assertEqual(len(body['attachments']), 1)
        att = body['attachments'][0]
        self.assertEqual(att['contentType'], 'application/vnd.microsoft.card.adaptive')
        self.assertIsNone(att['contentUrl'])
        card = att['content']
        self.assertEqual(card['type'], 'AdaptiveCard')
        self.assertEqual(card['version'], '1.4')
        self.assertEqual(card['$schema'], 'http://adaptivecards.io/schemas/adaptive-card.json')
        self.assertTrue(all(b['type'] in ('TextBlock', 'FactSet') for b in card['body']))
        self.assertTrue(all(b.get('wrap') is True for b in card['body']
                            if b['type'] == 'TextBlock'))
        self.assertLess(len(post['text'].encode()), 25000)
        return card

    def test_teams_digest_adaptive_card(self):
        cid = self.enqueue('teams_a', DIGEST, kind='digest', dedup='digest-teams-mia-2026-W49')
        posts = self.wait_posts('teams_a')
        m = self.wait_status(cid, 'sent')
        self.assertEqual(m['last_status'], 202)  # a Workflows webhook's answer
        self.assertTrue(posts[0]['headers'].get('Content-Type', '').startswith('application/json'))
        body = self.card(posts[0])['body']
        self.assertEqual(body[0]['text'], 'closeloop digest: team sre, 2026-W49')
        self.assertEqual((body[0]['weight'], body[0]['size']), ('Bolder', 'Medium'))
        self.assertEqual(body[1]['type'], 'FactSet')
        self.assertEqual({f['title']: f['value'] for f in body[1]['facts']},
                         {'Open': '2', 'Overdue': '1', 'Slipped': '1', 'Done': '1',
                          'Verified': '0', 'Unowned': '1', 'Undated': '0'})
        texts = [b.get('text', '') for b in body]
        sections = {texts[i]: texts[i + 1] for i in range(len(body) - 1)
                    if body[i].get('weight') == 'Bolder' and body[i + 1]['type'] == 'TextBlock'}
        owes = sections['What is owed, by owner (1)']
        # every item a markdown link to its issue; user text escaped, no entity
        self.assertIn('**ana**: 2 open, 1 overdue\n\n• [INC-7 #42 Fix \\<alerts> & pager]'
                      '(https://github.com/acme/ops/issues/42) — ana · due 2026-12-01 · open',
                      owes)
        self.assertIn('• INC-7 #43 Runbook \\*bold\\* \\[x\\] — ana · no due date · open', owes)
        self.assertNotIn('&lt;', json.dumps(body))
        self.assertIn('(due date moved from 2026-11-20 to 2026-12-10)',
                      sections['Slipped since the last digest (1)'])
        self.assertIn('• [INC-7 #45 Add alert](https://github.com/acme/ops/issues/42) — ana',
                      sections['Done (1)'])
        self.assertIn('INC-7 — 2026-12-02 15:00 (Europe/Berlin) · held',
                      sections['Reviews held (1)'])
        self.assertNotIn('Verified (0)', sections)  # empty lists have no section
        trend = body[texts.index('Trend (opened / closed / overdue)') + 1]
        self.assertEqual(trend['type'], 'FactSet')
        self.assertEqual(trend['facts'], [{'title': '2026-W48', 'value': '3 / 1 / 2'},
                                          {'title': '2026-W49', 'value': '1 / 4 / 1'}])
        self.assertTrue(body[-1]['isSubtle'])
        self.assertTrue(body[-1]['text'].startswith('Period 2026-W49 (2026-11-30T00:00:00+01:00'))
        self.assertNotIn(SECRET, self.svc.log_text())  # the Workflows URL's sig= included

    def test_teams_test_message_is_a_card(self):
        out = self.svc._admin('chat-test', '--channel', 'teams_test')
        self.assertIn('queued test message', out)
        post = self.wait_posts('teams_test')[0]
        body = self.card(post)['body']
        self.assertEqual(body[0]['text'], 'closeloop test message')
        self.assertEqual(body[1]['text'], 'This is a test message from closeloop: the webhook '
                                          'works.\n\nSent by closeloopd chat-test.')

    def test_teams_legacy_messagecard(self):
        cid = self.enqueue('teams_legacy', DIGEST, kind='digest', dedup='digest-legacy-2026-W49')
        posts = self.wait_posts('teams_legacy')
        m = self.wait_status(cid, 'sent')
        self.assertEqual(m['last_status'], 200)
        self.assertEqual(posts[0]['form'], 'messagecard')
        card = posts[0]['json']
        self.assertEqual(card['@type'], 'MessageCard')
        self.assertEqual(card['@context'], 'https://schema.org/extensions')
        self.assertEqual(card['title'], 'closeloop digest: team sre, 2026-W49')
        secs = card['sections']
        self.assertEqual(secs[0]['title'], 'Summary')
        self.assertIn({'name': 'Overdue', 'value': '1'}, secs[0]['facts'])
        owes = [s for s in secs if s.get('title', '').startswith('What is owed')][0]['text']
        self.assertIn('[INC-7 #42 Fix &lt;alerts&gt; &amp; pager]'
                      '(https://github.com/acme/ops/issues/42) — ana', owes)
        self.assertIn('INC-7 #43 Runbook \\*bold\\* \\[x\\] — ana', owes)
        trend = [s for s in secs if s.get('title', '').startswith('Trend')][0]
        self.assertEqual(trend['facts'], [{'name': '2026-W48', 'value': '3 / 1 / 2'},
                                          {'name': '2026-W49', 'value': '1 / 4 / 1'}])

    def test_big_digest_fits_a_teams_post(self):
        # every '*' escaped: a list's 2800 bytes of text take more in the card's JSON
        items = [dict(ACTION, id=100 + i, title='x*' * 150, why='new_overdue', drift='gone')
                 for i in range(12)]
        big = dict(DIGEST, owes=[{'owner': 'own%02d' % i, 'open': 3, 'overdue': 0,
                                  'items': items[:3]} for i in range(20)],
                   **{k: items for k in ('slipped', 'done', 'verified', 'unowned', 'undated',
                                         'drift')})
        cid = self.enqueue('teams_big', big, kind='digest', dedup='digest-teams-big')
        m = self.wait_status(cid, 'sent')
        post = self.wait_posts('teams_big')[0]
        self.assertLess(len(post['text'].encode()), 25000)
        body = self.card(post)['body']
        self.assertEqual({f['title']: f['value'] for f in body[1]['facts']}['Open'], '60')
        texts = [b.get('text', '') for b in body]
        done = texts[texts.index('Done (12)') + 1]
        # cut below the first budget (10 items, 2800 bytes) to fit: fewer items per list
        self.assertLess(done.count('• '), 5)
        self.assertIn('…and %d more' % (12 - done.count('• ')), done)
        owes = texts[texts.index('What is owed, by owner (20)') + 1]
        self.assertRegex(owes, r'…and \d+ more owners$')
        self.assertEqual(m['attempts'], 1)

    def test_malformed_digest_fails_with_the_bad_value(self):
        bad = dict(DIGEST, trend=[{'period': '2026-W49', 'opened': 'three', 'closed': 0,
                                   'overdue': 0}])
        cid = self.enqueue('slack_a', bad, kind='digest')
        m = self.wait_status(cid, 'failed')
        self.assertEqual(m['attempts'], 1)
        self.assertIn('trend[].opened is not a non-negative integer', m['last_error'])


class OutcomeTest(ChatCase):

    def test_429_waits_for_retry_after_then_posts_once(self):
        path = CHANNELS['slack_429'][1]
        self.chat.fault(path, 429, count=1, retry_after='1', body='rate_limited')
        cid = self.enqueue('slack_429', {'note': 'four two nine'})
        posts = self.wait_posts('slack_429', 2, timeout=20)
        m = self.wait_status(cid, 'sent')
        time.sleep(0.5)
        posts = self.chat.posts(path)
        self.assertEqual(len(posts), 2)
        self.assertGreaterEqual(posts[1]['at'] - posts[0]['at'], 0.9)
        self.assertEqual(m['attempts'], 2)
        self.assertEqual(m['last_status'], 200)

    def test_500_is_retried_with_back_off(self):
        path = CHANNELS['slack_500'][1]
        self.chat.fault(path, 500, count=2, body='oops')
        cid = self.enqueue('slack_500', {'note': 'five hundred'})
        m = self.wait_status(cid, 'sent', timeout=20)
        self.assertEqual(m['attempts'], 3)
        self.assertEqual(len(self.chat.posts(path)), 3)

    def test_404_fails_at_once_and_is_shown(self):
        path = CHANNELS['slack_404'][1]
        self.chat.fault(path, 404, count=5, body='no_service\x01 ' + 'x' * 400)
        cid = self.enqueue('slack_404', {'note': 'gone'})
        m = self.wait_status(cid, 'failed')
        time.sleep(0.6)  # longer than the back-off: a retry would show
        self.assertEqual(len(self.chat.posts(path)), 1)
        self.assertEqual(m['attempts'], 1)
        self.assertEqual(m['last_status'], 404)
        self.assertTrue(m['last_error'].startswith('HTTP 404: no_service  xxx'), m['last_error'])
        self.assertLessEqual(len(m['last_error']), 230)
        r = self.svc.cli('chat', 'list', '--status', 'failed', '--format', 'json')
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [x for x in json.loads(r.stdout) if x['id'] == cid]
        self.assertEqual(len(rows), 1, r.stdout)
        self.assertEqual(rows[0]['last_status'], 404)
        r = self.svc.cli('chat', 'list', '--status', 'failed')
        self.assertIn('slack_404', r.stdout)
        self.assertIn('HTTP 404', r.stdout)

    def test_legacy_connector_200_wrapping_413_fails(self):
        path = CHANNELS['teams_413'][1]
        self.chat.fault(path, 200, count=5, body='Webhook message delivery failed with error: '
                        'Microsoft Teams endpoint returned HTTP error 413 with ContextId tcid=0')
        cid = self.enqueue('teams_413', {'note': 'too big'})
        m = self.wait_status(cid, 'failed')
        time.sleep(0.6)  # longer than the back-off: a retry would show
        self.assertEqual(len(self.chat.posts(path)), 1)
        self.assertEqual((m['attempts'], m['last_status']), (1, 413))
        self.assertIn('HTTP 413: Webhook message delivery failed', m['last_error'])

    def test_unknown_channel_fails_shown(self):
        cid = self.enqueue('nowhere', {'note': 'x'})
        m = self.wait_status(cid, 'failed')
        self.assertIn('no such channel "nowhere"', m['last_error'])

    def test_chat_test_verb_and_metrics(self):
        out = self.svc._admin('chat-test', '--channel', 'slack_test')
        self.assertIn('queued test message', out)
        posts = self.wait_posts('slack_test')
        self.assertIn('test message from closeloop', posts[0]['json']['text'])
        self.assertIn('Sent by closeloopd chat-test.',
                      posts[0]['json']['blocks'][0]['text']['text'])
        with self.assertRaises(RuntimeError):
            self.svc._admin('chat-test', '--channel', 'nosuch')
        r = self.svc.request('GET', '/metrics', token=None)
        text = r.body.decode()
        sent = [ln for ln in text.splitlines() if ln.startswith('closeloop_chat_sent_total ')]
        self.assertEqual(len(sent), 1)
        self.assertGreaterEqual(int(sent[0].split()[1]), 1)
        self.assertIn('closeloop_chat_queued ', text)
        self.assertIn('closeloop_chat_failed_total ', text)

    def test_list_needs_admin_and_checks_status(self):
        self.assertEqual(self.svc.request('GET', API + '/chat', token='write').status, 403)
        self.assertEqual(self.svc.request('GET', API + '/chat?status=nope').status, 400)

    def test_url_is_never_logged_nor_printed(self):
        self.enqueue('slack_404', {'note': 'log check'})
        time.sleep(1.0)
        self.assertNotIn(SECRET, self.svc.log_text())
        r = subprocess.run([self.svc.daemon, 'check-config'], capture_output=True, text=True,
                           env=dict(self.svc._daemon_env()))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('chat.slack_a.url = (set)', r.stdout)
        self.assertNotIn(SECRET, r.stdout + r.stderr)


class TwoInstancesTest(ChatCase):

    def test_two_instances_post_each_message_once(self):
        path = CHANNELS['slack_pair'][1]
        env = dict(self.env, CLOSELOOP_CHAT_CONCURRENCY='2')
        with Peer(self.svc, name='ChatB', env=env) as b:
            notes = ['pair %02d' % i for i in range(20)]
            values = ', '.join("('slack_pair', 'test', '{\"note\": \"%s\"}'::jsonb, 'pair-%d')"
                               % (n, i) for i, n in enumerate(notes))
            self.svc.sql("SELECT cl_chat_enqueue(c, k, p, d) FROM (VALUES %s) v(c, k, p, d)"
                         % values)
            until(lambda: len(self.chat.posts(path)) >= 20, timeout=30)
            time.sleep(1.0)
            got = [p['json']['blocks'][0]['text']['text'].split('\n')[1]
                   for p in self.chat.posts(path)]
            self.assertEqual(sorted(got), notes)
            logs = self.svc.log_text() + b.log_text()
            self.assertEqual(logs.count('event=chat_sent'), 20)
            self.assertNotIn(SECRET, logs)

    def test_kill9_between_post_and_record_posts_at_most_once_more(self):
        path = CHANNELS['slack_kill'][1]
        with Service(name='ChatKillA', env=self.env) as a:
            self.chat.fault(path, 200, count=1, delay=3)  # received, answered 3 s later
            a.sql("SELECT cl_chat_enqueue('slack_kill', 'test', '{}', 'kill-1')")
            until(lambda: len(self.chat.posts(path)) >= 1, what='the webhook to hold it')
            peer = Peer(a, name='ChatKillB', env=self.env)
            a.proc.kill()  # SIGKILL while the webhook holds the post
            a.proc.wait()
            with peer:
                until(lambda: a.sql("SELECT status FROM chat_queue WHERE dedup_key = 'kill-1'")
                      == [['sent']], timeout=30, what='the message to be recorded sent')
                time.sleep(1.0)
                # the held post and the resend: the one duplicate the design allows
                self.assertEqual(len(self.chat.posts(path)), 2)
            a.stopped = True


class ReloadTest(unittest.TestCase):
    """SIGHUP applies changed [chat.NAME] sections: the first channel starts the worker,
    a moved webhook is used from the next post, a bad section is refused."""

    def setUp(self):
        self.chat = ChatServer().start()
        self.path = write_config('chat_allow_http_loopback = true\nchat_retry_base = 0.2\n')
        self.svc = None

    def tearDown(self):
        try:
            if self.svc is not None:
                code = self.svc.stop()
                self.assertEqual(code, 0, self.svc.log_path)
        finally:
            self.chat.stop()
            os.unlink(self.path)

    def reload(self, channels, extra=''):
        """Rewrites the file with channels {name: (kind, url)} and sends SIGHUP; returns
        the log line the reload wrote (reloaded or reload_failed)."""
        lines = ['chat_allow_http_loopback = true', 'chat_retry_base = 0.2', extra]
        for name, (kind, url) in channels.items():
            lines += ['', '[chat.%s]' % name, 'kind = %s' % kind, 'url = %s' % url]
        with open(self.path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        before = self.reloads()
        self.svc.proc.send_signal(signal.SIGHUP)
        until(lambda: len(self.reloads()) > len(before), what='the reload')
        return self.reloads()[-1]

    def reloads(self):
        return [ln for ln in self.svc.log_text().splitlines()
                if 'event=reloaded' in ln or 'event=reload_failed' in ln]

    def enqueue(self, channel, note):
        return int(self.svc.sql("SELECT cl_chat_enqueue(:'p1', 'test', :'p2'::jsonb, NULL)",
                                channel, json.dumps({'note': note}))[0][0])

    def status(self, cid):
        return self.svc.sql("SELECT status FROM chat_queue WHERE id = :'p1'::bigint", cid)[0][0]

    def test_sighup_applies_changed_channels(self):
        self.svc = Service(name='ChatReload', env={'CLOSELOOP_CONFIG': self.path}).start()
        first, moved = '/services/T09/R01/' + SECRET, '/services/T09/R02/' + SECRET
        waiting = self.enqueue('hup', 'before any channel')
        time.sleep(1.0)
        self.assertEqual(self.status(waiting), 'queued')   # chat is off: it waits
        line = self.reload({'hup': ('slack', self.chat.url(first))})
        self.assertIn('event=reloaded', line)
        until(lambda: self.status(waiting) == 'sent', what='the waiting message posted')
        self.assertEqual(len(self.chat.posts(first)), 1)
        # the webhook moves, and a Teams channel is added
        teams = '/webhookb2/' + SECRET + 'r/IncomingWebhook'
        self.reload({'hup': ('slack', self.chat.url(moved)),
                     'hup_teams': ('teams', self.chat.url(teams))})
        a, b = self.enqueue('hup', 'after the move'), self.enqueue('hup_teams', 'new channel')
        until(lambda: self.status(a) == 'sent' and self.status(b) == 'sent', what='both posted')
        self.assertEqual(len(self.chat.posts(moved)), 1)
        self.assertEqual(len(self.chat.posts(teams)), 1)
        self.assertEqual(len(self.chat.posts(first)), 1)
        # a bad section is refused with its file and line; the channels stay as they were
        line = self.reload({'hup': ('slack', 'ftp://127.0.0.1/' + SECRET)})
        self.assertIn('event=reload_failed', line)
        self.assertIn(self.path + ':', line)
        self.assertNotIn(SECRET, self.svc.log_text())
        c = self.enqueue('hup', 'after the bad reload')
        until(lambda: self.status(c) == 'sent', what='posted by the kept channel')
        self.assertEqual(len(self.chat.posts(moved)), 2)


class BadConfigTest(unittest.TestCase):

    def check(self, text, env=None):
        path = write_config(text)
        try:
            e = {k: v for k, v in os.environ.items() if not k.startswith(('CLOSELOOP_', 'PG'))}
            e.update({'CLOSELOOP_DATABASE_URL': 'postgresql:///x', 'CLOSELOOP_CONFIG': path})
            e.update(env or {})
            daemon = os.path.join(os.environ['CLOSELOOP_BIN_DIR'], 'closeloopd')
            r = subprocess.run([daemon, 'check-config'], env=e, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=30)
            return r, path
        finally:
            os.unlink(path)

    def test_not_https_refused_with_file_and_line(self):
        r, path = self.check('[chat.ops]\nkind = slack\nurl = http://hooks.example/%s\n' % SECRET)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('%s:3: chat.ops.url must be an https:// URL' % path, r.stderr)
        self.assertNotIn(SECRET, r.stderr + r.stdout)

    def test_loopback_http_needs_the_test_knob(self):
        text = '[chat.ops]\nkind = teams\nurl = http://127.0.0.1:9/%s\n' % SECRET
        r, _ = self.check(text)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('must be an https:// URL', r.stderr)
        r, _ = self.check('chat_allow_http_loopback = true\n' + text)
        self.assertEqual(r.returncode, 0, r.stderr)
        r, _ = self.check('chat_allow_http_loopback = true\n' +
                          text.replace('127.0.0.1:9', '127.0.0.1.evil.example'))
        self.assertNotEqual(r.returncode, 0)

    def test_unknown_kind_refused(self):
        r, path = self.check('[chat.ops]\nkind = discord\nurl = https://x.example/h\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('%s:2: chat.ops.kind must be slack or teams' % path, r.stderr)

    def test_unknown_card_refused(self):
        r, path = self.check('[chat.ops]\nkind = teams\nurl = https://x.example/h\n'
                             'card = hero\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('%s:4: chat.ops.card must be adaptive or messagecard' % path, r.stderr)
        r, path = self.check('[chat.ops]\nkind = slack\ncard = messagecard\n'
                             'url = https://x.example/h\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('%s:3: chat.ops.card is for kind = teams only' % path, r.stderr)

    def test_teams_card_defaults_to_adaptive(self):
        r, _ = self.check('[chat.a]\nkind = teams\nurl = https://x.example/workflows/1\n\n'
                          '[chat.b]\nkind = teams\nurl = https://x.example/webhookb2/1\n'
                          'card = messagecard\n')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('chat.a.card = adaptive', r.stdout)
        self.assertIn('chat.b.card = messagecard', r.stdout)

    def test_missing_kind_or_url_refused(self):
        r, path = self.check('[chat.ops]\nurl = https://x.example/h\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('[chat.ops] needs kind', r.stderr)
        r, path = self.check('[chat.ops]\nkind = slack\ntimeout = 5\n')
        self.assertIn('[chat.ops] needs url', r.stderr)

    def test_https_accepted(self):
        r, _ = self.check('[chat.ops]\nkind = slack\nurl = https://hooks.slack.com/services/%s\n'
                          % SECRET)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('chat.ops.kind = slack', r.stdout)
        self.assertNotIn(SECRET, r.stdout + r.stderr)


if __name__ == '__main__':
    unittest.main()
