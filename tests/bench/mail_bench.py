"""make bench, mail part: how fast closeloopd sends queued mail to a local SMTP server
(tests/fakes/smtp_server.py, aiosmtpd), beside how fast PostgreSQL alone queues it
(cl_mail_enqueue). tests/bench/run.sh sets CLOSELOOP_TEST_DSN / CLOSELOOP_BIN_DIR. Every
wait is bounded; the whole takes a few seconds."""
import os
import time

from benchlib import one, until  # sets the import path
import harness  # noqa: E402
from smtp import SmtpServer  # noqa: E402

N = int(os.environ.get("BENCH_MAILS", "2000"))
ENQUEUE = ("SELECT count(cl_mail_enqueue('test', 'r' || i || '@bench.example', NULL, 'bench ' || i,"
           " '{}'::jsonb, NULL)) FROM generate_series(1, %d) i" % N)


def enqueue_alone(svc):
    """The median of 3 runs of N enqueues in one statement, rolled back (nothing sent)."""
    runs = []
    for _ in range(3):
        out = svc.sql("BEGIN; EXPLAIN (ANALYZE, TIMING OFF) %s; ROLLBACK;" % ENQUEUE)
        ms = [float(r[0].split()[2]) for r in out if r[0].startswith("Execution Time")]
        runs.append(ms[0])
    return sorted(runs)[1]


def main():
    with SmtpServer() as smtp:
        env = smtp.env(CLOSELOOP_LOG_LEVEL="warn", CLOSELOOP_SMTP_TIMEOUT="30")
        svc = harness.Service(name="mail-bench", env=env).start()
        try:
            ms = enqueue_alone(svc)
            t0 = time.time()
            svc.sql(ENQUEUE)
            until(lambda: one(svc, "SELECT count(*) FROM mail_queue WHERE status = 'sent'")
                  == str(N), timeout=60)
            secs = time.time() - t0
            got = smtp.stats()["accepted"]
            print("mail_send_%d: %.0f mails/s to the local SMTP server (%.2f s, %d accepted, "
                  "smtp_concurrency 4, one connection per message) · enqueue in PostgreSQL "
                  "alone: %.0f mails/s (%d in %.1f ms)" % (N, N / secs, secs, got,
                                                           N / (ms / 1000.0), N, ms))
        finally:
            svc.stop()


if __name__ == "__main__":
    main()
