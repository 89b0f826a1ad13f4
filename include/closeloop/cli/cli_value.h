/* cli_value: checks one command-line value against its type before any request is made,
 * so that a bad kind, date or number is a usage error (exit 2), not a server round trip,
 * and rewrites what people type (p1, Corrective, friday, 2026-11-18 09:30) into the one
 * form the server takes (P1, corrective, 2026-12-11, 2026-11-18T09:30:00+01:00). */
#ifndef CLOSELOOP_CLI_VALUE_H
#define CLOSELOOP_CLI_VALUE_H

#include "closeloop/util/cl.h"
#include "closeloop/cli/cli_verbs.h"

#include <stddef.h>

#define CLI_VALUE_TEXT_MAX 1024         /* bytes of a name, handle, key, title, URL */
#define CLI_VALUE_DESC_MAX (256 * 1024) /* bytes of a description, from argv or stdin */
#define CLI_VALUE_NORM_MAX 64           /* bytes of a rewritten value, NUL included */

/* Longest value accepted for type, in bytes. */
size_t cli_value_max(enum cli_val type);

/* Checks value for type as cli_value_check() does and sets *out to the form to send: buf,
 * into which it was rewritten, or value itself when it needs no rewriting. Dates (today,
 * +2w, fri, see cli_date_read()) count from today (days since 1970-01-01, local); times
 * without an offset are read in the local zone (TZ) and written with its offset; enum words
 * are case-insensitive (p1, SEV2, Corrective, IN_PROGRESS or in-progress). *out is set only
 * on success; CL_EINVAL with one line in err naming label and the accepted shapes. */
int cli_value_read(const char **out, char buf[CLI_VALUE_NORM_MAX], enum cli_val type,
                   const char *label, const char *value, long today, struct cl_err *err);

/* Checks value for type, dates against the real today. label names it in the message ("--kind",
 * "ID"). 0 when it is fine; CL_EINVAL with one line in err otherwise. A flag type accepts only
 * NULL. Repositories must match ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$, issues that followed by #N, N
 * >= 1. */
int cli_value_check(enum cli_val type, const char *label, const char *value, struct cl_err *err);

/* Whether type takes no value (CLI_VAL_FLAG, CLI_VAL_FLAG_NULL). */
bool cli_value_is_flag(enum cli_val type);

/* The words a value of type may be, NULL-terminated ("none" included where it is allowed),
 * or NULL when it is open text (names, dates, repositories: "none" alone is no list). */
const char *const *cli_value_choices(enum cli_val type);

/* Whether value is sent as JSON null: "none" for a type that allows it, or any value of a
 * CLI_VAL_FLAG_NULL flag that was given. */
bool cli_value_is_none(enum cli_val type, const char *value);

#endif
