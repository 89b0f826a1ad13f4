/* agenda: the agenda of an incident's review as a document, from the JSON of SQL's
 * cl_review_agenda(key) (sql/functions/outcomes.sql): the incident, the meeting, and per
 * action its owner, status, due date and slip, its tracker issue and sync state, and what
 * the meeting must decide for it. Markdown is built here with every user text escaped
 * (md.h); the HTML is that Markdown through cmark. The API's GET .../review/agenda and
 * the invitation mail use the same functions. Pure, any thread. */
#ifndef CLOSELOOP_AGENDA_H
#define CLOSELOOP_AGENDA_H

#include "closeloop/util/buf.h"
#include "closeloop/util/cl.h"

#include <jansson.h>

/* Appends the agenda's Markdown to out. agenda is borrowed. CL_EINVAL when it is not an
 * agenda (no "incident" object or no "actions" array). */
int agenda_markdown(const json_t *agenda, struct buf *out, struct cl_err *err);

/* Appends the agenda's HTML (a fragment: no <html> around it) to out. */
int agenda_html(const json_t *agenda, struct buf *out, struct cl_err *err);

#endif
