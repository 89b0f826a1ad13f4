#include "closeloop/api/routes_mail.h"

#include "closeloop/api/auth.h"
#include "closeloop/api/queue_list.h"
#include "closeloop/mail/queue.h"
#include "closeloop/util/cl.h"

static void mail_on_list(struct api_req *q, const struct db_reply *r)
{
    struct mail_queue_stats st;

    mail_queue_stats(api_req_mail(q), &st);
    queue_list_reply(q, r, st.enabled, "mail");
}

/* GET /api/v1/mail?status=queued|sending|sent|failed&limit=&cursor= (cursor: the
 * previous page's "next_cursor", an id). */
static void mail_list(struct api_req *q)
{
    queue_list_run(q, "SELECT cl_mail_list($1, $2::bigint, $3::int)", mail_on_list);
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/mail", AUTH_ADMIN, mail_list, "mail"},
};

void routes_mail_add(struct api *a)
{
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
