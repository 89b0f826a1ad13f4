#include "closeloop/report/digest.h"

#include "closeloop/report/chart.h"
#include "closeloop/review/md.h"
#include "closeloop/util/crypto.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The sections that list actions, in order, with their headings and what an empty one
 * says. */
struct digest_section {
    const char *key;
    const char *heading;
    const char *none;
};

static const struct digest_section digest_sections[] = {
    {"slipped", "Slipped since the last digest", "Nothing slipped."},
    {"done", "Done in the period", "Nothing was done in the period."},
    {"verified", "Verified in the period", "Nothing was verified in the period."},
    {"unowned", "Unowned", "Every open action has an owner."},
    {"undated", "Without a due date", "Every open action has a due date."},
    {"drift", "Drift with the trackers", "The trackers agree."},
};

static const char *digest_status(const char *s)
{
    if (s == NULL)
        return "";
    if (strcmp(s, "in_progress") == 0)
        return "in progress";
    if (strcmp(s, "wont_do") == 0)
        return "won't do";
    return s;
}

/* A value closeloop made or validated (a period key, a date, a time zone, a handle, an
 * incident key) as it is, for plain-text readers, when it holds only characters that
 * mean nothing in the middle of a Markdown line; anything else escaped (md_text). */
static void digest_plain(struct buf *out, const char *s)
{
    size_t i;

    for (i = 0; s != NULL && s[i] != '\0'; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr(" :/+.-", c) != NULL)) {
            md_text(out, s);
            return;
        }
    }
    if (s != NULL)
        buf_puts(out, s);
}

/* "- INC-1 #12: [title](url): owner, due 2026-12-01, in progress" and a reason. */
static void digest_action(struct buf *out, const json_t *a, const char *indent)
{
    const char *why = md_str(a, "why");

    buf_printf(out, "%s- ", indent);
    digest_plain(out, md_str(a, "incident"));
    buf_printf(out, " #%" JSON_INTEGER_FORMAT ": ", json_integer_value(json_object_get(a, "id")));
    md_link(out, md_str(a, "title") != NULL ? md_str(a, "title") : "", md_str(a, "url"));
    buf_puts(out, ": ");
    digest_plain(out, md_str(a, "owner") != NULL ? md_str(a, "owner") : "no owner");
    buf_puts(out, ", ");
    if (md_str(a, "due_on") != NULL) {
        buf_puts(out, "due ");
        digest_plain(out, md_str(a, "due_on"));
    } else {
        buf_puts(out, "no due date");
    }
    buf_puts(out, ", ");
    buf_puts(out, digest_status(md_str(a, "status")));
    if (why != NULL && strcmp(why, "new_overdue") == 0)
        buf_puts(out, " (now overdue)");
    else if (why != NULL && strcmp(why, "due_moved") == 0) {
        buf_puts(out, " (due date moved from ");
        digest_plain(out, md_str(a, "from"));
        buf_puts(out, " to ");
        digest_plain(out, md_str(a, "to") != NULL ? md_str(a, "to") : "none");
        buf_puts(out, ")");
    }
    buf_puts(out, "\n");
}

static int digest_list(struct buf *out, const json_t *d, const struct digest_section *s,
                       struct cl_err *err)
{
    const json_t *items = json_object_get(d, s->key);
    size_t i;

    if (!json_is_array(items))
        return cl_fail(err, CL_EINVAL, "digest: \"%s\" is not an array", s->key);
    buf_printf(out, "\n## %s\n\n", s->heading);
    if (json_array_size(items) == 0)
        buf_printf(out, "%s\n", s->none);
    for (i = 0; i < json_array_size(items); i++)
        if (json_is_object(json_array_get(items, i)))
            digest_action(out, json_array_get(items, i), "");
    return CL_OK;
}

static const char *digest_scope_name(const json_t *scope, struct buf *tmp)
{
    const char *kind = md_str(scope, "kind");

    if (kind != NULL && strcmp(kind, "team") == 0) {
        buf_puts(tmp, "team ");
        digest_plain(tmp, md_str(scope, "team"));
    } else if (kind != NULL && strcmp(kind, "facilitator") == 0) {
        buf_puts(tmp, "the incidents you facilitate");
    } else {
        buf_puts(tmp, "all teams");
    }
    return tmp->data;
}

static int digest_owes(struct buf *out, const json_t *d, struct cl_err *err)
{
    const json_t *owes = json_object_get(d, "owes");
    size_t i;
    size_t j;

    if (!json_is_array(owes))
        return cl_fail(err, CL_EINVAL, "digest: \"owes\" is not an array");
    buf_puts(out, "\n## Open work by owner\n\n");
    if (json_array_size(owes) == 0)
        buf_puts(out, "No open work with an owner.\n");
    for (i = 0; i < json_array_size(owes); i++) {
        const json_t *o = json_array_get(owes, i);
        const json_t *items = json_object_get(o, "items");

        if (!json_is_object(o))
            continue;
        buf_puts(out, "- **");
        digest_plain(out, md_str(o, "owner"));
        buf_printf(out, "**: %" JSON_INTEGER_FORMAT " open, %" JSON_INTEGER_FORMAT " overdue\n",
                   json_integer_value(json_object_get(o, "open")),
                   json_integer_value(json_object_get(o, "overdue")));
        for (j = 0; json_is_array(items) && j < json_array_size(items); j++)
            if (json_is_object(json_array_get(items, j)))
                digest_action(out, json_array_get(items, j), "  ");
    }
    return CL_OK;
}

static void digest_reviews(struct buf *out, const char *what, const json_t *list)
{
    size_t i;

    buf_printf(out, "\n%s:\n\n", what);
    if (!json_is_array(list) || json_array_size(list) == 0) {
        buf_puts(out, "- none\n");
        return;
    }
    for (i = 0; i < json_array_size(list); i++) {
        const json_t *r = json_array_get(list, i);

        buf_puts(out, "- ");
        digest_plain(out, md_str(r, "incident") != NULL ? md_str(r, "incident") : "backlog review");
        buf_puts(out, ", ");
        digest_plain(out, md_str(r, "local"));
        buf_puts(out, " ");
        digest_plain(out, md_str(r, "timezone"));
        buf_puts(out, "\n");
    }
}

static void digest_trend(struct buf *out, const json_t *trend)
{
    size_t i;

    buf_puts(out, "\n## Trend\n\n");
    for (i = 0; json_is_array(trend) && i < json_array_size(trend); i++) {
        const json_t *p = json_array_get(trend, i);

        buf_puts(out, "- ");
        digest_plain(out, md_str(p, "period"));
        buf_printf(out,
                   ": %" JSON_INTEGER_FORMAT " opened, %" JSON_INTEGER_FORMAT
                   " closed, %" JSON_INTEGER_FORMAT " overdue\n",
                   json_integer_value(json_object_get(p, "opened")),
                   json_integer_value(json_object_get(p, "closed")),
                   json_integer_value(json_object_get(p, "overdue")));
    }
}

int digest_markdown(const json_t *d, struct buf *out, struct cl_err *err)
{
    const json_t *period = json_object_get(d, "period");
    const json_t *counts = json_object_get(d, "counts");
    const json_t *reviews = json_object_get(d, "reviews");
    struct buf scope;
    size_t i;
    int rc = CL_OK;

    if (!json_is_object(d) || !json_is_object(period) || md_str(period, "key") == NULL ||
        !json_is_object(counts))
        return cl_fail(err, CL_EINVAL, "digest: no period or counts object");
    buf_init(&scope);
    buf_puts(out, "# Digest ");
    digest_plain(out, md_str(period, "key"));
    buf_printf(out, ": %s\n\n", digest_scope_name(json_object_get(d, "scope"), &scope));
    buf_dispose(&scope);
    buf_puts(out, "From ");
    digest_plain(out, md_str(period, "from"));
    buf_puts(out, " to ");
    digest_plain(out, md_str(period, "to"));
    buf_puts(out, " (");
    digest_plain(out, md_str(period, "timezone"));
    buf_printf(out,
               "). %" JSON_INTEGER_FORMAT " open, %" JSON_INTEGER_FORMAT
               " overdue, %" JSON_INTEGER_FORMAT " done in the period.\n",
               json_integer_value(json_object_get(counts, "open")),
               json_integer_value(json_object_get(counts, "overdue")),
               json_integer_value(json_object_get(counts, "done")));
    rc = digest_owes(out, d, err);
    for (i = 0; rc == CL_OK && i < CL_ARRAY_LEN(digest_sections); i++)
        rc = digest_list(out, d, &digest_sections[i], err);
    if (rc != CL_OK)
        return rc;
    buf_puts(out, "\n## Reviews\n");
    digest_reviews(out, "Held in the period", json_object_get(reviews, "held"));
    digest_reviews(out, "Coming up", json_object_get(reviews, "upcoming"));
    digest_trend(out, json_object_get(d, "trend"));
    return CL_OK;
}

/* Opening tags cmark writes (always bare) and their inline styles. */
static const char *const digest_styles[][2] = {
    {"<h1>", "<h1 style=\"font-size:22px;line-height:28px;margin:0 0 12px 0;color:#1a1a1a\">"},
    {"<h2>", "<h2 style=\"font-size:17px;line-height:22px;margin:22px 0 8px 0;color:#1a1a1a;"
             "border-bottom:1px solid #dddddd;padding-bottom:4px\">"},
    {"<p>", "<p style=\"margin:0 0 10px 0\">"},
    {"<ul>", "<ul style=\"margin:0 0 10px 0;padding-left:20px\">"},
    {"<li>", "<li style=\"margin:0 0 4px 0;word-wrap:break-word;overflow-wrap:anywhere\">"},
    {"<a href=", "<a style=\"color:#1a5fb4;text-decoration:underline\" href="},
    {"<strong>", "<strong style=\"font-weight:bold\">"},
};

static void digest_style(struct buf *out, const char *html)
{
    const char *p = html;
    size_t i;

    while (*p != '\0') {
        bool hit = false;

        for (i = 0; *p == '<' && i < CL_ARRAY_LEN(digest_styles); i++) {
            size_t n = strlen(digest_styles[i][0]);

            if (strncmp(p, digest_styles[i][0], n) == 0) {
                buf_puts(out, digest_styles[i][1]);
                p += n;
                hit = true;
                break;
            }
        }
        if (!hit)
            buf_append(out, p++, 1);
    }
}

int digest_html(const json_t *d, const char *chart_src, struct buf *out, struct cl_err *err)
{
    struct buf md;
    struct buf html;
    const char *trend;
    int rc;

    buf_init(&md);
    buf_init(&html);
    rc = digest_markdown(d, &md, err);
    if (rc == CL_OK)
        rc = md_html(&html, md.data, md.len, err);
    if (rc == CL_OK) {
        buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width\"></head>\n"
                      "<body style=\"margin:0;padding:0;background:#f4f4f4\">\n"
                      "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" "
                      "cellspacing=\"0\" border=\"0\" style=\"background:#f4f4f4\"><tr><td "
                      "align=\"center\" style=\"padding:12px 0\">\n"
                      "<table role=\"presentation\" width=\"600\" cellpadding=\"0\" "
                      "cellspacing=\"0\" border=\"0\" style=\"width:100%;max-width:600px;"
                      "background:#ffffff;border-collapse:collapse\"><tr><td style=\"padding:"
                      "16px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:"
                      "20px;color:#333333;text-align:left\">\n");
        trend = strstr(html.data, "<h2>Trend</h2>");
        if (chart_src != NULL && trend != NULL) {
            size_t at = (size_t)(trend - html.data) + strlen("<h2>Trend</h2>");
            char saved = html.data[at];

            html.data[at] = '\0';
            digest_style(out, html.data);
            html.data[at] = saved;
            buf_printf(out,
                       "\n<img src=\"%s\" alt=\"Trend: actions opened, closed and overdue per "
                       "period\" width=\"%d\" style=\"display:block;width:100%%;max-width:%dpx;"
                       "height:auto;border:0\">\n",
                       chart_src, CHART_WIDTH, CHART_WIDTH);
            digest_style(out, html.data + at);
        } else {
            digest_style(out, html.data);
        }
        buf_puts(out, "</td></tr></table>\n</td></tr></table>\n</body></html>\n");
    }
    buf_dispose(&md);
    buf_dispose(&html);
    return rc;
}

char *digest_chart_data_url(const json_t *d, struct cl_err *err)
{
    unsigned char *png = NULL;
    size_t len = 0;
    char *b64;
    struct buf b;

    if (chart_trend_png(json_object_get(d, "trend"), &png, &len, err) != CL_OK)
        return NULL;
    b64 = crypto_base64(png, len);
    free(png);
    buf_init(&b);
    buf_printf(&b, "data:image/png;base64,%s", b64);
    free(b64);
    return buf_steal(&b, NULL);
}

/* The text part is the Markdown; the HTML shows the chart by Content-ID, sent inline. */
static int digest_mail_render(const json_t *payload, struct mail_parts *out, struct cl_err *err)
{
    struct buf text;
    struct buf html;
    unsigned char *png = NULL;
    size_t len = 0;
    int rc;

    buf_init(&text);
    buf_init(&html);
    rc = digest_markdown(payload, &text, err);
    if (rc == CL_OK)
        rc = chart_trend_png(json_object_get(payload, "trend"), &png, &len, err);
    if (rc == CL_OK)
        rc = digest_html(payload, "cid:" DIGEST_CHART_CID, &html, err);
    if (rc == CL_OK) {
        out->text = buf_steal(&text, NULL);
        out->html = buf_steal(&html, NULL);
        mime_parts_add_inline(out, DIGEST_CHART_CID, "image/png", "trend.png", png, len);
    }
    free(png);
    buf_dispose(&text);
    buf_dispose(&html);
    return rc;
}

const struct mail_kind digest_mail_kind = {"digest", digest_mail_render};
