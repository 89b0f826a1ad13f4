/* The route tables as routes_core_add() and routes_sync_add() register them: complete,
 * unambiguous, reachable, scoped, and tracker-neutral. No database, no socket. */
#include "closeloop/api/api.h"
#include "closeloop/api/routes_core.h"
#include "closeloop/api/routes_records.h"
#include "closeloop/api/routes_sync.h"
#include "closeloop/http/path.h"
#include "closeloop/sync/registry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define MAX_ROUTES 128
#define MAX_SEGS   16

struct table {
    const struct api_route *r[MAX_ROUTES];
    size_t n;
    size_t ncore;    /* routes_core_add() goes first: [0, ncore) are its routes */
    size_t nrecords; /* then routes_records_add(): [ncore, ncore + nrecords) */
};

static struct table all;

static void collect(const struct api_route *r, void *arg)
{
    struct table *t = arg;

    assert_true(t->n < MAX_ROUTES);
    t->r[t->n++] = r;
}

/* One api with every route file, as server.c builds it. */
static int setup(void **state)
{
    struct api_deps deps = {0};
    struct api *a = api_new(&deps);
    size_t n;

    (void)state;
    routes_core_add(a);
    n = api_routes_each(a, collect, &all);
    all.ncore = all.n;
    routes_records_add(a);
    all.n = 0;
    n = api_routes_each(a, collect, &all);
    all.nrecords = all.n - all.ncore;
    routes_sync_add(a);
    all.n = 0;
    n = api_routes_each(a, collect, &all);
    api_free(a);
    return n == all.n && all.ncore > 0 && all.n > all.ncore ? 0 : -1;
}

/* Splits a pattern into its segments (without the slashes); returns how many. */
static int segments(char segs[MAX_SEGS][64], const char *pattern)
{
    const char *p = pattern;
    int n = 0;

    while (*p == '/' && n < MAX_SEGS) {
        size_t len = strcspn(p + 1, "/");

        snprintf(segs[n++], 64, "%.*s", (int)len, p + 1);
        p += len + 1;
    }
    return n;
}

static int captures(const char *pattern)
{
    char segs[MAX_SEGS][64];
    int n = segments(segs, pattern);
    int c = 0;
    int i;

    for (i = 0; i < n; i++)
        c += strcmp(segs[i], "{}") == 0;
    return c;
}

static bool is_sync_route(size_t i)
{
    return i >= all.ncore + all.nrecords;
}

/* {} directly under /api/v1/ or /webhooks/ names a tracker, not a resource. */
static bool captures_tracker(const char *pattern)
{
    return strncmp(pattern, "/api/v1/{}/", 11) == 0 || strncmp(pattern, "/webhooks/{}", 12) == 0;
}

static void test_routes__api_without_tables_has_no_routes(void **state)
{
    struct api_deps deps = {0};
    struct api *a = api_new(&deps);
    struct table t = {0};

    (void)state;
    assert_int_equal(api_routes_each(a, collect, &t), 0);
    assert_int_equal(t.n, 0);
    api_free(a);
    api_free(NULL);
}

/* Every route names a known method, a pattern, a handler and a real scope. */
static void test_routes__every_route_is_complete(void **state)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE"};
    size_t i;
    size_t m;

    (void)state;
    for (i = 0; i < all.n; i++) {
        const struct api_route *r = all.r[i];

        assert_non_null(r->method);
        for (m = 0; m < CL_ARRAY_LEN(methods) && strcmp(methods[m], r->method) != 0; m++)
            ;
        assert_true(m < CL_ARRAY_LEN(methods));
        assert_non_null(r->pattern);
        assert_int_equal(r->pattern[0], '/');
        assert_non_null(r->fn);
        assert_true(r->scope >= AUTH_NONE && r->scope <= AUTH_ADMIN);
    }
}

/* No two routes share method and pattern (the second would never be reached). */
static void test_routes__no_duplicate_method_and_pattern(void **state)
{
    size_t i;
    size_t j;

    (void)state;
    for (i = 0; i < all.n; i++)
        for (j = i + 1; j < all.n; j++)
            if (strcmp(all.r[i]->method, all.r[j]->method) == 0 &&
                strcmp(all.r[i]->pattern, all.r[j]->pattern) == 0)
                fail_msg("%s %s is registered twice", all.r[i]->method, all.r[i]->pattern);
}

/* True when some path matches both patterns: same length, every segment equal or {}. */
static bool overlap(const char *a, const char *b)
{
    char sa[MAX_SEGS][64];
    char sb[MAX_SEGS][64];
    int na = segments(sa, a);
    int nb = segments(sb, b);
    int i;

    if (na != nb)
        return false;
    for (i = 0; i < na; i++)
        if (strcmp(sa[i], sb[i]) != 0 && strcmp(sa[i], "{}") != 0 && strcmp(sb[i], "{}") != 0)
            return false;
    return true;
}

/* The overlap check itself: it flags patterns one path can match, and only those. */
static void test_routes__overlap_check_detects_ambiguity(void **state)
{
    (void)state;
    assert_true(overlap("/api/v1/teams/{}", "/api/v1/{}/import"));
    assert_true(overlap("/webhooks/{}", "/webhooks/github"));
    assert_false(overlap("/api/v1/teams/{}", "/api/v1/people/{}"));
    assert_false(overlap("/webhooks/{}", "/webhooks/{}/{}"));
}

/* No path can reach two handlers of one method: the answer never depends on the order
 * in which the route files were added. */
static void test_routes__no_two_routes_of_a_method_overlap(void **state)
{
    size_t i;
    size_t j;

    (void)state;
    for (i = 0; i < all.n; i++)
        for (j = i + 1; j < all.n; j++)
            if (strcmp(all.r[i]->method, all.r[j]->method) == 0 &&
                overlap(all.r[i]->pattern, all.r[j]->pattern))
                fail_msg("%s %s and %s overlap", all.r[i]->method, all.r[i]->pattern,
                         all.r[j]->pattern);
}

/* Patterns are /api/v1/... or the documented /webhooks/<tracker>[/<connection>]; never
 * the built-ins (/healthz, /readyz, /metrics are answered before routing). */
static void test_routes__patterns_live_under_api_v1_or_webhooks(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < all.n; i++) {
        const char *p = all.r[i]->pattern;

        if (strncmp(p, "/api/v1/", 8) != 0 && strcmp(p, "/webhooks/{}") != 0 &&
            strcmp(p, "/webhooks/{}/{}") != 0)
            fail_msg("%s %s is outside /api/v1/ and /webhooks/", all.r[i]->method, p);
        assert_null(strstr(p, "//"));
        assert_int_not_equal(p[strlen(p) - 1], '/');
    }
}

/* {} is a whole segment, and a pattern has no more captures than the router keeps
 * (PATH_MAX_CAPTURES): a third {} could never match. */
static void test_routes__captures_are_whole_segments_within_the_limit(void **state)
{
    char segs[MAX_SEGS][64];
    size_t i;
    int n;
    int s;

    (void)state;
    for (i = 0; i < all.n; i++) {
        n = segments(segs, all.r[i]->pattern);
        for (s = 0; s < n; s++)
            if (strcmp(segs[s], "{}") != 0 && (strchr(segs[s], '{') || strchr(segs[s], '}')))
                fail_msg("%s: segment \"%s\" is not a whole {}", all.r[i]->pattern, segs[s]);
        assert_true(captures(all.r[i]->pattern) <= PATH_MAX_CAPTURES);
    }
}

/* The path a client would send for the pattern: each {} becomes "42". */
static void example_path(char *out, size_t n, const char *pattern)
{
    char segs[MAX_SEGS][64];
    int ns = segments(segs, pattern);
    size_t o = 0;
    int i;

    out[0] = '\0';
    for (i = 0; i < ns && o < n; i++)
        o += (size_t)snprintf(out + o, n - o, "/%s", strcmp(segs[i], "{}") == 0 ? "42" : segs[i]);
}

/* Each pattern matches a concrete path through the router's own matcher, capturing one
 * value per {}, and the first matching route of that method is the route itself. */
static void test_routes__each_route_is_reachable(void **state)
{
    char path[256];
    size_t i;
    size_t j;

    (void)state;
    for (i = 0; i < all.n; i++) {
        char *caps[PATH_MAX_CAPTURES] = {NULL, NULL};
        int ncaps = 0;

        example_path(path, sizeof(path), all.r[i]->pattern);
        assert_true(path_match(all.r[i]->pattern, path, caps, &ncaps));
        assert_int_equal(ncaps, captures(all.r[i]->pattern));
        for (j = 0; j < (size_t)ncaps; j++) {
            assert_non_null(caps[j]);
            free(caps[j]);
        }
        for (j = 0; j < i; j++) {
            char *c2[PATH_MAX_CAPTURES] = {NULL, NULL};
            int n2 = 0;
            bool hit = path_match(all.r[j]->pattern, path, c2, &n2);

            while (n2 > 0)
                free(c2[--n2]);
            if (hit && strcmp(all.r[j]->method, all.r[i]->method) == 0)
                fail_msg("%s %s is shadowed by %s", all.r[i]->method, path, all.r[j]->pattern);
        }
    }
}

/* A {} naming a resource has a noun, for "no action \"12\"" answers; only the
 * tracker-generic sync routes capture something else (a tracker or connection name). */
static void test_routes__resource_captures_have_a_noun(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < all.n; i++) {
        const struct api_route *r = all.r[i];

        if (captures(r->pattern) == 0 || (is_sync_route(i) && captures_tracker(r->pattern)))
            continue;
        if (r->noun == NULL || r->noun[0] == '\0')
            fail_msg("%s %s captures a resource but has no noun", r->method, r->pattern);
    }
}

/* The noun is the singular of the collection it captures from: teams/{} is a "team". */
static void test_routes__noun_matches_the_collection(void **state)
{
    char segs[MAX_SEGS][64];
    char singular[64];
    size_t i;
    int n;

    (void)state;
    for (i = 0; i < all.n; i++) {
        const struct api_route *r = all.r[i];

        n = segments(segs, r->pattern);
        if (r->noun == NULL || n < 3 || strcmp(segs[0], "api") != 0 || strcmp(segs[2], "{}") == 0)
            continue;
        snprintf(singular, sizeof(singular), "%s", segs[2]);
        if (strcmp(singular, "people") == 0)
            snprintf(singular, sizeof(singular), "person");
        else
            singular[strlen(singular) - 1] = '\0'; /* teams -> team */
        assert_string_equal(r->noun, singular);
    }
}

/* Reading needs a token of at least read scope, changing one of at least write scope;
 * only webhooks (which carry their own signature) are open. */
static void test_routes__scopes_follow_the_method(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < all.n; i++) {
        const struct api_route *r = all.r[i];
        bool hook = strncmp(r->pattern, "/webhooks/", 10) == 0;

        if (hook) {
            assert_int_equal(r->scope, AUTH_NONE);
            assert_string_equal(r->method, "POST");
        } else if (strcmp(r->method, "GET") == 0) {
            assert_true(r->scope >= AUTH_READ);
        } else if (r->scope < AUTH_WRITE) {
            fail_msg("%s %s changes data with scope %s", r->method, r->pattern,
                     auth_scope_name(r->scope));
        }
    }
}

static const struct api_route *find(const char *method, const char *pattern)
{
    size_t i;

    for (i = 0; i < all.n; i++)
        if (strcmp(all.r[i]->method, method) == 0 && strcmp(all.r[i]->pattern, pattern) == 0)
            return all.r[i];
    return NULL;
}

static void expect(const char *method, const char *pattern, enum auth_scope scope)
{
    const struct api_route *r = find(method, pattern);

    if (r == NULL)
        fail_msg("%s %s is not registered", method, pattern);
    assert_int_equal(r->scope, scope);
}

/* The documented resources, each with list, create, get and update. */
static void test_routes__core_resources_are_registered(void **state)
{
    static const char *const verbs[] = {"assign", "unassign", "start", "block",
                                        "done",   "drop",     "reopen"};
    static const char *const coll[] = {"teams", "people", "incidents", "actions"};
    char p[96];
    size_t i;

    (void)state;
    for (i = 0; i < CL_ARRAY_LEN(coll); i++) {
        snprintf(p, sizeof(p), "/api/v1/%s", coll[i]);
        expect("GET", p, AUTH_READ);
        expect("POST", p, AUTH_WRITE);
        snprintf(p, sizeof(p), "/api/v1/%s/{}", coll[i]);
        expect("GET", p, AUTH_READ);
        expect("PATCH", p, AUTH_WRITE);
    }
    expect("GET", "/api/v1/actions/{}/history", AUTH_READ);
    for (i = 0; i < CL_ARRAY_LEN(verbs); i++) {
        snprintf(p, sizeof(p), "/api/v1/actions/{}/%s", verbs[i]);
        expect("POST", p, AUTH_WRITE);
    }
    expect("GET", "/api/v1/reports/{}", AUTH_READ); /* the reports read actions */
    expect("POST", "/api/v1/actions/{}/notes", AUTH_WRITE);
    expect("GET", "/api/v1/incidents/{}/history", AUTH_READ);
    expect("POST", "/api/v1/actions/{}/snooze", AUTH_WRITE);
    expect("GET", "/api/v1/actions/{}/reminder", AUTH_READ);
    assert_int_equal(all.ncore, 4 * 4 + 1 + CL_ARRAY_LEN(verbs) + 1 + 1 + 1 + 2);
}

/* Recording many actions at once and correcting records. */
static void test_routes__records_routes_are_registered(void **state)
{
    (void)state;
    expect("POST", "/api/v1/incidents/{}/actions", AUTH_WRITE);
    expect("POST", "/api/v1/actions/{}/archive", AUTH_WRITE);
    expect("POST", "/api/v1/actions/{}/unarchive", AUTH_WRITE);
    expect("POST", "/api/v1/incidents/{}/archive", AUTH_WRITE);
    expect("POST", "/api/v1/incidents/{}/unarchive", AUTH_WRITE);
    expect("POST", "/api/v1/incidents/{}/rekey", AUTH_WRITE);
    assert_int_equal(all.nrecords, 6);
}

/* The sync routes are registered once for every tracker: their patterns capture the
 * tracker ({}) and never spell a tracker's name. */
static void test_routes__sync_routes_are_generic(void **state)
{
    size_t ntrackers = 0;
    const struct provider_def *const *defs = registry_all(&ntrackers);
    char segs[MAX_SEGS][64];
    size_t i;
    size_t t;
    int n;
    int s;

    (void)state;
    expect("POST", "/api/v1/actions/{}/link", AUTH_WRITE);
    expect("GET", "/api/v1/sync/status", AUTH_READ);
    expect("POST", "/api/v1/{}/import", AUTH_WRITE);
    expect("POST", "/api/v1/{}/doctor", AUTH_WRITE);
    expect("POST", "/webhooks/{}", AUTH_NONE);
    expect("POST", "/webhooks/{}/{}", AUTH_NONE);
    assert_int_equal(all.n - all.ncore - all.nrecords, 6);
    assert_true(ntrackers >= 1);
    for (i = 0; i < all.n; i++) {
        n = segments(segs, all.r[i]->pattern);
        for (s = 0; s < n; s++)
            for (t = 0; t < ntrackers; t++)
                if (strcmp(segs[s], defs[t]->tracker) == 0)
                    fail_msg("%s names tracker %s", all.r[i]->pattern, defs[t]->tracker);
    }
}

/* /api/v1/{}/import takes any segment as a tracker: a tracker named like a resource
 * collection would be unreachable or ambiguous. */
static void test_routes__tracker_names_do_not_collide_with_collections(void **state)
{
    size_t ntrackers = 0;
    const struct provider_def *const *defs = registry_all(&ntrackers);
    char segs[MAX_SEGS][64];
    size_t i;
    size_t t;

    (void)state;
    for (t = 0; t < ntrackers; t++) {
        assert_non_null(defs[t]->tracker);
        assert_true(defs[t]->tracker[0] != '\0');
        assert_null(strchr(defs[t]->tracker, '/'));
        for (i = 0; i < all.n; i++)
            if (segments(segs, all.r[i]->pattern) >= 3 && strcmp(segs[2], defs[t]->tracker) == 0 &&
                strcmp(segs[0], "api") == 0)
                fail_msg("tracker %s collides with %s", defs[t]->tracker, all.r[i]->pattern);
    }
}

/* Route files keep their order: core first, as added, then sync. */
static void test_routes__tables_are_visited_in_the_order_added(void **state)
{
    struct api_deps deps = {0};
    struct api *a = api_new(&deps);
    struct table t = {0};

    (void)state;
    routes_sync_add(a);
    routes_core_add(a);
    routes_records_add(a);
    assert_int_equal(api_routes_each(a, collect, &t), all.n);
    assert_ptr_equal(t.r[0], all.r[all.ncore + all.nrecords]);
    assert_ptr_equal(t.r[all.n - all.ncore - all.nrecords], all.r[0]);
    api_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes__api_without_tables_has_no_routes),
        cmocka_unit_test(test_routes__every_route_is_complete),
        cmocka_unit_test(test_routes__no_duplicate_method_and_pattern),
        cmocka_unit_test(test_routes__overlap_check_detects_ambiguity),
        cmocka_unit_test(test_routes__no_two_routes_of_a_method_overlap),
        cmocka_unit_test(test_routes__patterns_live_under_api_v1_or_webhooks),
        cmocka_unit_test(test_routes__captures_are_whole_segments_within_the_limit),
        cmocka_unit_test(test_routes__each_route_is_reachable),
        cmocka_unit_test(test_routes__resource_captures_have_a_noun),
        cmocka_unit_test(test_routes__noun_matches_the_collection),
        cmocka_unit_test(test_routes__scopes_follow_the_method),
        cmocka_unit_test(test_routes__core_resources_are_registered),
        cmocka_unit_test(test_routes__records_routes_are_registered),
        cmocka_unit_test(test_routes__sync_routes_are_generic),
        cmocka_unit_test(test_routes__tracker_names_do_not_collide_with_collections),
        cmocka_unit_test(test_routes__tables_are_visited_in_the_order_added),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
