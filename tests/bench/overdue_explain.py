"""Prints EXPLAIN ANALYZE for the API's action-list SQL (taken from src/resource.c, so
it cannot drift) with the parameters of GET /api/v1/actions?overdue=true&limit=50."""
import re
import sys

src = open(sys.argv[1]).read()
body = re.search(r'static const char sql_action_list\[\] =\n(.*?);\n', src, re.S).group(1)
sql = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', body))
params = ["NULL", "NULL", "NULL", "NULL", "NULL", "'true'", "'false'",
          "NULL", "NULL", "NULL", "NULL", "'51'"]
for i in range(len(params), 0, -1):
    sql = sql.replace('$%d' % i, params[i - 1])
print("EXPLAIN (ANALYZE, BUFFERS) " + sql + ";")
