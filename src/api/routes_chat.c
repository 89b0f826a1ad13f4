#include "closeloop/api/routes_chat.h"

#include "closeloop/api/auth.h"
#include "closeloop/api/queue_list.h"
#include "closeloop/notify/chat_queue.h"
#include "closeloop/util/cl.h"

static void chat_on_list(struct api_req *q, const struct db_reply *r)
{
    struct chat_queue_stats st;

    chat_queue_stats(api_req_chat(q), &st);
    queue_list_reply(q, r, st.enabled, "chat");
}

/* GET /api/v1/chat?status=queued|sending|sent|failed&limit=&cursor= */
static void chat_list(struct api_req *q)
{
    queue_list_run(q, "SELECT cl_chat_list($1, $2::bigint, $3::int)", chat_on_list);
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/chat", AUTH_ADMIN, chat_list, "chat"},
};

void routes_chat_add(struct api *a)
{
    api_add_routes(a, routes, CL_ARRAY_LEN(routes));
}
