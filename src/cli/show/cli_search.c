#include "closeloop/cli/show/cli_search.h"

#include "closeloop/cli/cli_build.h"
#include "closeloop/cli/cli_date.h"
#include "closeloop/cli/cli_page.h"
#include "closeloop/cli/show/cli_render.h"
#include "closeloop/cli/show/cli_table.h"
#include "closeloop/util/buf.h"

#include <stdlib.h>
#include <string.h>

#define SEARCH_BOLD     "\033[1m"
#define SEARCH_INDENT   "    "
#define SEARCH_KIND_COL 12 /* "review item" and a space */

/* Whether byte c starts a code point (is not a UTF-8 continuation byte). */
static bool starts_char(unsigned char c)
{
    return (c & 0xC0) != 0x80;
}

/* Display columns of the text of s: markers and continuation bytes take none. */
static size_t snippet_width(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (*s != CLI_SEARCH_START && *s != CLI_SEARCH_STOP && starts_char((unsigned char)*s))
            n++;
    return n;
}

/* What a marker becomes; "" when the mark is plain. */
static const char *marker(enum cli_search_mark mark, bool start)
{
    if (mark == CLI_SEARCH_BOLD)
        return start ? SEARCH_BOLD : CLI_TABLE_RESET;
    return mark == CLI_SEARCH_MARKDOWN ? "**" : "";
}

char *cli_search_snippet(const char *s, enum cli_search_mark mark, size_t width)
{
    bool cut = width > 0 && snippet_width(s) > width;
    size_t cols = 0;
    bool on = false;
    struct buf b;

    buf_init(&b);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == CLI_SEARCH_START || c == CLI_SEARCH_STOP) {
            if (on != (c == CLI_SEARCH_START))
                buf_puts(&b, marker(mark, c == CLI_SEARCH_START));
            on = c == CLI_SEARCH_START;
            continue;
        }
        if (starts_char(c) && cut && ++cols >= width) /* room for the "…" */
            break;
        if (c < 0x20 || c == 0x7f)
            c = ' ';
        buf_append(&b, &c, 1);
    }
    if (on)
        buf_puts(&b, marker(mark, false));
    if (cut)
        buf_puts(&b, "…");
    return buf_steal(&b, NULL);
}

/* The string field name of hit, or "-". */
static const char *str(const json_t *hit, const char *name)
{
    const char *s = json_string_value(json_object_get(hit, name));

    return s != NULL ? s : "-";
}

/* What kind of text matched, as people say it: a note's reason is a "reason", a review's
 * note on one action a "review item". */
static const char *kind_words(const json_t *hit)
{
    const char *kind = str(hit, "kind");
    const char *field = str(hit, "field");

    if (strcmp(kind, "note") == 0 && strcmp(field, "reason") == 0)
        return "reason";
    if (strcmp(kind, "review_note") == 0)
        return strcmp(field, "item") == 0 ? "review item" : "review note";
    return kind;
}

/* "INC-42", "INC-42 #7" or "#7": where the hit belongs. Caller frees. */
static char *where(const json_t *hit)
{
    const json_t *action = json_object_get(hit, "action");
    const char *inc = json_string_value(json_object_get(hit, "incident"));

    if (json_is_integer(action))
        return cl_asprintf("%s%s#%" JSON_INTEGER_FORMAT, inc != NULL ? inc : "",
                           inc != NULL ? " " : "", json_integer_value(action));
    return cl_strdup(inc != NULL ? inc : "-");
}

/* The hit's day in the local zone, or "-". */
static void day(char buf[32], const json_t *hit, long now)
{
    if (!cli_date_when(buf, 32, str(hit, "at"), now, CLI_DATE_WHEN_DAY))
        snprintf(buf, 32, "-");
}

static bool archived(const json_t *hit)
{
    return json_is_true(json_object_get(hit, "archived"));
}

/* The first line of a hit: kind, where, day, title and "(archived)", cut to width. */
static void print_head(FILE *out, const json_t *hit, bool color, size_t width, long now)
{
    char when[32];
    char *place = where(hit);
    char *line;
    char *shown;

    day(when, hit, now);
    line = cl_asprintf("%-*s%-14s %-10s  %s%s", SEARCH_KIND_COL, kind_words(hit), place, when,
                       str(hit, "title"), archived(hit) ? "  (archived)" : "");
    shown = cli_search_snippet(line, CLI_SEARCH_PLAIN, width);
    fprintf(out, "%s%s%s\n", color ? cli_table_sgr(CLI_COLOR_CYAN) : "", shown,
            color ? CLI_TABLE_RESET : "");
    free(shown);
    free(line);
    free(place);
}

/* The two-line view of every hit. */
static void print_text(FILE *out, const json_t *hits, bool color, size_t width, long now)
{
    size_t indent = strlen(SEARCH_INDENT);
    size_t i;

    if (json_array_size(hits) == 0)
        fputs("no matches\n", out);
    for (i = 0; i < json_array_size(hits); i++) {
        const json_t *hit = json_array_get(hits, i);
        char *snip =
            cli_search_snippet(str(hit, "snippet"), color ? CLI_SEARCH_BOLD : CLI_SEARCH_PLAIN,
                               width > indent ? width - indent : width);

        print_head(out, hit, color, width, now);
        fprintf(out, SEARCH_INDENT "%s\n", snip);
        free(snip);
    }
}

/* One row per hit: CSV (the snippet's words alone) or Markdown (matches in **bold**). */
static void print_rows(FILE *out, const json_t *hits, bool csv)
{
    static const char *const head[] = {"KIND", "WHERE", "AT", "ARCHIVED", "TITLE", "SNIPPET"};
    void (*field)(FILE *, const char *) = csv ? cli_render_csv_field : cli_render_md_field;
    size_t i;
    size_t k;

    for (k = 0; k < CL_ARRAY_LEN(head); k++)
        fprintf(out, "%s%s", k == 0 ? (csv ? "" : "| ") : (csv ? "," : " | "), head[k]);
    fputs(csv ? "\n" : " |\n| --- | --- | --- | --- | --- | --- |\n", out);
    for (i = 0; i < json_array_size(hits); i++) {
        const json_t *hit = json_array_get(hits, i);
        char *place = where(hit);
        char *snip = cli_search_snippet(str(hit, "snippet"),
                                        csv ? CLI_SEARCH_PLAIN : CLI_SEARCH_MARKDOWN, 0);
        const char *cells[] = {kind_words(hit),   place,
                               str(hit, "at"),    archived(hit) ? "yes" : "no",
                               str(hit, "title"), snip};

        for (k = 0; k < CL_ARRAY_LEN(cells); k++) {
            fputs(k == 0 ? (csv ? "" : "| ") : (csv ? "," : " | "), out);
            field(out, cells[k]);
        }
        fputs(csv ? "\n" : " |\n", out);
        free(place);
        free(snip);
    }
}

int cli_search_print(FILE *out, const json_t *hits, const char *format, bool color, size_t width,
                     long now)
{
    if (format != NULL && (strcmp(format, "csv") == 0 || strcmp(format, "markdown") == 0))
        print_rows(out, hits, strcmp(format, "csv") == 0);
    else
        print_text(out, hits, color, width, now);
    return ferror(out) ? CL_EIO : CL_OK;
}

/* One page: q, the other parameters, limit and the cursor. */
static int search_page(json_t **page, const char *cursor, size_t want, struct cl_err *err,
                       void *arg)
{
    const struct cli_search *s = arg;
    char *q = cli_build_escape(s->text);
    char *cur = cursor != NULL ? cli_build_escape(cursor) : NULL;
    char *path = cl_asprintf("/api/v1/search?q=%s%s%s&limit=%zu%s%s", q, *s->query ? "&" : "",
                             s->query, want < CLI_SEARCH_PAGE ? want : CLI_SEARCH_PAGE,
                             cur != NULL ? "&cursor=" : "", cur != NULL ? cur : "");
    int rc = s->get(page, path, err, s->arg);

    free(path);
    free(cur);
    free(q);
    return rc;
}

int cli_search_run(FILE *out, FILE *err_out, const struct cli_search *s, struct cl_err *err)
{
    json_t *hits = NULL;
    bool more = false;
    bool json = s->json || (s->format != NULL && strcmp(s->format, "json") == 0);
    int rc = cli_page_collect(&hits, &more, s->limit, search_page, (void *)s, err);

    if (rc != CL_OK)
        return rc;
    rc = json ? cli_render_json(out, hits)
              : cli_search_print(out, hits, s->format, s->color, s->width, s->now);
    if (rc == CL_OK && more) {
        fflush(out);
        fprintf(err_out, "closeloop: showing the best %zu hits; there are more (raise --limit)\n",
                json_array_size(hits));
    }
    json_decref(hits);
    return rc;
}
