#include "closeloop/cli/show/cli_table.h"

#include "closeloop/util/cl.h"

#include <stdlib.h>
#include <string.h>

#define GAP 2 /* spaces between columns */

struct cell {
    char *text;
    size_t width;
    enum cli_color color;
};

struct cli_table {
    size_t ncols;
    struct cell *cells;
    size_t ncells;
    size_t cap;
};

struct cli_table *cli_table_new(size_t ncols)
{
    struct cli_table *t = cl_calloc(1, sizeof(*t));

    t->ncols = ncols > 0 ? ncols : 1;
    return t;
}

void cli_table_free(struct cli_table *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->ncells; i++)
        free(t->cells[i].text);
    free(t->cells);
    free(t);
}

char *cli_table_clean(const char *s, bool keep_newlines)
{
    char *out = cl_strdup(s);
    unsigned char *p = (unsigned char *)out;
    size_t i;

    for (i = 0; p[i] != '\0'; i++) {
        if (keep_newlines && (p[i] == '\n' || p[i] == '\t'))
            continue;
        if (p[i] < 0x20 || p[i] == 0x7f)
            p[i] = ' ';
        else if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            p[i] = ' '; /* U+0080..U+009F, the C1 controls, in UTF-8 */
            p[i + 1] = ' ';
        }
    }
    return out;
}

size_t cli_table_width(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    }
    return n;
}

void cli_table_add(struct cli_table *t, const char *text, enum cli_color color)
{
    struct cell *c;

    if (t->ncells == t->cap) {
        t->cap = t->cap > 0 ? 2 * t->cap : 16;
        t->cells = cl_realloc(t->cells, t->cap * sizeof(*t->cells));
    }
    c = &t->cells[t->ncells++];
    c->text = cli_table_clean(text != NULL ? text : "-", false);
    c->width = cli_table_width(c->text);
    c->color = color;
}

const char *cli_table_sgr(enum cli_color color)
{
    switch (color) {
    case CLI_COLOR_RED:
        return "\033[31m";
    case CLI_COLOR_GREEN:
        return "\033[32m";
    case CLI_COLOR_YELLOW:
        return "\033[33m";
    case CLI_COLOR_CYAN:
        return "\033[36m";
    case CLI_COLOR_DIM:
        return "\033[2m";
    case CLI_COLOR_NONE:
        break;
    }
    return "";
}

bool cli_table_color_wanted(bool is_tty, const char *no_color, const char *term)
{
    if (!is_tty || (no_color != NULL && no_color[0] != '\0'))
        return false; /* no-color.org: set and not empty */
    return term == NULL || strcmp(term, "dumb") != 0;
}

char *cli_table_cut(const char *s, size_t width)
{
    size_t n = 0;
    const char *p;

    if (cli_table_width(s) <= width)
        return cl_strdup(s);
    if (width == 0)
        return cl_strdup("");
    for (p = s; *p != '\0'; p++) { /* stop before the code point that would be width-th */
        if (((unsigned char)*p & 0xc0) != 0x80 && n++ == width - 1)
            break;
    }
    return cl_asprintf("%.*s\xe2\x80\xa6", (int)(p - s), s); /* "…" */
}

/* Writes the cell in `width` columns (cut with "…" when longer), then pad spaces. */
static void print_cell(const struct cell *c, FILE *out, bool color, size_t width, size_t pad)
{
    char *text = c->width > width ? cli_table_cut(c->text, width) : NULL;
    const char *shown = text != NULL ? text : c->text;
    size_t w = text != NULL ? width : c->width;

    if (color && c->color != CLI_COLOR_NONE)
        fprintf(out, "%s%s%s", cli_table_sgr(c->color), shown, CLI_TABLE_RESET);
    else
        fputs(shown, out);
    if (pad > 0)
        fprintf(out, "%*s", (int)(width - w + pad), "");
    free(text);
}

/* Narrows columns until the row fits `max` (0: no limit): first the last column (where
 * tables keep free text: titles) down to CLI_TABLE_MIN_LAST, then the widest of the others
 * one position at a time down to CLI_TABLE_MIN_COL, then the last one again. A column
 * narrower than its minimum is left alone; a row that still does not fit wraps. */
static void fit_widths(size_t *widths, size_t ncols, size_t max)
{
    size_t last = ncols - 1;
    size_t total = GAP * (ncols - 1);
    size_t i;

    for (i = 0; i < ncols; i++)
        total += widths[i];
    while (max > 0 && total > max && widths[last] > CLI_TABLE_MIN_LAST) {
        widths[last]--;
        total--;
    }
    while (max > 0 && total > max) {
        size_t widest = last;

        for (i = 0; i < last; i++)
            if (widest == last || widths[i] > widths[widest])
                widest = i;
        if (widest == last || widths[widest] <= CLI_TABLE_MIN_COL)
            widest = last;
        if (widths[widest] <= CLI_TABLE_MIN_COL)
            break;
        widths[widest]--;
        total--;
    }
}

int cli_table_print(const struct cli_table *t, FILE *out, bool color, size_t max_width)
{
    size_t *widths = cl_calloc(t->ncols, sizeof(*widths));
    size_t i;
    size_t col;

    for (i = 0; i < t->ncells; i++) {
        col = i % t->ncols;
        if (t->cells[i].width > widths[col])
            widths[col] = t->cells[i].width;
    }
    fit_widths(widths, t->ncols, max_width);
    for (i = 0; i < t->ncells; i++) {
        col = i % t->ncols;
        if (col + 1 == t->ncols || i + 1 == t->ncells) {
            print_cell(&t->cells[i], out, color, widths[col], 0);
            fputc('\n', out);
        } else
            print_cell(&t->cells[i], out, color, widths[col], GAP);
    }
    free(widths);
    return ferror(out) ? CL_EIO : CL_OK;
}
