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

/* The mail kind "summary": its payload is the summary JSON; text gets the Markdown, html
 * the HTML. For the mail module's kind table (struct mail_kind), which the lead wires. */
int summary_mail_render(const json_t *payload, struct buf *text, struct buf *html,
                        struct cl_err *err);

#endif
