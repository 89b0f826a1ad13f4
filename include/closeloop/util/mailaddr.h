/* mailaddr: plain e-mail addresses and "Name <addr>" mailboxes as configuration and
 * mail use them (no comments, no groups, no quoted local parts). Pure, any thread. */
#ifndef CLOSELOOP_MAILADDR_H
#define CLOSELOOP_MAILADDR_H

#include "closeloop/util/cl.h"

#include <stdbool.h>

/* Whether s is one plain address: local@domain, at most 254 bytes, with no space, angle
 * bracket, quote or other character a header would need to quote. */
bool mailaddr_ok(const char *s);

/* Splits "addr", "<addr>" or "Display Name <addr>" (the name may be "quoted") into heap
 * copies: *name_out is "" when there is none. CL_EINVAL with a reason otherwise. */
int mailaddr_parse(char **name_out, char **addr_out, const char *s, struct cl_err *err);

#endif
