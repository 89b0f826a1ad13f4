#include "closeloop/report/chart.h"

#include "closeloop/util/buf.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHART_LEFT   48.0 /* room for the y labels */
#define CHART_RIGHT  16.0
#define CHART_TOP    34.0 /* room for the legend */
#define CHART_BOTTOM 40.0 /* room for the x labels and the axis title */

struct chart_series {
    const char *key;
    const char *label;
    double r, g, b;
};

static const struct chart_series chart_series[] = {
    {"opened", "opened", 0.16, 0.39, 0.75},
    {"closed", "closed", 0.18, 0.60, 0.30},
    {"overdue", "overdue", 0.82, 0.26, 0.20},
};

static cairo_status_t chart_write(void *closure, const unsigned char *data, unsigned int len)
{
    buf_append(closure, data, len);
    return CAIRO_STATUS_SUCCESS;
}

/* The largest count of any series (at least 1), checking every value's type. */
static int chart_max(const json_t *trend, long *out)
{
    size_t i;
    size_t s;
    long m = 1;

    for (i = 0; i < json_array_size(trend); i++) {
        const json_t *p = json_array_get(trend, i);

        if (!json_is_object(p) || !json_is_string(json_object_get(p, "period")))
            return CL_EINVAL;
        for (s = 0; s < CL_ARRAY_LEN(chart_series); s++) {
            const json_t *v = json_object_get(p, chart_series[s].key);

            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return CL_EINVAL;
            if (json_integer_value(v) > m)
                m = (long)json_integer_value(v);
        }
    }
    *out = m;
    return CL_OK;
}

static void chart_text(cairo_t *cr, double x, double y, const char *s, double align)
{
    cairo_text_extents_t ext;

    cairo_text_extents(cr, s, &ext);
    cairo_move_to(cr, x - ext.width * align - ext.x_bearing, y);
    cairo_show_text(cr, s);
}

static void chart_axes(cairo_t *cr, const json_t *trend, long top, double w, double h)
{
    size_t n = json_array_size(trend);
    size_t i;
    long tick;
    long stepv = top <= 5 ? 1 : (top + 4) / 5;
    char label[32];

    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_set_line_width(cr, 1.0);
    cairo_move_to(cr, CHART_LEFT, CHART_TOP);
    cairo_line_to(cr, CHART_LEFT, CHART_TOP + h);
    cairo_line_to(cr, CHART_LEFT + w, CHART_TOP + h);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 11.0);
    for (tick = 0; tick <= top; tick += stepv) {
        double y = CHART_TOP + h - h * (double)tick / (double)top;

        snprintf(label, sizeof(label), "%ld", tick);
        chart_text(cr, CHART_LEFT - 6, y + 4, label, 1.0);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, CHART_LEFT + 1, y);
        cairo_line_to(cr, CHART_LEFT + w, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    }
    for (i = 0; i < n; i++) {
        double x = CHART_LEFT + (n == 1 ? w / 2 : w * (double)i / (double)(n - 1));

        chart_text(cr, x, CHART_TOP + h + 15,
                   json_string_value(json_object_get(json_array_get(trend, i), "period")),
                   i == 0 ? 0.0 : (i == n - 1 ? 1.0 : 0.5));
    }
    chart_text(cr, CHART_LEFT + w / 2, CHART_TOP + h + 32, "period", 0.5);
    cairo_save(cr);
    cairo_move_to(cr, 12, CHART_TOP + h / 2 + 20);
    cairo_rotate(cr, -1.5707963267948966);
    cairo_show_text(cr, "actions");
    cairo_restore(cr);
}

static void chart_lines(cairo_t *cr, const json_t *trend, long top, double w, double h)
{
    size_t n = json_array_size(trend);
    size_t s;
    size_t i;

    cairo_set_line_width(cr, 2.0);
    for (s = 0; s < CL_ARRAY_LEN(chart_series); s++) {
        const struct chart_series *c = &chart_series[s];

        cairo_set_source_rgb(cr, c->r, c->g, c->b);
        for (i = 0; i < n; i++) {
            double v =
                (double)json_integer_value(json_object_get(json_array_get(trend, i), c->key));
            double x = CHART_LEFT + (n == 1 ? w / 2 : w * (double)i / (double)(n - 1));
            double y = CHART_TOP + h - h * v / (double)top;

            if (i == 0)
                cairo_move_to(cr, x, y);
            else
                cairo_line_to(cr, x, y);
        }
        cairo_stroke(cr);
        for (i = 0; i < n; i++) {
            double v =
                (double)json_integer_value(json_object_get(json_array_get(trend, i), c->key));
            double x = CHART_LEFT + (n == 1 ? w / 2 : w * (double)i / (double)(n - 1));

            cairo_arc(cr, x, CHART_TOP + h - h * v / (double)top, 2.5, 0, 6.283185307179586);
            cairo_fill(cr);
        }
        /* the legend, across the top */
        cairo_rectangle(cr, CHART_LEFT + 90.0 * (double)s, 10, 12, 12);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        chart_text(cr, CHART_LEFT + 90.0 * (double)s + 16, 20, c->label, 0.0);
    }
}

void chart_shutdown(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}

int chart_trend_png(const json_t *trend, unsigned char **png, size_t *len, struct cl_err *err)
{
    cairo_surface_t *surf;
    cairo_t *cr;
    struct buf b;
    long top = 1;
    double w = CHART_WIDTH - CHART_LEFT - CHART_RIGHT;
    double h = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM;
    cairo_status_t st;

    if (!json_is_array(trend) || json_array_size(trend) == 0 || chart_max(trend, &top) != CL_OK)
        return cl_fail(err, CL_EINVAL,
                       "chart: trend is not a non-empty array of {period, opened, closed, "
                       "overdue}");
    surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, CHART_WIDTH, CHART_HEIGHT);
    cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    chart_axes(cr, trend, top, w, h);
    chart_lines(cr, trend, top, w, h);
    cairo_surface_flush(surf);
    buf_init(&b);
    st = cairo_status(cr);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_write_to_png_stream(surf, chart_write, &b);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    if (st != CAIRO_STATUS_SUCCESS) {
        buf_dispose(&b);
        return cl_fail(err, CL_EIO, "chart: cairo: %s", cairo_status_to_string(st));
    }
    *png = (unsigned char *)buf_steal(&b, len);
    return CL_OK;
}
