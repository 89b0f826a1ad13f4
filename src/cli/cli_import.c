#include "closeloop/cli/cli_import.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The CSV columns, and the body field each fills. */
static const char *const import_columns[][2] = {
    {"title", "title"}, {"kind", "kind"},         {"owner", "owner"},
    {"due", "due_on"},  {"priority", "priority"}, {"description", "description"}};

#define IMPORT_NCOLS (sizeof(import_columns) / sizeof(import_columns[0]))

/* A cursor over the text, counting lines. */
struct import_src {
    const char *p;
    const char *end;
    long line;
    const char *name;
};

/* Sets field to the string value (NULL for "none" when nullable), or fails naming it. */
static int import_set(json_t *row, const char *field, const char *v, size_t n,
                      const struct import_src *s, long line, struct cl_err *err)
{
    json_t *value;

    if (strcmp(field, "due_on") == 0 && n == 4 && strncmp(v, "none", 4) == 0)
        value = json_null();
    else
        value = json_stringn(v, n);
    if (value == NULL)
        return cl_fail(err, CL_EINVAL, "%s:%ld: %s is not UTF-8 text", s->name, line, field);
    json_object_set_new(row, field, value);
    return CL_OK;
}

/* ---- Markdown checklists ---- */

/* The item's text after "- [ ] " (or "* [ ] "), or NULL when the line is no item;
 * *checked says [x]. */
static const char *import_md_item(const char *line, const char *eol, bool *checked)
{
    const char *p = line;

    while (p < eol && (*p == ' ' || *p == '\t'))
        p++;
    if (eol - p < 6 || (p[0] != '-' && p[0] != '*') || p[1] != ' ' || p[2] != '[' || p[4] != ']' ||
        (p[5] != ' ' && p + 5 != eol))
        return NULL;
    if (p[3] != ' ' && p[3] != 'x' && p[3] != 'X')
        return NULL;
    *checked = p[3] != ' ';
    return p + 5;
}

/* Whether the word (n bytes at w) is a trailing token; sets the row's field if so. */
static int import_md_token(bool *taken, json_t *row, const char *w, size_t n,
                           const struct import_src *s, struct cl_err *err)
{
    const char *field = NULL;
    size_t skip = 0;

    if (n >= 2 && w[0] == '@') {
        field = "owner";
        skip = 1;
    } else if (n > 4 && strncmp(w, "due:", 4) == 0) {
        field = "due_on";
        skip = 4;
    } else if (n == 2 && w[0] == 'P' && w[1] >= '0' && w[1] <= '4') {
        field = "priority";
    } else if ((n == 10 && strncmp(w, "corrective", 10) == 0) ||
               (n == 10 && strncmp(w, "preventive", 10) == 0)) {
        field = "kind";
    }
    *taken = field != NULL;
    if (field == NULL)
        return CL_OK;
    if (json_object_get(row, field) != NULL)
        return cl_fail(err, CL_EINVAL, "%s:%ld: \"%.*s\": this item already has its %s", s->name,
                       s->line, (int)n, w, field);
    return import_set(row, field, w + skip, n - skip, s, s->line, err);
}

/* "Title words @owner due:DATE P1 kind": the trailing tokens, then the title. */
static int import_md_row(json_t *row, const char *text, const char *eol, const struct import_src *s,
                         struct cl_err *err)
{
    const char *end = eol;
    bool taken = true;
    int rc = CL_OK;

    while (rc == CL_OK && taken) {
        const char *w;

        while (end > text && isspace((unsigned char)end[-1]))
            end--;
        w = end;
        while (w > text && !isspace((unsigned char)w[-1]))
            w--;
        rc = w < end ? import_md_token(&taken, row, w, (size_t)(end - w), s, err) : CL_OK;
        if (w == end)
            taken = false;
        if (taken)
            end = w;
    }
    while (text < end && isspace((unsigned char)*text))
        text++;
    if (rc == CL_OK && text == end)
        rc = cl_fail(err, CL_EINVAL, "%s:%ld: the item has no title", s->name, s->line);
    if (rc == CL_OK)
        rc = import_set(row, "title", text, (size_t)(end - text), s, s->line, err);
    return rc;
}

static int import_markdown(json_t *rows, struct import_src *s, struct cl_err *err)
{
    int rc = CL_OK;

    while (rc == CL_OK && s->p < s->end) {
        const char *eol = memchr(s->p, '\n', (size_t)(s->end - s->p));
        const char *stop = eol != NULL ? eol : s->end;
        bool checked = false;
        const char *item;

        s->line++;
        if (stop > s->p && stop[-1] == '\r')
            stop--;
        item = import_md_item(s->p, stop, &checked);
        if (item != NULL && checked)
            rc = cl_fail(err, CL_EINVAL,
                         "%s:%ld: a checked item ([x]) is done already: import open work only",
                         s->name, s->line);
        else if (item != NULL) {
            json_t *row = json_pack("{s:I}", "line", (json_int_t)s->line);

            rc = import_md_row(row, item, stop, s, err);
            json_array_append_new(rows, row);
        }
        s->p = eol != NULL ? eol + 1 : s->end;
    }
    return rc;
}

/* ---- CSV (RFC 4180) ---- */

/* One cell into *cell (heap, unquoted); *last says it ended its record. */
static int import_csv_cell(char **cell, bool *last, struct import_src *s, struct cl_err *err)
{
    const char *p = s->p;
    bool quoted = p < s->end && *p == '"';
    size_t cap = 64;
    size_t n = 0;
    char *out = cl_malloc(cap);

    p += quoted;
    for (; p < s->end; p++) {
        if (quoted && *p == '"' && p + 1 < s->end && p[1] == '"') {
            p++;
        } else if (quoted && *p == '"') {
            quoted = false;
            p++;
            if (p < s->end && *p != ',' && *p != '\n' && *p != '\r') {
                free(out);
                return cl_fail(err, CL_EINVAL, "%s:%ld: text after a closing quote", s->name,
                               s->line);
            }
            break;
        } else if (!quoted && (*p == ',' || *p == '\n' || *p == '\r')) {
            break;
        }
        if (*p == '\n')
            s->line++;
        if (n + 2 > cap)
            out = cl_realloc(out, cap *= 2);
        out[n++] = *p;
    }
    if (quoted) {
        free(out);
        return cl_fail(err, CL_EINVAL, "%s:%ld: a quoted cell is never closed", s->name, s->line);
    }
    out[n] = '\0';
    *last = p >= s->end || *p != ',';
    if (p < s->end && *p == '\r')
        p++;
    s->p = p < s->end ? p + 1 : s->end;
    *cell = out;
    return CL_OK;
}

/* One record's cells (at most IMPORT_NCOLS + 1 are kept: more is an error anyway). */
struct import_record {
    char *cells[IMPORT_NCOLS + 1];
    size_t n;
    long line;
};

static void import_record_dispose(struct import_record *r)
{
    size_t i;

    for (i = 0; i < r->n && i <= IMPORT_NCOLS; i++)
        free(r->cells[i]);
    r->n = 0;
}

static int import_csv_record(struct import_record *r, struct import_src *s, struct cl_err *err)
{
    bool last = false;
    char *cell = NULL;
    int rc = CL_OK;

    r->n = 0;
    r->line = ++s->line;
    while (rc == CL_OK && !last) {
        rc = import_csv_cell(&cell, &last, s, err);
        if (rc == CL_OK && r->n <= IMPORT_NCOLS)
            r->cells[r->n] = cell;
        else if (rc == CL_OK)
            free(cell);
        if (rc == CL_OK)
            r->n++;
    }
    return rc;
}

/* The header: each cell a known column, once; title and kind present. map[i] is the
 * column index of cell i. */
static int import_csv_header(size_t map[IMPORT_NCOLS], const struct import_record *h,
                             const struct import_src *s, struct cl_err *err)
{
    bool seen[IMPORT_NCOLS] = {false};
    size_t i;
    size_t c;

    if (h->n > IMPORT_NCOLS)
        return cl_fail(err, CL_EINVAL, "%s:%ld: more than %zu columns", s->name, h->line,
                       IMPORT_NCOLS);
    for (i = 0; i < h->n; i++) {
        for (c = 0; c < IMPORT_NCOLS && strcmp(h->cells[i], import_columns[c][0]) != 0; c++)
            ;
        if (c == IMPORT_NCOLS)
            return cl_fail(err, CL_EINVAL,
                           "%s:%ld: unknown column \"%.40s\": the columns are title, kind, owner, "
                           "due, priority and description",
                           s->name, h->line, h->cells[i]);
        if (seen[c])
            return cl_fail(err, CL_EINVAL, "%s:%ld: column %s appears twice", s->name, h->line,
                           h->cells[i]);
        seen[c] = true;
        map[i] = c;
    }
    if (!seen[0] || !seen[1])
        return cl_fail(err, CL_EINVAL, "%s:%ld: the header needs the columns title and kind",
                       s->name, h->line);
    return CL_OK;
}

/* A data record as a row: empty cells are left out (the server's defaults apply). */
static int import_csv_row(json_t *rows, const size_t *map, size_t ncols,
                          const struct import_record *r, const struct import_src *s,
                          struct cl_err *err)
{
    json_t *row;
    size_t i;
    int rc = CL_OK;

    if (r->n != ncols)
        return cl_fail(err, CL_EINVAL, "%s:%ld: %zu cells, the header has %zu", s->name, r->line,
                       r->n, ncols);
    row = json_pack("{s:I}", "line", (json_int_t)r->line);
    for (i = 0; rc == CL_OK && i < ncols; i++)
        if (r->cells[i][0] != '\0')
            rc = import_set(row, import_columns[map[i]][1], r->cells[i], strlen(r->cells[i]), s,
                            r->line, err);
    json_array_append_new(rows, row);
    return rc;
}

static bool import_blank(const struct import_record *r)
{
    return r->n == 1 && r->cells[0][0] == '\0';
}

static int import_csv(json_t *rows, struct import_src *s, struct cl_err *err)
{
    struct import_record rec = {{NULL}, 0, 0};
    size_t map[IMPORT_NCOLS];
    size_t ncols = 0;
    int rc = CL_OK;

    while (rc == CL_OK && s->p < s->end) {
        rc = import_csv_record(&rec, s, err);
        if (rc == CL_OK && import_blank(&rec)) {
            import_record_dispose(&rec);
            continue;
        }
        if (rc == CL_OK && ncols == 0) {
            rc = import_csv_header(map, &rec, s, err);
            ncols = rec.n;
        } else if (rc == CL_OK) {
            rc = import_csv_row(rows, map, ncols, &rec, s, err);
        }
        import_record_dispose(&rec);
    }
    if (rc == CL_OK && ncols == 0)
        rc = cl_fail(err, CL_EINVAL, "%s: no header: the first line names the columns", s->name);
    return rc;
}

/* ---- both ---- */

/* Whether some line is a checklist item. */
static bool import_is_markdown(const char *p, const char *end)
{
    bool checked;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol != NULL ? eol : end;

        if (import_md_item(p, stop, &checked) != NULL)
            return true;
        p = eol != NULL ? eol + 1 : end;
    }
    return false;
}

int cli_import_parse(json_t **out, const char *text, size_t len, const char *name,
                     struct cl_err *err)
{
    struct import_src s = {text, text + len, 0, name};
    json_t *rows = json_array();
    int rc;

    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* a byte-order mark */
        s.p += 3;
    if (memchr(text, '\0', len) != NULL)
        rc = cl_fail(err, CL_EINVAL, "%s: holds a NUL byte: not a text file", name);
    else if (import_is_markdown(s.p, s.end))
        rc = import_markdown(rows, &s, err);
    else
        rc = import_csv(rows, &s, err);
    if (rc == CL_OK && json_array_size(rows) == 0)
        rc = cl_fail(err, CL_EINVAL, "%s: no actions in it", name);
    if (rc == CL_OK && json_array_size(rows) > CLI_IMPORT_MAX_ROWS)
        rc = cl_fail(err, CL_EINVAL, "%s: %zu actions, more than %d at once: split the file", name,
                     json_array_size(rows), CLI_IMPORT_MAX_ROWS);
    if (rc != CL_OK) {
        json_decref(rows);
        return rc;
    }
    *out = rows;
    return CL_OK;
}
