#include "closeloop/review/md.h"

#include "closeloop/mail/mime.h"

#include <cmark.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void md_char(struct buf *out, unsigned char c)
{
    char two[2] = {'\\', (char)c};

    if (c < 0x20 || c == 0x7f)
        buf_append(out, " ", 1);
    else if (strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) != NULL && c != '\0')
        buf_append(out, two, 2);
    else
        buf_append(out, &two[1], 1);
}

void md_text(struct buf *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        md_char(out, (unsigned char)*s);
}

void md_lines(struct buf *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '\r')
            continue;
        if (*s == '\n')
            buf_append(out, "\n", 1);
        else
            md_char(out, (unsigned char)*s);
    }
}

static bool md_url_ok(const char *url)
{
    const char *p;

    if (url == NULL || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
        return false;
    for (p = url; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("<>\\`", *p) != NULL)
            return false;
    return true;
}

void md_link(struct buf *out, const char *text, const char *url)
{
    if (!md_url_ok(url)) {
        md_text(out, text != NULL ? text : url);
        return;
    }
    buf_append(out, "[", 1);
    md_text(out, text != NULL ? text : url);
    buf_printf(out, "](<%s>)", url);
}

const char *md_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int md_html(struct buf *out, const char *md, size_t len, struct cl_err *err)
{
    char *html = cmark_markdown_to_html(md != NULL ? md : "", md != NULL ? len : 0,
                                        CMARK_OPT_SAFE | CMARK_OPT_VALIDATE_UTF8);

    if (html == NULL)
        return cl_fail(err, CL_EINVAL, "markdown: cmark could not render the document");
    buf_puts(out, html);
    free(html);
    return CL_OK;
}

int md_mail_parts(struct mail_parts *out, struct buf *md, struct cl_err *err)
{
    struct buf html;
    int rc;

    buf_init(&html);
    buf_puts(&html, "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; "
                    "max-width: 40em\">\n");
    rc = md_html(&html, md->data != NULL ? md->data : "", md->len, err);
    buf_puts(&html, "</body></html>\n");
    if (rc == CL_OK) {
        out->text = buf_steal(md, NULL);
        out->html = buf_steal(&html, NULL);
    }
    buf_dispose(&html);
    return rc;
}
