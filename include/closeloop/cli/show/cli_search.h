/* cli_search: `closeloop search TEXT`, the hits of GET /api/v1/search, best first. Each hit
 * is two lines: what it is (kind, incident, action, day, title, "archived") and its
 * snippet, whose matching words the server puts between U+0002 and U+0003: bold on a
 * terminal, **word** in Markdown, the words alone otherwise. --format csv|markdown prints
 * one row per hit; --json (--format json) the hits as the server sent them, markers
 * included. Nothing here fails on odd input: a missing field shows as "-". */
#ifndef CLOSELOOP_CLI_SEARCH_H
#define CLOSELOOP_CLI_SEARCH_H

#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define CLI_SEARCH_PAGE 100 /* the most hits one request asks for (the API's limit) */

#define CLI_SEARCH_START '\002' /* the server's markers around a matching word */
#define CLI_SEARCH_STOP  '\003'

/* How a snippet's markers are written. */
enum cli_search_mark {
    CLI_SEARCH_PLAIN,   /* dropped: the words alone */
    CLI_SEARCH_BOLD,    /* ANSI bold on, bold off */
    CLI_SEARCH_MARKDOWN /* ** around the word */
};

/* The snippet s with its markers written as `mark`, other control characters blanked and,
 * when width > 0, cut to width display columns (the last one "…"), bold never left on.
 * Caller frees. */
char *cli_search_snippet(const char *s, enum cli_search_mark mark, size_t width);

/* GET path (with its query) into *out (a new reference). 0 or an error in err. */
typedef int (*cli_search_get_fn)(json_t **out, const char *path, struct cl_err *err, void *arg);

struct cli_search {
    const char *text;   /* what to search for, as typed */
    const char *query;  /* the other query parameters ("team=sre&since=..."), "" when none */
    size_t limit;       /* the most hits to show */
    const char *format; /* NULL or "table", "json", "csv", "markdown" */
    bool json;          /* --json */
    bool color;         /* bold matching words (a terminal) */
    size_t width;       /* > 0: cut lines to this many columns */
    long now;           /* seconds since the epoch */
    cli_search_get_fn get;
    void *arg;
};

/* Fetches the best s->limit hits (pages of CLI_SEARCH_PAGE), then prints them to out;
 * says on err_out when the server has more. 0 or the failing request's error. */
int cli_search_run(FILE *out, FILE *err_out, const struct cli_search *s, struct cl_err *err);

/* Prints hits (a JSON array of hit objects) as format says: NULL or "table" the two-line
 * view ("no matches" when empty), "csv" or "markdown" a row per hit. 0 or CL_EIO. */
int cli_search_print(FILE *out, const json_t *hits, const char *format, bool color, size_t width,
                     long now);

#endif
