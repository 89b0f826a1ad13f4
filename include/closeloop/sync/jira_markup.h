/* jira_markup: Markdown (closeloop's descriptions) <-> Jira's rich text: Atlassian
 * Document Format (ADF, Jira Cloud REST v3) and wiki markup (Jira Data Center, REST v2).
 * Pure functions, no I/O, any thread; every string in and out is UTF-8 (invalid input
 * bytes become U+FFFD). NULL Markdown or wiki text reads as "".
 *
 * Markdown is read with cmark (CommonMark, no extensions) and written by this module in
 * one canonical form: what jira_markup_md_from_adf() returns reads back to the same ADF
 * and is written again unchanged. ADF from either side first goes through one
 * normalisation (jira_markup_adf_normalize()) so that both directions apply the same rules:
 * - A soft line break and a hard one both become a hardBreak, and a hardBreak is written
 *   back as a plain newline: a description keeps its lines exactly as typed, and Jira,
 *   like GitHub, shows each of them as a line.
 * - Spaces and tabs at the start and end of lines, and at the inside edges of strong,
 *   em and strike, are moved out or dropped; adjacent text with the same marks merges.
 * - Nesting follows the ADF schema: a blockquote holds paragraphs, lists and code; a list
 *   item holds the same, starting with a paragraph or code block (an empty paragraph is
 *   put first when it would start with a list). A heading elsewhere becomes a strong
 *   paragraph, a quote in a quote or list item is lifted into it, a rule there becomes
 *   the text "---", lists nest 16 deep at most (deeper items join their parent).
 * - Lossy on purpose: images become their alt text linked to the image (ADF media needs
 *   uploads), HTML is kept as literal text, "~~x~~" stays literal (cmark has no
 *   strikethrough) and an ADF strike is written as "~~x~~"; code excludes strong, em and
 *   strike (an ADF rule); link titles, the words after a code fence's language,
 *   underline, colours, sub/superscript and media are dropped; mentions, emoji, dates,
 *   status lozenges and cards become their text; tables, panels and other block nodes
 *   keep their blocks. Wiki markup cannot say where an ordered list starts, holds one
 *   line per list item (more paragraphs or code in an item join that line) and merges
 *   adjacent nested lists of one kind.
 * Wiki markup written: a break is a newline inside a paragraph (Jira shows it as one) and
 * "\\" in a list item or where a newline would leave an empty line; "{*}x{*}" where a bare
 * "*x*" would not be read (inside a word); markup characters get a backslash, and where
 * that cannot work (a backslash before punctuation, "h1." or "bq." starting a line) a
 * character reference such as "&#92;" is written. Read: also "bq.", {noformat},
 * "- " bullets, [url] links; {color} is dropped; "--" and "---" stay text. */
#ifndef CLOSELOOP_JIRA_MARKUP_H
#define CLOSELOOP_JIRA_MARKUP_H

#include "closeloop/util/cl.h"

#include <jansson.h>

/* The ADF document for Markdown md (UTF-8): {"type":"doc","version":1,"content":[...]};
 * new reference. "" gives an empty content array. */
json_t *jira_markup_adf(const char *md);

/* The ADF block nodes for md, as an array (new reference): what jira_markup_adf puts in
 * "content", so a caller can append blocks of its own. */
json_t *jira_markup_adf_blocks(const char *md);

/* Markdown for ADF block nodes (the "content" of a doc, or any array of blocks); heap
 * string the caller frees; NULL with err (CL_EINVAL and what/where) when `blocks` is not an
 * array or a node is not an object with a string "type". Unknown node types: their text
 * content is kept (recurse), never a failure. Also refused, because text would be lost: a
 * text node whose "text" is not a string, a "content" that is neither an array nor null,
 * nesting deeper than 256 levels. Tolerated (only formatting is lost): attrs that are not
 * an object, heading levels outside 1-6 (clamped; not an integer: 1), an "order" that is
 * not an integer >= 0 (1; above 999999999: that), a language, href or mark of the wrong
 * type (dropped), unknown marks, empty text. err may be NULL. */
char *jira_markup_md_from_adf(const json_t *blocks, struct cl_err *err);

/* `blocks` in the canonical form jira_markup_adf_blocks() produces (new reference), to
 * compare two descriptions by content rather than by formatting; NULL with err as
 * jira_markup_md_from_adf() fails. */
json_t *jira_markup_adf_normalize(const json_t *blocks, struct cl_err *err);

/* Jira wiki markup for Markdown md; heap string (never NULL). */
char *jira_markup_wiki(const char *md);

/* Markdown for Jira wiki markup; heap string (never NULL), in the canonical form. */
char *jira_markup_md_from_wiki(const char *wiki);

#endif
