/* daemon_doc: closeloopd's usage text and its man pages closeloopd(8) and
 * closeloopd.ini(5), written from tables: the verbs and flags below (the one place they
 * are listed), the configuration keys of conf.c (conf_doc_list()) and each tracker's own
 * keys from the registry. `closeloopd --help` prints the usage; `closeloopd man 8|5` a
 * page, which the build writes into build/<mode>/man/. */
#ifndef CLOSELOOP_DAEMON_DOC_H
#define CLOSELOOP_DAEMON_DOC_H

#include "closeloop/util/conf.h"

#include <stddef.h>
#include <stdio.h>

/* One verb or flag of closeloopd. */
struct daemon_doc_item {
    const char *name; /* "token create", "--listen" */
    const char *args; /* "--name N --scope read|write|admin", "HOST:PORT"; NULL for none */
    const char *help; /* one line */
};

extern const struct daemon_doc_item daemon_doc_verbs[]; /* ended by a NULL name */
extern const struct daemon_doc_item daemon_doc_flags[]; /* ended by a NULL name */

/* The description of a configuration key: "listen" for closeloopd's own, "conn.scopes"
 * for a connection's neutral key, "github.token" for a tracker's own; NULL if none. */
const char *daemon_doc_key_help(const char *key);

/* `closeloopd --help`. default_config is the file read when no other is named. */
void daemon_doc_usage(FILE *out, const char *default_config);

/* closeloopd(8) in man(7) markup. */
void daemon_doc_man8(FILE *out, const char *default_config);

/* closeloopd.ini(5) in man(7) markup, for the trackers[0..n) of the registry. */
void daemon_doc_man5(FILE *out, const char *default_config,
                     const struct conf_tracker *const *trackers, size_t n);

#endif
