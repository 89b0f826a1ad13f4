"""Tests of the harness itself: if these fail, no other integration test means much."""

import unittest

from harness import Database, ServiceTestCase, psql


class DatabaseHarnessTest(unittest.TestCase):
    """Needs only the test cluster, not closeloopd."""

    @classmethod
    def setUpClass(cls):
        cls.db = Database()

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()

    def test_sql_round_trips_awkward_values_safely(self):
        nasty = "it's \"quoted\"\nsecond line\twith tab; DROP TABLE x; -- :'p2' \\ \u00e9"
        rows = self.db.sql("SELECT :'p1', :'p2'::int + 1, NULL, ''", nasty, 41)
        self.assertEqual(rows, [[nasty, "42", None, ""]])

    def test_sql_rows_statements_and_errors(self):
        self.db.sql("CREATE TABLE t (a int, b text); INSERT INTO t VALUES (1, 'x'), (2, NULL)")
        self.assertEqual(self.db.sql("SELECT a, b FROM t ORDER BY a"), [["1", "x"], ["2", None]])
        self.assertEqual(self.db.sql("SELECT a FROM t WHERE a > 5"), [])
        with self.assertRaisesRegex(RuntimeError, "no_such_table"):
            self.db.sql("SELECT * FROM no_such_table")

    def test_each_database_is_fresh(self):
        other = Database()
        try:
            self.assertNotEqual(other.name, self.db.name)
            self.assertEqual(other.sql("SELECT current_database()"), [[other.name]])
            listed = psql(other.admin_dsn, "SELECT datname FROM pg_database WHERE datname = :'p1'",
                          other.name)
            self.assertEqual(listed, [[other.name]])
        finally:
            other.drop()


class ServiceHarnessTest(ServiceTestCase):
    def test_healthz_answers_200_without_a_token(self):
        r = self.svc.request("GET", "/healthz", token=None)
        self.assertEqual(r.status, 200, r.body)

    def test_api_without_or_with_a_bad_token_is_401(self):
        for token in (None, "not-a-real-token"):
            with self.subTest(token=token):
                status, _headers, body, raw = self.svc.request("GET", "/api/v1/teams", token=token)
                self.assertEqual(status, 401, raw)
                self.assertEqual(body["error"]["code"], "unauthorized", raw)

    def test_the_three_tokens_are_accepted(self):
        for scope in ("admin", "write", "read"):
            with self.subTest(scope=scope):
                r = self.svc.request("GET", "/api/v1/teams", token=scope)
                self.assertEqual(r.status, 200, r.body)
                self.assertIsInstance(r.json["items"], list)


if __name__ == "__main__":
    unittest.main()
