/* server: closeloopd's service. Migrates (blocking, before the loop), then runs one
 * libev loop with the PostgreSQL pool, the API and the HTTP server. SIGTERM/SIGINT stop
 * accepting, let in-flight requests finish (bounded by shutdown_timeout) and return;
 * SIGHUP re-reads the config file and environment and applies the reloadable keys. */
#ifndef CLOSELOOP_SERVER_H
#define CLOSELOOP_SERVER_H

#include "closeloop/util/cl.h"
#include "closeloop/util/conf.h"

/* Runs until stopped; returns CL_OK after a clean stop. conf is borrowed and may be
 * updated in place on SIGHUP. */
int server_run(struct conf *conf, struct cl_err *err);

/* Connects and applies missing migrations, retrying the connection for up to `wait`
 * seconds (blocking). *applied gets how many were applied. */
int server_migrate(const char *dsn, double wait, int *applied, struct cl_err *err);

#endif
