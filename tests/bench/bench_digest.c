/* bench_digest: how long closeloopd takes to render queued digests (mail_queue.payload of
 * kind "digest", one JSON object per line on stdin): the kind's render (Markdown, HTML
 * through cmark with inline styles, the trend chart with cairo) and the MIME composition,
 * without SMTP. Usage: bench_digest < payloads.jsonl. Prints one line. */
#include "closeloop/mail/kinds.h"
#include "closeloop/mail/mime.h"
#include "closeloop/report/chart.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    const struct mail_kind *k = mail_kind_find("digest");
    struct mime_headers h = {"closeloop@bench.example",
                             "closeloop",
                             "mgr@bench.example",
                             "Manager",
                             "Digest: bench",
                             "<bench@bench.example>",
                             0};
    char *line = NULL;
    size_t cap = 0;
    size_t bytes = 0;
    long n = 0;
    double spent = 0;

    while (k != NULL && getline(&line, &cap, stdin) > 0) {
        struct cl_err err = CL_ERR_INIT;
        json_t *payload = json_loads(line, 0, NULL);
        struct mail_parts parts;
        char *msg = NULL;
        size_t len = 0;
        double t0;

        if (!json_is_object(payload))
            continue;
        memset(&parts, 0, sizeof(parts));
        t0 = now();
        if (k->render(payload, &parts, &err) != CL_OK ||
            mime_compose(&msg, &len, &h, &parts, &err) != CL_OK) {
            fprintf(stderr, "bench_digest: %s\n", err.msg);
            return 1;
        }
        spent += now() - t0;
        bytes += len;
        n++;
        free(msg);
        mime_parts_dispose(&parts);
        json_decref(payload);
    }
    free(line);
    if (n == 0) {
        fprintf(stderr, "usage: bench_digest < payloads.jsonl (mail_queue payloads of kind "
                        "digest, one per line)\n");
        return 2;
    }
    printf("digest_render: %ld digests in %.2f s (%.1f ms each: Markdown, HTML, cairo chart, "
           "MIME; %zu bytes on average)\n",
           n, spent, spent * 1000.0 / (double)n, bytes / (size_t)n);
    chart_shutdown();
    return 0;
}
