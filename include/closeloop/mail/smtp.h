/* smtp: sends one composed message to one recipient through libcurl's SMTP, on the
 * loop (http_run() on the shared curl multi handle): never blocks. TLS (STARTTLS on
 * smtp://, implicit on smtps://), optional AUTH with a username and password (never
 * logged), a whole-send timeout. The outcome says whether the server accepted the
 * message, refused it for good (a 5xx reply) or failed for now (4xx, connection,
 * timeout), with the server's last reply. Loop-only. */
#ifndef CLOSELOOP_SMTP_H
#define CLOSELOOP_SMTP_H

#include "closeloop/util/cl.h"
#include "closeloop/util/http.h"

#include <stddef.h>

enum smtp_tls { SMTP_TLS_NONE, SMTP_TLS_TRY, SMTP_TLS_REQUIRED };

enum smtp_outcome {
    SMTP_SENT,      /* the server took the message (250 after DATA) */
    SMTP_TRANSIENT, /* try again later: 4xx, no connection, timeout, TLS not offered, and
                       AUTH refused (530, 534, 535, 538: the set-up's fault, not the
                       message's) */
    SMTP_PERMANENT  /* another 5xx reply: sending the same again will not help */
};

struct smtp_opts {
    const char *url;      /* smtp://host[:port] or smtps://host[:port]; borrowed */
    const char *username; /* "" or NULL: no AUTH */
    const char *password; /* secret */
    enum smtp_tls tls;
    double timeout; /* seconds for the whole send */
};

/* Handed to the callback; borrowed for its duration. */
struct smtp_result {
    enum smtp_outcome outcome;
    long reply;        /* the server's last reply code (250, 451, 550...); 0 when none */
    const char *error; /* one line: curl's reason and the server's last reply; "" if sent */
    double seconds;
};

typedef void (*smtp_done_fn)(const struct smtp_result *r, void *arg);

struct smtp_send;

/* Starts sending msg[0..len) (copied) from `from` to `rcpt` (plain addresses, copied).
 * `done` runs once from the loop, never from inside smtp_send(), unless cancelled.
 * Never NULL. */
struct smtp_send *smtp_send(struct http_client *hc, const struct smtp_opts *o, const char *from,
                            const char *rcpt, const char *msg, size_t len, smtp_done_fn done,
                            void *arg);
/* Abandons the send; `done` will not run. NULL ok. */
void smtp_cancel(struct smtp_send *s);

/* The outcome of a finished transfer: `code` is CL_OK when curl reported success. */
enum smtp_outcome smtp_classify(int code, long reply);

/* "none", "try", "required" into *out; CL_EINVAL otherwise. */
int smtp_tls_parse(enum smtp_tls *out, const char *s);

#endif
