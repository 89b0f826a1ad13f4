# Sourced by tests/bench/run.sh at 1,000,000 actions: search latency (GET /api/v1/search, one
# request at a time, end to end) beside the same SQL in PostgreSQL alone, and the indexes its
# plan reads. Uses run.sh's psql_, sample, plan_uses, $dir and $root.
psql_ -f "$root/tests/bench/search_seed.sql" >/dev/null
echo "search_corpus: $(psql_ -At -c "SELECT count(*) FROM actions") actions," \
    "$(psql_ -At -c "SELECT count(*) FROM events WHERE field IN ('note', 'reason')") notes"
# p50 and p99 of the times in $dir/lat, in ms
pct() { sort -n "$dir/lat" | awk '{a[NR] = $1 * 1000} END {printf "p50 %.1fms  p99 %.1fms", a[int(NR * 0.5 + 0.5)], a[int(NR * 0.99 + 0.5)]}'; }
# what each query finds: a planted word in 1 of 10,000 descriptions, 1 of 100 (and notes),
# 1 of 10; a phrase; an exclusion; a team's
for q in "zanzibar" "timeout" "pool" "%22pool+filled%22" "timeout+-pool" "timeout&team=team7" \
    "term500+term501"; do
    sample 50 "/api/v1/search?q=$q&limit=20"
    words=$(echo "$q" | sed 's/&team=.*//; s/%22/"/g; s/+/ /g')
    team=$(echo "$q" | sed -n 's/.*&team=//p')
    [ -n "$team" ] && team="'$team'" || team=NULL
    sql="EXPLAIN (ANALYZE, TIMING OFF) SELECT count(*) FROM cl_search('$words', $team, NULL, 21, NULL)"
    # the median of 5 runs in one session, as closeloopd's pooled sessions run them
    sqlms=$(psql_ -At -c "$sql" -c "$sql" -c "$sql" -c "$sql" -c "$sql" |
        awk '/Execution Time/ {print $3}' | sort -n | sed -n 3p)
    hits=$(psql_ -At -c "SELECT count(*) FROM cl_search('$words', $team, NULL, 1000, NULL)")
    [ "$hits" -ge 1000 ] && hits="1000 or more"
    echo "search_$q (50 requests, first page of 20, $hits hits): $(pct) · PostgreSQL alone p50 ${sqlms}ms"
done
echo "search_plan (timeout): $(plan_uses "SELECT count(*) FROM cl_search('timeout', NULL, NULL, 21, NULL)")"
