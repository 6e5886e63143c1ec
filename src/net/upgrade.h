/*
 * Binary upgrade (SIGUSR2, as nginx does it): the running lux starts a new copy of its binary and
 * hands it the listening sockets the way systemd does (LISTEN_FDS from fd 3, LISTEN_PID, and
 * LISTEN_FDNAMES naming every one "lux-upgrade" so the new process adopts them whatever its
 * config says about socket activation). The new process reports that it serves by writing one
 * byte to a pipe whose descriptor it finds in LUX_UPGRADE_READY_FD; only then does the old one
 * begin its graceful stop. The listening sockets never close in between, so no connection is
 * refused: the kernel queues them for whichever process accepts first.
 */
#ifndef LUX_UPGRADE_H
#define LUX_UPGRADE_H

#include <sys/types.h>

#include "net/server.h"

/* The LISTEN_FDNAMES entry of a socket handed over by an upgrade. */
#define LUX_UPGRADE_FDNAME "lux-upgrade"

typedef struct {
    pid_t pid;    /* the new process */
    int ready_fd; /* read end of its readiness pipe */
} lux_upgrade;

/*
 * Fork and exec `exe` with argv (argv[0] first; "-D" is added so the new process stays the
 * child whose pid LISTEN_PID names) and s's listeners. Returns 0, or -1 with a message in err.
 */
int lux_upgrade_start(const lux_server *s, const char *exe, char *const *argv, lux_upgrade *u,
                      char *err, size_t errlen);
/* Wait up to timeout_ms for the new process to serve. Returns 1 when it does, 0 when it exited
 * or did not answer in time (it is then stopped with SIGTERM). Closes u->ready_fd. */
int lux_upgrade_wait(lux_upgrade *u, int timeout_ms);
/* In the new process: take the readiness pipe from the environment (call once, early, so that
 * no other child inherits it). */
void lux_upgrade_take_ready_fd(void);
/* In the new process: tell the old one that it serves (nothing when not started by an
 * upgrade). */
void lux_upgrade_report_ready(void);

#endif
