/* roff: the bits of man(7) markup the man pages of closeloop(1), closeloopd(8) and
 * closeloopd.ini(5) are written with, so that text from the programs' tables (help lines,
 * defaults, placeholders) can never be taken for a request or an escape. */
#ifndef CLOSELOOP_ROFF_H
#define CLOSELOOP_ROFF_H

#include <stdio.h>

/* Writes s as running text: backslashes and hyphens escaped, a '.' or '\'' that would
 * start a line guarded with \&. s must not hold a newline (it is written as a space). */
void roff_text(FILE *out, const char *s);

/* Writes ".TH NAME SECTION "" "closeloop VERSION" "manual"" and ".SH NAME" with
 * "name \- what". */
void roff_head(FILE *out, const char *name, const char *section, const char *manual,
               const char *what);

/* Writes ".SH title" (title upper-case, no escapes needed). */
void roff_section(FILE *out, const char *title);

/* Writes a tagged paragraph: ".TP", the tag (in bold, then arg in italics unless NULL),
 * then the body line; all through roff_text(). */
void roff_item(FILE *out, const char *tag, const char *arg, const char *body);

/* Writes one paragraph of running text (".PP" then the text). */
void roff_para(FILE *out, const char *text);

#endif
