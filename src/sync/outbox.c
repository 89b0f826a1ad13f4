#include "closeloop/sync/outbox.h"

#include "closeloop/sync/remote.h"
#include "closeloop/util/buf.h"
#include "closeloop/util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OB_TICK 1.0 /* fallback wake-up: retries, other instances' leftovers */

enum ob_state {
    OB_IDLE,
    OB_CLAIMING, /* cl_outbox_claim */
    OB_MARKING,  /* cl_link_creating: committed before the create request */
    OB_CREATING, /* provider create */
    OB_FINDING,  /* provider find_marker: an earlier create may have happened */
    OB_FETCHING, /* provider fetch */
    OB_MERGING,  /* cl_sync_fetched: the remote's changes first */
    OB_UPDATING, /* provider update */
    OB_SEEKING,  /* provider find_comment: an earlier attempt may have posted it */
    OB_POSTING,  /* provider comment */
    OB_RECORDING /* the outcome, into PostgreSQL */
};

static const char *const ob_state_names[] = {"idle",    "claiming", "marking",  "creating",
                                             "finding", "fetching", "merging",  "updating",
                                             "seeking", "posting",  "recording"};

/* One claimed job, typed: the claim's JSON is read once, with every member checked. */
struct ob_job {
    char link[24]; /* links.id as text */
    char *ids;     /* "{1,2}": the outbox rows claimed */
    long attempts;
    bool comment;               /* op "comment": post comment_id's comment */
    char comment_id[24];        /* outbox.id of the comment, as text */
    long comment_attempts;      /* > 1: an earlier attempt may have posted it */
    struct provider_comment pc; /* its strings point into `claim` */
    struct provider_job pj;     /* its strings point into `claim` */
    json_t *claim;              /* owned: what cl_outbox_claim returned */
    json_t *fetched;            /* owned: the snapshot an update is computed against */
    json_t *pushed;             /* owned: what closeloop holds, as pushed */
};

struct outbox {
    const struct worker_conn *c;
    enum ob_state state;
    bool again; /* kicked while busy */
    struct ob_job *job;
    struct db_query *q;
    ev_timer timer;
    unsigned long counts[PROVIDER_OUTCOMES];
};

static void ob_kick(struct outbox *o);

static void ob_set(struct outbox *o, enum ob_state s)
{
    log_debug("event=outbox_state connection=%s from=%s to=%s", o->c->cfg->name,
              ob_state_names[o->state], ob_state_names[s]);
    o->state = s;
}

/* ---- jobs ---- */

static void ob_job_free(struct ob_job *j)
{
    if (j == NULL)
        return;
    free(j->ids);
    json_decref(j->claim);
    json_decref(j->fetched);
    json_decref(j->pushed);
    free(j);
}

static const char *ob_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static char *ob_ids(const json_t *arr)
{
    struct buf b;
    size_t i;
    json_t *v;

    buf_init(&b);
    buf_puts(&b, "{");
    json_array_foreach (arr, i, v) {
        buf_printf(&b, "%s%" JSON_INTEGER_FORMAT, i > 0 ? "," : "", json_integer_value(v));
    }
    buf_puts(&b, "}");
    return buf_steal(&b, NULL);
}

static enum provider_link_state ob_link_state(const char *s)
{
    if (strcmp(s, "creating") == 0)
        return PROVIDER_LINK_CREATING;
    return strcmp(s, "pending") == 0 ? PROVIDER_LINK_PENDING : PROVIDER_LINK_LINKED;
}

/* A comment job's row: its id and attempts, and its payload's body, marker and mention
 * (checked again by ob_start: a misshapen payload fails the row rather than the worker). */
static void ob_comment_parse(struct ob_job *j, const json_t *c)
{
    const json_t *payload = json_object_get(c, "payload");

    if (!json_is_integer(json_object_get(c, "id")))
        return;
    j->comment = true;
    snprintf(j->comment_id, sizeof(j->comment_id), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(c, "id")));
    j->comment_attempts = (long)json_integer_value(json_object_get(c, "attempts"));
    j->pc.body = ob_str(payload, "body");
    j->pc.marker = ob_str(payload, "marker");
    j->pc.since = ob_str(c, "since");
    j->pc.mention = json_object_get(payload, "mention");
}

/* The claim's JSON as a job; NULL when it lacks what every job has. */
static struct ob_job *ob_job_parse(json_t *claim)
{
    const json_t *link = json_object_get(claim, "link");
    const json_t *ids = json_object_get(claim, "outbox");
    struct ob_job *j;

    if (!json_is_integer(json_object_get(link, "id")) || !json_is_array(ids) ||
        ob_str(link, "scope") == NULL || ob_str(link, "state") == NULL ||
        !json_is_object(json_object_get(claim, "action"))) {
        json_decref(claim);
        return NULL;
    }
    j = cl_calloc(1, sizeof(*j));
    j->claim = claim;
    snprintf(j->link, sizeof(j->link), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(link, "id")));
    j->ids = ob_ids(ids);
    j->attempts = (long)json_integer_value(json_object_get(claim, "attempts"));
    j->pj.link_id = json_integer_value(json_object_get(link, "id"));
    j->pj.state = ob_link_state(ob_str(link, "state"));
    j->pj.scope = ob_str(link, "scope");
    j->pj.remote_id = ob_str(link, "remote_id");
    j->pj.remote_key = ob_str(link, "remote_key");
    j->pj.creating_since = ob_str(link, "creating_since");
    j->pj.instance = ob_str(claim, "instance");
    j->pj.action = json_object_get(claim, "action");
    ob_comment_parse(j, json_object_get(claim, "comment"));
    return j;
}

/* ---- ending a job ---- */

static void ob_finish(struct outbox *o)
{
    ob_job_free(o->job);
    o->job = NULL;
    ob_set(o, OB_IDLE);
    ob_kick(o); /* there may be more; an empty claim ends it */
}

/* The database went away mid-job: the job is dropped, its claim stays with this process
 * and is taken up again by its next claim once PostgreSQL is back. */
static bool ob_lost_db(struct outbox *o, const struct db_reply *r)
{
    if (r->code != CL_EIO)
        return false;
    log_warn("event=sync_db_lost connection=%s state=%s", o->c->cfg->name,
             ob_state_names[o->state]);
    ob_job_free(o->job);
    o->job = NULL;
    ob_set(o, OB_IDLE);
    return true;
}

static void ob_on_recorded(const struct db_reply *r, void *arg)
{
    struct outbox *o = arg;

    o->q = NULL;
    if (ob_lost_db(o, r))
        return;
    if (r->code != CL_OK)
        log_error("event=sync_record_failed connection=%s error=\"%s\"", o->c->cfg->name,
                  r->message);
    ob_finish(o);
}

static void ob_record(struct outbox *o, const char *sql, int n, const char *const *params)
{
    ob_set(o, OB_RECORDING);
    o->q = db_query(o->c->pool, sql, n, params, ob_on_recorded, o);
}

static void ob_failed(struct outbox *o, const struct provider_result *r)
{
    struct ob_job *j = o->job;
    char delay[32];
    char why[300];

    o->counts[r->outcome]++;
    snprintf(delay, sizeof(delay), "%.3f",
             r->retry_after > 0 ? r->retry_after + worker_jitter(1.0)
                                : worker_backoff(j->attempts));
    log_warn("event=sync_push_failed connection=%s link=%s outcome=%d error=\"%s\"",
             o->c->cfg->name, j->link, (int)r->outcome, log_quote(why, sizeof(why), r->message));
    if (j->comment && r->outcome == PROVIDER_REJECTED)
        ob_record(o, "SELECT cl_outbox_comment_fail($1::bigint, $2)", 2,
                  (const char *const[]){j->comment_id, r->message});
    else if (j->comment && r->outcome == PROVIDER_GONE)
        ob_record(o,
                  "SELECT cl_link_broken($1::bigint, $2), cl_outbox_comment_fail($3::bigint, $2)",
                  3, (const char *const[]){j->link, r->message, j->comment_id});
    else if (r->outcome == PROVIDER_REJECTED)
        ob_record(o, "SELECT cl_outbox_fail($1::bigint[], $2)", 2,
                  (const char *const[]){j->ids, r->message});
    else if (r->outcome == PROVIDER_GONE)
        ob_record(o, "SELECT cl_link_broken($1::bigint, $2)", 2,
                  (const char *const[]){j->link, r->message});
    else
        ob_record(o, "SELECT cl_outbox_retry($1::bigint[], $2, $3::float8)", 3,
                  (const char *const[]){j->ids, r->message, delay});
}

/* The remote now holds `agreed`: record it as the base and close the job's rows. */
static void ob_pushed(struct outbox *o, const json_t *remote, const json_t *agreed,
                      const json_t *before)
{
    struct ob_job *j = o->job;
    char *rtext = worker_dump(remote);
    char *atext = worker_dump(agreed);
    char *btext = before != NULL ? worker_dump(before) : NULL;

    o->counts[PROVIDER_OK]++;
    ob_record(o,
              "SELECT cl_link_pushed($1::bigint, $2::jsonb, $3::jsonb, $4::jsonb),"
              " cl_outbox_done($5::bigint[])",
              5, (const char *const[]){j->link, rtext, atext, btext, j->ids});
    free(rtext);
    free(atext);
    free(btext);
}

/* ---- the steps ---- */

static void ob_on_updated(const struct provider_result *r, void *arg)
{
    struct outbox *o = arg;

    if (r->outcome != PROVIDER_OK)
        ob_failed(o, r);
    else
        ob_pushed(o, r->remote, o->job->pushed, o->job->fetched);
}

static void ob_on_merged(const struct db_reply *r, void *arg)
{
    struct outbox *o = arg;
    struct ob_job *j = o->job;
    struct provider_result fail = {.outcome = PROVIDER_RETRY};
    json_t *res;
    json_t *local;

    o->q = NULL;
    if (ob_lost_db(o, r))
        return;
    if (r->code != CL_OK) {
        /* a constraint or our own validation will not pass on retry: fail it, visibly */
        if (strncmp(r->sqlstate, "23", 2) == 0 || strncmp(r->sqlstate, "CL4", 3) == 0)
            fail.outcome = PROVIDER_REJECTED;
        snprintf(fail.message, sizeof(fail.message), "merge failed: %s", r->message);
        ob_failed(o, &fail);
        return;
    }
    res = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
    local = json_object_get(res, "local");
    /* a stale fetch merges nothing: what closeloop holds is pushed as it is */
    j->pushed = json_incref(json_is_object(local) ? local : (json_t *)j->pj.action);
    json_decref(res);
    ob_set(o, OB_UPDATING);
    o->c->def->ops->update(o->c->prov, &j->pj, j->pushed, j->fetched, ob_on_updated, o);
}

/* Merges a fetched remote (remote changes first), then pushes what closeloop holds. */
static void ob_merge(struct outbox *o, const json_t *remote)
{
    struct ob_job *j = o->job;
    char *rtext = worker_dump(remote);

    j->fetched = json_incref((json_t *)remote);
    ob_set(o, OB_MERGING);
    o->q = db_query(o->c->pool, "SELECT cl_sync_fetched($1::bigint, $2::jsonb, $3)", 3,
                    (const char *const[]){j->link, rtext, o->c->def->tracker}, ob_on_merged, o);
    free(rtext);
}

static void ob_on_fetched(const struct provider_result *r, void *arg)
{
    struct outbox *o = arg;

    if (r->outcome != PROVIDER_OK)
        ob_failed(o, r);
    else
        ob_merge(o, r->remote);
}

static void ob_on_created(const struct provider_result *r, void *arg)
{
    struct outbox *o = arg;
    char url[300];

    if (r->outcome == PROVIDER_REJECTED && r->requests == 0) {
        /* refused before anything was sent: no issue can exist, no marker to look for */
        o->counts[r->outcome]++;
        ob_record(o, "SELECT cl_link_not_created($1::bigint), cl_outbox_fail($2::bigint[], $3)", 3,
                  (const char *const[]){o->job->link, o->job->ids, r->message});
        return;
    }
    if (r->outcome != PROVIDER_OK) {
        ob_failed(o, r);
        return;
    }
    log_info("event=sync_created connection=%s link=%s url=\"%s\"", o->c->cfg->name, o->job->link,
             log_quote(url, sizeof(url), json_string_value(json_object_get(r->remote, "url"))));
    ob_pushed(o, r->remote, o->job->pj.action, NULL);
}

static void ob_on_marking(const struct db_reply *r, void *arg)
{
    struct outbox *o = arg;
    struct provider_result fail = {.outcome = PROVIDER_RETRY};

    o->q = NULL;
    if (ob_lost_db(o, r))
        return;
    if (r->code != CL_OK) {
        snprintf(fail.message, sizeof(fail.message), "%s", r->message);
        ob_failed(o, &fail);
        return;
    }
    /* "creating" is committed before the request: after a crash the marker is looked for */
    ob_set(o, OB_CREATING);
    o->c->def->ops->create(o->c->prov, &o->job->pj, ob_on_created, o);
}

static void ob_create(struct outbox *o)
{
    ob_set(o, OB_MARKING);
    o->q = db_query(o->c->pool, "SELECT cl_link_creating($1::bigint)", 1,
                    (const char *const[]){o->job->link}, ob_on_marking, o);
}

static void ob_on_marker(const struct provider_result *r, void *arg)
{
    struct outbox *o = arg;
    char url[300];

    if (r->outcome != PROVIDER_OK) {
        ob_failed(o, r);
        return;
    }
    if (r->remote == NULL) {
        ob_create(o); /* the earlier attempt never reached the tracker */
        return;
    }
    log_info("event=sync_marker_found connection=%s link=%s url=\"%s\"", o->c->cfg->name,
             o->job->link,
             log_quote(url, sizeof(url), json_string_value(json_object_get(r->remote, "url"))));
    ob_merge(o, r->remote);
}

/* ---- comments ---- */

static void ob_on_commented(const struct provider_result *r, void *arg)
{
    struct outbox *o = arg;
    bool found = o->state == OB_SEEKING;
    char *text;

    if (r->outcome != PROVIDER_OK) {
        ob_failed(o, r);
        return;
    }
    if (r->remote == NULL) { /* sought and not there: post it */
        ob_set(o, OB_POSTING);
        o->c->def->ops->comment(o->c->prov, &o->job->pj, &o->job->pc, ob_on_commented, o);
        return;
    }
    o->counts[PROVIDER_OK]++;
    text = worker_dump(r->remote);
    ob_record(o, "SELECT cl_outbox_commented($1::bigint, $2::jsonb, $3::boolean)", 3,
              (const char *const[]){o->job->comment_id, text, found ? "true" : "false"});
    free(text);
}

/* Why a comment job cannot be posted, or NULL. */
static const char *ob_comment_unfit(const struct ob_job *j)
{
    if (j->pj.remote_id == NULL && j->pj.remote_key == NULL)
        return "the issue is not created";
    if (j->pc.body == NULL || j->pc.body[0] == '\0' || strlen(j->pc.body) > PROVIDER_COMMENT_MAX)
        return "the comment's body is empty or too long";
    if (!remote_marker_valid(j->pc.marker))
        return "the comment's marker is not valid";
    return NULL;
}

/* A comment: looked for first when an earlier attempt may have posted it. */
static void ob_comment(struct outbox *o)
{
    struct ob_job *j = o->job;
    const char *unfit = ob_comment_unfit(j);

    if (unfit != NULL) {
        o->counts[PROVIDER_REJECTED]++;
        ob_record(o, "SELECT cl_outbox_comment_fail($1::bigint, $2)", 2,
                  (const char *const[]){j->comment_id, unfit});
    } else if (j->comment_attempts > 1) {
        ob_set(o, OB_SEEKING);
        o->c->def->ops->find_comment(o->c->prov, &j->pj, &j->pc, ob_on_commented, o);
    } else {
        ob_set(o, OB_POSTING);
        o->c->def->ops->comment(o->c->prov, &j->pj, &j->pc, ob_on_commented, o);
    }
}

static void ob_start(struct outbox *o)
{
    const struct provider_job *pj = &o->job->pj;

    if (o->job->comment)
        ob_comment(o);
    else if (pj->state == PROVIDER_LINK_CREATING) {
        ob_set(o, OB_FINDING);
        o->c->def->ops->find_marker(o->c->prov, pj, ob_on_marker, o);
    } else if (pj->remote_id == NULL && pj->remote_key == NULL) {
        ob_create(o);
    } else {
        ob_set(o, OB_FETCHING);
        o->c->def->ops->fetch(o->c->prov, pj, ob_on_fetched, o);
    }
}

static void ob_on_claim(const struct db_reply *r, void *arg)
{
    struct outbox *o = arg;
    bool again = o->again && r->code == CL_OK;

    o->q = NULL;
    o->again = false;
    if (r->code != CL_OK || PQgetisnull(r->res, 0, 0)) {
        if (r->code != CL_OK)
            log_warn("event=sync_claim_failed connection=%s error=\"%s\"", o->c->cfg->name,
                     r->message);
        ob_set(o, OB_IDLE);
        if (again)
            ob_kick(o);
        return;
    }
    o->job = ob_job_parse(json_loads(PQgetvalue(r->res, 0, 0), 0, NULL));
    if (o->job == NULL) {
        log_error("event=sync_claim_unreadable connection=%s", o->c->cfg->name);
        ob_set(o, OB_IDLE);
        return;
    }
    ob_start(o);
}

static void ob_kick(struct outbox *o)
{
    char lease[16];

    if (o->state != OB_IDLE) {
        o->again = true;
        return;
    }
    snprintf(lease, sizeof(lease), "%.0f", worker_lease(o->c->cfg));
    ob_set(o, OB_CLAIMING);
    o->q =
        db_query(o->c->pool, "SELECT cl_outbox_claim($1, $2, $3::float8)", 3,
                 (const char *const[]){o->c->def->tracker, o->c->cfg->name, lease}, ob_on_claim, o);
}

static void ob_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    ob_kick(container_of(w, struct outbox, timer));
}

/* ---- life cycle ---- */

struct outbox *outbox_new(const struct worker_conn *conn)
{
    struct outbox *o = cl_calloc(1, sizeof(*o));

    o->c = conn;
    ev_timer_init(&o->timer, ob_on_timer, 0.05, OB_TICK);
    ev_timer_start(conn->loop, &o->timer);
    return o;
}

void outbox_free(struct outbox *o)
{
    if (o == NULL)
        return;
    ev_timer_stop(o->c->loop, &o->timer);
    db_query_cancel(o->q);
    ob_job_free(o->job);
    free(o);
}

void outbox_kick(struct outbox *o)
{
    ob_kick(o);
}

unsigned long outbox_count(const struct outbox *o, enum provider_outcome outcome)
{
    return o->counts[outcome];
}
