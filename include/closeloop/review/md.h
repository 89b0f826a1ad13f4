/* md: writing Markdown from data people typed, and turning it into HTML. Every piece of
 * user text goes through md_text(), which escapes what Markdown would read as syntax, so
 * that a title or a note can neither format the document nor carry raw HTML; links are
 * made only of http(s) URLs. The HTML comes from cmark in its safe mode (no raw HTML, no
 * javascript: links). Pure functions, any thread. */
#ifndef CLOSELOOP_MD_H
#define CLOSELOOP_MD_H

#include "closeloop/util/buf.h"
#include "closeloop/util/cl.h"

#include <jansson.h>

/* Appends s (may be NULL: nothing) as literal Markdown text on one line: every ASCII
 * punctuation character backslash-escaped, line breaks and other control characters as
 * spaces. */
void md_text(struct buf *out, const char *s);

/* The same, keeping line breaks (notes): each line escaped, blank lines kept, so that
 * paragraphs stay paragraphs. */
void md_lines(struct buf *out, const char *s);

/* "[text](<url>)" when url is an http(s) URL without spaces, else the text alone (or
 * the url as text when text is NULL). Both escaped. */
void md_link(struct buf *out, const char *text, const char *url);

/* The string member `key` of obj, or NULL when absent or not a string: borrowed. */
const char *md_str(const json_t *obj, const char *key);

/* The HTML of md[0..len) (cmark, safe mode) appended to out. CL_EINVAL when cmark fails. */
int md_html(struct buf *out, const char *md, size_t len, struct cl_err *err);

/* A mail's parts from one Markdown document: the text part is the Markdown itself (taken
 * from md, which is left empty), the HTML part cmark's HTML of it inside a whole document.
 * out's text and html are set only on success. */
struct mail_parts;
int md_mail_parts(struct mail_parts *out, struct buf *md, struct cl_err *err);

#endif
