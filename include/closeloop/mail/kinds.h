/* kinds: the kinds of mail closeloop sends, one entry per kind, like the trackers'
 * registry (sync/registry.c). A queued row names its kind; the mail queue asks that
 * kind to render the row's payload into parts and never names a kind itself. Adding a
 * kind: define a `const struct mail_kind` in its own module and add its address to the
 * table in src/mail/kinds.c. Pure data, any thread. */
#ifndef CLOSELOOP_KINDS_H
#define CLOSELOOP_KINDS_H

#include "closeloop/mail/mime.h"
#include "closeloop/util/cl.h"

#include <jansson.h>

struct mail_kind {
    const char *name; /* as cl_mail_enqueue() got it: [a-z][a-z0-9_]{0,31} */
    /* Fills *out (zeroed by the caller; at least out->text) from the row's payload
     * (borrowed). A failure (CL_EINVAL with a reason) fails the row for good, and the
     * reason is shown in the mail list: the payload will not render better later. */
    int (*render)(const json_t *payload, struct mail_parts *out, struct cl_err *err);
};

/* The kind named `name`, or NULL. */
const struct mail_kind *mail_kind_find(const char *name);

/* "test": what `closeloopd mail-test` queues. Payload {"note": text (optional)}. */
extern const struct mail_kind mail_kind_test;

#endif
