/* cli_cmd: runs one closeloop command line from start to end: parses and checks it, resolves
 * the URL and token, makes the requests (blocking) and prints the result. Usage errors are
 * found before any request. Messages go to io->err as "closeloop: <one line>"; the token
 * never appears in any output. libcurl must be initialised (curl_global_init) by the
 * caller. */
#ifndef CLOSELOOP_CLI_CMD_H
#define CLOSELOOP_CLI_CMD_H

#include <stdbool.h>
#include <stdio.h>

struct cli_cmd_io {
    FILE *in;     /* for --description - */
    FILE *out;    /* results, help */
    FILE *err;    /* messages, usage errors, "more rows exist" notes */
    bool color;   /* ANSI colours on out (see cli_table_color_wanted()) */
    size_t width; /* tables fit this many columns (a terminal's); 0: full values */
};

/* Runs argv[1..argc) and returns the process exit code: 0 ok; 1 rejected by the server, or a
 * "github doctor" whose checks did not all pass; 2 usage error (nothing sent); 3 service
 * unreachable, 5xx, token refused or missing, or an answer that makes no sense. */
int cli_cmd_run(int argc, char *const *argv, const struct cli_cmd_io *io);

#endif
