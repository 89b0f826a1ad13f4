/* digest: a managers' digest (the JSON of cl_digest_content(), sql/functions/digests.sql)
 * rendered for people. One Markdown source, every piece of user text escaped (review/md);
 * the HTML is cmark's rendering of it with inline styles for mail clients (Gmail, Outlook,
 * Apple Mail: no <style> element, a layout table at most 600 px wide) and the trend chart
 * (report/chart) as an image. Blameless: it lists work and its dates, never ranks people.
 * The mail kind "digest" renders its payload (the digest JSON) with the chart inline by
 * Content-ID. Pure functions, any thread. */
#ifndef CLOSELOOP_DIGEST_H
#define CLOSELOOP_DIGEST_H

#include "closeloop/mail/kinds.h"
#include "closeloop/util/buf.h"
#include "closeloop/util/cl.h"

#include <jansson.h>

#define DIGEST_CHART_CID "trend@closeloop" /* the chart's Content-ID in the mail */

/* The digest's Markdown appended to out. CL_EINVAL naming what is missing when d is not a
 * digest (no period, or a section that is not an array). */
int digest_markdown(const json_t *d, struct buf *out, struct cl_err *err);

/* A whole HTML document appended to out: the Markdown through cmark, styled inline, in a
 * 600 px layout table; the chart as <img src="chart_src"> after the Trend heading when
 * chart_src is not NULL ("cid:trend@closeloop" in mail, a data: URL in a preview). */
int digest_html(const json_t *d, const char *chart_src, struct buf *out, struct cl_err *err);

/* The chart as a data:image/png;base64 URL (heap; the caller frees), or NULL with err. */
char *digest_chart_data_url(const json_t *d, struct cl_err *err);

/* "digest": payload = the digest JSON. */
extern const struct mail_kind digest_mail_kind;

#endif
