/* libFuzzer target: jira_markup, the Markdown <-> ADF / wiki markup conversions (what a
 * description or a Jira issue can make closeloop read). Each input is read three ways:
 * - as Markdown X: adf(X) is valid ADF; M = md(adf(X)) reads back to the same ADF and is
 *   written again unchanged (idempotent after one pass);
 * - through wiki markup: M = md_from_wiki(wiki(X)) is a fixed point of the same trip, and
 *   X read as wiki markup gives canonical Markdown;
 * - as JSON: md_from_adf either refuses it with a reason or gives canonical Markdown.
 * Any failure prints what differed and aborts. No crash, leak or sanitizer report. */
#include "closeloop/sync/jira_markup.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adf_valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "jira_markup: %s\n--- first\n%s\n--- second\n%s\n---\n", what, a, b);
    abort();
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* md(adf(m)) == m, and its ADF equals `want` when given. */
static void check_canonical(const char *m, const json_t *want)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *a = jira_markup_adf_blocks(m);
    char *m2 = jira_markup_md_from_adf(a, &err);

    if (!adf_valid_doc_content(a))
        fail("invalid ADF", m, "");
    if (m2 == NULL || strcmp(m, m2) != 0)
        fail("Markdown not canonical", m, m2 != NULL ? m2 : err.msg);
    if (want != NULL && !json_equal(a, want)) {
        char *x = dump(want);
        char *y = dump(a);

        fail("ADF drifted", x, y);
    }
    free(m2);
    json_decref(a);
}

static void check_markdown(const char *x)
{
    struct cl_err err = CL_ERR_INIT;
    json_t *a = jira_markup_adf_blocks(x);
    char *m = jira_markup_md_from_adf(a, &err);

    if (m == NULL)
        fail("md_from_adf refused our own ADF", x, err.msg);
    if (!adf_valid_doc_content(a))
        fail("invalid ADF", x, "");
    check_canonical(m, a);
    free(m);
    json_decref(a);
}

static void check_wiki(const char *x)
{
    char *w = jira_markup_wiki(x);
    char *m = jira_markup_md_from_wiki(w);
    char *w2 = jira_markup_wiki(m);
    char *m2 = jira_markup_md_from_wiki(w2);
    char *mx = jira_markup_md_from_wiki(x);

    if (strcmp(m, m2) != 0)
        fail("wiki trip not idempotent", m, m2);
    check_canonical(mx, NULL);
    free(w);
    free(m);
    free(w2);
    free(m2);
    free(mx);
}

static void check_json(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    const json_t *blocks = json_is_object(j) ? json_object_get(j, "content") : j;
    struct cl_err err = CL_ERR_INIT;
    char *m;

    if (j == NULL)
        return;
    m = jira_markup_md_from_adf(blocks, &err);
    if (m == NULL && err.msg[0] == '\0')
        fail("refused without a reason", (const char *)data, "");
    if (m != NULL)
        check_canonical(m, NULL);
    free(m);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *x = malloc(size + 1);

    if (x == NULL)
        return 0;
    memcpy(x, data, size);
    x[size] = '\0'; /* an embedded NUL ends the text, as it would in C */
    check_markdown(x);
    check_wiki(x);
    check_json(data, size);
    free(x);
    return 0;
}
