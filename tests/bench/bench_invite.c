/* bench_invite: how many review invitations closeloopd renders per second, from a real
 * queued payload (mail_queue.payload of kind "review", on stdin): the kind's render (the
 * agenda's Markdown and HTML through cmark, the iCalendar through libical) and the MIME
 * composition, without SMTP. Usage: bench_invite N < payload.json. Prints one line. */
#include "closeloop/mail/kinds.h"
#include "closeloop/mail/mime.h"

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

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    const struct mail_kind *k = mail_kind_find("review");
    json_t *payload = json_loadf(stdin, 0, NULL);
    struct mime_headers h = {"closeloop@bench.example",
                             "closeloop",
                             "ana@bench.example",
                             "Ana",
                             "Invitation: bench",
                             "<bench@bench.example>",
                             0};
    size_t bytes = 0;
    double t0;
    long i;

    if (k == NULL || !json_is_object(payload) || n < 1) {
        fprintf(stderr, "usage: bench_invite N < payload.json (a mail_queue payload of kind "
                        "review)\n");
        return 2;
    }
    t0 = now();
    for (i = 0; i < n; i++) {
        struct cl_err err = CL_ERR_INIT;
        struct mail_parts parts;
        char *msg = NULL;
        size_t len = 0;

        memset(&parts, 0, sizeof(parts));
        if (k->render(payload, &parts, &err) != CL_OK ||
            mime_compose(&msg, &len, &h, &parts, &err) != CL_OK) {
            fprintf(stderr, "bench_invite: %s\n", err.msg);
            return 1;
        }
        bytes = len;
        free(msg);
        mime_parts_dispose(&parts);
    }
    printf("invitation_render: %.0f invitations/s (%ld rendered: agenda Markdown + HTML, "
           "iCalendar, MIME; %zu bytes each)\n",
           (double)n / (now() - t0), n, bytes);
    json_decref(payload);
    return 0;
}
