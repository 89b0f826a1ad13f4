"""Full-text search across the archive: GET /api/v1/search and `closeloop search`.

A hand-made archive (incidents, actions, progress notes, reasons, and reviews with their
notes, item notes and summaries) is searched through a real closeloopd; the ranking, the
stemming, the websearch syntax, the highlight markers, the filters, the archived flag,
the errors, the CLI's output and the indexes' use are checked against it.
"""
import json
import re
import subprocess
import urllib.parse

import harness
from test_api import API, ApiCase, uniq, ts

START, STOP = '\x02', '\x03'
HIT_KEYS = {'kind', 'incident', 'action', 'review', 'field', 'title', 'snippet', 'rank', 'at',
            'archived'}


def marked(snippet):
    """The words between the markers of a snippet, in order."""
    return re.findall('\x02(.*?)\x03', snippet)


def seed_reviews(svc, incident, items, notes):
    """The review of `incident` (a key) scheduled and held through the review routes, with
    its notes and, per action, the item of `items` ({action id: {"outcome", "note", ...}});
    the summary is the one the hold renders. Returns the review's id."""
    for method, path, body in (('PUT', '', {}), ('POST', '/hold', {
            'items': [dict(item, action=aid) for aid, item in items.items()], 'notes': notes})):
        st, _, _, raw = svc.request(method, '%s/incidents/%s/review%s' % (API, incident, path),
                                    body=body)
        assert st == 200, (method, path, st, raw)
    return int(svc.sql("SELECT r.id FROM reviews r JOIN incidents i ON i.id = r.incident_id"
                       " WHERE i.key = :'p1'", incident)[0][0])


class SearchCase(ApiCase):
    """The archive every test of the class searches (its words are chosen per test)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = _Maker(cls.svc)
        cls.sre, cls.web = c.team(), c.team()
        cls.alice = c.person(cls.sre)
        cls.bob = c.person(cls.web)
        cls.inc_a = c.incident('Checkout timeouts during the sale', cls.alice)
        cls.inc_b = c.incident('Resolver outage in the DNS tier', cls.bob)
        cls.inc_old = c.incident('Quokka pipeline stalled', cls.bob)
        A = cls.a = {}
        A['pool'] = c.action(cls.inc_a, cls.alice, 'Cap the DB connection pool',
                             'The pool hit its timeout after the deploy.')
        A['drain'] = c.action(cls.inc_a, cls.alice, 'Drain the pool before a connection reset',
                              'Nothing else here.')
        A['dns'] = c.action(cls.inc_b, cls.bob, 'Alert on resolver latency',
                            'Page when lookups pass 200 ms.')
        A['quokka_title'] = c.action(cls.inc_b, cls.bob, 'Feed the quokka monitor', '')
        A['quokka_desc'] = c.action(cls.inc_b, cls.bob, 'Tidy the dashboards',
                                    'Remove the panel that still mentions the quokka feed '
                                    'and a great many other words that make this longer.')
        A['twin1'] = c.action(cls.inc_b, cls.bob, 'Rotate the wombat keys', 'same text')
        A['twin2'] = c.action(cls.inc_b, cls.bob, 'Rotate the wombat keys', 'same text')
        A['old'] = c.action(cls.inc_old, cls.bob, 'Restart the quokka pipeline nightly', '')
        cls.long_text = ' '.join(['filler words about nothing'] * 30 + ['the ibis nest'] +
                                 ['more filler'] * 40)
        A['long'] = c.action(cls.inc_b, cls.bob, 'Tidy the bird park', cls.long_text)
        A['ancient'] = c.action(cls.inc_b, cls.bob, 'Replace the platypus router', '')
        cls.note = c.note(A['pool'], 'saw another timeout today')
        c.block(A['dns'], 'waiting for the vendor firmware')
        cls.svc.sql("UPDATE actions SET created_at = '2020-03-01T00:00:00Z' WHERE id = :'p1'",
                    A['ancient'])
        cls.review = seed_reviews(
            cls.svc, cls.inc_a,
            {A['pool']: {'outcome': 'effective', 'note': 'capybara fix held up'},
             A['drain']: {'outcome': 'not_done', 'due_on': '2031-01-01'}},
            'We argued about the capybara runbook.')
        c.archive(cls.inc_old)

    def search(self, q=None, token='admin', **params):
        if q is not None:
            params['q'] = q
        js = self.get('%s/search?%s' % (API, urllib.parse.urlencode(params)), token=token)
        self.assertEqual(set(js), {'items', 'next_cursor'}, js)
        for hit in js['items']:
            self.assertEqual(set(hit), HIT_KEYS, hit)
            ts(hit['at'])
        return js

    def hits(self, q, **params):
        return self.search(q, **params)['items']

    def found(self, q, **params):
        """(kind, incident, action) of every hit, best first."""
        return [(h['kind'], h['incident'], h['action']) for h in self.hits(q, **params)]


class _Maker:
    """Fixtures through the API (the review: seed_reviews)."""

    def __init__(self, svc):
        self.svc = svc

    def post(self, path, body):
        st, _, js, raw = self.svc.request('POST', API + path, body=body)
        assert st in (200, 201), (path, st, raw)
        return js

    def team(self):
        return self.post('/teams', {'name': uniq('st')})['name']

    def person(self, team):
        h = uniq('sp')
        return self.post('/people', {'handle': h, 'name': h, 'email': h + '@example.com',
                                     'team': team})['handle']

    def incident(self, title, facilitator):
        key = 'SRCH-' + uniq('')
        return self.post('/incidents', {'key': key, 'title': title,
                                        'facilitator': facilitator})['key']

    def action(self, incident, owner, title, description):
        return self.post('/actions', {'incident': incident, 'kind': 'corrective', 'title': title,
                                      'description': description, 'owner': owner,
                                      'due_on': None})['id']

    def note(self, aid, text):
        return self.post('/actions/%d/notes' % aid, {'text': text})['id']

    def block(self, aid, reason):
        return self.post('/actions/%d/block' % aid, {'reason': reason})

    def archive(self, key):
        return self.post('/incidents/%s/archive' % key, {})


class SearchTest(SearchCase):

    def test_ranking_title_first_then_body(self):
        found = self.found('quokka')
        self.assertEqual(set(found[:3]), {('incident', self.inc_old, None),
                                          ('action', self.inc_old, self.a['old']),
                                          ('action', self.inc_b, self.a['quokka_title'])}, found)
        self.assertEqual(found[3:], [('action', self.inc_b, self.a['quokka_desc'])],
                         'a title weighs more than a description')
        self.assertEqual(found[0], ('action', self.inc_b, self.a['quokka_title']),
                         'the shortest title (the least else) first')
        ranks = [h['rank'] for h in self.hits('quokka')]
        self.assertEqual(ranks, sorted(ranks, reverse=True), 'best first')
        self.assertGreater(ranks[0], ranks[-1])

    def test_equal_rank_newest_first(self):
        hits = self.hits('wombat')
        self.assertEqual([h['action'] for h in hits], [self.a['twin2'], self.a['twin1']])
        self.assertEqual(hits[0]['rank'], hits[1]['rank'])
        self.assertGreater(ts(hits[0]['at']), ts(hits[1]['at']))

    def test_stemming(self):
        self.assertIn(('note', self.inc_a, self.a['pool']), self.found('timeouts'),
                      '"timeouts" finds a note saying "timeout"')
        self.assertIn(('incident', self.inc_a, None), self.found('timeout'),
                      '"timeout" finds a title saying "timeouts"')

    def test_phrase(self):
        loose = [a for k, _, a in self.found('connection pool') if k == 'action']
        self.assertIn(self.a['pool'], loose)
        self.assertIn(self.a['drain'], loose)
        phrase = [a for k, _, a in self.found('"connection pool"') if k == 'action']
        self.assertEqual(phrase, [self.a['pool']], 'the words side by side, in that order')

    def test_exclusion_and_or(self):
        found = [a for _, _, a in self.found('pool -drain')]
        self.assertIn(self.a['pool'], found)
        self.assertNotIn(self.a['drain'], found)
        either = self.found('wombat or platypus')
        self.assertEqual({a for _, _, a in either},
                         {self.a['twin1'], self.a['twin2'], self.a['ancient']})

    def test_highlight_markers_around_exactly_the_matching_words(self):
        note = [h for h in self.hits('timeouts') if h['kind'] == 'note']
        self.assertEqual(len(note), 1)
        self.assertEqual(note[0]['snippet'], 'saw another \x02timeout\x03 today')
        self.assertEqual(note[0]['field'], 'note')
        self.assertEqual(note[0]['title'], 'Cap the DB connection pool')
        inc = [h for h in self.hits('checkout sale') if h['kind'] == 'incident'][0]
        self.assertEqual(marked(inc['snippet']), ['Checkout', 'sale'])
        self.assertEqual(inc['snippet'].replace(START, '').replace(STOP, ''),
                         '%s Checkout timeouts during the sale' % self.inc_a)
        key = [h for h in self.hits(self.inc_a) if h['kind'] == 'incident'][0]
        self.assertEqual(marked(key['snippet']), [self.inc_a], 'a key is one marked word')

    def test_long_text_gives_the_passage_that_matches(self):
        hit, = self.hits('ibis')
        self.assertEqual(hit['action'], self.a['long'])
        self.assertEqual(marked(hit['snippet']), ['ibis'])
        plain = hit['snippet'].replace(START, '').replace(STOP, '')
        self.assertIn('the ibis nest', plain)
        self.assertLess(len(plain.split()), 25, 'a passage, not the whole text')
        self.assertNotIn('Tidy', plain, 'the description matched: its passage, not the title')
        hit, = self.hits('bird park')
        self.assertEqual(hit['snippet'], 'Tidy the \x02bird\x03 \x02park\x03',
                         'the title matched: the title')

    def test_every_source(self):
        kinds = {(h['kind'], h['field'], h['action'], h['review']) for h in self.hits('capybara')}
        self.assertEqual(kinds, {('review_note', 'review', None, self.review),
                                 ('review_note', 'item', self.a['pool'], self.review),
                                 ('summary', None, None, self.review),
                                 ('note', 'note', self.a['pool'], None)},  # the hold's event
                         kinds)
        summary = [h for h in self.hits('capybara') if h['kind'] == 'summary'][0]
        self.assertEqual(summary['incident'], self.inc_a)
        self.assertEqual(summary['title'], 'Checkout timeouts during the sale')
        self.assertIn('capybara', [w.lower() for w in marked(summary['snippet'])])
        reason = [h for h in self.hits('firmware')]
        self.assertEqual([(h['kind'], h['field'], h['action']) for h in reason],
                         [('note', 'reason', self.a['dns'])])

    def test_archived_flagged_and_still_found(self):
        by = {(h['kind'], h['action']): h['archived'] for h in self.hits('quokka')}
        self.assertIs(by[('incident', None)], True)
        self.assertIs(by[('action', self.a['old'])], True)
        self.assertIs(by[('action', self.a['quokka_title'])], False)

    def test_team_filter(self):
        sre = self.found('timeout pool or capybara or resolver', team=self.sre)
        web = self.found('timeout pool or capybara or resolver', team=self.web)
        self.assertTrue(sre and web)
        self.assertTrue(all(inc == self.inc_a for _, inc, _ in sre), sre)
        self.assertIn(('review_note', self.inc_a, None), sre, "the review's team")
        self.assertTrue(all(inc == self.inc_b for _, inc, _ in web), web)
        self.assertIn(('incident', self.inc_b, None), web, 'the facilitator is in the team')
        err = self.error('GET', '%s/search?q=pool&team=nosuchteam' % API, status=422,
                         code='validation', field='team')
        self.assertIn('nosuchteam', err['message'])

    def test_since_filter(self):
        self.assertIn(self.a['ancient'], [a for _, _, a in self.found('platypus')])
        for since in ('2021-01-01', '2021-01-01T00:00:00Z', '2021-01-01T01:00:00+01:00'):
            self.assertEqual(self.found('platypus', since=since), [], since)
        self.assertEqual(len(self.found('platypus', since='2020-02-01')), 1)
        err = self.error('GET', '%s/search?q=pool&since=last+week' % API, status=400,
                         code='bad_request', field='since')
        self.assertIn('RFC 3339', err['message'])

    def test_paging_is_the_same_ranking(self):
        whole = self.hits('quokka or wombat or platypus or pool', limit=100)
        self.assertGreaterEqual(len(whole), 7)
        walked, pages = self.walk('%s/search?q=%s' % (API, urllib.parse.quote(
            'quokka or wombat or platypus or pool')), 2)
        self.assertEqual(walked, whole)
        self.assertEqual(pages, (len(whole) + 1) // 2)

    def test_bad_queries_are_422(self):
        for q, why in ((None, 'empty'), ('', 'empty'), ('   ', 'empty'),
                       ('the and of', 'no word'), ('-pool', 'leave out'),
                       ('-pool -drain', 'leave out'), ('x' * 201, '200')):
            with self.subTest(q=q):
                path = '%s/search' % API
                if q is not None:
                    path += '?q=' + urllib.parse.quote(q)
                err = self.error('GET', path, status=422, code='validation', field='q')
                self.assertIn(why, err['message'])
        self.assertTrue(self.hits('x' * 200) == [])

    def test_bad_parameters_are_400(self):
        for query, field in (('limit=0', 'limit'), ('limit=101', 'limit'),
                             ('cursor=abc', 'cursor'), ('cursor=0', 'cursor'),
                             ('cursor=1000', 'cursor'), ('sort=rank', 'sort')):
            with self.subTest(query=query):
                self.error('GET', '%s/search?q=pool&%s' % (API, query), status=400,
                           code='bad_request', field=field)
        self.assertEqual(len(self.hits('quokka or wombat', limit=100)), 6)

    def test_scopes(self):
        self.assertTrue(self.hits('pool', token='read'))
        st, _, _, _ = self.svc.request('GET', API + '/search?q=pool', token=None)
        self.assertEqual(st, 401)


class SearchCliTest(SearchCase):

    def cli_ok(self, *args, **kw):
        p = self.svc.cli(*args, **kw)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_plain_when_piped(self):
        out = self.cli_ok('search', 'timeouts')
        self.assertNotIn('\033', out)
        self.assertNotIn(START, out)
        lines = out.splitlines()
        i = lines.index(next(l for l in lines if l.startswith('note ')))
        self.assertIn('%s #%d' % (self.inc_a, self.a['pool']), lines[i])
        self.assertIn('Cap the DB connection pool', lines[i])
        self.assertEqual(lines[i + 1], '    saw another timeout today')

    def test_bold_on_a_terminal(self):
        code, out = self.svc.cli_tty('search', 'timeouts', columns=200)
        self.assertEqual(code, 0, out)
        self.assertIn('saw another \033[1mtimeout\033[0m today', out)
        self.assertNotIn(START, out)

    def test_markdown_csv_json(self):
        md = self.cli_ok('search', 'timeouts', '--format', 'markdown')
        self.assertIn('saw another **timeout** today', md)
        self.assertTrue(md.startswith('| KIND | WHERE |'), md)
        csv = self.cli_ok('search', 'timeouts', '--format', 'csv')
        self.assertIn('saw another timeout today', csv)
        self.assertNotIn('**', csv)
        hits = json.loads(self.cli_ok('search', 'timeouts', '--json'))
        self.assertIn('saw another \x02timeout\x03 today', [h['snippet'] for h in hits])

    def test_archived_shown(self):
        out = self.cli_ok('search', 'quokka')
        head = [l for l in out.splitlines() if ('#%d' % self.a['old']) in l]
        self.assertEqual(len(head), 1, out)
        self.assertTrue(head[0].endswith('(archived)'), head)

    def test_filters_and_limit(self):
        out = self.cli_ok('search', 'platypus', '--since', '-30d')
        self.assertEqual(out, 'no matches\n')
        out = self.cli_ok('search', 'platypus', '--since', '2020-01-01')
        self.assertIn('Replace the platypus router', out)
        out = self.cli_ok('search', 'pool', '--team', self.web)
        self.assertEqual(out, 'no matches\n')
        p = self.svc.cli('search', 'quokka or wombat', '--limit', '2')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 4)
        self.assertIn('showing the best 2 hits', p.stderr)
        hits = json.loads(self.cli_ok('search', 'quokka or wombat or platypus or pool',
                                      '--limit', '150', '--json'))
        self.assertEqual(hits, self.hits('quokka or wombat or platypus or pool', limit=100))

    def test_errors(self):
        p = self.svc.cli('search', 'the')
        self.assertEqual(p.returncode, 1)
        self.assertIn('no word to search for', p.stderr)
        p = self.svc.cli('search', 'pool', '--since', 'someday')
        self.assertEqual(p.returncode, 2)
        self.assertIn('--since', p.stderr)
        p = self.svc.cli('search')
        self.assertEqual(p.returncode, 2)
        self.assertIn('missing TEXT', p.stderr)


class SearchIndexTest(ApiCase):
    """Each source is read through its GIN index: the plan of cl_search's statement
    (auto_explain, nested statements), on tables big enough for the planner to choose the
    index by itself (3,000 incidents and reviews, 15,000 actions, notes and review items)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.svc.sql(
            # no triggers: no review scheduling racing these rows (the scheduler's own reviews)
            "SET session_replication_role = replica;"
            "INSERT INTO incidents (key, title) SELECT 'IDX-' || g, 'incident number ' || g"
            " FROM generate_series(1, 3000) g;"
            "INSERT INTO actions (incident_id, kind, title, description)"
            " SELECT i.id, 'corrective', 'seeded action ' || i.id, 'words ' || i.id"
            " FROM incidents i, generate_series(1, 5) g;"
            "INSERT INTO events (action_id, source, actor, field, new)"
            " SELECT id, 'cli', 'x', 'note', 'routine note ' || id FROM actions;"
            "UPDATE actions SET title = 'Cap the gecko pool' WHERE id % 1000 = 7;"
            "INSERT INTO reviews (kind, incident_id, uid, starts_at, timezone, duration_minutes,"
            " source, notes, summary_md) SELECT 'incident', id, 'idx-' || id, now(), 'UTC', 30,"
            " 'cli', 'notes of ' || id, 'summary of ' || id FROM incidents;"
            "INSERT INTO review_items (review_id, action_id, outcome, note, recorded_by)"
            " SELECT r.id, a.id, 'effective', 'item of ' || a.id, 'x'"
            " FROM actions a JOIN reviews r ON r.incident_id = a.incident_id;"
            "UPDATE reviews SET notes = 'the gecko again' WHERE id % 1000 = 3;"
            "UPDATE review_items SET note = 'gecko' WHERE action_id % 1000 = 9;"
            "ANALYZE")

    def plan(self):
        cmd = [harness._psql_bin(), '-X', '-q', '-d', self.svc.dsn, '-c', "LOAD 'auto_explain'",
               '-c', 'SET auto_explain.log_min_duration = 0',
               '-c', 'SET auto_explain.log_nested_statements = on',
               '-c', 'SET client_min_messages = log',
               '-c', "SELECT count(*) FROM cl_search('gecko', NULL, NULL, 21, NULL)"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=harness._clean_env(),
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stderr

    def test_indexes_used(self):
        plan = self.plan()
        for idx in ('incidents_search_idx', 'actions_search_idx', 'events_search_idx',
                    'reviews_notes_search_idx', 'reviews_summary_search_idx',
                    'review_items_search_idx'):
            self.assertIn('Bitmap Index Scan on %s' % idx, plan)
        # no text is matched by reading a table (joins back by id may, on tables this small)
        self.assertIsNone(re.search(r'(Seq Scan|Index Scan)[^\n]*\n\s*Filter: [^\n]*@@', plan))
        self.assertIn('Filter: ', plan, 'the pattern above would see a filter')
        hits = self.get(API + '/search?q=gecko&limit=100')['items']
        self.assertEqual({h['kind'] for h in hits}, {'action', 'review_note'})
        self.assertEqual(len(hits), 15 + 3 + 15)

    def test_only_the_newest_matches_of_a_source_are_ranked(self):
        """15,000 actions say "seeded"; the 10 oldest say it three times, and would rank
        first: they are not among the newest 2,000 (cl_search_ranked()), which alone are
        ranked."""
        oldest = [int(r[0]) for r in self.svc.sql(
            "UPDATE actions SET title = 'seeded seeded seeded' WHERE id IN"
            " (SELECT id FROM actions ORDER BY id LIMIT 10) RETURNING id")]
        newest = int(self.q1('SELECT max(id) FROM actions'))
        hits = self.get(API + '/search?q=seeded&limit=100')['items']
        self.assertEqual(len(hits), 100)
        self.assertTrue(all(h['action'] > newest - 2000 for h in hits), hits[0])
        self.assertEqual(self.svc.sql(
            "SELECT count(*) FROM cl_search('seeded', NULL, NULL, 100, NULL)"
            " WHERE (j::json->>'action')::bigint = ANY (:'p1'::bigint[])",
            '{%s}' % ','.join(map(str, oldest))), [['0']])
        self.svc.sql("UPDATE actions SET title = 'seeded action ' || id WHERE id IN"
                     " (SELECT id FROM actions ORDER BY id LIMIT 10)")
