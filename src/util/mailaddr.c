#include "closeloop/util/mailaddr.h"

#include <stdlib.h>
#include <string.h>

bool mailaddr_ok(const char *s)
{
    const char *at = s != NULL ? strchr(s, '@') : NULL;
    size_t n = s != NULL ? strlen(s) : 0;
    size_t i;

    if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL || n > 254 ||
        at - s > 64)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c) != NULL)
            return false;
    }
    return s[n - 1] != '.' && at[1] != '.';
}

/* The name before "<", without blanks around it or its quotes. */
static char *mailaddr_name(const char *s, size_t len)
{
    while (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    return cl_strndup(s, len);
}

int mailaddr_parse(char **name_out, char **addr_out, const char *s, struct cl_err *err)
{
    const char *lt = strchr(s, '<');
    const char *gt = lt != NULL ? strchr(lt, '>') : NULL;
    char *addr;
    char *name;

    if (strpbrk(s, "\r\n") != NULL)
        return cl_fail(err, CL_EINVAL, "address contains CR or LF");
    if (lt == NULL) {
        if (!mailaddr_ok(s))
            return cl_fail(err, CL_EINVAL, "\"%s\" is not an e-mail address", s);
        *name_out = cl_strdup("");
        *addr_out = cl_strdup(s);
        return CL_OK;
    }
    if (gt == NULL || gt[1] != '\0')
        return cl_fail(err, CL_EINVAL, "expected Name <address>");
    addr = cl_strndup(lt + 1, (size_t)(gt - lt - 1));
    name = mailaddr_name(s, (size_t)(lt - s));
    if (!mailaddr_ok(addr) || strpbrk(name, "<>\"") != NULL) {
        free(addr);
        free(name);
        return cl_fail(err, CL_EINVAL, "\"%s\" is not Name <address>", s);
    }
    *name_out = name;
    *addr_out = addr;
    return CL_OK;
}
