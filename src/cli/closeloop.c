/* closeloop: the command-line client of closeloopd. Everything but process set-up lives in
 * cli_cmd. */
#include "closeloop/cli/cli_cmd.h"
#include "closeloop/cli/show/cli_table.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The terminal's width when stdout is one (its size, else $COLUMNS, else 80); 0 when
 * piped, so that scripts get every value in full. */
static size_t terminal_width(void)
{
    struct winsize ws;
    const char *cols = getenv("COLUMNS");
    long n;

    if (isatty(STDOUT_FILENO) != 1)
        return 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    n = cols != NULL ? strtol(cols, NULL, 10) : 0;
    return n > 0 && n < 10000 ? (size_t)n : 80;
}

int main(int argc, char **argv)
{
    struct cli_cmd_io io = {
        stdin, stdout, stderr,
        cli_table_color_wanted(isatty(STDOUT_FILENO) == 1, getenv("NO_COLOR"), getenv("TERM")),
        terminal_width()};
    int code;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("closeloop: cannot initialise libcurl\n", stderr);
        return 3;
    }
    code = cli_cmd_run(argc, argv, &io);
    curl_global_cleanup();
    return code;
}
