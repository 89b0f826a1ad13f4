#include "closeloop/cli/cli_cmd.h"

#include "closeloop/util/cl.h"
#include "closeloop/util/version.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define TOKEN "tok-secret-42"

/* --- a fake closeloopd: one child process answering canned routes ---------------------- */

struct route {
    const char *prefix; /* start of the request line, e.g. "GET /api/v1/actions?" */
    int status;
    const char *body;
};

/* The running fake, killed by the per-test teardown should an assertion end a test early. */
static pid_t live_fake;

struct fake {
    pid_t pid;
    char url[64];
    char log[64]; /* every request, as received, separated by "\n----\n" */
};

/* Reads one request (head and Content-Length body) into buf; its length, or -1. */
static ssize_t read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    char *end = NULL;
    const char *cl;
    size_t want;

    while (end == NULL && len < cap - 1) {
        n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (end == NULL)
        return -1;
    cl = strstr(buf, "\r\nContent-Length: ");
    want = (size_t)(end + 4 - buf) + (cl != NULL && cl < end ? strtoul(cl + 18, NULL, 10) : 0);
    while (len < want && len < cap - 1) {
        n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

static void answer(int fd, const struct route *routes, size_t n, const char *req)
{
    const struct route *r = NULL;
    char head[256];
    size_t i;

    for (i = 0; i < n && r == NULL; i++) {
        if (strncmp(req, routes[i].prefix, strlen(routes[i].prefix)) == 0)
            r = &routes[i];
    }
    if (r == NULL) {
        static const struct route none = {"", 404, "{\"error\":{\"message\":\"no route\"}}"};
        r = &none;
    }
    snprintf(head, sizeof(head),
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             r->status, strlen(r->body));
    if (write(fd, head, strlen(head)) < 0 || write(fd, r->body, strlen(r->body)) < 0)
        _exit(1);
}

static void serve(int lfd, const char *log, const struct route *routes, size_t n)
{
    static char req[65536];
    ssize_t len;
    int fd;
    int lf;

    for (;;) {
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            _exit(1);
        len = read_request(fd, req, sizeof(req));
        lf = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
        if (len > 0 && lf >= 0 && (write(lf, req, (size_t)len) < 0 || write(lf, "\n----\n", 6) < 0))
            _exit(1);
        close(lf);
        if (len > 0)
            answer(fd, routes, n, req);
        close(fd);
    }
}

static void fake_start(struct fake *f, const struct route *routes, size_t n)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int fd;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    snprintf(f->log, sizeof(f->log), "/tmp/test_cli_cmd.XXXXXX");
    fd = mkstemp(f->log);
    assert_true(fd >= 0);
    close(fd);
    fflush(NULL);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        /* die with the test, and hold no pipe of whoever runs it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fd = open("/dev/null", O_WRONLY);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        serve(lfd, f->log, routes, n);
    }
    live_fake = f->pid;
    close(lfd);
}

/* Stops the server and returns what it received. Caller frees. */
static char *fake_stop(struct fake *f)
{
    FILE *in = fopen(f->log, "r");
    char *text = calloc(1, 1 << 20);
    size_t n;

    kill(f->pid, SIGTERM);
    waitpid(f->pid, NULL, 0);
    live_fake = 0;
    assert_non_null(in);
    n = fread(text, 1, (1 << 20) - 1, in);
    text[n] = '\0';
    fclose(in);
    unlink(f->log);
    return text;
}

/* --- running the command ------------------------------------------------------------------ */

struct run {
    int code;
    char *out;
    char *err;
};

static struct run run_argv(int argc, char **argv, const char *stdin_text)
{
    struct run r = {0, NULL, NULL};
    size_t olen = 0;
    size_t elen = 0;
    static char empty[] = "";
    struct cli_cmd_io io;

    io.in = stdin_text != NULL ? fmemopen((void *)stdin_text, strlen(stdin_text), "r")
                               : fmemopen(empty, 0, "r");
    io.out = open_memstream(&r.out, &olen);
    io.err = open_memstream(&r.err, &elen);
    io.color = false;
    io.width = 0; /* as when piped */
    r.code = cli_cmd_run(argc, argv, &io);
    fclose(io.in);
    fclose(io.out);
    fclose(io.err);
    /* the token must never be printed, whatever happened */
    assert_null(strstr(r.out, TOKEN));
    assert_null(strstr(r.err, TOKEN));
    return r;
}

#define RUN(stdin_text, ...)                                                                       \
    run_argv((int)(sizeof((char *[]){"closeloop", __VA_ARGS__}) / sizeof(char *)),                 \
             (char *[]){"closeloop", __VA_ARGS__, NULL}, (stdin_text))

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static int setup(void **state)
{
    (void)state;
    setenv("CLOSELOOP_CONFIG", "/dev/null", 1);
    setenv("CLOSELOOP_TOKEN", TOKEN, 1);
    unsetenv("CLOSELOOP_URL");
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

static int kill_fake(void **state)
{
    (void)state;
    if (live_fake > 0) {
        kill(live_fake, SIGKILL);
        waitpid(live_fake, NULL, 0);
        live_fake = 0;
    }
    return 0;
}

/* --- tests --------------------------------------------------------------------------------- */

static void test_cli_cmd__help_and_version_exit_0(void **state)
{
    struct run r = RUN(NULL, "action", "edit", "--help");

    (void)state;
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: closeloop action edit ID [options]"));
    assert_string_equal(r.err, "");
    run_free(&r);
    r = RUN(NULL, "--version");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "closeloop " CL_VERSION "\n");
    run_free(&r);
    r = RUN(NULL, "incident", "-h");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: closeloop incident <verb>"));
    run_free(&r);
}

static void test_cli_cmd__help_verb_says_what_help_flag_says(void **state)
{
    static const char *const words[][2] = {{"action", "add"}, {"incident", NULL}, {NULL, NULL}};
    struct run flag;
    struct run verb;
    size_t i;

    (void)state;
    for (i = 0; i < CL_ARRAY_LEN(words); i++) {
        if (words[i][0] == NULL) {
            flag = RUN(NULL, "--help");
            verb = RUN(NULL, "help");
        } else if (words[i][1] == NULL) {
            flag = RUN(NULL, (char *)words[i][0], "--help");
            verb = RUN(NULL, "help", (char *)words[i][0]);
        } else {
            flag = RUN(NULL, (char *)words[i][0], (char *)words[i][1], "--help");
            verb = RUN(NULL, "help", (char *)words[i][0], (char *)words[i][1]);
        }
        assert_int_equal(verb.code, 0);
        assert_true(strlen(verb.out) > 40);
        assert_string_equal(verb.out, flag.out);
        assert_string_equal(verb.err, "");
        run_free(&flag);
        run_free(&verb);
    }
}

static void test_cli_cmd__bare_closeloop_is_a_short_usage_on_stderr(void **state)
{
    struct run r;

    (void)state;
    r = run_argv(1, (char *[]){"closeloop", NULL}, NULL);
    assert_int_equal(r.code, 2);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "groups: team person incident action report"));
    assert_non_null(strstr(r.err, "  action list "));
    assert_non_null(strstr(r.err, "see 'closeloop help'"));
    run_free(&r);
}

static void test_cli_cmd__did_you_mean_exits_2_and_sends_nothing(void **state)
{
    struct fake f;
    struct run r;
    char *log;

    (void)state;
    fake_start(&f, NULL, 0);
    r = RUN(NULL, "--url", f.url, "acton", "list");
    assert_int_equal(r.code, 2);
    assert_string_equal(r.err, "closeloop: unknown command 'acton'; did you mean 'action'?\n"
                               "try 'closeloop --help'\n");
    run_free(&r);
    r = RUN(NULL, "--url", f.url, "action", "lsit");
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "unknown verb 'lsit' for action; did you mean 'list'?"));
    run_free(&r);
    r = RUN(NULL, "--url", f.url, "action", "list", "--ownr", "al");
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "unknown option --ownr; did you mean --owner?"));
    run_free(&r);
    r = RUN(NULL, "help", "acton");
    assert_int_equal(r.code, 2);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "did you mean 'action'?"));
    run_free(&r);
    r = RUN(NULL, "help", "action", "ad");
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "did you mean 'add'?"));
    run_free(&r);
    log = fake_stop(&f);
    assert_string_equal(log, ""); /* no request reached the server */
    free(log);
}

static void test_cli_cmd__usage_errors_exit_2_and_send_nothing(void **state)
{
    struct fake f;
    struct run r;
    char *log;

    (void)state;
    fake_start(&f, NULL, 0);
    r = RUN(NULL, "action", "add", "--url", f.url, "--incident", "I", "--kind", "foo", "--title",
            "t");
    assert_int_equal(r.code, 2);
    assert_string_equal(r.err, "closeloop: --kind must be corrective or preventive, not 'foo'\n"
                               "try 'closeloop action add --help'\n");
    assert_string_equal(r.out, "");
    run_free(&r);
    r = RUN(NULL, "--url", f.url, "action", "edit", "5", "--if-version", "2");
    assert_int_equal(r.code, 2);
    assert_string_equal(r.err, "closeloop: nothing to change: give at least one option\n"
                               "try 'closeloop action edit --help'\n");
    run_free(&r);
    r = RUN(NULL, "--url", f.url, "frob");
    assert_int_equal(r.code, 2);
    assert_string_equal(r.err, "closeloop: unknown command 'frob'\ntry 'closeloop --help'\n");
    run_free(&r);
    r = RUN(NULL, "--url", "ftp://x", "team", "list");
    assert_int_equal(r.code, 2);
    run_free(&r);
    log = fake_stop(&f);
    assert_string_equal(log, ""); /* no request reached the server */
    free(log);
}

static void test_cli_cmd__action_add_sends_headers_and_prints_the_id(void **state)
{
    static const struct route routes[] = {
        {"POST /api/v1/actions ", 201, "{\"id\":17,\"title\":\"Fix\",\"status\":\"open\"}"}};
    struct fake f;
    struct run r;
    char *log;

    (void)state;
    fake_start(&f, routes, 1);
    r = RUN("details\n", "action", "add", "--url", f.url, "--incident", "INC-1", "--kind",
            "corrective", "--title", "Fix", "--due", "2099-05-01", "--description", "-");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "17\n");
    assert_string_equal(r.err, "");
    run_free(&r);
    r = RUN(NULL, "--json", "action", "add", "--url", f.url, "--incident", "INC-1", "--kind",
            "preventive", "--title", "Fix");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out,
                        "{\n  \"id\": 17,\n  \"title\": \"Fix\",\n  \"status\": \"open\"\n}\n");
    run_free(&r);
    log = fake_stop(&f);
    assert_true(strncmp(log, "POST /api/v1/actions HTTP/1.1\r\n", 31) == 0);
    assert_non_null(strstr(log, "\r\nAuthorization: Bearer " TOKEN "\r\n"));
    assert_non_null(strstr(log, "\r\nX-Closeloop-Source: cli\r\n"));
    assert_non_null(strstr(log, "\r\nUser-Agent: closeloop-cli/0.1\r\n"));
    assert_non_null(strstr(log, "\r\nAccept: application/json\r\n"));
    assert_non_null(strstr(log, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(log, "\r\n\r\n{\"incident\":\"INC-1\",\"kind\":\"corrective\","
                                "\"title\":\"Fix\",\"due_on\":\"2099-05-01\","
                                "\"description\":\"details\\n\"}"));
    assert_non_null(strstr(log, "\"kind\":\"preventive\",\"title\":\"Fix\"}"));
    free(log);
}

static void test_cli_cmd__server_answers_map_to_exit_codes(void **state)
{
    static const struct route routes[] = {
        {"GET /api/v1/actions/1 ", 422,
         "{\"error\":{\"code\":\"validation\",\"message\":\"bad thing\",\"field\":\"due_on\"}}"},
        {"GET /api/v1/actions/2 ", 401,
         "{\"error\":{\"code\":\"unauthorized\",\"message\":\"x\"}}"},
        {"GET /api/v1/actions/3 ", 503,
         "{\"error\":{\"code\":\"unavailable\",\"message\":\"db\"}}"},
        {"GET /api/v1/actions/4 ", 200, "not json"}};
    struct fake f;
    struct run r;

    (void)state;
    fake_start(&f, routes, CL_ARRAY_LEN(routes));
    setenv("CLOSELOOP_URL", f.url, 1);
    r = RUN(NULL, "action", "show", "1");
    assert_int_equal(r.code, 1);
    assert_string_equal(r.err, "closeloop: bad thing (field due_on)\n");
    run_free(&r);
    r = RUN(NULL, "action", "show", "2");
    assert_int_equal(r.code, 3);
    assert_string_equal(r.err, "closeloop: token rejected: set CLOSELOOP_TOKEN or "
                               "~/.config/closeloop/config\n");
    run_free(&r);
    r = RUN(NULL, "action", "show", "3");
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "failed with HTTP 503: db"));
    run_free(&r);
    r = RUN(NULL, "action", "show", "4");
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "closeloop: unreadable answer from"));
    run_free(&r);
    unsetenv("CLOSELOOP_URL");
    free(fake_stop(&f));
}

static void test_cli_cmd__list_follows_pages_up_to_the_limit(void **state)
{
    static const struct route routes[] = {
        {"GET /api/v1/actions?status=open,blocked&limit=3 ", 200,
         "{\"items\":[{\"id\":1,\"status\":\"open\",\"title\":\"a\"},"
         "{\"id\":2,\"status\":\"blocked\",\"title\":\"b\"}],\"next_cursor\":\"c 1\"}"},
        {"GET /api/v1/actions?status=open,blocked&limit=1&cursor=c%201 ", 200,
         "{\"items\":[{\"id\":3,\"status\":\"open\",\"title\":\"c\"}],\"next_cursor\":\"c2\"}"}};
    struct fake f;
    struct run r;
    char *log;

    (void)state;
    fake_start(&f, routes, CL_ARRAY_LEN(routes));
    r = RUN(NULL, "action", "list", "--url", f.url, "--status", "open,blocked", "--limit", "3");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "ID  STATUS   DUE  PRI  KIND  OWNER  INCIDENT  TITLE\n"
                               "1   open     -    -    -     -      -         a\n"
                               "2   blocked  -    -    -     -      -         b\n"
                               "3   open     -    -    -     -      -         c\n");
    assert_string_equal(r.err, "closeloop: showing the first 3 rows; the server has more "
                               "(raise --limit or narrow the filters)\n");
    run_free(&r);
    r = RUN(NULL, "action", "list", "--json", "--url", f.url, "--status", "open,blocked", "--limit",
            "3");
    assert_int_equal(r.code, 0);
    assert_true(r.out[0] == '[');
    assert_non_null(strstr(r.out, "\"id\": 3"));
    run_free(&r);
    log = fake_stop(&f);
    assert_non_null(strstr(log, "cursor=c%201 HTTP/1.1"));
    free(log);
}

static void test_cli_cmd__incident_show_fetches_its_actions(void **state)
{
    static const struct route routes[] = {
        {"GET /api/v1/incidents/INC-7 ", 200, "{\"key\":\"INC-7\",\"title\":\"Outage\"}"},
        {"GET /api/v1/actions?incident=INC-7&limit=500 ", 200,
         "{\"items\":[{\"id\":9,\"status\":\"done\",\"title\":\"x\"}],\"next_cursor\":null}"}};
    struct fake f;
    struct run r;

    (void)state;
    fake_start(&f, routes, CL_ARRAY_LEN(routes));
    r = RUN(NULL, "incident", "show", "INC-7", "--url", f.url);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "key:          INC-7\ntitle:        Outage\n"));
    assert_non_null(strstr(r.out, "\nID  STATUS  DUE  PRI  KIND  OWNER  INCIDENT  TITLE\n"
                                  "9   done    -    -    -     -      -         x\n"));
    run_free(&r);
    r = RUN(NULL, "incident", "show", "INC-7", "--url", f.url, "--json");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "\"incident\": {\n    \"key\": \"INC-7\""));
    assert_non_null(strstr(r.out, "\"actions\": [\n    {\n      \"id\": 9"));
    run_free(&r);
    free(fake_stop(&f));
}

static void test_cli_cmd__edit_and_status_changes(void **state)
{
    static const struct route routes[] = {
        {"PATCH /api/v1/actions/5 ", 200, "{\"id\":5,\"status\":\"open\",\"due_on\":null}"},
        {"POST /api/v1/actions/5/start ", 409,
         "{\"error\":{\"code\":\"version_conflict\",\"message\":\"version is 4\"}}"}};
    struct fake f;
    struct run r;
    char *log;

    (void)state;
    fake_start(&f, routes, CL_ARRAY_LEN(routes));
    r = RUN(NULL, "action", "edit", "5", "--due", "none", "--if-version", "3", "--url", f.url);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "due:       -\n"));
    run_free(&r);
    r = RUN(NULL, "action", "start", "5", "--if-version", "3", "--url", f.url);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.err, "closeloop: version is 4\n");
    run_free(&r);
    log = fake_stop(&f);
    assert_non_null(strstr(log, "PATCH /api/v1/actions/5 HTTP/1.1\r\n"));
    assert_non_null(strstr(log, "\r\nIf-Match: \"3\"\r\n"));
    assert_non_null(strstr(log, "\r\n\r\n{\"due_on\":null}"));
    assert_non_null(strstr(log, "POST /api/v1/actions/5/start HTTP/1.1\r\n"));
    assert_non_null(strstr(log, "\r\n\r\n{}"));
    free(log);
}

static void test_cli_cmd__no_token_or_no_server_exit_3(void **state)
{
    struct run r;

    (void)state;
    unsetenv("CLOSELOOP_TOKEN");
    r = RUN(NULL, "team", "list", "--url", "http://127.0.0.1:1");
    assert_int_equal(r.code, 3);
    assert_string_equal(r.err, "closeloop: no token: set CLOSELOOP_TOKEN or "
                               "~/.config/closeloop/config, or pass --token\n");
    run_free(&r);
    r = RUN(NULL, "team", "list", "--url", "http://127.0.0.1:1", "--token", TOKEN);
    assert_int_equal(r.code, 3);
    assert_string_equal(r.err, "closeloop: cannot reach http://127.0.0.1:1: is closeloopd "
                               "running? (make run)\n");
    run_free(&r);
    setenv("CLOSELOOP_TOKEN", TOKEN, 1);
}

/* How many times needle occurs in haystack. */
static size_t count_of(const char *haystack, const char *needle)
{
    size_t n = 0;
    const char *p = haystack;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static void test_cli_cmd__action_link_posts_the_issue(void **state)
{
    static const struct route routes[] = {
        {"POST /api/v1/actions/5/link ", 200,
         "{\"id\":5,\"status\":\"open\",\"title\":\"Fix\",\"sync\":{\"tracker\":\"github\","
         "\"repo\":\"acme/api\",\"number\":12,\"url\":\"https://github.com/acme/api/issues/12\","
         "\"state\":\"linked\",\"last_error\":null,\"warning\":null,"
         "\"synced_at\":\"2026-03-10T11:57:00Z\",\"pending\":0}}"},
        {"POST /api/v1/actions/6/link ", 409,
         "{\"error\":{\"code\":\"duplicate\",\"message\":\"action 6 is already linked\"}}"}};
    struct fake f;
    struct run r;
    char *log;

    (void)state;
    fake_start(&f, routes, CL_ARRAY_LEN(routes));
    r = RUN(NULL, "action", "link", "5", "acme/api", "--url", f.url);
    assert_int_equal(r.code, 2);
    assert_string_equal(r.err, "closeloop: ISSUE must be owner/repo#NUMBER or PROJ-NUMBER, not "
                               "'acme/api'\n"
                               "try 'closeloop action link --help'\n");
    run_free(&r);
    r = RUN(NULL, "action", "link", "5", "acme/api#12", "--url", f.url);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "\nclosed:    -\n"
                                  "github:    acme/api#12  https://github.com/acme/api/issues/12\n"
                                  "sync:      linked (synced 2026-03-10T11:57:00Z)\n"));
    assert_null(strstr(r.out, "pending:"));
    assert_string_equal(r.err, "");
    run_free(&r);
    r = RUN(NULL, "action", "link", "6", "acme/api#3", "--url", f.url);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.err, "closeloop: action 6 is already linked\n");
    run_free(&r);
    log = fake_stop(&f);
    assert_int_equal(count_of(log, "POST /api/v1/actions/"), 2); /* the bad issue sent nothing */
    assert_non_null(strstr(log, "POST /api/v1/actions/5/link HTTP/1.1\r\n"));
    assert_non_null(strstr(log, "\r\n\r\n{\"issue\":\"acme/api#12\"}"));
    assert_non_null(strstr(log, "\r\n\r\n{\"issue\":\"acme/api#3\"}"));
    free(log);
}

/* Runs "github doctor acme/api" (with --json when asked) against a fake answering doctor with
 * status and body; returns what the fake received. Caller frees both. */
static char *doctor_run(struct run *r, int status, const char *body, bool json)
{
    const struct route routes[] = {{"POST /api/v1/github/doctor ", status, body}};
    struct fake f;

    fake_start(&f, routes, 1);
    if (json)
        *r = RUN(NULL, "github", "doctor", "acme/api", "--json", "--url", f.url);
    else
        *r = RUN(NULL, "github", "doctor", "acme/api", "--url", f.url);
    return fake_stop(&f);
}

static void test_cli_cmd__github_doctor_exit_codes(void **state)
{
    static const char good[] =
        "{\"ok\":true,\"checks\":[{\"name\":\"credentials\",\"ok\":true,\"detail\":\"app 42\"},"
        "{\"name\":\"labels\",\"ok\":true,\"detail\":\"3 present\"}]}";
    static const char bad[] =
        "{\"ok\":false,\"checks\":[{\"name\":\"credentials\",\"ok\":true,\"detail\":\"app 42\"},"
        "{\"name\":\"permissions\",\"ok\":false,\"detail\":\"issues: read, need write\"}]}";
    struct run r;
    char *log;

    (void)state;
    log = doctor_run(&r, 200, good, false);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "ok   credentials  app 42\n"
                               "ok   labels       3 present\n");
    assert_string_equal(r.err, "");
    assert_true(strncmp(log, "POST /api/v1/github/doctor HTTP/1.1\r\n", 37) == 0);
    assert_non_null(strstr(log, "\r\n\r\n{\"repo\":\"acme/api\"}"));
    run_free(&r);
    free(log);
    log = doctor_run(&r, 200, bad, false);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.out, "ok   credentials  app 42\n"
                               "FAIL permissions  issues: read, need write\n");
    assert_string_equal(r.err, "closeloop: 1 of 2 checks failed\n");
    run_free(&r);
    free(log);
    /* scripts get the same verdict with --json */
    free(doctor_run(&r, 200, bad, true));
    assert_int_equal(r.code, 1);
    assert_true(strncmp(r.out, "{\n  \"ok\": false,\n", 17) == 0);
    run_free(&r);
    free(doctor_run(&r, 200, good, true));
    assert_int_equal(r.code, 0);
    run_free(&r);
    /* an answer without checks makes no sense: exit 3 */
    free(doctor_run(&r, 200, "{\"ok\":true}", false));
    assert_int_equal(r.code, 3);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err,
                        "closeloop: unexpected answer from the server: no \"checks\" array\n");
    run_free(&r);
    /* the server refusing the repository is an ordinary rejection */
    free(doctor_run(&r, 422,
                    "{\"error\":{\"code\":\"validation\",\"message\":\"no connection "
                    "serves acme/api\",\"field\":\"repo\"}}",
                    false));
    assert_int_equal(r.code, 1);
    assert_string_equal(r.err, "closeloop: no connection serves acme/api (REPO)\n");
    run_free(&r);
}

static void test_cli_cmd__github_import_sync_status_and_team_edit(void **state)
{
    static const struct route routes[] = {
        {"POST /api/v1/github/import ", 200, "{\"imported\":4,\"skipped\":1,\"requests\":3}"},
        {"GET /api/v1/sync/status ", 200,
         "{\"connections\":[{\"name\":\"gh\",\"tracker\":\"github\",\"auth\":\"app\","
         "\"state\":\"ok\",\"rate_limit\":{\"remaining\":5000,\"reset_at\":null},"
         "\"paused_until\":null,\"last_error\":null,\"repos\":[{\"repo\":\"acme/api\","
         "\"last_success_at\":null,\"last_error\":null,\"pending\":2,\"failed\":0,"
         "\"requests\":0,\"not_modified\":0}]}]}"},
        {"PATCH /api/v1/teams/sre ", 200, "{\"name\":\"sre\",\"github_repo\":\"acme/ops\"}"}};
    struct fake f;
    struct run r;
    char *log;

    (void)state;
    fake_start(&f, routes, CL_ARRAY_LEN(routes));
    setenv("CLOSELOOP_URL", f.url, 1);
    r = RUN(NULL, "github", "import", "acme/api", "--label", "postmortem", "--incident", "INC-1");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "imported 4 issues as actions of INC-1 (1 already linked, "
                               "3 requests)\n");
    run_free(&r);
    r = RUN(NULL, "sync", "status");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out,
                        "CONNECTION  TRACKER  AUTH  STATE  RATE LEFT  RESET  PAUSED UNTIL  "
                        "LAST ERROR\n"
                        "gh          github   app   ok     5000       -      -             -\n"
                        "\n"
                        "SCOPE     LAST SUCCESS  PENDING  FAILED  REQUESTS  UNCHANGED  LAST ERROR\n"
                        "acme/api  never         2        0       0         0          -\n");
    run_free(&r);
    r = RUN(NULL, "sync", "status", "--json");
    assert_int_equal(r.code, 0);
    assert_true(strncmp(r.out, "{\n  \"connections\": [\n", 21) == 0);
    run_free(&r);
    r = RUN(NULL, "team", "edit", "sre", "--github", "none", "--manager", "dana");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "github:   acme/ops\n"));
    run_free(&r);
    unsetenv("CLOSELOOP_URL");
    log = fake_stop(&f);
    assert_non_null(strstr(log, "\r\n\r\n{\"repo\":\"acme/api\",\"label\":\"postmortem\","
                                "\"incident\":\"INC-1\"}"));
    assert_non_null(strstr(log, "GET /api/v1/sync/status HTTP/1.1\r\n"));
    assert_non_null(strstr(log, "PATCH /api/v1/teams/sre HTTP/1.1\r\n"));
    assert_non_null(strstr(log, "\r\n\r\n{\"manager\":\"dana\",\"github_repo\":null}"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cli_cmd__help_and_version_exit_0, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__help_verb_says_what_help_flag_says, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__bare_closeloop_is_a_short_usage_on_stderr,
                                  kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__did_you_mean_exits_2_and_sends_nothing, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__usage_errors_exit_2_and_send_nothing, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__action_add_sends_headers_and_prints_the_id,
                                  kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__server_answers_map_to_exit_codes, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__list_follows_pages_up_to_the_limit, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__incident_show_fetches_its_actions, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__edit_and_status_changes, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__no_token_or_no_server_exit_3, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__action_link_posts_the_issue, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__github_doctor_exit_codes, kill_fake),
        cmocka_unit_test_teardown(test_cli_cmd__github_import_sync_status_and_team_edit, kill_fake),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
