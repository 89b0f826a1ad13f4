/* adf_valid: a test-side check of what the Atlassian Document Format schema lets
 * jira_markup produce (the node and mark types it uses, where each may stand), shared by
 * the unit tests and the fuzz target. Header-only: every function is static. */
#ifndef CLOSELOOP_TEST_ADF_VALID_H
#define CLOSELOOP_TEST_ADF_VALID_H

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

static inline bool is(const json_t *node, const char *type)
{
    const char *t = json_string_value(json_object_get(node, "type"));

    return t != NULL && strcmp(t, type) == 0;
}

/* Non-empty text; only strong, em, strike, code, link; code only with link; an href. */
static inline bool valid_text(const json_t *node)
{
    const char *text = json_string_value(json_object_get(node, "text"));
    int code = 0;
    int other = 0;
    const json_t *m;
    size_t i;

    if (text == NULL || text[0] == '\0')
        return false;
    json_array_foreach (json_object_get(node, "marks"), i, m) {
        const json_t *href = json_object_get(json_object_get(m, "attrs"), "href");

        if (is(m, "link") && !json_is_string(href))
            return false;
        if (!is(m, "link") && !is(m, "code") && !is(m, "strong") && !is(m, "em") &&
            !is(m, "strike"))
            return false;
        code += is(m, "code");
        other += is(m, "strong") || is(m, "em") || is(m, "strike");
    }
    return !(code > 0 && other > 0);
}

static inline bool valid_inline(const json_t *content)
{
    const json_t *v;
    size_t i;

    json_array_foreach (content, i, v)
        if (!(is(v, "hardBreak") || (is(v, "text") && valid_text(v))))
            return false;
    return json_is_array(content);
}

static inline bool valid_blocks(const json_t *content, int where, int lists);

static inline bool valid_list(const json_t *list, int lists)
{
    const json_t *order = json_object_get(json_object_get(list, "attrs"), "order");
    const json_t *item;
    size_t i;

    if (lists > 16 || json_array_size(json_object_get(list, "content")) == 0)
        return false;
    if (order != NULL && (!json_is_integer(order) || json_integer_value(order) < 0))
        return false;
    json_array_foreach (json_object_get(list, "content"), i, item) {
        const json_t *first = json_array_get(json_object_get(item, "content"), 0);

        if (!is(item, "listItem") || !(is(first, "paragraph") || is(first, "codeBlock")) ||
            !valid_blocks(json_object_get(item, "content"), 2, lists))
            return false;
    }
    return true;
}

static inline bool valid_code(const json_t *code)
{
    const json_t *lang = json_object_get(json_object_get(code, "attrs"), "language");
    const json_t *v;
    size_t i;

    if (lang != NULL && !json_is_string(lang))
        return false;
    json_array_foreach (json_object_get(code, "content"), i, v)
        if (!is(v, "text") || !valid_text(v) || json_object_get(v, "marks") != NULL)
            return false;
    return json_is_array(json_object_get(code, "content"));
}

/* where: 0 the document, 1 a blockquote, 2 a list item: what the ADF schema lets each hold. */
static inline bool valid_block(const json_t *b, int where, int lists)
{
    json_int_t level = json_integer_value(json_object_get(json_object_get(b, "attrs"), "level"));

    if (is(b, "paragraph"))
        return valid_inline(json_object_get(b, "content"));
    if (is(b, "heading"))
        return where == 0 && level >= 1 && level <= 6 &&
               valid_inline(json_object_get(b, "content"));
    if (is(b, "bulletList") || is(b, "orderedList"))
        return valid_list(b, lists + 1);
    if (is(b, "codeBlock"))
        return valid_code(b);
    if (is(b, "blockquote"))
        return where == 0 && json_array_size(json_object_get(b, "content")) > 0 &&
               valid_blocks(json_object_get(b, "content"), 1, 0);
    return where == 0 && is(b, "rule");
}

static inline bool valid_blocks(const json_t *content, int where, int lists)
{
    const json_t *b;
    size_t i;

    json_array_foreach (content, i, b)
        if (!valid_block(b, where, lists))
            return false;
    return json_is_array(content);
}

/* A document's content (its top-level blocks) is valid ADF as jira_markup writes it. */
static inline bool adf_valid_doc_content(const json_t *content)
{
    return valid_blocks(content, 0, 0);
}

#endif
