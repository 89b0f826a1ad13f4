/* cli_table: aligned text tables for the terminal. Column widths come from the content; the
 * last column is not padded. Cells may carry a colour, written as ANSI SGR only when the
 * caller asks for colour. Control characters in cells are blanked, so that data from the
 * server cannot move the cursor or change the terminal. */
#ifndef CLOSELOOP_CLI_TABLE_H
#define CLOSELOOP_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cli_color {
    CLI_COLOR_NONE,
    CLI_COLOR_RED,
    CLI_COLOR_GREEN,
    CLI_COLOR_YELLOW,
    CLI_COLOR_CYAN,
    CLI_COLOR_DIM
};

struct cli_table;

/* A table of ncols columns (>= 1). Never NULL; free with cli_table_free(). */
struct cli_table *cli_table_new(size_t ncols);

/* NULL is a no-op. */
void cli_table_free(struct cli_table *t);

/* Appends the next cell, rows filling left to right; the first row is the header if the
 * caller wants one. text is copied, NULL shows as "-". */
void cli_table_add(struct cli_table *t, const char *text, enum cli_color color);

/* Writes the table to out, colours only when color is true, in at most max_width columns
 * when max_width > 0 (a terminal's width): the widest columns are narrowed and their
 * cells cut with "…". 0 prints every value in full (piped output). 0, or CL_EIO on a
 * write error. */
int cli_table_print(const struct cli_table *t, FILE *out, bool color, size_t max_width);

#define CLI_TABLE_MIN_COL  6  /* a column is not narrowed below this */
#define CLI_TABLE_MIN_LAST 20 /* the last column (titles) is narrowed first, to this */

/* Copy of s cut to `width` display columns, the last one "…" when it was longer. Caller
 * frees. */
char *cli_table_cut(const char *s, size_t width);

/* Display width of UTF-8 text: its code points (wide characters count as one). */
size_t cli_table_width(const char *s);

/* Copy of s with control characters (C0, DEL, C1) blanked. Caller frees. */
char *cli_table_clean(const char *s, bool keep_newlines);

/* The SGR sequence that starts color ("" for CLI_COLOR_NONE); CLI_TABLE_RESET ends it. */
const char *cli_table_sgr(enum cli_color color);
#define CLI_TABLE_RESET "\033[0m"

/* Whether to colour: only on a terminal, not when NO_COLOR is set to a non-empty value
 * (no-color.org; an empty one does not count) and not when TERM is "dumb" (no_color and
 * term are getenv("NO_COLOR") and getenv("TERM")). */
bool cli_table_color_wanted(bool is_tty, const char *no_color, const char *term);

#endif
