/* closeloopd: the service and its admin verbs. main() stays thin: parse flags, load
 * configuration, dispatch to a verb. */
#include "closeloop/api/auth.h"
#include "closeloop/util/cl.h"
#include "closeloop/util/conf.h"
#include "closeloop/db/db.h"
#include "closeloop/util/log.h"
#include "closeloop/util/mailaddr.h"
#include "closeloop/db/migrate.h"
#include "closeloop/daemon/daemon_doc.h"
#include "closeloop/daemon/server.h"
#include "closeloop/sync/registry.h"
#include "closeloop/util/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/closeloop/closeloopd.ini"

enum exit_code { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct args {
    const char *config;
    const char *flag_keys[8];
    const char *flag_values[8];
    int nflags;
    char **rest; /* verb and its arguments */
    int nrest;
};

static int usage_needs_value(const char *flag)
{
    fprintf(stderr, "closeloopd: %s needs a value\ntry 'closeloopd --help'\n", flag);
    return EXIT_USAGE;
}

/* "closeloopd man 8|5": a man page, which needs no configuration. */
static int verb_man(int argc, char **argv)
{
    size_t n = 0;
    const struct conf_tracker *const *trackers = registry_conf(&n);

    if (argc == 2 && strcmp(argv[1], "8") == 0)
        daemon_doc_man8(stdout, DEFAULT_CONFIG);
    else if (argc == 2 && strcmp(argv[1], "5") == 0)
        daemon_doc_man5(stdout, DEFAULT_CONFIG, trackers, n);
    else {
        fputs("closeloopd: usage: closeloopd man 8|5\n", stderr);
        return EXIT_USAGE;
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* Splits global options from the verb. Returns -1 to continue, else an exit code. */
static int args_parse(struct args *a, int argc, char **argv)
{
    static const char *const opts[][2] = {
        {"--listen", "listen"}, {"--database-url", "database_url"}, {"--log-level", "log_level"}};
    int i;
    size_t k;

    a->rest = cl_calloc((size_t)argc + 1, sizeof(char *));
    for (i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool known = false;

        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            daemon_doc_usage(stdout, DEFAULT_CONFIG);
            return EXIT_OK;
        }
        if (strcmp(s, "--version") == 0) {
            printf("closeloopd %s (schema %d)\n", CL_VERSION, migrate_latest());
            return EXIT_OK;
        }
        if (strcmp(s, "--config") == 0) {
            if (i + 1 >= argc)
                return usage_needs_value(s);
            a->config = argv[++i];
            continue;
        }
        for (k = 0; k < CL_ARRAY_LEN(opts) && !known; k++) {
            if (strcmp(s, opts[k][0]) != 0)
                continue;
            if (i + 1 >= argc)
                return usage_needs_value(s);
            a->flag_keys[a->nflags] = opts[k][1];
            a->flag_values[a->nflags++] = argv[++i];
            known = true;
        }
        if (!known)
            a->rest[a->nrest++] = argv[i];
    }
    return -1;
}

static int load_conf(struct conf **out, const struct args *a, struct cl_err *err)
{
    size_t n = 0;
    const struct conf_tracker *const *trackers = registry_conf(&n);
    struct conf *c = conf_new_defaults(trackers, n);
    const char *path = a->config != NULL ? a->config : getenv("CLOSELOOP_CONFIG");
    int rc = CL_OK;
    int i;

    if (path == NULL && access(DEFAULT_CONFIG, R_OK) == 0)
        path = DEFAULT_CONFIG;
    if (path != NULL)
        rc = conf_load_file(c, path, err);
    if (rc == CL_OK)
        rc = conf_load_env(c, err);
    for (i = 0; rc == CL_OK && i < a->nflags; i++)
        rc = conf_set_flag(c, a->flag_keys[i], a->flag_values[i], err);
    if (rc == CL_OK)
        rc = conf_validate(c, err);
    if (rc != CL_OK) {
        conf_free(c);
        return rc;
    }
    *out = c;
    return CL_OK;
}

static int verb_migrate(const struct conf *c, struct cl_err *err)
{
    int applied = 0;
    int rc = server_migrate(c->database_url, 0, &applied, err);

    if (rc == CL_OK)
        printf("schema at version %d (%d applied)\n", migrate_latest(), applied);
    return rc;
}

static int token_create(PGconn *pg, int argc, char **argv, struct cl_err *err)
{
    const char *name = NULL;
    const char *scope = NULL;
    const char *person = NULL;
    char *token = NULL;
    int i;
    int rc;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(argv[i], "--scope") == 0 && i + 1 < argc)
            scope = argv[++i];
        else if (strcmp(argv[i], "--person") == 0 && i + 1 < argc)
            person = argv[++i];
        else if (name == NULL && argv[i][0] != '-') /* token create NAME ... */
            name = argv[i];
        else
            return cl_fail(err, CL_EINVAL, "token create: unexpected \"%s\"", argv[i]);
    }
    if (name == NULL || scope == NULL)
        return cl_fail(err, CL_EINVAL,
                       "token create needs --name N --scope read|write|admin [--person HANDLE]");
    rc = auth_token_create(&token, pg, name, auth_scope_parse(scope), person, err);
    if (rc == CL_OK)
        printf("%s\n", token);
    free(token);
    return rc;
}

static int verb_token(const struct conf *c, int argc, char **argv, struct cl_err *err)
{
    PGconn *pg = NULL;
    int rc;

    if (argc < 1)
        return cl_fail(err, CL_EINVAL, "token needs create, list or revoke");
    rc = db_connect_blocking(&pg, c->database_url, err);
    if (rc != CL_OK)
        return rc;
    if (strcmp(argv[0], "create") == 0)
        rc = token_create(pg, argc - 1, argv + 1, err);
    else if (strcmp(argv[0], "list") == 0 && argc == 1)
        rc = auth_token_list(pg, stdout, err);
    else if (strcmp(argv[0], "revoke") == 0 && argc == 2)
        rc = auth_token_revoke(pg, argv[1], err);
    else
        rc = cl_fail(err, CL_EINVAL, "token: expected create, list or revoke ID|NAME");
    PQfinish(pg);
    return rc;
}

/* "closeloopd mail-test --to ADDRESS": queues a "test" message, which the service (any
 * instance with smtp_url) sends; `closeloop mail list` shows how it went. */
static int verb_mail_test(const struct conf *c, int argc, char **argv, struct cl_err *err)
{
    char *name = NULL;
    char *addr = NULL;
    PGconn *pg = NULL;
    PGresult *res = NULL;
    int rc;

    if (argc != 2 || strcmp(argv[0], "--to") != 0)
        return cl_fail(err, CL_EINVAL, "mail-test needs --to ADDRESS");
    if (c->smtp_from[0] != '\0' && mailaddr_parse(&name, &addr, c->smtp_from, err) != CL_OK)
        return err->code;
    rc = db_connect_blocking(&pg, c->database_url, err);
    if (rc == CL_OK && addr != NULL) /* the Message-ID's domain, as the service sets it */
        rc = db_exec_blocking(NULL, pg, "SELECT cl_mail_set_sender($1)", 1,
                              (const char *const[]){addr}, err);
    if (rc == CL_OK)
        rc = db_exec_blocking(&res, pg,
                              "SELECT cl_mail_enqueue('test', $1, NULL, 'closeloop test message',"
                              " jsonb_build_object('note', 'Sent by closeloopd mail-test.'), NULL)",
                              1, (const char *const[]){argv[1]}, err);
    if (rc == CL_OK) {
        printf("queued test message %s to %s%s\n", PQgetvalue(res, 0, 0), argv[1],
               c->smtp_url[0] == '\0' ? " (smtp_url is not set: it waits until it is)" : "");
    }
    PQclear(res);
    if (pg != NULL)
        PQfinish(pg);
    free(name);
    free(addr);
    return rc;
}

/* "closeloopd chat-test --channel NAME": queues a "test" message to a [chat.NAME]
 * channel, which the service posts; `closeloop chat list` shows how it went. */
static int verb_chat_test(const struct conf *c, int argc, char **argv, struct cl_err *err)
{
    PGconn *pg = NULL;
    PGresult *res = NULL;
    int rc;

    if (argc != 2 || strcmp(argv[0], "--channel") != 0)
        return cl_fail(err, CL_EINVAL, "chat-test needs --channel NAME");
    if (chat_conf_find(&c->chat, argv[1]) == NULL)
        return cl_fail(err, CL_EINVAL, "no chat channel \"%s\": add a [chat.%s] section", argv[1],
                       argv[1]);
    rc = db_connect_blocking(&pg, c->database_url, err);
    if (rc == CL_OK)
        rc = db_exec_blocking(&res, pg,
                              "SELECT cl_chat_enqueue($1, 'test', jsonb_build_object('note',"
                              " 'Sent by closeloopd chat-test.'), NULL)",
                              1, (const char *const[]){argv[1]}, err);
    if (rc == CL_OK)
        printf("queued test message %s to chat channel %s\n", PQgetvalue(res, 0, 0), argv[1]);
    PQclear(res);
    if (pg != NULL)
        PQfinish(pg);
    return rc;
}

static int run_verb(struct conf *c, const struct args *a, struct cl_err *err)
{
    const char *verb = a->nrest > 0 ? a->rest[0] : "serve";

    if (strcmp(verb, "serve") == 0 && a->nrest <= 1)
        return server_run(c, err);
    if (strcmp(verb, "migrate") == 0 && a->nrest == 1)
        return verb_migrate(c, err);
    if (strcmp(verb, "token") == 0)
        return verb_token(c, a->nrest - 1, a->rest + 1, err);
    if (strcmp(verb, "mail-test") == 0)
        return verb_mail_test(c, a->nrest - 1, a->rest + 1, err);
    if (strcmp(verb, "chat-test") == 0)
        return verb_chat_test(c, a->nrest - 1, a->rest + 1, err);
    if (strcmp(verb, "check-config") == 0 && a->nrest == 1) {
        conf_print(c, stdout);
        printf("configuration is valid\n");
        return CL_OK;
    }
    return cl_fail(err, CL_EINVAL, "unknown verb \"%s\"", verb);
}

int main(int argc, char **argv)
{
    struct cl_err err = CL_ERR_INIT;
    struct conf *c = NULL;
    struct args a = {0};
    enum cl_log_level lvl;
    int rc = args_parse(&a, argc, argv);

    if (rc >= 0)
        goto cleanup;
    if (a.nrest >= 1 && strcmp(a.rest[0], "man") == 0) {
        rc = verb_man(a.nrest, a.rest);
        goto cleanup;
    }
    rc = load_conf(&c, &a, &err);
    if (rc == CL_OK && log_level_parse(&lvl, c->log_level) == CL_OK)
        log_max_level = lvl;
    if (rc == CL_OK)
        rc = run_verb(c, &a, &err);
    if (rc != CL_OK) {
        fprintf(stderr, "closeloopd: %s\n", err.msg);
        if (rc == CL_EINVAL && c == NULL)
            fprintf(stderr, "try 'closeloopd --help'\n");
        rc = rc == CL_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
cleanup:
    conf_free(c);
    free(a.rest);
    return rc;
}
