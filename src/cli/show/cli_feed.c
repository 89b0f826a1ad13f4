#include "closeloop/cli/show/cli_feed.h"

#include "closeloop/util/cl.h"

#include <string.h>

int cli_feed_render_created(FILE *out, const json_t *feed, const char *base)
{
    const json_t *id = json_object_get(feed, "id");
    const char *url = json_string_value(json_object_get(feed, "url"));
    const char *person = json_string_value(json_object_get(feed, "person"));
    const char *team = json_string_value(json_object_get(feed, "team"));
    size_t bl = base != NULL ? strlen(base) : 0;

    if (!json_is_integer(id) || url == NULL || url[0] != '/')
        return CL_EHTTP;
    if (bl > 0 && base[bl - 1] == '/')
        bl--; /* the answer's url starts with its own '/' */
    if (person != NULL)
        fprintf(out, "feed %" JSON_INTEGER_FORMAT ": the reviews %s is invited to\n",
                json_integer_value(id), person);
    else
        fprintf(out, "feed %" JSON_INTEGER_FORMAT ": the reviews of team %s\n",
                json_integer_value(id), team != NULL ? team : "-");
    fprintf(out, "url:  %.*s%s\n", (int)bl, base != NULL ? base : "", url);
    fprintf(out,
            "The URL is shown this once and needs no token: subscribe to it in your calendar\n"
            "app. Whoever has it can read the feed; revoke it with: closeloop feed revoke "
            "%" JSON_INTEGER_FORMAT "\n",
            json_integer_value(id));
    return ferror(out) ? CL_EIO : CL_OK;
}
