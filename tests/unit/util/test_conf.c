#include "closeloop/util/conf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char *write_tmp(const char *text)
{
    char *path = cl_strdup("/tmp/closeloop-conf-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");

    fputs(text, f);
    fclose(f);
    return path;
}

/* A tracker of the tests' own: the configuration knows trackers only from such tables. */
static const struct conf_key test_keys[] = {{"url", "https://tracker.example", false},
                                            {"token", "", true}};
static const char *const test_aliases[] = {"owners", "scopes", NULL};
static const struct conf_tracker test_tracker = {"acme", test_keys, 2, test_aliases};
static const struct conf_tracker *const trackers[] = {&test_tracker};

static void test_conf__defaults(void **state)
{
    struct conf *c = conf_new_defaults(trackers, 1);

    (void)state;
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_int_equal(c->pool_size, 8);
    assert_int_equal(c->max_body, 1048576);
    conf_free(c);
}

static void test_conf__file_env_order(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct conf *c = conf_new_defaults(trackers, 1);
    char *path = write_tmp("# comment\n[closeloopd]\nlisten = 0.0.0.0:9000\n"
                           "pool_size=3\nlog_level = \"debug\"\n");

    (void)state;
    assert_int_equal(conf_load_file(c, path, &err), CL_OK);
    assert_string_equal(c->listen, "0.0.0.0:9000");
    assert_int_equal(c->pool_size, 3);
    assert_string_equal(c->log_level, "debug");
    setenv("CLOSELOOP_POOL_SIZE", "5", 1);
    assert_int_equal(conf_load_env(c, &err), CL_OK);
    unsetenv("CLOSELOOP_POOL_SIZE");
    assert_int_equal(c->pool_size, 5);
    unlink(path);
    free(path);
    conf_free(c);
}

static void test_conf__rejects_bad_values(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct conf *c = conf_new_defaults(trackers, 1);
    char *path = write_tmp("listen = x:1\nbogus = 1\n");

    (void)state;
    assert_int_equal(conf_load_file(c, path, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, ":2: unknown key \"bogus\""));
    cl_err_clear(&err);
    assert_int_equal(conf_set(c, "pool_size", "0", "test", &err), CL_EINVAL);
    cl_err_clear(&err);
    assert_int_equal(conf_set(c, "request_timeout", "abc", "test", &err), CL_EINVAL);
    cl_err_clear(&err);
    assert_int_equal(conf_set(c, "log_level", "loud", "test", &err), CL_EINVAL);
    cl_err_clear(&err);
    assert_int_equal(conf_validate(c, &err), CL_EINVAL); /* database_url unset */
    unlink(path);
    free(path);
    conf_free(c);
}

static void test_conf__split_listen(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    char *host = NULL;
    int port = 0;

    (void)state;
    assert_int_equal(conf_split_listen(&host, &port, "[::1]:8080", &err), CL_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8080);
    free(host);
    assert_int_equal(conf_split_listen(&host, &port, "localhost", &err), CL_EINVAL);
    cl_err_clear(&err);
    assert_int_equal(conf_split_listen(&host, &port, "h:70000", &err), CL_EINVAL);
}

static void test_conf__print_hides_secret(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct conf *c = conf_new_defaults(trackers, 1);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    assert_int_equal(conf_set(c, "database_url", "postgresql://u:hunter2@h/db", "t", &err), 0);
    conf_print(c, f);
    fclose(f);
    assert_null(strstr(text, "hunter2"));
    assert_non_null(strstr(text, "(set)"));
    free(text);
    conf_free(c);
}

/* Connections: the tracker's default one by prefixed keys and environment variables,
 * more by sections; neutral keys, the tracker's own, and its old names. */
static void test_conf__tracker_connections(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct conf *c = conf_new_defaults(trackers, 1);
    char *path = write_tmp("acme_token = t1\nacme_poll_interval = 5\n[acme.second]\n"
                           "url = https://two.example\ntoken = t2\nowners = a, B\n");
    const struct conf_conn *two;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    assert_int_equal(conf_load_file(c, path, &err), CL_OK);
    setenv("CLOSELOOP_ACME_TIMEOUT", "7", 1);
    assert_int_equal(conf_load_env(c, &err), CL_OK);
    unsetenv("CLOSELOOP_ACME_TIMEOUT");
    assert_int_equal(c->nconns, 2);
    assert_string_equal(conf_conn_get(&c->conns[0], "token"), "t1");
    assert_string_equal(conf_conn_get(&c->conns[0], "url"), "https://tracker.example");
    assert_true(c->conns[0].poll_interval == 5.0 && c->conns[0].timeout == 7.0);
    two = conf_conn_named(c, "acme", "second");
    assert_non_null(two);
    assert_string_equal(conf_conn_get(two, "url"), "https://two.example");
    assert_string_equal(two->scopes, "a, B");
    assert_null(conf_conn_named(c, "other", "second"));
    f = open_memstream(&text, &len);
    conf_print(c, f);
    fclose(f);
    assert_non_null(strstr(text, "[acme.second]\n"));
    assert_null(strstr(text, "t2"));
    free(text);
    assert_int_equal(conf_set(c, "acme_nope", "1", "t", &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "unknown acme key \"nope\""));
    cl_err_clear(&err);
    assert_int_equal(conf_set(c, "zzz_token", "1", "t", &err), CL_EINVAL);
    unlink(path);
    free(path);
    conf_free(c);
}

static void test_conf__unknown_section(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct conf *c = conf_new_defaults(trackers, 1);
    char *path = write_tmp("[nope.x]\ntoken = 1\n");

    (void)state;
    assert_int_equal(conf_load_file(c, path, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, ":1: unknown section [nope.x]"));
    unlink(path);
    free(path);
    conf_free(c);
}

static void test_conf__due_section(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct conf *c = conf_new_defaults(trackers, 1);
    char *path = write_tmp("[closeloopd]\npool_size = 3\n[due]\nP0 = 2d\npreventive.P3 = none\n"
                           "[closeloopd]\nmax_body = 2048\n");
    char *bad = write_tmp("[due]\nP1 = 14\n");

    (void)state;
    assert_int_equal(conf_load_file(c, path, &err), CL_OK);
    assert_int_equal(due_policy_days(&c->due, "corrective", "P0"), 2);
    assert_int_equal(due_policy_days(&c->due, "preventive", "P3"), DUE_NONE);
    assert_int_equal(due_policy_days(&c->due, "corrective", "P3"), 60);
    assert_int_equal(c->max_body, 2048); /* a later section is the top level again */
    assert_int_equal(conf_set(c, "due.P1", "1w", "command line", &err), CL_OK);
    assert_int_equal(due_policy_days(&c->due, "corrective", "P1"), 7);
    assert_int_equal(conf_load_file(c, bad, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, ":2: [due] P1 = \"14\""));
    unlink(path);
    unlink(bad);
    free(path);
    free(bad);
    conf_free(c);
}

/* [smtp]: "url" is smtp_url; bad values are refused with file:line; the password is a
 * secret (never printed; a world-readable file holding it is refused). */
static void test_conf__smtp_section(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    struct conf *c = conf_new_defaults(trackers, 1);
    char *path =
        write_tmp("[smtp]\nurl = smtps://mail.example:465\nfrom = Ops Bot <ops@example.org>\n"
                  "tls = required\nretry_base = 0.5\n[closeloopd]\npool_size = 2\n");
    char *bad_url = write_tmp("[smtp]\n\nurl = http://mail.example\n");
    char *bad_tls = write_tmp("smtp_tls = maybe\n");
    char *bad_from = write_tmp("[smtp]\nfrom = Ops <not-an-address>\n");
    char *secret = write_tmp("[smtp]\npassword = hunter2\n");
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    assert_int_equal(conf_load_file(c, path, &err), CL_OK);
    assert_string_equal(c->smtp_url, "smtps://mail.example:465");
    assert_string_equal(c->smtp_from, "Ops Bot <ops@example.org>");
    assert_string_equal(c->smtp_tls, "required");
    assert_true(c->smtp_retry_base == 0.5);
    assert_int_equal(c->pool_size, 2);
    assert_int_equal(conf_load_file(c, bad_url, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, ":3: smtp_url must be"));
    cl_err_clear(&err);
    assert_int_equal(conf_load_file(c, bad_tls, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, ":1: smtp_tls must be none, try or required"));
    cl_err_clear(&err);
    assert_int_equal(conf_load_file(c, bad_from, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, ":2: smtp_from"));
    cl_err_clear(&err);
    chmod(secret, 0644);
    assert_int_equal(conf_load_file(c, secret, &err), CL_EINVAL);
    assert_non_null(strstr(err.msg, "smtp_password"));
    cl_err_clear(&err);
    assert_int_equal(conf_set(c, "smtp_password", "hunter2", "t", &err), CL_OK);
    f = open_memstream(&text, &len);
    conf_print(c, f);
    fclose(f);
    assert_null(strstr(text, "hunter2"));
    assert_non_null(strstr(text, "smtp_password       = (set)"));
    free(text);
    assert_int_equal(conf_set(c, "smtp_url", "", "t", &err), CL_OK); /* empty: mail off */
    assert_int_equal(conf_set(c, "database_url", "postgresql:///x", "t", &err), CL_OK);
    assert_int_equal(conf_validate(c, &err), CL_OK);
    assert_int_equal(conf_set(c, "smtp_url", "smtp://m.example", "t", &err), CL_OK);
    assert_int_equal(conf_set(c, "smtp_from", "", "t", &err), CL_OK);
    assert_int_equal(conf_validate(c, &err), CL_EINVAL); /* a server but no sender */
    unlink(path);
    unlink(bad_url);
    unlink(bad_tls);
    unlink(bad_from);
    unlink(secret);
    free(path);
    free(bad_url);
    free(bad_tls);
    free(bad_from);
    free(secret);
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf__tracker_connections),
        cmocka_unit_test(test_conf__unknown_section),
        cmocka_unit_test(test_conf__defaults),
        cmocka_unit_test(test_conf__file_env_order),
        cmocka_unit_test(test_conf__rejects_bad_values),
        cmocka_unit_test(test_conf__split_listen),
        cmocka_unit_test(test_conf__print_hides_secret),
        cmocka_unit_test(test_conf__due_section),
        cmocka_unit_test(test_conf__smtp_section),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
