"""Prints EXPLAIN ANALYZE for the API's action-list SQL (taken from src/api/routes_core.c, so
it cannot drift) with the parameters of GET /api/v1/actions?overdue=true&limit=50, or of
?unowned=true&limit=50 when the second argument is "unowned".

    python3 overdue_explain.py src/api/routes_core.c [overdue|unowned] | psql ...
"""
import re
import sys


def explain_sql(source_path, which="overdue"):
    with open(source_path) as f:
        src = f.read()
    body = re.search(r'static const char sql_action_list\[\] =\n(.*?);\n', src, re.S).group(1)
    sql = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', body))
    overdue, unowned = ("'true'", "'false'") if which == "overdue" else ("'false'", "'true'")
    params = ["NULL", "NULL", "NULL", "NULL", "NULL", overdue, unowned,
              "NULL", "NULL", "NULL", "NULL", "'51'"]
    for i in range(len(params), 0, -1):
        sql = sql.replace('$%d' % i, params[i - 1])
    return "EXPLAIN (ANALYZE, BUFFERS) " + sql + ";"


if __name__ == "__main__":
    print(explain_sql(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "overdue"))
