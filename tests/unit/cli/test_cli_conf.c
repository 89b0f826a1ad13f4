#include "closeloop/cli/cli_conf.h"

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

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_cli_conf.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/config", f->dir);
    unsetenv("CLOSELOOP_URL");
    unsetenv("CLOSELOOP_TOKEN");
    setenv("CLOSELOOP_CONFIG", f->path, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char home_conf[160];

    snprintf(home_conf, sizeof(home_conf), "%s/.config/closeloop/config", f->dir);
    unlink(home_conf);
    snprintf(home_conf, sizeof(home_conf), "%s/.config/closeloop", f->dir);
    rmdir(home_conf);
    snprintf(home_conf, sizeof(home_conf), "%s/.config", f->dir);
    rmdir(home_conf);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_cli_conf__flags_beat_env_beat_file(void **state)
{
    struct fixture *f = *state;
    struct cli_conf c = {NULL, NULL, ""};
    struct cl_err err = CL_ERR_INIT;

    write_file(f->path, "url = http://file:1\ntoken = file-token\n");
    setenv("CLOSELOOP_URL", "http://env:2", 1);
    setenv("CLOSELOOP_TOKEN", "env-token", 1);
    assert_int_equal(cli_conf_resolve(&c, NULL, "flag-token", &err), CL_OK);
    assert_string_equal(c.url, "http://env:2");
    assert_string_equal(c.token, "flag-token");
    cli_conf_dispose(&c);
    assert_int_equal(cli_conf_resolve(&c, "https://flag:3/", NULL, &err), CL_OK);
    assert_string_equal(c.url, "https://flag:3"); /* trailing '/' dropped */
    assert_string_equal(c.token, "env-token");
    cli_conf_dispose(&c);
    unsetenv("CLOSELOOP_TOKEN");
    assert_int_equal(cli_conf_resolve(&c, NULL, NULL, &err), CL_OK);
    assert_string_equal(c.url, "http://env:2"); /* the file only fills what is missing */
    assert_string_equal(c.token, "file-token");
    cli_conf_dispose(&c);
    unsetenv("CLOSELOOP_URL");
    setenv("CLOSELOOP_TOKEN", "", 1); /* empty counts as unset */
    assert_int_equal(cli_conf_resolve(&c, NULL, NULL, &err), CL_OK);
    assert_string_equal(c.url, "http://file:1");
    assert_string_equal(c.token, "file-token");
    cli_conf_dispose(&c);
    assert_null(c.url);
}

static void test_cli_conf__file_syntax(void **state)
{
    struct fixture *f = *state;
    struct cli_conf c = {NULL, NULL, ""};
    struct cl_err err = CL_ERR_INIT;

    write_file(f->path, "# closeloop\n\n[client]\n  ; old style comment\n"
                        "url=http://old:1\ncolour = never\n"
                        "  url   =  \"http://quoted:9//\"  \ntoken='abc'\n");
    assert_int_equal(cli_conf_resolve(&c, NULL, NULL, &err), CL_OK);
    assert_string_equal(c.url, "http://quoted:9"); /* the last line for a key wins */
    assert_string_equal(c.token, "abc");
    cli_conf_dispose(&c);
}

static void test_cli_conf__defaults_without_file(void **state)
{
    struct fixture *f = *state;
    struct cli_conf c = {NULL, NULL, ""};
    struct cl_err err = CL_ERR_INIT;

    unsetenv("CLOSELOOP_CONFIG");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", f->dir, 1); /* no ~/.config/closeloop/config there: fine */
    assert_int_equal(cli_conf_resolve(&c, NULL, NULL, &err), CL_OK);
    assert_string_equal(c.url, CLI_CONF_DEFAULT_URL);
    assert_null(c.token);
    cli_conf_dispose(&c);
}

static void test_cli_conf__home_file(void **state)
{
    struct fixture *f = *state;
    struct cli_conf c = {NULL, NULL, ""};
    struct cl_err err = CL_ERR_INIT;
    char path[160];

    unsetenv("CLOSELOOP_CONFIG");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", f->dir, 1);
    snprintf(path, sizeof(path), "%s/.config", f->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/.config/closeloop", f->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/.config/closeloop/config", f->dir);
    write_file(path, "token = from-home\n");
    assert_int_equal(cli_conf_resolve(&c, NULL, NULL, &err), CL_OK);
    assert_string_equal(c.token, "from-home");
    cli_conf_dispose(&c);
}

static void test_cli_conf__xdg_config_home_wins_over_home(void **state)
{
    struct fixture *f = *state;
    struct cli_conf c = {NULL, NULL, ""};
    struct cl_err err = CL_ERR_INIT;
    char path[160];

    unsetenv("CLOSELOOP_CONFIG");
    setenv("HOME", "/nonexistent", 1);
    setenv("XDG_CONFIG_HOME", f->dir, 1);
    snprintf(path, sizeof(path), "%s/closeloop", f->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/closeloop/config", f->dir);
    write_file(path, "token = from-xdg\n");
    assert_int_equal(cli_conf_resolve(&c, NULL, NULL, &err), CL_OK);
    unsetenv("XDG_CONFIG_HOME");
    assert_string_equal(c.token, "from-xdg");
    cli_conf_dispose(&c);
}

static void test_cli_conf__named_file_must_exist(void **state)
{
    struct fixture *f = *state;
    struct cli_conf c = {NULL, NULL, ""};
    struct cl_err err = CL_ERR_INIT;
    char want[200];

    assert_int_equal(cli_conf_resolve(&c, NULL, NULL, &err), CL_EINVAL);
    snprintf(want, sizeof(want), "cannot read config %s: No such file or directory", f->path);
    assert_string_equal(err.msg, want);
    assert_null(c.url); /* *out untouched on failure */
    /* both flags given: the file is not needed, so not read */
    cl_err_clear(&err);
    assert_int_equal(cli_conf_resolve(&c, "http://a", "t", &err), CL_OK);
    cli_conf_dispose(&c);
}

static void test_cli_conf__bad_lines(void **state)
{
    struct fixture *f = *state;
    struct cli_conf c = {NULL, NULL, ""};
    struct cl_err err = CL_ERR_INIT;
    char want[200];
    char *long_line = calloc(1, CLI_CONF_LINE_MAX + 10);

    write_file(f->path, "url = http://x\njust words\n");
    assert_int_equal(cli_conf_resolve(&c, NULL, NULL, &err), CL_EINVAL);
    snprintf(want, sizeof(want), "%s:2: expected 'key = value'", f->path);
    assert_string_equal(err.msg, want);
    memset(long_line, 'x', CLI_CONF_LINE_MAX + 5);
    write_file(f->path, long_line);
    cl_err_clear(&err);
    assert_int_equal(cli_conf_resolve(&c, NULL, NULL, &err), CL_EINVAL);
    snprintf(want, sizeof(want), "%s:1: line or file too long", f->path);
    assert_string_equal(err.msg, want);
    free(long_line);
}

static void test_cli_conf__checks_url_and_token(void **state)
{
    struct cli_conf c = {NULL, NULL, ""};
    struct cl_err err = CL_ERR_INIT;

    (void)state;
    assert_int_equal(cli_conf_resolve(&c, "ftp://x", "t", &err), CL_EINVAL);
    assert_string_equal(err.msg, "the service URL must be http:// or https://, not 'ftp://x'");
    cl_err_clear(&err);
    assert_int_equal(cli_conf_resolve(&c, "http://x y", "t", &err), CL_EINVAL);
    cl_err_clear(&err);
    assert_int_equal(cli_conf_resolve(&c, "http://x", "secret value\r\nX: y", &err), CL_EINVAL);
    assert_null(strstr(err.msg, "secret")); /* the token is never shown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli_conf__flags_beat_env_beat_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_conf__file_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_conf__defaults_without_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_conf__home_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_conf__xdg_config_home_wins_over_home, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cli_conf__named_file_must_exist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_conf__bad_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_conf__checks_url_and_token, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
