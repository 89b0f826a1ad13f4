#include "closeloop/util/roff.h"

#include "closeloop/util/version.h"

#include <stdbool.h>

void roff_text(FILE *out, const char *s)
{
    bool line_start = true;

    for (; *s != '\0'; s++) {
        if (line_start && (*s == '.' || *s == '\''))
            fputs("\\&", out);
        line_start = false;
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else if (*s == '\n')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

void roff_head(FILE *out, const char *name, const char *section, const char *manual,
               const char *what)
{
    fprintf(out, ".TH \"%s\" \"%s\" \"\" \"closeloop %s\" \"%s\"\n", name, section, CL_VERSION,
            manual);
    fputs(".SH NAME\n", out);
    roff_text(out, name);
    fputs(" \\- ", out);
    roff_text(out, what);
    fputc('\n', out);
}

void roff_section(FILE *out, const char *title)
{
    fprintf(out, ".SH %s\n", title);
}

void roff_item(FILE *out, const char *tag, const char *arg, const char *body)
{
    fputs(".TP\n\\fB", out);
    roff_text(out, tag);
    fputs("\\fR", out);
    if (arg != NULL) {
        fputs(" \\fI", out);
        roff_text(out, arg);
        fputs("\\fR", out);
    }
    fputc('\n', out);
    roff_text(out, body);
    fputc('\n', out);
}

void roff_para(FILE *out, const char *text)
{
    fputs(".PP\n", out);
    roff_text(out, text);
    fputc('\n', out);
}
