#include "closeloop/sync/jira_markup.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "adf_valid.h"

/* ---- helpers: the round-trip properties ---- */

static char *md_of(const json_t *blocks)
{
    struct cl_err err = CL_ERR_INIT;
    char *md = jira_markup_md_from_adf(blocks, &err);

    assert_non_null(md);
    assert_int_equal(err.code, CL_OK);
    return md;
}

/* m is canonical: valid ADF, written back unchanged, and read as the same ADF again. */
static void assert_canonical(const char *m)
{
    json_t *a = jira_markup_adf_blocks(m);
    char *md = md_of(a);
    json_t *a2 = jira_markup_adf_blocks(md);

    assert_true(adf_valid_doc_content(a));
    assert_string_equal(md, m);
    assert_true(json_equal(a, a2));
    free(md);
    json_decref(a);
    json_decref(a2);
}

/* x normalises to `want` in one pass: M = md(adf(x)) is canonical and adf(M) == adf(x). */
static void assert_once(const char *x, const char *want)
{
    json_t *a = jira_markup_adf_blocks(x);
    char *md = md_of(a);
    json_t *a2 = jira_markup_adf_blocks(md);

    assert_true(adf_valid_doc_content(a));
    assert_string_equal(md, want);
    assert_true(json_equal(a, a2));
    assert_canonical(md);
    free(md);
    json_decref(a);
    json_decref(a2);
}

/* Markdown -> wiki -> Markdown gives `want`, and that is a fixed point of the trip. */
static void assert_wiki_trip(const char *m, const char *want)
{
    char *w = jira_markup_wiki(m);
    char *back = jira_markup_md_from_wiki(w);
    char *w2 = jira_markup_wiki(back);
    char *again = jira_markup_md_from_wiki(w2);

    assert_string_equal(back, want);
    assert_string_equal(again, back);
    free(w);
    free(back);
    free(w2);
    free(again);
}

static json_t *loads(const char *s)
{
    json_error_t jerr;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &jerr);

    if (j == NULL)
        fail_msg("bad JSON in the test: %s: %s", jerr.text, s);
    return j;
}

/* ---- Markdown <-> ADF ---- */

/* Canonical Markdown: what md_from_adf writes comes back unchanged. */
static const char *const canonical_docs[] = {
    "",
    "Hello world",
    "# One\n\n## Two\n\n### Three\n\n#### Four\n\n##### Five\n\n###### Six",
    "Some *em*, **strong**, ***both***, `code` and **bold with *em* inside**.",
    "A [link](https://example.com/a?b=1&c=2) and <https://auto.example/x>.",
    "[**bold** link](http://x.y) and [`code` link](http://x.y/c)",
    "line one\nline two\nline three",
    "a\n\\\nb",
    "- a\n- b\n  - c\n    - d\n- e",
    "1. one\n2. two\n   1. nested\n3. three",
    "7. seven\n8. eight",
    "0. zero",
    "- a\n\n  second paragraph\n- b",
    "- a\n  - b\n\n  after the nested list",
    "-\n  - only nested",
    "-",
    "- a\n-\n- c",
    "- item\n\n* other list\n\n- third list",
    "1. a\n\n1) b",
    "- a\n\n  ```sh\n  echo hi\n  ```\n- b",
    "> quoted\n> text\n>\n> - with a list\n>\n> ```sh\n> echo hi\n> ```",
    "```python\nprint(\"hi\")\n\n# comment\n```",
    "```\nno language\n```",
    "```\n```",
    "````\n```\nnested fence\n```\n````",
    "~~~a`b\ncode\n~~~",
    "```\n\ntwo blank lines around\n\n```",
    "---",
    "Para\n\n---\n\nPara",
    "# C#\n\n# a \\#\n\n## trailing\\\\",
    "\\# not a heading\n\\- not a list\n1\\. not ordered\n\\> not a quote\n\\+ plus\n\\= eq",
    "Escapes: \\* \\_ \\` \\[ \\] \\\\\\* \\<b> &, {braces}, |pipes|, a_b_c, 2\\*3 & \\&amp;",
    "Tab\tinside and trailing backslash\\\\",
    "Ünïcödé — naïve café\n日本語のテキスト、句読点。\n😀🎉👍🏽 "
    "👨‍👩‍👧",
    "**粗体**和*斜体*, “quoted” **«bold»** *¿Qué?* **„Zitat“**",
    "- 🍎 apple\n- 🍌 banana",
    "Code with backticks: ``a`b`` and ` `` `",
    "~~not strike here~~",
    "\\<div>\nhtml as text\n\\</div>",
};

static void test_jira_markup__canonical_round_trip(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(canonical_docs) / sizeof(canonical_docs[0]); i++)
        assert_canonical(canonical_docs[i]);
}

/* Any Markdown reaches its canonical form in one pass (and stays there). */
static const struct {
    const char *in;
    const char *out;
} once[] = {
    {"a  \nb", "a\nb"},
    {"a\\\nb", "a\nb"},
    {"*   a\n*   b", "- a\n- b"},
    {"+ a", "- a"},
    {"1) paren", "1. paren"},
    {"Title\n=====", "# Title"},
    {"Sub\n---", "## Sub"},
    {"# Closed #", "# Closed"},
    {"__strong__ _em_", "**strong** *em*"},
    {"    indented code", "```\nindented code\n```"},
    {"~~~\ncode\n~~~", "```\ncode\n```"},
    {"```rust title=x\nfn main() {}\n```", "```rust\nfn main() {}\n```"},
    {"> > nested", "> nested"},
    {"- > quote in a list", "- quote in a list"},
    {"> # heading in a quote", "> **heading in a quote**"},
    {"- # heading in a list", "- **heading in a list**"},
    {"- a\n\n  ***", "- a\n\n  \\---"},
    {"> ---", "> \\---"},
    {"- - x", "-\n  - x"},
    {"![alt](http://i/x.png)", "[alt](http://i/x.png)"},
    {"![](http://i/x.png)", "<http://i/x.png>"},
    {"[](http://u)", "<http://u>"},
    {"[t](u \"title\")", "[t](u)"},
    {"[ref][1]\n\n[1]: http://r", "[ref](http://r)"},
    {"<b>bold</b>", "\\<b>bold\\</b>"},
    {"**a&#32;**.", "**a** ."},
    {"**a&#32;**b", "\\*\\*a \\*\\*b"},
    {"** a**", "\\*\\* a\\*\\*"},
    {"**`code`**", "`code`"},
    {"&copy; &amp; &#65;", "© & A"},
    {"` code `", "`code`"},
    {"text\n\n\n\nmore", "text\n\nmore"},
    {"  leading spaces", "leading spaces"},
    {"trailing  ", "trailing"},
    {"\r\nwindows\r\nlines\r\n", "windows\nlines"},
    {"a\xff\xfe b", "a\xef\xbf\xbd\xef\xbf\xbd b"},
    {"snake_case_name and _em_", "snake_case_name and *em*"},
    {"1986. A good year", "1986. A good year"}, /* a list that starts at 1986 */
};

static void test_jira_markup__normalises_in_one_pass(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(once) / sizeof(once[0]); i++)
        assert_once(once[i].in, once[i].out);
}

/* The ADF itself, for the shapes the schema constrains. */
static const struct {
    const char *md;
    const char *adf;
} shapes[] = {
    {"", "[]"},
    {"### T", "[{'type':'heading','attrs':{'level':3},'content':[{'type':'text','text':'T'}]}]"},
    {"a\nb", "[{'type':'paragraph','content':[{'type':'text','text':'a'},{'type':'hardBreak'},"
             "{'type':'text','text':'b'}]}]"},
    {"3. x", "[{'type':'orderedList','attrs':{'order':3},'content':[{'type':'listItem',"
             "'content':[{'type':'paragraph','content':[{'type':'text','text':'x'}]}]}]}]"},
    {"1. x", "[{'type':'orderedList','content':[{'type':'listItem','content':[{'type':"
             "'paragraph','content':[{'type':'text','text':'x'}]}]}]}]"},
    {"```js\n```", "[{'type':'codeBlock','attrs':{'language':'js'},'content':[]}]"},
    {"```\na\n\n```", "[{'type':'codeBlock','content':[{'type':'text','text':'a\\n'}]}]"},
    {"**`c`**", "[{'type':'paragraph','content':[{'type':'text','text':'c','marks':[{'type':"
                "'code'}]}]}]"},
    {"[`c`](u)", "[{'type':'paragraph','content':[{'type':'text','text':'c','marks':[{'type':"
                 "'code'},{'type':'link','attrs':{'href':'u'}}]}]}]"},
    {"***x***", "[{'type':'paragraph','content':[{'type':'text','text':'x','marks':[{'type':"
                "'strong'},{'type':'em'}]}]}]"},
    {"- - x", "[{'type':'bulletList','content':[{'type':'listItem','content':[{'type':"
              "'paragraph','content':[]},{'type':'bulletList','content':[{'type':'listItem',"
              "'content':[{'type':'paragraph','content':[{'type':'text','text':'x'}]}]}]}]}]}]"},
    {"-", "[{'type':'bulletList','content':[{'type':'listItem','content':[{'type':"
          "'paragraph','content':[]}]}]}]"},
    {"> # h", "[{'type':'blockquote','content':[{'type':'paragraph','content':[{'type':"
              "'text','text':'h','marks':[{'type':'strong'}]}]}]}]"},
    {"![a](i)", "[{'type':'paragraph','content':[{'type':'text','text':'a','marks':[{'type':"
                "'link','attrs':{'href':'i'}}]}]}]"},
    {"~~s~~", "[{'type':'paragraph','content':[{'type':'text','text':'~~s~~'}]}]"},
    {"---", "[{'type':'rule'}]"},
};

/* Shapes are written with ' for " to keep the table readable. */
static json_t *loads_quoted(const char *s)
{
    char *copy = strdup(s);
    char *p;
    json_t *j;

    for (p = copy; *p != '\0'; p++)
        *p = *p == '\'' ? '"' : *p;
    j = loads(copy);
    free(copy);
    return j;
}

static void test_jira_markup__adf_shapes(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        json_t *got = jira_markup_adf_blocks(shapes[i].md);
        json_t *want = loads_quoted(shapes[i].adf);
        char *dump = json_dumps(got, JSON_COMPACT);

        if (!json_equal(got, want))
            fail_msg("%s: got %s", shapes[i].md, dump);
        assert_true(adf_valid_doc_content(got));
        free(dump);
        json_decref(got);
        json_decref(want);
    }
}

static void test_jira_markup__doc(void **state)
{
    json_t *doc = jira_markup_adf("");
    json_t *want = loads("{\"type\":\"doc\",\"version\":1,\"content\":[]}");
    json_t *hi = jira_markup_adf("Hi");
    json_t *null_doc = jira_markup_adf(NULL);
    char *md = md_of(json_object_get(hi, "content"));

    (void)state;
    assert_true(json_equal(doc, want));
    assert_true(json_equal(null_doc, want));
    assert_int_equal(json_integer_value(json_object_get(hi, "version")), 1);
    assert_string_equal(md, "Hi");
    free(md);
    json_decref(doc);
    json_decref(want);
    json_decref(hi);
    json_decref(null_doc);
}

/* Characters special to Markdown or wiki markup come back as the same text. */
static const char *const specials[] = {
    "*",
    "**",
    "***",
    "_",
    "__init__",
    "snake_case_name",
    "{",
    "}",
    "{{x}}",
    "[",
    "]",
    "[x](y)",
    "![x](y)",
    "|",
    "||a||b||",
    "-",
    "--",
    "---",
    "----",
    "- x",
    "* x",
    "+ x",
    "# x",
    "#",
    "##tag",
    "1. x",
    "2) y",
    "> x",
    "\\",
    "\\\\",
    "C:\\path\\to",
    "a\\*b",
    "\\n",
    "`",
    "``",
    "```",
    "<",
    "<div>",
    "<http://x>",
    "&",
    "&amp;",
    "&#35;",
    "AT&T",
    "~",
    "~~~",
    "~~x~~",
    "^",
    "x^2^",
    "+",
    "=",
    "===",
    "!",
    "![",
    "Hi!",
    "h1. x",
    "bq. x",
    "{code}",
    "{quote}",
    "{noformat}",
    "{*}",
    "{color:red}",
    "a*b*c",
    "a_b_c",
    "*a*",
    "_a_",
    "-a-",
    "+a+",
    "2*3*4",
    "?? cite ??",
    ":)",
    "(!)",
    "tab\there",
    "\x01 ctrl \x1f",
    "end with space\\ ",
    "$x$ 100% #1 @you",
};

static void test_jira_markup__special_characters(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        json_t *in = json_pack("[{s:s, s:[{s:s, s:s}]}]", "type", "paragraph", "content", "type",
                               "text", "text", specials[i]);
        json_t *canon = jira_markup_adf_normalize(in, NULL);
        char *md = md_of(in);
        json_t *back = jira_markup_adf_blocks(md);
        char *w = jira_markup_wiki(md);
        char *md2 = jira_markup_md_from_wiki(w);

        if (!json_equal(back, canon))
            fail_msg("\"%s\" wrote \"%s\", which reads differently", specials[i], md);
        if (strcmp(md2, md) != 0)
            fail_msg("\"%s\": wiki \"%s\" reads back as \"%s\", not \"%s\"", specials[i], w, md2,
                     md);
        assert_canonical(md);
        free(md);
        free(w);
        free(md2);
        json_decref(back);
        json_decref(canon);
        json_decref(in);
    }
}

/* Text in emphasis next to any kind of character reads back with its marks. */
static void test_jira_markup__emphasis_next_to_anything(void **state)
{
    static const char *const around[] = {"a", "(", ")", " ", "é", "“", "*", "_", "`", "!", "中"};
    static const char *const marks[] = {"strong", "em"};
    size_t i;
    size_t j;
    size_t k;

    (void)state;
    for (i = 0; i < sizeof(around) / sizeof(around[0]); i++) {
        for (j = 0; j < sizeof(around) / sizeof(around[0]); j++) {
            for (k = 0; k < 2; k++) {
                json_t *in = json_pack("[{s:s, s:[{s:s,s:s}, {s:s,s:s,s:[{s:s}]}, {s:s,s:s}]}]",
                                       "type", "paragraph", "content", "type", "text", "text",
                                       around[i], "type", "text", "text", "x.", "marks", "type",
                                       marks[k], "type", "text", "text", around[j]);
                json_t *canon = jira_markup_adf_normalize(in, NULL);
                char *md = md_of(in);
                json_t *back = jira_markup_adf_blocks(md);

                if (!json_equal(back, canon))
                    fail_msg("%s|x.|%s as %s: \"%s\" reads differently", around[i], around[j],
                             marks[k], md);
                assert_canonical(md);
                free(md);
                json_decref(back);
                json_decref(canon);
                json_decref(in);
            }
        }
    }
}

/* A long document of every construct: exact round trip, through wiki markup too, fast. */
#define SECTION                                                                                    \
    "## Section %d\n\nParagraph %d with *em*, **strong**, `code` and "                             \
    "[a link](https://example.com/%d).\nA second line: 日本語 😀.\n\n- item\n  - nested "     \
    "%d\n\n3. three\n4. four\n\n> quoted %d\n\n```c\nint x = %d;\n```\n\n---"

static void test_jira_markup__long_document(void **state)
{
    size_t cap = 400 * 400;
    char *doc = calloc(1, cap);
    size_t len = 0;
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    char *w;
    char *back;
    int i;

    (void)state;
    for (i = 0; i < 300; i++) {
        len += (size_t)snprintf(doc + len, cap - len, "%s", i > 0 ? "\n\n" : "");
        len += (size_t)snprintf(doc + len, cap - len, SECTION, i, i, i, i, i, i);
    }
    assert_true(len > 60000);
    assert_canonical(doc);
    w = jira_markup_wiki(doc);
    back = jira_markup_md_from_wiki(w);
    assert_non_null(strstr(back, "## Section 299\n\nParagraph 299 with *em*"));
    assert_wiki_trip(back, back);
    assert_true((double)clock() / CLOCKS_PER_SEC - t0 < 20.0);
    free(w);
    free(back);
    free(doc);
}

/* A 256 KiB hostile input: no crash, valid ADF, one pass to canonical, in bounded time. */
static void check_hostile(const char *x)
{
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    json_t *a = jira_markup_adf_blocks(x);
    char *md = md_of(a);
    json_t *a2 = jira_markup_adf_blocks(md);
    char *md2 = md_of(a2);
    char *w = jira_markup_md_from_wiki(x);
    char *w2 = jira_markup_md_from_wiki(w);
    char *ww = jira_markup_wiki(x);

    assert_true(adf_valid_doc_content(a));
    assert_true(json_equal(a, a2));
    assert_string_equal(md, md2);
    assert_non_null(w2);
    assert_true((double)clock() / CLOCKS_PER_SEC - t0 < 30.0);
    free(md);
    free(md2);
    free(w);
    free(w2);
    free(ww);
    json_decref(a);
    json_decref(a2);
}

static char *repeat(const char *unit, size_t size)
{
    size_t n = strlen(unit);
    char *s = malloc(size + 1);
    size_t i;

    for (i = 0; i < size; i++)
        s[i] = unit[i % n];
    s[size] = '\0';
    return s;
}

static void test_jira_markup__hostile_inputs(void **state)
{
    static const char *const units[] = {
        "> ",       "- ",        "1. ",
        "*",        "a*b ",      "[",
        "[a](",     "`",         "``x",
        "<",        "\\",        "a\n",
        "a\n\n",    "```\n",     "    x\n",
        "**_a_**",  "{*}",       "[a|",
        "{code}\n", "{quote}\n", "*# ",
        "é中😀 ",    "h1. ",      "&#",
        "![",       "<http://",  "- [x](y) **z**\n  ",
    };
    size_t size = 256 * 1024;
    uint32_t seed = 12345;
    char *s;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        s = repeat(units[i], i < 4 ? size : size / 8);
        check_hostile(s);
        free(s);
    }
    s = malloc(size + 1); /* random bytes, invalid UTF-8 included; no NUL */
    for (i = 0; i < size; i++) {
        seed = seed * 1103515245u + 12345u;
        s[i] = (char)((seed >> 16) % 255 + 1);
    }
    s[size] = '\0';
    check_hostile(s);
    free(s);
}

/* 20 levels of lists: 16 stay nested, the deeper items join their parent item. */
static void test_jira_markup__deep_lists_flatten(void **state)
{
    char doc[2048] = "";
    size_t len = 0;
    json_t *a;
    const json_t *node;
    char *md;
    int depth = 0;
    int i;

    (void)state;
    for (i = 0; i < 20; i++)
        len += (size_t)snprintf(doc + len, sizeof(doc) - len, "%*s- level %d\n", 2 * i, "", i);
    a = jira_markup_adf_blocks(doc);
    assert_true(adf_valid_doc_content(a));
    for (node = json_array_get(a, 0); is(node, "bulletList"); depth++)
        node = json_array_get(
            json_object_get(json_array_get(json_object_get(node, "content"), 0), "content"), 1);
    assert_int_equal(depth, 16);
    md = md_of(a);
    assert_non_null(strstr(md, "level 19"));
    assert_canonical(md);
    free(md);
    json_decref(a);
}

/* ---- ADF from Jira -> Markdown ---- */

static const struct {
    const char *adf;
    const char *md;
} from_jira[] = {
    {"[{'type':'paragraph','content':[{'type':'text','text':'Hi '},{'type':'mention','attrs':"
     "{'id':'5b10','text':'@Ann Lee'}},{'type':'text','text':' '},{'type':'emoji','attrs':"
     "{'shortName':':smile:','text':'😄'}},{'type':'text','text':' due '},{'type':'date',"
     "'attrs':{'timestamp':'1767225600000'}},{'type':'text','text':' '},{'type':'status',"
     "'attrs':{'text':'IN PROGRESS'}},{'type':'text','text':' see '},{'type':'inlineCard',"
     "'attrs':{'url':'https://x.atlassian.net/browse/OPS-1'}}]}]",
     "Hi @Ann Lee 😄 due 2026-01-01 IN PROGRESS see <https://x.atlassian.net/browse/OPS-1>"},
    {"[{'type':'panel','attrs':{'panelType':'info'},'content':[{'type':'paragraph','content':"
     "[{'type':'text','text':'in a panel'}]}]},{'type':'table','content':[{'type':'tableRow',"
     "'content':[{'type':'tableHeader','content':[{'type':'paragraph','content':[{'type':"
     "'text','text':'A'}]}]}]}]},{'type':'taskList','content':[{'type':'taskItem','content':"
     "[{'type':'text','text':'task one'}]},{'type':'taskItem','content':[{'type':'text',"
     "'text':'task two'}]}]},{'type':'mediaSingle','content':[{'type':'media','attrs':{'id':"
     "'x','type':'file'}}]},{'type':'blockCard','attrs':{'url':'https://c.example'}}]",
     "in a panel\n\nA\n\ntask one\n\ntask two\n\n<https://c.example>"},
    {"[{'type':'paragraph','content':[{'type':'text','text':'gone','marks':[{'type':'strike'}]},"
     "{'type':'text','text':' u','marks':[{'type':'underline'},{'type':'textColor','attrs':"
     "{'color':'#ff0000'}}]},{'type':'text','text':'Bold: ','marks':[{'type':'strong'}]},"
     "{'type':'text','text':'after'}]}]",
     "~~gone~~ u**Bold:** after"},
    {"[{'type':'paragraph','content':[{'type':'text','text':'both','marks':[{'type':'code'},"
     "{'type':'strong'}]},{'type':'text','text':'  two\\nlines  '},{'type':'hardBreak'},"
     "{'type':'hardBreak'},{'type':'text','text':'x'},{'type':'hardBreak'}]}]",
     "`both`  two\nlines\n\\\nx"},
    {"[{'type':'heading','attrs':{'level':2},'content':[{'type':'text','text':'a'},"
     "{'type':'hardBreak'},{'type':'text','text':'b'}]},{'type':'blockquote','content':"
     "[{'type':'heading','attrs':{'level':1},'content':[{'type':'text','text':'h'}]},"
     "{'type':'rule'},{'type':'blockquote','content':[{'type':'paragraph','content':[{'type':"
     "'text','text':'inner'}]}]}]},{'type':'blockquote','content':[]}]",
     "## a b\n\n> **h**\n>\n> \\---\n>\n> inner"},
    {"[{'type':'bulletList','content':[{'type':'listItem','content':[{'type':'bulletList',"
     "'content':[{'type':'listItem','content':[{'type':'paragraph','content':[{'type':'text',"
     "'text':'x'}]}]}]}]},{'type':'listItem','content':[]},{'type':'paragraph','content':"
     "[{'type':'text','text':'stray'}]}]},{'type':'bulletList','content':[]}]",
     "-\n  - x\n-\n- stray"},
    {"[{'type':'codeBlock','attrs':{'language':'py extra'},'content':[{'type':'text','text':"
     "'a\\r\\nb'},{'type':'hardBreak'},{'type':'text','text':'c','marks':[{'type':'strong'}]}]}]",
     "```py\na\nb\nc\n```"},
    {"[{'type':'text','text':'bare inline at the top'},{'type':'hardBreak'},{'type':'text',"
     "'text':'more'}]",
     "bare inline at the top\nmore"},
};

static void test_jira_markup__md_from_jira_adf(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(from_jira) / sizeof(from_jira[0]); i++) {
        json_t *in = loads_quoted(from_jira[i].adf);
        char *md = md_of(in);

        assert_string_equal(md, from_jira[i].md);
        assert_canonical(md);
        free(md);
        json_decref(in);
    }
}

/* What text would be lost refuses, with where. */
static const struct {
    const char *adf;
    const char *msg;
} refused[] = {
    {"{'type':'doc','content':[]}", "ADF: blocks is not an array"},
    {"null", "ADF: blocks is not an array"},
    {"[1]", "ADF: not an object at blocks[0]"},
    {"[{'content':[]}]", "ADF: no string \"type\" at blocks[0]"},
    {"[{'type':7}]", "ADF: no string \"type\" at blocks[0]"},
    {"[{'type':'paragraph','content':{'type':'text'}}]",
     "ADF: \"content\" is not an array at blocks[0]"},
    {"[{'type':'paragraph','content':[{'type':'text','text':5}]}]",
     "ADF: \"text\" is not a string at blocks[0].content[0]"},
    {"[{'type':'paragraph','content':[{'type':'text'}]}]",
     "ADF: \"text\" is not a string at blocks[0].content[0]"},
    {"[{'type':'bulletList','content':[{'type':'listItem','content':[{'type':'paragraph',"
     "'content':['str']}]}]}]",
     "ADF: not an object at blocks[0].content[0].content[0].content[0]"},
    {"[{'type':'panel','content':[{'type':'codeBlock','content':[{'type':'text','text':[]}]}]}]",
     "ADF: \"text\" is not a string at blocks[0].content[0].content[0]"},
    {"[{'type':'table','content':'rows'}]", "ADF: \"content\" is not an array at blocks[0]"},
};

static void test_jira_markup__md_from_adf_refuses(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct cl_err err = CL_ERR_INIT;
        json_t *in = loads_quoted(refused[i].adf);

        assert_null(jira_markup_md_from_adf(in, &err));
        assert_int_equal(err.code, CL_EINVAL);
        assert_string_equal(err.msg, refused[i].msg);
        assert_null(jira_markup_adf_normalize(in, NULL));
        json_decref(in);
    }
    assert_null(jira_markup_md_from_adf(NULL, NULL)); /* err may be NULL */
}

/* Malformed formatting is tolerated: only the formatting is lost. */
static const struct {
    const char *adf;
    const char *md;
} tolerated[] = {
    {"[{'type':'heading','attrs':{'level':0},'content':[{'type':'text','text':'zero'}]}]",
     "# zero"},
    {"[{'type':'heading','attrs':{'level':9},'content':[{'type':'text','text':'nine'}]}]",
     "###### nine"},
    {"[{'type':'heading','attrs':{'level':'2'},'content':[{'type':'text','text':'str'}]}]",
     "# str"},
    {"[{'type':'heading','content':[{'type':'text','text':'none'}]}]", "# none"},
    {"[{'type':'heading','attrs':[],'content':[{'type':'text','text':'arr'}]}]", "# arr"},
    {"[{'type':'orderedList','attrs':{'order':-3},'content':[{'type':'listItem','content':"
     "[{'type':'paragraph','content':[{'type':'text','text':'neg'}]}]}]}]",
     "1. neg"},
    {"[{'type':'orderedList','attrs':{'order':99999999999},'content':[{'type':'listItem',"
     "'content':[{'type':'paragraph','content':[{'type':'text','text':'a'}]}]},{'type':"
     "'listItem','content':[{'type':'paragraph','content':[{'type':'text','text':'b'}]}]}]}]",
     "999999999. a\n999999999. b"},
    {"[{'type':'orderedList','attrs':{'order':2.5},'content':[{'type':'listItem','content':"
     "[{'type':'paragraph','content':[{'type':'text','text':'real'}]}]}]}]",
     "1. real"},
    {"[{'type':'codeBlock','attrs':{'language':5},'content':[{'type':'text','text':'x'}]}]",
     "```\nx\n```"},
    {"[{'type':'paragraph','marks':7,'content':[{'type':'text','text':''},{'type':'text',"
     "'text':'a','marks':[{'type':'link'},3,'x',{'type':'em','attrs':9}]},{'type':'text',"
     "'text':'b','marks':{'type':'strong'}},{'type':'text','text':'c','marks':[{'type':'link',"
     "'attrs':{'href':7}}]},{'type':'text','text':'d','marks':[{'type':'link','attrs':"
     "{'href':''}}]}]}]",
     "*a*bcd"},
    {"[{'type':'paragraph','content':null},{'type':'mention'},{'type':'date','attrs':"
     "{'timestamp':'soon'}},{'type':'emoji','attrs':{'shortName':':x:'}}]",
     "@:x:"},
    {"[{'type':'paragraph','content':[{'type':'unknownInline','content':[{'type':'text',"
     "'text':'kept'}]}]}]",
     "kept"},
    {"[{'type':'paragraph','content':[{'type':'hardBreak'},{'type':'text','text':'\\t '}]}]", ""},
};

static void test_jira_markup__md_from_adf_tolerates(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(tolerated) / sizeof(tolerated[0]); i++) {
        json_t *in = loads_quoted(tolerated[i].adf);
        char *md = md_of(in);
        json_t *canon = jira_markup_adf_normalize(in, NULL);

        assert_string_equal(md, tolerated[i].md);
        assert_true(adf_valid_doc_content(canon));
        assert_canonical(md);
        free(md);
        json_decref(canon);
        json_decref(in);
    }
}

/* JSON nested past 256 levels is refused, not recursed into without end. */
static void test_jira_markup__md_from_adf_deep_json(void **state)
{
    json_t *root = json_array();
    json_t *node = root;
    struct cl_err err = CL_ERR_INIT;
    int i;

    (void)state;
    for (i = 0; i < 300; i++) {
        json_t *panel = json_pack("{s:s, s:[]}", "type", "panel", "content");

        json_array_append_new(node, panel);
        node = json_object_get(panel, "content");
    }
    assert_null(jira_markup_md_from_adf(root, &err));
    assert_non_null(strstr(err.msg, "nested deeper than 256 levels"));
    json_decref(root);
}

/* The canonical form compares descriptions by content: reformatting is not a change. */
static void test_jira_markup__normalize_compares_content(void **state)
{
    json_t *jira = loads_quoted(
        "[{'type':'paragraph','content':[{'type':'text','text':'  Fix '},{'type':'text',"
        "'text':'the pool ','marks':[{'type':'strong'}]},{'type':'text','text':'now'},"
        "{'type':'hardBreak'}]}]");
    json_t *canon = jira_markup_adf_normalize(jira, NULL);
    json_t *ours = jira_markup_adf_blocks("Fix **the pool** now");
    json_t *twice = jira_markup_adf_normalize(canon, NULL);

    (void)state;
    assert_true(json_equal(canon, ours));
    assert_true(json_equal(twice, canon));
    json_decref(jira);
    json_decref(canon);
    json_decref(ours);
    json_decref(twice);
}

/* ---- wiki markup ---- */

static const struct {
    const char *md;
    const char *wiki;
} to_wiki[] = {
    {"", ""},
    {"# T\n\n###### Six", "h1. T\n\nh6. Six"},
    {"*a* **b** `c` [d](http://e) ***f***", "_a_ *b* {{c}} [d|http://e] *_f_*"},
    {"a\nb", "a\nb"},
    {"a\n\\\nb", "a\\\\\\\\b"},
    {"x*y*z and **a**b", "x{_}y{_}z and {*}a{*}b"},
    {"- a\n  - b\n    1. c\n\n1. d", "* a\n** b\n**# c\n\n# d"},
    {"- a\n\n  b\n- c", "* a\\\\b\n* c"},
    {"-\n  - x", "* \n** x"},
    {"> q\n>\n> - i", "{quote}\nq\n\n* i\n{quote}"},
    {"```java\nint x;\n```", "{code:java}\nint x;\n{code}"},
    {"```\n```", "{code}\n{code}"},
    {"```\n{code}\n```", "{noformat}\n{code}\n{noformat}"},
    {"---", "----"},
    {"Special: { } \\[ \\] | and \\* alone", "Special: \\{ \\} \\[ \\] \\| and * alone"},
    {"\\*lead and trail\\* x-y -z- a--b", "\\*lead and trail\\* x-y \\-z\\- a\\-\\-b"},
    {"h1. text and bq. text", "&#104;1. text and bq. text"},
    {"a\\\\", "a&#92;"},
    {"C:\\path", "C:\\path"},
    {"[t](<a b>)", "[t|a%20b]"},
    {"<http://x.y>", "[http://x.y|http://x.y]"},
};

static void test_jira_markup__wiki_render(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(to_wiki) / sizeof(to_wiki[0]); i++) {
        char *w = jira_markup_wiki(to_wiki[i].md);

        assert_string_equal(w, to_wiki[i].wiki);
        free(w);
    }
}

/* Canonical Markdown that wiki markup can say comes back exactly. */
static const char *const wiki_exact[] = {
    "",
    "# One\n\n## Two\n\n###### Six",
    "Some *em*, **strong**, ***both***, `code` and **bold with *em* inside**.",
    "A [link](https://example.com/a?b=1&c=2) and <https://auto.example/x>.",
    "[**bold** link](http://x.y) and [`code` link](http://x.y/c)",
    "line one\nline two\n\\\nafter an empty line",
    "- a\n- b\n  - c\n    - d\n- e",
    "1. one\n2. two\n   1. nested\n\n   - mixed\n3. three",
    "-\n  - only nested",
    "- a\n-\n- c",
    "- item\n\n* other list",
    "> quoted\n> text\n>\n> - with a list\n>\n> ```sh\n> echo hi\n> ```",
    "```python\nprint(\"hi\")\n\n# comment\n```",
    "```\nno language\n```",
    "---",
    "Para\n\n---\n\nPara",
    "x*y*z and **a**b and a\\*(b)\\*c",
    "Escapes: \\* \\_ \\` \\[ \\] \\\\\\* \\<b> &, {braces}, |pipes|, a_b_c, 2\\*3 & \\&amp;",
    "h1. not a heading\nbq. not a quote\n\\* not a list\n\\# nor this\n\\- nor this\n\\----",
    "Tab\tinside, a lone backslash\\ and \\\\\\ two (the first escaped)",
    "Ünïcödé — naïve café\n日本語のテキスト、句読点。\n😀🎉👍🏽 "
    "👨‍👩‍👧",
    "**粗体**和*斜体*, “quoted” **«bold»** *¿Qué?*",
    "a -- b --- c and -x- and ~~s~~ and x^2^ and ?? and {\\*} and !img!",
};

static void test_jira_markup__wiki_round_trip(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(wiki_exact) / sizeof(wiki_exact[0]); i++) {
        assert_canonical(wiki_exact[i]);
        assert_wiki_trip(wiki_exact[i], wiki_exact[i]);
    }
}

/* What wiki markup cannot say: lost once, then stable. */
static const struct {
    const char *md;
    const char *back;
} wiki_lossy[] = {
    {"3. three\n4. four", "1. three\n2. four"},
    {"- a\n\n  b", "- a\n  b"},
    {"- a\n\n  ```\n  code\n    indented\n  ```", "- a\n  `code`\n  `  indented`"},
    {"- a\n  - b\n\n  * c", "- a\n  - b\n  - c"},
    {"- a\n  - b\n\n  after", "- a\n  after\n  - b"},
    {"[t](<a b>)", "[t](a%20b)"},
    {"```c++ x\n{code}\n```", "```\n{code}\n```"},
    {"```\n{code}{noformat}\n```", "```\n{code}{noformat }\n```"},
    {"```we|ird\nx\n```", "```\nx\n```"},
};

static void test_jira_markup__wiki_lossy(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(wiki_lossy) / sizeof(wiki_lossy[0]); i++)
        assert_wiki_trip(wiki_lossy[i].md, wiki_lossy[i].back);
}

/* Wiki markup as Jira Data Center users write it. */
static const struct {
    const char *wiki;
    const char *md;
} from_wiki[] = {
    {"h2. Steps\n# open the *pool* page\n# set _max_ to {{20}}\n#* check [the "
     "docs|https://x.y/docs]\n* -old- value",
     "## Steps\n\n1. open the **pool** page\n2. set *max* to `20`\n   - check [the "
     "docs](https://x.y/docs)\n\n- ~~old~~ value"},
    {"bq. a quote", "> a quote"},
    {"{quote}\nline one\nline two\n\n* item\n{quote}", "> line one\n> line two\n>\n> - item"},
    {"{quote}one line{quote}", "> one line"},
    {"{code:java}\nint x = 1;\n{code}", "```java\nint x = 1;\n```"},
    {"{code:title=Foo.java|borderStyle=solid}\nx\n{code}", "```\nx\n```"},
    {"{code}x{code} and after", "```\nx\n```\n\nand after"},
    {"{noformat}\nraw *text*\n{noformat}", "```\nraw *text*\n```"},
    {"{code}\nnever closed", "```\nnever closed\n```"},
    {"foo{*}bar{*}baz and [http://x.y] and [~user] and [#anchor]",
     "foo**bar**baz and <http://x.y> and \\[~user\\] and \\[#anchor\\]"},
    {"||a||b||\n|1|2|", "||a||b||\n|1|2|"},
    {"line\\\\break and \\\\\\\\ two", "line\nbreak and\n\\\ntwo"},
    {"a -- b --- c", "a -- b --- c"},
    {"{color:red}red{color} text", "red text"},
    {"h1.", "#"},
    {"h3.    spaced", "### spaced"},
    {"* ", "-"},
    {"** deep only", "-\n  - deep only"},
    {"- dash bullet\n- two", "- dash bullet\n- two"},
    {"para\n* list right after", "para\n\n- list right after"},
    {"*bold* at the start, _em_, -gone-, {{mono}}",
     "**bold** at the start, *em*, ~~gone~~, `mono`"},
    {"2*3*4 and snake_case_name and a-b-c", "2\\*3\\*4 and snake_case_name and a-b-c"},
    {"*unclosed and _also", "\\*unclosed and \\_also"},
    {"\\*escaped\\* \\{ \\[ \\\\", "\\*escaped\\* { \\["},
    {"&#104;1. and &#92;x &#0; &#999999999;", "h1. and \\x \\&#0; \\&#999999999;"},
    {"line one\r\nline two\rline three", "line one\nline two\nline three"},
    {"bad \xff utf8", "bad \xef\xbf\xbd utf8"},
    {"bq. \\\\\t", ""}, /* found by the fuzzer: a break, then only a tab */
};

static void test_jira_markup__md_from_wiki(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(from_wiki) / sizeof(from_wiki[0]); i++) {
        char *md = jira_markup_md_from_wiki(from_wiki[i].wiki);

        assert_string_equal(md, from_wiki[i].md);
        assert_canonical(md);
        free(md);
    }
}

static void test_jira_markup__empty_and_null(void **state)
{
    json_t *empty = json_array();
    char *s;

    (void)state;
    s = md_of(empty);
    assert_string_equal(s, "");
    free(s);
    s = jira_markup_wiki("");
    assert_string_equal(s, "");
    free(s);
    s = jira_markup_wiki(NULL);
    assert_string_equal(s, "");
    free(s);
    s = jira_markup_md_from_wiki("");
    assert_string_equal(s, "");
    free(s);
    s = jira_markup_md_from_wiki(NULL);
    assert_string_equal(s, "");
    free(s);
    s = jira_markup_md_from_wiki("\n\n  \n");
    assert_string_equal(s, "");
    free(s);
    json_decref(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jira_markup__canonical_round_trip),
        cmocka_unit_test(test_jira_markup__normalises_in_one_pass),
        cmocka_unit_test(test_jira_markup__adf_shapes),
        cmocka_unit_test(test_jira_markup__doc),
        cmocka_unit_test(test_jira_markup__special_characters),
        cmocka_unit_test(test_jira_markup__emphasis_next_to_anything),
        cmocka_unit_test(test_jira_markup__long_document),
        cmocka_unit_test(test_jira_markup__hostile_inputs),
        cmocka_unit_test(test_jira_markup__deep_lists_flatten),
        cmocka_unit_test(test_jira_markup__md_from_jira_adf),
        cmocka_unit_test(test_jira_markup__md_from_adf_refuses),
        cmocka_unit_test(test_jira_markup__md_from_adf_tolerates),
        cmocka_unit_test(test_jira_markup__md_from_adf_deep_json),
        cmocka_unit_test(test_jira_markup__normalize_compares_content),
        cmocka_unit_test(test_jira_markup__wiki_render),
        cmocka_unit_test(test_jira_markup__wiki_round_trip),
        cmocka_unit_test(test_jira_markup__wiki_lossy),
        cmocka_unit_test(test_jira_markup__md_from_wiki),
        cmocka_unit_test(test_jira_markup__empty_and_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
