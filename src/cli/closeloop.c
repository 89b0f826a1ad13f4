/* closeloop: the command-line client of closeloopd. Everything but process set-up lives in
 * cli_cmd. */
#include "closeloop/cli/cli_cmd.h"
#include "closeloop/cli/cli_table.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct cli_cmd_io io = {
        stdin, stdout, stderr,
        cli_table_color_wanted(isatty(STDOUT_FILENO) == 1, getenv("NO_COLOR"), getenv("TERM"))};
    int code;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("closeloop: cannot initialise libcurl\n", stderr);
        return 3;
    }
    code = cli_cmd_run(argc, argv, &io);
    curl_global_cleanup();
    return code;
}
