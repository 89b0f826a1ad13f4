/* valid: table-driven validation of JSON request bodies. A spec lists every field a
 * body may hold; anything else is an unknown field. Pure functions, any thread. */
#ifndef CLOSELOOP_VALID_H
#define CLOSELOOP_VALID_H

#include "closeloop/util/cl.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum valid_kind {
    VALID_STR,  /* string, max_len characters, no control characters except \n \t in text */
    VALID_TEXT, /* like VALID_STR but multi-line (descriptions) */
    VALID_ENUM, /* one of values[] */
    VALID_DATE, /* YYYY-MM-DD, a real calendar date */
    VALID_TIME, /* RFC 3339 timestamp with offset */
    VALID_BOOL,
    VALID_INT,  /* a positive integer (versions) */
    VALID_ARRAY /* a non-empty array of at most max_len elements, which the caller checks */
};

#define VALID_REQUIRED    0x1u  /* must be present when creating */
#define VALID_NULLABLE    0x2u  /* null is allowed (clears the value) */
#define VALID_CREATE_ONLY 0x4u  /* refused when updating */
#define VALID_UPDATE_ONLY 0x8u  /* refused when creating */
#define VALID_NONBLANK    0x10u /* a string must hold a non-space character */

struct valid_field {
    const char *name;
    enum valid_kind kind;
    unsigned flags;
    size_t max_len;
    const char *const *values; /* VALID_ENUM: NULL-terminated */
};

enum valid_mode { VALID_MODE_CREATE, VALID_MODE_UPDATE };

/* Checks obj (must be an object) against spec. On failure returns CL_EINVAL, writes a
 * message to err and the offending field name to field (size fieldlen). */
int valid_object(const json_t *obj, const struct valid_field *spec, size_t n, enum valid_mode mode,
                 char *field, size_t fieldlen, struct cl_err *err);

bool valid_date(const char *s);

/* GitHub's owner/repo: owner 1..39 and name 1..100 characters of letters, digits, '-',
 * '_' and '.', neither "." nor "..". The same rule is cl_github_repo_valid() in SQL,
 * a CHECK on every stored repository. */
#define VALID_GITHUB_OWNER_MAX 39
#define VALID_GITHUB_NAME_MAX  100
#define VALID_GITHUB_REPO_RULE                                                                     \
    "owner/repo: letters, digits, '-', '_' and '.', owner at most 39 and name at most 100 "        \
    "characters, neither '.' nor '..'"
bool valid_github_repo(const char *s);
bool valid_timestamp(const char *s);

#endif
