#include "closeloop/sync/jira_markup.h"

#include "closeloop/util/buf.h"
#include "closeloop/util/utf8.h"

#include <cmark.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Lists nest this deep at most; the items of deeper lists join their parent item. */
#define JM_MAX_LISTS 16
/* JSON nesting md_from_adf accepts (its walk recurses). */
#define JM_MAX_DEPTH 256
/* The largest start number a Markdown ordered list can have (nine digits). */
#define JM_MAX_ORDER 999999999L
#define JM_NONE      ((size_t)-1)

/* ---- characters ---- */

static bool jm_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool jm_punct(char c)
{
    return (unsigned char)c < 0x80 && ispunct((unsigned char)c);
}

static bool jm_alnum(char c)
{
    return (unsigned char)c < 0x80 && isalnum((unsigned char)c);
}

/* Bytes of the UTF-8 character at s (1 for a stray byte). */
static size_t jm_cp_len(const char *s, size_t n)
{
    size_t k = utf8_seq_len(s, n);

    return k == 0 ? 1 : k;
}

static unsigned jm_cp(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k = jm_cp_len(s, n);
    unsigned cp = k == 1 ? p[0] : p[0] & (0xffu >> (k + 1));
    size_t i;

    for (i = 1; i < k; i++)
        cp = (cp << 6) | (p[i] & 0x3fu);
    return cp;
}

/* A copy of s with invalid UTF-8 replaced by U+FFFD and line ends made "\n". */
static char *jm_clean(const char *s)
{
    struct buf b;
    size_t n = strlen(s);
    size_t i = 0;

    buf_init(&b);
    while (i < n) {
        size_t k = utf8_seq_len(s + i, n - i);

        if (s[i] == '\r') {
            buf_puts(&b, "\n");
            i += s[i + 1] == '\n' ? 2 : 1;
        } else if (k == 0) {
            buf_puts(&b, "\xef\xbf\xbd");
            i++;
        } else {
            buf_append(&b, s + i, k);
            i += k;
        }
    }
    return buf_steal(&b, NULL);
}

/* "&name;", "&#123;" or "&#x1f;" at p: what an entity reference looks like. */
static bool jm_entity_like(const char *p, size_t n)
{
    size_t i = 1;
    size_t k = 0;

    if (i < n && p[i] == '#')
        i++;
    if (i > 1 && i < n && (p[i] == 'x' || p[i] == 'X'))
        i++;
    while (i < n && jm_alnum(p[i]) && k < 32) {
        i++;
        k++;
    }
    return k > 0 && i < n && p[i] == ';';
}

/* ---- inline content: spans of text with marks, and hard breaks ---- */

enum jm_mark { JM_STRONG = 1u, JM_EM = 2u, JM_STRIKE = 4u, JM_CODE = 8u, JM_LINK = 16u };
#define JM_EMPH (JM_STRONG | JM_EM | JM_STRIKE)

/* The ADF marks we read and write, in the order we write them. */
static const struct jm_mark_name {
    unsigned bit;
    const char *name;
} jm_marks[] = {
    {JM_STRONG, "strong"}, {JM_EM, "em"},     {JM_STRIKE, "strike"},
    {JM_CODE, "code"},     {JM_LINK, "link"},
};

struct jm_span {
    char *text; /* NULL: a hard break */
    size_t len;
    unsigned marks;
    char *href; /* set exactly when marks has JM_LINK */
};

struct jm_spans {
    struct jm_span *v;
    size_t n;
    size_t cap;
};

/* Appends a copy of text[0..len) (NULL: a break) with marks; a link needs an href. */
static void jm_push(struct jm_spans *s, const char *text, size_t len, unsigned marks,
                    const char *href)
{
    struct jm_span *sp;

    if (s->n == s->cap) {
        s->cap = s->cap > 0 ? s->cap * 2 : 16;
        s->v = cl_realloc(s->v, s->cap * sizeof(*s->v));
    }
    sp = &s->v[s->n++];
    sp->text = text != NULL ? cl_strndup(text, len) : NULL;
    sp->len = text != NULL ? len : 0;
    sp->marks = text != NULL ? marks : 0;
    sp->href = NULL;
    if ((sp->marks & JM_LINK) && href != NULL && href[0] != '\0')
        sp->href = cl_strdup(href);
    else
        sp->marks &= ~JM_LINK;
}

static void jm_push_span(struct jm_spans *s, const struct jm_span *sp, size_t from, size_t to,
                         unsigned marks)
{
    if (sp->text == NULL)
        jm_push(s, NULL, 0, 0, NULL);
    else if (to > from)
        jm_push(s, sp->text + from, to - from, marks, sp->href);
}

static void jm_dispose(struct jm_spans *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        free(s->v[i].text);
        free(s->v[i].href);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Moves the spans of `from` into `to` (which is disposed first). */
static void jm_move(struct jm_spans *to, struct jm_spans *from)
{
    jm_dispose(to);
    *to = *from;
    memset(from, 0, sizeof(*from));
}

static bool jm_is_text(const struct jm_spans *s, size_t i)
{
    return i < s->n && s->v[i].text != NULL;
}

/* Same marks, and the same link target if any. */
static bool jm_same(const struct jm_span *a, const struct jm_span *b)
{
    if (a->text == NULL || b->text == NULL || a->marks != b->marks)
        return false;
    return !(a->marks & JM_LINK) || strcmp(a->href, b->href) == 0;
}

/* Both carry `mark` (for a link: to the same target). */
static bool jm_share(const struct jm_span *a, const struct jm_span *b, unsigned mark)
{
    if (a->text == NULL || b->text == NULL || !(a->marks & mark) || !(b->marks & mark))
        return false;
    return mark != JM_LINK || strcmp(a->href, b->href) == 0;
}

/* ---- the canonical form of inline content ---- */

/* Line ends inside text become breaks (in code: spaces, as CommonMark reads them; in a
 * heading breaks become spaces too); code keeps only its link. */
static void jm_canon_lines(struct jm_spans *out, const struct jm_spans *in, bool heading)
{
    size_t i;

    for (i = 0; i < in->n; i++) {
        const struct jm_span *sp = &in->v[i];
        unsigned marks = sp->marks & JM_CODE ? sp->marks & (JM_CODE | JM_LINK) : sp->marks;
        size_t a = 0;
        size_t j;

        if (sp->text == NULL) {
            jm_push(out, heading ? " " : NULL, 1, 0, NULL);
            continue;
        }
        for (j = 0; j <= sp->len; j++) {
            bool end = j == sp->len;

            if (!end && sp->text[j] != '\n' && sp->text[j] != '\r')
                continue;
            jm_push(out, sp->text + a, j - a, marks, sp->href);
            if (!end && sp->text[j] == '\r' && j + 1 < sp->len && sp->text[j + 1] == '\n')
                j++;
            if (!end)
                jm_push(out, (marks & JM_CODE) || heading ? " " : NULL, 1, marks, sp->href);
            a = j + 1;
        }
    }
}

/* Spaces and tabs at the inside edges of each run of `mark` move outside it: "** a **"
 * cannot be written in Markdown or wiki markup, "**a**" can. cut[2*i] and cut[2*i+1]
 * are the bytes of span i that leave the mark at its start and at its end. */
static void jm_edges_cut(const struct jm_spans *in, size_t a, size_t b, size_t *cut)
{
    size_t j;
    size_t k;

    for (j = a; j < b; j++) {
        const struct jm_span *sp = &in->v[j];

        for (k = 0; k < sp->len && jm_space(sp->text[k]); k++)
            ;
        cut[2 * j] = k;
        if (k < sp->len)
            break;
    }
    for (j = b; j-- > a;) {
        const struct jm_span *sp = &in->v[j];
        size_t left = sp->len - cut[2 * j];

        for (k = 0; k < left && jm_space(sp->text[sp->len - 1 - k]); k++)
            ;
        cut[2 * j + 1] = k;
        if (k < left)
            break;
    }
}

static void jm_canon_edges(struct jm_spans *out, const struct jm_spans *in, unsigned mark)
{
    size_t *cut = cl_calloc(2 * in->n + 2, sizeof(size_t));
    size_t i = 0;
    size_t j;

    while (i < in->n) {
        size_t b = i + 1;

        if (jm_is_text(in, i) && (in->v[i].marks & mark)) {
            while (b < in->n && jm_is_text(in, b) && (in->v[b].marks & mark))
                b++;
            jm_edges_cut(in, i, b, cut);
        }
        for (j = i; j < b; j++) {
            const struct jm_span *sp = &in->v[j];
            size_t head = cut[2 * j];
            size_t tail = sp->len - cut[2 * j + 1];

            if (sp->text == NULL) {
                jm_push(out, NULL, 0, 0, NULL);
                continue;
            }
            jm_push_span(out, sp, 0, head, sp->marks & ~mark);
            jm_push_span(out, sp, head, tail, sp->marks);
            jm_push_span(out, sp, tail > head ? tail : head, sp->len, sp->marks & ~mark);
        }
        i = b;
    }
    free(cut);
}

/* Spaces and tabs at the start and end of each line go (not in code: CommonMark keeps
 * them there), and so do breaks at the end. */
static void jm_trim_cut(const struct jm_spans *in, size_t a, size_t b, size_t *cut)
{
    size_t j;
    size_t k;

    for (j = a; j < b && !(in->v[j].marks & JM_CODE); j++) {
        const struct jm_span *sp = &in->v[j];

        for (k = 0; k < sp->len && jm_space(sp->text[k]); k++)
            ;
        cut[2 * j] = k;
        if (k < sp->len)
            break;
    }
    for (j = b; j-- > a && !(in->v[j].marks & JM_CODE);) {
        const struct jm_span *sp = &in->v[j];
        size_t left = sp->len - cut[2 * j];

        for (k = 0; k < left && jm_space(sp->text[sp->len - 1 - k]); k++)
            ;
        cut[2 * j + 1] = k;
        if (k < left)
            break;
    }
}

static void jm_canon_trim(struct jm_spans *out, const struct jm_spans *in)
{
    size_t *cut = cl_calloc(2 * in->n + 2, sizeof(size_t));
    size_t i = 0;
    size_t j;

    while (i < in->n) {
        size_t b = i;

        while (b < in->n && in->v[b].text != NULL)
            b++;
        jm_trim_cut(in, i, b, cut);
        i = b + 1;
    }
    for (j = 0; j < in->n; j++) {
        const struct jm_span *sp = &in->v[j];

        jm_push_span(out, sp, cut[2 * j], sp->len - cut[2 * j + 1], sp->marks);
    }
    while (out->n > 0 && out->v[out->n - 1].text == NULL) /* a last line may be empty now */
        out->n--;
    free(cut);
}

/* Empty text goes; neighbours with the same marks become one span (each run is copied
 * once: merging span by span would be quadratic). */
static void jm_canon_merge(struct jm_spans *out, const struct jm_spans *in)
{
    size_t i = 0;

    while (i < in->n) {
        const struct jm_span *sp = &in->v[i];
        size_t j = i + 1;
        struct buf b;

        if (sp->text == NULL || sp->len == 0) {
            jm_push_span(out, sp, 0, sp->len, sp->marks);
            i++;
            continue;
        }
        buf_init(&b);
        buf_append(&b, sp->text, sp->len);
        for (; j < in->n && (jm_same(sp, &in->v[j]) || (jm_is_text(in, j) && in->v[j].len == 0));
             j++)
            buf_append(&b, in->v[j].text, in->v[j].len);
        jm_push(out, b.data, b.len, sp->marks, sp->href);
        buf_dispose(&b);
        i = j;
    }
}

/* Each pass below runs only when it would change something: most text needs none. */
static bool jm_needs_lines(const struct jm_spans *s, bool heading)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        const struct jm_span *sp = &s->v[i];

        if (sp->text == NULL ? heading
                             : ((sp->marks & JM_CODE) && (sp->marks & JM_EMPH)) ||
                                   strpbrk(sp->text, "\r\n") != NULL)
            return true;
    }
    return false;
}

static bool jm_needs_edges(const struct jm_spans *s, unsigned mark)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        const struct jm_span *sp = &s->v[i];

        if (sp->text != NULL && (sp->marks & mark) &&
            (sp->len == 0 || jm_space(sp->text[0]) || jm_space(sp->text[sp->len - 1])))
            return true;
    }
    return false;
}

static bool jm_needs_merge(const struct jm_spans *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        if ((s->v[i].text != NULL && s->v[i].len == 0) ||
            (i > 0 && jm_same(&s->v[i - 1], &s->v[i])))
            return true;
    return false;
}

static bool jm_needs_trim(const struct jm_spans *s)
{
    size_t i;

    if (s->n > 0 && s->v[s->n - 1].text == NULL)
        return true;
    for (i = 0; i < s->n; i++) {
        const struct jm_span *sp = &s->v[i];
        bool first = i == 0 || s->v[i - 1].text == NULL;
        bool last = i + 1 == s->n || s->v[i + 1].text == NULL;

        if (sp->text == NULL || (sp->marks & JM_CODE) || sp->len == 0)
            continue;
        if ((first && jm_space(sp->text[0])) || (last && jm_space(sp->text[sp->len - 1])))
            return true;
    }
    return false;
}

/* The one form inline content has in canonical ADF (see the header). */
static void jm_canon(struct jm_spans *s, bool heading)
{
    static const unsigned emph[] = {JM_STRONG, JM_EM, JM_STRIKE};
    struct jm_spans t = {0};
    size_t i;

    if (jm_needs_lines(s, heading)) {
        jm_canon_lines(&t, s, heading);
        jm_move(s, &t);
    }
    for (i = 0; i < CL_ARRAY_LEN(emph); i++) {
        if (jm_needs_edges(s, emph[i])) {
            jm_canon_edges(&t, s, emph[i]);
            jm_move(s, &t);
        }
    }
    if (jm_needs_merge(s)) {
        jm_canon_merge(&t, s);
        jm_move(s, &t);
    }
    if (jm_needs_trim(s)) {
        jm_canon_trim(&t, s);
        jm_move(s, &t);
        jm_canon_merge(&t, s);
        jm_move(s, &t);
    }
}

/* Keeps only the marks in `keep`, then canonicalises again. */
static void jm_filter(struct jm_spans *out, const struct jm_spans *in, unsigned keep, bool heading)
{
    size_t i;

    for (i = 0; i < in->n; i++)
        jm_push_span(out, &in->v[i], 0, in->v[i].len, in->v[i].marks & keep);
    jm_canon(out, heading);
}

/* ---- ADF JSON of inline content ---- */

/* {"type": type} (hot: built directly, not through json_pack). */
static json_t *jm_typed(const char *type)
{
    json_t *node = json_object();

    json_object_set_new_nocheck(node, "type", json_string_nocheck(type));
    return node;
}

static json_t *jm_marks_json(unsigned marks, const char *href)
{
    json_t *arr = json_array();
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(jm_marks); i++) {
        json_t *m;

        if (!(marks & jm_marks[i].bit))
            continue;
        m = jm_typed(jm_marks[i].name);
        if (jm_marks[i].bit == JM_LINK)
            json_object_set_new_nocheck(m, "attrs", json_pack("{s:s}", "href", href));
        json_array_append_new(arr, m);
    }
    return arr;
}

/* A text node; NULL for text that is not UTF-8 (which we never make). */
static json_t *jm_text_node(const char *text, size_t len, unsigned marks, const char *href)
{
    json_t *str = json_stringn(text, len);
    json_t *node;

    if (str == NULL)
        return NULL;
    node = jm_typed("text");
    json_object_set_new_nocheck(node, "text", str);
    if (marks != 0)
        json_object_set_new_nocheck(node, "marks", jm_marks_json(marks, href));
    return node;
}

static json_t *jm_spans_json(const struct jm_spans *s)
{
    json_t *arr = json_array();
    size_t i;

    for (i = 0; i < s->n; i++) {
        const struct jm_span *sp = &s->v[i];
        json_t *node = sp->text == NULL ? jm_typed("hardBreak")
                                        : jm_text_node(sp->text, sp->len, sp->marks, sp->href);

        if (node != NULL)
            json_array_append_new(arr, node);
    }
    return arr;
}

/* {"type": type, "content": [spans]} plus attrs for a heading (level > 0). */
static json_t *jm_text_block(const struct jm_spans *s, int level)
{
    json_t *node = json_pack("{s:s, s:o}", "type", level > 0 ? "heading" : "paragraph", "content",
                             jm_spans_json(s));

    if (level > 0)
        json_object_set_new(node, "attrs", json_pack("{s:i}", "level", level));
    return node;
}

/* ---- normalisation: any ADF blocks -> canonical ADF ---- */

/* Where blocks may appear: the document, a blockquote, a list item (see the header). */
enum jm_ctx { JM_TOP, JM_QUOTE, JM_ITEM };

struct jm_norm {
    struct cl_err *err; /* NULL: reading our own canonical ADF */
    struct buf path;    /* where we are, for messages: "blocks[2].content[0]" */
    int depth;
};

/* "ADF: <what> at blocks[2].content[0]": what first, as a deep path may be truncated. */
static int jm_fail(struct jm_norm *n, const char *what)
{
    return cl_fail(n->err, CL_EINVAL, "ADF: %s at %s", what,
                   n->path.data != NULL ? n->path.data : "blocks");
}

static void jm_path_cut(struct jm_norm *n, size_t len)
{
    n->path.len = len;
    if (n->path.data != NULL)
        n->path.data[len] = '\0';
}

static int jm_type(struct jm_norm *n, const json_t *node, const char **type)
{
    if (!json_is_object(node))
        return jm_fail(n, "not an object");
    *type = json_string_value(json_object_get(node, "type"));
    if (*type == NULL)
        return jm_fail(n, "no string \"type\"");
    return CL_OK;
}

/* The node's "content": NULL when absent or null, refused when of another type. */
static int jm_content(struct jm_norm *n, const json_t *node, const json_t **out)
{
    const json_t *c = json_object_get(node, "content");

    *out = NULL;
    if (c == NULL || json_is_null(c))
        return CL_OK;
    if (!json_is_array(c))
        return jm_fail(n, "\"content\" is not an array");
    *out = c;
    return CL_OK;
}

static const json_t *jm_attr(const json_t *node, const char *key)
{
    const json_t *attrs = json_object_get(node, "attrs");

    return json_is_object(attrs) ? json_object_get(attrs, key) : NULL;
}

static const char *jm_attr_str(const json_t *node, const char *key)
{
    return json_string_value(jm_attr(node, key));
}

/* Marks read from ADF; anything unknown or malformed is formatting we can do without. */
static unsigned jm_marks_read(const json_t *marks, const char **href)
{
    unsigned bits = 0;
    size_t i;
    size_t k;
    const json_t *m;

    json_array_foreach (marks, i, m) {
        const char *type = json_string_value(json_object_get(m, "type"));

        for (k = 0; type != NULL && k < CL_ARRAY_LEN(jm_marks); k++) {
            if (strcmp(type, jm_marks[k].name) != 0)
                continue;
            if (jm_marks[k].bit == JM_LINK)
                *href = jm_attr_str(m, "href");
            if (jm_marks[k].bit != JM_LINK || *href != NULL)
                bits |= jm_marks[k].bit;
        }
    }
    return bits;
}

static int jm_norm_inlines(struct jm_norm *n, const json_t *node, struct jm_spans *out);

static int jm_in_text(struct jm_norm *n, const json_t *node, struct jm_spans *out)
{
    const char *text = json_string_value(json_object_get(node, "text"));
    const char *href = NULL;
    unsigned marks;

    if (text == NULL)
        return jm_fail(n, "\"text\" is not a string");
    marks = jm_marks_read(json_object_get(node, "marks"), &href);
    jm_push(out, text, strlen(text), marks, href);
    return CL_OK;
}

static int jm_in_break(struct jm_norm *n, const json_t *node, struct jm_spans *out)
{
    (void)n;
    (void)node;
    jm_push(out, NULL, 0, 0, NULL);
    return CL_OK;
}

static void jm_push_str(struct jm_spans *out, const char *s, unsigned marks, const char *href)
{
    if (s != NULL)
        jm_push(out, s, strlen(s), marks, href);
}

static int jm_in_mention(struct jm_norm *n, const json_t *node, struct jm_spans *out)
{
    const char *text = jm_attr_str(node, "text");
    const char *id = jm_attr_str(node, "id");
    char *s = cl_asprintf("@%s", text != NULL ? text : id != NULL ? id : "");

    (void)n;
    jm_push_str(out, s[1] == '@' ? s + 1 : s, 0, NULL);
    free(s);
    return CL_OK;
}

static int jm_in_emoji(struct jm_norm *n, const json_t *node, struct jm_spans *out)
{
    const char *text = jm_attr_str(node, "text");

    (void)n;
    jm_push_str(out, text != NULL ? text : jm_attr_str(node, "shortName"), 0, NULL);
    return CL_OK;
}

static int jm_in_card(struct jm_norm *n, const json_t *node, struct jm_spans *out)
{
    const char *url = jm_attr_str(node, "url");

    (void)n;
    jm_push_str(out, url, JM_LINK, url);
    return CL_OK;
}

static int jm_in_status(struct jm_norm *n, const json_t *node, struct jm_spans *out)
{
    (void)n;
    jm_push_str(out, jm_attr_str(node, "text"), 0, NULL);
    return CL_OK;
}

/* A date node's attrs.timestamp (epoch milliseconds, string or number) as YYYY-MM-DD. */
static int jm_in_date(struct jm_norm *n, const json_t *node, struct jm_spans *out)
{
    const json_t *ts = jm_attr(node, "timestamp");
    long ms = 0;
    char day[32];
    struct tm tm;
    time_t t;

    (void)n;
    if (json_is_integer(ts))
        ms = (long)json_integer_value(ts);
    else if (json_is_string(ts) &&
             cl_parse_long(&ms, json_string_value(ts), -253402300800000L, 253402300799000L) != 0)
        return CL_OK;
    t = (time_t)(ms / 1000);
    if (gmtime_r(&t, &tm) != NULL && strftime(day, sizeof(day), "%Y-%m-%d", &tm) > 0)
        jm_push_str(out, day, 0, NULL);
    return CL_OK;
}

typedef int (*jm_inline_fn)(struct jm_norm *n, const json_t *node, struct jm_spans *out);

/* Inline nodes we read; any other node in inline content keeps the text inside it. */
static const struct jm_inline_rule {
    const char *type;
    jm_inline_fn fn;
} jm_inline_rules[] = {
    {"text", jm_in_text},     {"hardBreak", jm_in_break}, {"mention", jm_in_mention},
    {"emoji", jm_in_emoji},   {"inlineCard", jm_in_card}, {"date", jm_in_date},
    {"status", jm_in_status},
};

static jm_inline_fn jm_inline_rule(const char *type)
{
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(jm_inline_rules); i++)
        if (strcmp(type, jm_inline_rules[i].type) == 0)
            return jm_inline_rules[i].fn;
    return NULL;
}

static int jm_norm_inline(struct jm_norm *n, const json_t *node, struct jm_spans *out)
{
    const char *type;
    jm_inline_fn fn;
    int rc = jm_type(n, node, &type);

    if (rc != CL_OK)
        return rc;
    fn = jm_inline_rule(type);
    return fn != NULL ? fn(n, node, out) : jm_norm_inlines(n, node, out);
}

/* The inline content of node (its "content", each child read as inline). */
static int jm_norm_inlines(struct jm_norm *n, const json_t *node, struct jm_spans *out)
{
    size_t at = n->path.len;
    const json_t *arr;
    const json_t *v;
    size_t i;
    int rc = jm_content(n, node, &arr);

    if (rc != CL_OK)
        return rc;
    if (n->depth >= JM_MAX_DEPTH)
        return jm_fail(n, "nested deeper than 256 levels");
    n->depth++;
    json_array_foreach (arr, i, v) {
        buf_printf(&n->path, ".content[%zu]", i);
        rc = jm_norm_inline(n, v, out);
        jm_path_cut(n, at);
        if (rc != CL_OK)
            break;
    }
    n->depth--;
    return rc;
}

static int jm_norm_block(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                         json_t *out, struct jm_spans *pend);

/* Inline nodes met among blocks (a taskItem's text, say) make a paragraph. */
static void jm_emit(json_t *out, struct jm_spans *s, int level)
{
    jm_canon(s, level > 0);
    if (level > 0 || s->n > 0)
        json_array_append_new(out, jm_text_block(s, level));
    jm_dispose(s);
}

/* The blocks of arr, named prefix[i] in messages. */
static int jm_norm_array(struct jm_norm *n, const json_t *arr, const char *prefix, enum jm_ctx ctx,
                         int lists, json_t *out)
{
    struct jm_spans pend = {0};
    size_t at = n->path.len;
    const json_t *v;
    size_t i;
    int rc = CL_OK;

    if (n->depth >= JM_MAX_DEPTH)
        return jm_fail(n, "nested deeper than 256 levels");
    n->depth++;
    json_array_foreach (arr, i, v) {
        buf_printf(&n->path, "%s[%zu]", prefix, i);
        rc = jm_norm_block(n, v, ctx, lists, out, &pend);
        jm_path_cut(n, at);
        if (rc != CL_OK)
            break;
    }
    if (pend.n > 0)
        jm_emit(out, &pend, 0);
    jm_dispose(&pend);
    n->depth--;
    return rc;
}

/* The blocks in node's "content" (also how unknown block nodes keep their text). */
static int jm_norm_blocks(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                          json_t *out)
{
    const json_t *arr;
    int rc = jm_content(n, node, &arr);

    return rc != CL_OK ? rc : jm_norm_array(n, arr, ".content", ctx, lists, out);
}

static int jm_nb_paragraph(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                           json_t *out)
{
    struct jm_spans s = {0};
    int rc = jm_norm_inlines(n, node, &s);

    (void)ctx;
    (void)lists;
    if (rc == CL_OK)
        jm_emit(out, &s, 0);
    jm_dispose(&s);
    return rc;
}

/* Headings live at the top; in a quote or list item one becomes a strong paragraph. */
static int jm_nb_heading(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                         json_t *out)
{
    const json_t *l = jm_attr(node, "level");
    json_int_t level = json_is_integer(l) ? json_integer_value(l) : 1;
    struct jm_spans s = {0};
    size_t i;
    int rc = jm_norm_inlines(n, node, &s);

    (void)lists;
    if (rc == CL_OK && ctx != JM_TOP) {
        for (i = 0; i < s.n; i++)
            s.v[i].marks |= s.v[i].text != NULL ? JM_STRONG : 0;
        jm_emit(out, &s, 0);
    } else if (rc == CL_OK) {
        jm_emit(out, &s, level < 1 ? 1 : level > 6 ? 6 : (int)level);
    }
    jm_dispose(&s);
    return rc;
}

static long jm_order(const json_t *node)
{
    const json_t *o = jm_attr(node, "order");
    json_int_t v = json_is_integer(o) ? json_integer_value(o) : 1;

    return v < 0 ? 1 : v > JM_MAX_ORDER ? JM_MAX_ORDER : (long)v;
}

/* A list item's blocks start with a paragraph or code block, and there is one. */
static json_t *jm_item_node(json_t *blocks)
{
    const char *first = json_string_value(json_object_get(json_array_get(blocks, 0), "type"));

    if (first == NULL || strcmp(first, "bulletList") == 0 || strcmp(first, "orderedList") == 0)
        json_array_insert_new(blocks, 0, json_pack("{s:s, s:[]}", "type", "paragraph", "content"));
    return json_pack("{s:s, s:o}", "type", "listItem", "content", blocks);
}

/* One child of a list: a listItem's blocks, or (tolerated) any other node as a block. */
static int jm_norm_item(struct jm_norm *n, const json_t *v, int lists, json_t *blocks)
{
    struct jm_spans pend = {0};
    const char *type;
    int rc = jm_type(n, v, &type);

    if (rc == CL_OK && strcmp(type, "listItem") == 0)
        return jm_norm_blocks(n, v, JM_ITEM, lists, blocks);
    if (rc == CL_OK)
        rc = jm_norm_block(n, v, JM_ITEM, lists, blocks, &pend);
    if (pend.n > 0)
        jm_emit(blocks, &pend, 0);
    jm_dispose(&pend);
    return rc;
}

/* The items of list: each into `items`, or all their blocks into `flat`. */
static int jm_norm_items(struct jm_norm *n, const json_t *list, int lists, json_t *flat,
                         json_t *items)
{
    size_t at = n->path.len;
    const json_t *arr;
    const json_t *v;
    size_t i;
    int rc = jm_content(n, list, &arr);

    json_array_foreach (rc == CL_OK ? arr : NULL, i, v) {
        json_t *blocks = flat != NULL ? flat : json_array();

        buf_printf(&n->path, ".content[%zu]", i);
        rc = jm_norm_item(n, v, lists, blocks);
        jm_path_cut(n, at);
        if (flat == NULL && rc == CL_OK)
            json_array_append_new(items, jm_item_node(blocks));
        else if (flat == NULL)
            json_decref(blocks);
        if (rc != CL_OK)
            break;
    }
    return rc;
}

static int jm_nb_list(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                      json_t *out)
{
    bool ordered = strcmp(json_string_value(json_object_get(node, "type")), "orderedList") == 0;
    long order = jm_order(node);
    json_t *items;
    json_t *list;
    int rc;

    (void)ctx;
    if (lists >= JM_MAX_LISTS) /* too deep: the items' blocks join the parent item */
        return jm_norm_items(n, node, lists, out, NULL);
    items = json_array();
    rc = jm_norm_items(n, node, lists + 1, NULL, items);
    if (rc != CL_OK || json_array_size(items) == 0) {
        json_decref(items);
        return rc;
    }
    list =
        json_pack("{s:s, s:o}", "type", ordered ? "orderedList" : "bulletList", "content", items);
    if (ordered && order != 1)
        json_object_set_new(list, "attrs", json_pack("{s:I}", "order", (json_int_t)order));
    json_array_append_new(out, list);
    return CL_OK;
}

/* The first word of a code block's language ("python title=x": "python"), or NULL. */
static char *jm_first_word(const char *s)
{
    size_t a;
    size_t n;

    if (s == NULL)
        return NULL;
    a = strspn(s, " \t\n\r\v\f");
    n = strcspn(s + a, " \t\n\r\v\f");
    return n > 0 ? cl_strndup(s + a, n) : NULL;
}

static json_t *jm_code_node(const char *text, const char *lang)
{
    json_t *node = json_pack("{s:s, s:[]}", "type", "codeBlock", "content");

    if (lang != NULL)
        json_object_set_new(node, "attrs", json_pack("{s:s}", "language", lang));
    if (text[0] != '\0')
        json_array_append_new(json_object_get(node, "content"),
                              json_pack("{s:s, s:s}", "type", "text", "text", text));
    return node;
}

/* A code block is plain text: the text of its content, breaks as newlines, no marks. */
static int jm_nb_code(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                      json_t *out)
{
    struct jm_spans s = {0};
    char *lang = jm_first_word(jm_attr_str(node, "language"));
    struct buf b;
    char *text;
    size_t i;
    int rc = jm_norm_inlines(n, node, &s);

    (void)ctx;
    (void)lists;
    buf_init(&b);
    for (i = 0; i < s.n; i++)
        buf_append(&b, s.v[i].text != NULL ? s.v[i].text : "\n", s.v[i].text ? s.v[i].len : 1);
    text = jm_clean(b.data != NULL ? b.data : "");
    if (rc == CL_OK)
        json_array_append_new(out, jm_code_node(text, lang));
    free(text);
    free(lang);
    buf_dispose(&b);
    jm_dispose(&s);
    return rc;
}

/* A blockquote in a quote or a list item is lifted into it (ADF nests neither). */
static int jm_nb_quote(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                       json_t *out)
{
    json_t *inner;
    int rc;

    if (ctx != JM_TOP)
        return jm_norm_blocks(n, node, ctx, lists, out);
    inner = json_array();
    rc = jm_norm_blocks(n, node, JM_QUOTE, 0, inner);
    if (rc == CL_OK && json_array_size(inner) > 0)
        json_array_append_new(
            out, json_pack("{s:s, s:o}", "type", "blockquote", "content", json_incref(inner)));
    json_decref(inner);
    return rc;
}

static int jm_nb_rule(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                      json_t *out)
{
    struct jm_spans s = {0};

    (void)n;
    (void)node;
    (void)lists;
    if (ctx == JM_TOP) {
        json_array_append_new(out, json_pack("{s:s}", "type", "rule"));
        return CL_OK;
    }
    jm_push_str(&s, "---", 0, NULL);
    jm_emit(out, &s, 0);
    return CL_OK;
}

static int jm_nb_card(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                      json_t *out)
{
    struct jm_spans s = {0};

    (void)ctx;
    (void)lists;
    jm_in_card(n, node, &s);
    jm_emit(out, &s, 0);
    return CL_OK;
}

typedef int (*jm_block_fn)(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                           json_t *out);

/* Block nodes we map; any other keeps its blocks (tables, panels, expands, ...). */
static const struct jm_block_rule {
    const char *type;
    jm_block_fn fn;
} jm_block_rules[] = {
    {"paragraph", jm_nb_paragraph}, {"heading", jm_nb_heading}, {"bulletList", jm_nb_list},
    {"orderedList", jm_nb_list},    {"codeBlock", jm_nb_code},  {"blockquote", jm_nb_quote},
    {"rule", jm_nb_rule},           {"blockCard", jm_nb_card},  {"embedCard", jm_nb_card},
};

static int jm_norm_block(struct jm_norm *n, const json_t *node, enum jm_ctx ctx, int lists,
                         json_t *out, struct jm_spans *pend)
{
    const char *type;
    size_t i;
    int rc = jm_type(n, node, &type);

    if (rc != CL_OK)
        return rc;
    if (jm_inline_rule(type) != NULL)
        return jm_norm_inline(n, node, pend);
    if (pend->n > 0)
        jm_emit(out, pend, 0);
    for (i = 0; i < CL_ARRAY_LEN(jm_block_rules); i++)
        if (strcmp(type, jm_block_rules[i].type) == 0)
            return jm_block_rules[i].fn(n, node, ctx, lists, out);
    return jm_norm_blocks(n, node, ctx, lists, out);
}

json_t *jira_markup_adf_normalize(const json_t *blocks, struct cl_err *err)
{
    struct jm_norm n = {err, {NULL, 0, 0}, 0};
    json_t *out;
    int rc;

    if (!json_is_array(blocks)) {
        cl_fail(err, CL_EINVAL, "ADF: blocks is not an array");
        return NULL;
    }
    buf_puts(&n.path, "blocks");
    out = json_array();
    rc = jm_norm_array(&n, blocks, "", JM_TOP, 0, out);
    buf_dispose(&n.path);
    if (rc != CL_OK) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- Markdown -> ADF: cmark's AST walked with its iterator (no recursion) ---- */

/* What an open cmark container writes into. An opaque frame writes into its parent's
 * content: a quote inside a quote or list item, a list past JM_MAX_LISTS and its items. */
enum jm_frame_kind {
    JM_F_BLOCKS,
    JM_F_TEXT, /* a paragraph or heading: its inline content collects in `inl` */
    JM_F_QUOTE,
    JM_F_LIST,
    JM_F_ITEM,
    JM_F_OPAQUE_LIST,
    JM_F_OPAQUE
};

struct jm_frame {
    json_t *content; /* borrowed from the tree being built */
    enum jm_frame_kind kind;
};

struct jm_mdr {
    struct jm_frame *st;
    size_t n;
    size_t cap;
    int quotes; /* open (not opaque) blockquotes, items, lists */
    int items;
    int lists;
    int strong; /* open emphasis and links */
    int em;
    int links;
    const char *href;     /* the outermost open link or image's target (cmark owns it) */
    size_t link_at;       /* how many spans there were when it opened */
    struct jm_spans para; /* the inline content of the open paragraph or heading */
    struct jm_spans *inl; /* where inline content goes: &para, or a caller's spans */
};

static json_t *jm_mdr_top(const struct jm_mdr *r)
{
    return r->st[r->n - 1].content;
}

static void jm_mdr_push(struct jm_mdr *r, json_t *content, enum jm_frame_kind kind)
{
    if (r->n == r->cap) {
        r->cap = r->cap > 0 ? r->cap * 2 : 32;
        r->st = cl_realloc(r->st, r->cap * sizeof(*r->st));
    }
    r->st[r->n].content = content;
    r->st[r->n].kind = kind;
    r->n++;
}

/* Appends node (stolen) to the current container and, for a container, opens it. */
static void jm_mdr_open(struct jm_mdr *r, json_t *node, enum jm_frame_kind kind)
{
    json_array_append_new(jm_mdr_top(r), node);
    jm_mdr_push(r, json_object_get(node, "content"), kind);
}

static void jm_mdr_text(struct jm_mdr *r, const char *s, unsigned marks)
{
    if (s == NULL || s[0] == '\0')
        return;
    marks |= (r->strong > 0 ? JM_STRONG : 0) | (r->em > 0 ? JM_EM : 0);
    marks |= r->links > 0 ? JM_LINK : 0;
    jm_push(r->inl, s, strlen(s), marks, r->href);
}

/* A paragraph or heading is done: its spans become its (raw) content. */
static void jm_mdr_flush(struct jm_mdr *r, json_t *content)
{
    json_t *arr = jm_spans_json(&r->para);

    json_array_extend(content, arr);
    json_decref(arr);
    jm_dispose(&r->para);
}

static void jm_mdr_document(struct jm_mdr *r, cmark_node *nd)
{
    (void)r;
    (void)nd;
}

static void jm_mdr_quote(struct jm_mdr *r, cmark_node *nd)
{
    (void)nd;
    if (r->quotes > 0 || r->items > 0) {
        jm_mdr_push(r, jm_mdr_top(r), JM_F_OPAQUE);
        return;
    }
    jm_mdr_open(r, json_pack("{s:s, s:[]}", "type", "blockquote", "content"), JM_F_QUOTE);
    r->quotes++;
}

static void jm_mdr_list(struct jm_mdr *r, cmark_node *nd)
{
    bool ordered = cmark_node_get_list_type(nd) == CMARK_ORDERED_LIST;
    int start = cmark_node_get_list_start(nd);
    json_t *list;

    if (r->lists >= JM_MAX_LISTS) {
        jm_mdr_push(r, jm_mdr_top(r), JM_F_OPAQUE_LIST);
        return;
    }
    list = json_pack("{s:s, s:[]}", "type", ordered ? "orderedList" : "bulletList", "content");
    if (ordered && start != 1)
        json_object_set_new(list, "attrs", json_pack("{s:i}", "order", start));
    jm_mdr_open(r, list, JM_F_LIST);
    r->lists++;
}

static void jm_mdr_item(struct jm_mdr *r, cmark_node *nd)
{
    (void)nd;
    if (r->st[r->n - 1].kind == JM_F_OPAQUE_LIST) {
        jm_mdr_push(r, jm_mdr_top(r), JM_F_OPAQUE);
        return;
    }
    jm_mdr_open(r, json_pack("{s:s, s:[]}", "type", "listItem", "content"), JM_F_ITEM);
    r->items++;
}

static void jm_mdr_paragraph(struct jm_mdr *r, cmark_node *nd)
{
    (void)nd;
    jm_mdr_open(r, json_pack("{s:s, s:[]}", "type", "paragraph", "content"), JM_F_TEXT);
}

static void jm_mdr_heading(struct jm_mdr *r, cmark_node *nd)
{
    jm_mdr_open(r,
                json_pack("{s:s, s:{s:i}, s:[]}", "type", "heading", "attrs", "level",
                          cmark_node_get_heading_level(nd), "content"),
                JM_F_TEXT);
}

/* cmark's literal ends with the last line's newline; ADF's text does not. */
static void jm_mdr_code_block(struct jm_mdr *r, cmark_node *nd)
{
    const char *lit = cmark_node_get_literal(nd);
    size_t len = lit != NULL ? strlen(lit) : 0;
    char *text =
        cl_strndup(lit != NULL ? lit : "", len > 0 && lit[len - 1] == '\n' ? len - 1 : len);
    char *lang = jm_first_word(cmark_node_get_fence_info(nd));
    json_t *node = jm_code_node(text, lang);

    json_array_append_new(jm_mdr_top(r), node);
    free(text);
    free(lang);
}

/* HTML is kept as the literal text it is (Jira renders no HTML). */
static void jm_mdr_html_block(struct jm_mdr *r, cmark_node *nd)
{
    jm_mdr_open(r, json_pack("{s:s, s:[]}", "type", "paragraph", "content"), JM_F_TEXT);
    jm_mdr_text(r, cmark_node_get_literal(nd), 0);
    jm_mdr_flush(r, jm_mdr_top(r));
    r->n--;
}

static void jm_mdr_rule(struct jm_mdr *r, cmark_node *nd)
{
    (void)nd;
    json_array_append_new(jm_mdr_top(r), json_pack("{s:s}", "type", "rule"));
}

static void jm_mdr_inline_text(struct jm_mdr *r, cmark_node *nd)
{
    jm_mdr_text(r, cmark_node_get_literal(nd), 0);
}

static void jm_mdr_inline_code(struct jm_mdr *r, cmark_node *nd)
{
    jm_mdr_text(r, cmark_node_get_literal(nd), JM_CODE);
}

static void jm_mdr_break(struct jm_mdr *r, cmark_node *nd)
{
    (void)nd;
    jm_push(r->inl, NULL, 0, 0, NULL);
}

static void jm_mdr_emph(struct jm_mdr *r, cmark_node *nd)
{
    if (cmark_node_get_type(nd) == CMARK_NODE_STRONG)
        r->strong++;
    else
        r->em++;
}

/* A link or image: the outermost one's target marks the text (an image is its alt text
 * linked to the image); one without text shows its target. */
static void jm_mdr_link(struct jm_mdr *r, cmark_node *nd)
{
    if (r->links++ > 0)
        return;
    r->href = cmark_node_get_url(nd);
    r->link_at = r->inl->n;
}

static void jm_mdr_link_exit(struct jm_mdr *r)
{
    if (--r->links > 0)
        return;
    if (r->inl->n == r->link_at) {
        r->links++;
        jm_mdr_text(r, r->href, 0);
        r->links--;
    }
    r->href = NULL;
}

static void jm_mdr_exit(struct jm_mdr *r, cmark_node *nd)
{
    cmark_node_type t = cmark_node_get_type(nd);
    enum jm_frame_kind kind;

    if (t == CMARK_NODE_EMPH || t == CMARK_NODE_STRONG) {
        r->em -= t == CMARK_NODE_EMPH;
        r->strong -= t == CMARK_NODE_STRONG;
        return;
    }
    if (t == CMARK_NODE_LINK || t == CMARK_NODE_IMAGE) {
        jm_mdr_link_exit(r);
        return;
    }
    if (t == CMARK_NODE_DOCUMENT)
        return;
    kind = r->st[--r->n].kind;
    if (kind == JM_F_TEXT)
        jm_mdr_flush(r, r->st[r->n].content);
    r->quotes -= kind == JM_F_QUOTE;
    r->lists -= kind == JM_F_LIST;
    r->items -= kind == JM_F_ITEM;
}

typedef void (*jm_mdr_fn)(struct jm_mdr *r, cmark_node *nd);

/* What entering each cmark node does; leaves have no exit. */
static const struct jm_mdr_rule {
    cmark_node_type type;
    jm_mdr_fn enter;
} jm_mdr_rules[] = {
    {CMARK_NODE_DOCUMENT, jm_mdr_document},
    {CMARK_NODE_BLOCK_QUOTE, jm_mdr_quote},
    {CMARK_NODE_LIST, jm_mdr_list},
    {CMARK_NODE_ITEM, jm_mdr_item},
    {CMARK_NODE_PARAGRAPH, jm_mdr_paragraph},
    {CMARK_NODE_HEADING, jm_mdr_heading},
    {CMARK_NODE_CODE_BLOCK, jm_mdr_code_block},
    {CMARK_NODE_HTML_BLOCK, jm_mdr_html_block},
    {CMARK_NODE_THEMATIC_BREAK, jm_mdr_rule},
    {CMARK_NODE_TEXT, jm_mdr_inline_text},
    {CMARK_NODE_HTML_INLINE, jm_mdr_inline_text},
    {CMARK_NODE_CODE, jm_mdr_inline_code},
    {CMARK_NODE_SOFTBREAK, jm_mdr_break},
    {CMARK_NODE_LINEBREAK, jm_mdr_break},
    {CMARK_NODE_EMPH, jm_mdr_emph},
    {CMARK_NODE_STRONG, jm_mdr_emph},
    {CMARK_NODE_LINK, jm_mdr_link},
    {CMARK_NODE_IMAGE, jm_mdr_link},
};

static void jm_mdr_enter(struct jm_mdr *r, cmark_node *nd)
{
    cmark_node_type t = cmark_node_get_type(nd);
    size_t i;

    for (i = 0; i < CL_ARRAY_LEN(jm_mdr_rules); i++) {
        if (jm_mdr_rules[i].type == t) {
            jm_mdr_rules[i].enter(r, nd);
            return;
        }
    }
}

/* Raw ADF blocks for Markdown (not yet canonical: jira_markup_adf_normalize() is next). */
static json_t *jm_md_read(const char *md)
{
    cmark_node *doc = cmark_parse_document(md, strlen(md), CMARK_OPT_VALIDATE_UTF8);
    json_t *root = json_array();
    struct jm_mdr r;
    cmark_iter *it;
    cmark_event_type ev;

    memset(&r, 0, sizeof(r));
    r.inl = &r.para;
    if (doc == NULL)
        return root;
    jm_mdr_push(&r, root, JM_F_BLOCKS);
    it = cmark_iter_new(doc);
    for (ev = cmark_iter_next(it); ev != CMARK_EVENT_DONE; ev = cmark_iter_next(it)) {
        if (ev == CMARK_EVENT_ENTER)
            jm_mdr_enter(&r, cmark_iter_get_node(it));
        else
            jm_mdr_exit(&r, cmark_iter_get_node(it));
    }
    cmark_iter_free(it);
    cmark_node_free(doc);
    free(r.st);
    jm_dispose(&r.para);
    return root;
}

/* The inline content under cmark block b, as spans (for reading our own output back). */
static void jm_md_read_inline(cmark_node *b, struct jm_spans *out)
{
    cmark_iter *it = cmark_iter_new(b);
    struct jm_mdr r;
    cmark_event_type ev;

    memset(&r, 0, sizeof(r));
    r.inl = out;
    for (ev = cmark_iter_next(it); ev != CMARK_EVENT_DONE; ev = cmark_iter_next(it)) {
        cmark_node *nd = cmark_iter_get_node(it);

        if (nd == b)
            continue;
        if (ev == CMARK_EVENT_ENTER)
            jm_mdr_enter(&r, nd);
        else
            jm_mdr_exit(&r, nd);
    }
    cmark_iter_free(it);
}

json_t *jira_markup_adf_blocks(const char *md)
{
    json_t *raw = jm_md_read(md != NULL ? md : "");
    json_t *blocks = jira_markup_adf_normalize(raw, NULL);

    json_decref(raw);
    return blocks != NULL ? blocks : json_array();
}

json_t *jira_markup_adf(const char *md)
{
    return json_pack("{s:s, s:i, s:o}", "type", "doc", "version", 1, "content",
                     jira_markup_adf_blocks(md));
}

/* ---- ADF -> Markdown: inline content ---- */

/* Reads canonical inline content back into spans (no failure: it was checked). */
static void jm_read_inline(struct jm_spans *s, const json_t *node, bool heading)
{
    struct jm_norm n = {NULL, {NULL, 0, 0}, 0};

    jm_norm_inlines(&n, node, s);
    buf_dispose(&n.path);
    jm_canon(s, heading);
}

/* Markdown has no strikethrough here: a strike run becomes "~~x~~", literally. */
static void jm_lower_strike(struct jm_spans *s, bool heading)
{
    struct jm_spans t = {0};
    size_t i;

    for (i = 0; i < s->n; i++) {
        const struct jm_span *sp = &s->v[i];
        unsigned m = sp->marks & ~JM_STRIKE;
        bool on = sp->text != NULL && (sp->marks & JM_STRIKE);

        if (on && !(i > 0 && jm_share(&s->v[i - 1], sp, JM_STRIKE)))
            jm_push(&t, "~~", 2, m, sp->href);
        jm_push_span(&t, sp, 0, sp->len, m);
        if (on && !(i + 1 < s->n && jm_share(sp, &s->v[i + 1], JM_STRIKE)))
            jm_push(&t, "~~", 2, m, sp->href);
    }
    jm_canon(&t, heading);
    jm_move(s, &t);
}

/* The run of marks kept open from a span on: strong, em, link (index 0, 1, 2). */
static const unsigned jm_md_marks[] = {JM_LINK, JM_STRONG, JM_EM};

struct jm_mdi {
    struct buf b;
    const struct jm_spans *s;
    size_t *run;    /* run[3 * i + k]: spans from i on that keep jm_md_marks[k] */
    unsigned st[3]; /* open marks, outermost first */
    char ch[3];     /* and the delimiter character each was opened with */
    size_t nst;
    const char *href; /* of the open link */
    bool entity;      /* write the characters next to emphasis as entities */
    bool nest;        /* emphasis inside emphasis takes the other character */
    bool heading;
    bool bol;    /* nothing written on this line yet */
    bool bang;   /* the last byte is an unescaped "!" of text */
    char closed; /* the delimiter character just closed, if the last thing */
};

static size_t *jm_runs(const struct jm_spans *s, const unsigned *marks, size_t nmarks)
{
    size_t *run = cl_calloc((s->n + 1) * nmarks, sizeof(size_t));
    size_t i = s->n;
    size_t k;

    while (i-- > 0) {
        for (k = 0; k < nmarks; k++) {
            if (!jm_is_text(s, i) || !(s->v[i].marks & marks[k]))
                continue;
            run[nmarks * i + k] = 1;
            if (i + 1 < s->n && jm_share(&s->v[i], &s->v[i + 1], marks[k]))
                run[nmarks * i + k] += run[nmarks * (i + 1) + k];
        }
    }
    return run;
}

/* <scheme:...> reads back as a link whose text is its target. */
static bool jm_autolink_ok(const char *h)
{
    size_t n = 1;

    if (!isalpha((unsigned char)h[0]))
        return false;
    while (jm_alnum(h[n]) || h[n] == '+' || h[n] == '.' || h[n] == '-')
        n++;
    if (n < 2 || n > 32 || h[n] != ':')
        return false;
    for (; h[n] != '\0'; n++)
        if ((unsigned char)h[n] <= 0x20 || h[n] == 0x7f || strchr("<>&", h[n]) != NULL)
            return false;
    return true;
}

static bool jm_mdi_autolink(const struct jm_mdi *m, size_t i)
{
    const struct jm_span *sp = &m->s->v[i];

    if (sp->text == NULL || (sp->marks & (JM_LINK | JM_CODE)) != JM_LINK || m->run[3 * i] != 1)
        return false;
    if (i > 0 && jm_share(&m->s->v[i - 1], sp, JM_LINK))
        return false;
    return strlen(sp->href) == sp->len && memcmp(sp->href, sp->text, sp->len) == 0 &&
           jm_autolink_ok(sp->href);
}

/* A link target: bare when it can be, else in <...>; escapes keep it as it is. */
static void jm_md_dest(struct buf *b, const char *h)
{
    bool pointy = h[0] == '\0' || strpbrk(h, " <>()\\") != NULL;
    size_t i;

    for (i = 0; h[i] != '\0' && !pointy; i++)
        pointy = (unsigned char)h[i] < 0x20 || h[i] == 0x7f;
    if (pointy)
        buf_puts(b, "<");
    for (i = 0; h[i] != '\0'; i++) {
        if ((unsigned char)h[i] < 0x20)
            buf_printf(b, "&#%d;", h[i]);
        else if (strchr("<>\\", h[i]) != NULL ||
                 (h[i] == '&' && jm_entity_like(h + i, strlen(h + i))))
            buf_printf(b, "\\%c", h[i]);
        else
            buf_append(b, h + i, 1);
    }
    if (pointy)
        buf_puts(b, ">");
}

static void jm_mdi_close(struct jm_mdi *m)
{
    unsigned mark = m->st[--m->nst];
    char ch = m->ch[m->nst];

    m->closed = 0;
    if (mark == JM_LINK) {
        buf_puts(&m->b, "](");
        jm_md_dest(&m->b, m->href);
        buf_puts(&m->b, ")");
    } else {
        buf_append(&m->b, mark == JM_STRONG ? (ch == '*' ? "**" : "__") : (ch == '*' ? "*" : "_"),
                   mark == JM_STRONG ? 2 : 1);
        m->closed = ch;
    }
    m->bang = false;
}

/* Opening right after closing with the same character would merge the two delimiter
 * runs ("**a***b*"), so it takes the other one; in `nest` mode emphasis inside emphasis
 * does (so that "*" inside "**...**" cannot close it). */
static char jm_mdi_char_for(const struct jm_mdi *m)
{
    size_t k = m->nst;

    while (m->nest && k > 0 && m->st[k - 1] == JM_LINK)
        k--;
    if (m->nest && k > 0)
        return m->ch[k - 1] == '*' ? '_' : '*';
    return m->closed == '*' ? '_' : '*';
}

static void jm_mdi_open(struct jm_mdi *m, unsigned mark, size_t i)
{
    char ch = jm_mdi_char_for(m);

    if (mark == JM_LINK) {
        if (m->bang) { /* "![" would start an image */
            m->b.len--;
            buf_puts(&m->b, "\\!");
        }
        buf_puts(&m->b, "[");
        m->href = m->s->v[i].href;
    } else {
        buf_append(&m->b, mark == JM_STRONG ? (ch == '*' ? "**" : "__") : (ch == '*' ? "*" : "_"),
                   mark == JM_STRONG ? 2 : 1);
    }
    m->st[m->nst] = mark;
    m->ch[m->nst++] = ch;
    m->closed = 0;
    m->bang = false;
    m->bol = false;
}

static bool jm_mdi_keeps(const struct jm_mdi *m, size_t k, unsigned want, const struct jm_span *sp)
{
    if (!(want & m->st[k]))
        return false;
    return m->st[k] != JM_LINK || strcmp(m->href, sp->href) == 0;
}

/* Closes what span i does not have, then opens what it has, longest run outermost. */
static void jm_mdi_enter(struct jm_mdi *m, size_t i)
{
    const struct jm_span *sp = &m->s->v[i];
    unsigned want = sp->marks & (JM_STRONG | JM_EM | JM_LINK);
    size_t k = 0;
    size_t j;

    if (jm_mdi_autolink(m, i))
        want &= ~JM_LINK;
    while (k < m->nst && jm_mdi_keeps(m, k, want, sp))
        k++;
    while (m->nst > k)
        jm_mdi_close(m);
    for (k = 0; k < m->nst; k++)
        want &= ~m->st[k];
    while (want != 0) {
        size_t best = 0;

        for (j = 1; j < 3; j++)
            if ((want & jm_md_marks[j]) &&
                (!(want & jm_md_marks[best]) || m->run[3 * i + j] > m->run[3 * i + best]))
                best = j;
        jm_mdi_open(m, jm_md_marks[best], i);
        want &= ~jm_md_marks[best];
    }
}

/* `code` as a code span: a backtick string no run inside has, padded when needed. */
static void jm_md_code(struct buf *b, const char *t, size_t len)
{
    bool seen[66] = {false};
    size_t i = 0;
    size_t fence = 1;
    size_t longest = 0;
    bool pad;

    while (i < len) {
        size_t r = 0;

        while (i + r < len && t[i + r] == '`')
            r++;
        seen[r < 65 ? r : 65] = true;
        longest = r > longest ? r : longest;
        i += r > 0 ? r : 1;
    }
    while (fence < 65 && seen[fence])
        fence++;
    if (fence == 65)
        fence = longest + 1;
    pad = t[0] == '`' || t[len - 1] == '`' ||
          (t[0] == ' ' && t[len - 1] == ' ' && strspn(t, " ") < len);
    for (i = 0; i < fence; i++)
        buf_puts(b, "`");
    buf_puts(b, pad ? " " : "");
    buf_append(b, t, len);
    buf_puts(b, pad ? " " : "");
    for (i = 0; i < fence; i++)
        buf_puts(b, "`");
}

/* A character that would start a block at the start of a line gets a backslash; a
 * number before "." or ")" gets it on the delimiter. Returns the bytes written for. */
static size_t jm_md_bol(struct buf *b, const char *t, size_t len)
{
    size_t r = 0;

    if (strchr(">-+=", t[0]) != NULL || (t[0] == '~' && len >= 3 && t[1] == '~' && t[2] == '~')) {
        buf_printf(b, "\\%c", t[0]);
        return 1;
    }
    if (t[0] == '#') {
        while (r < len && t[r] == '#')
            r++;
        if (r > 6 || (r < len && !jm_space(t[r])))
            return 0;
        buf_puts(b, "\\#");
        return 1;
    }
    while (r < len && isdigit((unsigned char)t[r]))
        r++;
    if (r == 0 || r > 9 || r == len || (t[r] != '.' && t[r] != ')'))
        return 0;
    buf_append(b, t, r);
    buf_printf(b, "\\%c", t[r]);
    return r + 1;
}

/* Characters that would mean something inline get a backslash. */
static bool jm_md_special(const char *t, size_t len, size_t j)
{
    char c = t[j];
    char next = j + 1 < len ? t[j + 1] : '\0';

    if (c == '`' || c == '*' || c == '[' || c == ']')
        return true;
    if (c == '\\') /* before punctuation, or what is written as "&#1;" */
        return next == '\0' || jm_punct(next) || (unsigned char)next < 0x20;
    if (c == '_') /* snake_case stays as it is: an underscore inside a word is text */
        return !(j > 0 && jm_alnum(t[j - 1]) && jm_alnum(next));
    if (c == '<')
        return isalpha((unsigned char)next) || next == '/' || next == '!' || next == '?';
    if (c == '&')
        return jm_entity_like(t + j, len - j);
    return false;
}

/* Writes the character at t[j] of span sp, escaped; returns the bytes it took. */
static size_t jm_mdi_char(struct jm_mdi *m, const struct jm_span *sp, size_t j, bool entity)
{
    const char *c = sp->text + j;
    size_t k = jm_cp_len(c, sp->len - j);
    size_t used = 0;

    if (entity) {
        buf_printf(&m->b, "&#%u;", jm_cp(c, k));
        return k;
    }
    if (m->bol)
        used = jm_md_bol(&m->b, c, sp->len - j);
    if (used > 0)
        return used;
    if ((unsigned char)*c < 0x20 && *c != '\t')
        buf_printf(&m->b, "&#%d;", *c);
    else if (jm_md_special(sp->text, sp->len, j) || (*c == '\\' && m->entity))
        buf_printf(&m->b, "\\%c", *c);
    else
        buf_append(&m->b, c, k);
    return k;
}

static bool jm_emph_at(const struct jm_spans *s, size_t i)
{
    return jm_is_text(s, i) && (s->v[i].marks & (JM_STRONG | JM_EM));
}

/* In a heading, "#"s at the end after a space would close it: the first is escaped. */
static size_t jm_md_hash(const struct jm_mdi *m, size_t i)
{
    const struct jm_span *sp = &m->s->v[i];
    size_t r = sp->len;

    if (i + 1 != m->s->n || r == 0 || sp->text[r - 1] != '#')
        return JM_NONE;
    while (r > 0 && sp->text[r - 1] == '#')
        r--;
    if (r == 0 ? i == 0 : jm_space(sp->text[r - 1]))
        return r;
    return JM_NONE;
}

static void jm_mdi_text(struct jm_mdi *m, size_t i)
{
    const struct jm_span *sp = &m->s->v[i];
    bool near = m->entity && jm_emph_at(m->s, i);
    bool first = near || (m->entity && i > 0 && jm_emph_at(m->s, i - 1));
    bool last = near || (m->entity && jm_emph_at(m->s, i + 1));
    size_t hash = m->heading ? jm_md_hash(m, i) : JM_NONE;
    size_t j = 0;

    while (j < sp->len) {
        size_t k = jm_cp_len(sp->text + j, sp->len - j);

        if (j == hash) {
            buf_puts(&m->b, "\\#");
            j++;
        } else {
            j += jm_mdi_char(m, sp, j, (j == 0 && first) || (j + k == sp->len && last));
        }
        m->bol = false;
    }
    /* "!" is never escaped: a last byte "!" is the text's own (an entity ends in ";") */
    m->bang = m->b.len > 0 && m->b.data[m->b.len - 1] == '!';
    m->closed = 0;
}

static void jm_mdi_span(struct jm_mdi *m, size_t i)
{
    const struct jm_span *sp = &m->s->v[i];

    if (!(sp->marks & JM_CODE) && !jm_mdi_autolink(m, i)) {
        jm_mdi_text(m, i);
        return;
    }
    if (sp->marks & JM_CODE) {
        jm_md_code(&m->b, sp->text, sp->len);
    } else {
        buf_puts(&m->b, "<");
        buf_append(&m->b, sp->text, sp->len);
        buf_puts(&m->b, ">");
    }
    m->bang = false;
    m->bol = false;
    m->closed = 0;
}

/* Spans as Markdown: marks open and close around them, breaks end lines (a line with
 * nothing on it is a lone backslash: a hard break). */
static char *jm_md_render(const struct jm_spans *s, bool entity, bool nest, bool heading)
{
    struct jm_mdi m;
    bool empty = true;
    size_t i;

    memset(&m, 0, sizeof(m));
    m.s = s;
    m.run = jm_runs(s, jm_md_marks, 3);
    m.entity = entity;
    m.nest = nest;
    m.heading = heading;
    m.bol = true;
    for (i = 0; i < s->n; i++) {
        if (s->v[i].text != NULL) {
            jm_mdi_enter(&m, i);
            jm_mdi_span(&m, i);
            empty = false;
            continue;
        }
        while (m.nst > 0)
            jm_mdi_close(&m);
        buf_puts(&m.b, empty ? "\\\n" : "\n");
        m.bol = empty = true;
        m.bang = false;
        m.closed = 0;
    }
    while (m.nst > 0)
        jm_mdi_close(&m);
    free(m.run);
    return buf_steal(&m.b, NULL);
}

static bool jm_spans_equal(const struct jm_spans *a, const struct jm_spans *b)
{
    size_t i;

    if (a->n != b->n)
        return false;
    for (i = 0; i < a->n; i++) {
        const struct jm_span *x = &a->v[i];
        const struct jm_span *y = &b->v[i];

        if ((x->text == NULL) != (y->text == NULL))
            return false;
        if (x->text != NULL &&
            (!jm_same(x, y) || x->len != y->len || memcmp(x->text, y->text, x->len) != 0))
            return false;
    }
    return true;
}

/* Reads `out` back: it must be one paragraph (heading) with exactly the spans it was
 * written from. An empty paragraph is written as nothing. */
static bool jm_md_verify(const char *out, const struct jm_spans *want, bool heading)
{
    char *src = heading ? cl_asprintf("# %s", out) : cl_strdup(out);
    cmark_node *doc = cmark_parse_document(src, strlen(src), CMARK_OPT_VALIDATE_UTF8);
    cmark_node *b = doc != NULL ? cmark_node_first_child(doc) : NULL;
    cmark_node_type t = b != NULL ? cmark_node_get_type(b) : CMARK_NODE_NONE;
    struct jm_spans got = {0};
    bool ok;

    if (want->n == 0 && !heading) {
        ok = b == NULL;
    } else {
        ok = b != NULL && cmark_node_next(b) == NULL &&
             (heading ? t == CMARK_NODE_HEADING : t == CMARK_NODE_PARAGRAPH);
        if (ok)
            jm_md_read_inline(b, &got);
        jm_canon(&got, heading);
        ok = ok && jm_spans_equal(&got, want);
    }
    jm_dispose(&got);
    cmark_node_free(doc);
    free(src);
    return ok;
}

/* Ways to write inline content, in order: each is read back before it is used. Plain;
 * emphasis inside emphasis with the other character; either with the characters next to
 * emphasis written as entities (a delimiter between punctuation and a letter can
 * otherwise neither open nor close); without strong and em; as plain text. The first
 * four held for all Markdown-made ADF the fuzzer found. */
static const struct jm_md_try {
    unsigned keep;
    bool entity;
    bool nest;
} jm_md_tries[] = {
    {~0u, false, false},
    {~0u, false, true},
    {~0u, true, false},
    {~0u, true, true},
    {JM_CODE | JM_LINK, false, false},
    {0, false, false},
};

static char *jm_md_inline(const json_t *node, bool heading)
{
    struct jm_spans s = {0};
    struct jm_spans t = {0};
    char *out = NULL;
    bool ok = false;
    size_t i;

    jm_read_inline(&s, node, heading);
    jm_lower_strike(&s, heading);
    for (i = 0; i < CL_ARRAY_LEN(jm_md_tries) && !ok; i++) {
        const struct jm_md_try *try = &jm_md_tries[i];

        jm_filter(&t, &s, try->keep, heading);
        free(out);
        out = jm_md_render(&t, try->entity, try->nest, heading);
        ok = jm_md_verify(out, &t, heading);
        jm_dispose(&t);
    }
    jm_dispose(&s);
    return out;
}

/* ---- ADF -> Markdown: blocks ---- */

static void jm_md_seq(struct buf *b, const json_t *blocks, bool item);

/* Prefixes each line of text: `first` on the first, `rest` on the others; an empty line
 * gets the prefix without its trailing spaces. */
static void jm_prefix_lines(struct buf *b, const char *text, const char *first, const char *rest)
{
    const char *p = text;
    const char *pre = first;

    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        size_t plen = strlen(pre);

        while (len == 0 && plen > 0 && pre[plen - 1] == ' ')
            plen--;
        buf_append(b, pre, plen);
        buf_append(b, p, len);
        if (nl == NULL)
            break;
        buf_puts(b, "\n");
        p = nl + 1;
        pre = rest;
    }
}

static bool jm_is_type(const json_t *node, const char *type)
{
    const char *t = json_string_value(json_object_get(node, "type"));

    return t != NULL && strcmp(t, type) == 0;
}

static bool jm_is_list(const json_t *node)
{
    return jm_is_type(node, "bulletList") || jm_is_type(node, "orderedList");
}

static bool jm_empty_para(const json_t *node)
{
    return jm_is_type(node, "paragraph") && json_array_size(json_object_get(node, "content")) == 0;
}

/* In a list item a list may follow a paragraph directly when it can interrupt one: not
 * when it starts at another number than 1 or with an empty item. */
static bool jm_md_tight(const json_t *prev, const json_t *next)
{
    const json_t *item = json_array_get(json_object_get(next, "content"), 0);

    if (!jm_is_type(prev, "paragraph") || !jm_is_list(next))
        return false;
    if (jm_empty_para(prev))
        return true;
    if (jm_is_type(next, "orderedList") && jm_order(next) != 1)
        return false;
    return !jm_empty_para(json_array_get(json_object_get(item, "content"), 0));
}

static char jm_md_paragraph(struct buf *b, const json_t *node, char prev)
{
    char *s = jm_md_inline(node, false);

    (void)prev;
    buf_puts(b, s);
    free(s);
    return 0;
}

static char jm_md_heading(struct buf *b, const json_t *node, char prev)
{
    const json_t *l = jm_attr(node, "level");
    char *s = jm_md_inline(node, true);

    (void)prev;
    buf_puts(b, &"######"[6 - (json_is_integer(l) ? json_integer_value(l) : 1)]);
    if (s[0] != '\0')
        buf_printf(b, " %s", s);
    free(s);
    return 0;
}

static char jm_md_rule(struct buf *b, const json_t *node, char prev)
{
    (void)node;
    (void)prev;
    buf_puts(b, "---");
    return 0;
}

static size_t jm_longest_run(const char *t, char c)
{
    size_t best = 0;
    size_t r = 0;

    for (; *t != '\0'; t++) {
        r = *t == c ? r + 1 : 0;
        best = r > best ? r : best;
    }
    return best;
}

/* A fenced block: a fence longer than any run of its character inside, "~" when the
 * language has a backtick; the language escaped as an info string reads it. */
static char jm_md_codeblock(struct buf *b, const json_t *node, char prev)
{
    const char *lang = jm_attr_str(node, "language");
    const json_t *first = json_array_get(json_object_get(node, "content"), 0);
    const char *text = json_string_value(json_object_get(first, "text"));
    char fc = lang != NULL && strchr(lang, '`') != NULL ? '~' : '`';
    size_t n;
    size_t i;

    (void)prev;
    text = text != NULL ? text : "";
    n = jm_longest_run(text, fc) + 1;
    n = n < 3 ? 3 : n;
    for (i = 0; i < n; i++)
        buf_append(b, &fc, 1);
    for (i = 0; lang != NULL && lang[i] != '\0'; i++) {
        if ((unsigned char)lang[i] < 0x20)
            buf_printf(b, "&#%d;", lang[i]);
        else if (lang[i] == '\\' || (lang[i] == '&' && jm_entity_like(lang + i, strlen(lang + i))))
            buf_printf(b, "\\%c", lang[i]);
        else
            buf_append(b, lang + i, 1);
    }
    buf_printf(b, "\n%s%s", text, text[0] != '\0' ? "\n" : "");
    for (i = 0; i < n; i++)
        buf_append(b, &fc, 1);
    return 0;
}

static char jm_md_quote(struct buf *b, const json_t *node, char prev)
{
    struct buf in;

    (void)prev;
    buf_init(&in);
    jm_md_seq(&in, json_object_get(node, "content"), false);
    jm_prefix_lines(b, in.data != NULL ? in.data : "", "> ", "> ");
    buf_dispose(&in);
    return 0;
}

/* A list right after one of its kind takes the other marker ("*" after "-", ")" after
 * "."), or the two would read as one. Returns the marker character used. */
static char jm_md_list(struct buf *b, const json_t *node, char prev)
{
    bool ordered = jm_is_type(node, "orderedList");
    char ch = ordered ? (prev == '.' ? ')' : '.') : (prev == '-' ? '*' : '-');
    long start = ordered ? jm_order(node) : 0;
    const json_t *item;
    size_t i;

    json_array_foreach (json_object_get(node, "content"), i, item) {
        long num = start + (long)i > JM_MAX_ORDER ? JM_MAX_ORDER : start + (long)i;
        char marker[24];
        char pad[24];
        struct buf in;

        if (ordered)
            snprintf(marker, sizeof(marker), "%ld%c ", num, ch);
        else
            snprintf(marker, sizeof(marker), "%c ", ch);
        memset(pad, ' ', strlen(marker));
        pad[strlen(marker)] = '\0';
        buf_init(&in);
        jm_md_seq(&in, json_object_get(item, "content"), true);
        buf_puts(b, i > 0 ? "\n" : "");
        jm_prefix_lines(b, in.data != NULL ? in.data : "", marker, pad);
        buf_dispose(&in);
    }
    return ch;
}

typedef char (*jm_md_fn)(struct buf *b, const json_t *node, char prev);

static const struct jm_md_rule {
    const char *type;
    jm_md_fn fn;
} jm_md_rules[] = {
    {"paragraph", jm_md_paragraph}, {"heading", jm_md_heading},     {"bulletList", jm_md_list},
    {"orderedList", jm_md_list},    {"codeBlock", jm_md_codeblock}, {"blockquote", jm_md_quote},
    {"rule", jm_md_rule},
};

/* Blocks separated by a blank line (in a list item a list follows a paragraph directly
 * when it can, which keeps "- a\n  - b" tight). */
static void jm_md_seq(struct buf *b, const json_t *blocks, bool item)
{
    const json_t *prev = NULL;
    const json_t *node;
    char mark = 0;
    size_t i;
    size_t k;

    json_array_foreach (blocks, i, node) {
        if (prev != NULL)
            buf_puts(b, item && jm_md_tight(prev, node) ? "\n" : "\n\n");
        for (k = 0; k < CL_ARRAY_LEN(jm_md_rules); k++)
            if (jm_is_type(node, jm_md_rules[k].type))
                break;
        mark = k < CL_ARRAY_LEN(jm_md_rules) ? jm_md_rules[k].fn(b, node, mark) : 0;
        prev = node;
    }
}

char *jira_markup_md_from_adf(const json_t *blocks, struct cl_err *err)
{
    json_t *canon = jira_markup_adf_normalize(blocks, err);
    struct buf b;

    if (canon == NULL)
        return NULL;
    buf_init(&b);
    jm_md_seq(&b, canon, false);
    json_decref(canon);
    return buf_steal(&b, NULL);
}

/* ---- ADF -> wiki markup ---- */

/* Marks as wiki delimiters: link "[text|url]", code "{{x}}", strong "*", em "_", strike
 * "-"; the last three take the "{*}x{*}" form where a bare one would not be read. */
static const unsigned jm_wiki_marks[] = {JM_LINK, JM_CODE, JM_STRONG, JM_EM, JM_STRIKE};

enum jm_wmode { JM_W_PARA, JM_W_ITEM, JM_W_HEAD };

struct jm_wi {
    struct buf *b;
    const struct jm_spans *s;
    size_t *run; /* 5 per span, as jm_wiki_marks */
    unsigned st[5];
    bool braced[5]; /* the open effect is written "{*}" at both ends */
    size_t nst;
    const char *href;
    size_t line; /* the first span of the current line */
    bool bol;
};

static bool jm_wiki_bound(char c)
{
    return c == '\0' || jm_space(c) || jm_punct(c);
}

static char jm_wiki_char(unsigned mark)
{
    return mark == JM_STRONG ? '*' : mark == JM_EM ? '_' : '-';
}

/* A link target in "[text|url]" cannot hold "|", "]" and the like: those go %-encoded. */
static void jm_wiki_url(struct buf *b, const char *h)
{
    for (; *h != '\0'; h++) {
        if ((unsigned char)*h <= 0x20 || *h == 0x7f || strchr("[]|{}", *h) != NULL)
            buf_printf(b, "%%%02X", (unsigned char)*h);
        else
            buf_append(b, h, 1);
    }
}

/* Whether a bare delimiter would be read before span `next` (a break or the end counts
 * as a boundary). */
static bool jm_wi_bare_close(const struct jm_wi *w, size_t next)
{
    return !jm_is_text(w->s, next) || jm_wiki_bound(w->s->v[next].text[0]);
}

/* A bare "*" opens only after a boundary and closes only before one: where either end
 * cannot be bare, both ends take the "{*}" form. k: the mark's index in jm_wiki_marks. */
static void jm_wi_open(struct jm_wi *w, unsigned mark, size_t i, size_t k)
{
    const struct jm_span *prev = i > w->line ? &w->s->v[i - 1] : NULL;
    bool bare = (prev == NULL || jm_wiki_bound(prev->text[prev->len - 1])) &&
                jm_wi_bare_close(w, i + w->run[5 * i + k]);

    if (mark == JM_LINK) {
        buf_puts(w->b, "[");
        w->href = w->s->v[i].href;
    } else if (mark == JM_CODE) {
        buf_puts(w->b, "{{");
    } else {
        buf_printf(w->b, bare ? "%c" : "{%c}", jm_wiki_char(mark));
    }
    w->braced[w->nst] = !bare;
    w->st[w->nst++] = mark;
    w->bol = false;
}

/* next: the span after the closer. An effect closed early (its run crossed another)
 * keeps the form it opened with when that is still readable here. */
static void jm_wi_close(struct jm_wi *w, size_t next)
{
    unsigned mark = w->st[--w->nst];
    bool bare = !w->braced[w->nst] && jm_wi_bare_close(w, next);

    if (mark == JM_LINK) {
        buf_puts(w->b, "|");
        jm_wiki_url(w->b, w->href);
        buf_puts(w->b, "]");
    } else if (mark == JM_CODE) {
        buf_puts(w->b, "}}");
    } else {
        buf_printf(w->b, bare ? "%c" : "{%c}", jm_wiki_char(mark));
    }
}

static void jm_wi_enter(struct jm_wi *w, size_t i)
{
    const struct jm_span *sp = &w->s->v[i];
    unsigned want = sp->marks;
    size_t k = 0;
    size_t j;

    while (k < w->nst && (want & w->st[k]) &&
           (w->st[k] != JM_LINK || strcmp(w->href, sp->href) == 0))
        k++;
    while (w->nst > k)
        jm_wi_close(w, i);
    for (k = 0; k < w->nst; k++)
        want &= ~w->st[k];
    while (want != 0) {
        size_t best = 0;

        for (j = 1; j < CL_ARRAY_LEN(jm_wiki_marks); j++)
            if ((want & jm_wiki_marks[j]) &&
                (!(want & jm_wiki_marks[best]) || w->run[5 * i + j] > w->run[5 * i + best]))
                best = j;
        jm_wi_open(w, jm_wiki_marks[best], i, best);
        want &= ~jm_wiki_marks[best];
    }
}

/* What starts a block at the start of a wiki line: "*", "#", "-" get a backslash; the
 * letters of "h1." and "bq." cannot, so they become character references. */
static size_t jm_wiki_bol(struct buf *b, const char *t, size_t len)
{
    if (t[0] == '*' || t[0] == '#' || t[0] == '-') {
        buf_printf(b, "\\%c", t[0]);
        return 1;
    }
    if (len >= 3 && t[0] == 'h' && t[1] >= '1' && t[1] <= '6' && t[2] == '.') {
        buf_puts(b, "&#104;");
        return 1;
    }
    if (len >= 3 && t[0] == 'b' && t[1] == 'q' && t[2] == '.') {
        buf_puts(b, "&#98;");
        return 1;
    }
    return 0;
}

/* Characters wiki markup would read as markup get a backslash: brackets and braces
 * always; "*", "_" and "-" (our delimiters) where they could open or close an effect,
 * "+", "^", "~" and "!" where they could open one. p and q are the characters around:
 * '\0' at the start or end of the line, JM_WIKI_NEAR next to another span (unknown). */
#define JM_WIKI_NEAR '\x01'

static bool jm_wiki_special(char c, char p, char q)
{
    bool open;
    bool close;

    if (strchr("{}[]|", c) != NULL)
        return true;
    if (c == '?' || c == '&')
        return q == (c == '?' ? '?' : '#');
    if (strchr("*_-+^~!", c) == NULL)
        return false;
    if (c == '-' && (p == '-' || q == '-')) /* "--" and "---" are dashes */
        return true;
    open = (p == JM_WIKI_NEAR || jm_wiki_bound(p)) && q != '\0' && !jm_space(q);
    close = p != '\0' && !jm_space(p) && (q == JM_WIKI_NEAR || jm_wiki_bound(q));
    return open || (close && strchr("*_-", c) != NULL);
}

static void jm_wiki_text(struct jm_wi *w, size_t i)
{
    const struct jm_span *sp = &w->s->v[i];
    const char *t = sp->text;
    char before = i > w->line ? JM_WIKI_NEAR : '\0';
    char after = jm_is_text(w->s, i + 1) ? JM_WIKI_NEAR : '\0';
    size_t j = 0;

    while (j < sp->len) {
        size_t k = jm_cp_len(t + j, sp->len - j);
        size_t used = w->bol ? jm_wiki_bol(w->b, t + j, sp->len - j) : 0;
        char p = j > 0 ? t[j - 1] : before;
        char q = j + 1 < sp->len ? t[j + 1] : after;

        w->bol = false;
        if (used > 0) {
            j += used;
            continue;
        }
        if (t[j] == '\\') /* "\\" is a line break, "\x" an escape: "&#92;" is neither */
            buf_puts(w->b, q == '\0' || q == JM_WIKI_NEAR || jm_punct(q) ? "&#92;" : "\\");
        else if (jm_wiki_special(t[j], p, q))
            buf_printf(w->b, "\\%c", t[j]);
        else
            buf_append(w->b, t + j, k);
        j += k;
    }
}

/* Breaks: in a paragraph a newline between two lines of text, else "\\" (a list item
 * or heading is one line; a newline that would leave an empty line ends a paragraph). */
static void jm_wiki_break(struct jm_wi *w, size_t i, enum jm_wmode mode)
{
    bool nl = mode == JM_W_PARA && i > w->line && jm_is_text(w->s, i + 1);

    while (w->nst > 0)
        jm_wi_close(w, i);
    buf_puts(w->b, nl ? "\n" : "\\\\");
    w->bol = nl;
    w->line = i + 1;
}

static void jm_wiki_inline(struct buf *b, const struct jm_spans *s, enum jm_wmode mode)
{
    struct jm_wi w;
    size_t i;

    memset(&w, 0, sizeof(w));
    w.b = b;
    w.s = s;
    w.run = jm_runs(s, jm_wiki_marks, CL_ARRAY_LEN(jm_wiki_marks));
    w.bol = true;
    for (i = 0; i < s->n; i++) {
        if (s->v[i].text == NULL) {
            jm_wiki_break(&w, i, mode);
            continue;
        }
        jm_wi_enter(&w, i);
        jm_wiki_text(&w, i);
    }
    while (w.nst > 0)
        jm_wi_close(&w, s->n);
    free(w.run);
}

static void jm_wiki_seq(struct buf *b, const json_t *blocks);

static void jm_wiki_paragraph(struct buf *b, const json_t *node)
{
    struct jm_spans s = {0};

    jm_read_inline(&s, node, false);
    jm_wiki_inline(b, &s, JM_W_PARA);
    jm_dispose(&s);
}

static void jm_wiki_heading(struct buf *b, const json_t *node)
{
    struct jm_spans s = {0};

    jm_read_inline(&s, node, true);
    buf_printf(b, "h%d. ", (int)json_integer_value(jm_attr(node, "level")));
    jm_wiki_inline(b, &s, JM_W_HEAD);
    jm_dispose(&s);
}

static void jm_wiki_rule(struct buf *b, const json_t *node)
{
    (void)node;
    buf_puts(b, "----");
}

static const char *jm_code_text(const json_t *node)
{
    const json_t *first = json_array_get(json_object_get(node, "content"), 0);
    const char *text = json_string_value(json_object_get(first, "text"));

    return text != NULL ? text : "";
}

/* s with every `from` replaced by `to` (a new string). */
static char *jm_replace(const char *s, const char *from, const char *to)
{
    struct buf b;
    const char *p;

    buf_init(&b);
    for (p = strstr(s, from); p != NULL; p = strstr(s, from)) {
        buf_append(&b, s, (size_t)(p - s));
        buf_puts(&b, to);
        s = p + strlen(from);
    }
    buf_puts(&b, s);
    return buf_steal(&b, NULL);
}

/* {code:lang}...{code}; {noformat} when the text holds "{code}" (no language then). */
static void jm_wiki_codeblock(struct buf *b, const json_t *node)
{
    const char *lang = jm_attr_str(node, "language");
    const char *text = jm_code_text(node);
    const char *macro = strstr(text, "{code}") != NULL ? "noformat" : "code";
    char *body = strcmp(macro, "noformat") == 0 ? jm_replace(text, "{noformat}", "{noformat }")
                                                : cl_strdup(text);
    bool named = lang != NULL && macro[0] == 'c' &&
                 strspn(lang, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789_+#.-") == strlen(lang);

    buf_printf(b, "{%s%s%s}\n%s%s{%s}", macro, named ? ":" : "", named ? lang : "", body,
               body[0] != '\0' ? "\n" : "", macro);
    free(body);
}

static void jm_wiki_quote(struct buf *b, const json_t *node)
{
    buf_puts(b, "{quote}\n");
    jm_wiki_seq(b, json_object_get(node, "content"));
    buf_puts(b, "\n{quote}");
}

/* A code block's lines as code spans with breaks between them. */
static void jm_code_spans(struct jm_spans *s, const json_t *node)
{
    const char *t = jm_code_text(node);

    for (;;) {
        const char *nl = strchr(t, '\n');
        size_t len = nl != NULL ? (size_t)(nl - t) : strlen(t);

        jm_push(s, t, len, JM_CODE, NULL);
        if (nl == NULL)
            break;
        jm_push(s, NULL, 0, 0, NULL);
        t = nl + 1;
    }
}

/* A wiki list item is one line: all of its paragraphs and code, joined by breaks. */
static bool jm_wiki_item_line(struct jm_spans *line, const json_t *item)
{
    const json_t *blk;
    bool nested = false;
    size_t k;
    size_t j;

    json_array_foreach (json_object_get(item, "content"), k, blk) {
        struct jm_spans part = {0};

        nested |= jm_is_list(blk);
        if (jm_is_type(blk, "codeBlock"))
            jm_code_spans(&part, blk);
        else if (!jm_is_list(blk))
            jm_read_inline(&part, blk, false);
        if (part.n > 0 && line->n > 0)
            jm_push(line, NULL, 0, 0, NULL);
        for (j = 0; j < part.n; j++)
            jm_push_span(line, &part.v[j], 0, part.v[j].len, part.v[j].marks);
        jm_dispose(&part);
    }
    jm_canon(line, false);
    return nested;
}

/* "*", "#" and their nesting ("*#" is a numbered list in a bullet one). Every item has
 * its line, even an empty one ("* "): a nested list belongs to the line above it. */
static void jm_wiki_items(struct buf *b, const json_t *list, char *markers, size_t depth,
                          bool *first)
{
    const json_t *item;
    const json_t *blk;
    size_t i;
    size_t k;

    markers[depth] = jm_is_type(list, "orderedList") ? '#' : '*';
    json_array_foreach (json_object_get(list, "content"), i, item) {
        struct jm_spans line = {0};
        bool nested = jm_wiki_item_line(&line, item);

        buf_puts(b, *first ? "" : "\n");
        buf_append(b, markers, depth + 1);
        buf_puts(b, " ");
        jm_wiki_inline(b, &line, JM_W_ITEM);
        *first = false;
        jm_dispose(&line);
        json_array_foreach (json_object_get(item, "content"), k, blk)
            if (nested && jm_is_list(blk))
                jm_wiki_items(b, blk, markers, depth + 1, first);
    }
}

static void jm_wiki_list(struct buf *b, const json_t *node)
{
    char markers[JM_MAX_LISTS + 1];
    bool first = true;

    jm_wiki_items(b, node, markers, 0, &first);
}

typedef void (*jm_wiki_fn)(struct buf *b, const json_t *node);

static const struct jm_wiki_rule {
    const char *type;
    jm_wiki_fn fn;
} jm_wiki_rules[] = {
    {"paragraph", jm_wiki_paragraph}, {"heading", jm_wiki_heading},
    {"bulletList", jm_wiki_list},     {"orderedList", jm_wiki_list},
    {"codeBlock", jm_wiki_codeblock}, {"blockquote", jm_wiki_quote},
    {"rule", jm_wiki_rule},
};

static void jm_wiki_seq(struct buf *b, const json_t *blocks)
{
    const json_t *node;
    size_t i;
    size_t k;

    json_array_foreach (blocks, i, node) {
        buf_puts(b, i > 0 ? "\n\n" : "");
        for (k = 0; k < CL_ARRAY_LEN(jm_wiki_rules); k++)
            if (jm_is_type(node, jm_wiki_rules[k].type))
                jm_wiki_rules[k].fn(b, node);
    }
}

char *jira_markup_wiki(const char *md)
{
    json_t *blocks = jira_markup_adf_blocks(md);
    struct buf b;

    buf_init(&b);
    jm_wiki_seq(&b, blocks);
    json_decref(blocks);
    return buf_steal(&b, NULL);
}

/* ---- wiki markup -> ADF: effects and links of one line ---- */

enum jm_wt_kind { JM_WT_TEXT, JM_WT_DELIM, JM_WT_BREAK, JM_WT_LOPEN, JM_WT_LCLOSE };

/* Delimiter types: strong "*", em "_", strike "-", code "{{" "}}". */
static const unsigned jm_wt_marks[] = {JM_STRONG, JM_EM, JM_STRIKE, JM_CODE};
static const char jm_wt_chars[] = "*_-";

struct jm_wtok {
    enum jm_wt_kind kind;
    int type;  /* JM_WT_DELIM: index in jm_wt_marks */
    bool open; /* could open, could close */
    bool close;
    int match;  /* 0: literal text, 1: opens, 2: closes */
    size_t off; /* bytes in txt: the text, a delimiter as written, a link's target */
    size_t len;
};

struct jm_wt {
    struct jm_wtok *v;
    size_t n;
    size_t cap;
    struct buf txt;
    const char *s; /* the line */
    size_t len;
    size_t rb_from; /* the last search for "]": where from, where found, its last "|" */
    size_t rb_at;
    size_t rb_bar;
    size_t esc_end; /* just after the last "\x": s[esc_end - 1] is not markup */
};

static struct jm_wtok *jm_wt_add(struct jm_wt *w, enum jm_wt_kind kind, const char *bytes,
                                 size_t len)
{
    struct jm_wtok *t;

    if (w->n == w->cap) {
        w->cap = w->cap > 0 ? w->cap * 2 : 32;
        w->v = cl_realloc(w->v, w->cap * sizeof(*w->v));
    }
    t = &w->v[w->n++];
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->off = w->txt.len;
    t->len = len;
    buf_append(&w->txt, bytes, len);
    return t;
}

static void jm_wt_text(struct jm_wt *w, const char *bytes, size_t len)
{
    struct jm_wtok *last = w->n > 0 ? &w->v[w->n - 1] : NULL;

    if (last != NULL && last->kind == JM_WT_TEXT && last->off + last->len == w->txt.len) {
        buf_append(&w->txt, bytes, len);
        last->len += len;
        return;
    }
    jm_wt_add(w, JM_WT_TEXT, bytes, len);
}

static void jm_utf8_put(struct buf *b, unsigned cp)
{
    char out[4];

    if (cp < 0x80) {
        out[0] = (char)cp;
        buf_append(b, out, 1);
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        buf_append(b, out, 2);
    } else if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        buf_append(b, out, 3);
    } else {
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        buf_append(b, out, 4);
    }
}

/* "\\" a line break, "\x" the punctuation x itself, any other "\" itself. */
static size_t jm_wt_backslash(struct jm_wt *w, size_t i, size_t to)
{
    if (i + 1 < to && w->s[i + 1] == '\\') {
        jm_wt_add(w, JM_WT_BREAK, "", 0);
        return i + 2;
    }
    if (i + 1 < to && jm_punct(w->s[i + 1])) {
        jm_wt_text(w, w->s + i + 1, 1);
        w->esc_end = i + 2;
        return i + 2;
    }
    jm_wt_text(w, "\\", 1);
    return i + 1;
}

/* "&#92;" and the like (decimal, printable); anything else is an "&". */
static size_t jm_wt_entity(struct jm_wt *w, size_t i, size_t to)
{
    size_t j = i + 2;
    unsigned long cp = 0;
    struct buf b;

    while (i + 1 < to && w->s[i + 1] == '#' && j < to && j < i + 9 &&
           isdigit((unsigned char)w->s[j]))
        cp = cp * 10 + (unsigned long)(w->s[j++] - '0');
    if (j == i + 2 || j >= to || w->s[j] != ';' || cp < 0x20 || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        jm_wt_text(w, "&", 1);
        return i + 1;
    }
    buf_init(&b);
    jm_utf8_put(&b, (unsigned)cp);
    jm_wt_text(w, b.data, b.len);
    buf_dispose(&b);
    return j + 1;
}

static struct jm_wtok *jm_wt_delim(struct jm_wt *w, int type, const char *src, size_t len)
{
    struct jm_wtok *t = jm_wt_add(w, JM_WT_DELIM, src, len);

    t->type = type;
    return t;
}

/* "{color:red}" and "{color}": a colour we drop. Returns the bytes to skip, 0 if none. */
static size_t jm_wt_color(const char *s, size_t n)
{
    const char *end = n > 6 ? memchr(s, '}', n < 40 ? n : 40) : NULL;

    if (end == NULL || strncmp(s, "{color", 6) != 0 || (s[6] != ':' && s[6] != '}'))
        return 0;
    return (size_t)(end - s) + 1;
}

/* "{{" and "}}" (code), "{*}", "{_}", "{-}" (an effect anywhere), else a brace. */
static size_t jm_wt_brace(struct jm_wt *w, size_t i, size_t to)
{
    const char *s = w->s + i;
    const char *k = i + 2 < to && s[0] == '{' && s[2] == '}' ? strchr(jm_wt_chars, s[1]) : NULL;
    size_t color = jm_wt_color(s, to - i);
    struct jm_wtok *t;

    if (color > 0)
        return i + color;

    if (i + 1 < to && s[0] == s[1]) {
        t = jm_wt_delim(w, 3, s, 2);
        t->open = s[0] == '{';
        t->close = s[0] == '}';
        return i + 2;
    }
    if (k != NULL && *k != '\0') {
        t = jm_wt_delim(w, (int)(k - jm_wt_chars), s, 3);
        t->open = t->close = true;
        return i + 3;
    }
    jm_wt_text(w, s, 1);
    return i + 1;
}

/* A bare "*", "_" or "-" opens after a boundary before something, closes after
 * something before a boundary (start, end, space, punctuation); "--" and "---" are
 * dashes. */
static size_t jm_wt_plain(struct jm_wt *w, size_t i)
{
    char p = i > 0 && w->esc_end != i ? w->s[i - 1] : i > 0 ? '!' : '\0';
    char q = i + 1 < w->len ? w->s[i + 1] : '\0';
    struct jm_wtok *t;

    if (w->s[i] == '-' && (p == '-' || q == '-')) {
        jm_wt_text(w, w->s + i, 1);
        return i + 1;
    }
    t = jm_wt_delim(w, (int)(strchr(jm_wt_chars, w->s[i]) - jm_wt_chars), w->s + i, 1);
    t->open = jm_wiki_bound(p) && q != '\0' && !jm_space(q);
    t->close = p != '\0' && !jm_space(p) && jm_wiki_bound(q);
    return i + 1;
}

/* The first unescaped "]" after the "[" at i and the last "|" before it (JM_NONE: none).
 * A later "[" before the same "]" reuses the search, which keeps "[[[[..." linear. */
static void jm_wt_find(struct jm_wt *w, size_t i, size_t to, size_t *close, size_t *bar)
{
    size_t j = i + 1;
    size_t last = JM_NONE;

    if (w->rb_from == JM_NONE || i <= w->rb_from || i >= w->rb_at) {
        while (j < to && w->s[j] != ']') {
            if (w->s[j] == '\\' && j + 1 < to && jm_punct(w->s[j + 1])) {
                j += 2;
                continue;
            }
            last = w->s[j] == '|' ? j : last;
            j++;
        }
        w->rb_from = i;
        w->rb_at = j;
        w->rb_bar = last;
    }
    *close = w->rb_at < to ? w->rb_at : JM_NONE;
    *bar = w->rb_bar != JM_NONE && w->rb_bar > i ? w->rb_bar : JM_NONE;
}

/* "scheme:" at the start: [http://x] is a link without a separate text. */
static bool jm_wt_is_url(const char *s, size_t n)
{
    size_t k = 0;

    if (n == 0 || !isalpha((unsigned char)s[0]))
        return false;
    while (k < n && k < 32 && (jm_alnum(s[k]) || s[k] == '+' || s[k] == '.' || s[k] == '-'))
        k++;
    return k >= 2 && k < n && s[k] == ':';
}

static void jm_wt_scan(struct jm_wt *w, size_t i, size_t to, bool in_link);

static void jm_wt_lopen(struct jm_wt *w, const char *href, size_t len)
{
    while (len > 0 && jm_space(*href)) {
        href++;
        len--;
    }
    while (len > 0 && jm_space(href[len - 1]))
        len--;
    jm_wt_add(w, JM_WT_LOPEN, href, len);
}

/* [text|url] or [url]; anything else in brackets is text. */
static size_t jm_wt_link(struct jm_wt *w, size_t i, size_t to)
{
    size_t close;
    size_t bar;

    jm_wt_find(w, i, to, &close, &bar);
    if (close != JM_NONE && bar != JM_NONE) {
        jm_wt_lopen(w, w->s + bar + 1, close - bar - 1);
        jm_wt_scan(w, i + 1, bar, true);
    } else if (close != JM_NONE && jm_wt_is_url(w->s + i + 1, close - i - 1)) {
        jm_wt_lopen(w, w->s + i + 1, close - i - 1);
        jm_wt_text(w, w->s + i + 1, close - i - 1);
    } else {
        jm_wt_text(w, "[", 1);
        return i + 1;
    }
    jm_wt_add(w, JM_WT_LCLOSE, "", 0);
    return close + 1;
}

static void jm_wt_scan(struct jm_wt *w, size_t i, size_t to, bool in_link)
{
    while (i < to) {
        char c = w->s[i];

        if (c == '\\')
            i = jm_wt_backslash(w, i, to);
        else if (c == '&')
            i = jm_wt_entity(w, i, to);
        else if (c == '{' || c == '}')
            i = jm_wt_brace(w, i, to);
        else if (c == '*' || c == '_' || c == '-')
            i = jm_wt_plain(w, i);
        else if (c == '[' && !in_link)
            i = jm_wt_link(w, i, to);
        else
            jm_wt_text(w, w->s + i++, 1);
    }
}

/* A closer takes the nearest opener of its type; openers between them, and any left at a
 * break or the end of a link text, stay text. cnt[t]: openers of type t on the stack. */
static void jm_wt_pair(struct jm_wt *w, size_t i, size_t *st, size_t *ns, size_t *cnt)
{
    struct jm_wtok *t = &w->v[i];

    if (t->close && cnt[t->type] > 0) {
        while (w->v[st[*ns - 1]].type != t->type)
            cnt[w->v[st[--*ns]].type]--;
        w->v[st[--*ns]].match = 1;
        t->match = 2;
        cnt[t->type]--;
    } else if (t->open) {
        st[(*ns)++] = i;
        cnt[t->type]++;
    }
}

static void jm_wt_match(struct jm_wt *w)
{
    size_t *st = cl_malloc((w->n + 1) * sizeof(size_t));
    size_t cnt[4] = {0};
    size_t saved[4] = {0};
    size_t ns = 0;
    size_t base = 0;
    size_t i;

    for (i = 0; i < w->n; i++) {
        enum jm_wt_kind k = w->v[i].kind;

        if (k == JM_WT_DELIM) {
            jm_wt_pair(w, i, st, &ns, cnt);
        } else if (k == JM_WT_LOPEN) {
            memcpy(saved, cnt, sizeof(cnt));
            memset(cnt, 0, sizeof(cnt));
            base = ns;
        } else if (k == JM_WT_LCLOSE || k == JM_WT_BREAK) {
            ns = base;
            memset(cnt, 0, sizeof(cnt));
            if (k == JM_WT_LCLOSE)
                memcpy(cnt, saved, sizeof(cnt));
            base = k == JM_WT_LCLOSE ? 0 : base;
        }
    }
    free(st);
}

static void jm_wt_spans(const struct jm_wt *w, struct jm_spans *out)
{
    int active[4] = {0};
    char *href = NULL;
    size_t i;
    size_t k;

    for (i = 0; i < w->n; i++) {
        const struct jm_wtok *t = &w->v[i];
        unsigned marks = href != NULL ? JM_LINK : 0;

        for (k = 0; k < 4; k++)
            marks |= active[k] > 0 ? jm_wt_marks[k] : 0;
        if (t->kind == JM_WT_DELIM && t->match != 0)
            active[t->type] += t->match == 1 ? 1 : -1;
        else if (t->kind == JM_WT_TEXT || t->kind == JM_WT_DELIM)
            jm_push(out, w->txt.data + t->off, t->len, marks, href);
        else if (t->kind == JM_WT_BREAK)
            jm_push(out, NULL, 0, 0, NULL);
        else if (t->kind == JM_WT_LOPEN)
            href = cl_strndup(w->txt.data + t->off, t->len);
        else
            cl_freep(&href);
    }
    free(href);
}

/* The spans of one line of wiki markup (s[0..len)), appended to out. */
static void jm_wiki_line(const char *s, size_t len, struct jm_spans *out)
{
    struct jm_wt w;

    memset(&w, 0, sizeof(w));
    w.s = s;
    w.len = len;
    w.rb_from = JM_NONE;
    jm_wt_scan(&w, 0, len, false);
    jm_wt_match(&w);
    jm_wt_spans(&w, out);
    free(w.v);
    buf_dispose(&w.txt);
}

/* ---- wiki markup -> ADF: blocks, line by line ---- */

struct jm_wline {
    const char *s; /* a view into the cleaned text; lines follow each other in it */
    size_t len;
};

static bool jm_wl_starts(const struct jm_wline *l, const char *prefix)
{
    size_t n = strlen(prefix);

    return l->len >= n && memcmp(l->s, prefix, n) == 0;
}

static size_t jm_wl_trimmed(const struct jm_wline *l)
{
    size_t n = l->len;

    while (n > 0 && jm_space(l->s[n - 1]))
        n--;
    return n;
}

/* List markers: "*", "#" and mixes ("*#") before a space or the end; "- " too. */
static size_t jm_wl_depth(const struct jm_wline *l)
{
    size_t r = 0;

    while (r < l->len && (l->s[r] == '*' || l->s[r] == '#'))
        r++;
    if (r == 0 && l->len >= 2 && l->s[0] == '-' && l->s[1] == ' ')
        return 1;
    return r > 0 && (r == l->len || jm_space(l->s[r])) ? r : 0;
}

static bool jm_wl_blank(const struct jm_wline *l, bool in_quote)
{
    (void)in_quote;
    return jm_wl_trimmed(l) == 0;
}

static bool jm_wl_heading(const struct jm_wline *l, bool in_quote)
{
    (void)in_quote;
    return l->len >= 3 && l->s[0] == 'h' && l->s[1] >= '1' && l->s[1] <= '6' && l->s[2] == '.' &&
           (l->len == 3 || jm_space(l->s[3]));
}

static bool jm_wl_rule(const struct jm_wline *l, bool in_quote)
{
    size_t n = jm_wl_trimmed(l);

    (void)in_quote;
    return n >= 4 && strspn(l->s, "-") >= n;
}

static bool jm_wl_code(const struct jm_wline *l, bool in_quote)
{
    (void)in_quote;
    if (jm_wl_starts(l, "{noformat}"))
        return true;
    return jm_wl_starts(l, "{code") && l->len > 5 && (l->s[5] == '}' || l->s[5] == ':') &&
           memchr(l->s, '}', l->len) != NULL;
}

static bool jm_wl_quote(const struct jm_wline *l, bool in_quote)
{
    return !in_quote && jm_wl_starts(l, "{quote}");
}

static bool jm_wl_bq(const struct jm_wline *l, bool in_quote)
{
    (void)in_quote;
    return jm_wl_starts(l, "bq. ");
}

static bool jm_wl_list(const struct jm_wline *l, bool in_quote)
{
    (void)in_quote;
    return jm_wl_depth(l) > 0;
}

static void jm_wr_blocks(const struct jm_wline *ln, size_t n, json_t *out, bool in_quote);

static json_t *jm_wr_text_block(const char *s, size_t len, int level)
{
    struct jm_spans sp = {0};
    json_t *node;

    jm_wiki_line(s, len, &sp);
    node = jm_text_block(&sp, level);
    jm_dispose(&sp);
    return node;
}

static size_t jm_wr_blank(const struct jm_wline *ln, size_t i, size_t n, json_t *out)
{
    (void)ln;
    (void)n;
    (void)out;
    return i + 1;
}

static size_t jm_wr_heading(const struct jm_wline *ln, size_t i, size_t n, json_t *out)
{
    (void)n;
    json_array_append_new(out, jm_wr_text_block(ln[i].s + 3, ln[i].len - 3, ln[i].s[1] - '0'));
    return i + 1;
}

static size_t jm_wr_rule(const struct jm_wline *ln, size_t i, size_t n, json_t *out)
{
    (void)ln;
    (void)n;
    json_array_append_new(out, json_pack("{s:s}", "type", "rule"));
    return i + 1;
}

static size_t jm_wr_bq(const struct jm_wline *ln, size_t i, size_t n, json_t *out)
{
    json_t *p = jm_wr_text_block(ln[i].s + 3, ln[i].len - 3, 0);

    (void)n;
    json_array_append_new(out, json_pack("{s:s, s:[o]}", "type", "blockquote", "content", p));
    return i + 1;
}

/* A bounded strstr over [from, limit). */
static const char *jm_find(const char *from, const char *limit, const char *needle)
{
    size_t n = strlen(needle);

    for (; from + n <= limit; from++)
        if (memcmp(from, needle, n) == 0)
            return from;
    return NULL;
}

/* The language of "{code:java}" or "{code:java|title=x}" (its first bare parameter). */
static char *jm_wr_lang(const char *p, const char *brace)
{
    const char *end;

    if (*p != ':')
        return NULL;
    p++;
    end = memchr(p, '|', (size_t)(brace - p));
    end = end != NULL ? end : brace;
    if (end == p || memchr(p, '=', (size_t)(end - p)) != NULL)
        return NULL;
    return cl_strndup(p, (size_t)(end - p));
}

/* {code[:lang]} or {noformat}, up to the closing one (which may end a line of text). */
static size_t jm_wr_code(const struct jm_wline *ln, size_t i, size_t n, json_t *out)
{
    bool nf = jm_wl_starts(&ln[i], "{noformat}");
    const char *brace = memchr(ln[i].s, '}', ln[i].len);
    const char *from = brace + 1;
    const char *limit = ln[n - 1].s + ln[n - 1].len;
    const char *end = jm_find(from, limit, nf ? "{noformat}" : "{code}");
    char *lang = nf ? NULL : jm_wr_lang(ln[i].s + 5, brace);
    const char *stop = end != NULL ? end : limit;
    char *text;
    size_t j = i;

    from += from < stop && *from == '\n';
    text = cl_strndup(from, (size_t)(stop - from) - (stop > from && stop[-1] == '\n'));
    json_array_append_new(out, jm_code_node(text, lang));
    free(text);
    free(lang);
    if (end == NULL)
        return n;
    while (j + 1 < n && ln[j + 1].s <= end)
        j++;
    end += nf ? strlen("{noformat}") : strlen("{code}");
    if (jm_wl_trimmed(&(struct jm_wline){end, (size_t)(ln[j].s + ln[j].len - end)}) > 0)
        json_array_append_new(out, jm_wr_text_block(end, (size_t)(ln[j].s + ln[j].len - end), 0));
    return j + 1;
}

/* {quote} ... {quote}: the lines between (the first and last may carry text) are blocks. */
static size_t jm_wr_quote(const struct jm_wline *ln, size_t i, size_t n, json_t *out)
{
    struct jm_wline *sub = cl_malloc((n - i + 1) * sizeof(*sub));
    json_t *inner = json_array();
    size_t k = 0;
    size_t j;

    for (j = i; j < n; j++) {
        struct jm_wline l = ln[j];
        size_t t;

        if (j == i) {
            l.s += strlen("{quote}");
            l.len -= strlen("{quote}");
        }
        t = jm_wl_trimmed(&l);
        sub[k++] = l;
        if (t >= 7 && memcmp(l.s + t - 7, "{quote}", 7) == 0) {
            sub[k - 1].len = t - 7;
            break;
        }
    }
    jm_wr_blocks(sub, k, inner, true);
    json_array_append_new(out, json_pack("{s:s, s:o}", "type", "blockquote", "content", inner));
    free(sub);
    return j < n ? j + 1 : n;
}

/* A list item holding the spans of `s` (none: an empty paragraph). */
static void jm_wr_item(json_t *items, const char *s, size_t len)
{
    json_t *p = jm_wr_text_block(s, len, 0);

    json_array_append_new(items, json_pack("{s:s, s:[o]}", "type", "listItem", "content", p));
}

/* A new list of `type` ('*' or '#') at the end of `parent`; returns its items. */
static json_t *jm_wr_new_list(json_t *parent, char type)
{
    json_t *list =
        json_pack("{s:s, s:[]}", "type", type == '#' ? "orderedList" : "bulletList", "content");

    json_array_append_new(parent, list);
    return json_object_get(list, "content");
}

/* Consecutive list lines. lv[k]: the items of the open list at depth k, type[k] its kind;
 * a line reuses the open lists its markers match and opens the rest (a level skipped,
 * as in "**" first, gets an item of its own with an empty paragraph). */
static size_t jm_wr_list(const struct jm_wline *ln, size_t i, size_t n, json_t *out)
{
    json_t *lv[JM_MAX_LISTS];
    char type[JM_MAX_LISTS];
    size_t open = 0;
    size_t k;

    for (; i < n && jm_wl_depth(&ln[i]) > 0; i++) {
        size_t d = jm_wl_depth(&ln[i]);
        size_t dd = d > JM_MAX_LISTS ? JM_MAX_LISTS : d;

        for (k = 0; k < dd; k++) {
            char t = ln[i].s[k] == '#' ? '#' : '*';
            json_t *parent = out;

            if (k < open && type[k] == t)
                continue;
            if (k > 0)
                parent = json_object_get(json_array_get(lv[k - 1], json_array_size(lv[k - 1]) - 1),
                                         "content");
            lv[k] = jm_wr_new_list(parent, t);
            type[k] = t;
            open = k + 1;
            if (k + 1 < dd)
                jm_wr_item(lv[k], "", 0);
        }
        open = dd;
        jm_wr_item(lv[dd - 1], ln[i].s + d, ln[i].len - d);
    }
    return i;
}

typedef bool (*jm_wl_fn)(const struct jm_wline *l, bool in_quote);
typedef size_t (*jm_wr_fn)(const struct jm_wline *ln, size_t i, size_t n, json_t *out);

/* Lines that start a block; any other line is paragraph text. */
static const struct jm_wr_rule {
    jm_wl_fn match;
    jm_wr_fn read;
} jm_wr_rules[] = {
    {jm_wl_blank, jm_wr_blank}, {jm_wl_heading, jm_wr_heading}, {jm_wl_rule, jm_wr_rule},
    {jm_wl_code, jm_wr_code},   {jm_wl_quote, jm_wr_quote},     {jm_wl_bq, jm_wr_bq},
    {jm_wl_list, jm_wr_list},
};

static const struct jm_wr_rule *jm_wr_rule_for(const struct jm_wline *l, bool in_quote)
{
    size_t k;

    for (k = 0; k < CL_ARRAY_LEN(jm_wr_rules); k++)
        if (jm_wr_rules[k].match(l, in_quote))
            return &jm_wr_rules[k];
    return NULL;
}

/* Lines up to a blank line or a block: one paragraph, each newline a break. */
static size_t jm_wr_paragraph(const struct jm_wline *ln, size_t i, size_t n, json_t *out,
                              bool in_quote)
{
    struct jm_spans s = {0};
    size_t j;

    for (j = i; j < n && (j == i || jm_wr_rule_for(&ln[j], in_quote) == NULL); j++) {
        if (j > i)
            jm_push(&s, NULL, 0, 0, NULL);
        jm_wiki_line(ln[j].s, ln[j].len, &s);
    }
    json_array_append_new(out, jm_text_block(&s, 0));
    jm_dispose(&s);
    return j;
}

static void jm_wr_blocks(const struct jm_wline *ln, size_t n, json_t *out, bool in_quote)
{
    size_t i = 0;

    while (i < n) {
        const struct jm_wr_rule *r = jm_wr_rule_for(&ln[i], in_quote);

        i = r != NULL ? r->read(ln, i, n, out) : jm_wr_paragraph(ln, i, n, out, in_quote);
    }
}

/* Raw ADF blocks for wiki markup (jira_markup_adf_normalize() makes them canonical). */
static json_t *jm_wiki_read(const char *wiki)
{
    char *text = jm_clean(wiki);
    size_t n = 1;
    struct jm_wline *ln;
    json_t *out = json_array();
    const char *p;
    size_t i = 0;

    for (p = strchr(text, '\n'); p != NULL; p = strchr(p + 1, '\n'))
        n++;
    ln = cl_malloc(n * sizeof(*ln));
    for (p = text; i < n; i++) {
        const char *nl = strchr(p, '\n');

        ln[i].s = p;
        ln[i].len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        p = nl != NULL ? nl + 1 : p + ln[i].len;
    }
    jm_wr_blocks(ln, n, out, false);
    free(ln);
    free(text);
    return out;
}

char *jira_markup_md_from_wiki(const char *wiki)
{
    json_t *raw = jm_wiki_read(wiki != NULL ? wiki : "");
    char *md = jira_markup_md_from_adf(raw, NULL);

    json_decref(raw);
    return md != NULL ? md : cl_strdup("");
}
