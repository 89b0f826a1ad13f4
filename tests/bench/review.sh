# make bench, review part (sourced by tests/bench/run.sh, with its psql_, $root and the
# running closeloopd in $daemon_pid, at 1,000,000 actions): the scheduling pass over 10,000
# incidents through closeloopd and in PostgreSQL alone, the invitations it queues, and the
# rate at which one invitation renders. Stops closeloopd.
# Review scheduling: the 10,000 newest incidents (about 100,000 actions, all within the
# policy's 60-day window) handed to the scheduler, first through closeloopd (passes of
# 100, one after the other, woken by NOTIFY), then the same passes in
# PostgreSQL alone. Each pass creates the reviews, their events and their invitations.
# The slate cleaned first (bench setup): what the search seed or a pass before marked.
review_mark() {
    psql_ -c "TRUNCATE review_replan" -c "DELETE FROM mail_queue WHERE kind = 'review'" \
          -c "DELETE FROM review_events" -c "DELETE FROM reviews" \
          -c "INSERT INTO review_replan (incident_id)
              SELECT id FROM incidents ORDER BY created_at DESC, id DESC LIMIT 10000" \
          -c "SELECT pg_notify('closeloop_review', '')" >/dev/null
}
review_mark
s0=$(date +%s.%N)
i=0
until [ "$(psql_ -At -c 'SELECT count(*) FROM review_replan')" = 0 ]; do
    i=$((i + 1))
    [ $i -lt 1200 ] || { echo "review pass did not finish"; break; }
    sleep 0.5 # a light poll: each psql costs CPU the passes share
done
s1=$(date +%s.%N)
made=$(psql_ -At -c "SELECT count(*) FROM reviews")
echo "review_scheduling_closeloopd: $made reviews for 10000 incidents in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.2f", b - a}') s (passes of 100)"
kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
daemon_pid=
review_mark
policy='{"default":{"grace_days":7,"min_days":14,"max_days":60,"hour":15,"duration_minutes":45,"working_days":[1,2,3,4,5],"holidays":[],"timezone":"UTC","backlog":"off","backlog_day":2,"backlog_hour":10,"at_risk_days":7,"summary_to":[]},"teams":{},"organizer":""}'
# PostgreSQL alone: the same passes of 100, one statement each, in one psql session.
passes=$(i=0; while [ $i -lt 100 ]; do echo "SELECT cl_review_pass('$policy', 100);"; i=$((i + 1)); done)
s0=$(date +%s.%N)
echo "$passes" | psql_ -At >/dev/null
s1=$(date +%s.%N)
echo "review_scheduling_sql_alone: $(psql_ -At -c "SELECT count(*) FROM reviews") reviews in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.2f", b - a}') s (the same 100 passes of 100, no closeloopd)"
echo "review_invitations_queued: $(psql_ -At -c "SELECT count(*) FROM mail_queue WHERE kind = 'review'") (one per attendee and review)"
# Rendering one of those invitations (agenda, iCalendar, MIME), over and over, no SMTP.
psql_ -At -c "SELECT payload FROM mail_queue WHERE kind = 'review' ORDER BY id LIMIT 1" |
    "$root/build/release/bench/bench_invite" 2000

