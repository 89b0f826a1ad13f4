"""The reference text (README.md and docs/*.md) against the service it describes: every
route the API tables list answers, and every route the code registers is listed; every
metric the README names is exposed, and every one exposed is named; every configuration
key and default of the README's table is closeloopd's, and every key closeloopd knows is
documented (the tracker connections' keys in their "Connecting ..." section)."""

import glob
import os
import re
import unittest

from harness import ServiceTestCase
from test_ops import parse_metrics, run_closeloopd

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, '..', '..')
METHODS = ('GET', 'POST', 'PATCH', 'PUT', 'DELETE')
# What the placeholders of documented paths stand for in a probe (any value will do: the
# probe asks only whether the route exists).
PLACEHOLDER = {'tracker': 'github'}


def doc_files():
    """README.md, then docs/*.md."""
    return [os.path.join(SRC, 'README.md')] + sorted(glob.glob(os.path.join(SRC, 'docs', '*.md')))


def doc_text():
    parts = []
    for path in doc_files():
        with open(path, encoding='utf-8') as f:
            parts.append(f.read())
    return '\n'.join(parts)


def section(text, heading):
    """The body of the `## heading...` section of text (up to the next ## heading; the
    heading's case does not matter)."""
    m = re.search(r'^## ' + re.escape(heading) + r'.*?$(.*?)(?=^## |\Z)', text,
                  re.M | re.S | re.I)
    if m is None:
        raise AssertionError('no section "## %s" in README.md or docs/*.md' % heading)
    return m.group(1)


def documented_routes(text):
    """{(method, path)} from every table whose first column is "method and path". A cell's
    backticked spans are read in order: `GET/PATCH /a/{x}` sets the methods and path,
    `/b/{y}/c` is another path for the same methods, `/start` replaces the last segment of
    the one before; other spans (bodies, examples) are skipped."""
    routes = set()
    in_table = False
    for line in text.splitlines():
        if line.startswith('| method and path |'):
            in_table = True
            continue
        if not line.startswith('|'):
            in_table = False
            continue
        if not in_table or line.startswith('| ---'):
            continue
        cell = line.split('|')[1]
        methods, path = None, None
        for span in re.findall(r'`([^`]*)`', cell):
            m = re.match(r'^((?:%s)(?:/(?:%s))*) (/\S*)$' % ('|'.join(METHODS), '|'.join(METHODS)),
                         span)
            if m:
                methods, path = m.group(1).split('/'), m.group(2)
            elif methods and re.match(r'^/[\w{}]+(/[\w{}]+)+$', span):
                path = span
            elif methods and re.match(r'^/[\w{}]+$', span):
                path = path.rsplit('/', 1)[0] + span
            else:
                continue
            routes.update((meth, path) for meth in methods)
    return routes


def code_routes():
    """{(method, path)} registered by src/api/routes_*.c, with "{}" for each parameter."""
    routes = set()
    for path in glob.glob(os.path.join(SRC, 'src', 'api', 'routes_*.c')):
        with open(path, encoding='utf-8') as f:
            routes.update(re.findall(r'\{"(%s)", "(/[^"]*)"' % '|'.join(METHODS), f.read()))
    return routes


def generic(path):
    return re.sub(r'\{[^}]*\}', '{}', path)


def probe_path(path):
    return re.sub(r'\{([^}]*)\}', lambda m: PLACEHOLDER.get(m.group(1), 'x1'), path)


class DocumentedServiceTest(ServiceTestCase):

    def test_every_documented_route_answers(self):
        routes = documented_routes(doc_text())
        self.assertGreater(len(routes), 30, 'the route tables were not found: %r' % routes)
        by_path = {}
        for method, path in routes:
            by_path.setdefault(path, set()).add(method)
        for path, methods in sorted(by_path.items()):
            # A method the docs give this path no route for: an existing route answers 405
            # and lists its methods in Allow; a missing one answers 404.
            probe = next(m for m in METHODS if m not in methods)
            with self.subTest(path=path):
                r = self.svc.request(probe, probe_path(path), token='admin')
                self.assertEqual(r.status, 405, '%s %s: %s' % (probe, path, r.body))
                allow = {m.strip() for m in r.headers.get('allow', '').split(',')}
                self.assertLessEqual(methods, allow, 'documented for %s' % path)

    def test_every_registered_route_is_documented(self):
        documented = {(m, generic(p)) for m, p in documented_routes(doc_text())}
        registered = code_routes()
        self.assertGreater(len(registered), 30, 'no route tables in src/api/routes_*.c')
        self.assertEqual(sorted(registered - documented), [],
                         'routes with no row in the docs/api.md tables')

    def test_named_metrics_are_exposed_and_exposed_ones_named(self):
        ops = section(doc_text(), 'Operations')
        m = re.search(r'^- \*\*Metrics\*\*(.*?)(?=^- \*\*)', ops, re.M | re.S)
        self.assertIsNotNone(m, 'no "- **Metrics**" item in the Operations section')
        named = set(re.findall(r'`(closeloop_[a-z_]+)', m.group(1)))
        r = self.svc.request('GET', '/metrics', token=None)
        self.assertEqual(r.status, 200)
        _, types = parse_metrics(r.body.decode())
        self.assertGreater(len(types), 10, 'no metric families exposed')
        self.assertEqual(sorted(named - set(types)), [], 'named in the README, not exposed')
        self.assertEqual(sorted(set(types) - named), [], 'exposed, not named in the README')


class DocumentedConfigTest(unittest.TestCase):

    def check_config(self):
        r = run_closeloopd('check-config', env={'CLOSELOOP_DATABASE_URL': 'postgresql:///x'})
        self.assertEqual(r.returncode, 0, r.stderr)
        top, sections = {}, {}
        current = top
        for line in r.stdout.splitlines():
            s = re.match(r'^\[(\w+)\.(\w+)\]$', line)
            if s:
                current = sections.setdefault(s.group(1), {})
                continue
            kv = re.match(r'^(\w+)\s+= ?(.*)$', line)
            if kv:
                current[kv.group(1)] = kv.group(2)
        return top, sections

    def test_the_table_is_closeloopds_keys_and_defaults(self):
        table = section(doc_text(), 'Configuration')
        rows = re.findall(r'^\| `([a-z_*]+)` \| ([^|]*) \|', table, re.M)
        self.assertGreater(len(rows), 10, 'no key table in the Configuration section')
        top, sections = self.check_config()
        documented = {k for k, _ in rows if not k.endswith('_*')}
        self.assertEqual(sorted(set(top) ^ documented), [],
                         'keys in the table and not in check-config, or the other way')
        for key, default in rows:
            d = re.fullmatch(r'\s*`([^`]*)`\s*', default)
            if d and key in top:
                with self.subTest(key=key):
                    self.assertEqual(top[key], d.group(1))
        for tracker in sorted(sections):
            self.assertIn('`%s_*`' % tracker, table)

    def test_every_connection_key_is_in_its_connecting_section(self):
        _, sections = self.check_config()
        self.assertIn('github', sections)
        for tracker, keys in sorted(sections.items()):
            text = section(doc_text(), 'Connecting ' + tracker)
            for key in keys:
                # `key` or `tracker_key` in the text, or `key = ...` in an INI example
                name = r'(?:%s_)?%s' % (tracker, key)
                with self.subTest(tracker=tracker, key=key):
                    self.assertIsNotNone(re.search(r'(?m)`%s`|^[;\s]*%s\s*=' % (name, name), text),
                                         'no `%s` in "Connecting %s"' % (key, tracker))


if __name__ == '__main__':
    unittest.main()
