/*
 * Starting child processes (piped loggers, include_shell, CGI scripts). lux blocks the signals its
 * main thread waits for and ignores SIGPIPE; a child inherits both through fork and exec, and a
 * logger that cannot be stopped with SIGTERM or never dies of a broken pipe is a stuck logger.
 * Every child therefore starts here, with an empty signal mask and every signal at its default.
 */
#ifndef LUX_SPAWN_H
#define LUX_SPAWN_H

#include <sys/types.h>

/*
 * Run `/bin/sh -c cmd`. stdin_fd and stdout_fd, when >= 0, become the child's stdin and stdout;
 * dir, when not NULL or empty, is its working directory. Returns 0 with the child's pid, or -1
 * with errno set.
 */
int lux_spawn_shell(const char *cmd, int stdin_fd, int stdout_fd, const char *dir, pid_t *pid);

/*
 * Run the program at path with argv and envp (CGI scripts: no shell, a clean environment).
 * fds[0..2], when >= 0, become its stdin, stdout and stderr; dir as above. Returns 0 with the
 * child's pid, or -1 with errno set (the program could not be started).
 */
int lux_spawn_exec(const char *path, char *const argv[], char *const envp[], const int fds[3],
                   const char *dir, pid_t *pid);

/* A command reading what lux writes: returns the write end of a pipe to its stdin (close-on-exec),
 * or -1 with errno set. */
int lux_spawn_reader(const char *cmd, pid_t *pid);

#endif
