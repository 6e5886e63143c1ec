/* Running a server from a built generation (what main() does after parsing the command line). */
#ifndef LUX_SERVER_RUN_H
#define LUX_SERVER_RUN_H

#include "core/gen.h"

typedef struct {
    const char *config_file; /* re-read on SIGUSR1 */
    long idle_exit;          /* -i: stop after this many idle seconds, 0 = never */
    int single_fd;           /* -1: serve this one connected socket, then exit; else -1 */
    /* Called once start-up has succeeded (msg NULL) or failed (msg says why): lets a
     * daemonising parent exit with the right status. */
    int (*ready)(void *arg, const char *msg);
    void *ready_arg;
    /* SIGUSR2 starts this binary (the path it was started from, whatever now lies there) with
     * these arguments (argv[0] first, NULL-terminated); NULL: no upgrades. */
    const char *exe;
    char *const *argv;
} lux_run_opts;

/* Takes the reference to g. Returns the process exit status. */
int lux_server_run(lux_gen *g, const lux_run_opts *o);

#endif
