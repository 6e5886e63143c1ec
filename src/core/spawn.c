/* Child processes with default signal handling (see spawn.h). */
#include "core/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

extern char **environ;

static int setup_attr(posix_spawnattr_t *at) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int rc = posix_spawnattr_setsigmask(at, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(at, &all);
    if (rc == 0)
        rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    return rc;
}

static int setup_files(posix_spawn_file_actions_t *fa, int stdin_fd, int stdout_fd,
                       const char *dir) {
    int rc = 0;
    if (stdin_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(fa, stdin_fd, STDIN_FILENO);
    if (rc == 0 && stdout_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(fa, stdout_fd, STDOUT_FILENO);
    if (rc == 0 && dir && *dir)
        rc = posix_spawn_file_actions_addchdir_np(fa, dir);
    return rc;
}

int lux_spawn_exec(const char *path, char *const argv[], char *const envp[], const int fds[3],
                   const char *dir, pid_t *pid) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    rc = posix_spawnattr_init(&at);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        errno = rc;
        return -1;
    }
    rc = setup_attr(&at);
    if (rc == 0)
        rc = setup_files(&fa, fds[0], fds[1], dir);
    if (rc == 0 && fds[2] >= 0)
        rc = posix_spawn_file_actions_adddup2(&fa, fds[2], STDERR_FILENO);
    if (rc == 0)
        rc = posix_spawn(pid, path, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}

int lux_spawn_reader(const char *cmd, pid_t *pid) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    int rc = lux_spawn_shell(cmd, p[0], -1, NULL, pid);
    int e = errno;
    close(p[0]);
    if (rc < 0) {
        close(p[1]);
        errno = e;
        return -1;
    }
    return p[1];
}

int lux_spawn_shell(const char *cmd, int stdin_fd, int stdout_fd, const char *dir, pid_t *pid) {
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    const int fds[3] = {stdin_fd, stdout_fd, -1};
    return lux_spawn_exec("/bin/sh", argv, environ, fds, dir, pid);
}
