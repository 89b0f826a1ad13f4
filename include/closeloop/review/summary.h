/* summary: what a held review decided, as a document, from the JSON of SQL's
 * cl_review_summary_json() (sql/functions/outcomes.sql): the incident, who attended, each
 * action's outcome (evidence, new date, reason), the follow-ups and the notes. Markdown is
 * built here with every user text escaped (md.h); the HTML is that Markdown through cmark.
 * Stored in reviews.summary_md/summary_html and mailed (mail kind "summary"). Pure, any
 * thread. */
#ifndef CLOSELOOP_SUMMARY_H
#define CLOSELOOP_SUMMARY_H

#include "closeloop/util/buf.h"
#include "closeloop/util/cl.h"

#include <jansson.h>

/* Appends the summary's Markdown to out. summary is borrowed. CL_EINVAL when it is not a
 * summary (no "incident" or "review" object, or no "items" array). */
int summary_markdown(const json_t *summary, struct buf *out, struct cl_err *err);

/* Appends the summary's HTML (a fragment) to out. */
int summary_html(const json_t *summary, struct buf *out, struct cl_err *err);

/* The mail kind "summary" (src/mail/kinds.c lists it): its payload is the summary JSON;
 * the text part is the Markdown, the HTML part the HTML in a whole document. */
struct mail_kind;
extern const struct mail_kind summary_mail_kind;

#endif
